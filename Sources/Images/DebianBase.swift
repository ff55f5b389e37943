import Foundation

/// Runs a host program for the image store (mmdebstrap): implemented outside this module with boxbench's own
/// process launcher (Swift never forks), faked in tests.
public protocol HostCommandRunner: Sendable {
    /// Runs `argv` (argv[0] an absolute path) with `environment`; returns its exit status and its output.
    func run(_ argv: [String], environment: [String], timeout: Duration) throws -> (status: Int32, output: String)
}

/// Debian bases made here with mmdebstrap from the mirrors the host's apt already uses: `debian:SUITE` (the
/// minbase variant: Essential packages and apt) and `debian:SUITE-slim` (the same, without documentation, man
/// pages, info and locales, by dpkg path filters that stay in the image for later installs, as Docker's slim
/// images do).
public enum DebianBase {
    public struct Recipe: Sendable, Equatable {
        public var suite: String
        public var slim: Bool
    }

    static let mmdebstrap = "/usr/bin/mmdebstrap"

    /// The recipe for `debian:SUITE[-slim]` (also `library/debian`, `docker.io/library/debian`); nil otherwise.
    public static func recipe(for ref: ImageReference) -> Recipe? {
        guard ["debian", "library/debian", "docker.io/library/debian"].contains(ref.name) else { return nil }
        let tag = ref.tag
        let slim = tag.hasSuffix("-slim")
        let suite = slim ? String(tag.dropLast(5)) : tag
        // Release names only (bookworm, trixie): mmdebstrap knows no version numbers or dated tags.
        guard !suite.isEmpty, suite != "latest", suite.first?.isLetter == true, suite.allSatisfy({ $0.isLetter })
        else { return nil }
        return Recipe(suite: suite, slim: slim)
    }

    /// dpkg filters of the slim variant (what Docker's debian slim images exclude).
    static let slimFilters = [
        "path-exclude=/usr/share/man/*", "path-exclude=/usr/share/doc/*", "path-include=/usr/share/doc/*/copyright",
        "path-exclude=/usr/share/info/*", "path-exclude=/usr/share/locale/*",
        "path-include=/usr/share/locale/locale.alias", "path-exclude=/usr/share/groff/*",
        "path-exclude=/usr/share/lintian/*", "path-exclude=/usr/share/linda/*",
    ]

    /// The host's apt sources (`/etc/apt/sources.list`, `sources.list.d/*.list` and `*.sources`), with the host's
    /// release name replaced by `suite` when they differ: the mirrors the host already uses, never a hard-coded
    /// one. Throws when the host has none.
    public static func hostSources(
        suite: String, aptDirectory: String = "/etc/apt", osRelease: String = "/etc/os-release"
    ) throws -> String {
        var files: [String] = []
        if FileManager.default.fileExists(atPath: aptDirectory + "/sources.list") {
            files.append(aptDirectory + "/sources.list")
        }
        let dir = aptDirectory + "/sources.list.d"
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
        where name.hasSuffix(".list") || name.hasSuffix(".sources") {
            files.append(dir + "/" + name)
        }
        let hostCodename =
            ((try? String(contentsOfFile: osRelease, encoding: .utf8)) ?? "").split(separator: "\n")
            .first { $0.hasPrefix("VERSION_CODENAME=") }.map {
                String($0.dropFirst(17)).trimmingCharacters(in: .init(charactersIn: "\""))
            }
        var oneLine: [String] = []
        var stanzas: [String] = []
        for file in files {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            if file.hasSuffix(".sources") {
                // deb822: stanzas separated by blank lines; only enabled `deb` ones.
                // Stanzas end at a blank line (which may hold spaces); CRLF files read as LF.
                var stanzaTexts: [String] = [""]
                for raw in text.replacingOccurrences(of: "\r\n", with: "\n").split(
                    separator: "\n", omittingEmptySubsequences: false)
                {
                    if raw.trimmingCharacters(in: .whitespaces).isEmpty {
                        if !stanzaTexts[stanzaTexts.count - 1].isEmpty { stanzaTexts.append("") }
                    } else {
                        stanzaTexts[stanzaTexts.count - 1] += raw + "\n"
                    }
                }
                for stanza in stanzaTexts where !stanza.isEmpty {
                    var lines = stanza.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
                    guard let types = lines.firstIndex(where: { $0.hasPrefix("Types:") }),
                        lines[types].dropFirst(6).split(separator: " ").contains("deb"),
                        !lines.contains(where: { $0.lowercased().hasPrefix("enabled: no") })
                    else { continue }
                    // Only Debian's own archive (third-party repositories, e.g. Docker's or NodeSource's, stay out of
                    // the image): signed by Debian's keyring, or a .../debian or .../debian-security URI.
                    let signedBy = lines.first { $0.hasPrefix("Signed-By:") }
                    let isDebian =
                        signedBy.map { $0.contains("debian-archive-keyring") }
                        ?? lines.contains {
                            $0.hasPrefix("URIs:") && DebianBase.isDebianArchive(String($0.dropFirst(5)))
                        }
                    guard isDebian else { continue }
                    lines[types] = "Types: deb"
                    stanzas.append(lines.map { rename($0, from: hostCodename, to: suite) }.joined(separator: "\n"))
                }
            } else {
                for line in text.split(separator: "\n") {
                    let l = line.trimmingCharacters(in: .whitespaces)
                    guard l.hasPrefix("deb ") else { continue }
                    // Signed by Debian's keyring, or unsigned at a Debian archive path; other keys: third party.
                    let signed = l.range(of: "signed-by=")
                    guard
                        signed == nil
                            ? l.split(separator: " ").contains(where: { DebianBase.isDebianArchive(String($0)) })
                            : l.contains("debian-archive-keyring")
                    else { continue }
                    oneLine.append(rename(l, from: hostCodename, to: suite))
                }
            }
        }
        guard !oneLine.isEmpty || !stanzas.isEmpty else {
            throw ImageError(
                .notFound,
                "no apt sources on this host (\(files.isEmpty ? "no files" : files.joined(separator: ", "))): "
                    + "mmdebstrap takes its mirror from the host's apt configuration")
        }
        // One deb822 file mmdebstrap pastes into the chroot's sources.list (one-line entries converted).
        return (stanzas + oneLine.compactMap(deb822)).joined(separator: "\n\n") + "\n"
    }

