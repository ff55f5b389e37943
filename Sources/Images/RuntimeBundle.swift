import CShim
import Foundation

/// What an image runs, resolved against its rootfs: the process half of a runtime bundle. The config.json around it
/// (capabilities, seccomp, masked paths) is written by the runtime's side (`Suites.writeRuntimeBundle`), so a bundle
/// gets the same safe defaults as `container spec`.
public struct BundleProcess: Sendable, Equatable {
    public var args: [String]
    public var env: [String]
    public var cwd: String
    public var user: BundleUser
}

public struct BundleUser: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
}

extension ImageStore {
    /// The rootfs half of an OCI runtime bundle: `dir/rootfs` (the image flattened); returns the image's process
    /// (entrypoint + cmd, env, working dir, user) for the config.json.
    public func bundleRootfs(_ image: StoredImage, into dir: String) throws -> BundleProcess {
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
        let user = try Self.resolveUser(image.user, rootfs: rootfs)
        return BundleProcess(args: argv, env: env, cwd: image.workdir.isEmpty ? "/" : image.workdir, user: user)
    }

    /// `USER` as uid/gid: numbers, or names from the rootfs's /etc/passwd and /etc/group.
    /// A small regular file of the image (its /etc/passwd): resolved inside the rootfs (an `etc -> /` or
    /// `passwd -> /dev/zero` in the image cannot lead anywhere else) and at most 4 MiB.
    static func readImageFile(_ file: String, rootfs: String) throws -> Data {
        let fd = cshim_open_in_root(rootfs, file, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else { throw ImageError.errno("open in image", rootfs + "/" + file) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size <= 4 << 20 else {
            throw ImageError(.invalidImage, "/\(file) of the image is not a regular file of at most 4 MiB")
        }
        return try FS.readFile("/proc/self/fd/\(fd)")
    }

    public static func resolveUser(_ user: String?, rootfs: String) throws -> BundleUser {
        guard let user, !user.isEmpty else { return .init(uid: 0, gid: 0) }
        let parts = user.split(separator: ":", maxSplits: 1).map(String.init)
        func lookup(_ file: String, _ name: String) throws -> (UInt32, UInt32?) {
            if let n = UInt32(name) { return (n, nil) }
            let text = String(decoding: (try? readImageFile(file, rootfs: rootfs)) ?? Data(), as: UTF8.self)
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
