import CShim
import Foundation
import Probes
import Synchronization
import Testing

@testable import Containers

/// The spec → child marshalling as a value, and the runtime's cgroup handling through an injected manager: no
/// root, no clone.
@Suite struct ChildPlanTests {
    static let spec = """
        {"ociVersion":"1.0.2","hostname":"box",
         "process":{"user":{"uid":1000,"gid":1001,"additionalGids":[5,6],"umask":18},"args":["sh","-c","echo hi"],
           "env":["PATH=/bin","A=1","PATH=/usr/bin:/bin"],"cwd":"/work","noNewPrivileges":true,"oomScoreAdj":100,
           "capabilities":{"bounding":["CAP_CHOWN","CAP_KILL"],"effective":["CAP_KILL"]},
           "rlimits":[{"type":"RLIMIT_NOFILE","soft":1024,"hard":2048}]},
         "root":{"path":"rootfs","readonly":true},
         "mounts":[{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","mode=755"]}],
         "linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"network","path":"/proc/self/ns/net"},
           {"type":"uts"},{"type":"ipc"}],
           "uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],
           "sysctl":{"net.ipv4.ip_forward":"0","kernel.shmmax":"1"},
           "maskedPaths":["/proc/kcore"],"readonlyPaths":["/proc/sys"]}}
        """

    func plan(_ json: String = spec) throws -> ChildPlan {
        let spec = try RuntimeSpec.parse(Data(json.utf8), file: "config.json")
        return ChildPlan(
            spec: spec, process: spec.process!, rootfs: "/b/rootfs", readonly: spec.root?.readonly == true,
            overlay: ("/l2:/l1", "/s/upper", "/s/work"),
            mounts: [
                ChildPlan.Mount(
                    source: "tmpfs", target: "/dev", fstype: "tmpfs", flags: 2, data: "mode=755", propagation: 0,
                    isFile: false)
            ])
    }

    @Test func aNetworkNamespaceGivenByPathIsJoinedNotCreated() throws {
        let p = try plan()
        #expect(p.joinNetwork == "/proc/self/ns/net")
        #expect(
            p.namespaces == NamespaceKind.pid.cloneFlag | NamespaceKind.mount.cloneFlag | NamespaceKind.uts.cloneFlag
                | NamespaceKind.ipc.cloneFlag)
        #expect(p.namespaces & NamespaceKind.network.cloneFlag == 0)
    }

    @Test func processFieldsAndDefaults() throws {
        let p = try plan()
        #expect(p.args == ["sh", "-c", "echo hi"])
        // The last PATH wins, as execvp would see it.
        #expect(p.pathEnv == "/usr/bin:/bin")
        #expect((p.uid, p.gid, p.additionalGids, p.umask) == (1000, 1001, [5, 6], 18))
        #expect(p.oomScoreAdj == 100 && p.noNewPrivileges && p.rootfsReadonly)
        #expect(p.capBounding == Capability.mask(["CAP_CHOWN", "CAP_KILL"]))
        #expect(p.capEffective == Capability.mask(["CAP_KILL"]) && p.capAmbient == 0)
        #expect(p.rlimits == [ChildPlan.Rlimit(resource: Int32(RLIMIT_NOFILE.rawValue), soft: 1024, hard: 2048)])
        #expect(p.sysctls == ["kernel.shmmax=1", "net.ipv4.ip_forward=0"])
        #expect(p.uidMap == "0 100000 65536\n" && p.gidMap == nil)
        #expect(p.createDefaultDevices && p.hostname == "box")
        let bare = try plan(
            #"{"ociVersion":"1.0.2","process":{"user":{"uid":0,"gid":0},"args":["/bin/true"],"cwd":"/"},"root":{"path":"r"}}"#
        )
        #expect(bare.umask == -1 && bare.oomScoreAdj == Int32.min && bare.namespaces == 0 && bare.joinNetwork == nil)
        #expect(!bare.createDefaultDevices && bare.pathEnv == nil)
    }

    /// What C receives: every string, array and count from the plan, NULL-terminated arrays.
    @Test func theConfigCarriesThePlan() throws {
        let p = try plan()
        p.withConfig { c, _ in
            func strings(_ array: UnsafePointer<UnsafeMutablePointer<CChar>?>?, _ count: Int) -> [String] {
                (0..<count).map { String(cString: array![$0]!) }
            }
            #expect(strings(c.argv, 3) == p.args)
            #expect(c.argv[3] == nil)
            #expect(strings(c.envp, 3) == p.env)
            #expect(String(cString: c.path_env) == "/usr/bin:/bin")
            #expect(String(cString: c.cwd) == "/work" && String(cString: c.rootfs) == "/b/rootfs")
            #expect(String(cString: c.overlay_lowerdirs) == "/l2:/l1")
            #expect(c.n_additional_gids == 2 && c.additional_gids[1] == 6)
            #expect(c.namespaces == p.namespaces && c.rootfs_readonly == 1 && c.no_new_privileges == 1)
            #expect(strings(c.masked_paths, c.n_masked_paths) == ["/proc/kcore"])
            #expect(strings(c.readonly_paths, c.n_readonly_paths) == ["/proc/sys"])
            #expect(strings(c.sysctls, c.n_sysctls) == p.sysctls)
            #expect(c.n_mounts == 1 && String(cString: c.mounts[0].target) == "/dev")
            #expect(String(cString: c.mounts[0].data) == "mode=755" && c.mounts[0].is_file == 0)
            #expect(c.n_rlimits == 1 && c.rlimits[0].soft == 1024 && c.rlimits[0].hard == 2048)
            #expect(c.cap_bounding == p.capBounding && c.oom_score_adj == 100 && c.umask == 18)
            #expect(String(cString: c.uid_map) == "0 100000 65536\n" && c.gid_map == nil)
            #expect(String(cString: c.hostname) == "box" && c.domainname == nil)
        }
    }
}

