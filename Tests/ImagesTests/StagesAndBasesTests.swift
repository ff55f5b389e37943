import Foundation
import Testing

@testable import Images

/// Multi-stage builds (`COPY --from`, `--target`), the RUN network choice, the error for a missing base, and the
/// Debian recipes and host sources — without root where the fake executor does the RUN steps.
@Suite(.serialized) struct StagesAndBasesTests {
    func build(_ dockerfile: String, _ dir: TempDir, target: String? = nil, log: LockedLog = LockedLog()) throws
        -> StoredImage
    {
        dir.write("ctx/Dockerfile", dockerfile)
        let store = try makeStore(dir)
        return try ImageBuilder(store: store).build(
            BuildOptions(
                context: dir.path + "/ctx", tag: try ImageReference(parsing: "test/stages:1"),
                executor: FakeExecutor(log: log), network: .none, target: target))
    }

    func files(_ image: StoredImage, _ dir: TempDir) throws -> String {
        let store = try makeStore(dir)
        let out = dir.path + "/flat-\(UInt32.random(in: 0...UInt32.max))"
        try store.flatten(image, into: out)
        return out
    }

    static let twoStages = """
        FROM boxbench/busybox AS build
        RUN write /out/artifact.txt built-in-stage
        RUN write /out/other.txt not-copied
        FROM boxbench/busybox AS unused
        RUN write /never.txt x
        FROM boxbench/busybox
        COPY --from=build /out/artifact.txt /srv/artifact.txt
        COPY --from=0 /out/other.txt /srv/by-index.txt
        COPY --from=boxbench/busybox /etc/passwd /srv/passwd-from-image
        """

    @Test func copyFromAStageByNameByIndexAndFromAnImage() throws {
        let dir = TempDir("stages")
        defer { dir.cleanup() }
        let log = LockedLog()
        let image = try build(Self.twoStages, dir, log: log)
        let root = try files(image, dir)
        #expect(try String(contentsOfFile: root + "/srv/artifact.txt", encoding: .utf8) == "built-in-stage")
        #expect(try String(contentsOfFile: root + "/srv/by-index.txt", encoding: .utf8) == "not-copied")
        #expect(try String(contentsOfFile: root + "/srv/passwd-from-image", encoding: .utf8).hasPrefix("root:"))
        // Only the final stage's layers: the build stage's files are not in the image, only what was copied.
        #expect(!FileManager.default.fileExists(atPath: root + "/out/artifact.txt"))
        #expect(!FileManager.default.fileExists(atPath: root + "/never.txt"))
        // RUN steps saw the network asked for.
        #expect(log.all.allSatisfy { $0.network == .none })
    }

    @Test func targetStopsAtTheNamedStage() throws {
        let dir = TempDir("target")
        defer { dir.cleanup() }
        let log = LockedLog()
        let image = try build(Self.twoStages, dir, target: "build", log: log)
        let root = try files(image, dir)
        #expect(FileManager.default.fileExists(atPath: root + "/out/artifact.txt"))
        #expect(!FileManager.default.fileExists(atPath: root + "/srv"))
        // Later stages never ran.
        #expect(log.all.count == 2)
        let bad = TempDir("target-bad")
        defer { bad.cleanup() }
        #expect(throws: DockerfileError.self) { try build(Self.twoStages, bad, target: "nosuch") }
    }

