import Foundation
import Probes
import Testing

@testable import Containers

/// A busybox root filesystem built from the host's busybox-static, removed on deinit.
final class BusyboxRootfs {
    let dir: String
    var rootfs: String { dir + "/rootfs" }

    init(extraFiles: [String: String] = [:]) throws {
        dir = try makeTempDir("bb-rootfs")
        let fm = FileManager.default
        for d in ["bin", "proc", "sys", "dev", "tmp", "etc", "usr/bin"] {
            try fm.createDirectory(atPath: "\(rootfs)/\(d)", withIntermediateDirectories: true)
        }
        try fm.copyItem(atPath: "/bin/busybox", toPath: "\(rootfs)/bin/busybox")
        for applet in [
            "sh", "true", "echo", "cat", "ls", "hostname", "ps", "grep", "sleep", "mount", "unshare", "seq", "head",
            "tr", "wc",
        ] {
            try fm.createSymbolicLink(atPath: "\(rootfs)/bin/\(applet)", withDestinationPath: "busybox")
        }
        let kit = BoxbenchPaths().workloadBinary
        if fm.fileExists(atPath: kit) { try fm.copyItem(atPath: kit, toPath: "\(rootfs)/usr/bin/bbwork") }
        for (path, content) in extraFiles {
            try content.write(toFile: rootfs + path, atomically: false, encoding: .utf8)
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }
}

func makeTempDir(_ prefix: String) throws -> String {
    var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
    guard let p = mkdtemp(&template) else { throw POSIXError(.EIO) }
    return String(cString: p)
}

let isRoot = getuid() == 0
var stateRootForTests: String { "/run/boxbench-test/containers" }

/// Asserts nothing of container `id` is left on the host.
func expectNoLeftovers(id: String, testDir: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    let layout = CgroupLayout.detect()
    for h in layout.hierarchies {
        let path = "\(h.mountPoint)/boxbench/\(id)"
        #expect(!FileManager.default.fileExists(atPath: path), "cgroup left: \(path)", sourceLocation: sourceLocation)
    }
    #expect(
        !FileManager.default.fileExists(atPath: "\(stateRootForTests)/\(id)"), "state dir left",
        sourceLocation: sourceLocation)
    if let testDir {
        let mounts = (try? readTextFile("/proc/self/mountinfo")) ?? ""
        #expect(!mounts.contains(testDir), "mount left under \(testDir)", sourceLocation: sourceLocation)
    }
}

@Suite(.serialized, .enabled(if: isRoot, "needs root: namespaces, cgroups and mounts"))
struct RuntimeIntegrationTests {
    let runtime = ContainerRuntime(stateRoot: stateRootForTests)

    func run(
        _ args: [String], id: String, rootfs: BusyboxRootfs, timeout: Duration? = .seconds(30),
        limits: CgroupLimits? = nil, overlay: OverlayRootfs? = nil, edit: (inout RuntimeSpec) -> Void = { _ in }
    ) throws -> ContainerResult {
        var spec = RuntimeSpec.defaultSpec(args: args, rootPath: rootfs.rootfs, hostname: "box-\(id)")
        edit(&spec)
        let request = ContainerRequest(
            id: id, bundle: rootfs.dir, spec: spec, overlay: overlay, io: .capture, timeout: timeout,
            limitsOverride: limits)
        return try runtime.run(request)
    }

