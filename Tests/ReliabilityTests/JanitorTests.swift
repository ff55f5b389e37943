import Containers
import Foundation
import Probes
import Testing

@Suite(.serialized) struct JanitorTests {
    /// Every kind of owned name parses back to its owner with the same table that made it.
    @Test func ownedNamesRoundTrip() {
        for kind in OwnedName.allCases {
            for parts in [[], ["7"], ["hello", "3"], ["a1b2c3"]] {
                let name = parts.isEmpty ? kind.name(pid: 4321) : kind.name(pid: 4321, parts.joined(separator: "-"))
                #expect(OwnedName.owner(of: name) == 4321, "\(name)")
            }
        }
    }

    @Test func ownerPidIsReadOnlyFromNamesBoxbenchGenerates() {
        #expect(Janitor.ownerPid(of: "run-123-4") == 123)
        #expect(Janitor.ownerPid(of: "density-77-8-1") == 77)
        #expect(Janitor.ownerPid(of: "build-9-4000000000") == 9)
        #expect(Janitor.ownerPid(of: "bench-5-0") == 5)
        #expect(Janitor.ownerPid(of: "boxbench-42") == 42)
        #expect(Janitor.ownerPid(of: "boxbench-42-3-abcdef") == 42)
        #expect(Janitor.ownerPid(of: "crun-31-hello") == 31)
        #expect(Janitor.ownerPid(of: "boxbench-native-8-2") == 8)
        #expect(Janitor.ownerPid(of: "boxbench-calibrate-8.json") == 8)
        #expect(Janitor.ownerPid(of: "boxbench-12-1-ab.pid") == 12)
        for foreign in [
            "c1", "mycontainer", "run-abc", "run-", "boxbench-test-rel-x", "run-12x", "boxbench", "runc", "run-0-1",
        ] {
            #expect(Janitor.ownerPid(of: foreign) == nil, "\(foreign) attributed")
        }
    }

    /// A pid that certainly belonged to a process that has exited.
    func deadPid() throws -> pid_t {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        let pid = p.processIdentifier
        #expect(kill(pid, 0) != 0)
        return pid
    }

    @Test func cleansWhatADeadOwnerLeftAndKeepsTheRest() throws {
        let s = Scratch("janitor")
        defer { s.cleanup() }
        let env = [
            "BOXBENCH_RUN": s.path + "/run", "BOXBENCH_STATE": s.path + "/state", "BOXBENCH_CACHE": s.path + "/cache",
        ]
        let paths = BoxbenchPaths(environment: env)
        let dead = try deadPid()
        let me = getpid()
        let fm = FileManager.default
        let deadItems = [
            paths.containers + "/run-\(dead)-1", paths.containers + "/density-\(dead)-4-2",
            paths.run + "/bundles/crun-\(dead)-hello", paths.run + "/vm/boxbench-\(dead)-1-abc",
            s.path + "/tmp/boxbench-native-\(dead)-3",
            paths.guestArtifacts + "/k1/disk.raw.TRANSIENT-boxbench-\(dead)-1-93252015",
            paths.volumes + "/boxbench-volume-\(dead)-vm-fio",
        ]
        let liveItems = [
            paths.containers + "/run-\(me)-1", paths.containers + "/mine", paths.run + "/bundles/runc-\(me)-idle",
            s.path + "/tmp/boxbench-test-images-abc", s.path + "/tmp/boxbench-native-\(me)-1",
            paths.guestArtifacts + "/k1/disk.raw", paths.guestArtifacts + "/k1/disk.raw.TRANSIENT-boxbench-\(me)-2-1",
            paths.volumes + "/boxbench-volume-\(me)-native-fio",
        ]
        for d in deadItems + liveItems {
            try fm.createDirectory(atPath: d + "/upper", withIntermediateDirectories: true)
        }
        let janitor = Janitor(paths: paths, tempDir: s.path + "/tmp")
        let found = janitor.scan()
        #expect(
            Set(found.filter { $0.kind != .cgroup && $0.kind != .qemu && $0.kind != .libvirtCgroup }.map(\.path))
                == Set(deadItems))
        #expect(found.allSatisfy { $0.ownerPid != me })
        let cleaned = janitor.clean().filter { $0.kind != .cgroup && $0.kind != .qemu && $0.kind != .libvirtCgroup }
        #expect(Set(cleaned.map(\.path)) == Set(deadItems))
        #expect(cleaned.allSatisfy { $0.error == nil }, "\(cleaned)")
        for d in deadItems { #expect(!fm.fileExists(atPath: d), "\(d) survived") }
        for d in liveItems { #expect(fm.fileExists(atPath: d), "\(d) of a live owner was removed") }
        #expect(
            cleaned.first { $0.path.hasSuffix("run-\(dead)-1") }?.description.contains("owner pid \(dead) is gone")
                == true)
        // Second pass: nothing left to do.
        #expect(janitor.scan().filter { $0.kind != .cgroup && $0.kind != .qemu && $0.kind != .libvirtCgroup }.isEmpty)
    }

