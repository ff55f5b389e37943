import ArgumentParser
import Foundation
import Images
import Probes
import Registry
import Suites
import Synchronization

/// Set by the lead's wiring to the container-runtime-backed executor; nil means RUN steps cannot run.

struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image", abstract: "Build and manage images in boxbench's OCI image-layout store.",
        subcommands: [
            ImageBootstrap.self, ImagePush.self, ImagePull.self,
            ImageBuild.self, ImageList.self, ImageInspect.self, ImageDiskUsage.self, ImageRemove.self,
            ImagePrune.self, ImageImport.self, ImageExport.self, ImageBundle.self,
        ])
}

struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "Image store directory (default: $BOXBENCH_STATE/images).")
    var store: String?

    func open() throws -> ImageStore {
        let paths = BoxbenchPaths()
        do { return try ImageStore(root: store ?? paths.imageStore, layerCache: paths.layerCache) } catch {
            throw CLIError.failed("open image store: \(error)")
        }
    }
}

/// Bad references, missing images and Dockerfile mistakes are the user's input (exit 2); the rest is 1.
func imageFailure(_ error: any Error) -> CLIError {
    if let e = error as? DockerfileError { return .badInput(e.description) }
    if let e = error as? ImageError {
        switch e.code {
        case .invalidReference, .notFound, .unsafeEntry, .unsupported, .invalidImage: return .badInput(e.description)
        default: return .failed(e.description)
        }
    }
    return .failed("\(error)")
}

func humanBytes(_ n: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n)
    var i = 0
    while v >= 1024 && i < units.count - 1 {
        v /= 1024
        i += 1
    }
    return i == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[i])
}

func printJSON<T: Encodable>(_ value: T) throws {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    FileHandle.standardOutput.write(try e.encode(value))
    print()
}

struct ImageBuild: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "build", abstract: "Build an image from a Dockerfile.")
    @OptionGroup var storeOptions: StoreOptions
    @Option(name: .shortAndLong, help: "NAME[:TAG] to tag the result.") var tag: String?
    @Option(name: .shortAndLong, help: "Dockerfile (default: CONTEXT/Dockerfile).") var file: String?
    @Option(name: .customLong("build-arg"), help: "K=V for an ARG (repeatable).") var buildArgs: [String] = []
    @Flag(name: .customLong("no-cache"), help: "Rebuild every layer.") var noCache = false
    @Flag(name: .shortAndLong, help: "Only print the image digest.") var quiet = false
    @Option(name: .long, help: "RUN steps' network: host (default, like docker build --network host) or none.")
    var network: String = "host"
    @Option(name: .long, help: "Build up to this stage (FROM … AS NAME).") var target: String?
    @Argument(help: "Build context directory.") var context: String

    func run() throws {
        guard let buildNetwork = BuildNetwork(rawValue: network) else {
            throw CLIError.badInput("--network \(network): use host or none")
        }
        var args: [String: String] = [:]
        for kv in buildArgs {
            guard let eq = kv.firstIndex(of: "="), eq != kv.startIndex else {
                throw CLIError.badInput("--build-arg \(kv): want KEY=VALUE")
            }
            args[String(kv[..<eq])] = String(kv[kv.index(after: eq)...])
        }
        guard FileManager.default.fileExists(atPath: context) else {
            throw CLIError.badInput("build context \(context) does not exist")
        }
        let dockerfile = file ?? context + "/Dockerfile"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dockerfile, isDirectory: &isDirectory), !isDirectory.boolValue
        else {
            throw CLIError.badInput("-f \(dockerfile): no such Dockerfile")
        }
        let reference: ImageReference?
        do { reference = try tag.map { try ImageReference(parsing: $0) } } catch { throw imageFailure(error) }
        let store = try storeOptions.open()
        // SIGINT/SIGTERM: the RUN container is killed and the build unwinds, removing its scratch files.
        let (root, layers) = (store.root, store.layerCache)
        installCancellationHandlers(
            sweep: { ImageStore.removeTemporaries(root: root, layerCache: layers, pid: getpid()) },
            unwind: { ImageBuilder.cancelAll() })
        let options = BuildOptions(
            context: context, dockerfile: file, tag: reference, buildArgs: args, noCache: noCache,
            executor: ContainerRunStepExecutor(), network: buildNetwork, target: target)
        let quiet = self.quiet
        let image: StoredImage
        do {
            image = try ImageBuilder(store: store).build(options) { event in
                guard !quiet else { return }
                let line: String
                switch event {
                case .step(let i, let n, let text): line = "step \(i)/\(n): \(text)"
                case .cacheHit(let d): line = "  cache hit \(d.short)"
                case .layer(let d, let c, let u):
                    line = "  layer \(d.short): \(humanBytes(c)) compressed, \(humanBytes(u)) unpacked"
                case .output(let s): line = "  | \(s)"
                case .done(let img): line = "built \(img.digest)\(img.reference.map { " as \($0)" } ?? "")"
                }
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
        } catch { throw imageFailure(error) }
        print(image.digest)
    }
}

