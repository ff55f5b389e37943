import Foundation
import Testing

@testable import Images

@Suite(.serialized) struct BuildTests {
    static let everyInstruction = """
        # escape=\\
        ARG BASE=boxbench/busybox
        FROM ${BASE} AS main
        ARG GREETING=hello
        ENV APP_HOME=/opt/app \\
            MODE="fast mode"
        LABEL org.example.title="bench app" version=1
        WORKDIR $APP_HOME
        COPY --chown=nobody:nogroup bbwork /usr/bin/bbwork
        COPY conf/*.conf ./conf/
        ADD bundle.tar.gz /opt/extracted/
        ADD notes.txt .
        RUN write /opt/app/run.txt ${GREETING}
        USER nobody
        EXPOSE 8080 9090/udp
        ENTRYPOINT ["/usr/bin/bbwork", "hello"]
        CMD ["--count", "3"]
        """

    func makeContext(_ dir: TempDir) throws -> String {
        let ctx = dir.path + "/ctx"
        dir.write("ctx/Dockerfile", Self.everyInstruction)
        dir.write("ctx/bbwork", "#!/bin/sh\necho work\n", mode: 0o755)
        dir.write("ctx/conf/a.conf", "a=1\n")
        dir.write("ctx/conf/b.conf", "b=2\n")
        dir.write("ctx/conf/skip.txt", "no\n")
        dir.write("ctx/notes.txt", "notes\n")
        dir.write("ctx/secret.key", "do not copy\n")
        dir.write("ctx/.dockerignore", "secret.key\n")
        dir.write("tarsrc/inner/file.txt", "from tar\n")
        let r = runTool(["tar", "-czf", ctx + "/bundle.tar.gz", "-C", dir.path + "/tarsrc", "inner"])
        #expect(r.status == 0, "\(r.output)")
        return ctx
    }

    @Test func everyInstructionBuildsAndFlattens() throws {
        let dir = TempDir("every")
        defer { dir.cleanup() }
        let store = try makeStore(dir)
        let ctx = try makeContext(dir)
        let log = LockedLog()
        let events = EventLog()
        let image = try ImageBuilder(store: store).build(
            BuildOptions(
                context: ctx, tag: try ImageReference(parsing: "bench/app:v1"), buildArgs: ["GREETING": "hi-there"],
                executor: FakeExecutor(log: log)),
            progress: { events.append($0) })

        let base = try store.resolve("boxbench/busybox")
        // busybox base layer + COPY, COPY, ADD, ADD, RUN
        #expect(image.manifest.layers.count == base.manifest.layers.count + 5)
        #expect(image.config.rootfs.diff_ids.count == image.manifest.layers.count)
        #expect(image.entrypoint == ["/usr/bin/bbwork", "hello"])
        #expect(image.cmd == ["--count", "3"])
        #expect(image.argv == ["/usr/bin/bbwork", "hello", "--count", "3"])
        #expect(image.env.contains("APP_HOME=/opt/app"))
        #expect(image.env.contains("MODE=fast mode"))
        #expect(image.workdir == "/opt/app")
        #expect(image.user == "nobody")
        #expect(image.config.config?.Labels?["org.example.title"] == "bench app")
        #expect(image.config.config?.ExposedPorts?.keys.sorted() == ["8080/tcp", "9090/udp"])
        let history = image.config.history ?? []
        #expect(history.filter { $0.empty_layer != true }.count == image.manifest.layers.count)

        // RUN saw ARG and ENV values, the workdir and the overlay of all layers so far.
        let step = try #require(log.all.first)
        #expect(step.argv == ["/bin/sh", "-c", "write /opt/app/run.txt ${GREETING}"])
        #expect(step.env.contains("GREETING=hi-there"))
        #expect(step.workdir == "/opt/app")
        #expect(step.lowerDirs.count == base.manifest.layers.count + 4)
        #expect(events.steps.count == 15)

        let rootfs = dir.path + "/rootfs"
        try store.flatten(image, into: rootfs)
        #expect(try String(contentsOfFile: rootfs + "/opt/app/run.txt", encoding: .utf8) == "hi-there")
        #expect(try String(contentsOfFile: rootfs + "/opt/extracted/inner/file.txt", encoding: .utf8) == "from tar\n")
        #expect(try String(contentsOfFile: rootfs + "/opt/app/notes.txt", encoding: .utf8) == "notes\n")
        #expect(FS.exists(rootfs + "/opt/app/conf/a.conf") && FS.exists(rootfs + "/opt/app/conf/b.conf"))
        #expect(!FS.exists(rootfs + "/opt/app/conf/skip.txt"))
        let st = try FS.lstatOrThrow(rootfs + "/usr/bin/bbwork")
        #expect(st.st_uid == 65534 && st.st_gid == 65534 && st.st_mode & 0o777 == 0o755)
        #expect(try FS.readLink(rootfs + "/bin/sh") == "/bin/busybox")
        #expect(try FS.lstatOrThrow(rootfs + "/tmp").st_mode & 0o7777 == 0o1777)

        let lowers = try store.lowerDirs(for: image)
        #expect(lowers.count == image.manifest.layers.count)
        #expect(FS.exists(lowers[0] + "/opt/app/run.txt"))  // top-most first
        #expect(FS.exists(lowers.last! + "/bin/busybox"))
    }

