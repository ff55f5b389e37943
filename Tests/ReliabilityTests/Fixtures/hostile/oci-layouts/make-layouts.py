#!/usr/bin/env python3
"""Regenerates the hostile OCI layouts in this directory and expect.json (run from anywhere)."""
import hashlib, io, json, os, shutil, tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
M, C, L = ("application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.config.v1+json",
           "application/vnd.oci.image.layer.v1.tar")

def sha(b): return "sha256:" + hashlib.sha256(b).hexdigest()

def layer_tar():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        data = b"hello\n"
        ti = tarfile.TarInfo("hello.txt"); ti.size = len(data); ti.mtime = 0
        t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()

class Layout:
    def __init__(self, name):
        self.dir = os.path.join(HERE, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir + "/blobs/sha256")
        with open(self.dir + "/oci-layout", "w") as f: f.write('{"imageLayoutVersion":"1.0.0"}')
    def blob(self, data, name=None):
        d = sha(data)
        with open(self.dir + "/blobs/sha256/" + (name or d[7:]), "wb") as f: f.write(data)
        return d
    def index(self, manifests, raw=None):
        with open(self.dir + "/index.json", "w") as f:
            f.write(raw if raw is not None else json.dumps({"schemaVersion": 2, "manifests": manifests}))

def image(lay, layer=None, layer_desc=None, config_over=None, config_desc_over=None, diff_ids=None, write_layer=True):
    layer = layer if layer is not None else layer_tar()
    ld = sha(layer)
    if write_layer: lay.blob(layer)
    cfg = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids or [ld]},
           "config": {"Cmd": ["/hello"]}}
    cfg.update(config_over or {})
    cb = json.dumps(cfg).encode()
    cd = lay.blob(cb)
    cdesc = {"mediaType": C, "digest": cd, "size": len(cb)}
    cdesc.update(config_desc_over or {})
    ldesc = {"mediaType": L, "digest": ld, "size": len(layer)}
    ldesc.update(layer_desc or {})
    mb = json.dumps({"schemaVersion": 2, "mediaType": M, "config": cdesc, "layers": [ldesc]}).encode()
    md = lay.blob(mb)
    return {"mediaType": M, "digest": md, "size": len(mb), "annotations": {"org.opencontainers.image.ref.name": "hostile:latest"}}, ld, cd, md

expect = {}

lay = Layout("valid"); d, *_ = image(lay); lay.index([d]); expect["valid"] = []

lay = Layout("bad-json-index"); image(lay); lay.index(None, raw='{"schemaVersion": 2, "manifests": [ {"mediaType": ')
expect["bad-json-index"] = ["index.json"]

lay = Layout("index-manifests-not-array"); lay.index(None, raw='{"schemaVersion": 2, "manifests": "all of them"}')
expect["index-manifests-not-array"] = ["index.json", "manifests"]

lay = Layout("bad-digest-syntax"); d, *_ = image(lay); d["digest"] = "sha256:../../../../etc/passwd"; lay.index([d])
expect["bad-digest-syntax"] = ["index.json", "sha256:../../../../etc/passwd"]

lay = Layout("nested-index-media-type"); d, *_ = image(lay); d["mediaType"] = "application/vnd.oci.image.index.v1+json"; lay.index([d])
expect["nested-index-media-type"] = ["application/vnd.oci.image.index.v1+json", "not supported"]

lay = Layout("manifest-media-type-html"); d, *_ = image(lay); d["mediaType"] = "text/html"; lay.index([d])
expect["manifest-media-type-html"] = ["text/html"]

lay = Layout("layer-media-type-wrong"); d, ld, _, _ = image(lay, layer_desc={"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+exe"}); lay.index([d])
expect["layer-media-type-wrong"] = [ld, "application/vnd.oci.image.layer.nondistributable.v1.tar+exe"]

lay = Layout("config-media-type-wrong"); d, _, cd, _ = image(lay, config_desc_over={"mediaType": "application/x-sh"}); lay.index([d])
expect["config-media-type-wrong"] = [cd, "application/x-sh"]

