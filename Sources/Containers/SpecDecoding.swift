import CSpecJSON

/// config.json into `RuntimeSpec` field by field, refusing keys outside `SpecValidator.known` as it goes. Each type
/// reads an object whose keys `SpecObject.object`/`objects` have already checked.
extension RuntimeSpec {
    static func decode(_ root: SpecNode) throws(SpecError) -> RuntimeSpec {
        guard root.type == SJT_OBJECT else {
            throw SpecError(file: root.file, field: "", reason: "top level is not an object")
        }
        let o = try root.object(known: SpecValidator.known(""))
        return RuntimeSpec(
            ociVersion: try o.required("ociVersion").string(),
            process: try o.object("process", known: "process", Process.init),
            root: try o.object("root", known: "root") { r throws(SpecError) in
                Root(path: try r.required("path").string(), readonly: try r.bool("readonly"))
            },
            hostname: try o.string("hostname"),
            domainname: try o.string("domainname"),
            mounts: try o.objects("mounts", known: "mounts[]") { m throws(SpecError) in
                Mount(
                    destination: try m.required("destination").string(), type: try m.string("type"),
                    source: try m.string("source"), options: try m.strings("options"))
            },
            hooks: try o.object("hooks", known: "hooks", Hooks.init),
            annotations: try o["annotations"]?.stringMap(),
            linux: try o.object("linux", known: "linux", Linux.init))
    }
}

extension RuntimeSpec.Process {
    init(_ o: SpecObject) throws(SpecError) {
        let u = try o.required("user").object(known: SpecValidator.known("process.user"))
        let user = RuntimeSpec.User(
            uid: try u.required("uid").integer(UInt32.self), gid: try u.required("gid").integer(UInt32.self),
            umask: try u.integer("umask", UInt32.self), additionalGids: try u["additionalGids"]?.integers(UInt32.self))
        self.init(
            terminal: try o.bool("terminal"), user: user, args: try o.required("args").strings(),
            env: try o.strings("env"), cwd: try o.required("cwd").string(),
            capabilities: try o.object("capabilities", known: "process.capabilities") { c throws(SpecError) in
                RuntimeSpec.Capabilities(
                    bounding: try c.strings("bounding"), effective: try c.strings("effective"),
                    inheritable: try c.strings("inheritable"), permitted: try c.strings("permitted"),
                    ambient: try c.strings("ambient"))
            },
            rlimits: try o.objects("rlimits", known: "process.rlimits[]") { r throws(SpecError) in
                RuntimeSpec.Rlimit(
                    type: try r.required("type").string(), hard: try r.required("hard").integer(UInt64.self),
                    soft: try r.required("soft").integer(UInt64.self))
            },
            noNewPrivileges: try o.bool("noNewPrivileges"), oomScoreAdj: try o.integer("oomScoreAdj", Int.self),
            apparmorProfile: try o.string("apparmorProfile"), selinuxLabel: try o.string("selinuxLabel"))
    }
}

extension RuntimeSpec.Hook {
    init(_ o: SpecObject) throws(SpecError) {
        self.init(
            path: try o.required("path").string(), args: try o.strings("args"), env: try o.strings("env"),
            timeout: try o.integer("timeout", Int.self))
    }
}

extension RuntimeSpec.Hooks {
    init(_ o: SpecObject) throws(SpecError) {
        func list(_ key: String) throws(SpecError) -> [RuntimeSpec.Hook]? {
            try o.objects(key, known: "hooks.*[]", RuntimeSpec.Hook.init)
        }
        self.init(
            prestart: try list("prestart"), createRuntime: try list("createRuntime"),
            createContainer: try list("createContainer"), startContainer: try list("startContainer"),
            poststart: try list("poststart"), poststop: try list("poststop"))
    }
}

extension RuntimeSpec.Linux {
    init(_ o: SpecObject) throws(SpecError) {
        func mappings(_ key: String) throws(SpecError) -> [RuntimeSpec.IDMapping]? {
            try o.objects(key, known: "linux.\(key)[]") { m throws(SpecError) in
                RuntimeSpec.IDMapping(
                    containerID: try m.required("containerID").integer(UInt32.self),
                    hostID: try m.required("hostID").integer(UInt32.self),
                    size: try m.required("size").integer(UInt32.self))
            }
        }
        self.init(
            namespaces: try o.objects("namespaces", known: "linux.namespaces[]") { n throws(SpecError) in
                RuntimeSpec.Namespace(type: try n.required("type").string(), path: try n.string("path"))
            },
            uidMappings: try mappings("uidMappings"), gidMappings: try mappings("gidMappings"),
            resources: try o.object("resources", known: "linux.resources", RuntimeSpec.Resources.init),
            cgroupsPath: try o.string("cgroupsPath"),
            seccomp: try o.object("seccomp", known: "linux.seccomp", RuntimeSpec.Seccomp.init),
            maskedPaths: try o.strings("maskedPaths"), readonlyPaths: try o.strings("readonlyPaths"),
            rootfsPropagation: try o.string("rootfsPropagation"), sysctl: try o["sysctl"]?.stringMap(),
            devices: try o.objects("devices", known: "linux.devices[]") { d throws(SpecError) in
                RuntimeSpec.Device(
                    type: try d.required("type").string(), path: try d.required("path").string(),
                    major: try d.integer("major", Int64.self), minor: try d.integer("minor", Int64.self))
            },
            mountLabel: try o.string("mountLabel"))
    }
}

extension RuntimeSpec.Resources {
    init(_ o: SpecObject) throws(SpecError) {
        self.init(
            memory: try o.object("memory", known: "linux.resources.memory") { m throws(SpecError) in
                Memory(
                    limit: try m.integer("limit", Int64.self), reservation: try m.integer("reservation", Int64.self),
                    swap: try m.integer("swap", Int64.self), disableOOMKiller: try m.bool("disableOOMKiller"))
            },
            cpu: try o.object("cpu", known: "linux.resources.cpu") { c throws(SpecError) in
                CPU(
                    shares: try c.integer("shares", UInt64.self), quota: try c.integer("quota", Int64.self),
                    period: try c.integer("period", UInt64.self))
            },
            pids: try o.object("pids", known: "linux.resources.pids") { p throws(SpecError) in
                Pids(limit: try p.required("limit").integer(Int64.self))
            },
            devices: try o.objects("devices", known: "linux.resources.devices[]") { d throws(SpecError) in
                DeviceRule(
                    allow: try d.required("allow").bool(), type: try d.string("type"),
                    major: try d.integer("major", Int64.self), minor: try d.integer("minor", Int64.self),
                    access: try d.string("access"))
            })
    }
}

extension RuntimeSpec.Seccomp {
    init(_ o: SpecObject) throws(SpecError) {
        self.init(
            defaultAction: try o.required("defaultAction").string(),
            defaultErrnoRet: try o.integer("defaultErrnoRet", UInt32.self),
            architectures: try o.strings("architectures"), flags: try o.strings("flags"),
            syscalls: try o.objects("syscalls", known: "linux.seccomp.syscalls[]") { s throws(SpecError) in
                Syscall(
                    names: try s.required("names").strings(), action: try s.required("action").string(),
                    errnoRet: try s.integer("errnoRet", UInt32.self),
                    args: try s.objects("args", known: "linux.seccomp.syscalls[].args[]") { a throws(SpecError) in
                        Arg(
                            index: try a.required("index").integer(UInt32.self),
                            value: try a.required("value").integer(UInt64.self),
                            valueTwo: try a.integer("valueTwo", UInt64.self), op: try a.required("op").string())
                    })
            })
    }
}
