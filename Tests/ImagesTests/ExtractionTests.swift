import CArchive
import Foundation
import Testing

@testable import Images

/// Hostile layers are crafted with libarchive directly (our writer refuses such paths).
struct ExtractionTests {
    enum Hostile: String, CaseIterable {
        case dotdot, absolute, symlinkThenWrite, hardlinkEscape, hardlinkAbsolute, relativeSymlinkEscape, device
    }

    func craft(_ path: String, _ entries: [(name: String, type: UInt32, link: String?, data: String)]) {
        let a = bb_archive_write_new()
        bb_archive_write_set_format_pax_restricted(a)
        bb_archive_write_add_filter_gzip(a)
        bb_archive_write_open_filename(a, path)
        for e in entries {
            let en = bb_archive_entry_new()
            bb_archive_entry_set_pathname(en, e.name)
            bb_archive_entry_set_filetype(en, e.type)
            bb_archive_entry_set_perm(en, 0o644)
            if e.type == ArchiveFileType.symlink { bb_archive_entry_set_symlink(en, e.link) }
            if e.type == ArchiveFileType.regular, let l = e.link { bb_archive_entry_set_hardlink(en, l) }
            if e.type == ArchiveFileType.character {
                bb_archive_entry_set_rdevmajor(en, 1)
                bb_archive_entry_set_rdevminor(en, 3)
            }
            bb_archive_entry_set_size(en, e.link == nil ? la_int64_t(e.data.utf8.count) : 0)
            bb_archive_write_header(a, en)
            if e.link == nil && !e.data.isEmpty { _ = e.data.withCString { bb_archive_write_data(a, $0, strlen($0)) } }
            bb_archive_entry_free(en)
        }
        bb_archive_write_close(a)
        bb_archive_write_free(a)
    }

    @Test(arguments: Hostile.allCases) func hostileLayersAreRejected(_ kind: Hostile) throws {
        let dir = TempDir("hostile")
        defer { dir.cleanup() }
        // target/root is where we extract; dir/outside is what an escape would hit.
        let root = dir.path + "/target/root"
        try FS.makeDirectories(root)
        dir.write("outside/passwd", "original\n")
        let R = ArchiveFileType.regular
        let L = ArchiveFileType.symlink
        let entries: [(name: String, type: UInt32, link: String?, data: String)]
        switch kind {
        case .dotdot: entries = [("ok.txt", R, nil, "ok"), ("../../outside/passwd", R, nil, "pwned")]
        case .absolute: entries = [("\(dir.path)/outside/passwd", R, nil, "pwned")]
        case .symlinkThenWrite:
            entries = [("evil", L, dir.path + "/outside", ""), ("evil/passwd", R, nil, "pwned")]
        case .hardlinkEscape: entries = [("link", R, "../../outside/passwd", "")]
        case .hardlinkAbsolute: entries = [("link", R, dir.path + "/outside/passwd", "")]
        case .relativeSymlinkEscape: entries = [("up", L, "../../outside", "")]
        case .device: entries = [("dev/mem", ArchiveFileType.character, nil, "")]
        }
        let tar = dir.path + "/layer.tar.gz"
        craft(tar, entries)
        for mode in [ExtractMode.flatten, .overlayLower] {
            #expect {
                try LayerExtractor(label: "layer sha256:test").extract(archive: tar, into: root, mode: mode)
            } throws: { e in
                let err = e as? ImageError
                return err?.code == .unsafeEntry && err!.message.hasPrefix("layer sha256:test: entry \"")
            }
        }
        #expect(try String(contentsOfFile: dir.path + "/outside/passwd", encoding: .utf8) == "original\n")
        #expect(try FS.listDirectory(dir.path + "/outside") == ["passwd"])
        #expect(try FS.listDirectory(dir.path + "/target") == ["root"])
        #expect(try FS.lstatOrThrow(dir.path + "/outside/passwd").st_nlink == 1)
    }

    /// `setcap cap_net_raw+ep` on a file in a RUN step's upper dir: the capability is in the layer and back on the
    /// file after unpacking (flattened and as an overlay lower dir). Setting it needs root (CAP_SETFCAP).
    @Test(.enabled(if: getuid() == 0, "needs root: setting security.capability needs CAP_SETFCAP"))
    func fileCapabilitiesSurviveLayerWriteAndUnpack() throws {
        let dir = TempDir("fcaps")
        defer { dir.cleanup() }
        let store = try ImageStore(root: dir.path + "/store", layerCache: dir.path + "/layers")
        let file = dir.write("upper/bin/pinger", "#!/bin/sh\n", mode: 0o755)
        // struct vfs_cap_data, revision 2, effective: permitted = CAP_NET_RAW (13).
        let caps: [UInt8] = [0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00] + [UInt8](repeating: 0, count: 12)
        try Xattr.set(file, Xattr.fileCapabilities, caps)
        let (layer, _) = try store.writeLayer { try $0.addTree(dir.path + "/upper", as: .overlayUpper) }
        for mode in [ExtractMode.flatten, .overlayLower] {
            let out = dir.path + "/out-\(mode)"
            try FS.makeDirectories(out)
            try LayerExtractor(label: "test").extract(archive: store.blobPath(layer.digest), into: out, mode: mode)
            #expect(Xattr.get(out + "/bin/pinger", Xattr.fileCapabilities) == caps, "\(mode)")
        }
    }

    @Test(.enabled(if: getuid() == 0, "needs root: mknod of device nodes"))
    func devicesAllowedOnRequestAndInRootSymlinksKept() throws {
        let dir = TempDir("dev")
        defer { dir.cleanup() }
        let tar = dir.path + "/l.tar.gz"
        craft(
            tar,
            [
                ("dev/null", ArchiveFileType.character, nil, ""),
                ("etc/mtab", ArchiveFileType.symlink, "/proc/self/mounts", ""),
                ("usr/lib/x", ArchiveFileType.regular, nil, "x"), ("lib", ArchiveFileType.symlink, "usr/lib", ""),
            ])
        let root = dir.path + "/root"
        try FS.makeDirectories(root)
        try LayerExtractor(allowDevices: true, label: "l").extract(archive: tar, into: root, mode: .flatten)
        #expect(try FS.lstatOrThrow(root + "/dev/null").st_mode & S_IFMT == S_IFCHR)
        #expect(try FS.readLink(root + "/etc/mtab") == "/proc/self/mounts")
        #expect(try FS.readLink(root + "/lib") == "usr/lib")
    }
}
