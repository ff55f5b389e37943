import Crypto
import Foundation

@testable import Registry

#if canImport(Glibc)
    import Glibc
#endif

enum Tools {
    static let registry = "/usr/bin/docker-registry"
    static let skopeo = "/usr/bin/skopeo"
    static let htpasswd = "/usr/bin/htpasswd"
    static var haveRegistryAndSkopeo: Bool {
        FileManager.default.isExecutableFile(atPath: registry) && FileManager.default.isExecutableFile(atPath: skopeo)
    }
    static var haveHtpasswd: Bool { FileManager.default.isExecutableFile(atPath: htpasswd) }
}

struct CommandError: Error, CustomStringConvertible {
    var description: String
}

/// Runs a program (absolute path), returns stdout; throws with stderr on a non-zero exit.
@discardableResult
func run(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.environment = environment ?? ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": NSTemporaryDirectory()]
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read both pipes fully before waiting so a chatty command cannot block.
    let group = DispatchGroup()
    nonisolated(unsafe) var errData = Data()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    waitForExit(process, seconds: 300)
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        waitForExit(process, seconds: 10)
        throw CommandError(description: "\(path) \(arguments.joined(separator: " ")) did not finish in 300 s")
    }
    let stdout = String(decoding: outData, as: UTF8.self)
    guard process.terminationStatus == 0 else {
        throw CommandError(
            description:
                "\(path) \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(String(decoding: errData, as: UTF8.self))"
        )
    }
    return stdout
}

/// Polls instead of `waitUntilExit`, which spins a CPU on Linux while it waits.
func waitForExit(_ process: Process, seconds: Double) {
    let deadline = Date().addingTimeInterval(seconds)
    while process.isRunning, Date() < deadline { usleep(20_000) }
}

func makeTempDirectory(_ prefix: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A free TCP port on 127.0.0.1 (bound to port 0, read back, released).
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw CommandError(description: "socket failed") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw CommandError(description: "bind failed") }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    guard named == 0 else { throw CommandError(description: "getsockname failed") }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// The HTTP status of `GET path` on 127.0.0.1:port, or nil when nothing answers (plain socket, HTTP/1.0).
func loopbackStatus(port: Int, path: String) -> Int? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else { return nil }
    let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1:\(port)\r\n\r\n".utf8)
    guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else { return nil }
    var buffer = [UInt8](repeating: 0, count: 64)
    let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    guard n > 12 else { return nil }
    let line = String(decoding: buffer[0..<n], as: UTF8.self)
    let parts = line.split(separator: " ")
    return parts.count > 1 ? Int(parts[1]) : nil
}

/// Debian's docker-registry on 127.0.0.1 only, with a temporary config and storage directory.
final class LocalRegistry: @unchecked Sendable {
    let directory: URL
    let port: Int
    let process: Process
    var host: String { "127.0.0.1:\(port)" }

