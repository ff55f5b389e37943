FROM scratch
COPY --from= /etc/shadow /x
