import Containers
import Foundation
import Images
import Machines
import Probes
import Registry
import Results

/// RUN steps of image builds execute in boxbench's own container runtime on an overlay of the layers so far.
public struct ContainerRunStepExecutor: RunStepExecutor {
    let runtime: ContainerRuntime
    public init(runtime: ContainerRuntime = ContainerRuntime()) { self.runtime = runtime }

    public func run(_ step: RunStep, output: @Sendable (String) -> Void) throws -> Int32 {
        let id = OwnedName.build.name(String(UInt32.random(in: 0...UInt32.max)))
        var spec = RuntimeSpec.defaultSpec(
            args: step.argv, rootPath: "\(runtime.stateRoot)/\(id)/rootfs", hostname: "build")
        spec.process?.env = step.env
        spec.process?.cwd = step.workdir.isEmpty ? "/" : step.workdir
        spec.root?.readonly = false
        // Builds install and chown files: give RUN the capabilities Docker's default grants.
        let buildCaps =
            Capability.defaultSet + [
                "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_SETGID", "CAP_SETUID", "CAP_MKNOD",
                "CAP_SETFCAP", "CAP_SETPCAP", "CAP_SYS_CHROOT",
            ]
        spec.setCapabilities(buildCaps)
        if let user = step.user, !user.isEmpty {
            // Names resolve in the top-most layer that has /etc/passwd (what the step's rootfs shows).
            let passwdLayer = step.lowerDirs.first { FileManager.default.fileExists(atPath: $0 + "/etc/passwd") }
            let resolved = try ImageStore.resolveUser(user, rootfs: passwdLayer ?? step.lowerDirs[0])
            spec.setUser(uid: resolved.uid, gid: resolved.gid)
        }
        // The host's network, as `docker build --network host`: no network namespace, and the host's resolver
        // configuration bound read-only where the image has none of its own.
        var createdTargets: [String] = []
        if step.network == .host {
            spec.linux?.namespaces?.removeAll { $0.type == "network" }
            for file in ["/etc/resolv.conf", "/etc/hosts"] where FileManager.default.fileExists(atPath: file) {
                // What the image has there, top layer first (lstat: an image's symlink is not followed on the host).
                var st = stat()
                let top = step.lowerDirs.first { lstat($0 + file, &st) == 0 }
                // An image that makes it a symlink (e.g. to a resolver of its own) keeps it: nothing to bind over.
                if top != nil && (st.st_mode & S_IFMT) == S_IFLNK { continue }
                if top == nil { createdTargets.append(file) }
                spec.mounts?.append(
                    RuntimeSpec.Mount(
                        destination: file, type: "bind", source: file,
                        options: ["bind", "ro", "nosuid", "nodev", "noexec"]))
            }
        }
        let request = ContainerRequest(
            id: id, bundle: step.upperDir, spec: spec,
            overlay: OverlayRootfs(lowerDirs: step.lowerDirs, upperDir: step.upperDir, workDir: step.workDir),
            io: .capture, timeout: .seconds(3600))
        let result = try runtime.run(request)
        // The empty files made as mount targets are not the step's work: they stay out of its layer.
        for file in createdTargets {
            var st = stat()
            if lstat(step.upperDir + file, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size == 0 {
                unlink(step.upperDir + file)
            }
        }
        let text = String(decoding: result.stdout + result.stderr, as: UTF8.self)
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            output(String(line))
        }
        return result.exit.shellStatus
    }
}

/// Host programs for the image store (mmdebstrap), through boxbench's own process launcher.
public struct HostProcessCommandRunner: HostCommandRunner {
    public init() {}

    public func run(_ argv: [String], environment: [String], timeout: Duration) throws -> (
        status: Int32, output: String
    ) {
        let r = try HostProcess.run(
            HostProcessRequest(
                path: argv[0], args: [(argv[0] as NSString).lastPathComponent] + argv.dropFirst(), env: environment,
                // Its own group: a timeout or a signal kills mmdebstrap's apt and dpkg children too.
                cgroupName: "boxbench/" + OwnedName.build.name("host-command"), timeout: timeout))
        if r.timedOut { return (124, String(decoding: r.stdout + r.stderr, as: UTF8.self) + "\n(timed out)") }
        return (r.exit.shellStatus, String(decoding: r.stdout + r.stderr, as: UTF8.self))
    }
}

