#!/usr/bin/env python3
"""Writes hostile tar layers into OUTDIR (argv[1]) plus OUTDIR/expect.json: name -> substrings the error must
contain. OUTSIDE (argv[2]) is the absolute directory an escape would hit. Generated at test time so no
hostile binary is committed."""
import io, json, os, sys, tarfile

out, outside = sys.argv[1], sys.argv[2]
expect = {}

def make(name, entries, must):
    with tarfile.open(os.path.join(out, name), "w", format=tarfile.GNU_FORMAT) as t:
        for e in entries:
            kind, path = e[0], e[1]
            ti = tarfile.TarInfo(path); ti.mtime = 0; ti.mode = 0o644
            data = None
            if kind == "file":
                data = (e[2] if len(e) > 2 else "pwned\n").encode(); ti.size = len(data)
            elif kind == "dir": ti.type = tarfile.DIRTYPE; ti.mode = 0o755
            elif kind == "sym": ti.type = tarfile.SYMTYPE; ti.linkname = e[2]
            elif kind == "hard": ti.type = tarfile.LNKTYPE; ti.linkname = e[2]
            elif kind == "chr": ti.type = tarfile.CHRTYPE; ti.devmajor, ti.devminor = e[2], e[3]
            elif kind == "blk": ti.type = tarfile.BLKTYPE; ti.devmajor, ti.devminor = e[2], e[3]
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    expect[name] = must

make("dotdot.tar", [("file", "ok.txt", "ok"), ("file", "../../outside/passwd")], ["../../outside/passwd", ".."])
make("dotdot-middle.tar", [("dir", "a"), ("file", "a/../../outside/passwd")], ["a/../../outside/passwd"])
make("absolute.tar", [("file", outside + "/passwd")], [outside + "/passwd", "absolute"])
make("symlink-then-write.tar", [("sym", "evil", outside), ("file", "evil/passwd")], ["evil/passwd", "symlink"])
make("symlink-relative-escape.tar", [("sym", "up", "../../outside")], ["up", "escapes"])
make("symlink-deep-escape.tar", [("dir", "a"), ("dir", "a/b"), ("sym", "a/b/up", "../../../outside/passwd")], ["a/b/up", "escapes"])
make("symlink-chain-write.tar", [("sym", "s1", "."), ("sym", "s2", outside), ("file", "s2/x")], ["s2/x", "symlink"])
make("hardlink-escape.tar", [("hard", "link", "../../outside/passwd")], ["link", ".."])
make("hardlink-absolute.tar", [("hard", "link", outside + "/passwd")], ["link", "absolute"])
make("hardlink-through-symlink.tar", [("sym", "evil", outside), ("hard", "link", "evil/passwd")], ["link", "symlink"])
make("device-char.tar", [("chr", "dev/mem", 1, 1)], ["dev/mem", "device"])
make("device-block.tar", [("blk", "sda", 8, 0)], ["sda", "device"])
make("whiteout-dotdot.tar", [("file", ".wh..."), ("file", "ok")], [".wh...", "whiteout"])
make("whiteout-dot.tar", [("file", ".wh..")], [".wh..", "whiteout"])
make("whiteout-empty.tar", [("file", ".wh.")], [".wh.", "whiteout"])
make("whiteout-through-symlink.tar", [("sym", "evil", outside), ("file", "evil/.wh.passwd")], ["evil/.wh.passwd", "symlink"])
make("whiteout-in-dotdot.tar", [("file", "../.wh.outside")], ["../.wh.outside", ".."])

with open(os.path.join(out, "expect.json"), "w") as f: json.dump(expect, f, indent=1, sort_keys=True)
