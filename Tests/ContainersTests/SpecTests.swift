import Foundation
import Testing

@testable import Containers

@Suite struct SpecParsingTests {
    func parse(_ json: String) throws(SpecError) -> RuntimeSpec {
        try RuntimeSpec.parse(Data(json.utf8), file: "/b/config.json")
    }

    static let minimal = """
        {"ociVersion":"1.0.2","process":{"user":{"uid":0,"gid":0},"args":["/bin/true"],"cwd":"/"},
         "root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"pid"},{"type":"mount"}]}}
        """

    @Test func minimalSpecParses() throws {
        let spec = try parse(Self.minimal)
        #expect(spec.process?.args == ["/bin/true"])
        #expect(spec.linux?.namespaces?.map(\.type) == ["pid", "mount"])
    }

    @Test func defaultSpecRoundTrips() throws {
        let data = RuntimeSpec.defaultSpec(args: ["/bin/true"]).jsonData()
        let spec = try RuntimeSpec.parse(data, file: "config.json")
        #expect(spec == RuntimeSpec.defaultSpec(args: ["/bin/true"]))
        #expect(Set(spec.linux?.namespaces?.map(\.type) ?? []) == ["pid", "network", "mount", "ipc", "uts", "cgroup"])
    }

    @Test(arguments: [
        (
            #"{"ociVersion":"1","process":{"user":{"uid":0,"gid":0},"args":["x"],"cwd":"/"},"root":{"path":"r"},"linux":{"intelRdt":{}}}"#,
            "linux.intelRdt"
        ),
        (
            #"{"ociVersion":"1","process":{"user":{"uid":0,"gid":0},"args":["x"],"cwd":"/","ioPriority":{}},"root":{"path":"r"}}"#,
            "process.ioPriority"
        ),
        (
            #"{"ociVersion":"1","process":{"user":{"uid":0,"gid":0},"args":["x"],"cwd":"/"},"root":{"path":"r"},"mounts":[{"destination":"/a"},{"destination":"/b","uidMappings":[]}]}"#,
            "mounts[1].uidMappings"
        ),
        (
            #"{"ociVersion":"1","process":{"user":{"uid":0,"gid":0},"args":["x"],"cwd":"/"},"root":{"path":"r"},"linux":{"resources":{"blockIO":{}}}}"#,
            "linux.resources.blockIO"
        ),
    ])
    func unknownFieldsAreNamed(json: String, field: String) {
        do {
            _ = try parse(json)
            Issue.record("expected an error for \(field)")
        } catch {
            #expect(error.field == field)
            #expect(error.description.contains("/b/config.json"))
        }
    }

    @Test(arguments: [
        (
            #"{"ociVersion":"1","process":{"user":{"uid":0,"gid":0},"args":[],"cwd":"/"},"root":{"path":"r"}}"#,
            "process.args"
        ),
        (
            #"{"ociVersion":"1","process":{"user":{"uid":0,"gid":0},"args":["x"],"cwd":"rel"},"root":{"path":"r"}}"#,
            "process.cwd"
        ),
        (
            #"{"ociVersion":"1","process":{"user":{"uid":0},"args":["x"],"cwd":"/"},"root":{"path":"r"}}"#,
            "process.user.gid"
        ),
        (
            #"{"ociVersion":"1","process":{"user":{"uid":"zero","gid":0},"args":["x"],"cwd":"/"},"root":{"path":"r"}}"#,
            "process.user.uid"
        ),
        (
            #"{"ociVersion":"1","process":{"user":{"uid":0,"gid":0},"args":["x"],"cwd":"/","capabilities":{"bounding":["CAP_FLY"]}},"root":{"path":"r"}}"#,
            "process.capabilities.bounding"
        ),
        (
            #"{"ociVersion":"1","process":{"user":{"uid":0,"gid":0},"args":["x"],"cwd":"/"},"root":{"path":"r"},"linux":{"namespaces":[{"type":"time"}]}}"#,
            "linux.namespaces[0].type"
        ),
        (
            #"{"ociVersion":"1","process":{"user":{"uid":0,"gid":0},"args":["x"],"cwd":"/"},"root":{"path":"r"},"linux":{"namespaces":[{"type":"net","path":"/proc/1/ns/net"}]}}"#,
            "linux.namespaces[0].type"
        ),
        (
            #"{"ociVersion":"1","process":{"user":{"uid":0,"gid":0},"args":["x"],"cwd":"/"},"root":{"path":"r"},"linux":{"namespaces":[{"type":"network","path":"/proc/1/ns/net"}]}}"#,
            "linux.namespaces[0].path"
        ),
        (
            #"{"ociVersion":"1","process":{"user":{"uid":0,"gid":0},"args":["x"],"cwd":"/"},"root":{"path":"r"},"linux":{"seccomp":{"defaultAction":"SCMP_ACT_MAYBE"}}}"#,
            "linux.seccomp.defaultAction"
        ),
        (
            #"{"ociVersion":"1","process":{"user":{"uid":0,"gid":0},"args":["x"],"cwd":"/"},"root":{"path":"r"},"mounts":[{"destination":"/x","options":["frobnicate"]}]}"#,
            "mounts[0].options"
        ),
        (
            #"{"ociVersion":"1","process":{"user":{"uid":0,"gid":0},"args":["x"],"cwd":"/"},"root":{"path":"r"},"mounts":[{"destination":"/../etc"}]}"#,
            "mounts[0].destination"
        ),
        (
            #"{"ociVersion":"1","process":{"user":{"uid":0,"gid":0},"args":["x"],"cwd":"/"},"root":{"path":"r"},"linux":{"namespaces":[{"type":"user"}]}}"#,
            "linux.uidMappings"
        ),
    ])
    func badValuesAreNamed(json: String, field: String) {
        do {
            _ = try parse(json)
            Issue.record("expected an error for \(field)")
        } catch {
            #expect(error.field == field, "\(error)")
        }
    }