struct ImageBootstrap: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bootstrap",
        abstract: "Make a Debian base image here with mmdebstrap, from the mirrors the host's apt uses.",
        discussion:
            "NAME is debian:SUITE (the minbase variant: Essential packages and apt) or debian:SUITE-slim (without docs, man pages and locales). SOURCE_DATE_EPOCH is honoured: bootstrapping twice gives the same digest while the mirror serves the same packages."
    )
    @OptionGroup var storeOptions: StoreOptions
    @Argument(help: "debian:SUITE or debian:SUITE-slim, e.g. debian:bookworm-slim.") var name: String

    func run() throws {
        let reference: ImageReference
        do { reference = try ImageReference(parsing: name) } catch { throw imageFailure(error) }
        guard DebianBase.recipe(for: reference) != nil else {
            throw CLIError.badInput("\(name): only debian:SUITE and debian:SUITE-slim can be bootstrapped")
        }
        let store = try storeOptions.open()
        let (root, layers) = (store.root, store.layerCache)
        installCancellationHandlers(sweep: {
            ImageStore.removeTemporaries(root: root, layerCache: layers, pid: getpid())
        })
        // A progress line that shows the time spent while mmdebstrap downloads and installs.
        let started = Date()
        let phase = Mutex("starting")
        let ticker = DispatchSource.makeTimerSource(queue: .global())
        ticker.schedule(deadline: .now(), repeating: .seconds(1))
        let isTerminal = isatty(2) == 1
        ticker.setEventHandler {
            guard isTerminal else { return }
            let line = "bootstrap \(reference): \(phase.withLock { $0 }) \(Int(Date().timeIntervalSince(started))) s"
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        }
        // Resumed always: a source released while suspended crashes libdispatch.
        ticker.resume()
        let result: ImageStore.Bootstrap
        do {
            result = try store.bootstrapDebian(reference, runner: HostProcessCommandRunner()) { text in
                phase.withLock { $0 = text }
                if !isTerminal { FileHandle.standardError.write(Data("bootstrap \(reference): \(text)\n".utf8)) }
            }
        } catch {
            ticker.cancel()
            throw imageFailure(error)
        }
        ticker.cancel()
        if isTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        let layer = result.image.manifest.layers.first
        FileHandle.standardError.write(
            Data(
                "bootstrapped \(reference) in \(String(format: "%.1f", result.seconds)) s: \(humanBytes(result.tarBytes)) unpacked, \(humanBytes(layer?.size ?? 0)) compressed\n"
                    .utf8))
        print(result.image.digest)
    }
}

/// `--tls-verify` and `--creds`, as skopeo spells them.
struct RegistryOptions: ParsableArguments {
    @Option(
        name: .customLong("tls-verify"),
        help: "Verify TLS (default true); false also allows plain HTTP, for a loopback registry.")
    var tlsVerify: Bool = true
    @Option(name: .long, help: "USER:PASSWORD for the registry (default: $BOXBENCH_REGISTRY_CREDS).")
    var creds: String?

    func clientOptions() throws -> RegistryClientOptions {
        let text = creds ?? ProcessInfo.processInfo.environment["BOXBENCH_REGISTRY_CREDS"]
        var credentials: RegistryCredentials?
        if let text {
            guard let parsed = RegistryCredentials(parsing: text) else {
                throw CLIError.badInput("--creds: want USER:PASSWORD")
            }
            credentials = parsed
        }
        return RegistryClientOptions(
            tlsVerify: tlsVerify, credentials: credentials, userAgent: "boxbench/\(BoxbenchVersion.string)")
    }
}

