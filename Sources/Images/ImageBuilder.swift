import Crypto
import Foundation
import Logging

public struct BuildOptions: Sendable {
    /// The build context directory.
    public var context: String
    /// Dockerfile path (default: `<context>/Dockerfile`).
    public var dockerfile: String?
    public var tag: ImageReference?
    public var buildArgs: [String: String]
    /// Ignore the build cache (layers are still written to it).
    public var noCache: Bool
    /// Needed only when the Dockerfile has RUN.
    public var executor: (any RunStepExecutor)?
    public var busybox: String
    /// RUN steps' network: the host's by default.
    public var network: BuildNetwork
    /// Build up to this stage (`--target`); nil: the last.
    public var target: String?

    public init(
        context: String, dockerfile: String? = nil, tag: ImageReference? = nil, buildArgs: [String: String] = [:],
        noCache: Bool = false, executor: (any RunStepExecutor)? = nil, busybox: String = "/bin/busybox",
        network: BuildNetwork = .host, target: String? = nil
    ) {
        self.network = network
        self.target = target
        self.context = context
        self.dockerfile = dockerfile
        self.tag = tag
        self.buildArgs = buildArgs
        self.noCache = noCache
        self.executor = executor
        self.busybox = busybox
    }
}

/// What a build reports as it goes.
public enum BuildEvent: Sendable {
    /// Step `index` of `total` (1-based), its instruction text after substitution.
    case step(index: Int, total: Int, text: String)
    case cacheHit(layer: Digest)
    case layer(digest: Digest, compressedSize: Int64, uncompressedSize: Int64)
    /// A line of RUN output.
    case output(String)
    case done(StoredImage)
}

/// Dockerfile → image in the store. One layer per RUN/COPY/ADD; the other instructions edit the config.
public struct ImageBuilder: Sendable {
    public let store: ImageStore
    let logger: Logger?

    public init(store: ImageStore, logger: Logger? = nil) {
        self.store = store
        self.logger = logger
    }

    struct Stage {
        var layers: [Descriptor] = []
        var diffIDs: [Digest] = []
        var config = ContainerConfig()
        var history: [HistoryEntry] = []
        var args: [String: String] = [:]
        var shell = ["/bin/sh", "-c"]
        var cmdFromBase = false
        var architecture = Platform.host.architecture
    }

