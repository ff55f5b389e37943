FROM scratch
CMD ["sh", 1, {"a": null}]