    @Test func notJSON() {
        #expect(throws: SpecError.self) { try parse("{not json") }
    }
}

@Suite struct SpecTableTests {
    @Test func capabilityMasks() {
        #expect(Capability.bit("CAP_CHOWN") == 0)
        #expect(Capability.bit("SYS_ADMIN") == 21)
        #expect(Capability.mask(Capability.defaultSet) == (1 << 5) | (1 << 10) | (1 << 29))
        #expect(Capability.names(in: Capability.mask(["CAP_KILL"])) == ["CAP_KILL"])
    }

    @Test func mountOptions() {
        let o = MountOptions(["nosuid", "noexec", "ro", "mode=755", "size=65536k", "rprivate"])
        #expect(o.flags == UInt(MS_NOSUID | MS_NOEXEC | MS_RDONLY))
        #expect(o.data == "mode=755,size=65536k")
        #expect(o.propagation == Int32(MS_PRIVATE | MS_REC))
        #expect(MountOptions(["rbind", "rw"]).flags == UInt(MS_BIND | MS_REC))
    }

    @Test func cpuSharesToWeight() {
        #expect(CgroupV2Manager.weight(fromShares: 2) == 1)
        #expect(CgroupV2Manager.weight(fromShares: 1024) == 39)
        #expect(CgroupV2Manager.weight(fromShares: 262_144) == 10000)
    }

    @Test func defaultSeccompProfileCompiles() throws {
        let profile = SeccompProfile.dockerDefaultAllowList()
        let filter = try SeccompProfile.compile(profile)
        // Classic BPF instructions are 8 bytes; an allow-list of ~300 syscalls has hundreds.
        #expect(filter.bytes.count % 8 == 0)
        #expect(filter.bytes.count > 8 * 200)
        #expect(profile.defaultAction == "SCMP_ACT_ERRNO")
        let allowed = Set((profile.syscalls ?? []).filter { $0.action == "SCMP_ACT_ALLOW" }.flatMap(\.names))
        for denied in ["io_uring_setup", "io_uring_enter", "io_uring_register", "mount", "unshare", "setns", "bpf"] {
            #expect(!allowed.contains(denied), "\(denied)")
        }
        // The figures docs/SECCOMP.md states: 303 names allowed outright, 306 with the argument-checked ones.
        #expect(SeccompProfile.dockerDefaultAllowed.count == 303)
        #expect(SeccompProfile.defaultProfileAllowedCount == 306)
    }

