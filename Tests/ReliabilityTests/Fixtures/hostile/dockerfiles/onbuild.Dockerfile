FROM scratch
ONBUILD RUN rm -rf /
