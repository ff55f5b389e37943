import CSimdJSON

/// config.json into `RuntimeSpec` field by field, refusing keys outside `SpecValidator.known` as it goes.
extension RuntimeSpec {
    static func decode(_ root: SpecNode) throws(SpecError) -> RuntimeSpec {
        guard root.type == CSJ_OBJECT else {
            throw SpecError(file: root.file, field: "", reason: "top level is not an object")
        }
        let o = try root.object(known: SpecValidator.known(""))
        return RuntimeSpec(
            ociVersion: try o.required("ociVersion").string(),
            process: try o["process"].map { n throws(SpecError) in try Process.decode(n) },
            root: try o["root"].map { n throws(SpecError) in
                let r = try n.object(known: SpecValidator.known("root"))
                return Root(path: try r.required("path").string(), readonly: try r.bool("readonly"))
            },
            hostname: try o.string("hostname"),
            domainname: try o.string("domainname"),
            mounts: try o["mounts"].map { n throws(SpecError) in
                var mounts: [Mount] = []
                for m in try n.array() {
                    let f = try m.object(known: SpecValidator.known("mounts[]"))
                    mounts.append(
                        Mount(
                            destination: try f.required("destination").string(), type: try f.string("type"),
                            source: try f.string("source"), options: try f.strings("options")))
                }
                return mounts
            },
            hooks: try o["hooks"].map { n throws(SpecError) in try Hooks.decode(n) },
            annotations: try o["annotations"]?.stringMap(),
            linux: try o["linux"].map { n throws(SpecError) in try Linux.decode(n) })
    }
}

extension RuntimeSpec.Process {
    static func decode(_ node: SpecNode) throws(SpecError) -> Self {
        let o = try node.object(known: SpecValidator.known("process"))
        let u = try o.required("user").object(known: SpecValidator.known("process.user"))
        let user = RuntimeSpec.User(
            uid: try u.required("uid").integer(UInt32.self), gid: try u.required("gid").integer(UInt32.self),
            umask: try u.integer("umask", UInt32.self), additionalGids: try u["additionalGids"]?.integers(UInt32.self))
        var capabilities: RuntimeSpec.Capabilities?
        if let n = o["capabilities"] {
            let c = try n.object(known: SpecValidator.known("process.capabilities"))
            capabilities = RuntimeSpec.Capabilities(
                bounding: try c.strings("bounding"), effective: try c.strings("effective"),
                inheritable: try c.strings("inheritable"), permitted: try c.strings("permitted"),
                ambient: try c.strings("ambient"))
        }
        var rlimits: [RuntimeSpec.Rlimit]?
        if let n = o["rlimits"] {
            rlimits = []
            for r in try n.array() {
                let f = try r.object(known: SpecValidator.known("process.rlimits[]"))
                rlimits?.append(
                    RuntimeSpec.Rlimit(
                        type: try f.required("type").string(), hard: try f.required("hard").integer(UInt64.self),
                        soft: try f.required("soft").integer(UInt64.self)))
            }
        }
        return Self(
            terminal: try o.bool("terminal"), user: user, args: try o.required("args").strings(),
            env: try o.strings("env"), cwd: try o.required("cwd").string(), capabilities: capabilities,
            rlimits: rlimits, noNewPrivileges: try o.bool("noNewPrivileges"),
            oomScoreAdj: try o.integer("oomScoreAdj", Int.self), apparmorProfile: try o.string("apparmorProfile"),
            selinuxLabel: try o.string("selinuxLabel"))
    }
}

extension RuntimeSpec.Hook {
    static func decode(_ node: SpecNode) throws(SpecError) -> Self {
        let o = try node.object(known: SpecValidator.known("hooks.*[]"))
        return Self(
            path: try o.required("path").string(), args: try o.strings("args"), env: try o.strings("env"),
            timeout: try o.integer("timeout", Int.self))
    }

    static func decodeList(_ node: SpecNode?) throws(SpecError) -> [Self]? {
        guard let node else { return nil }
        var hooks: [Self] = []
        for h in try node.array() { hooks.append(try decode(h)) }
        return hooks
    }
}

extension RuntimeSpec.Hooks {
    static func decode(_ node: SpecNode) throws(SpecError) -> Self {
        let o = try node.object(known: SpecValidator.known("hooks"))
        typealias Hook = RuntimeSpec.Hook
        return Self(
            prestart: try Hook.decodeList(o["prestart"]), createRuntime: try Hook.decodeList(o["createRuntime"]),
            createContainer: try Hook.decodeList(o["createContainer"]),
            startContainer: try Hook.decodeList(o["startContainer"]), poststart: try Hook.decodeList(o["poststart"]),
            poststop: try Hook.decodeList(o["poststop"]))
    }
}