    @Test func seccompArchitecturesAreHonoured() throws {
        var profile = SeccompProfile.dockerDefaultAllowList()
        profile.architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]
        let both = try SeccompProfile.compile(profile)
        profile.architectures = ["SCMP_ARCH_X86_64"]
        let native = try SeccompProfile.compile(profile)
        #expect(both.bytes.count > native.bytes.count)
        profile.architectures = ["SCMP_ARCH_NOSUCH"]
        #expect(throws: SeccompError.self) { try SeccompProfile.compile(profile) }
    }

    @Test func weakeningSpecsAreRefused() throws {
        let dir = try makeTempDir("weak")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func refusal(_ edit: (inout RuntimeSpec) -> Void) throws -> String? {
            var spec = RuntimeSpec.defaultSpec()
            edit(&spec)
            try spec.jsonData().write(to: URL(fileURLWithPath: dir + "/config.json"))
            do {
                _ = try RuntimeSpec.load(bundle: dir)
                return nil
            } catch { return error.description }
        }
        #expect(try refusal { _ in } == nil)
        // Masked paths without a mount namespace would mask nothing of the container's.
        let noMountNS = try refusal { $0.linux?.namespaces?.removeAll { $0.type == "mount" } }
        #expect(noMountNS?.contains("linux.maskedPaths") == true, "\(noMountNS ?? "accepted")")
        let arch = try refusal { $0.linux?.seccomp?.architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_PDP11"] }
        #expect(arch?.contains("linux.seccomp.architectures[1]") == true, "\(arch ?? "accepted")")
        let device = try refusal {
            $0.linux?.resources?.devices = [.init(allow: true, type: "x", major: 1, minor: 3, access: "rwm")]
        }
        #expect(device?.contains("linux.resources.devices[0].type") == true, "\(device ?? "accepted")")
    }

    @Test func deviceRulesFollowRuncsOrder() {
        let rules = DeviceRules.forContainer(
            RuntimeSpec.Resources(
                memory: nil, cpu: nil, pids: nil,
                devices: [.init(allow: false, type: nil, major: nil, minor: nil, access: "rwm")]))
        #expect(rules.first == DeviceRules.denyAll)
        #expect(Array(rules.suffix(DeviceRules.standard.count)) == DeviceRules.standard)
        #expect(rules.map(\.v1Line).contains("c 136:* rwm"))
    }

    @Test func cgroupNamesStayInsideTheHierarchy() {
        var spec = RuntimeSpec.defaultSpec()
        spec.linux?.cgroupsPath = "/../../etc"
        #expect(ContainerRuntime.cgroupName(spec: spec, id: "c1") == "boxbench/c1")
        spec.linux?.cgroupsPath = "/mine/c2"
        #expect(ContainerRuntime.cgroupName(spec: spec, id: "c1") == "mine/c2")
    }

    @Test func ids() {
        #expect(ContainerRuntime.isValidID("abc-1.2_x"))
        #expect(!ContainerRuntime.isValidID("../x"))
        #expect(!ContainerRuntime.isValidID(""))
        #expect(!ContainerRuntime.isValidID(String(repeating: "a", count: 65)))
    }
}

/// config.json and state.json are read by hand (SpecJSON): the same values and the same field-naming errors.
@Suite struct HandDecodingTests {
    @Test func theDefaultSpecDecodesToWhatWasWritten() throws {
        var spec = RuntimeSpec.defaultSpec(args: ["/bin/sh", "-c", "echo \"quoted\" \\ back\tslash"])
        spec.annotations = ["org.example/key": "välue \u{1}"]
        spec.linux?.sysctl = ["net.ipv4.ip_forward": "1"]
        spec.process?.rlimits = [RuntimeSpec.Rlimit(type: "RLIMIT_NOFILE", hard: UInt64.max, soft: 1024)]
        let decoded = try SpecJSON.withRoot(Array(spec.jsonData()), file: "c.json") { root throws(SpecError) in
            try RuntimeSpec.decode(root)
        }
        #expect(decoded == spec)
    }

