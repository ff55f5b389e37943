import Crypto
import Foundation
import Logging
import Probes

#if canImport(Glibc)
    import Glibc
#endif

/// How the image's root filesystem reaches the guest.
public enum RootfsMode: String, Sendable, Codable, CaseIterable {
    /// The whole rootfs, boxbench-init as `/init`, in one gzip'd newc cpio.
    case initramfs
    /// An ext4 disk (virtio-blk) plus a small initramfs holding the init, the virtio modules and the root device.
    case disk
}

/// What runs in the guest before the workload.
public enum GuestKind: String, Sendable, Codable, CaseIterable {
    /// The image plus boxbench-init as PID 1, which runs the workload directly (the default).
    case minimal
    /// The image booted from a disk with its own init (systemd) as PID 1, which starts the workload as a unit,
    /// as VMs are usually deployed; needs a disk root and an image with systemd.
    case fullOS = "full-os"
}

/// Everything a guest boot needs on the host, cached under `BoxbenchPaths().guestArtifacts/<key>`.
public struct GuestArtifacts: Sendable, Codable, Equatable {
    public var key: String
    public var directory: String
    public var mode: RootfsMode
    /// nil in artifacts cached before full-OS guests existed: minimal.
    public var guest: GuestKind?
    public var kernel: String
    public var kernelVersion: String
    public var initrd: String
    public var disk: String?
    public var kernelBytes: UInt64
    public var initrdBytes: UInt64
    public var diskAllocatedBytes: UInt64?
    public var diskVirtualBytes: UInt64?
    /// Modules the guest init loads, in order (names).
    public var modules: [String]
    /// True when this came from the cache rather than being built now.
    public var cached: Bool
    public var buildMs: Double
}

/// Builds guest artifacts from a flattened rootfs directory. Atomic: built in a temp dir, then renamed.
public struct GuestArtifactBuilder: Sendable {
    public var paths: BoxbenchPaths
    public var logger: Logger?
    /// Modules the guest needs for an ext4 root on virtio-blk; builtins and dependencies are resolved.
    public static let diskModules = ["virtio_pci", "virtio_blk", "ext4"]
    /// Modules that let the guest report balloon statistics (`virDomainMemoryStats` beyond `rss`).
    public static let balloonModules = ["virtio_pci", "virtio_balloon"]
    /// The NIC of a network workload's guest.
    public static let networkModules = ["virtio_pci", "virtio_net"]
    static let formatVersion = "boxbench-guest-v2"
    /// Where a full-OS guest's init lives in the image (merged /usr or not).
    public static let systemdPaths = ["/lib/systemd/systemd", "/usr/lib/systemd/systemd"]
    /// The unit a full-OS guest starts the workload with: boxbench-init again (not PID 1: it runs the workload,
    /// prints the same markers on the serial console and powers off); the OS powers off if it fails instead.
    static let workloadUnit = """
        [Unit]
        Description=boxbench workload (reports on the serial console)

        [Service]
        Type=exec
        Environment=BOXBENCH_INIT_SPEC=/etc/boxbench/workload BOXBENCH_INIT_UNIT=1
        ExecStart=/usr/lib/boxbench/boxbench-init
        StandardInput=null
        StandardOutput=tty
        StandardError=inherit
        TTYPath=/dev/ttyS0
        TTYReset=no
        TTYVHangup=no
        FailureAction=poweroff-force

        [Install]
        WantedBy=multi-user.target

        """
    /// Units that would share or wait on the serial console the harness reads (a login prompt, first-boot
    /// questions): masked in a full-OS guest.
    static let maskedUnits = ["serial-getty@ttyS0.service", "getty@tty1.service", "systemd-firstboot.service"]

    public init(paths: BoxbenchPaths = BoxbenchPaths(), logger: Logger? = nil) {
        self.paths = paths
        self.logger = logger
    }