    /// `htpasswd`: the file's content (user:bcrypt) to turn on Basic auth.
    /// `token`: distribution's token auth (realm URL and the PEM bundle the tokens are signed under).
    /// `tls`: serve HTTPS with this PEM certificate and key.
    init(
        htpasswd: String? = nil, token: (realm: String, service: String, issuer: String, certificate: String)? = nil,
        tls: (certificate: String, key: String)? = nil
    ) throws {
        directory = try makeTempDirectory("boxbench-registry")
        do {
            port = try freeLoopbackPort()
            var config = """
                version: 0.1
                log:
                  level: warn
                  accesslog:
                    disabled: true
                storage:
                  filesystem:
                    rootdirectory: \(directory.appendingPathComponent("data").path)
                  delete:
                    enabled: true
                http:
                  addr: 127.0.0.1:\(port)

                """
            if let tls {
                config += """
                      tls:
                        certificate: \(tls.certificate)
                        key: \(tls.key)

                    """
            }
            if let htpasswd {
                let path = directory.appendingPathComponent("htpasswd")
                try Data(htpasswd.utf8).write(to: path)
                config += """
                    auth:
                      htpasswd:
                        realm: boxbench-test
                        path: \(path.path)

                    """
            }
            if let token {
                config += """
                    auth:
                      token:
                        realm: \(token.realm)
                        service: \(token.service)
                        issuer: \(token.issuer)
                        rootcertbundle: \(token.certificate)

                    """
            }
            let configURL = directory.appendingPathComponent("config.yml")
            try Data(config.utf8).write(to: configURL)
            process = Process()
            // `timeout` ends the registry by itself even if the test process dies before stopping it.
            process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
            process.arguments = ["600", Tools.registry, "serve", configURL.path]
            process.environment = ["PATH": "/usr/bin:/bin", "HOME": directory.path]
            let log = directory.appendingPathComponent("registry.log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
            try process.run()
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
        // Wait until GET /v2/ answers (200, or 401 with auth on).
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            // A TLS port answers plain HTTP with 400 ("HTTP request to an HTTPS server").
            if let status = loopbackStatus(port: port, path: "/v2/"),
                status == 200 || status == 401 || (tls != nil && status == 400)
            {
                return
            }
            if !process.isRunning { break }
            usleep(100_000)
        }
        let log = (try? String(contentsOf: directory.appendingPathComponent("registry.log"), encoding: .utf8)) ?? ""
        stop()
        throw CommandError(description: "docker-registry did not answer on 127.0.0.1:\(port): \(log)")
    }

    /// SIGKILL, not SIGTERM: processes started by Foundation's Process inherit a mask that blocks
    /// SIGTERM, so `timeout` would never pass it on. The registry (timeout's child) goes first.
    func stop() {
        let pid = process.processIdentifier
        if pid > 0 {
            let childrenFile = "/proc/\(pid)/task/\(pid)/children"
            let children = ((try? String(contentsOfFile: childrenFile, encoding: .utf8)) ?? "")
                .split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            for child in children { kill(child, SIGKILL) }
            // `timeout` reaps the registry and exits by itself; kill it only if it does not.
            waitForExit(process, seconds: 5)
            if process.isRunning { kill(pid, SIGKILL) }
            waitForExit(process, seconds: 5)
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs `body` with a fresh registry, stopping it and removing its directory on every path.
    @discardableResult
    static func with<T>(
        htpasswd: String? = nil, token: (realm: String, service: String, issuer: String, certificate: String)? = nil,
        tls: (certificate: String, key: String)? = nil,
        _ body: (LocalRegistry) async throws -> T
    ) async throws -> T {
        let registry = try LocalRegistry(htpasswd: htpasswd, token: token, tls: tls)
        do {
            let result = try await body(registry)
            registry.stop()
            return result
        } catch {
            registry.stop()
            throw error
        }
    }
}

/// A small OCI layout built in the test: two gzip tar layers, a config and a manifest (or an index).
struct TestImage {
    var layout: OCILayout
    var manifestDigest: String
    var configDigest: String
    var layerDigests: [String]

    static func ustar(files: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (name, content) in files {
            let data = Array(content.utf8)
            var header = [UInt8](repeating: 0, count: 512)
            func put(_ text: String, at offset: Int) {
                for (i, b) in text.utf8.enumerated() { header[offset + i] = b }
            }
            put(name, at: 0)
            put("0000644\0", at: 100)
            put("0000000\0", at: 108)
            put("0000000\0", at: 116)
            put(String(format: "%011o\0", data.count), at: 124)
            put("00000000000\0", at: 136)
            put("        ", at: 148)
            header[156] = UInt8(ascii: "0")
            put("ustar\0", at: 257)
            put("00", at: 263)
            let sum = header.reduce(0) { $0 + Int($1) }
            put(String(format: "%06o\0 ", sum), at: 148)
            out += header
            out += data
            out += [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
        }
        out += [UInt8](repeating: 0, count: 1024)
        return out
    }

    static func gzip(_ bytes: [UInt8], in directory: URL) throws -> Data {
        let raw = directory.appendingPathComponent("layer-\(UUID().uuidString).tar")
        try Data(bytes).write(to: raw)
        try run("/bin/gzip", ["-n", "-f", raw.path])
        let gz = URL(fileURLWithPath: raw.path + ".gz")
        defer { try? FileManager.default.removeItem(at: gz) }
        return try Data(contentsOf: gz)
    }

    static func writeBlob(_ data: Data, in layout: OCILayout) throws -> String {
        let digest = Digests.sha256(data)
        try data.write(to: try layout.blobURL(digest))
        return digest
    }

    /// An image of two layers; `salt` makes distinct images; `asIndex` tags an index wrapping it.
    static func make(at root: URL, tag: String, salt: String = "", layerSize: Int = 200_000, asIndex: Bool = false)
        throws -> TestImage
    {
        let layout = OCILayout(root: root)
        try layout.create()
        var layers: [(digest: String, size: Int, diffID: String)] = []
        for i in 0..<2 {
            // Pseudo-random text so gzip does not shrink it to nothing.
            var generator = SplitMix(
                seed: UInt64(i + 1) &* 0x9E37_79B9 &+ UInt64(salt.utf8.reduce(0) { $0 &* 31 &+ Int($1) } & 0xffff))
            let text = String((0..<layerSize).map { _ in Character(UnicodeScalar(UInt8(97 + generator.next() % 26))) })
            let tar = ustar(files: [("layer\(i)/file.txt", salt + text), ("layer\(i)/hello", "hello \(i) \(salt)\n")])
            let gz = try gzip(tar, in: root)
            layers.append((try writeBlob(gz, in: layout), gz.count, Digests.sha256(tar)))
        }
        let config = Data(
            """
            {"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin:/bin"],"Labels":{"salt":"\(salt)"}},"rootfs":{"type":"layers","diff_ids":["\(layers[0].diffID)","\(layers[1].diffID)"]}}
            """.utf8)
        let configDigest = try writeBlob(config, in: layout)
        let manifest = Data(
            """
            {"schemaVersion":2,"mediaType":"\(MediaTypes.ociManifest)","config":{"mediaType":"\(MediaTypes.ociConfig)","digest":"\(configDigest)","size":\(config.count)},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"\(layers[0].digest)","size":\(layers[0].size)},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"\(layers[1].digest)","size":\(layers[1].size)}]}
            """.utf8)
        let manifestDigest = try writeBlob(manifest, in: layout)
        if asIndex {
            let index = Data(
                """
                {"schemaVersion":2,"mediaType":"\(MediaTypes.ociIndex)","manifests":[{"mediaType":"\(MediaTypes.ociManifest)","digest":"\(manifestDigest)","size":\(manifest.count),"platform":{"architecture":"amd64","os":"linux"}}]}
                """.utf8)
            let indexDigest = try writeBlob(index, in: layout)
            try layout.setTag(
                tag, to: Descriptor(mediaType: MediaTypes.ociIndex, digest: indexDigest, size: Int64(index.count)))
            return TestImage(
                layout: layout, manifestDigest: indexDigest, configDigest: configDigest,
                layerDigests: layers.map(\.digest))
        }
        try layout.setTag(
            tag, to: Descriptor(mediaType: MediaTypes.ociManifest, digest: manifestDigest, size: Int64(manifest.count)))
        return TestImage(
            layout: layout, manifestDigest: manifestDigest, configDigest: configDigest,
            layerDigests: layers.map(\.digest))
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The digests a manifest in a layout names: config and layers.
func blobDigests(ofManifest digest: String, in layout: OCILayout) throws -> [String] {
    let doc = try JSONDecoder().decode(ManifestDocument.self, from: try layout.readBlob(digest))
    return doc.blobs.map(\.digest)
}
