import Foundation
import Probes
import Testing

@testable import Containers

/// Drives `boxbench-runtime` only through its command line, as containerd or podman would.
@Suite(.serialized, .enabled(if: isRoot, "needs root: the runtime creates namespaces and cgroups"))
struct RuntimeCLITests {
    /// The debug build next to the test bundle, or BOXBENCH_RUNTIME_BINARY (scripts/test points it at the static
    /// release executable the benchmarks time).
    static var binary: String {
        if let chosen = ProcessInfo.processInfo.environment["BOXBENCH_RUNTIME_BINARY"] { return chosen }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "boxbench-runtime"
        ).path
    }
    let root = "/run/boxbench-runtime-test-\(getpid())"

    @discardableResult
    func cli(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let r = try HostProcess.run(
            HostProcessRequest(
                path: Self.binary, args: ["boxbench-runtime", "--root", root] + args, env: ["PATH=/usr/bin:/bin"],
                timeout: .seconds(30)))
        return (
            r.exit.shellStatus, String(decoding: r.stdout, as: UTF8.self), String(decoding: r.stderr, as: UTF8.self)
        )
    }

    func status(_ id: String) throws -> String? {
        let r = try cli(["state", id])
        guard r.status == 0, let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        else { return nil }
        return obj["status"] as? String
    }

    func bundle(_ args: [String], hooks: RuntimeSpec.Hooks? = nil) throws -> BusyboxRootfs {
        let fs = try BusyboxRootfs()
        var spec = RuntimeSpec.defaultSpec(args: args, rootPath: "rootfs")
        spec.hooks = hooks
        try spec.jsonData().write(to: URL(fileURLWithPath: fs.dir + "/config.json"))
        return fs
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: RuntimeCLITests.binary), "boxbench-runtime not built"))
    func fullLifecycle() throws {
        let fs = try bundle(["sleep", "100"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let id = "life1"
        #expect(try cli(["create", "--bundle", fs.dir, "--pid-file", fs.dir + "/pid", id]).status == 0)
        #expect(try status(id) == "created")
        let pid = Int32((try? String(contentsOfFile: fs.dir + "/pid", encoding: .utf8)) ?? "") ?? 0
        #expect(pid > 0)
        // A second create with the same id is refused.
        let dup = try cli(["create", "--bundle", fs.dir, id])
        #expect(dup.status == 1 && dup.stderr.contains("already exists"))
        // Wrong state: a created container cannot be deleted without --force.
        #expect(try cli(["delete", id]).status == 1)
        #expect(try cli(["start", id]).status == 0)
        #expect(try status(id) == "running")
        #expect(try cli(["start", id]).status == 1)
        #expect(try cli(["kill", id, "KILL"]).status == 0)
        var stopped = false
        for _ in 0..<200 where !stopped {
            stopped = try status(id) == "stopped"
            if !stopped { usleep(10_000) }
        }
        #expect(stopped)
        #expect(try cli(["delete", id]).status == 0)
        let gone = try cli(["state", id])
        #expect(gone.status == 1 && gone.stderr.contains("does not exist"))
        #expect(try cli(["kill", "nosuch"]).status == 1)
        expectNoCgroup(id)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: RuntimeCLITests.binary), "boxbench-runtime not built"))
    func runExitsWithTheContainersStatusAndWritesItsPid() throws {
        let fs = try bundle(["sh", "-c", "echo ran; exit 7"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let r = try cli(["run", "--bundle", fs.dir, "--pid-file", fs.dir + "/pid", "run1"])
        #expect(r.status == 7 && r.stdout == "ran\n", "\(r)")
        let pid = Int32((try? String(contentsOfFile: fs.dir + "/pid", encoding: .utf8)) ?? "") ?? 0
        #expect(pid > 1)
        // Nothing of it is left: no state, no cgroup.
        #expect(try cli(["state", "run1"]).stderr.contains("does not exist"))
        expectNoCgroup("run1")
        // A pid file that cannot be written fails the command and leaves no container behind.
        let bad = try cli(["run", "--bundle", fs.dir, "--pid-file", "/nonexistent/dir/pid", "run2"])
        #expect(bad.status != 0 && bad.stderr.contains("write pid file"), "\(bad)")
        expectNoCgroup("run2")
        // A config.json it cannot use is bad input, as for create: exit 2 naming the file.
        try Data(#"{"ociVersion":"1.0.2","process":{"args":[]}}"#.utf8).write(
            to: URL(fileURLWithPath: fs.dir + "/config.json"))
        let refused = try cli(["run", "--bundle", fs.dir, "run3"])
        #expect(refused.status == 2 && refused.stderr.contains("config.json"), "\(refused)")
    }

    /// The config `oci-runtime-tool generate` writes (Fixtures/README.md): every capability set incl. ambient, an
    /// RLIMIT_NOFILE, a deny-by-default seccomp section whose allow-list lacks close_range — what made the created
    /// process keep the runtime's lock and cgroup descriptors, so `start` blocked forever. Run with root.path as
    /// written ("rootfs") and as "." (the bundle directory is the rootfs), through the whole lifecycle.
    static func generatorSpec(args: [String], rootPath: String) throws -> Data {
        let url = Bundle.module.url(forResource: "generator-config", withExtension: "json", subdirectory: "Fixtures")!
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        var process = config["process"] as! [String: Any]
        process["args"] = args
        process["terminal"] = false
        config["process"] = process
        config["root"] = ["path": rootPath]
        return try JSONSerialization.data(withJSONObject: config)
    }

    @Test(
        .enabled(if: FileManager.default.fileExists(atPath: RuntimeCLITests.binary), "boxbench-runtime not built"),
        arguments: ["rootfs", "."])
    func generatorBundleLifecycle(rootPath: String) throws {
        let fs = try BusyboxRootfs()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bundle = rootPath == "." ? fs.rootfs : fs.dir
        try Self.generatorSpec(args: ["sleep", "100"], rootPath: rootPath).write(
            to: URL(fileURLWithPath: bundle + "/config.json"))
        let id = "gen-\(rootPath == "." ? "dot" : "rootfs")"
        let started = monotonicNanos()
        #expect(try cli(["create", "--bundle", bundle, "--pid-file", fs.dir + "/pid", id]).status == 0)
        #expect(try status(id) == "created")
        let pid = Int32((try? String(contentsOfFile: fs.dir + "/pid", encoding: .utf8)) ?? "") ?? 0
        #expect(pid > 0)
        // While paused the process holds only its stdio, the exec FIFO and the sealed exec helper (a 182-byte
        // memfd that cannot be written): no lock, state or cgroup descriptor.
        let fds = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).compactMap {
            Int($0)
        }.sorted()
        let beyondStdio = fds.filter { $0 > 2 }.map {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) ?? "?"
        }
        let runtimeOwned = beyondStdio.filter { !$0.hasPrefix("/memfd:boxbench-exec") }
        #expect(runtimeOwned.count == 1 && runtimeOwned.first?.hasSuffix("/\(id)/exec.fifo") == true, "\(beyondStdio)")
        #expect(beyondStdio.count <= 2)
        #expect(try cli(["start", id]).status == 0)
        #expect(try status(id) == "running")
        let procStatus = (try? readTextFile("/proc/\(pid)/status")) ?? ""
        // The 14 default capabilities in every set, ambient included; seccomp filter in force.
        #expect(procStatus.contains("CapAmb:\t00000000a80425fb"), "\(procStatus)")
        #expect(procStatus.contains("CapBnd:\t00000000a80425fb"))
        #expect(procStatus.contains("Seccomp:\t2"))
        let limits = (try? readTextFile("/proc/\(pid)/limits")) ?? ""
        #expect(
            limits.split(separator: "\n").contains {
                $0.hasPrefix("Max open files") && $0.contains("1024                 1024")
            })
        #expect(try cli(["kill", id, "KILL"]).status == 0)
        for _ in 0..<300 where try status(id) != "stopped" { usleep(10_000) }
        #expect(try cli(["delete", id]).status == 0)
        // Each step is bounded; the whole cycle took seconds at most, not forever.
        #expect(monotonicNanos() - started < 30_000_000_000)
        expectNoCgroup(id)
        #expect(!FileManager.default.fileExists(atPath: "\(root)/\(id).lock"))
        #expect(!FileManager.default.fileExists(atPath: "\(root)/\(id)"))
    }

    /// The generator's config plus the fields its options add (annotations, masked and read-only paths, sysctl,
    /// pids/memory/cpu limits, a user namespace with id mappings), checked one by one as runc applies them.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: RuntimeCLITests.binary), "boxbench-runtime not built"))
    func generatorStyleFieldsApplyAsRuncDoes() throws {
        let fs = try BusyboxRootfs()
        // The user namespace's root (host uid 100000) must reach the rootfs, as with runc.
        chmod(fs.dir, 0o755)
        // …and cannot create mount points in a rootfs the host's root owns: /out exists already, as runc needs too.
        try FileManager.default.createDirectory(atPath: fs.rootfs + "/out", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let out = try makeTempDir("genout")
        defer { try? FileManager.default.removeItem(atPath: out) }
        chmod(out, 0o777)
        let script =
            "cat /proc/sys/net/ipv4/ip_forward > /out/sysctl; wc -c < /proc/keys > /out/keys; "
            + "(echo 1 > /proc/sys/kernel/ns_last_pid) 2> /out/ro; cat /proc/self/uid_map > /out/uidmap; id -u > /out/uid"
        var config =
            try JSONSerialization.jsonObject(with: Self.generatorSpec(args: ["sh", "-c", script], rootPath: "rootfs"))
            as! [String: Any]
        config["annotations"] = ["org.example.bench": "generator"]
        var linux = config["linux"] as! [String: Any]
        linux["maskedPaths"] = ["/proc/keys"]
        linux["readonlyPaths"] = ["/proc/sys"]
        linux["sysctl"] = ["net.ipv4.ip_forward": "1"]
        var resources = linux["resources"] as! [String: Any]
        resources["memory"] = ["limit": 64 << 20]
        resources["pids"] = ["limit": 64]
        resources["cpu"] = ["quota": 50_000, "period": 100_000]
        linux["resources"] = resources
        var namespaces = linux["namespaces"] as! [[String: Any]]
        namespaces.append(["type": "user"])
        linux["namespaces"] = namespaces
        linux["uidMappings"] = [["containerID": 0, "hostID": 100_000, "size": 65536]]
        linux["gidMappings"] = [["containerID": 0, "hostID": 100_000, "size": 65536]]
        config["linux"] = linux
        config["mounts"] =
            (config["mounts"] as? [[String: Any]] ?? []) + [
                ["destination": "/out", "type": "bind", "source": out, "options": ["rbind", "rw"]]
            ]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: fs.dir + "/config.json"))
        let hostForward = try readTextFile("/proc/sys/net/ipv4/ip_forward")
        let id = "genfields"
        let created = try cli(["create", "--bundle", fs.dir, id])
        #expect(created.status == 0, "\(created.stderr)")
        let state = try JSONSerialization.jsonObject(with: Data(try cli(["state", id]).stdout.utf8)) as? [String: Any]
        #expect((state?["annotations"] as? [String: String])?["org.example.bench"] == "generator")
        let layout = CgroupLayout.detect()
        if let memory = layout.v1MountPoint(for: "memory") {
            #expect(try readTextFile("\(memory)/boxbench/\(id)/memory.limit_in_bytes") == "67108864\n")
        }
        if let pids = layout.v1MountPoint(for: "pids") {
            #expect(try readTextFile("\(pids)/boxbench/\(id)/pids.max") == "64\n")
        }
        if let cpu = layout.v1MountPoint(for: "cpu") {
            #expect(try readTextFile("\(cpu)/boxbench/\(id)/cpu.cfs_quota_us") == "50000\n")
        }
        let started = try cli(["start", id])
        #expect(started.status == 0, "\(started.stderr)")
        for _ in 0..<300 where try status(id) != "stopped" { usleep(10_000) }
        #expect(try cli(["delete", id]).status == 0)
        func read(_ name: String) -> String {
            ((try? String(contentsOfFile: "\(out)/\(name)", encoding: .utf8)) ?? "(missing)")
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(read("sysctl") == "1")
        #expect(try readTextFile("/proc/sys/net/ipv4/ip_forward") == hostForward, "the host's sysctl changed")
        #expect(read("keys") == "0")
        #expect(read("ro").contains("Read-only"), "\(read("ro"))")
        #expect(read("uidmap").split(whereSeparator: \.isWhitespace) == ["0", "100000", "65536"])
        #expect(read("uid") == "0")
        expectNoCgroup(id)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: RuntimeCLITests.binary), "boxbench-runtime not built"))
    func listPrintsFullIdsAndUnknownIdsLeaveNoLockFile() throws {
        let fs = try bundle(["sleep", "100"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let id = String(repeating: "x", count: 40) + "-full-length-id"
        #expect(try cli(["create", "--bundle", fs.dir, id]).status == 0)
        #expect(try cli(["list"]).stdout.contains(id + " "))
        #expect(try cli(["list", "-q"]).stdout == id + "\n")
        let json = try JSONSerialization.jsonObject(with: Data(try cli(["list", "--format", "json"]).stdout.utf8))
        let entry = (json as? [[String: Any]])?.first
        #expect(entry?["id"] as? String == id)
        #expect((entry?["pid"] as? Int ?? 0) > 0)
        for command in [["state", "ghost"], ["start", "ghost"], ["kill", "ghost", "KILL"], ["delete", "ghost"]] {
            #expect(try cli(command).status == 1, "\(command)")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(root)/ghost.lock"))
        // A container whose process is gone: delete --force cleans its state and cgroups.
        let pid = try JSONSerialization.jsonObject(with: Data(try cli(["state", id]).stdout.utf8))
        let containerPid = Int32((pid as? [String: Any])?["pid"] as? Int ?? 0)
        #expect(containerPid > 0)
        kill(containerPid, SIGKILL)
        for _ in 0..<300 where try status(id) != "stopped" { usleep(10_000) }
        #expect(try cli(["delete", "--force", id]).status == 0)
        expectNoCgroup(id)
        #expect(try cli(["list", "-q"]).stdout.isEmpty)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).isEmpty)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: RuntimeCLITests.binary), "boxbench-runtime not built"))
    func hooksRunInOrderInTheirNamespacesWithStateOnStdin() throws {
        let logDir = try makeTempDir("hooks")
        defer { try? FileManager.default.removeItem(atPath: logDir) }
        // Each hook logs its stdin (the state), its mount and UTS namespaces and the hostname it sees.
        // startContainer runs inside the rootfs (after pivot_root), so it logs through a bind mount at /hooklog.
        func hook(_ name: String, dir: String? = nil, first: String = "") -> RuntimeSpec.Hook {
            let d = dir ?? logDir
            let script =
                first + "cat > \(d)/\(name).json; /bin/busybox readlink /proc/self/ns/mnt > \(d)/\(name).ns; "
                + "/bin/busybox readlink /proc/self/ns/uts >> \(d)/\(name).ns; "
                + "cat /proc/sys/kernel/hostname >> \(d)/\(name).ns; echo \(name) >> \(d)/order"
            return .init(path: "/bin/sh", args: ["sh", "-c", script], env: ["PATH=/usr/bin:/bin"], timeout: 10)
        }
        let hooks = RuntimeSpec.Hooks(
            prestart: [hook("prestart")], createRuntime: [hook("createRuntime")],
            createContainer: [hook("createContainer")],
            // A slow startContainer hook: `start` must still run poststart only after it (and after the exec).
            startContainer: [hook("startContainer", dir: "/hooklog", first: "sleep 0.3; ")],
            poststart: [hook("poststart")],
            poststop: [hook("poststop")])
        let fs = try BusyboxRootfs()
        var spec = RuntimeSpec.defaultSpec(args: ["true"], rootPath: "rootfs", hostname: "hooked")
        spec.hooks = hooks
        spec.mounts =
            (spec.mounts ?? []) + [
                RuntimeSpec.Mount(destination: "/hooklog", type: "bind", source: logDir, options: ["rbind", "rw"])
            ]
        try spec.jsonData().write(to: URL(fileURLWithPath: fs.dir + "/config.json"))
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(try cli(["create", "--bundle", fs.dir, "hk1"]).status == 0)
        let pid = try JSONSerialization.jsonObject(with: Data(try cli(["state", "hk1"]).stdout.utf8))
        let containerPid = (pid as? [String: Any])?["pid"] as? Int ?? -1
        #expect(try cli(["start", "hk1"]).status == 0)
        for _ in 0..<200 where try status("hk1") != "stopped" { usleep(10_000) }
        #expect(try cli(["delete", "hk1"]).status == 0)
        let order = (try? String(contentsOfFile: logDir + "/order", encoding: .utf8)) ?? ""
        #expect(order == "prestart\ncreateRuntime\ncreateContainer\nstartContainer\npoststart\npoststop\n")

        func state(_ name: String) -> [String: Any]? {
            (try? Data(contentsOf: URL(fileURLWithPath: "\(logDir)/\(name).json")))
                .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        }
        func namespaces(_ name: String) -> [String] {
            ((try? String(contentsOfFile: "\(logDir)/\(name).ns", encoding: .utf8)) ?? "")
                .split(separator: "\n").map(String.init)
        }
        for name in ["prestart", "createRuntime", "createContainer", "startContainer"] {
            #expect(state(name)?["id"] as? String == "hk1", "\(name) state")
            #expect(state(name)?["pid"] as? Int == containerPid, "\(name) sees the container's host pid")
        }
        #expect(state("prestart")?["status"] as? String == "creating")
        #expect(state("createContainer")?["status"] as? String == "creating")
        #expect(state("startContainer")?["status"] as? String == "created")
        // Runtime-namespace hooks share the runtime's namespaces; createContainer and startContainer the container's.
        let host = [
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/mnt")) ?? "?",
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/uts")) ?? "?",
        ]
        #expect(Array(namespaces("prestart").prefix(2)) == host)
        #expect(Array(namespaces("createRuntime").prefix(2)) == host)
        let inside = namespaces("createContainer")
        #expect(inside.count == 3 && inside[0] != host[0] && inside[1] != host[1] && inside[2] == "hooked")
        #expect(namespaces("startContainer") == inside)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: RuntimeCLITests.binary), "boxbench-runtime not built"))
    func failingCreateContainerHookFailsCreateAndLeavesNothing() throws {
        let hooks = RuntimeSpec.Hooks(
            prestart: nil, createRuntime: nil,
            createContainer: [.init(path: "/bin/sh", args: ["sh", "-c", "exit 3"], env: nil, timeout: 10)],
            startContainer: nil, poststart: nil, poststop: nil)
        let fs = try bundle(["true"], hooks: hooks)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let r = try cli(["create", "--bundle", fs.dir, "hkfail"])
        #expect(
            r.status == 1 && r.stderr.contains("createContainer hook") && r.stderr.contains("exited with status 3"),
            "\(r.stderr)")
        #expect(try cli(["state", "hkfail"]).status == 1)
        expectNoCgroup("hkfail")
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: RuntimeCLITests.binary), "boxbench-runtime not built"))
    func concurrentContainersAndListing() throws {
        let fs = try bundle(["sleep", "100"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let ids = ["cc1", "cc2", "cc3"]
        for id in ids { #expect(try cli(["create", "--bundle", fs.dir, id]).status == 0) }
        let list = try cli(["list", "-q"])
        #expect(list.stdout.split(separator: "\n").map(String.init) == ids)
        for id in ids { #expect(try cli(["delete", "--force", id]).status == 0) }
        #expect(try cli(["list", "-q"]).stdout.isEmpty)
        ids.forEach(expectNoCgroup)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: RuntimeCLITests.binary), "boxbench-runtime not built"))
    func staleStateAfterKill9IsCleanedByDeleteForce() throws {
        let fs = try bundle(["sleep", "100"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(try cli(["create", "--bundle", fs.dir, "st1"]).status == 0)
        #expect(try cli(["start", "st1"]).status == 0)
        // Simulate a runtime killed mid-create: a state dir without state.json, plus a running container's cgroup.
        let state =
            try JSONSerialization.jsonObject(with: Data(try cli(["state", "st1"]).stdout.utf8)) as? [String: Any]
        let pid = Int32(state?["pid"] as? Int ?? 0)
        try FileManager.default.removeItem(atPath: "\(root)/st1/state.json")
        #expect(try cli(["delete", "--force", "st1"]).status == 0)
        #expect(kill(pid, 0) != 0 || (try? ProcStat.parse(try readTextFile("/proc/\(pid)/stat")))?.state == "Z")
        #expect(!FileManager.default.fileExists(atPath: "\(root)/st1"))
        expectNoCgroup("st1")
    }

    /// A failing runtime-namespace hook (prestart) fails create while the child waits before pivot_root: the child
    /// is killed and its cgroup and state go.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: RuntimeCLITests.binary), "boxbench-runtime not built"))
    func failingPrestartHookFailsCreateAndLeavesNothing() throws {
        let hooks = RuntimeSpec.Hooks(
            prestart: [.init(path: "/bin/sh", args: ["sh", "-c", "exit 4"], env: nil, timeout: 10)],
            createRuntime: nil, createContainer: nil, startContainer: nil, poststart: nil, poststop: nil)
        let fs = try bundle(["true"], hooks: hooks)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let r = try cli(["create", "--bundle", fs.dir, "hkpre"])
        #expect(r.status == 1 && r.stderr.contains("prestart hook"), "\(r.stderr)")
        #expect(try cli(["state", "hkpre"]).status == 1)
        #expect(!FileManager.default.fileExists(atPath: "\(root)/hkpre"))
        expectNoCgroup("hkpre")
    }

    /// A process that cannot exec once started: `start` says so instead of reporting success.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: RuntimeCLITests.binary), "boxbench-runtime not built"))
    func startReportsAnExecFailureAfterTheHooks() throws {
        let fs = try bundle(["/no/such/program"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(try cli(["create", "--bundle", fs.dir, "nx1"]).status == 0)
        let r = try cli(["start", "nx1"])
        #expect(r.status == 1 && r.stderr.contains("failed to exec"), "\(r.stderr)")
        #expect(try cli(["delete", "--force", "nx1"]).status == 0)
        expectNoCgroup("nx1")
    }

    func expectNoCgroup(_ id: String) {
        for h in CgroupLayout.detect().hierarchies {
            #expect(!FileManager.default.fileExists(atPath: "\(h.mountPoint)/boxbench/\(id)"), "cgroup left for \(id)")
        }
    }
}