    @Test(.enabled(if: getuid() == 0, "needs root for cgroups"))
    func deadOwnersCgroupIsEmptiedAndRemovedLiveOnesStay() throws {
        let dead = try deadPid()
        let deadGroup = makeCgroupManager(name: "boxbench/run-\(dead)-77")
        let liveGroup = makeCgroupManager(name: "boxbench/run-\(getpid())-77")
        try deadGroup.create()
        try liveGroup.create()
        defer {
            for g in [deadGroup, liveGroup] {
                g.killAll()
                try? g.remove()
            }
        }
        // An orphaned workload still running in the dead owner's group (what kill -9 of boxbench leaves).
        let orphan = Process()
        orphan.executableURL = URL(fileURLWithPath: "/bin/sleep")
        orphan.arguments = ["60"]
        try orphan.run()
        for p in deadGroup.procsPaths {
            try "\(orphan.processIdentifier)".write(toFile: p, atomically: false, encoding: .utf8)
        }
        let s = Scratch("janitor-cg")
        defer { s.cleanup() }
        let paths = BoxbenchPaths(environment: ["BOXBENCH_RUN": s.path + "/run", "BOXBENCH_STATE": s.path + "/state"])
        let cleaned = Janitor(paths: paths, tempDir: s.path).clean()
        let mine = cleaned.filter { $0.kind == .cgroup && $0.path == "boxbench/run-\(dead)-77" }
        #expect(mine.count == 1 && mine[0].error == nil, "\(cleaned)")
        #expect(!cleaned.contains { $0.path.contains("run-\(getpid())-77") })
        orphan.waitUntilExit()
        #expect(orphan.terminationReason == .uncaughtSignal && orphan.terminationStatus == SIGKILL)
        for p in deadGroup.procsPaths {
            #expect(!FileManager.default.fileExists(atPath: (p as NSString).deletingLastPathComponent))
        }
        for p in liveGroup.procsPaths { #expect(FileManager.default.fileExists(atPath: p)) }
    }

    /// kill -9 of boxbench during a VM run leaves libvirt's own cgroup of the domain (the embedded driver died with
    /// it): `machine/qemu-embed-…-boxbench-<pid>-….libvirt-qemu` and its vcpu/emulator children, in every hierarchy.
    @Test(.enabled(if: getuid() == 0, "needs root for cgroups"))
    func deadOwnersLibvirtCgroupsAreRemovedLiveOnesStay() throws {
        let dead = try deadPid()
        let layout = CgroupLayout.detect()
        let mounts = Array(Set(layout.hierarchies.map(\.mountPoint))).sorted()
        let deadName = "qemu-embed-0123abcd-9-boxbench-\(dead)-9-abcdef01.libvirt-qemu"
        let liveName = "qemu-embed-0123abcd-8-boxbench-\(getpid())-8-abcdef02.libvirt-qemu"
        var made: [String] = []
        defer { for d in made.reversed() { rmdir(d) } }
        for mount in mounts {
            for name in [deadName, liveName] {
                for dir in ["\(mount)/machine", "\(mount)/machine/\(name)", "\(mount)/machine/\(name)/vcpu0"] {
                    if mkdir(dir, 0o755) == 0 { made.append(dir) }
                }
            }
        }
        let s = Scratch("janitor-libvirt-cg")
        defer { s.cleanup() }
        let paths = BoxbenchPaths(environment: ["BOXBENCH_RUN": s.path + "/run", "BOXBENCH_STATE": s.path + "/state"])
        let cleaned = Janitor(paths: paths, layout: layout, tempDir: s.path).clean()
        let mine = cleaned.filter { $0.kind == .libvirtCgroup && $0.path == "machine/\(deadName)" }
        #expect(mine.count == 1 && mine[0].error == nil && mine[0].ownerPid == dead, "\(cleaned)")
        #expect(!cleaned.contains { $0.path.contains(liveName) })
        for mount in mounts {
            #expect(!FileManager.default.fileExists(atPath: "\(mount)/machine/\(deadName)"), "\(mount)")
            #expect(FileManager.default.fileExists(atPath: "\(mount)/machine/\(liveName)/vcpu0"), "\(mount)")
        }
    }

    /// `boxbench run` cleans before running and says so on stderr.
    @Test(.enabled(if: getuid() == 0)) func runCommandReportsWhatItCleaned() throws {
        let s = Scratch("janitor-cli")
        defer { s.cleanup() }
        let dead = try deadPid()
        let leftover = s.path + "/run/containers/run-\(dead)-0"
        try FileManager.default.createDirectory(atPath: leftover, withIntermediateDirectories: true)
        let suite = s.path + "/s.yaml"
        // A workload that fails fast (its base image does not exist) after the janitor has run.
        try FileManager.default.createDirectory(atPath: s.path + "/wl", withIntermediateDirectories: true)
        try "FROM nosuch/base\n".write(toFile: s.path + "/wl/Dockerfile", atomically: true, encoding: .utf8)
        try
            "arms: [{kind: native}]\nworkloads: [{name: nope, dockerfile: \(s.path)/wl/Dockerfile}]\nrepetitions: 1\nwarmups: 0\n"
            .write(toFile: suite, atomically: true, encoding: .utf8)
        let r = try runBoxbench(
            ["run", "--quiet", "--output", s.path + "/out", suite],
            environment: [
                "BOXBENCH_RUN": s.path + "/run", "BOXBENCH_STATE": s.path + "/state",
                "BOXBENCH_CACHE": s.path + "/cache",
            ])
        #expect(
            r.stderr.contains("cleaned: container-state \(leftover) (owner pid \(dead) is gone)"),
            "\(r.status): \(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: leftover))
    }
}
