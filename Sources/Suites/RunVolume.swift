import Containers
import Foundation
import Machines
import Probes

/// An I/O workload's data volume for one arm: `boxbench-volume-<pid>-<arm>-<workload>` under `paths.volumes`
/// (the Janitor removes a dead owner's). `reset` empties it before every run, so each run starts from the same
/// empty volume; the arm's cleanup removes it.
struct RunVolume {
    let spec: VolumeSpec
    let directory: String

    init(_ spec: VolumeSpec, arm: String, workload: String, paths: BoxbenchPaths = BoxbenchPaths()) {
        self.spec = spec
        self.directory = paths.volumes + "/" + OwnedName.volume.name(arm, workload)
    }

    /// The volume's files (bind volumes): bind-mounted at the workload's path.
    var dataDir: String { directory + "/data" }
    /// The run's writable layer (overlay volumes): the overlay's upper and work directories.
    var upperDir: String { directory + "/upper" }
    var workDir: String { directory + "/work" }
    /// The VM's data disk file.
    var diskFile: String { directory + "/disk.raw" }

    /// The directory with what this kind of volume needs, empty: made before the first run and again before each.
    func reset(vm: Bool = false) throws {
        remove()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if vm {
            try DataDisk.create(at: diskFile, sizeBytes: spec.sizeBytes)
        } else {
            for dir in spec.on == .bind ? [dataDir] : [upperDir, workDir] {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
            }
        }
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    /// The bind mount of a bind volume into an OCI spec (container arms).
    var specMount: RuntimeSpec.Mount? {
        spec.on == .bind
            ? RuntimeSpec.Mount(destination: spec.path, type: "bind", source: dataDir, options: ["rbind", "rw"]) : nil
    }
}

extension RunVolume {
    /// Where I/O workloads' data lives, for the results' notes: the volume root's file system from the mount table
    /// (O_DIRECT figures mean nothing without it).
    static func placement(paths: BoxbenchPaths = BoxbenchPaths()) -> String {
        try? FileManager.default.createDirectory(atPath: paths.volumes, withIntermediateDirectories: true)
        let mounts = ((try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? "")
            .split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.filter { $0.count >= 3 }
        let root = (try? FileManager.default.destinationOfSymbolicLink(atPath: paths.volumes)) ?? paths.volumes
        let mount = mounts.filter { root == $0[1] || root.hasPrefix($0[1] == "/" ? "/" : $0[1] + "/") }
            .max { $0[1].count < $1[1].count }
        let fs =
            mount.map { "\($0[2]) on \($0[0]), mounted at \($0[1])" } ?? "file system not found in /proc/self/mounts"
        return "I/O volumes live in \(paths.volumes) (\(fs)): native and container arms bind a fresh directory there "
            + "(or put the writable layer's upper there for `on: overlay`); VM arms get a fresh raw ext4 file there "
            + "as a virtio-blk disk with cache=none io=native"
    }
}
