FROM scratch
 RUN
