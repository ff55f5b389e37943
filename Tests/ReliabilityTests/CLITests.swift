import Foundation
import Results
import Testing

/// The real CLI: hostile input exits 2 with a message naming the culprit, and changes nothing.
@Suite(.serialized) struct CLITests {
    @Test func binaryIsBuilt() {
        #expect(FileManager.default.isExecutableFile(atPath: boxbenchBinary), "no boxbench at \(boxbenchBinary)")
    }

    func env(_ s: Scratch) -> [String: String] {
        ["BOXBENCH_STATE": s.path + "/state", "BOXBENCH_RUN": s.path + "/run", "BOXBENCH_CACHE": s.path + "/cache"]
    }

    @Test(arguments: [
        "bad-json-index", "layer-digest-mismatch", "missing-layer-blob", "huge-declared-layer-size",
        "nested-index-media-type", "diff-id-lie", "docker-save-escape",
    ])
    func imageImportOfHostileLayoutExits2(_ name: String) throws {
        let s = Scratch("cli-import")
        defer { s.cleanup() }
        let expect = try #require(try Corpus.expectations("oci-layouts").first { $0.name == name }).substrings
        let r = try runBoxbench(["image", "import", Corpus.root + "/oci-layouts/" + name], environment: env(s))
        #expect(r.status == 2, "\(name): exit \(r.status), stderr: \(r.stderr)")
        for sub in expect { #expect(r.stderr.contains(sub), "\(name): stderr lacks \(sub): \(r.stderr)") }
        // The store opens and lists nothing afterwards.
        let ls = try runBoxbench(["image", "ls"], environment: env(s))
        #expect(ls.status == 0, "image ls after a failed import: \(ls.stderr)")
        #expect(!ls.stdout.contains("hostile"))
    }

    /// A suite file of one workload over the native and container arms.
    static func twoArmSuite(_ path: String, name: String, repetitions: Int, workload: String, dockerfile: String)
        throws
    {
        try """
        name: \(name)
        repetitions: \(repetitions)
        warmups: 0
        arms:
          - kind: native
          - kind: container
        workloads:
          - name: \(workload)
            dockerfile: \(dockerfile)
        """.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The committed baseline results document (results/baselines/*.json); its absence fails the caller.
    static func committedBaseline() throws -> String {
        let baselines = benchmarks + "/../results/baselines"
        let name = try #require(
            (try? FileManager.default.contentsOfDirectory(atPath: baselines))?.first { $0.hasSuffix(".json") },
            "no committed baseline in \(baselines)")
        return baselines + "/" + name
    }

    /// The repository's Benchmarks directory (the binary lives somewhere below the package root).
    static var benchmarks: String {
        var dir = URL(fileURLWithPath: boxbenchBinary).resolvingSymlinksInPath().deletingLastPathComponent()
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.path + "/Package.swift") {
            dir = dir.deletingLastPathComponent()
        }
        return dir.path + "/Benchmarks"
    }

    /// A typo in a workload's name is an error naming the suite's line and the missing Dockerfile, exit 2, before
    /// anything runs.
    @Test func aSuiteNamingAMissingDockerfileExits2() throws {
        let s = Scratch("cli-suite")
        defer { s.cleanup() }
        let suite = s.path + "/typo.yaml"
        try "name: typo\narms:\n  - kind: native\nworkloads:\n  - name: helo\n".write(
            toFile: suite, atomically: true, encoding: .utf8)
        let r = try runBoxbench(["run", suite, "--output", s.path + "/out"], environment: env(s))
        #expect(r.status == 2, "exit \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("\(suite):5: workloads[0].dockerfile"), "\(r.stderr)")
        #expect(r.stderr.contains("workloads/helo/Dockerfile does not exist"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: s.path + "/out/results.json"))
    }

    /// A run in which an arm × workload has no successful sample exits 1, so CI notices.
    @Test(.enabled(if: getuid() == 0 && FileManager.default.fileExists(atPath: "/var/cache/boxbench/kit/bbwork")))
    func aRunWithAnArmWorkloadWithoutSuccessExits1() throws {
        let s = Scratch("cli-fail")
        defer { s.cleanup() }
        let suite = s.path + "/failing.yaml"
        let hello = Self.benchmarks + "/workloads/hello"
        try """
        name: failing
        repetitions: 1
        warmups: 0
        arms:
          - kind: native
        workloads:
          - name: hello
            dockerfile: \(hello)/Dockerfile
          - name: broken
            dockerfile: \(hello)/Dockerfile
            args: ["--no-such-flag"]
        """.write(toFile: suite, atomically: true, encoding: .utf8)
        var environment = env(s)
        environment["BOXBENCH_KIT"] = "/var/cache/boxbench/kit"
        let r = try runBoxbench(["run", suite, "--output", s.path + "/out"], environment: environment)
        #expect(r.status == 1, "exit \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("no successful sample for native × broken"), "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: s.path + "/out/results.json"))
    }

    /// `boxbench run` answers in about a screen by default (the claims, the caveats, the failures and where the
    /// files are), and never replaces a results document unless told to.
    @Test(.enabled(if: getuid() == 0 && FileManager.default.fileExists(atPath: "/var/cache/boxbench/kit/bbwork")))
    func runPrintsAShortAnswerAndNeverOverwrites() throws {
        let s = Scratch("cli-short")
        defer { s.cleanup() }
        let suite = s.path + "/short.yaml"
        try Self.twoArmSuite(
            suite, name: "short", repetitions: 2, workload: "hello",
            dockerfile: Self.benchmarks + "/workloads/hello/Dockerfile")
        var environment = env(s)
        environment["BOXBENCH_KIT"] = "/var/cache/boxbench/kit"
        let out = s.path + "/out"
        let first = try runBoxbench(["run", suite, "-o", out, "--quiet"], environment: environment)
        #expect(first.status == 0, "\(first.stderr)")
        let lines = first.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count <= 60, "\(lines.count) lines:\n\(first.stdout)")
        #expect(first.stdout.components(separatedBy: "Claims").count == 2, "the claims are printed once")
        #expect(!first.stdout.contains("QEMU"), "a caveat about VMs in a run without a VM arm")
        #expect(first.stdout.contains("results: \(out)/results.json"))
        let before = try Data(contentsOf: URL(fileURLWithPath: out + "/results.json"))
        let again = try runBoxbench(["run", suite, "--output", out, "--quiet"], environment: environment)
        #expect(again.status == 2, "\(again.stderr)")
        #expect(again.stderr.contains("already holds results.json"), "\(again.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/results.json")) == before)
        let forced = try runBoxbench(
            ["run", suite, "-o", out, "--force", "--quiet", "--verbose"], environment: environment)
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stdout.split(separator: "\n").count > lines.count, "--verbose prints the full report")
    }

    /// A user's own Dockerfile runs in every arm (the native arm finds `cat` on the image's PATH inside the rootfs)
    /// and, named like a built-in workload, gets a tag of its own.
    @Test(.enabled(if: getuid() == 0 && FileManager.default.fileExists(atPath: "/var/cache/boxbench/kit/bbwork")))
    func yourOwnDockerfileRunsInEveryArm() throws {
        let s = Scratch("cli-own")
        defer { s.cleanup() }
        try FileManager.default.createDirectory(atPath: s.path + "/mine", withIntermediateDirectories: true)
        try "FROM boxbench/busybox\nCOPY msg /msg\nCMD [\"cat\", \"/msg\"]\n".write(
            toFile: s.path + "/mine/Dockerfile", atomically: true, encoding: .utf8)
        try "hi from my image\n".write(toFile: s.path + "/mine/msg", atomically: true, encoding: .utf8)
        let suite = s.path + "/own.yaml"
        try Self.twoArmSuite(suite, name: "own", repetitions: 1, workload: "hello", dockerfile: "mine/Dockerfile")
        var environment = env(s)
        environment["BOXBENCH_KIT"] = "/var/cache/boxbench/kit"
        let r = try runBoxbench(["run", suite, "-o", s.path + "/out", "--quiet"], environment: environment)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let ls = try runBoxbench(["image", "ls"], environment: environment)
        #expect(ls.stdout.contains("boxbench/workload-hello:"), "\(ls.stdout)")
        #expect(!ls.stdout.contains("boxbench/workload-hello:latest"), "\(ls.stdout)")
    }

    /// One flag style: `--format terminal|json` wherever there is a machine form; an unknown format is exit 2.
    @Test func machineFormsUseOneFlag() throws {
        let s = Scratch("cli-format")
        defer { s.cleanup() }
        for command in [["image", "ls"], ["image", "du"]] {
            let r = try runBoxbench(command + ["--format", "json"], environment: env(s))
            #expect(r.status == 0, "\(command): \(r.stderr)")
            #expect((try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) != nil, "\(command): \(r.stdout)")
            let bad = try runBoxbench(command + ["--format", "yaml"], environment: env(s))
            #expect(bad.status == 2 && bad.stderr.contains("--format yaml"), "\(command): \(bad.stderr)")
        }
        let path = try Self.committedBaseline()
        let r = try runBoxbench(["compare", path, path, "--format", "json"], environment: env(s))
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(json?["exitCode"] as? Int == 0, "\(r.stdout.prefix(300))")
    }

    /// `compare` fit for CI: a gate that can never fail (1 new sample per group against the baseline's) is said, and
    /// refused with --strict (exit 2).
    @Test func compareSaysWhenItCanNeverFail() throws {
        let s = Scratch("cli-compare")
        defer { s.cleanup() }
        let baseline = try Self.committedBaseline()
        var single = try ResultsStore.read(baseline)
        var seen = Set<String>()
        single.samples = single.samples.filter { seen.insert("\($0.workload)/\($0.arm)").inserted }
        try ResultsStore.write(single, to: s.path + "/single.json")
        let plain = try runBoxbench(
            ["compare", baseline, s.path + "/single.json", "--format", "terminal"], environment: env(s))
        #expect(plain.stdout.contains("can never reach p < 0.05"), "\(plain.stdout.prefix(600))")
        let strict = try runBoxbench(["compare", baseline, s.path + "/single.json", "--strict"], environment: env(s))
        #expect(strict.status == 2 && strict.stderr.contains("--strict"), "\(strict.stderr)")
        let metric = try runBoxbench(["compare", baseline, baseline, "--metric", "startup_typo"], environment: env(s))
        #expect(metric.status == 2 && metric.stderr.contains("startup_exit_ms"), "\(metric.stderr)")
    }

    /// Units and words: a VM run's sizes and memory in KiB/MiB/GiB, never raw byte counts.
    @Test(.enabled(if: getuid() == 0 && FileManager.default.fileExists(atPath: "/usr/bin/qemu-system-x86_64")))
    func vmRunSpeaksInOneUnitFamily() throws {
        let s = Scratch("cli-vm")
        defer { s.cleanup() }
        let rootfs = s.path + "/rootfs"
        for d in ["bin", "proc", "sys", "dev", "tmp"] {
            try FileManager.default.createDirectory(atPath: rootfs + "/" + d, withIntermediateDirectories: true)
        }
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: rootfs + "/bin/busybox")
        try FileManager.default.createSymbolicLink(atPath: rootfs + "/bin/true", withDestinationPath: "busybox")
        let r = try runBoxbench(["vm", "run", "--rootfs-dir", rootfs, "--accel", "tcg", "--", "/bin/true"])
        #expect(r.status == 0, "\(r.stderr)")
        let sizes = r.stderr.split(separator: "\n").first { $0.hasPrefix("sizes:") } ?? ""
        #expect(sizes.contains("MiB") || sizes.contains("KiB"), "\(sizes)")
        #expect(!sizes.contains(" B,") && !sizes.contains(" B\n"), "\(sizes)")
        #expect(!r.stderr.contains("KiB\")") && r.stderr.contains("guest MemTotal"), "\(r.stderr)")
    }

    /// Errors that keep the promise (exit 2, naming the file, line or command) and one flag style.
    @Test func everydayErrorsAndFlags() throws {
        let s = Scratch("cli-everyday")
        defer { s.cleanup() }
        let help = try runBoxbench(["container", "spec", "--help"], environment: env(s))
        #expect(help.status == 0 && help.stdout.contains("USAGE"), "\(help.stdout)")
        let runtime = URL(fileURLWithPath: boxbenchBinary).deletingLastPathComponent().appendingPathComponent(
            "boxbench-runtime"
        ).path
        #expect(FileManager.default.isExecutableFile(atPath: runtime), "no boxbench-runtime next to boxbench")
        do {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: runtime)
            p.arguments = ["--version"]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            p.waitUntilExit()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(p.terminationStatus == 0 && text.hasPrefix("boxbench-runtime version"), "\(text)")
        }
        let build = try runBoxbench(["image", "build", "-f", s.path + "/nope", "-t", "x", s.path], environment: env(s))
        #expect(build.status == 2 && build.stderr.contains("\(s.path)/nope: no such Dockerfile"), "\(build.stderr)")
        let bad = s.path + "/bad.json"
        try "{\n  \"schema\": \"boxbench.results/v2\",\n  oops\n}\n".write(
            toFile: bad, atomically: true, encoding: .utf8)
        let report = try runBoxbench(["report", bad], environment: env(s))
        #expect(report.status == 2 && report.stderr.contains("line 3, column 3"), "\(report.stderr)")
        let unknown = try runBoxbench(["imag", "ls"], environment: env(s))
        #expect(unknown.status == 2 && unknown.stderr.contains("did you mean image?"), "\(unknown.stderr)")
    }

    @Test func imageImportOfHostileTarExits2() throws {
        let s = Scratch("cli-tar")
        defer { s.cleanup() }
        try FileManager.default.createDirectory(atPath: s.path + "/tars", withIntermediateDirectories: true)
        #expect(try sh(["python3", Corpus.root + "/tars/make-tars.py", s.path + "/tars", s.path + "/outside"]) == 0)
        for name in ["dotdot.tar", "absolute.tar", "symlink-then-write.tar", "hardlink-escape.tar", "device-char.tar"] {
            let r = try runBoxbench(["image", "import", s.path + "/tars/" + name], environment: env(s))
            #expect(r.status == 2, "\(name): exit \(r.status): \(r.stderr)")
            #expect(r.stderr.contains("archive \(s.path)/tars/\(name): entry"), "\(name): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: s.path + "/outside"))
        let garbage = s.path + "/garbage.tar"
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: garbage))
        let r = try runBoxbench(["image", "import", garbage], environment: env(s))
        #expect(r.status == 2, "garbage archive: exit \(r.status): \(r.stderr)")
        #expect(r.stderr.contains(garbage))
    }

    @Test(arguments: [
        "memory-limit-overflow.yaml", "suite-name-traversal.yaml", "unknown-key.yaml", "alias-bomb.yaml",
        "binary-garbage.yaml", "workload-name-traversal.yaml",
    ])
    func runOfBadSuiteExits2(_ name: String) throws {
        let s = Scratch("cli-run")
        defer { s.cleanup() }
        let expect = try #require(try Corpus.expectations("suites").first { $0.name == name }).substrings
        let path = Corpus.root + "/suites/" + name
        let r = try runBoxbench(["run", "--quiet", "--output", s.path + "/out", path], environment: env(s))
        #expect(r.status == 2, "\(name): exit \(r.status): \(r.stderr)")
        #expect(r.stderr.contains(path), "\(name): \(r.stderr)")
        for sub in expect { #expect(r.stderr.contains(sub), "\(name): stderr lacks \(sub): \(r.stderr)") }
        #expect(!FileManager.default.fileExists(atPath: s.path + "/out"), "bad suite still created the output dir")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/boxbench-pwned"))
    }

    @Test(arguments: ["cgroups-path-root", "namespace-join-host", "nul-in-args", "unknown-field", "not-json", "sysctl"])
    func containerRunOfBadBundleExits2(_ name: String) throws {
        let s = Scratch("cli-bundle")
        defer { s.cleanup() }
        let expect = try #require(try Corpus.expectations("bundles").first { $0.name == name }).substrings
        let bundle = Corpus.root + "/bundles/" + name
        let r = try runBoxbench(["container", "run", "--bundle", bundle], environment: env(s))
        #expect(r.status == 2, "\(name): exit \(r.status): \(r.stderr)")
        #expect(r.stderr.contains(bundle + "/config.json"), "\(name): \(r.stderr)")
        for sub in expect { #expect(r.stderr.contains(sub), "\(name): stderr lacks \(sub): \(r.stderr)") }
        // Refused before anything was created.
        #expect(!FileManager.default.fileExists(atPath: s.path + "/run/containers/boxbench-\(getpid())"))
    }
}