    /// Returns cached artifacts for (cacheKey, kernel, init, mode, workload) or builds them.
    /// - Parameters:
    ///   - rootfsDir: the flattened image root.
    ///   - cacheKey: identifies the rootfs contents; callers pass the image digest.
    ///   - balloonDriver: load virtio_balloon in the guest so balloon stats are reported (costs guest boot time).
    public func prepare(
        rootfsDir: String, workload: GuestWorkload, cacheKey: String, mode: RootfsMode, guest: GuestKind = .minimal,
        balloonDriver: Bool = false
    ) throws(MachineError) -> GuestArtifacts {
        let t0 = monotonicNanos()
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: rootfsDir, isDirectory: &isDir), isDir.boolValue else {
            throw .invalidInput("rootfs directory \(rootfsDir) does not exist")
        }
        let spec = try workload.specText()
        let kernelVersion = try Self.kernelVersion(paths)
        guard let initData = FileManager.default.contents(atPath: paths.guestInit) else {
            throw .artifacts("guest init \(paths.guestInit) is missing: run scripts/setup (make -C Benchmarks/kit)")
        }
        guard access(paths.kernelImage, R_OK) == 0 else {
            throw .artifacts("guest kernel \(paths.kernelImage) is missing: run scripts/setup")
        }
        var osInit: String?
        if guest == .fullOS {
            guard mode == .disk else { throw .invalidInput("a full-os guest boots from a disk (rootfs: disk)") }
            guard let found = Self.systemdPaths.first(where: { access(rootfsDir + $0, X_OK) == 0 }) else {
                throw .invalidInput(
                    "a full-os guest needs systemd in the image: \(rootfsDir) has none of "
                        + Self.systemdPaths.joined(separator: ", "))
            }
            osInit = found
        }
        var moduleNames: [String] = []
        if mode == .disk || workload.volume != nil { moduleNames += Self.diskModules }
        if balloonDriver { moduleNames += Self.balloonModules }
        if workload.network != nil { moduleNames += Self.networkModules }
        let initHash = SHA256.hash(data: initData).map { String(format: "%02x", $0) }.joined()
        let keyText = [
            Self.formatVersion, cacheKey, kernelVersion, initHash, mode.rawValue + (osInit.map { "|" + $0 } ?? ""),
            spec,
            moduleNames.joined(separator: ","),
        ].joined(separator: "\n\u{1}")
        let key = SHA256.hash(data: Data(keyText.utf8)).map { String(format: "%02x", $0) }.joined()
        let base = paths.guestArtifacts
        let finalDir = base + "/" + key
        if let cached = try? load(dir: finalDir) {
            return cached
        }
        try Self.mkdirs(base)
        let tmp = base + "/.tmp-\(key.prefix(16))-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(tmp, 0o755) == 0 else { throw .system(operation: "mkdir \(tmp)", errno: errno) }
        chmod(tmp, 0o755)
        do {
            logger?.debug("building guest artifacts", metadata: ["key": "\(key)", "mode": "\(mode.rawValue)"])
            let modules = try KernelModuleSet(modulesDir: paths.kernelModules).loadOrderIfAny(moduleNames)
            let initrd = tmp + "/initrd.img"
            var disk: String?
            switch mode {
            case .initramfs:
                try writeInitramfs(
                    to: initrd, rootfs: rootfsDir, initData: [UInt8](initData), spec: spec, modules: modules,
                    kernelVersion: kernelVersion, rootDevice: nil, osInit: nil)
            case .disk:
                let d = tmp + "/disk.raw"
                try Self.buildDisk(
                    at: d, rootfs: rootfsDir, spec: spec, tmp: tmp,
                    fullOS: osInit == nil
                        ? nil
                        : (
                            initBinary: paths.guestInit, machineID: String(key.prefix(32)),
                            disabled: Self.unitsStarting(Self.serverProgram(workload.argv), rootfs: rootfsDir)
                        ))
                try writeInitramfs(
                    to: initrd, rootfs: nil, initData: [UInt8](initData), spec: spec, modules: modules,
                    kernelVersion: kernelVersion, rootDevice: "/dev/vda", osInit: osInit)
                disk = finalDir + "/disk.raw"
            }
            var a = GuestArtifacts(
                key: key, directory: finalDir, mode: mode, guest: guest, kernel: paths.kernelImage,
                kernelVersion: kernelVersion,
                initrd: finalDir + "/initrd.img", disk: disk, kernelBytes: 0, initrdBytes: 0,
                modules: modules.map(\.name),
                cached: false, buildMs: 0)
            let json = try JSONEncoder().encode(a)
            guard FileManager.default.createFile(atPath: tmp + "/artifacts.json", contents: json) else {
                throw MachineError.artifacts("cannot write \(tmp)/artifacts.json")
            }
            for f in ["initrd.img", "disk.raw", "artifacts.json"] { chmod(tmp + "/" + f, 0o644) }
            if rename(tmp, finalDir) != 0 {
                let e = errno
                Self.removeTree(tmp)
                // Someone else finished the same key first: theirs is as good as ours.
                guard e == EEXIST || e == ENOTEMPTY, let other = try? load(dir: finalDir) else {
                    throw MachineError.system(operation: "rename \(tmp) to \(finalDir)", errno: e)
                }
                return other
            }
            a = try load(dir: finalDir)
            a.cached = false
            a.buildMs = Double(monotonicNanos() - t0) / 1e6
            return a
        } catch let error as MachineError {
            Self.removeTree(tmp)
            throw error
        } catch {
            Self.removeTree(tmp)
            throw .artifacts("\(error)")
        }
    }

    /// A cache key for a plain directory (no image digest): its path and every entry's name, size, mode, mtime.
    public static func directoryFingerprint(_ dir: String) -> String {
        var h = SHA256()
        h.update(data: Data(("dir:" + (dir as NSString).resolvingSymlinksInPath).utf8))
        if let e = FileManager.default.enumerator(atPath: dir) {
            var entries: [String] = []
            while let rel = e.nextObject() as? String {
                var st = stat()
                guard lstat(dir + "/" + rel, &st) == 0 else { continue }
                entries.append(
                    "\(rel)\u{0}\(st.st_size)\u{0}\(st.st_mode)\u{0}\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)")
            }
            for entry in entries.sorted() { h.update(data: Data((entry + "\n").utf8)) }
        }
        return "dir-sha256:" + h.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// Deletes one artifact directory (e.g. after a test).
    public func remove(_ artifacts: GuestArtifacts) {
        Self.removeTree(artifacts.directory)
    }

    private func load(dir: String) throws(MachineError) -> GuestArtifacts {
        guard let data = FileManager.default.contents(atPath: dir + "/artifacts.json") else {
            throw .artifacts("no artifacts in \(dir)")
        }
        guard var a = try? JSONDecoder().decode(GuestArtifacts.self, from: data) else {
            throw .artifacts("unreadable \(dir)/artifacts.json")
        }
        a.kernel = paths.kernelImage
        a.kernelBytes = Self.size(a.kernel).apparent
        a.initrdBytes = Self.size(a.initrd).apparent
        if let d = a.disk {
            let s = Self.size(d)
            a.diskAllocatedBytes = s.allocated
            a.diskVirtualBytes = s.apparent
        }
        guard a.initrdBytes > 0 else { throw .artifacts("\(a.initrd) is missing") }
        a.cached = true
        return a
    }

    static func kernelVersion(_ paths: BoxbenchPaths) throws(MachineError) -> String {
        guard let v = try? String(contentsOfFile: paths.kernelDir + "/version", encoding: .utf8) else {
            throw .artifacts("\(paths.kernelDir)/version is missing: run scripts/setup")
        }
        return v.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func writeInitramfs(
        to path: String, rootfs: String?, initData: [UInt8], spec: String, modules: [KernelModuleSet.Module],
        kernelVersion: String, rootDevice: String?, osInit: String?
    ) throws(MachineError) {
        let cpio = path + ".cpio"
        let w = try NewcArchiveWriter(path: cpio)
        if let rootfs { try w.addTree(root: rootfs, skip: ["init", "dev/console"]) }
        // Entries after the tree win: the initramfs unpacker replaces files and keeps existing directories.
        for d in ["dev", "proc", "sys", "etc", "etc/boxbench"] { try w.directory(d) }
        try w.node("dev/console", type: UInt32(S_IFCHR), mode: 0o600, major: 5, minor: 1)
        try w.file("etc/boxbench/workload", contents: Array(spec.utf8))
        if let rootDevice { try w.file("etc/boxbench/root-device", contents: Array((rootDevice + "\n").utf8)) }
        if let osInit { try w.file("etc/boxbench/os-init", contents: Array((osInit + "\n").utf8)) }
        if !modules.isEmpty {
            let set = try KernelModuleSet(modulesDir: paths.kernelModules)
            var made: Set<String> = []
            var list = ""
            for m in modules {
                // Stored uncompressed: the guest init loads them with finit_module and no decompressor.
                var rel = m.relativePath
                for s in [".xz", ".zst", ".gz"] where rel.hasSuffix(s) { rel.removeLast(s.count) }
                // Through the image's own symlinks (merged /usr: lib -> usr/lib): a directory entry named like one
                // would replace it in the unpacked root and break every dynamic binary.
                let guestPath = Self.throughSymlinks("lib/modules/\(kernelVersion)/" + rel, in: rootfs)
                var parts: [String] = []
                for c in guestPath.split(separator: "/").dropLast() {
                    parts.append(String(c))
                    let dir = parts.joined(separator: "/")
                    if made.insert(dir).inserted { try w.directory(dir) }
                }
                try w.file(guestPath, contents: try set.contents(of: m))
                list += "/" + guestPath + "\n"
            }
            try w.file("etc/boxbench/modules", contents: Array(list.utf8))
        }
        try w.file("init", contents: initData, mode: 0o755)
        try w.finish()
        try HostTool.run(["gzip", "-n", "-6", "-c"], stdinPath: cpio, stdoutPath: path)
        unlink(cpio)
    }

    /// ext4 via `mke2fs -d`, then the workload file and mount points added with debugfs (the rootfs is not copied).
    /// `path` (relative to the root) with every leading component that is a symlink in `rootfs` replaced by its
    /// target, so the directories written for it are real directories of the image; unchanged without a rootfs.
    static func throughSymlinks(_ path: String, in rootfs: String?) -> String {
        guard let rootfs else { return path }
        var done: [String] = []
        var rest = path.split(separator: "/").map(String.init)
        var hops = 0
        while !rest.isEmpty {
            let next = rest.removeFirst()
            let here = (done + [next]).joined(separator: "/")
            guard hops < 16, !rest.isEmpty,
                let target = try? FileManager.default.destinationOfSymbolicLink(atPath: rootfs + "/" + here)
            else {
                done.append(next)
                continue
            }
            hops += 1
            // Absolute targets are inside the image; relative ones are relative to the link's directory.
            let base = target.hasPrefix("/") ? [] : done
            var resolved: [String] = base
            for part in target.split(separator: "/").map(String.init) where part != "." && !part.isEmpty {
                if part == ".." { _ = resolved.popLast() } else { resolved.append(part) }
            }
            done = []
            rest = resolved + rest
        }
        return done.joined(separator: "/")
    }

    /// The program a workload serves with: what the kit's `bbwork serve PORT PROGRAM …` runs, else its argv[0].
    static func serverProgram(_ argv: [String]) -> String {
        let name = { (s: String) in (s as NSString).lastPathComponent }
        if argv.count > 3, name(argv[0]) == "bbwork", argv[1] == "serve" { return name(argv[3]) }
        return argv.first.map(name) ?? ""
    }

    /// Units the image enabled in multi-user.target whose ExecStart runs `program` (nginx.service for nginx): in a
    /// full-OS guest the workload unit starts that server, so the package's own unit would only collide with it.
    static func unitsStarting(_ program: String, rootfs: String) -> [String] {
        let wants = "/etc/systemd/system/multi-user.target.wants"
        guard !program.isEmpty, let names = try? FileManager.default.contentsOfDirectory(atPath: rootfs + wants)
        else { return [] }
        return names.filter { name in
            guard name.hasSuffix(".service"),
                let target = try? FileManager.default.destinationOfSymbolicLink(atPath: rootfs + wants + "/" + name),
                let text = try? String(
                    contentsOfFile: rootfs + (target.hasPrefix("/") ? target : wants + "/" + target),
                    encoding: .utf8)
            else { return false }
            return text.split(separator: "\n").contains { line in
                line.hasPrefix("ExecStart=")
                    && line.split(separator: " ").first.map { ($0.split(separator: "/").last ?? "") == program } == true
            }
        }.sorted()
    }

    /// `fullOS`: also the workload unit (enabled), boxbench-init for it to run, a fixed machine id (no first-boot
    /// questions, the same state every boot), the console's gettys masked, and the `disabled` units (which would
    /// start the workload's server a second time) left out of multi-user.target.
    static func buildDisk(
        at path: String, rootfs: String, spec: String, tmp: String,
        fullOS: (initBinary: String, machineID: String, disabled: [String])? = nil
    ) throws(MachineError) {
        let used = usedBytes(rootfs)
        let sizeKiB = max(64 * 1024, (used * 3 / 2) / 1024 + 32 * 1024)
        try HostTool.run([
            "mke2fs", "-q", "-F", "-t", "ext4", "-m", "0", "-L", "boxbench", "-E", "root_owner=0:0", "-d", rootfs,
            path, "\(sizeKiB)k",
        ])
        let specFile = tmp + "/workload"
        guard FileManager.default.createFile(atPath: specFile, contents: Data(spec.utf8)) else {
            throw .artifacts("cannot write \(specFile)")
        }
        chmod(specFile, 0o644)
        let cmds = tmp + "/debugfs.cmds"
        var commands = [
            "mkdir dev", "mkdir proc", "mkdir sys", "mkdir etc", "mkdir etc/boxbench",
            "rm etc/boxbench/workload", "write \(specFile) etc/boxbench/workload",
        ]
        if let fullOS {
            let unitFile = tmp + "/boxbench-workload.service"
            let machineIDFile = tmp + "/machine-id"
            guard FileManager.default.createFile(atPath: unitFile, contents: Data(workloadUnit.utf8)),
                FileManager.default.createFile(atPath: machineIDFile, contents: Data((fullOS.machineID + "\n").utf8))
            else { throw .artifacts("cannot write the full-os unit files in \(tmp)") }
            let units = "etc/systemd/system"
            commands += [
                "mkdir usr", "mkdir usr/lib", "mkdir usr/lib/boxbench",
                "write \(fullOS.initBinary) usr/lib/boxbench/boxbench-init",
                "sif usr/lib/boxbench/boxbench-init mode 0100755",
                "mkdir etc/systemd", "mkdir \(units)", "mkdir \(units)/multi-user.target.wants",
                "write \(unitFile) \(units)/boxbench-workload.service",
                "symlink \(units)/multi-user.target.wants/boxbench-workload.service /\(units)/boxbench-workload.service",
                "rm etc/machine-id", "write \(machineIDFile) etc/machine-id",
            ]
            for unit in maskedUnits { commands += ["rm \(units)/\(unit)", "symlink \(units)/\(unit) /dev/null"] }
            for unit in fullOS.disabled { commands.append("rm \(units)/multi-user.target.wants/\(unit)") }
        }
        let script = commands.joined(separator: "\n") + "\n"
        guard FileManager.default.createFile(atPath: cmds, contents: Data(script.utf8)) else {
            throw .artifacts("cannot write \(cmds)")
        }
        try HostTool.run(["debugfs", "-w", "-f", cmds, path])
        let check = try HostTool.output(["debugfs", "-R", "cat /etc/boxbench/workload", path])
        guard String(decoding: check, as: UTF8.self) == spec else {
            throw .artifacts("debugfs did not store /etc/boxbench/workload in \(path)")
        }
        if fullOS != nil {
            let unit = try HostTool.output(["debugfs", "-R", "cat /etc/systemd/system/boxbench-workload.service", path])
            guard String(decoding: unit, as: UTF8.self) == workloadUnit else {
                throw .artifacts("debugfs did not store the workload unit in \(path)")
            }
        }
        for file in [specFile, cmds, tmp + "/boxbench-workload.service", tmp + "/machine-id"] { unlink(file) }
    }

    static func usedBytes(_ root: String) -> UInt64 {
        var total: UInt64 = 0
        guard let e = FileManager.default.enumerator(atPath: root) else { return 0 }
        while let rel = e.nextObject() as? String {
            var st = stat()
            if lstat(root + "/" + rel, &st) == 0 { total += UInt64(max(st.st_size, 0)) + 4096 }
        }
        return total
    }

    static func size(_ path: String) -> (apparent: UInt64, allocated: UInt64) {
        var st = stat()
        guard stat(path, &st) == 0 else { return (0, 0) }
        return (UInt64(st.st_size), UInt64(st.st_blocks) * 512)
    }

    static func mkdirs(_ path: String) throws(MachineError) {
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        } catch {
            throw .system(
                operation: "mkdir -p \(path)",
                errno: (error as NSError).code == 0 ? EIO : Int32((error as NSError).code))
        }
    }

    static func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}

extension KernelModuleSet {
    func loadOrderIfAny(_ names: [String]) throws(MachineError) -> [Module] {
        names.isEmpty ? [] : try loadOrder(for: names)
    }
}
