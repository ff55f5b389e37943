FROM scratch
RUN echo \
# comment

hi
BOGUS x
