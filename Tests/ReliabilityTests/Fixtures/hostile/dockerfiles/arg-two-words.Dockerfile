FROM scratch
ARG A B