lay = Layout("manifest-digest-mismatch"); d, _, _, md = image(lay)
with open(lay.dir + "/blobs/sha256/" + md[7:], "r+b") as f: f.seek(2); f.write(b"X")
lay.index([d]); expect["manifest-digest-mismatch"] = [md, "does not match"]

lay = Layout("layer-digest-mismatch"); d, ld, _, _ = image(lay)
with open(lay.dir + "/blobs/sha256/" + ld[7:], "r+b") as f: f.seek(600); f.write(b"X")
lay.index([d]); expect["layer-digest-mismatch"] = [ld, "does not match"]

lay = Layout("missing-layer-blob"); d, ld, _, _ = image(lay, write_layer=False); lay.index([d])
expect["missing-layer-blob"] = [ld[7:], "ENOENT"]

lay = Layout("missing-config-blob"); d, _, cd, _ = image(lay); os.unlink(lay.dir + "/blobs/sha256/" + cd[7:]); lay.index([d])
expect["missing-config-blob"] = [cd[7:], "ENOENT"]

lay = Layout("missing-manifest-blob"); d, _, _, md = image(lay); os.unlink(lay.dir + "/blobs/sha256/" + md[7:]); lay.index([d])
expect["missing-manifest-blob"] = [md[7:], "ENOENT"]

lay = Layout("huge-declared-layer-size"); d, ld, _, _ = image(lay, layer_desc={"size": 4611686018427387904}); lay.index([d])
expect["huge-declared-layer-size"] = [ld, "4611686018427387904"]

lay = Layout("huge-declared-manifest-size"); d, _, _, md = image(lay); d["size"] = 1 << 40; lay.index([d])
expect["huge-declared-manifest-size"] = [md, str(1 << 40)]

lay = Layout("negative-size"); d, ld, _, _ = image(lay, layer_desc={"size": -1}); lay.index([d])
expect["negative-size"] = [ld, "-1"]

lay = Layout("diff-id-lie"); d, ld, _, _ = image(lay, diff_ids=["sha256:" + "ab" * 32]); lay.index([d])
expect["diff-id-lie"] = ["sha256:" + "ab" * 32, "diff_id"]

lay = Layout("diff-id-count"); d, ld, _, _ = image(lay, diff_ids=["sha256:" + "ab" * 32, "sha256:" + "cd" * 32]); lay.index([d])
expect["diff-id-count"] = ["diff_id"]

lay = Layout("config-not-config"); d, _, cd, _ = image(lay, config_over={"rootfs": "nope"}); lay.index([d])
expect["config-not-config"] = [cd, "rootfs"]

lay = Layout("bad-ref-name"); d, *_ = image(lay); d["annotations"]["org.opencontainers.image.ref.name"] = "../../UPPER CASE/@@"; lay.index([d])
expect["bad-ref-name"] = ["../../UPPER CASE/@@"]

lay = Layout("no-oci-layout-file"); d, *_ = image(lay); lay.index([d]); os.unlink(lay.dir + "/oci-layout")
expect["no-oci-layout-file"] = ["no-oci-layout-file", "neither an OCI layout"]

# docker save archive whose manifest.json points outside the archive
ds = os.path.join(HERE, "docker-save-escape"); shutil.rmtree(ds, ignore_errors=True); os.makedirs(ds)
with open(ds + "/manifest.json", "w") as f:
    json.dump([{"Config": "config.json", "RepoTags": ["evil:1"], "Layers": ["../../../../../etc/passwd"]}], f)
with open(ds + "/config.json", "w") as f:
    json.dump({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}, f)
expect["docker-save-escape"] = ["../../../../../etc/passwd", "escapes"]

ds = os.path.join(HERE, "docker-save-config-escape"); shutil.rmtree(ds, ignore_errors=True); os.makedirs(ds)
with open(ds + "/manifest.json", "w") as f:
    json.dump([{"Config": "/etc/shadow", "Layers": []}], f)
expect["docker-save-config-escape"] = ["/etc/shadow"]

with open(os.path.join(HERE, "expect.json"), "w") as f:
    json.dump(expect, f, indent=1, sort_keys=True); f.write("\n")