    public func build(_ options: BuildOptions, progress: @Sendable (BuildEvent) -> Void = { _ in }) throws
        -> StoredImage
    {
        let dockerfilePath = options.dockerfile ?? options.context + "/Dockerfile"
        let dockerfile = try Dockerfile.load(dockerfilePath)
        let ignore = try DockerIgnore.load(context: options.context)
        let writer = try store.writerLock()
        defer { writer.unlock() }

        var stages: [String: Stage] = [:]
        /// Every stage so far by index (`COPY --from=0`); the current one is last.
        var stageList: [Stage] = []
        var globalArgs: [String: String] = [:]
        var stage: Stage?
        var currentAlias: String?
        let target = options.target?.lowercased()
        if let target {
            let aliases = dockerfile.instructions.compactMap { ins -> String? in
                if case .from(_, let alias?) = ins.kind { return alias.lowercased() }
                return nil
            }
            guard aliases.contains(target) else {
                throw DockerfileError(
                    file: dockerfile.file, line: 1, instruction: "FROM",
                    message:
                        "--target \(options.target!): no stage of that name (stages: \(aliases.joined(separator: ", ")))"
                )
            }
        }
        let created = rfc3339(reproducibleEpoch())
        let total = dockerfile.instructions.count
        let file = dockerfile.file

        for (n, ins) in dockerfile.instructions.enumerated() {
            try Self.checkCancelled("build \(dockerfilePath) line \(ins.line)")
            func fail(_ message: String) -> DockerfileError {
                DockerfileError(file: file, line: ins.line, instruction: ins.keyword, message: message)
            }
            func expand(_ word: String, _ vars: [String: String]) throws -> String {
                do { return try WordExpansion(escape: dockerfile.escape, variables: vars).expand(word) } catch {
                    if case .syntax(let m) = error { throw fail(m) }
                    throw fail("\(error)")
                }
            }
            // ARG values then ENV: both visible to substitution, ENV wins.
            var vars = globalArgs
            if let s = stage {
                vars = s.args
                for e in s.config.Env ?? [] {
                    if let eq = e.firstIndex(of: "=") { vars[String(e[..<eq])] = String(e[e.index(after: eq)...]) }
                }
            }

            if case .from(let image, let alias) = ins.kind {
                // `--target`: the named stage is complete once the next one begins.
                if let target, currentAlias?.lowercased() == target { break }
                let name = try expand(image, globalArgs)
                progress(.step(index: n + 1, total: total, text: "FROM \(name)\(alias.map { " AS \($0)" } ?? "")"))
                var s = try baseStage(name, stages: stages, options: options, fail: fail)
                s.args = [:]
                stage = s
                currentAlias = alias
                if let alias { stages[alias.lowercased()] = s }
                stageList.append(s)
                continue
            }
            if case .arg(let name, let def) = ins.kind {
                let value = try options.buildArgs[name] ?? def.map { try expand($0, vars) }
                progress(.step(index: n + 1, total: total, text: "ARG \(name)\(value.map { "=\($0)" } ?? "")"))
                if stage == nil {
                    globalArgs[name] = value ?? ""
                } else {
                    stage!.args[name] = value ?? globalArgs[name] ?? ""
                    stage!.history.append(HistoryEntry(created: created, createdBy: ins.text, emptyLayer: true))
                }
                continue
            }
            guard var s = stage else { throw fail("no FROM before this instruction") }
            var text = ins.text
            switch ins.kind {
            case .from, .arg:
                break
            case .env(let pairs):
                var env = s.config.Env ?? []
                var expandedPairs: [String] = []
                for p in pairs {
                    let value = try expand(p.value, vars)
                    vars[p.key] = value
                    env.removeAll { $0.hasPrefix(p.key + "=") }
                    env.append("\(p.key)=\(value)")
                    expandedPairs.append("\(p.key)=\(value)")
                }
                s.config.Env = env
                text = "ENV " + expandedPairs.joined(separator: " ")
            case .label(let pairs):
                var labels = s.config.Labels ?? [:]
                for p in pairs { labels[try expand(p.key, vars)] = try expand(p.value, vars) }
                s.config.Labels = labels
            case .workdir(let raw):
                let w = try expand(raw, vars)
                let base = s.config.WorkingDir ?? "/"
                s.config.WorkingDir = cleanAbsolutePath(w.hasPrefix("/") ? w : base + "/" + w)
                text = "WORKDIR \(s.config.WorkingDir!)"
            case .user(let raw):
                s.config.User = try expand(raw, vars)
                text = "USER \(s.config.User!)"
            case .expose(let ports):
                var exposed = s.config.ExposedPorts ?? [:]
                for p in ports {
                    let port = try expand(p, vars)
                    exposed[port.contains("/") ? port.lowercased() : port + "/tcp"] = EmptyObject()
                }
                s.config.ExposedPorts = exposed
            case .volume(let paths):
                var v = s.config.Volumes ?? [:]
                for p in paths { v[try expand(p, vars)] = EmptyObject() }
                s.config.Volumes = v
            case .stopSignal(let sig):
                s.config.StopSignal = try expand(sig, vars)
            case .shell(let argv):
                s.shell = argv
            case .entrypoint(let form):
                s.config.Entrypoint = form.argv(shell: s.shell)
                if s.cmdFromBase { s.config.Cmd = nil }
            case .cmd(let form):
                s.config.Cmd = form.argv(shell: s.shell)
                s.cmdFromBase = false
            case .run, .copy, .add:
                break
            }

            switch ins.kind {
            case .run(let form):
                progress(.step(index: n + 1, total: total, text: text))
                try runStep(form, ins: ins, stage: &s, vars: vars, options: options, progress: progress, fail: fail)
            case .copy(let spec), .add(let spec):
                let isAdd = ins.keyword == "ADD"
                var sources: [String] = []
                for src in spec.sources { sources.append(try expand(src, vars)) }
                let dest = try expand(spec.destination, vars)
                let chown = try spec.chown.map { try expand($0, vars) }
                let from = try spec.from.map { try expand($0, vars) }
                text =
                    "\(ins.keyword) \(from.map { "--from=\($0) " } ?? "")\(chown.map { "--chown=\($0) " } ?? "")\(spec.chmod.map { "--chmod=\($0) " } ?? "")\(sources.joined(separator: " ")) \(dest)"
                progress(.step(index: n + 1, total: total, text: text))
                if let from {
                    // Only earlier stages: Docker refuses the current one and later ones too.
                    let later = dockerfile.instructions.filter { $0.line > ins.line }.compactMap { i -> String? in
                        if case .from(_, let alias?) = i.kind { return alias.lowercased() }
                        return nil
                    }
                    if from.lowercased() == currentAlias?.lowercased()
                        || (stages[from.lowercased()] == nil && later.contains(from.lowercased()))
                    {
                        throw fail(
                            "--from=\(from) names this stage or a later one: only earlier stages can be copied from")
                    }
                    // Another stage's or image's files: its layers, seen as one tree for the copy.
                    let source = try sourceStage(
                        from, stages: stages, list: stageList.dropLast(), options: options, fail: fail)
                    try withMergedTree(source) { root in
                        try copyStep(
                            sources: sources, dest: dest, chown: chown, chmod: spec.chmod, isAdd: false, text: text,
                            stage: &s, context: root, ignore: DockerIgnore(text: ""), noCache: options.noCache,
                            progress: progress, fail: fail, fromTree: true)
                    }
                } else {
                    try copyStep(
                        sources: sources, dest: dest, chown: chown, chmod: spec.chmod, isAdd: isAdd, text: text,
                        stage: &s, context: options.context, ignore: ignore, noCache: options.noCache,
                        progress: progress, fail: fail)
                }
            default:
                progress(.step(index: n + 1, total: total, text: text))
                s.history.append(HistoryEntry(created: created, createdBy: text, emptyLayer: true))
            }
            stage = s
            stageList[stageList.count - 1] = s
            if let currentAlias { stages[currentAlias.lowercased()] = s }
        }
        guard let final = stage else {
            throw DockerfileError(file: file, line: 1, instruction: "FROM", message: "no FROM instruction")
        }
        try Self.checkCancelled("build \(dockerfilePath)")
        let config = ImageConfig(
            created: created, architecture: final.architecture, os: "linux", config: final.config,
            rootfs: RootFS(diffIDs: final.diffIDs), history: final.history)
        let image = try store.commit(config: config, layers: final.layers, as: options.tag)
        logger?.info(
            "built image", metadata: ["digest": "\(image.digest)", "tag": "\(options.tag?.description ?? "-")"])
        progress(.done(image))
        return image
    }

