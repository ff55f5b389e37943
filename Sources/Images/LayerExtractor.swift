import CArchive
import Foundation

/// How an OCI layer is applied to a directory.
public enum ExtractMode: Sendable {
    /// Apply onto a rootfs: `.wh.NAME` deletes NAME, `.wh..wh..opq` empties the directory of lower content.
    case flatten
    /// A standalone overlay lowerdir: whiteouts become 0/0 char devices and `trusted.overlay.opaque=y`.
    case overlayLower
    /// Plain extraction (ADD of a local tar, imports): `.wh.` names are ordinary files.
    case plain
}

/// Safe tar extraction: every path is split into components, `..` and absolute names are refused, and each
/// parent is opened with O_NOFOLLOW from the root's fd, so no entry can reach outside `root`.
struct LayerExtractor {
    var allowDevices = false
    var preserveOwnership = getuid() == 0
    /// Names the layer in errors ("layer sha256:…").
    var label: String
    /// Refuse an archive whose entries declare more bytes than this in total (a decompression bomb).
    var maxTotalBytes: Int64?

    func extract(archive: String, into root: String, mode: ExtractMode) throws {
        let reader = try TarReader(path: archive)
        let rootFD = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else { throw ImageError.errno("open", root) }
        defer { close(rootFD) }
        var created = Set<String>()
        var total: Int64 = 0
        try reader.forEach { entry in
            total += max(entry.size, 0)
            if let maxTotalBytes, total > maxTotalBytes {
                throw ImageError(
                    .invalidImage, "\(label): unpacks to more than \(maxTotalBytes) bytes (refused before writing them)"
                )
            }
            try apply(entry, reader: reader, rootFD: rootFD, root: root, mode: mode, created: &created)
            return true
        }
    }

    private func unsafe(_ name: String, _ why: String) -> ImageError {
        ImageError(.unsafeEntry, "\(label): entry \"\(name)\": \(why)")
    }

    /// "./a//b/" → ["a", "b"]; refuses absolute names and "..".
    func components(_ name: String) throws -> [String] {
        if name.hasPrefix("/") { throw unsafe(name, "absolute path") }
        let parts = name.split(separator: "/", omittingEmptySubsequences: true).map(String.init).filter { $0 != "." }
        if parts.contains("..") { throw unsafe(name, "path contains \"..\"") }
        return parts
    }