/// Builds a workload's image from its Dockerfile and prepares it for every arm (layers + flattened rootfs).
public struct WorkloadImages: Sendable {
    public let paths: BoxbenchPaths
    let progress: @Sendable (String) -> Void

    public init(paths: BoxbenchPaths = BoxbenchPaths(), progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.paths = paths
        self.progress = progress
    }

    /// `fullOS`: also the image a full-OS VM guest boots (a suite with a `guest: full-os` arm asks for it).
    public func prepare(_ w: WorkloadSpec, fullOS: Bool = false) throws -> PreparedImage {
        let store = try ImageStore(root: paths.imageStore, layerCache: paths.layerCache)
        _ = try store.ensureBusyboxBase()
        let context = try makeContext(for: w, prefix: OwnedName.context.name())
        defer { try? FileManager.default.removeItem(atPath: context) }
        let dockerfile = "\(context)/\((w.dockerfile as NSString).lastPathComponent)"
        try ensureDebianBases(of: dockerfile, in: store, workload: w.name)
        // The tag carries the Dockerfile's own path: a user's workload named like a built-in one never replaces it.
        let source = Digest.of(Data((w.dockerfile + "\u{0}" + w.context).utf8))
        let tag = try ImageReference(parsing: "boxbench/workload-\(w.name):" + source.short)
        let progress = self.progress
        let image = try ImageBuilder(store: store).build(
            BuildOptions(context: context, dockerfile: dockerfile, tag: tag, executor: ContainerRunStepExecutor()),
            progress: { event in
                if case .step(let i, let total, let text) = event { progress("\(w.name): step \(i)/\(total) \(text)") }
            })
        let lowers = try store.lowerDirs(for: image)
        let rootfs = try store.flattenedRootfs(image, under: paths.state + "/rootfs")
        let sizes = try store.sizes(of: image)
        let name = "boxbench/workload-\(w.name)"
        let user = try image.user.flatMap { $0.isEmpty ? nil : try ImageStore.resolveUser($0, rootfs: rootfs) }
        var prepared = PreparedImage(
            name: name, digest: image.digest.description, lowerDirs: lowers, rootfs: rootfs,
            argv: image.entrypoint + (w.args ?? image.cmd), entrypoint: image.entrypoint, env: image.env,
            workdir: image.workdir,
            sizes: [
                ArtifactSize(
                    image: name, armKey: "container", component: "layers-compressed",
                    bytes: UInt64(sizes.compressedBytes)),
                ArtifactSize(
                    image: name, armKey: "container", component: "layers-uncompressed",
                    bytes: UInt64(sizes.uncompressedBytes)),
            ])
        prepared.user = user
        prepared.reference = tag.description
        // Only the full-OS arm needs it: its failure fails that arm's runs, not the workload everywhere.
        if fullOS {
            do {
                prepared.fullOS = try fullOSImage(of: image, rootfs: rootfs, tag: tag, workload: w.name, store: store)
            } catch {
                prepared.fullOSUnavailable = "\(error)"
            }
        }
        return prepared
    }