func registryReference(_ text: String) throws -> RegistryReference {
    do { return try RegistryReference(parsing: text) } catch { throw CLIError.badInput("\(text): \(error)") }
}

/// One line of what crossed the network.
func transferLine(_ r: TransferReport) -> String {
    let verb = r.direction == .push ? "sent" : "received"
    return "\(r.direction.rawValue) \(r.reference) \(r.digest): \(r.transferredBlobs.count) blob(s) \(verb) "
        + "(\(humanBytes(r.blobBytesTransferred))), \(r.skippedBlobs.count) already there, \(r.mountedBlobs.count) mounted; "
        + "\(humanBytes(r.totalBytesTransferred)) on the wire in all"
}

struct ImagePush: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push", abstract: "Push an image from the store to a registry (OCI distribution API).")
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var registry: RegistryOptions
    @Option(name: .customLong("mount-from"), help: "A repository on the same registry to mount missing blobs from.")
    var mountFrom: String?
    @Flag(name: .long, help: "Print the transfer report as JSON.") var json = false
    @Argument(help: "NAME[:TAG] in the store.") var name: String
    @Argument(help: "HOST[:PORT]/REPOSITORY[:TAG].") var reference: String

    func run() throws {
        let ref = try registryReference(reference)
        let store = try storeOptions.open()
        let image: StoredImage
        do { image = try store.resolve(name) } catch { throw imageFailure(error) }
        guard let tag = image.reference?.description else {
            throw CLIError.badInput("\(name): push a tagged image (NAME[:TAG]), not a bare digest")
        }
        let options = try registry.clientOptions()
        let (root, mountFrom) = (store.root, self.mountFrom)
        let report: TransferReport
        do {
            report = try store.withBlobWriters {
                try blockingAwait {
                    try await RegistryClient.withClient(options: options) { client in
                        try await client.push(layout: OCILayout(path: root), tag: tag, to: ref, mountFrom: mountFrom)
                    }
                }
            }
        } catch let error as CLIError { throw error } catch {
            throw CLIError.failed("push \(name) to \(ref): \(error)")
        }
        if json { try printTransferJSON(report) } else { print(transferLine(report)) }
    }
}

struct ImagePull: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull", abstract: "Pull an image from a registry into the store (blobs it has are not fetched).")
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var registry: RegistryOptions
    @Option(name: .shortAndLong, help: "NAME[:TAG] to tag it in the store (default: REPOSITORY:TAG).") var tag: String?
    @Flag(name: .long, help: "Print the transfer report as JSON.") var json = false
    @Argument(help: "HOST[:PORT]/REPOSITORY[:TAG|@DIGEST].") var reference: String

    func run() throws {
        let ref = try registryReference(reference)
        let local: ImageReference
        do { local = try ImageReference(parsing: tag ?? "\(ref.repository):\(ref.tag ?? "latest")") } catch {
            throw imageFailure(error)
        }
        let store = try storeOptions.open()
        let options = try registry.clientOptions()
        let root = store.root
        let report: TransferReport
        do {
            report = try store.withBlobWriters {
                let r = try blockingAwait {
                    try await RegistryClient.withClient(options: options) { client in
                        try await client.pull(ref, into: OCILayout(path: root), recordTag: false)
                    }
                }
                guard var top = r.topDescriptor else { throw CLIError.failed("pull \(ref): no manifest") }
                // The store holds single-platform images: of an index (or Docker manifest list), this host's entry.
                if top.mediaType?.contains("index") == true || top.mediaType?.contains("manifest.list") == true {
                    top = try hostPlatformManifest(of: top.digest, in: root, reference: ref)
                }
                // Tagged through the store, under its index lock.
                try store.tag(
                    manifest: Images.Descriptor(
                        mediaType: top.mediaType ?? MediaType.manifest, digest: try Digest(parsing: top.digest),
                        size: top.size),
                    as: local)
                return r
            }
        } catch let error as CLIError { throw error } catch { throw CLIError.failed("pull \(ref): \(error)") }
        if json { try printTransferJSON(report) } else { print(transferLine(report) + " → \(local)") }
    }
}

