FROM --evil=1 scratch