    /// The workload's image with systemd: itself when it has systemd, else built FROM it with one more step that
    /// installs `systemd-sysv` from the image's own apt sources (cached like any build).
    func fullOSImage(of image: StoredImage, rootfs: String, tag: ImageReference, workload: String, store: ImageStore)
        throws -> FullOSImage
    {
        if GuestArtifactBuilder.systemdPaths.contains(where: { access(rootfs + $0, X_OK) == 0 }) {
            return FullOSImage(
                digest: image.digest.description, rootfs: rootfs, osLayerCompressedBytes: 0, osLayerUncompressedBytes: 0
            )
        }
        guard access(rootfs + "/usr/bin/apt-get", X_OK) == 0 else {
            throw ImageError(
                .unsupported,
                "workload \(workload): a full-os guest boots the image's own systemd, and its image has neither "
                    + "systemd nor apt-get to install it (use a Debian base, e.g. FROM debian:bookworm-slim)")
        }
        let step =
            "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd-sysv"
            + " && apt-get clean && rm -rf /var/lib/apt/lists/*"
        let context = try makeTempDirectory(OwnedName.context.name())
        defer { try? FileManager.default.removeItem(atPath: context) }
        try "FROM \(tag.description)\nUSER root\nRUN \(step)\n".write(
            toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        let osTag = try ImageReference(parsing: "boxbench/full-os-\(workload):" + image.digest.short)
        progress("\(workload): the full-os guest's image (systemd-sysv on top)…")
        let osImage = try ImageBuilder(store: store).build(
            BuildOptions(
                context: context, dockerfile: context + "/Dockerfile", tag: osTag, executor: ContainerRunStepExecutor()),
            progress: { _ in })
        let added = try store.bytesToPull(image: osImage, given: image)
        return FullOSImage(
            digest: osImage.digest.description,
            rootfs: try store.flattenedRootfs(osImage, under: paths.state + "/rootfs"),
            osLayerCompressedBytes: UInt64(added.compressedBytes),
            osLayerUncompressedBytes: UInt64(added.uncompressedBytes))
    }

    /// Debian bases a workload's Dockerfile starts FROM and the store lacks are made here (mmdebstrap, the host's
    /// apt mirrors), once: a suite needs no separate `image bootstrap` step.
    func ensureDebianBases(of dockerfilePath: String, in store: ImageStore, workload: String) throws {
        let dockerfile = try Dockerfile.load(dockerfilePath)
        for ins in dockerfile.instructions {
            guard case .from(let image, _) = ins.kind, let ref = try? ImageReference(parsing: image),
                DebianBase.recipe(for: ref) != nil, (try? store.resolve(image)) == nil
            else { continue }
            progress("\(workload): bootstrapping \(image) with mmdebstrap (once)…")
            _ = try store.bootstrapDebian(ref, runner: HostProcessCommandRunner())
        }
    }

    /// The workload's context plus the kit items its Dockerfile COPYs and the context lacks (`bbwork`, the staged
    /// `sysbench/` tree), so the same bytes run in every arm without binaries in the source tree. The Dockerfile
    /// keeps its name; the caller removes the directory.
    func makeContext(for w: WorkloadSpec, prefix: String) throws -> String {
        let context = try makeTempDirectory(prefix)
        do {
            for item in try FileManager.default.contentsOfDirectory(atPath: w.context) {
                try FileManager.default.copyItem(atPath: "\(w.context)/\(item)", toPath: "\(context)/\(item)")
            }
            let name = (w.dockerfile as NSString).lastPathComponent
            if !FileManager.default.fileExists(atPath: "\(context)/\(name)") {
                try FileManager.default.copyItem(atPath: w.dockerfile, toPath: "\(context)/\(name)")
            }
            for item in try kitItems(copiedBy: w.dockerfile)
            where !FileManager.default.fileExists(atPath: "\(context)/\(item)") {
                let source = "\(paths.kitDir)/\(item)"
                guard FileManager.default.fileExists(atPath: source) else {
                    throw ImageError(
                        .notFound,
                        "\(w.dockerfile) copies \(item), which is neither in its context nor in the kit "
                            + "(\(source)): run scripts/setup")
                }
                try FileManager.default.copyItem(atPath: source, toPath: "\(context)/\(item)")
            }
            return context
        } catch {
            try? FileManager.default.removeItem(atPath: context)
            throw error
        }
    }

    /// The first path component of every plain COPY/ADD source: `COPY bbwork /usr/bin/bbwork` → `bbwork`,
    /// `COPY sysbench/ /` → `sysbench`.
    func kitItems(copiedBy dockerfile: String) throws -> [String] {
        var items: [String] = []
        for instruction in try Dockerfile.load(dockerfile).instructions {
            let spec: CopySpec
            switch instruction.kind {
            // `COPY --from` copies from a stage or image, not the context.
            case .copy(let s) where s.from == nil, .add(let s): spec = s
            default: continue
            }
            for source in spec.sources {
                guard let first = source.split(separator: "/").first.map(String.init),
                    first != ".", first != "..", !first.contains(where: { "*?[$".contains($0) }), !items.contains(first)
                else { continue }
                items.append(first)
            }
        }
        return items
    }

    /// The two variants of C5's rebuild probe: the workload's Dockerfile plus one appended last step that differs.
    /// Both stay tagged in the store until `removeRebuildVariants`.
    func buildRebuildVariants(for w: WorkloadSpec, store: ImageStore) throws -> [StoredImage] {
        let context = try makeContext(for: w, prefix: OwnedName.rebuild.name())
        defer { try? FileManager.default.removeItem(atPath: context) }
        let original = try String(contentsOfFile: w.dockerfile, encoding: .utf8)
        return try ["a", "b"].map { variant in
            let dockerfile = "\(context)/Dockerfile.rebuild-\(variant)"
            try (original + "\nRUN echo \(variant) > /etc/boxbench-rebuild-probe\n").write(
                toFile: dockerfile, atomically: true, encoding: .utf8)
            return try ImageBuilder(store: store).build(
                BuildOptions(
                    context: context, dockerfile: dockerfile,
                    tag: try ImageReference(parsing: "boxbench/rebuild-probe-\(w.name):\(variant)"),
                    executor: ContainerRunStepExecutor()), progress: { _ in })
        }
    }

    func removeRebuildVariants(for w: WorkloadSpec, store: ImageStore) {
        for variant in ["a", "b"] { try? store.remove("boxbench/rebuild-probe-\(w.name):\(variant)") }
    }

    /// The image the Dockerfile's final stage starts FROM (through stage names: `FROM base` where `base` is an
    /// earlier stage's alias); nil for `scratch` or a FROM the store cannot name (an unresolved ARG).
    static func finalBase(of dockerfile: Dockerfile) -> String? {
        var stages: [(from: String, alias: String?)] = []
        for ins in dockerfile.instructions {
            if case .from(let image, let alias) = ins.kind { stages.append((image, alias)) }
        }
        guard var from = stages.last?.from else { return nil }
        for stage in stages.reversed() where stage.alias?.lowercased() == from.lowercased() { from = stage.from }
        return from == "scratch" || from.contains("$") ? nil : from
    }

    /// C5 figures for a workload image against the base its final stage is built FROM: the store's arithmetic, the
    /// rebuild probe, and the same over the wire through a loopback docker-registry.
    public func layerSharing(for image: PreparedImage, workload: WorkloadSpec? = nil) -> LayerSharing? {
        let baseName =
            workload.flatMap { w in (try? Dockerfile.load(w.dockerfile)).flatMap(Self.finalBase) } ?? "boxbench/busybox"
        guard let store = try? ImageStore(root: paths.imageStore, layerCache: paths.layerCache),
            let stored = try? store.resolve(image.reference ?? image.name), let base = try? store.resolve(baseName),
            let pull = try? store.bytesToPull(image: stored, given: base), let sizes = try? store.sizes(of: stored)
        else { return nil }
        let shared = Set(base.manifest.layers.map(\.digest))
        let sharedBytes = stored.manifest.layers.filter { shared.contains($0.digest) }.reduce(Int64(0)) { $0 + $1.size }
        var record = LayerSharing(
            image: image.name, base: baseName, imageCompressedBytes: UInt64(sizes.compressedBytes),
            sharedCompressedBytes: UInt64(sharedBytes), bytesToPullGivenBase: UInt64(pull.compressedBytes),
            newLayersOnLastStepRebuild: nil)
        var variants: [StoredImage] = []
        if let w = workload {
            do {
                variants = try buildRebuildVariants(for: w, store: store)
                record.newLayersOnLastStepRebuild =
                    Set(variants[1].manifest.layers.map(\.digest)).subtracting(
                        variants[0].manifest.layers.map(\.digest)
                    )
                    .count
            } catch {
                FileHandle.standardError.write(Data("rebuild probe for \(w.name) failed: \(error)\n".utf8))
            }
        }
        defer { if let w = workload { removeRebuildVariants(for: w, store: store) } }
        guard let imageTag = stored.reference?.description, let baseTag = base.reference?.description else {
            return record
        }
        progress("\(image.name): pushing and pulling through a loopback registry (C5)…")
        do {
            record.wire = try wireTransfer(
                store: store, image: imageTag, base: baseTag,
                rebuild: variants.count == 2 ? variants.compactMap { $0.reference?.description } : [])
        } catch {
            FileHandle.standardError.write(Data("C5 transfer for \(image.name) not measured: \(error)\n".utf8))
        }
        return record
    }

    /// Real pushes and pulls (OCI distribution API) through Debian's docker-registry on 127.0.0.1: the image alone,
    /// the image where its base already is (push, then pull into a store holding the base), and the second
    /// rebuild variant after the first.
    func wireTransfer(store: ImageStore, image: String, base: String, rebuild: [String]) throws -> WireTransfer {
        let registry = try LoopbackRegistry()
        defer { registry.stop() }
        let (root, host, pullRoot) = (store.root, registry.host, registry.directory + "/pull")
        let options = RegistryClientOptions(tlsVerify: false, userAgent: "boxbench")
        return try store.withBlobWriters {
            try blockingAwait {
                try await RegistryClient.withClient(options: options) { client in
                    let layout = OCILayout(path: root)
                    let ref = { (repo: String, tag: String) in
                        try RegistryReference(parsing: "\(host)/c5/\(repo):\(tag)")
                    }
                    let alone = try await client.push(layout: layout, tag: image, to: ref("alone", "image"))
                    _ = try await client.push(layout: layout, tag: base, to: ref("layered", "base"))
                    let givenBase = try await client.push(layout: layout, tag: image, to: ref("layered", "image"))
                    let pulled = OCILayout(path: pullRoot)
                    _ = try await client.pull(ref("layered", "base"), into: pulled)
                    let pullGivenBase = try await client.pull(ref("layered", "image"), into: pulled)
                    var wire = WireTransfer(
                        registry: "\(registry.version) on 127.0.0.1", pushAloneBytes: alone.bytesOnTheWire,
                        pushGivenBaseBytes: givenBase.bytesOnTheWire, pullGivenBaseBytes: pullGivenBase.bytesOnTheWire)
                    if rebuild.count == 2 {
                        _ = try await client.push(layout: layout, tag: rebuild[0], to: ref("rebuild", "a"))
                        let second = try await client.push(layout: layout, tag: rebuild[1], to: ref("rebuild", "b"))
                        wire.pushAfterLastStepChangeBytes = second.bytesOnTheWire
                        wire.layersSentAfterLastStepChange =
                            second.blobs.filter {
                                $0.outcome == .transferred && $0.mediaType?.contains("layer") == true
                            }
                            .count
                    }
                    return wire
                }
            }
        }
    }
}

extension TransferReport {
    /// Blob and manifest bytes that crossed the connection.
    var bytesOnTheWire: UInt64 { UInt64(max(0, totalBytesTransferred)) }
}

func makeTempDirectory(_ prefix: String) throws -> String {
    var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
    guard let p = mkdtemp(&template) else {
        throw ContainerError(id: prefix, operation: "mkdtemp", detail: "/tmp", errno: errno)
    }
    return String(cString: p)
}

/// `boxbench image bundle`: the image flattened into `dir/rootfs` and a config.json with `container spec`'s safe
/// defaults (Docker's capabilities and seccomp profile, masked and read-only paths, no_new_privs) around the
/// image's own process, user and working directory, for boxbench's runtime, crun or runc alike.
public func writeRuntimeBundle(store: ImageStore, image: StoredImage, into dir: String) throws {
    let process = try store.bundleRootfs(image, into: dir)
    // The rootfs holds the image's setuid files: only root reaches the bundle, as with the store itself.
    chmod(dir, 0o700)
    var spec = RuntimeSpec.defaultSpec(args: process.args, rootPath: "rootfs")
    spec.process?.env = process.env
    spec.process?.cwd = process.cwd
    spec.setUser(uid: process.user.uid, gid: process.user.gid)
    spec.root?.readonly = false
    try spec.jsonData().write(to: URL(fileURLWithPath: dir + "/config.json"), options: .atomic)
}