/// The entry of the index `digest` (in the layout at `root`) for this host's platform (linux and its architecture).
func hostPlatformManifest(of digest: String, in root: String, reference: RegistryReference) throws
    -> Registry.Descriptor
{
    let index = try JSONDecoder().decode(
        ImageIndex.self, from: Data(contentsOf: URL(fileURLWithPath: "\(root)/blobs/sha256/\(digest.dropFirst(7))")))
    let host = Images.Platform.host
    guard
        let entry = index.manifests.first(where: {
            $0.platform?.os == "linux" && $0.platform?.architecture == host.architecture
        })
    else {
        let has = index.manifests.compactMap { $0.platform.map { "\($0.os)/\($0.architecture)" } }
        throw CLIError.badInput(
            "pull \(reference): the index has no linux/\(host.architecture) image (has: \(has.joined(separator: ", ")))"
        )
    }
    return Registry.Descriptor(mediaType: entry.mediaType, digest: entry.digest.description, size: entry.size)
}

func printTransferJSON(_ r: TransferReport) throws {
    struct Blob: Encodable {
        let digest: String
        let size: Int64
        let outcome: String
        let bytesTransferred: Int64
    }
    struct Out: Encodable {
        let direction: String, reference: String, digest: String, blobs: [Blob]
        let blobBytesTransferred: Int64, manifestBytesTransferred: Int64, totalBytesTransferred: Int64
    }
    try printJSON(
        Out(
            direction: r.direction.rawValue, reference: r.reference, digest: r.digest,
            blobs: r.blobs.map {
                Blob(
                    digest: $0.digest, size: $0.size, outcome: $0.outcome.rawValue,
                    bytesTransferred: $0.bytesTransferred)
            },
            blobBytesTransferred: r.blobBytesTransferred, manifestBytesTransferred: r.manifestBytesTransferred,
            totalBytesTransferred: r.totalBytesTransferred))
}

struct ImageList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List tagged images.")
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: MachineFormatOption

    struct Row: Encodable {
        var reference: String
        var digest: String
        var compressedBytes: Int64
    }

    func run() throws {
        let json = try output.wantsJSON()
        let list: [ImageSummary]
        do { list = try storeOptions.open().list() } catch { throw imageFailure(error) }
        if json {
            try printJSON(
                list.map {
                    Row(
                        reference: $0.reference.description, digest: $0.digest.description,
                        compressedBytes: $0.compressedSize)
                })
            return
        }
        let width = max(10, list.map { $0.reference.description.count }.max() ?? 0)
        print("REFERENCE".padding(toLength: width, withPad: " ", startingAt: 0) + "  DIGEST        SIZE")
        for s in list {
            print(
                s.reference.description.padding(toLength: width, withPad: " ", startingAt: 0)
                    + "  \(s.digest.short)  \(humanBytes(s.compressedSize))")
        }
    }
}

struct ImageInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Print an image's manifest and config as JSON.")
    @OptionGroup var storeOptions: StoreOptions
    @Argument(help: "NAME[:TAG] or digest.") var image: String

    struct Inspection: Encodable {
        var reference: String?
        var digest: String
        var manifest: ImageManifest
        var config: ImageConfig
    }

    func run() throws {
        let img: StoredImage
        do { img = try storeOptions.open().resolve(image) } catch { throw imageFailure(error) }
        try printJSON(
            Inspection(
                reference: img.reference?.description, digest: img.digest.description, manifest: img.manifest,
                config: img.config))
    }
}