    @Test func runWithoutExecutorFailsClearly() throws {
        let dir = TempDir("norun")
        defer { dir.cleanup() }
        let store = try makeStore(dir)
        dir.write("ctx/Dockerfile", "FROM scratch\nRUN true\n")
        #expect {
            try ImageBuilder(store: store).build(BuildOptions(context: dir.path + "/ctx"))
        } throws: { e in
            (e as? DockerfileError)?.description
                == "\(dir.path)/ctx/Dockerfile:2: RUN: RUN needs the container runtime (not available)"
        }
        dir.write("ctx/Dockerfile", "FROM scratch\nRUN exit 3\n")
        #expect {
            try ImageBuilder(store: store).build(
                BuildOptions(context: dir.path + "/ctx", executor: FakeExecutor(log: LockedLog())))
        } throws: { e in
            "\(e)".contains("Dockerfile:2: RUN: command") && "\(e)".contains("exited with status 3")
        }
    }

    @Test func sameInputsGiveSameDigests() throws {
        let dir = TempDir("determinism")
        defer { dir.cleanup() }
        let ctx = try makeContext(dir)
        var digests: [Digest] = []
        var layerSets: [[Digest]] = []
        for i in 0..<2 {
            // Separate stores and no cache: the bytes are really produced twice.
            let store = try ImageStore(root: dir.path + "/store\(i)", layerCache: dir.path + "/layers\(i)")
            let image = try ImageBuilder(store: store).build(
                BuildOptions(
                    context: ctx, tag: ImageReference(name: "det"), noCache: true,
                    executor: FakeExecutor(log: LockedLog())))
            digests.append(image.digest)
            layerSets.append(image.manifest.layers.map(\.digest))
            // gzip header MTIME (bytes 4..<8) is zero.
            let blob = try FS.readFile(store.blobPath(image.manifest.layers.last!.digest))
            #expect(Array(blob[4..<8]) == [0, 0, 0, 0])
            _ = utime(ctx + "/notes.txt", nil)  // touch: mtimes must not matter
        }
        #expect(digests[0] == digests[1])
        #expect(layerSets[0] == layerSets[1])
    }

    @Test func changingOnlyTheLastStepAddsExactlyOneLayer() throws {
        let dir = TempDir("rebuild")
        defer { dir.cleanup() }
        let store = try makeStore(dir)
        dir.write("ctx/a.txt", "a\n")
        dir.write("ctx/b.txt", "b one\n")
        dir.write(
            "ctx/Dockerfile", "FROM boxbench/busybox\nCOPY a.txt /a.txt\nRUN write /r.txt run\nCOPY b.txt /b.txt\n")
        let opts = BuildOptions(
            context: dir.path + "/ctx", tag: ImageReference(name: "rebuild"), executor: FakeExecutor(log: LockedLog()))
        let first = try ImageBuilder(store: store).build(opts)
        let blobsBefore = Set(try FS.listDirectory(store.root + "/blobs/sha256"))
        dir.write("ctx/b.txt", "b two\n")
        let events = EventLog()
        let second = try ImageBuilder(store: store).build(opts, progress: { events.append($0) })
        let blobsAfter = Set(try FS.listDirectory(store.root + "/blobs/sha256"))
        let newLayers = Set(second.manifest.layers.map(\.digest)).subtracting(first.manifest.layers.map(\.digest))
        #expect(newLayers.count == 1)
        #expect(newLayers.first == second.manifest.layers.last?.digest)
        #expect(events.cacheHits == 2)
        // New blobs: that one layer, a config and a manifest.
        #expect(blobsAfter.subtracting(blobsBefore).count == 3)
        #expect(Array(second.manifest.layers.dropLast()) == Array(first.manifest.layers.dropLast()))
    }

    @Test(.enabled(if: getuid() == 0, "needs root: overlay's opaque marker is a trusted.* attribute"))
    func deletedFilesAndOpaqueDirsAreGoneAfterFlatten() throws {
        let dir = TempDir("whiteout")
        defer { dir.cleanup() }
        let store = try makeStore(dir)
        dir.write(
            "ctx/Dockerfile",
            """
            FROM boxbench/busybox
            RUN write /data/keep.txt k;write /data/gone.txt g;write /cfg/old.txt o
            RUN rm /data/gone.txt;rm /bin/vi;mkdir-opaque /cfg;write /cfg/new.txt n
            """)
        let image = try ImageBuilder(store: store).build(
            BuildOptions(
                context: dir.path + "/ctx", tag: ImageReference(name: "wh"), executor: FakeExecutor(log: LockedLog())))
        // The layer carries OCI whiteouts.
        let reader = try TarReader(path: store.blobPath(image.manifest.layers.last!.digest))
        var names: [String] = []
        try reader.forEach {
            names.append($0.path)
            return true
        }
        #expect(names.contains("data/.wh.gone.txt"))
        #expect(names.contains("cfg/.wh..wh..opq"))
        #expect(names.contains("bin/.wh.vi"))

        let rootfs = dir.path + "/rootfs"
        try store.flatten(image, into: rootfs)
        #expect(FS.exists(rootfs + "/data/keep.txt"))
        #expect(!FS.exists(rootfs + "/data/gone.txt"))
        #expect(!FS.exists(rootfs + "/bin/vi"))
        #expect(FS.exists(rootfs + "/bin/sh"))
        #expect(!FS.exists(rootfs + "/cfg/old.txt"))
        #expect(FS.exists(rootfs + "/cfg/new.txt"))
        #expect(!FS.exists(rootfs + "/data/.wh.gone.txt"))

        // As overlay lowerdirs the whiteouts are back in overlay form.
        let top = try store.lowerDirs(for: image)[0]
        let wh = try FS.lstatOrThrow(top + "/data/gone.txt")
        #expect(wh.st_mode & S_IFMT == S_IFCHR && wh.st_rdev == 0)
        #expect(Xattr.get(top + "/cfg", "trusted.overlay.opaque") == [UInt8(ascii: "y")])
    }

    @Test func imageFromAnotherSharesBaseLayers() throws {
        let dir = TempDir("sharing")
        defer { dir.cleanup() }
        let store = try makeStore(dir)
        dir.write("a/Dockerfile", "FROM boxbench/busybox\nCOPY x /x\n")
        dir.write("a/x", String(repeating: "x", count: 5000))
        let a = try ImageBuilder(store: store).build(
            BuildOptions(context: dir.path + "/a", tag: ImageReference(name: "img-a")))
        dir.write("b/Dockerfile", "FROM img-a\nCOPY y /y\nCOPY z /z\n")
        dir.write("b/y", "yy\n")
        dir.write("b/z", "zz\n")
        let b = try ImageBuilder(store: store).build(
            BuildOptions(context: dir.path + "/b", tag: ImageReference(name: "img-b")))

        let sizes = try store.sizes(of: b)
        #expect(sizes.layers.count == a.manifest.layers.count + 2)
        let base = sizes.layers.prefix(a.manifest.layers.count)
        #expect(base.allSatisfy { $0.sharedWith.contains("img-a:latest") })
        #expect(sizes.layers.suffix(2).allSatisfy { $0.sharedWith.isEmpty })
        let own = b.manifest.layers.suffix(2)
        #expect(sizes.uniqueCompressedBytes == own.reduce(0) { $0 + $1.size })
        #expect(sizes.sharedCompressedBytes == a.manifest.layers.reduce(0) { $0 + $1.size })
        #expect(sizes.uncompressedBytes > sizes.compressedBytes)

        let pull = try store.bytesToPull(image: b, given: a)
        #expect(pull.missingLayers == own.map(\.digest))
        #expect(pull.compressedBytes == own.reduce(0) { $0 + $1.size })
        let cold = try store.bytesToPull(image: b, given: nil)
        #expect(cold.compressedBytes == sizes.compressedBytes)
    }

    @Test func tamperedBlobIsDetected() throws {
        let dir = TempDir("tamper")
        defer { dir.cleanup() }
        let store = try makeStore(dir)
        let image = try store.ensureBusyboxBase()
        let layer = image.manifest.layers[0].digest
        let path = store.blobPath(layer)
        var data = try FS.readFile(path)
        data[data.count / 2] ^= 0xFF
        try FS.writeAtomically(path, data)
        #expect {
            try store.flatten(image, into: dir.path + "/rootfs")
        } throws: { e in
            let m = "\(e)"
            return (e as? ImageError)?.code == .digestMismatch && m.contains(layer.description) && m.contains(path)
        }
        // The config too: reading it through resolve fails naming the blob.
        let cfg = store.blobPath(image.manifest.config.digest)
        try FS.writeAtomically(cfg, Data("{}".utf8))
        #expect(throws: ImageError.self) { try store.resolve("boxbench/busybox") }
    }

    @Test func pruneRemovesOnlyUnreferencedBlobs() throws {
        let dir = TempDir("prune")
        defer { dir.cleanup() }
        let store = try makeStore(dir)
        dir.write("ctx/Dockerfile", "FROM boxbench/busybox\nCOPY f /f\n")
        dir.write("ctx/f", "f\n")
        let image = try ImageBuilder(store: store).build(
            BuildOptions(context: dir.path + "/ctx", tag: ImageReference(name: "p")))
        let stray = try store.putBlob(Data("stray".utf8))
        var report = try store.prune()
        #expect(report.removedBlobs == [stray])
        try store.remove("p")
        report = try store.prune()
        #expect(report.removedBlobs.contains(image.manifest.layers.last!.digest))
        #expect(try store.resolve("boxbench/busybox").manifest.layers.count == 1)
        #expect(throws: ImageError.self) { try store.resolve("p") }
    }
}

final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [BuildEvent] = []
    func append(_ e: BuildEvent) { lock.withLock { events.append(e) } }
    var steps: [String] {
        lock.withLock { events.compactMap { if case .step(_, _, let t) = $0 { t } else { nil } } }
    }
    var cacheHits: Int { lock.withLock { events.filter { if case .cacheHit = $0 { true } else { false } }.count } }
}