    private func baseStage(
        _ name: String, stages: [String: Stage], options: BuildOptions, fail: (String) -> DockerfileError
    ) throws -> Stage {
        if name == "scratch" { return Stage() }
        if let s = stages[name.lowercased()] { return s }
        let base: StoredImage
        if let ref = try? ImageReference(parsing: name), ref == BaseImages.busybox {
            base = try store.ensureBusyboxBase(busybox: options.busybox)
        } else {
            do { base = try store.resolve(name) } catch {
                var ways = [
                    "`boxbench image pull REF` from a registry",
                    "`boxbench image import PATH` (OCI layout or docker save)",
                    "`boxbench image build -t \(name) …`",
                ]
                if let ref = try? ImageReference(parsing: name), DebianBase.recipe(for: ref) != nil {
                    ways.insert("`boxbench image bootstrap \(name)` (mmdebstrap, the host's apt mirrors)", at: 0)
                }
                throw fail("image \(name) is not in the store; get it with " + ways.joined(separator: ", or "))
            }
        }
        var s = Stage()
        s.layers = base.manifest.layers
        s.diffIDs = base.config.rootfs.diff_ids
        s.config = base.config.config ?? ContainerConfig()
        s.history = base.config.history ?? []
        s.cmdFromBase = s.config.Cmd != nil
        s.architecture = base.config.architecture
        return s
    }

