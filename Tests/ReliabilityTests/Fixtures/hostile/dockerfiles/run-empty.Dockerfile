FROM scratch
RUN
