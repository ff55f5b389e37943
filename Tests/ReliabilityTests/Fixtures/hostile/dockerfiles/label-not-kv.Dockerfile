FROM scratch
LABEL a=1 oops
