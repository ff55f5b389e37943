import Foundation
import Testing

@testable import Registry

/// The commands as users run them: a Debian image (slim base made with mmdebstrap, an apt-installed package, a
/// multi-stage `COPY --from`) built with `boxbench image build`, pushed with `boxbench image push` to Debian's
/// docker-registry on 127.0.0.1, pulled with `boxbench image pull` into an empty store: identical digests, and a
/// second push and pull move no blob bytes. (Running such an image in every arm: SuitesTests.RealImageTests.)
@Suite(
    .serialized, .timeLimit(.minutes(15)),
    .enabled(if: getuid() == 0, "needs root: the build's RUN steps run in boxbench's runtime"),
    .enabled(
        if: Tools.haveRegistryAndSkopeo && FileManager.default.isExecutableFile(atPath: "/usr/bin/mmdebstrap"),
        "needs docker-registry, skopeo and mmdebstrap (scripts/setup)"))
struct BoxbenchCLITests {
    static var boxbench: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/boxbench").path
    }

    /// Benchmarks/examples/debian-multistage/Dockerfile, the example Benchmarks/README.md shows.
    static var dockerfile: String {
        get throws {
            try String(
                contentsOfFile: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                    .deletingLastPathComponent().path + "/Benchmarks/examples/debian-multistage/Dockerfile",
                encoding: .utf8)
        }
    }

    /// boxbench's stdout; throws with its stderr on a non-zero exit.
    @discardableResult
    func boxbench(_ arguments: [String]) throws -> String {
        try run(Self.boxbench, arguments, environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"])
    }

    @Test func buildPushPullKeepsDigestsAndSkipsWhatIsThere() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.boxbench) else {
            Issue.record("\(Self.boxbench) is missing: swift build first")
            return
        }
        let work = try makeTempDirectory("boxbench-cli-registry")
        defer { try? FileManager.default.removeItem(at: work) }
        let registry = try LocalRegistry()
        defer { registry.stop() }
        let ctx = work.appendingPathComponent("ctx").path
        try FileManager.default.createDirectory(atPath: ctx, withIntermediateDirectories: true)
        try (try Self.dockerfile).write(toFile: ctx + "/Dockerfile", atomically: true, encoding: .utf8)
        let source = work.appendingPathComponent("source-store").path
        let empty = work.appendingPathComponent("empty-store").path

        // A FROM the store lacks is bad input that names the ways to get it.
        do {
            try boxbench(["image", "build", "--store", source, "-t", "jqdemo:1", ctx])
            Issue.record("built FROM a base the store does not have")
        } catch {
            #expect("\(error)".contains("exited 2"), "\(error)")
            #expect("\(error)".contains("image bootstrap debian:bookworm-slim"), "\(error)")
        }
        try boxbench(["image", "bootstrap", "--store", source, "debian:bookworm-slim"])
        let built = try boxbench(["image", "build", "--store", source, "-q", "-t", "jqdemo:1", ctx])
            .trimmingCharacters(in: .whitespacesAndNewlines)

        let remote = "\(registry.host)/bench/jqdemo:1"
        let first = try boxbench([
            "image", "push", "--store", source, "--tls-verify=false", "--json", "jqdemo:1", remote,
        ])
        struct Report: Decodable {
            var digest: String
            var blobBytesTransferred: Int64
            var blobs: [Blob]
            struct Blob: Decodable {
                var outcome: String
            }
        }
        let pushed = try JSONDecoder().decode(Report.self, from: Data(first.utf8))
        #expect(pushed.digest == built)
        #expect(pushed.blobs.count == 4, "config + the base, apt and COPY --from layers: \(pushed.blobs.count)")
        #expect(pushed.blobBytesTransferred > 20_000_000, "the slim base is ~27 MB compressed")
        let again = try JSONDecoder().decode(
            Report.self,
            from: Data(
                try boxbench(["image", "push", "--store", source, "--tls-verify=false", "--json", "jqdemo:1", remote])
                    .utf8))
        #expect(again.blobBytesTransferred == 0 && again.blobs.allSatisfy { $0.outcome == "present" })

        let pulled = try JSONDecoder().decode(
            Report.self,
            from: Data(
                try boxbench([
                    "image", "pull", "--store", empty, "--tls-verify=false", "--json", "-t", "jqdemo:1", remote,
                ])
                .utf8))
        #expect(pulled.digest == built)
        let inspected = try boxbench(["image", "inspect", "--store", empty, "jqdemo:1"])
        #expect(inspected.contains(built), "\(inspected)")
        // Every blob is the same file in both stores.
        for name in try FileManager.default.contentsOfDirectory(atPath: empty + "/blobs/sha256") {
            #expect(FileManager.default.fileExists(atPath: source + "/blobs/sha256/" + name))
        }
        let twice = try JSONDecoder().decode(
            Report.self,
            from: Data(
                try boxbench([
                    "image", "pull", "--store", empty, "--tls-verify=false", "--json", "-t", "jqdemo:1", remote,
                ])
                .utf8))
        #expect(twice.blobBytesTransferred == 0)
    }
}
