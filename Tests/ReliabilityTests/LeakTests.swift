import Containers
import Foundation
import Probes
import Testing

/// What boxbench could leave on the host, counted the way scripts/soak counts it.
struct HostLeftovers: Equatable, CustomStringConvertible {
    var mounts: [String] = []
    var cgroups: [String] = []
    var stateDirs: [String] = []

    /// `ids` restricts the count to names this test created (other runs may be active on the host).
    static func count(stateRoot: String, ids: Set<String>) -> HostLeftovers {
        var out = HostLeftovers()
        let mountinfo = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        for line in mountinfo.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count > 4, f[4].hasPrefix(stateRoot) { out.mounts.append(String(f[4])) }
        }
        for h in CgroupLayout.detect().hierarchies {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: h.mountPoint + "/boxbench")) ?? []
            where ids.contains(name) {
                out.cgroups.append(h.mountPoint + "/boxbench/" + name)
            }
        }
        out.stateDirs = ((try? FileManager.default.contentsOfDirectory(atPath: stateRoot)) ?? []).filter {
            ids.contains($0)
        }
        return out
    }

    var isEmpty: Bool { mounts.isEmpty && cgroups.isEmpty && stateDirs.isEmpty }
    var description: String { "mounts \(mounts), cgroups \(cgroups), state dirs \(stateDirs)" }
}

/// A busybox rootfs in a bundle dir.
func makeBusyboxBundle(_ dir: String) throws {
    let fm = FileManager.default
    for d in ["bin", "proc", "sys", "dev", "tmp"] {
        try fm.createDirectory(atPath: "\(dir)/rootfs/\(d)", withIntermediateDirectories: true)
    }
    try fm.copyItem(atPath: "/bin/busybox", toPath: "\(dir)/rootfs/bin/busybox")
    for applet in ["sh", "true", "false", "sleep", "kill", "echo"] {
        try fm.createSymbolicLink(atPath: "\(dir)/rootfs/bin/\(applet)", withDestinationPath: "busybox")
    }
}

@Suite(
    .serialized,
    .enabled(if: getuid() == 0 && FileManager.default.fileExists(atPath: "/bin/busybox"), "needs root and busybox"))
struct LeakTests {
    enum Outcome: CaseIterable { case ok, nonZero, segv, oom, timeout, abort }

    @Test func mixedOutcomesLeaveNothingBehind() throws {
        let s = Scratch("leak")
        defer { s.cleanup() }
        try makeBusyboxBundle(s.path)
        let stateRoot = s.path + "/state"
        let runtime = ContainerRuntime(stateRoot: stateRoot)
        var ids = Set<String>()
        var seen: [Outcome: Int] = [:]
        for i in 0..<20 {
            let outcome = Outcome.allCases[i % Outcome.allCases.count]
            let id = "run-\(getpid())-leak\(i)"
            ids.insert(id)
            var spec = RuntimeSpec.defaultSpec(args: ["/bin/true"])
            spec.root?.path = "rootfs"
            var timeout: Duration = .seconds(20)
            switch outcome {
            case .ok: spec.process?.args = ["/bin/sh", "-c", "echo ok"]
            case .nonZero: spec.process?.args = ["/bin/sh", "-c", "exit 7"]
            // The container's sh is PID 1 of its namespace and ignores signals: crash a child instead.
            case .segv: spec.process?.args = ["/bin/sh", "-c", "/bin/sh -c 'kill -SEGV $$'; exit $?"]
            case .oom:
                spec.process?.args = ["/bin/sh", "-c", "x=aaaaaaaa; while :; do x=$x$x; done"]
                spec.applyLimits(memoryBytes: 16 << 20, pidsMax: nil)
            case .timeout:
                spec.process?.args = ["/bin/sleep", "100"]
                timeout = .milliseconds(300)
            case .abort: spec.process?.args = ["/bin/sh", "-c", "sleep 100 & /bin/sh -c 'kill -ABRT $$'; exit $?"]
            }
            let r = try runtime.run(
                ContainerRequest(id: id, bundle: s.path, spec: spec, io: .capture, timeout: timeout))
            switch outcome {
            case .ok: #expect(r.exit == .exited(0) && String(decoding: r.stdout, as: UTF8.self) == "ok\n")
            case .nonZero: #expect(r.exit == .exited(7))
            case .segv: #expect(r.exit == .signaled(SIGSEGV) || r.exit == .exited(128 + SIGSEGV), "\(r.status)")
            case .oom: #expect(r.oomKilled || r.exit == .signaled(SIGKILL), "\(r.status)")
            case .timeout: #expect(r.timedOut)
            case .abort: #expect(r.exit == .signaled(SIGABRT) || r.exit == .exited(128 + SIGABRT), "\(r.status)")
            }
            seen[outcome, default: 0] += 1
            let left = HostLeftovers.count(stateRoot: stateRoot, ids: [id])
            #expect(left.isEmpty, "run \(i) (\(outcome)) left \(left)")
        }
        #expect(seen.count == Outcome.allCases.count)
        let left = HostLeftovers.count(stateRoot: stateRoot, ids: ids)
        #expect(left.isEmpty, "after 20 runs: \(left)")
        // The background `sleep 100` of the abort case died with its cgroup.
        #expect(try sh(["pgrep", "-f", "^sleep 100$"]) != 0, "a container process outlived its run")
    }

    /// A spec that names an existing, busy cgroup is refused instead of adopted (teardown would kill it).
    @Test func busyCgroupsPathIsRefusedAndItsProcessesSurvive() throws {
        let s = Scratch("busy")
        defer { s.cleanup() }
        try makeBusyboxBundle(s.path)
        let name = "boxbench/busy-\(getpid())"
        let group = makeCgroupManager(name: name)
        try group.create()
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["30"]
        try sleeper.run()
        defer {
            group.killAll()
            sleeper.waitUntilExit()
            try? group.remove()
        }
        for path in group.procsPaths {
            try "\(sleeper.processIdentifier)".write(toFile: path, atomically: false, encoding: .utf8)
        }
        var spec = RuntimeSpec.defaultSpec(args: ["/bin/true"])
        spec.root?.path = "rootfs"
        spec.linux?.cgroupsPath = "/" + name
        let runtime = ContainerRuntime(stateRoot: s.path + "/state")
        #expect { try runtime.run(ContainerRequest(id: "busy", bundle: s.path, spec: spec)) } throws: { e in
            "\(e)".contains("already has processes") && "\(e)".contains(name)
        }
        #expect(sleeper.isRunning, "the runtime killed processes of a cgroup it did not create")
        #expect(!FileManager.default.fileExists(atPath: s.path + "/state/busy"))
    }
}
