FROM scratch
EXPOSE 99999/tcp