    @Test func isolationInsideTheContainer() throws {
        let fs = try BusyboxRootfs()
        let r = try run(
            [
                "sh", "-c",
                "echo pid=$$; echo host=$(hostname); echo net=$(ls /sys/class/net); echo procs=$(ls /proc | grep -c '^[0-9]'); grep CapEff /proc/self/status",
            ], id: "iso1", rootfs: fs)
        let out = String(decoding: r.stdout, as: UTF8.self)
        #expect(r.exit == .exited(0), "\(out) \(String(decoding: r.stderr, as: UTF8.self))")
        #expect(out.contains("pid=1\n"))
        #expect(out.contains("host=box-iso1\n"))
        #expect(out.contains("net=lo\n"))
        // sh, the $(ls) subshell, ls and grep at most: no host process is visible.
        let procs = out.split(separator: "\n").first { $0.hasPrefix("procs=") }.flatMap { Int($0.dropFirst(6)) } ?? 999
        #expect(procs <= 5)
        let capEff = out.split(separator: "\n").first { $0.hasPrefix("CapEff:") }.map {
            $0.split(separator: "\t").last!
        }
        #expect(capEff.flatMap { UInt64($0, radix: 16) } == Capability.mask(Capability.defaultSet))
        #expect(r.firstOutputNs != nil && r.firstOutputNs! <= r.exitNs)
        expectNoLeftovers(id: "iso1", testDir: fs.dir)
    }

    @Test func procSysIsReadOnlyAndMountIsDenied() throws {
        let fs = try BusyboxRootfs()
        let r = try run(
            [
                "sh", "-c",
                "echo 1 > /proc/sys/kernel/ns_last_pid && echo wrote-proc-sys; mount -t tmpfs none /tmp && echo mounted; unshare -m true && echo unshared; echo done",
            ], id: "ro1", rootfs: fs)
        let out = String(decoding: r.stdout, as: UTF8.self)
        let err = String(decoding: r.stderr, as: UTF8.self)
        #expect(out == "done\n", "stdout: \(out) stderr: \(err)")
        #expect(err.contains("Read-only file system"))
        expectNoLeftovers(id: "ro1", testDir: fs.dir)
    }

    @Test(
        .enabled(
            if: FileManager.default.fileExists(atPath: BoxbenchPaths().workloadBinary),
            "needs the workload kit (scripts/setup builds it)"))
    func defaultSeccompProfileDeniesDangerousSyscalls() throws {
        let fs = try BusyboxRootfs()
        let r = try run(["/usr/bin/bbwork", "probe"], id: "sec1", rootfs: fs)
        let out = String(decoding: r.stdout, as: UTF8.self)
        for name in ["mount", "unshare", "ptrace", "kexec_load", "bpf", "keyctl"] {
            let line = out.split(separator: "\n").first { $0.contains("name=\(name) ") }
            #expect(line?.contains("result=blocked") == true, "\(name): \(line ?? "no line") in\n\(out)")
            #expect(line?.contains("errno=EPERM") == true, "\(name): \(line ?? "no line")")
        }
        expectNoLeftovers(id: "sec1", testDir: fs.dir)
    }

    @Test func memoryLimitOOMKillsAnAllocator() throws {
        let fs = try BusyboxRootfs()
        // 64 MiB held in a shell variable against a 32 MiB limit.
        let r = try run(
            ["sh", "-c", "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived ${#x}"], id: "oom1", rootfs: fs,
            limits: CgroupLimits(memoryBytes: 32 << 20))
        #expect(r.oomKilled, "status \(r.status)")
        #expect(r.status == "oom-killed")
        #expect(!String(decoding: r.stdout, as: UTF8.self).contains("survived"))
        expectNoLeftovers(id: "oom1", testDir: fs.dir)
    }

    @Test func pidsLimitStopsAForkBomb() throws {
        let fs = try BusyboxRootfs()
        let r = try run(
            // ash gives up at the first failed fork, so the bomb runs in a subshell; a glob counts without forking.
            ["sh", "-c", "(for i in $(seq 64); do sleep 30 & done) 2>/dev/null; set -- /proc/[0-9]*; echo procs=$#"],
            id: "pids1", rootfs: fs, limits: CgroupLimits(pidsMax: 16))
        let out = String(decoding: r.stdout, as: UTF8.self)
        let procs = out.split(separator: "\n").first { $0.hasPrefix("procs=") }.flatMap { Int($0.dropFirst(6)) }
        #expect(procs != nil && procs! <= 16 && procs! >= 8, "\(out)")
        expectNoLeftovers(id: "pids1", testDir: fs.dir)
    }

