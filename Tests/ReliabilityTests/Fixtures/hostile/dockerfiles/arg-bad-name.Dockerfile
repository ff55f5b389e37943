ARG 1x=2
FROM scratch