/// A cgroup manager that touches nothing: records what the runtime asks of it; `busy` and `applyFailure` script
/// the two refusals the runtime must handle.
final class FakeCgroupManager: CgroupManager {
    let name: String
    let directories: [String]
    let applyFailure: CgroupError?
    let calls = Mutex<[String]>([])
    var procsPaths: [String] { directories.map { $0 + "/cgroup.procs" } }
    var join: CgroupJoin { CgroupJoin(selfJoin: [], cloneInto: nil) }

    init(name: String, directory: String, applyFailure: CgroupError? = nil) {
        self.name = name
        self.directories = [directory]
        self.applyFailure = applyFailure
    }

    func record(_ call: String) { calls.withLock { $0.append(call) } }
    func create() throws(CgroupError) { record("create") }
    func apply(_ limits: CgroupLimits) throws(CgroupError) {
        record("apply")
        if let applyFailure { throw applyFailure }
    }
    func stats() -> CgroupStats { CgroupStats(memory: nil, cpu: nil, pids: nil) }
    func killAll() { record("killAll") }
    func remove() throws(CgroupError) { record("remove") }
    func applyDevices(_ rules: [DeviceCgroupRule]) throws(CgroupError) { record("applyDevices") }
    func resetMemoryPeak() -> Bool { false }
}

@Suite struct RuntimeCgroupHandlingTests {
    /// A bundle (rootfs + spec) and a state root in a fresh directory.
    func scratch() throws -> (dir: String, request: ContainerRequest) {
        let dir =
            FileManager.default.temporaryDirectory.path + "/bb-fakecg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir + "/bundle/rootfs", withIntermediateDirectories: true)
        let spec = try RuntimeSpec.parse(
            Data(
                #"{"ociVersion":"1.0.2","process":{"user":{"uid":0,"gid":0},"args":["/bin/true"],"cwd":"/"},"root":{"path":"rootfs"},"linux":{"cgroupsPath":"fake/c1"}}"#
                    .utf8), file: "config.json")
        return (dir, ContainerRequest(id: "c1", bundle: dir + "/bundle", spec: spec))
    }

    @Test func aBusyGroupIsRefusedBeforeAnythingIsCreated() throws {
        let (dir, request) = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Someone else's process in the group: its cgroup.procs lists a pid.
        try FileManager.default.createDirectory(atPath: dir + "/cg", withIntermediateDirectories: true)
        try "4242\n".write(toFile: dir + "/cg/cgroup.procs", atomically: true, encoding: .utf8)
        let fake = FakeCgroupManager(name: "fake/c1", directory: dir + "/cg")
        let names = Mutex<[String]>([])
        let runtime = ContainerRuntime(stateRoot: dir + "/state", layout: CgroupLayout.detect()) { name, _ in
            names.withLock { $0.append(name) }
            return fake
        }
        do throws(ContainerError) {
            _ = try runtime.create(request, waitForStart: false)
            Issue.record("a busy cgroupsPath was adopted")
        } catch {
            #expect(error.errno == EBUSY, "\(error)")
            #expect(error.description.contains("already has processes"), "\(error)")
        }
        #expect(names.withLock { $0 } == ["fake/c1"])
        // Refused before create: nothing to remove, no member killed (they are someone else's).
        #expect(fake.calls.withLock { $0 }.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: dir + "/state/c1"))
    }

    @Test func aLimitTheHostCannotApplyIsNotSupportedAndTheGroupIsRemoved() throws {
        let (dir, request) = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/cg", withIntermediateDirectories: true)
        let fake = FakeCgroupManager(
            name: "fake/c1", directory: dir + "/cg",
            applyFailure: CgroupError.unsupported("linux.resources.hugepageLimits", "no hugetlb controller"))
        let runtime = ContainerRuntime(stateRoot: dir + "/state", layout: CgroupLayout.detect()) { _, _ in fake }
        do throws(ContainerError) {
            _ = try runtime.create(request, waitForStart: false)
            Issue.record("an unsupported limit was ignored")
        } catch {
            #expect(error.errno == ENOTSUP, "\(error)")
            #expect(error.description.contains("hugepageLimits"), "\(error)")
        }
        #expect(fake.calls.withLock { $0 } == ["create", "apply", "killAll", "remove"])
        #expect(!FileManager.default.fileExists(atPath: dir + "/state/c1"))
    }
}
