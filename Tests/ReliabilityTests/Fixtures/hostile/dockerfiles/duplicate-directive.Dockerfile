# escape=`
# escape=`
FROM scratch