    @Test func timeoutKillsTheWholeCgroup() throws {
        let fs = try BusyboxRootfs()
        let start = monotonicNanos()
        let r = try run(["sleep", "1000"], id: "to1", rootfs: fs, timeout: .milliseconds(500))
        #expect(r.timedOut)
        #expect(r.status == "timeout")
        #expect(monotonicNanos() - start < 10_000_000_000)
        expectNoLeftovers(id: "to1", testDir: fs.dir)
    }

    @Test func overlayOfLayersWithCallerUpperDir() throws {
        let base = try BusyboxRootfs()
        let layerDir = try makeTempDir("bb-layer")
        defer { try? FileManager.default.removeItem(atPath: layerDir) }
        let fm = FileManager.default
        try fm.createDirectory(atPath: "\(layerDir)/top/etc", withIntermediateDirectories: true)
        try "from-top\n".write(toFile: "\(layerDir)/top/etc/msg", atomically: false, encoding: .utf8)
        for d in ["upper", "work", "mnt"] {
            try fm.createDirectory(atPath: "\(layerDir)/\(d)", withIntermediateDirectories: true)
        }
        let overlay = OverlayRootfs(
            lowerDirs: ["\(layerDir)/top", base.rootfs], upperDir: "\(layerDir)/upper", workDir: "\(layerDir)/work")
        let r = try run(
            ["sh", "-c", "cat /etc/msg; echo new > /etc/added; rm /bin/true"], id: "ov1", rootfs: base, overlay: overlay
        ) { spec in
            spec.root?.path = "\(layerDir)/mnt"
            spec.root?.readonly = false
        }
        #expect(
            String(decoding: r.stdout, as: UTF8.self) == "from-top\n", "\(String(decoding: r.stderr, as: UTF8.self))")
        #expect(fm.fileExists(atPath: "\(layerDir)/upper/etc/added"))
        // The deletion is an overlay whiteout (0/0 char device) in the upper dir; the lower is untouched.
        var st = stat()
        #expect(lstat("\(layerDir)/upper/bin/true", &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR && st.st_rdev == 0)
        #expect(fm.fileExists(atPath: "\(base.rootfs)/bin/true"))
        expectNoLeftovers(id: "ov1", testDir: layerDir)
    }

    @Test func execFailureNamesTheStepAndErrno() throws {
        let fs = try BusyboxRootfs()
        do {
            _ = try run(["/no/such/binary"], id: "ex1", rootfs: fs)
            Issue.record("expected an exec error")
        } catch let error as ContainerError {
            #expect(error.operation == "execve")
            #expect(error.errno == ENOENT)
            #expect(error.description.contains("/no/such/binary"))
        } catch {
            Issue.record("unexpected \(error)")
        }
        expectNoLeftovers(id: "ex1", testDir: fs.dir)
    }

    @Test func exitCodeAndSignalPropagate() throws {
        let fs = try BusyboxRootfs()
        #expect(try run(["sh", "-c", "exit 7"], id: "rc1", rootfs: fs).exit == .exited(7))
        // PID 1 ignores signals it has no handler for, so this one runs without a pid namespace.
        let segv = try run(["sh", "-c", "kill -SEGV $$; sleep 1"], id: "rc2", rootfs: fs) { spec in
            spec.linux?.namespaces?.removeAll { $0.type == "pid" }
            spec.mounts?.removeAll { $0.destination == "/proc" }
        }
        #expect(segv.exit == .signaled(SIGSEGV))
        expectNoLeftovers(id: "rc1")
        expectNoLeftovers(id: "rc2")
    }

    @Test func createThenStartSplit() throws {
        let fs = try BusyboxRootfs()
        let spec = RuntimeSpec.defaultSpec(args: ["echo", "started"], rootPath: fs.rootfs)
        let created = try runtime.create(
            ContainerRequest(id: "split1", bundle: fs.dir, spec: spec), waitForStart: true)
        // Waiting before exec: the process is in the cgroup but has not run the workload.
        #expect(created.cgroup.stats().pids == 1)
        try created.start()
        let r = created.wait(timeout: .seconds(10))
        #expect(String(decoding: r.stdout, as: UTF8.self) == "started\n")
        #expect(r.createdNs <= r.exitNs)
        expectNoLeftovers(id: "split1", testDir: fs.dir)
    }

    @Test func duplicateIDIsRefused() throws {
        let fs = try BusyboxRootfs()
        let spec = RuntimeSpec.defaultSpec(args: ["sleep", "5"], rootPath: fs.rootfs)
        let first = try runtime.create(ContainerRequest(id: "dup1", bundle: fs.dir, spec: spec), waitForStart: true)
        defer { first.destroy() }
        #expect(throws: ContainerError.self) {
            _ = try runtime.create(ContainerRequest(id: "dup1", bundle: fs.dir, spec: spec), waitForStart: true)
        }
    }
}

