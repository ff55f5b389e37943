FROM scratch
ENV $(id)=1
