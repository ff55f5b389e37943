FROM scratch
NOPE x