    /// Symlinks in the source stage resolve inside that stage — an absolute one and one climbing with `..` — and a
    /// source that is a symlink copies what it names, as Docker does. The host's own /etc/hostname never leaks in.
    @Test func copyFromResolvesSymlinksInsideTheStage() throws {
        let dir = TempDir("symlink")
        let missing = TempDir("symlink-missing")
        let later = TempDir("later-stage")
        defer {
            dir.cleanup()
            missing.cleanup()
            later.cleanup()
        }
        let image = try build(
            """
            FROM boxbench/busybox AS src
            RUN write /etc/hostname inside-stage; link /abs /etc/hostname; link /data/up ../etc/hostname
            FROM boxbench/busybox AS others
            COPY --from=src /abs /copied-abs
            COPY --from=src /data/up /copied-up
            """, dir)
        let root = try files(image, dir)
        let host = (try? String(contentsOfFile: "/etc/hostname", encoding: .utf8)) ?? ""
        for copied in ["/copied-abs", "/copied-up"] {
            var st = stat()
            #expect(lstat(root + copied, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG, "\(copied) is a file")
            let text = try String(contentsOfFile: root + copied, encoding: .utf8)
            #expect(text == "inside-stage", "\(copied): \(text)")
            #expect(host.isEmpty || text != host)
        }
        do {
            _ = try build(
                """
                FROM boxbench/busybox AS src
                FROM boxbench/busybox
                COPY --from=src /no/such/file /x
                """, missing)
            Issue.record("a missing --from source was accepted")
        } catch let error as DockerfileError {
            #expect(error.description.contains("not found in the --from stage"), "\(error)")
        }
        // Only earlier stages: a later one (or this one) is refused, not taken for an image of that name.
        #expect(throws: DockerfileError.self) {
            try build(
                "FROM boxbench/busybox AS first\nCOPY --from=second /etc/passwd /p\nFROM boxbench/busybox AS second\n",
                later)
        }
    }

    @Test func aMissingBaseNamesTheWaysToGetIt() throws {
        let dir = TempDir("missing-base")
        defer { dir.cleanup() }
        do {
            _ = try build("FROM debian:trixie-slim\nCMD [\"true\"]\n", dir)
            Issue.record("a base the store lacks was accepted")
        } catch let error as DockerfileError {
            let text = error.description
            #expect(text.contains("Dockerfile:1: FROM"), "\(text)")
            #expect(text.contains("boxbench image bootstrap debian:trixie-slim"), "\(text)")
            #expect(text.contains("boxbench image import"), "\(text)")
        }
    }

    @Test func debianRecipes() throws {
        func recipe(_ s: String) throws -> DebianBase.Recipe? { DebianBase.recipe(for: try ImageReference(parsing: s)) }
        #expect(try recipe("debian:bookworm") == DebianBase.Recipe(suite: "bookworm", slim: false))
        #expect(try recipe("debian:bookworm-slim") == DebianBase.Recipe(suite: "bookworm", slim: true))
        #expect(try recipe("docker.io/library/debian:trixie-slim") == DebianBase.Recipe(suite: "trixie", slim: true))
        #expect(try recipe("debian") == nil)  // latest: ambiguous, name the suite
        #expect(try recipe("ubuntu:noble") == nil)
        #expect(try recipe("boxbench/busybox") == nil)
    }

    /// The mirror comes from the host's apt configuration (deb822 and one-line files), renamed to the suite asked
    /// for; disabled and source-only stanzas are left out.
    @Test func hostSourcesAreTheHostsMirrorsForTheSuite() throws {
        let dir = TempDir("sources")
        defer { dir.cleanup() }
        dir.write(
            "apt/sources.list.d/debian.sources",
            """
            Types: deb
            URIs: http://mirror.example/debian
            Suites: bookworm bookworm-updates
            Components: main
            Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

            Types: deb-src
            URIs: http://mirror.example/debian
            Suites: bookworm
            Components: main

            Types: deb
            URIs: https://download.docker.com/linux/debian
            Suites: bookworm
            Components: stable
            Signed-By: /etc/apt/keyrings/docker.gpg

            Types: deb
            URIs: http://off.example/debian
            Suites: bookworm
            Components: main
            Enabled: no
            """)
        dir.write("os-release", "NAME=\"Debian GNU/Linux\"\nVERSION_CODENAME=bookworm\n")
        let same = try DebianBase.hostSources(
            suite: "bookworm", aptDirectory: dir.path + "/apt", osRelease: dir.path + "/os-release")
        #expect(same.contains("URIs: http://mirror.example/debian"))
        #expect(same.contains("Suites: bookworm bookworm-updates"))
        #expect(!same.contains("off.example") && !same.contains("deb-src"))
        // A third-party repository (its own key) stays out of the image.
        #expect(!same.contains("docker.com"))
        let other = try DebianBase.hostSources(
            suite: "trixie", aptDirectory: dir.path + "/apt", osRelease: dir.path + "/os-release")
        #expect(other.contains("Suites: trixie trixie-updates"))
        dir.write("apt/sources.list", "deb http://one.example/debian bookworm main\n# deb http://x bookworm main\n")
        let mixed = try DebianBase.hostSources(
            suite: "trixie", aptDirectory: dir.path + "/apt", osRelease: dir.path + "/os-release")
        #expect(mixed.contains("URIs: http://mirror.example/debian"))
        // The one-line entry, converted and renamed; the commented one ignored.
        #expect(mixed.contains("URIs: http://one.example/debian\nSuites: trixie\nComponents: main"), "\(mixed)")
        #expect(!mixed.contains("http://x"))
        #expect(throws: ImageError.self) {
            try DebianBase.hostSources(
                suite: "bookworm", aptDirectory: dir.path + "/none", osRelease: dir.path + "/os-release")
        }
    }
}
