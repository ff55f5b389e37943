import Foundation

/// Built-in bases made locally, never pulled.
public enum BaseImages {
    public static let busybox = ImageReference(name: "boxbench/busybox", tag: "latest")
    static let busyboxDigestLabel = "org.boxbench.busybox.sha256"
    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
}

extension ImageStore {
    /// `boxbench/busybox`: /bin/busybox plus a symlink per applet, passwd/group, the usual empty directories.
    /// Reproducible: the same busybox binary gives the same digest. Rebuilt when the binary changes.
    @discardableResult
    public func ensureBusyboxBase(busybox: String = "/bin/busybox") throws -> StoredImage {
        let binaryDigest = try hashFile(busybox)
        if let existing = try? resolve(BaseImages.busybox.description),
            existing.config.config?.Labels?[BaseImages.busyboxDigestLabel] == binaryDigest.description
        {
            return existing
        }
        let applets = try busyboxApplets(busybox)
        let writer = try writerLock()
        defer { writer.unlock() }
        let stage = try FS.makeTemporaryDirectory(in: tmpDir, prefix: "busybox-\(getpid())-")
        defer { try? FS.removeTree(stage) }
        func dir(_ p: String, _ mode: mode_t) throws {
            try FS.makeDirectories(stage + "/" + p)
            guard chmod(stage + "/" + p, mode) == 0 else { throw ImageError.errno("chmod", stage + "/" + p) }
        }
        for d in ["bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "home"] {
            try dir(d, 0o755)
        }
        try dir("root", 0o700)
        try dir("tmp", 0o1777)
        try FS.copyFile(busybox, stage + "/bin/busybox", mode: 0o755)
        for applet in applets where applet != "bin/busybox" && !applet.contains("..") {
            let path = stage + "/" + applet
            try FS.makeDirectories((path as NSString).deletingLastPathComponent)
            if !FS.exists(path) {
                guard symlink("/bin/busybox", path) == 0 else { throw ImageError.errno("symlink", path) }
            }
        }
        try FS.writeAtomically(
            stage + "/etc/passwd",
            Data("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n".utf8))
        try FS.writeAtomically(stage + "/etc/group", Data("root:x:0:\nnogroup:x:65534:\n".utf8))
        let (layer, blob) = try writeLayer { try $0.addTree(stage, as: .plain) }
        let created = rfc3339(reproducibleEpoch())
        var cc = ContainerConfig()
        cc.Env = ["PATH=\(BaseImages.defaultPath)"]
        cc.Cmd = ["sh"]
        cc.Labels = [BaseImages.busyboxDigestLabel: binaryDigest.description]
        let config = ImageConfig(
            created: created, architecture: Platform.host.architecture, os: "linux", config: cc,
            rootfs: RootFS(diffIDs: [blob.diffID]),
            history: [HistoryEntry(created: created, createdBy: "boxbench busybox base from \(busybox)")])
        return try commit(config: config, layers: [layer], as: BaseImages.busybox)
    }

    private func busyboxApplets(_ busybox: String) throws -> [String] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: busybox)
        p.arguments = ["--list-full"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { throw ImageError(.io, "run \(busybox) --list-full: \(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw ImageError(.io, "\(busybox) --list-full exited with status \(p.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map {
            cleanRelativePath(String($0))
        }.filter { !$0.isEmpty && !$0.hasPrefix("..") }.sorted()
    }
}
