#if canImport(Glibc)
    import Glibc
#endif

/// The names of what boxbench leaves on the host while it runs (container ids, cgroups, bundle and scratch
/// directories, VM domains): a kind prefix, the owner's pid, then whatever makes the name unique. One table makes
/// and parses them, so renaming a prefix cannot break the Janitor's recovery after a `kill -9`.
public enum OwnedName: String, CaseIterable, Sendable {
    case container = "run"
    case density
    case build
    case bench
    case native
    case crunRun = "bb-crun"
    case runcRun = "bb-runc"
    case crunBundle = "crun"
    case runcBundle = "runc"
    /// podman's containers (`podman run --name`) and the cgroup parent boxbench gives them.
    case podmanRun = "bb-podman"
    case podman
    /// Another build of boxbench-runtime run as a peer (`path:`): its container ids and bundles.
    case runtimeRun = "bb-bbrt"
    case runtimeBundle = "bbrt"
    /// Network namespaces of the bench network (bench, client, one per container arm) and its CNI state.
    case netns = "bbnet"
    case cniData = "bbcni"
    case accelProbe = "accel-probe"
    case nativeScratch = "boxbench-native"
    case calibrate = "boxbench-calibrate"
    case hook = "boxbench-hook"
    case context = "boxbench-context"
    case rebuild = "boxbench-rebuild"
    /// C5's loopback docker-registry: its directory in the temp directory and its cgroup.
    case registry = "boxbench-registry"
    /// An I/O workload's data volume directory under `BoxbenchPaths.volumes`, per arm and workload.
    case volume = "boxbench-volume"
    /// VM domains and `container run`'s default id: the most general prefix, tried last.
    case domain = "boxbench"

    /// "<prefix>-<pid>[-<part>…]".
    public func name(pid: pid_t = getpid(), _ parts: String...) -> String {
        // Concatenated: joined(separator:) cost a `container run` ~0.5 M instructions of generic set-up.
        var name = rawValue + "-" + String(pid)
        for part in parts { name += "-" + part }
        return name
    }

    /// The owner pid of a name one of these kinds made, or nil for a name boxbench did not make.
    public static func owner(of name: String) -> pid_t? {
        // Longest prefix first: "boxbench-native-…" is not a domain "boxbench-…".
        for kind in allCases.sorted(by: { $0.rawValue.count > $1.rawValue.count }) {
            let prefix = kind.rawValue + "-"
            guard name.hasPrefix(prefix) else { continue }
            let digits = name.dropFirst(prefix.count).prefix { $0.isASCII && $0.isNumber }
            let rest = name.dropFirst(prefix.count + digits.count)
            guard !digits.isEmpty, digits.count <= 10, rest.isEmpty || rest.first == "-" || rest.first == ".",
                let pid = pid_t(digits), pid > 0
            else { continue }
            return pid
        }
        return nil
    }
}
