import Foundation

/// The small slice of the OCI runtime-spec that a bundle for runc, crun and boxbench's runtime needs.
struct BundleSpec: Encodable {
    struct User: Encodable {
        var uid: UInt32
        var gid: UInt32
    }
    struct Process: Encodable {
        var terminal = false
        var user: User
        var args: [String]
        var env: [String]
        var cwd: String
        var noNewPrivileges = true
    }
    struct Root: Encodable {
        var path = "rootfs"
        var readonly = false
    }
    struct Mount: Encodable {
        var destination: String
        var type: String
        var source: String
        var options: [String]?
    }
    struct Namespace: Encodable { var type: String }
    struct Linux: Encodable {
        var namespaces: [Namespace]
        var maskedPaths = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"]
        var readonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
    }
    var ociVersion = "1.0.2"
    var process: Process
    var root = Root()
    var hostname = "boxbench"
    var mounts: [Mount]
    var linux: Linux
}

extension ImageStore {
    /// An OCI runtime bundle: `dir/rootfs` (the image flattened) and `dir/config.json` whose process is the
    /// image's entrypoint + cmd, env, working dir and user; namespaces pid, mount, ipc, uts, network.
    public func bundle(_ image: StoredImage, into dir: String) throws {
        try FS.makeDirectories(dir)
        let rootfs = dir + "/rootfs"
        try flatten(image, into: rootfs)
        let argv = image.argv
        guard !argv.isEmpty else {
            throw ImageError(
                .invalidImage,
                "bundle \(image.reference?.description ?? image.digest.description): image has no ENTRYPOINT or CMD")
        }
        var env = image.env
        if !env.contains(where: { $0.hasPrefix("PATH=") }) { env.append("PATH=\(BaseImages.defaultPath)") }
        let user = try resolveUser(image.user, rootfs: rootfs)
        let spec = BundleSpec(
            process: .init(user: user, args: argv, env: env, cwd: image.workdir),
            mounts: [
                .init(destination: "/proc", type: "proc", source: "proc"),
                .init(
                    destination: "/dev", type: "tmpfs", source: "tmpfs",
                    options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
                .init(
                    destination: "/dev/pts", type: "devpts", source: "devpts",
                    options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]),
                .init(
                    destination: "/dev/shm", type: "tmpfs", source: "shm",
                    options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
                .init(
                    destination: "/dev/mqueue", type: "mqueue", source: "mqueue",
                    options: ["nosuid", "noexec", "nodev"]),
                .init(
                    destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]),
            ],
            linux: .init(namespaces: ["pid", "mount", "ipc", "uts", "network"].map { .init(type: $0) }))
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try FS.writeAtomically(dir + "/config.json", try e.encode(spec))
    }

    /// `USER` as uid/gid: numbers, or names from the rootfs's /etc/passwd and /etc/group.
    func resolveUser(_ user: String?, rootfs: String) throws -> BundleSpec.User {
        guard let user, !user.isEmpty else { return .init(uid: 0, gid: 0) }
        let parts = user.split(separator: ":", maxSplits: 1).map(String.init)
        func lookup(_ file: String, _ name: String) throws -> (UInt32, UInt32?) {
            if let n = UInt32(name) { return (n, nil) }
            let text = String(decoding: (try? FS.readFile(rootfs + "/" + file)) ?? Data(), as: UTF8.self)
            for line in text.split(separator: "\n") {
                let f = line.split(separator: ":", omittingEmptySubsequences: false)
                if f.count > 3, f[0] == name, let id = UInt32(f[2]) { return (id, UInt32(f[3])) }
            }
            throw ImageError(.invalidImage, "user \(name) not found in /\(file) of the image")
        }
        let (uid, primary) = try lookup("etc/passwd", parts[0])
        let gid = parts.count == 2 ? try lookup("etc/group", parts[1]).0 : primary ?? uid
        return .init(uid: uid, gid: gid)
    }
}
