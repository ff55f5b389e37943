FROM scratch
USER root wheel