    // MARK: cache

    /// sha256 over the parent layer chain, the step and whatever else determines its result.
    private func cacheKey(_ stage: Stage, _ parts: [String]) -> Digest {
        var h = SHA256()
        for d in stage.diffIDs { h.update(data: Data("parent \(d)\n".utf8)) }
        for p in parts { h.update(data: Data("\(p.utf8.count):\(p)\n".utf8)) }
        return Digest.from(h.finalize())
    }

    private func cached(_ key: Digest, noCache: Bool) -> BuildCacheEntry? {
        guard !noCache else { return nil }
        let path = store.buildCacheDir + "/\(key.hex).json"
        guard let data = try? FS.readFile(path), let e = try? JSONDecoder().decode(BuildCacheEntry.self, from: data),
            (try? store.verifyBlob(e.layer.digest)) != nil
        else { return nil }
        return e
    }

    private func remember(_ key: Digest, _ entry: BuildCacheEntry) throws {
        try FS.writeAtomically(store.buildCacheDir + "/\(key.hex).json", try canonicalJSON(entry))
    }

    private func append(
        _ stage: inout Stage, layer: Descriptor, diffID: Digest, size: Int64, text: String, hit: Bool,
        progress: @Sendable (BuildEvent) -> Void
    ) {
        stage.layers.append(layer)
        stage.diffIDs.append(diffID)
        stage.history.append(HistoryEntry(created: rfc3339(reproducibleEpoch()), createdBy: text))
        if hit { progress(.cacheHit(layer: layer.digest)) }
        progress(.layer(digest: layer.digest, compressedSize: layer.size, uncompressedSize: size))
    }

    // MARK: RUN

    private func runStep(
        _ form: CommandForm, ins: Instruction, stage s: inout Stage, vars: [String: String], options: BuildOptions,
        progress: @Sendable (BuildEvent) -> Void, fail: (String) -> DockerfileError
    ) throws {
        let argv = form.argv(shell: s.shell)
        var env = s.config.Env ?? []
        for (k, v) in s.args.sorted(by: { $0.key < $1.key }) where !env.contains(where: { $0.hasPrefix(k + "=") }) {
            env.append("\(k)=\(v)")
        }
        if !env.contains(where: { $0.hasPrefix("PATH=") }) { env.append("PATH=\(BaseImages.defaultPath)") }
        let workdir = s.config.WorkingDir ?? "/"
        let user = (s.config.User ?? "").isEmpty ? nil : s.config.User
        let key = cacheKey(
            s, ["RUN", argv.joined(separator: "\u{0}"), env.joined(separator: "\u{0}"), workdir, user ?? ""])
        if let hit = cached(key, noCache: options.noCache) {
            append(
                &s, layer: hit.layer, diffID: hit.diffID, size: hit.uncompressedSize, text: ins.text, hit: true,
                progress: progress)
            return
        }
        guard let executor = options.executor else {
            throw fail("RUN needs the container runtime (not available)")
        }
        var lowers = try store.lowerDirs(layers: s.layers, diffIDs: s.diffIDs)
        let scratch = try FS.makeTemporaryDirectory(in: store.tmpDir, prefix: "run-\(getpid())-")
        defer { try? FS.removeTree(scratch) }
        let upper = scratch + "/upper"
        let work = scratch + "/work"
        for d in [upper, work] {
            guard mkdir(d, 0o755) == 0 else { throw ImageError.errno("mkdir", d) }
        }
        if lowers.isEmpty {
            let empty = scratch + "/empty"
            guard mkdir(empty, 0o755) == 0 else { throw ImageError.errno("mkdir", empty) }
            lowers = [empty]
        }
        // The working directory must exist for the process to start; created in the upper dir (as Docker does).
        if workdir != "/" && !lowers.contains(where: { FS.isDirectory($0 + workdir) }) {
            try FS.makeDirectories(upper + workdir)
        }
        let step = RunStep(
            argv: argv, env: env, workdir: workdir, user: user, lowerDirs: lowers, upperDir: upper, workDir: work,
            network: options.network)
        let status = try executor.run(step) { line in progress(.output(line)) }
        // A cancelled build's RUN container was killed: its status says nothing about the command.
        try Self.checkCancelled("\(ins.keyword) at line \(ins.line)")
        guard status == 0 else {
            throw fail("command \(argv) exited with status \(status)")
        }
        let (layer, blob) = try store.writeLayer { try $0.addTree(upper, as: .overlayUpper) }
        try remember(key, BuildCacheEntry(layer: layer, diffID: blob.diffID, uncompressedSize: blob.uncompressedSize))
        append(
            &s, layer: layer, diffID: blob.diffID, size: blob.uncompressedSize, text: ins.text, hit: false,
            progress: progress)
    }