    /// `deb [signed-by=K arch=A] URI SUITE COMPONENTS…` as a deb822 stanza; nil when it does not parse.
    static func deb822(_ line: String) -> String? {
        var rest = line.dropFirst(4).trimmingCharacters(in: .whitespaces)
        var options: [String] = []
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            for option in rest[rest.index(after: rest.startIndex)..<close].split(separator: " ") {
                let kv = option.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2 else { continue }
                if kv[0] == "signed-by" { options.append("Signed-By: \(kv[1])") }
                if kv[0] == "arch" { options.append("Architectures: \(kv[1])") }
            }
            rest = rest[rest.index(after: close)...].trimmingCharacters(in: .whitespaces)
        }
        let words = rest.split(separator: " ").map(String.init)
        guard words.count >= 2 else { return nil }
        var stanza = ["Types: deb", "URIs: \(words[0])", "Suites: \(words[1])"]
        if words.count > 2 { stanza.append("Components: " + words[2...].joined(separator: " ")) }
        return (stanza + options).joined(separator: "\n")
    }

    /// A URI of Debian's archive: a path ending in /debian or /debian-security (any mirror). Only for entries without
    /// a Signed-By of their own: third-party repositories (Docker's ends in /linux/debian) name their own key.
    static func isDebianArchive(_ uris: String) -> Bool {
        uris.split(separator: " ").contains { uri in
            let path = uri.hasSuffix("/") ? uri.dropLast() : Substring(uri)
            return uri.contains("://") && (path.hasSuffix("/debian") || path.hasSuffix("/debian-security"))
        }
    }

    /// `bookworm` → `trixie` in a suite field (also `bookworm-updates`, `bookworm-security`), nothing else.
    static func rename(_ line: String, from host: String?, to suite: String) -> String {
        guard let host, host != suite else { return line }
        var words = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        for i in words.indices where words[i] == host || words[i].hasPrefix(host + "-") {
            words[i] = suite + words[i].dropFirst(host.count)
        }
        return words.joined(separator: " ")
    }
}

extension ImageStore {
    /// What `bootstrapDebian` made and how long it took.
    public struct Bootstrap: Sendable {
        public var image: StoredImage
        public var seconds: Double
        public var tarBytes: Int64
    }

