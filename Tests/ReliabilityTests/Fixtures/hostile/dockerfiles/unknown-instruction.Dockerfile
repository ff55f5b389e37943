FROM scratch
EXPLODE now