    // MARK: COPY / ADD

    /// The stage `COPY --from` names: a previous stage by name or index, else an image (the store's, or the
    /// built-in busybox base).
    private func sourceStage(
        _ name: String, stages: [String: Stage], list: ArraySlice<Stage>, options: BuildOptions,
        fail: (String) -> DockerfileError
    ) throws -> Stage {
        if let s = stages[name.lowercased()] { return s }
        if let index = Int(name) {
            guard list.indices.contains(index) else {
                throw fail("--from=\(name): there are \(list.count) stage(s) before this one")
            }
            return list[index]
        }
        return try baseStage(name, stages: [:], options: options, fail: fail)
    }

    /// Calls `body` with a directory holding `source`'s files as one tree: its only layer as unpacked, or its
    /// layers flattened into a scratch directory of the store (no mount, so no root needed and nothing to unmount
    /// after a signal: the store's temporary sweep removes it).
    private func withMergedTree(_ source: Stage, _ body: (String) throws -> Void) throws {
        if source.layers.count == 1 {
            return try body(try store.lowerDirs(layers: source.layers, diffIDs: source.diffIDs)[0])
        }
        let tree = try FS.makeTemporaryDirectory(in: store.tmpDir, prefix: "from-\(getpid())-")
        defer { try? FS.removeTree(tree) }
        try store.flatten(layers: source.layers, into: tree + "/rootfs", label: "COPY --from")
        try body(tree + "/rootfs")
    }