@Suite(.serialized, .enabled(if: isRoot, "needs root: peer runtimes create namespaces and cgroups"))
struct PeerRuntimeTests {
    @Test(arguments: PeerRuntime.allCases)
    func peerRunsTheIdenticalBundle(peer: PeerRuntime) throws {
        try #require(peer.isInstalled, "\(peer.rawValue) not installed (scripts/setup installs it)")
        let fs = try BusyboxRootfs()
        var spec = RuntimeSpec.defaultSpec(
            args: ["sh", "-c", "echo pid=$$; hostname"], rootPath: "rootfs", hostname: "peer")
        spec.process?.noNewPrivileges = true
        try spec.jsonData().write(to: URL(fileURLWithPath: fs.dir + "/config.json"))
        let id = "peer-\(peer.rawValue)-\(getpid())"
        let r = try HostProcess.run(peer.request(bundle: fs.dir, id: id, timeout: .seconds(30), layout: .detect()))
        defer { peer.forceDelete(id: id) }
        let out = String(decoding: r.stdout, as: UTF8.self)
        #expect(r.exit == .exited(0), "\(peer.rawValue): \(String(decoding: r.stderr, as: UTF8.self))")
        #expect(out == "pid=1\npeer\n")
        #expect(r.firstOutputNs != nil)
    }

    @Test func spawnedProgramStartsWithDefaultDispositionsAndNoSignalBlocked() throws {
        let previous = signal(SIGUSR2, SIG_IGN)
        defer { signal(SIGUSR2, previous) }
        let r = try HostProcess.run(
            HostProcessRequest(
                path: "/bin/busybox", args: ["cat", "/proc/self/status"], env: [], timeout: .seconds(30)))
        let status = String(decoding: r.stdout, as: UTF8.self)
        #expect(r.exit == .exited(0))
        #expect(status.contains("SigIgn:\t0000000000000000"), "\(status)")
        #expect(status.contains("SigBlk:\t0000000000000000"), "\(status)")
    }

    @Test func nativeProcessIsAccountedInACgroup() throws {
        let name = "boxbench/native-test-\(getpid())"
        let r = try HostProcess.run(
            HostProcessRequest(
                path: "/bin/busybox", args: ["sh", "-c", "x=$(head -c 8000000 /dev/zero | tr '\\0' a); echo ${#x}"],
                env: [], cgroupName: name, timeout: .seconds(30)))
        #expect(String(decoding: r.stdout, as: UTF8.self) == "8000000\n")
        #expect((r.stats?.memory?.peakBytes ?? 0) > 8_000_000)
        #expect(r.maxRSSKilobytes > 0)
        for h in CgroupLayout.detect().hierarchies {
            #expect(!FileManager.default.fileExists(atPath: "\(h.mountPoint)/\(name)"))
        }
    }
}
