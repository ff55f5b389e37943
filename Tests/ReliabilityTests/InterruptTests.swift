import Containers
import Foundation
import Probes
import Results
import Testing

/// SIGINT/SIGTERM to the real CLI at a chosen moment, and what must (not) be left afterwards.
@Suite(.serialized) struct InterruptTests {
    func env(_ s: Scratch) -> [String: String] {
        ["BOXBENCH_STATE": s.path + "/state", "BOXBENCH_RUN": s.path + "/run", "BOXBENCH_CACHE": s.path + "/cache"]
    }

    func list(_ dir: String) -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] }

    /// SIGTERM while a RUN step runs: exit 143 soon, and no container, cgroup, scratch or tag is left; the store
    /// still lists, and the same Dockerfile (without the hang) then builds.
    @Test(
        .enabled(if: getuid() == 0 && FileManager.default.fileExists(atPath: "/bin/busybox"), "needs root and busybox"))
    func imageBuildInterruptedDuringRunLeavesNothing() throws {
        let s = Scratch("interrupt-build")
        defer { s.cleanup() }
        let context = s.path + "/ctx"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try "FROM boxbench/busybox\nRUN echo a > /a\nRUN sleep 3600\n".write(
            toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: boxbenchBinary)
        p.arguments = ["image", "build", "-t", "interrupt/build:1", context]
        p.environment = ProcessInfo.processInfo.environment.merging(env(s)) { $1 }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let pid = p.processIdentifier
        // Wait until the `sleep 3600` container exists (its state dir is build-<pid>-…), then interrupt.
        let containers = s.path + "/run/containers"
        var running = false
        for _ in 0..<600 where p.isRunning {
            // The first RUN's layer is in the build cache, and a build container exists: the second RUN's.
            if !list(s.path + "/state/images/.boxbench/build-cache").isEmpty
                && list(containers).contains(where: { $0.hasPrefix("build-\(pid)-") })
            {
                running = true
                break
            }
            usleep(50_000)
        }
        #expect(running, "the RUN container never appeared")
        usleep(300_000)  // past the container's start: `sleep 3600` is running
        kill(pid, SIGTERM)
        let started = Date()
        p.waitUntilExit()
        #expect(p.terminationStatus == 143, "exit \(p.terminationStatus)")
        #expect(Date().timeIntervalSince(started) < 10, "took \(Date().timeIntervalSince(started)) s to stop")

        #expect(list(containers).isEmpty, "container state left: \(list(containers))")
        #expect(list(s.path + "/state/images/.boxbench/tmp").isEmpty, "scratch left")
        let layers = list(s.path + "/state/layers").filter { $0.hasPrefix(".tmp-") }
        #expect(layers.isEmpty, "half-unpacked layers left: \(layers)")
        let temps = list(s.path + "/state/images/blobs/sha256").filter { $0.contains(".tmp") }
        #expect(temps.isEmpty, "temp blobs left: \(temps)")
        let layout = CgroupLayout.detect()
        for mount in Set(layout.hierarchies.map(\.mountPoint)) {
            let groups = list(mount + "/boxbench").filter { $0.hasPrefix("build-\(pid)-") }
            #expect(groups.isEmpty, "cgroups left in \(mount): \(groups)")
        }
        #expect(try sh(["/bin/sh", "-c", "! pgrep -x -f 'sleep 3600' >/dev/null"]) == 0, "the RUN process survived")

        let ls = try runBoxbench(["image", "ls"], environment: env(s))
        #expect(ls.status == 0, "image ls: \(ls.stderr)")
        #expect(!ls.stdout.contains("interrupt/build"), "an interrupted build was tagged: \(ls.stdout)")
        try "FROM boxbench/busybox\nRUN echo a > /a\n".write(
            toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        let again = try runBoxbench(["image", "build", "-q", "-t", "interrupt/build:1", context], environment: env(s))
        #expect(again.status == 0, "rebuild: \(again.stderr)")
        let inspect = try runBoxbench(["image", "inspect", "interrupt/build:1"], environment: env(s))
        #expect(inspect.status == 0, "inspect: \(inspect.stderr)")
    }

    /// A failed atomic write names the operation, the path and errno, and leaves neither temp nor target.
    @Test func atomicWriteFailureNamesPathAndErrno() throws {
        let s = Scratch("interrupt-write")
        defer { s.cleanup() }
        let target = s.path + "/missing-dir/report.html"
        do {
            try ResultsStore.writeAtomically(Data("x".utf8), to: target)
            Issue.record("writing into a missing directory succeeded")
        } catch {
            let text = "\(error)"
            #expect(
                text.contains("create") && text.contains(target + ".tmp.") && text.contains("errno \(ENOENT)"),
                "\(text)")
        }
        let ok = s.path + "/report.html"
        try ResultsStore.writeAtomically(Data("complete".utf8), to: ok)
        #expect(list(s.path) == ["report.html"], "\(list(s.path))")
        #expect(try String(contentsOfFile: ok, encoding: .utf8) == "complete")
    }

    /// libvirt's embedded driver.pid naming a dead process is removed (and reported); one naming a live process stays.
    @Test func janitorRemovesADeadDriversPidFile() throws {
        let s = Scratch("interrupt-pidfile")
        defer { s.cleanup() }
        let paths = BoxbenchPaths(environment: env(s))
        let dead: pid_t = 99_999_999  // above any pid_max
        for (root, pid) in [(paths.libvirtEmbedRoot, dead), (paths.libvirtTestEmbedRoot, getpid())] {
            try FileManager.default.createDirectory(atPath: root + "/run/qemu", withIntermediateDirectories: true)
            try "\(pid)".write(toFile: root + "/run/qemu/driver.pid", atomically: true, encoding: .utf8)
        }
        let janitor = Janitor(
            paths: paths, tempDir: s.path + "/tmp", isAlive: { $0 != dead })
        let cleaned = janitor.clean().filter { $0.kind == .lockFile }
        #expect(cleaned.map(\.path) == [paths.libvirtEmbedRoot + "/run/qemu/driver.pid"], "\(cleaned)")
        #expect(cleaned.allSatisfy { $0.error == nil && $0.ownerPid == dead }, "\(cleaned)")
        #expect(!FileManager.default.fileExists(atPath: paths.libvirtEmbedRoot + "/run/qemu/driver.pid"))
        #expect(FileManager.default.fileExists(atPath: paths.libvirtTestEmbedRoot + "/run/qemu/driver.pid"))
    }
}