    private func copyStep(
        sources: [String], dest rawDest: String, chown: String?, chmod: String?, isAdd: Bool, text: String,
        stage s: inout Stage, context: String, ignore: DockerIgnore, noCache: Bool,
        progress: @Sendable (BuildEvent) -> Void, fail: (String) -> DockerfileError, fromTree: Bool = false
    ) throws {
        // Resolve sources inside the context.
        var resolved: [String] = []  // context-relative, "" = the context itself
        for src in sources {
            var clean = cleanRelativePath(src)
            if clean.hasPrefix("..") { throw fail("source \"\(src)\" is outside the build context") }
            // Another stage's tree: its symlinks resolve inside it, never on the host.
            if fromTree, !hasGlobCharacters(clean), !clean.isEmpty {
                guard let inside = FS.resolveInRoot(context, clean) else {
                    throw fail("source \"\(src)\" not found in the --from stage or image")
                }
                clean = inside
            }
            if hasGlobCharacters(clean) {
                let matches = try contextFiles(context, ignore: ignore).filter { globMatch(clean, $0) }
                if matches.isEmpty { throw fail("no source files were specified: \"\(src)\" matches nothing") }
                resolved += matches
            } else {
                guard FS.exists(clean.isEmpty ? context : context + "/" + clean),
                    clean.isEmpty || !ignore.isExcluded(clean)
                else { throw fail("source \"\(src)\" not found in the build context") }
                resolved.append(clean)
            }
        }
        let workdir = s.config.WorkingDir ?? "/"
        let destIsDir = rawDest.hasSuffix("/") || rawDest == "." || resolved.count > 1
        let dest = cleanAbsolutePath(rawDest.hasPrefix("/") ? rawDest : workdir + "/" + rawDest)
        let owner = try chown.map { try resolveOwner($0, stage: s, fail: fail) }
        let mode = chmod.flatMap { UInt32($0, radix: 8) }

        let stageDir = try FS.makeTemporaryDirectory(in: store.tmpDir, prefix: "copy-\(getpid())-")
        defer { try? FS.removeTree(stageDir) }
        chmod_(stageDir, 0o755)
        for rel in resolved {
            let host = rel.isEmpty ? context : context + "/" + rel
            let st = try FS.lstatOrThrow(host)
            let isDir = (st.st_mode & S_IFMT) == S_IFDIR
            if isDir {
                try FS.makeDirectories(stageDir + dest)
                try copyTree(host, rel: rel, to: stageDir + dest, ignore: ignore, owner: owner, mode: mode)
            } else if isAdd && (st.st_mode & S_IFMT) == S_IFREG && TarReader.isTarArchive(host) {
                try FS.makeDirectories(stageDir + dest)
                try LayerExtractor(allowDevices: false, preserveOwnership: getuid() == 0, label: "ADD \(rel)")
                    .extract(archive: host, into: stageDir + dest, mode: .plain)
            } else {
                let base = (rel as NSString).lastPathComponent
                let target =
                    destIsDir || FS.isDirectory(stageDir + dest) ? stageDir + dest + "/" + base : stageDir + dest
                try FS.makeDirectories((target as NSString).deletingLastPathComponent)
                try copyEntry(host, st: st, to: target, owner: owner, mode: mode)
            }
        }
        try Self.checkCancelled(text)
        let contentHash = try treeHash(stageDir)
        let key = cacheKey(s, [text, workdir, contentHash.description])
        if let hit = cached(key, noCache: noCache) {
            append(
                &s, layer: hit.layer, diffID: hit.diffID, size: hit.uncompressedSize, text: text, hit: true,
                progress: progress)
            return
        }
        let (layer, blob) = try store.writeLayer { try $0.addTree(stageDir, as: .plain) }
        try remember(key, BuildCacheEntry(layer: layer, diffID: blob.diffID, uncompressedSize: blob.uncompressedSize))
        append(
            &s, layer: layer, diffID: blob.diffID, size: blob.uncompressedSize, text: text, hit: false,
            progress: progress)
    }

    private func chmod_(_ path: String, _ mode: mode_t) { _ = chmod(path, mode) }

    /// Context-relative paths of every file and directory not excluded by .dockerignore.
    private func contextFiles(_ context: String, ignore: DockerIgnore) throws -> [String] {
        var out: [String] = []
        func walk(_ rel: String) throws {
            let host = rel.isEmpty ? context : context + "/" + rel
            for name in try FS.listDirectory(host) {
                let r = rel.isEmpty ? name : rel + "/" + name
                if ignore.isExcluded(r) { continue }
                out.append(r)
                if (try FS.lstatOrThrow(context + "/" + r).st_mode & S_IFMT) == S_IFDIR { try walk(r) }
            }
        }
        try walk("")
        return out
    }

    private func copyTree(
        _ host: String, rel: String, to target: String, ignore: DockerIgnore, owner: (UInt32, UInt32)?, mode: UInt32?
    ) throws {
        for name in try FS.listDirectory(host) {
            let r = rel.isEmpty ? name : rel + "/" + name
            if ignore.isExcluded(r) { continue }
            let src = host + "/" + name
            let st = try FS.lstatOrThrow(src)
            if (st.st_mode & S_IFMT) == S_IFDIR {
                let d = target + "/" + name
                if mkdir(d, 0o755) != 0 && errno != EEXIST { throw ImageError.errno("mkdir", d) }
                try copyTree(src, rel: r, to: d, ignore: ignore, owner: owner, mode: mode)
                try setAttributes(d, st: st, owner: owner, mode: mode)
            } else {
                try copyEntry(src, st: st, to: target + "/" + name, owner: owner, mode: mode)
            }
        }
    }