    /// Opens the directory holding `parts.last`, creating missing parents; refuses symlinked parents.
    private func openParent(_ rootFD: Int32, _ parts: ArraySlice<String>, name: String, create: Bool) throws -> Int32 {
        var fd = dup(rootFD)
        guard fd >= 0 else { throw ImageError.errno("dup", name) }
        for comp in parts {
            var next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0 && errno == ENOENT && create {
                if mkdirat(fd, comp, 0o755) != 0 && errno != EEXIST {
                    let e = errno
                    close(fd)
                    throw ImageError.errno("mkdir for entry", "\(label) \(name)", e)
                }
                next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            let e = errno
            close(fd)
            if next < 0 {
                if e == ELOOP || e == ENOTDIR {
                    throw unsafe(
                        name, "parent \"\(comp)\" is a symlink or not a directory (refusing to write through it)")
                }
                throw ImageError.errno("open parent of entry", "\(label) \(name)", e)
            }
            fd = next
        }
        return fd
    }

    /// A relative symlink target must stay inside the root when resolved lexically from the link's directory.
    private func checkSymlink(_ target: String, parent: ArraySlice<String>, name: String) throws {
        if target.hasPrefix("/") { return }  // absolute targets are resolved inside the container's root
        var depth = parent.count
        for comp in target.split(separator: "/", omittingEmptySubsequences: true) {
            if comp == ".." {
                depth -= 1
                if depth < 0 { throw unsafe(name, "symlink to \"\(target)\" escapes the root") }
            } else if comp != "." {
                depth += 1
            }
        }
    }

    private func apply(
        _ entry: TarReader.Entry, reader: TarReader, rootFD: Int32, root: String, mode: ExtractMode,
        created: inout Set<String>
    ) throws {
        let name = entry.path
        let parts = try components(name)
        guard let leaf = parts.last else { return }  // "./": the root itself
        let parentParts = parts.dropLast()
        let rel = parts.joined(separator: "/")
        let parentFD = try openParent(rootFD, parentParts, name: name, create: true)
        defer { close(parentFD) }
        let hostPath = root + "/" + rel

        if mode != .plain && leaf.hasPrefix(".wh.") {
            let parentRel = parentParts.joined(separator: "/")
            let parentHost = parentRel.isEmpty ? root : root + "/" + parentRel
            if leaf == ".wh..wh..opq" {
                switch mode {
                case .flatten:
                    for child in try FS.listDirectory(parentHost) {
                        let childRel = parentRel.isEmpty ? child : parentRel + "/" + child
                        if !created.contains(childRel) { try FS.removeTree(parentHost + "/" + child) }
                    }
                case .overlayLower:
                    try Xattr.set(fd: parentFD, path: parentHost, "trusted.overlay.opaque", [UInt8(ascii: "y")])
                case .plain: break
                }
            } else {
                let victim = String(leaf.dropFirst(4))
                guard !victim.isEmpty, victim != ".", victim != ".." else { throw unsafe(name, "invalid whiteout") }
                switch mode {
                case .flatten:
                    try FS.removeTree(parentHost + "/" + victim)
                case .overlayLower:
                    try removeExisting(parentFD, victim, host: parentHost + "/" + victim)
                    guard mknodat(parentFD, victim, Glibc.S_IFCHR, 0) == 0 else {
                        throw ImageError.errno("mknod whiteout", parentHost + "/" + victim)
                    }
                case .plain: break
                }
            }
            return
        }

        let type = entry.fileType
        var st = stat()
        let exists = fstatat(parentFD, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0
        if exists && !(type == ArchiveFileType.directory && (st.st_mode & S_IFMT) == S_IFDIR) {
            try removeExisting(parentFD, leaf, host: hostPath)
        }
        created.insert(rel)

        if let linkName = entry.hardlinkTarget, type != ArchiveFileType.directory {
            let target: [String]
            do { target = try components(linkName) } catch {
                throw unsafe(name, "hardlink to \"\(linkName)\" leaves the root (absolute or \"..\")")
            }
            guard let targetLeaf = target.last else { throw unsafe(name, "hardlink to the root") }
            let targetParent = try openParent(rootFD, target.dropLast(), name: name, create: false)
            defer { close(targetParent) }
            guard linkat(targetParent, targetLeaf, parentFD, leaf, 0) == 0 else {
                throw ImageError.errno("link \(linkName) to", "\(label) \(name)")
            }
            return
        }

        switch type {
        case ArchiveFileType.directory:
            if !exists || (st.st_mode & S_IFMT) != S_IFDIR {
                guard mkdirat(parentFD, leaf, 0o700) == 0 else { throw ImageError.errno("mkdir", hostPath) }
            }
        case ArchiveFileType.regular:
            let fd = openat(parentFD, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw ImageError.errno("create", hostPath) }
            defer { close(fd) }
            try reader.readData { try FS.writeAll(fd, $0, path: hostPath) }
        case ArchiveFileType.symlink:
            let target = entry.symlinkTarget ?? ""
            try checkSymlink(target, parent: parentParts, name: name)
            guard symlinkat(target, parentFD, leaf) == 0 else { throw ImageError.errno("symlink", hostPath) }
        case ArchiveFileType.character, ArchiveFileType.block:
            guard allowDevices else { throw unsafe(name, "device node (not allowed)") }
            let kind: mode_t = type == ArchiveFileType.character ? Glibc.S_IFCHR : Glibc.S_IFBLK
            let dev = DeviceNumber.make(entry.rdevMajor, entry.rdevMinor)
            guard mknodat(parentFD, leaf, kind | 0o600, dev_t(dev)) == 0 else {
                throw ImageError.errno("mknod", hostPath)
            }
        case ArchiveFileType.fifo:
            guard mkfifoat(parentFD, leaf, 0o600) == 0 else { throw ImageError.errno("mkfifo", hostPath) }
        default:
            throw unsafe(name, "unsupported entry type \(String(type, radix: 8))")
        }

        if preserveOwnership {
            guard fchownat(parentFD, leaf, entry.uid, entry.gid, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw ImageError.errno("chown", hostPath)
            }
        }
        if type != ArchiveFileType.symlink {
            guard fchmodat(parentFD, leaf, mode_t(entry.mode & 0o7777), 0) == 0 else {
                throw ImageError.errno("chmod", hostPath)
            }
        }
        // After chown and chmod, which clear file capabilities; only root may set them (CAP_SETFCAP).
        if type == ArchiveFileType.regular, preserveOwnership, let caps = entry.xattrs[Xattr.fileCapabilities] {
            let fd = openat(parentFD, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { throw ImageError.errno("open", hostPath) }
            defer { close(fd) }
            try Xattr.set(fd: fd, path: hostPath, Xattr.fileCapabilities, caps)
        }
        var times = [
            timespec(tv_sec: Int(entry.mtime), tv_nsec: 0), timespec(tv_sec: Int(entry.mtime), tv_nsec: 0),
        ]
        _ = utimensat(parentFD, leaf, &times, AT_SYMLINK_NOFOLLOW)
    }

    private func removeExisting(_ parentFD: Int32, _ leaf: String, host: String) throws {
        var st = stat()
        guard fstatat(parentFD, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            try FS.removeTree(host)
        } else if unlinkat(parentFD, leaf, 0) != 0 && errno != ENOENT {
            throw ImageError.errno("unlink", host)
        }
    }
}