    @Test(arguments: [
        (#"{"ociVersion":"1","process":{"user":{"uid":-1,"gid":0},"args":["x"],"cwd":"/"}}"#, "process.user.uid"),
        (#"{"ociVersion":"1","process":{"user":{"uid":0,"gid":1.5},"args":["x"],"cwd":"/"}}"#, "process.user.gid"),
        (#"{"ociVersion":"1","process":{"user":{"uid":0,"gid":0},"args":["x",3],"cwd":"/"}}"#, "process.args[1]"),
        (#"{"ociVersion":"1","mounts":[{"destination":"/a"},{"type":"tmpfs"}]}"#, "mounts[1].destination"),
        (
            #"{"ociVersion":"1","linux":{"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":5}]}]}}}"#,
            "linux.seccomp.syscalls[0].args[0].op"
        ),
        (#"{"ociVersion":null}"#, "ociVersion"),
        (#"{"ociVersion":"1","annotations":{"a":1}}"#, "annotations.a"),
    ])
    func typeErrorsNameTheField(json: String, field: String) {
        do {
            _ = try RuntimeSpec.parse(Data(json.utf8), file: "/b/config.json")
            Issue.record("expected an error for \(field)")
        } catch {
            #expect(error.field == field, "\(error)")
        }
    }

    @Test func stateRoundTripsWithHooks() throws {
        let state = OCIState(
            ociVersion: "1.0.2", id: "c1", status: "created", pid: 42, bundle: "/b \"x\"", annotations: ["a": "b"],
            created: utcTimestamp(), cgroup: "boxbench/c1", startTimeTicks: 12345,
            poststart: [RuntimeSpec.Hook(path: "/bin/true", args: ["true", "a\nb"], env: nil, timeout: 3)],
            poststop: nil)
        let back = try OCIState.decode(state: state.stateJSON(), file: "state.json")
        #expect(back == state)
        // What `state` prints parses as JSON with the runtime-spec's fields.
        let printed = try JSONSerialization.jsonObject(with: state.ociJSON()) as? [String: Any]
        #expect(printed?["pid"] as? Int == 42)
        #expect(printed?["bundle"] as? String == "/b \"x\"")
        #expect(printed?["created"] == nil)
    }

    @Test func timestampsAreISO8601UTC() {
        let t = utcTimestamp()
        #expect(t.count == 20 && t.hasSuffix("Z") && t.dropFirst(10).hasPrefix("T"), "\(t)")
    }

    @Test func absolutePathsAreLexicallyNormal() {
        #expect(absolutePath("/a/./b//c/../d/") == "/a/b/d")
        #expect(absolutePath("/..") == "/")
        #expect(absolutePath("rel").hasSuffix("/rel") && absolutePath("rel").hasPrefix("/"))
    }
}

/// The JSON tape (yajl's event parser, CSpecJSON) under the spec reader: what JSONDecoder and simdjson did before.
@Suite struct SpecTapeTests {
    func read<T>(_ json: String, _ body: (SpecNode) throws(SpecError) -> T) throws(SpecError) -> T {
        try SpecJSON.withRoot(Array(json.utf8), file: "t.json", body)
    }

    func refusal(_ json: String) -> String? {
        do {
            _ = try read(json) { _ throws(SpecError) in 0 }
            return nil
        } catch { return error.reason }
    }

    @Test func integersKeepTheirFullRange() throws {
        // Values borrow from the parsed document: every check runs inside the body.
        let json = #"[18446744073709551615, -9223372036854775808, 9223372036854775807, 3.0, 1e2, 1.5, 1e999]"#
        try read(json) { root throws(SpecError) in
            let values = try root.array()
            #expect(try values[0].integer(UInt64.self) == UInt64.max)
            #expect(try values[1].integer(Int64.self) == Int64.min)
            #expect(try values[2].integer(Int64.self) == Int64.max)
            #expect(try values[3].integer(Int.self) == 3)
            #expect(try values[4].integer(Int.self) == 100)
            #expect(throws: SpecError.self) { try values[0].integer(Int64.self) }
            #expect(throws: SpecError.self) { try values[5].integer(Int.self) }
            #expect(throws: SpecError.self) { try values[6].integer(UInt64.self) }
        }
        let tooBig = #expect(throws: SpecError.self) {
            try read("[18446744073709551616]") { r throws(SpecError) in try r.array()[0].integer(UInt64.self) }
        }
        #expect(tooBig?.field == "[0]", "\(String(describing: tooBig))")
        #expect(throws: SpecError.self) {
            try read("[-1]") { r throws(SpecError) in try r.array()[0].integer(UInt32.self) }
        }
    }

    @Test func stringsKeepEscapesAndNULBytes() throws {
        let text = try read(#"{"a":"x\u0000y\n\"\u00e9\ud83d\ude00"}"#) { root throws(SpecError) in
            try root.object().required("a").string()
        }
        #expect(Array(text.utf8) == [0x78, 0, 0x79, 0x0A, 0x22] + Array("é😀".utf8))
    }

    @Test func aRepeatedKeyCountsLastAndFieldsKeepFileOrder() throws {
        let (value, keys) = try read(#"{"b":1,"a":2,"b":3}"#) { root throws(SpecError) in
            let object = try root.object()
            return (try object.integer("b", Int.self), object.fields.map(\.key))
        }
        #expect(value == 3)
        #expect(keys == ["b", "a", "b"])
    }

    @Test func emptyContainersAndNestedPathsName() throws {
        let path = try read(#"{"a":[],"b":{},"c":[[1,{"d":true}]]}"#) { root throws(SpecError) in
            let object = try root.object()
            #expect(try object.required("a").array().isEmpty)
            #expect(try object.required("b").object().fields.isEmpty)
            let d = try object.required("c").array()[0].array()[1].object().required("d")
            #expect(try d.bool())
            return d.path
        }
        #expect(path == "c[0][1].d")
    }

    @Test(arguments: ["", "  ", "{} {}", "[1,]", "{\"a\":1} // c", "/* c */ {}", "[\"\\x\"]", "{\"a\":", "nul", "[01]"])
    func malformedTextIsRefused(json: String) {
        let reason = refusal(json)
        #expect(reason?.hasPrefix("not valid JSON") == true, "\(json.debugDescription): \(reason ?? "accepted")")
    }

    @Test func invalidUTF8IsRefused() {
        let bytes: [UInt8] = Array(#"{"a":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(throws: SpecError.self) { try SpecJSON.withRoot(bytes, file: "t.json") { _ throws(SpecError) in 0 } }
    }

    @Test func nestingIsBoundedAndReported() throws {
        let limit = 1024
        let deepest = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
        #expect(refusal(deepest) == nil)
        let deeper = String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)
        #expect(refusal(deeper)?.contains("nested too deep") == true, "\(refusal(deeper) ?? "accepted")")
        // A million levels: refused early, no stack or memory exhaustion.
        #expect(refusal(String(repeating: "[", count: 1_000_000))?.contains("nested too deep") == true)
    }
}

/// The compiled-seccomp store: a program comes back only for the exact text it was compiled from.
@Suite struct SeccompFilterStoreTests {
    @Test func anEntryComesBackOnlyForItsOwnProfile() throws {
        var template = Array("/tmp/boxbench-store-XXXXXX".utf8CString)
        let dir = String(cString: mkdtemp(&template)!)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = SeccompFilterStore(directory: dir + "/seccomp")
        let profile = SeccompProfile.dockerDefaultAllowList()
        let key = SeccompFilterStore.key(profile)
        #expect(store.load(key: key) == nil)
        let filter = try SeccompProfile.compile(profile)
        store.save(key: key, filter: filter)
        #expect(store.load(key: key)?.bytes == filter.bytes)
        var other = profile
        other.defaultErrnoRet = 38
        let otherKey = SeccompFilterStore.key(other)
        #expect(otherKey != key)
        #expect(store.load(key: otherKey) == nil)
        // A torn entry (a crash mid-write: short, or its end zero-filled) is a miss, never a shorter program.
        let file = dir + "/seccomp/" + SeccompFilterStore.fileName(key)
        let whole = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        for torn in [Array(whole.dropLast(8)), Array(whole.dropLast(16)) + [UInt8](repeating: 0, count: 16)] {
            try Data(torn).write(to: URL(fileURLWithPath: file))
            #expect(store.load(key: key) == nil)
        }
        // The directory is private to its owner.
        var st = stat()
        #expect(stat(dir + "/seccomp", &st) == 0 && st.st_mode & 0o777 == 0o700)
    }

    @Test func theStoreKeepsItsNewestEntriesOnly() throws {
        var template = Array("/tmp/boxbench-store-XXXXXX".utf8CString)
        let dir = String(cString: mkdtemp(&template)!)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = SeccompFilterStore(directory: dir + "/seccomp", capacity: 3)
        var profile = SeccompProfile.dockerDefaultAllowList()
        let filter = try SeccompProfile.compile(profile)
        var keys: [[UInt8]] = []
        for errnoRet in UInt32(1)...5 {
            profile.defaultErrnoRet = errnoRet
            keys.append(SeccompFilterStore.key(profile))
            store.save(key: keys.last!, filter: filter)
            // Written a second apart (saves within one clock tick would share an mtime).
            let written = timespec(tv_sec: time(nil) - 100 + Int(errnoRet), tv_nsec: 0)
            var times = [written, written]
            let file = dir + "/seccomp/" + SeccompFilterStore.fileName(keys.last!)
            #expect(utimensat(AT_FDCWD, file, &times, 0) == 0)
        }
        // A crashed save's temporary file, two minutes old, and a fresh one (a save in progress).
        let stale = dir + "/seccomp/0000000000000000.bpf.1.tmp"
        let fresh = dir + "/seccomp/0000000000000000.bpf.2.tmp"
        for path in [stale, fresh] { #expect(FileManager.default.createFile(atPath: path, contents: Data([1]))) }
        var old = [timespec(tv_sec: time(nil) - 120, tv_nsec: 0), timespec(tv_sec: time(nil) - 120, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, stale, &old, 0) == 0)
        store.prune()
        #expect(keys.map { store.load(key: $0) != nil } == [false, false, true, true, true])
        let left = try FileManager.default.contentsOfDirectory(atPath: dir + "/seccomp")
        #expect(
            left.count == 4 && !left.contains { stale.hasSuffix($0) } && left.contains { fresh.hasSuffix($0) },
            "\(left)")
    }
}