    private func copyEntry(_ src: String, st: stat, to target: String, owner: (UInt32, UInt32)?, mode: UInt32?) throws {
        try FS.removeTree(target)
        switch st.st_mode & S_IFMT {
        case S_IFREG:
            try FS.copyFile(src, target, mode: st.st_mode & 0o7777)
        case S_IFLNK:
            guard symlink(try FS.readLink(src), target) == 0 else { throw ImageError.errno("symlink", target) }
        case S_IFDIR:
            guard mkdir(target, 0o755) == 0 else { throw ImageError.errno("mkdir", target) }
        default:
            throw ImageError(.unsupported, "copy \(src): only files, directories and symlinks can be copied")
        }
        try setAttributes(target, st: st, owner: owner, mode: mode)
    }

    private func setAttributes(_ path: String, st: stat, owner: (UInt32, UInt32)?, mode: UInt32?) throws {
        let (uid, gid) = owner ?? (0, 0)
        if getuid() == 0 {
            guard lchown(path, uid, gid) == 0 else { throw ImageError.errno("chown", path) }
        }
        if (st.st_mode & S_IFMT) != S_IFLNK {
            let m = mode.map { mode_t($0) } ?? (st.st_mode & 0o7777)
            guard chmod(path, m) == 0 else { throw ImageError.errno("chmod", path) }
        }
    }

    /// `--chown=user[:group]`: numbers, or names looked up in the image's /etc/passwd and /etc/group.
    private func resolveOwner(_ spec: String, stage: Stage, fail: (String) -> DockerfileError) throws -> (
        UInt32, UInt32
    ) {
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        guard let userPart = parts.first, !userPart.isEmpty else { throw fail("--chown needs user[:group]") }
        func lookup(_ file: String, _ name: String, field: Int) throws -> (UInt32, UInt32?) {
            if let n = UInt32(name) { return (n, nil) }
            guard let text = try readFromLayers(stage, path: file) else {
                throw fail("--chown: \(name) is not numeric and the image has no \(file)")
            }
            for line in text.split(separator: "\n") {
                let f = line.split(separator: ":", omittingEmptySubsequences: false)
                if f.count > 3, f[0] == name, let id = UInt32(f[2]) { return (id, field == 0 ? UInt32(f[3]) : nil) }
            }
            throw fail("--chown: no \(name) in the image's \(file)")
        }
        let (uid, primary) = try lookup("etc/passwd", userPart, field: 0)
        if parts.count == 2 { return (uid, try lookup("etc/group", parts[1], field: 1).0) }
        return (uid, primary ?? uid)
    }

    /// A small text file from the top-most layer that has it.
    private func readFromLayers(_ stage: Stage, path: String) throws -> String? {
        for layer in stage.layers.reversed() {
            let reader = try TarReader(path: store.blobPath(layer.digest))
            var found: String?
            try reader.forEach { entry in
                if cleanRelativePath(entry.path) == path {
                    found = String(decoding: try reader.readAll(), as: UTF8.self)
                    return false
                }
                return true
            }
            if let found { return found }
        }
        return nil
    }

    /// Content hash of a staged tree: paths, types, modes, owners, link targets and file bytes.
    private func treeHash(_ root: String) throws -> Digest {
        var h = SHA256()
        func walk(_ dir: String, _ rel: String) throws {
            for name in try FS.listDirectory(dir) {
                let path = dir + "/" + name
                let r = rel + "/" + name
                let st = try FS.lstatOrThrow(path)
                h.update(data: Data("\(r)\u{0}\(st.st_mode)\u{0}\(st.st_uid):\(st.st_gid)\u{0}".utf8))
                switch st.st_mode & S_IFMT {
                case S_IFDIR: try walk(path, r)
                case S_IFLNK: h.update(data: Data(try FS.readLink(path).utf8))
                case S_IFREG: h.update(data: Data(try store.hashFile(path).hex.utf8))
                default: break
                }
            }
        }
        try walk(root, "")
        return Digest.from(h.finalize())
    }
}