struct ImageDiskUsage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "du", abstract: "Sizes per image and layer: compressed, unpacked, shared vs unique, bytes to pull."
    )
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: MachineFormatOption
    @Option(name: .long, help: "Also report bytes to pull each image when this one is present.") var given: String?
    @Argument(help: "Images (default: all tagged).") var images: [String] = []

    struct Entry: Encodable {
        var size: ImageSizeReport
        var pullGiven: PullEstimate?
    }

    func run() throws {
        let json = try output.wantsJSON()
        let store = try storeOptions.open()
        var entries: [Entry] = []
        do {
            let targets =
                images.isEmpty
                ? try store.list().map { try store.resolve($0.reference.description) }
                : try images.map { try store.resolve($0) }
            let base = try given.map { try store.resolve($0) }
            for img in targets {
                entries.append(
                    Entry(
                        size: try store.sizes(of: img),
                        pullGiven: try base.map { try store.bytesToPull(image: img, given: $0) }))
            }
        } catch { throw imageFailure(error) }
        if json {
            try printJSON(entries)
            return
        }
        print(
            "IMAGE / LAYER                     COMPRESSED    UNPACKED      SHARED        UNIQUE\(given == nil ? "" : "        TO PULL")"
        )
        print("  (compressed bytes shared with another image, and only in this one)")
        for e in entries {
            let s = e.size
            var line = s.reference.padding(toLength: 32, withPad: " ", startingAt: 0)
            for v in [s.compressedBytes, s.uncompressedBytes, s.sharedCompressedBytes, s.uniqueCompressedBytes] {
                line += "  " + humanBytes(v).padding(toLength: 12, withPad: " ", startingAt: 0)
            }
            if let p = e.pullGiven { line += "  " + humanBytes(p.compressedBytes) }
            print(line)
            for l in s.layers {
                // Long lists folded: the first three images and how many more.
                let others = l.sharedWith.count > 3 ? ", and \(l.sharedWith.count - 3) more" : ""
                let shared =
                    l.sharedWith.isEmpty
                    ? "unique" : "shared with " + l.sharedWith.prefix(3).joined(separator: ", ") + others
                print(
                    "  \(l.digest.short)".padding(toLength: 32, withPad: " ", startingAt: 0)
                        + "  " + humanBytes(l.compressedBytes).padding(toLength: 12, withPad: " ", startingAt: 0)
                        + "  " + humanBytes(l.uncompressedBytes).padding(toLength: 12, withPad: " ", startingAt: 0)
                        + "  " + shared)
            }
        }
    }
}

struct ImageRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Untag images (blobs go with `image prune`).")
    @OptionGroup var storeOptions: StoreOptions
    @Argument(help: "NAME[:TAG] or digest.") var images: [String]

    func run() throws {
        let store = try storeOptions.open()
        for i in images {
            do { try store.remove(i) } catch { throw imageFailure(error) }
            print("removed \(i)")
        }
    }
}

struct ImagePrune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune", abstract: "Delete blobs no tagged image references.")
    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let report: PruneReport
        do { report = try storeOptions.open().prune() } catch { throw imageFailure(error) }
        print("removed \(report.removedBlobs.count) blobs, freed \(humanBytes(report.freedBytes))")
    }
}

struct ImageImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import an OCI layout (directory or .tar) or a `docker save` tarball.")
    @OptionGroup var storeOptions: StoreOptions
    @Option(name: .shortAndLong, help: "Tag a single imported image as NAME[:TAG].") var tag: String?
    @Argument(help: "Path to import.") var path: String

    func run() throws {
        guard FileManager.default.fileExists(atPath: path) else { throw CLIError.badInput("\(path) does not exist") }
        do {
            let ref = try tag.map { try ImageReference(parsing: $0) }
            for img in try storeOptions.open().importImages(from: path, tag: ref) {
                print("\(img.reference?.description ?? "<untagged>") \(img.digest)")
            }
        } catch let e as ImageError where e.code == .digestMismatch || e.code == .archive {
            throw CLIError.badInput(e.description)  // the archive or layout being imported is what is wrong
        } catch { throw imageFailure(error) }
    }
}

struct ImageExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export images as an OCI layout directory, or a tar of one (PATH ending in .tar).")
    @OptionGroup var storeOptions: StoreOptions
    @Option(name: .shortAndLong, help: "Destination directory or .tar file.") var output: String
    @Argument(help: "Images to export.") var images: [String]

    func run() throws {
        do { try storeOptions.open().export(images, to: output) } catch { throw imageFailure(error) }
    }
}

struct ImageBundle: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundle",
        abstract: "Write an OCI runtime bundle (config.json + rootfs) for boxbench, crun or runc.")
    @OptionGroup var storeOptions: StoreOptions
    @Argument(help: "NAME[:TAG] or digest.") var image: String
    @Argument(help: "Bundle directory (rootfs must not exist or be empty).") var directory: String

    func run() throws {
        do {
            let store = try storeOptions.open()
            try writeRuntimeBundle(store: store, image: try store.resolve(image), into: directory)
        } catch { throw imageFailure(error) }
        print(directory)
    }
}