extension RuntimeSpec.Linux {
    static func decode(_ node: SpecNode) throws(SpecError) -> Self {
        let o = try node.object(known: SpecValidator.known("linux"))
        var namespaces: [RuntimeSpec.Namespace]?
        if let n = o["namespaces"] {
            namespaces = []
            for ns in try n.array() {
                let f = try ns.object(known: SpecValidator.known("linux.namespaces[]"))
                namespaces?.append(
                    RuntimeSpec.Namespace(type: try f.required("type").string(), path: try f.string("path")))
            }
        }
        func mappings(_ key: String) throws(SpecError) -> [RuntimeSpec.IDMapping]? {
            guard let n = o[key] else { return nil }
            var out: [RuntimeSpec.IDMapping] = []
            for m in try n.array() {
                let f = try m.object(known: SpecValidator.known("linux.\(key)[]"))
                out.append(
                    RuntimeSpec.IDMapping(
                        containerID: try f.required("containerID").integer(UInt32.self),
                        hostID: try f.required("hostID").integer(UInt32.self),
                        size: try f.required("size").integer(UInt32.self)))
            }
            return out
        }
        var devices: [RuntimeSpec.Device]?
        if let n = o["devices"] {
            devices = []
            for d in try n.array() {
                let f = try d.object(known: SpecValidator.known("linux.devices[]"))
                devices?.append(
                    RuntimeSpec.Device(
                        type: try f.required("type").string(), path: try f.required("path").string(),
                        major: try f.integer("major", Int64.self), minor: try f.integer("minor", Int64.self)))
            }
        }
        return Self(
            namespaces: namespaces, uidMappings: try mappings("uidMappings"), gidMappings: try mappings("gidMappings"),
            resources: try o["resources"].map { n throws(SpecError) in try RuntimeSpec.Resources.decode(n) },
            cgroupsPath: try o.string("cgroupsPath"),
            seccomp: try o["seccomp"].map { n throws(SpecError) in try RuntimeSpec.Seccomp.decode(n) },
            maskedPaths: try o.strings("maskedPaths"), readonlyPaths: try o.strings("readonlyPaths"),
            rootfsPropagation: try o.string("rootfsPropagation"), sysctl: try o["sysctl"]?.stringMap(),
            devices: devices, mountLabel: try o.string("mountLabel"))
    }
}

extension RuntimeSpec.Resources {
    static func decode(_ node: SpecNode) throws(SpecError) -> Self {
        let o = try node.object(known: SpecValidator.known("linux.resources"))
        var memory: Memory?
        if let n = o["memory"] {
            let f = try n.object(known: SpecValidator.known("linux.resources.memory"))
            memory = Memory(
                limit: try f.integer("limit", Int64.self), reservation: try f.integer("reservation", Int64.self),
                swap: try f.integer("swap", Int64.self), disableOOMKiller: try f.bool("disableOOMKiller"))
        }
        var cpu: CPU?
        if let n = o["cpu"] {
            let f = try n.object(known: SpecValidator.known("linux.resources.cpu"))
            cpu = CPU(
                shares: try f.integer("shares", UInt64.self), quota: try f.integer("quota", Int64.self),
                period: try f.integer("period", UInt64.self))
        }
        var pids: Pids?
        if let n = o["pids"] {
            let f = try n.object(known: SpecValidator.known("linux.resources.pids"))
            pids = Pids(limit: try f.required("limit").integer(Int64.self))
        }
        var devices: [DeviceRule]?
        if let n = o["devices"] {
            devices = []
            for d in try n.array() {
                let f = try d.object(known: SpecValidator.known("linux.resources.devices[]"))
                devices?.append(
                    DeviceRule(
                        allow: try f.required("allow").bool(), type: try f.string("type"),
                        major: try f.integer("major", Int64.self), minor: try f.integer("minor", Int64.self),
                        access: try f.string("access")))
            }
        }
        return Self(memory: memory, cpu: cpu, pids: pids, devices: devices)
    }
}

extension RuntimeSpec.Seccomp {
    static func decode(_ node: SpecNode) throws(SpecError) -> Self {
        let o = try node.object(known: SpecValidator.known("linux.seccomp"))
        var syscalls: [Syscall]?
        if let n = o["syscalls"] {
            syscalls = []
            for s in try n.array() {
                let f = try s.object(known: SpecValidator.known("linux.seccomp.syscalls[]"))
                var args: [Arg]?
                if let a = f["args"] {
                    args = []
                    for arg in try a.array() {
                        let g = try arg.object(known: SpecValidator.known("linux.seccomp.syscalls[].args[]"))
                        args?.append(
                            Arg(
                                index: try g.required("index").integer(UInt32.self),
                                value: try g.required("value").integer(UInt64.self),
                                valueTwo: try g.integer("valueTwo", UInt64.self), op: try g.required("op").string()))
                    }
                }
                syscalls?.append(
                    Syscall(
                        names: try f.required("names").strings(), action: try f.required("action").string(),
                        errnoRet: try f.integer("errnoRet", UInt32.self), args: args))
            }
        }
        return Self(
            defaultAction: try o.required("defaultAction").string(),
            defaultErrnoRet: try o.integer("defaultErrnoRet", UInt32.self),
            architectures: try o.strings("architectures"), flags: try o.strings("flags"), syscalls: syscalls)
    }
}