    /// `debian:SUITE[-slim]` made with mmdebstrap (mode root, the host's apt sources) into one reproducible layer:
    /// mmdebstrap's own tarball, byte for byte, with SOURCE_DATE_EPOCH set (bootstrapping twice gives the same
    /// digest while the mirror serves the same packages). Tagged `ref`.
    public func bootstrapDebian(
        _ ref: ImageReference, runner: any HostCommandRunner, progress: @Sendable (String) -> Void = { _ in }
    ) throws -> Bootstrap {
        guard let recipe = DebianBase.recipe(for: ref) else {
            throw ImageError(.unsupported, "bootstrap \(ref): only debian:SUITE and debian:SUITE-slim can be made here")
        }
        guard FileManager.default.isExecutableFile(atPath: DebianBase.mmdebstrap) else {
            throw ImageError(
                .notFound, "bootstrap \(ref): \(DebianBase.mmdebstrap) is missing (apt-get install mmdebstrap)")
        }
        let sources = try DebianBase.hostSources(suite: recipe.suite)
        let scratch = try FS.makeTemporaryDirectory(in: tmpDir, prefix: "bootstrap-\(getpid())-")
        defer { try? FS.removeTree(scratch) }
        let sourcesFile = scratch + "/host.sources"
        try FS.writeAtomically(sourcesFile, Data(sources.utf8))
        let tar = scratch + "/rootfs.tar"
        var argv = [
            DebianBase.mmdebstrap, "--variant=minbase", "--mode=root", "--format=tar", "--skip=output/dev",
            "--aptopt=Acquire::Retries \"3\"",
            // Written into the image once it is made, as Docker's bases have it: a later `apt-get install` leaves no
            // 80 MB of package caches and downloaded .debs in its layer (mmdebstrap itself needs both).
            "--customize-hook=printf '%s\\n' 'Dir::Cache::pkgcache \"\";' 'Dir::Cache::srcpkgcache \"\";' "
                + "'APT::Keep-Downloaded-Packages \"false\";' > \"$1/etc/apt/apt.conf.d/docker-clean\" "
                + "&& rm -f \"$1\"/var/cache/apt/*.bin",
        ]
        // merged /usr made by mmdebstrap's hook rather than the usrmerge package (which pulls in perl), as Debian's
        // official images are made.
        let mergedUsr = "/usr/share/mmdebstrap/hooks/merged-usr"
        if FileManager.default.fileExists(atPath: mergedUsr) { argv.append("--hook-dir=" + mergedUsr) }
        if recipe.slim { argv += DebianBase.slimFilters.map { "--dpkgopt=\($0)" } }
        argv += [recipe.suite, tar, sourcesFile]
        let epoch = reproducibleEpoch()
        progress("mmdebstrap \(recipe.suite)\(recipe.slim ? " (slim)" : ""): downloading and installing packages…")
        let start = Date()
        let (status, output) = try runner.run(
            argv, environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SOURCE_DATE_EPOCH=\(epoch)", "LC_ALL=C.UTF-8"],
            timeout: .seconds(1800))
        guard status == 0 else {
            let tail = output.split(separator: "\n").suffix(12).joined(separator: "\n")
            throw ImageError(.io, "bootstrap \(ref): mmdebstrap exited with status \(status):\n\(tail)")
        }
        progress("storing the layer…")
        let tarBytes = (try? FS.lstatOrThrow(tar).st_size).map(Int64.init) ?? 0
        let writer = try writerLock()
        defer { writer.unlock() }
        let (layer, blob) = try writeLayer { try $0.copyTarStream(from: tar) }
        let created = rfc3339(epoch)
        var cc = ContainerConfig()
        cc.Env = ["PATH=\(BaseImages.defaultPath)"]
        cc.Cmd = ["bash"]
        cc.Labels = ["org.boxbench.base": "mmdebstrap --variant=minbase \(recipe.suite)\(recipe.slim ? " slim" : "")"]
        let config = ImageConfig(
            created: created, architecture: Platform.host.architecture, os: "linux", config: cc,
            rootfs: RootFS(diffIDs: [blob.diffID]),
            history: [
                HistoryEntry(
                    created: created,
                    createdBy:
                        "mmdebstrap --variant=minbase \(recipe.suite) (the host's apt sources)\(recipe.slim ? ", slim dpkg filters" : "")"
                )
            ])
        let image = try commit(config: config, layers: [layer], as: ref)
        return Bootstrap(image: image, seconds: Date().timeIntervalSince(start), tarBytes: tarBytes)
    }
}
