#!/bin/sh
# Stages a dynamically linked program as a rootfs tree: the program, every shared library `ldd` resolves for it
# and the dynamic loader, each at the path the loader will look for it (symlinks resolved to the files).
#   closure.sh /usr/bin/sysbench OUT  →  OUT/usr/bin/sysbench, OUT/lib/x86_64-linux-gnu/lib*.so.*, OUT/lib64/ld-linux-x86-64.so.2
# Built next to OUT and renamed into place, so OUT is either complete or absent.
set -eu
bin=$1
out=$2
tmp="$out.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp"
put() {
	mkdir -p "$tmp$(dirname "$1")"
	cp -L "$1" "$tmp$1"
}
put "$bin"
libs=$(ldd "$bin")
if printf '%s\n' "$libs" | grep -q 'not found'; then
	printf '%s\n' "$libs" | grep 'not found' >&2
	echo "closure.sh: $bin has unresolved libraries" >&2
	exit 1
fi
# "libx.so.1 => /lib/…/libx.so.1 (0x…)" and "/lib64/ld-linux-x86-64.so.2 (0x…)"; the vDSO has no file.
for f in $(printf '%s\n' "$libs" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
	put "$f"
done
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
