RUN rm -rf /
FROM scratch
