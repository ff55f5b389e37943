import Foundation
import Testing

@testable import Registry

/// Against Debian's docker-registry (distribution 2.8) on 127.0.0.1 and skopeo. Nothing leaves loopback.
@Suite(
    .serialized, .timeLimit(.minutes(5)),
    .enabled(
        if: Tools.haveRegistryAndSkopeo,
        "needs /usr/bin/docker-registry and /usr/bin/skopeo (apt-get install docker-registry skopeo)"))
struct IntegrationTests {
    let insecure = RegistryClientOptions(tlsVerify: false)

    @discardableResult
    func skopeo(_ arguments: [String]) throws -> String {
        // No auth file, no user config: only the flags given here.
        let home = NSTemporaryDirectory() + "skopeo-home-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: home) }
        return try run(
            Tools.skopeo, arguments,
            environment: ["PATH": "/usr/bin:/bin", "HOME": home, "REGISTRY_AUTH_FILE": home + "/auth.json"])
    }

    func inspectDigest(_ reference: String, creds: String? = nil) throws -> String {
        var args = ["inspect", "--tls-verify=false", "--raw"]
        if let creds { args += ["--creds", creds] }
        let raw = try skopeo(args + ["docker://\(reference)"])
        var info = ["inspect", "--tls-verify=false"]
        if let creds { info += ["--creds", creds] }
        let json = try skopeo(info + ["docker://\(reference)"])
        struct Inspect: Decodable { var Digest: String }
        let inspected = try JSONDecoder().decode(Inspect.self, from: Data(json.utf8))
        // The digest skopeo reports is the sha256 of the raw manifest.
        #expect(inspected.Digest == Digests.sha256(Data(raw.utf8)))
        return inspected.Digest
    }

    @Test func pushPullRoundTripSkipsPresentBlobsAndInteropsWithSkopeo() async throws {
        let work = try makeTempDirectory("registry-it")
        defer { try? FileManager.default.removeItem(at: work) }
        let image = try TestImage.make(at: work.appendingPathComponent("src"), tag: "v1")
        try await LocalRegistry.with { registry in
            try await RegistryClient.withClient(options: insecure) { client in
                let ref = try RegistryReference(parsing: "\(registry.host)/bench/img:v1")

                // First push: everything sent.
                let push1 = try await client.push(layout: image.layout, tag: "v1", to: ref)
                #expect(push1.digest == image.manifestDigest)
                #expect(push1.transferredBlobs.count == 3)
                #expect(push1.skippedBlobs.isEmpty)
                let blobBytes = try ([image.configDigest] + image.layerDigests).reduce(Int64(0)) {
                    $0 + (try image.layout.blobSize($1))
                }
                #expect(push1.blobBytesTransferred == blobBytes)
                #expect(push1.manifests.count == 1)
                print("push 1: \(push1.summary)")

                // Second push: all HEAD hits, no blob bytes.
                let push2 = try await client.push(layout: image.layout, tag: "v1", to: ref)
                #expect(push2.blobBytesTransferred == 0)
                #expect(push2.skippedBlobs.count == 3)
                print("push 2: \(push2.summary)")

                // Pull into an empty layout: identical digests.
                let dest = OCILayout(root: work.appendingPathComponent("dest"))
                let pull1 = try await client.pull(ref, into: dest, tag: "copy")
                #expect(pull1.digest == image.manifestDigest)
                #expect(pull1.blobBytesTransferred == blobBytes)
                #expect(try dest.descriptor(forTag: "copy").digest == image.manifestDigest)
                #expect(try dest.descriptor(forTag: "copy").mediaType == MediaTypes.ociManifest)
                #expect(
                    try blobDigests(ofManifest: image.manifestDigest, in: dest) == [image.configDigest]
                        + image.layerDigests)
                for digest in [image.manifestDigest, image.configDigest] + image.layerDigests {
                    #expect(try dest.readBlob(digest) == image.layout.readBlob(digest))
                }
                print("pull 1: \(pull1.summary)")

                // Pull again: nothing fetched but the tag's manifest.
                let pull2 = try await client.pull(ref, into: dest, tag: "copy")
                #expect(pull2.blobBytesTransferred == 0)
                #expect(pull2.skippedBlobs.count == 3)
                #expect(pull2.digest == image.manifestDigest)
                print("pull 2: \(pull2.summary)")
                let leftovers = try FileManager.default.contentsOfDirectory(
                    atPath: dest.root.appendingPathComponent("blobs/sha256").path
                )
                .filter { $0.hasPrefix(".tmp") }
                #expect(leftovers.isEmpty)

                // skopeo reads what we pushed.
                #expect(try inspectDigest("\(registry.host)/bench/img:v1") == image.manifestDigest)

                // skopeo copies it back out into an OCI layout with the same digest.
                let back = work.appendingPathComponent("skopeo-back")
                try skopeo([
                    "copy", "--src-tls-verify=false", "docker://\(registry.host)/bench/img:v1", "oci:\(back.path):v1",
                ])
                #expect(try OCILayout(root: back).descriptor(forTag: "v1").digest == image.manifestDigest)

                // skopeo pushes our layout to another repository; our pull gives identical digests.
                try skopeo([
                    "copy", "--dest-tls-verify=false", "oci:\(image.layout.root.path):v1",
                    "docker://\(registry.host)/other/img:v2",
                ])
                let skopeoDigest = try inspectDigest("\(registry.host)/other/img:v2")
                let third = OCILayout(root: work.appendingPathComponent("third"))
                let pull3 = try await client.pull(
                    try RegistryReference(parsing: "\(registry.host)/other/img:v2"), into: third)
                #expect(pull3.digest == skopeoDigest)
                #expect(try third.descriptor(forTag: "v2").digest == skopeoDigest)
                #expect(
                    try blobDigests(ofManifest: skopeoDigest, in: third) == [image.configDigest] + image.layerDigests)

                // Pull by digest works and checks it.
                let pinned = try RegistryReference(parsing: "\(registry.host)/bench/img@\(image.manifestDigest)")
                let pull4 = try await client.pull(pinned, into: dest, tag: "pinned")
                #expect(pull4.digest == image.manifestDigest)
                #expect(pull4.blobBytesTransferred == 0)

                // A missing tag fails with the registry's error named.
                await #expect {
                    _ = try await client.pull(
                        try RegistryReference(parsing: "\(registry.host)/bench/img:nope"), into: dest)
                } throws: { error in
                    let text = "\(error)"
                    return text.contains("404") && text.contains("MANIFEST_UNKNOWN")
                        && text.contains("/v2/bench/img/manifests/nope")
                }
            }
        }
    }

    @Test func dockerSchema2FromSkopeoIsStoredAsIs() async throws {
        let work = try makeTempDirectory("registry-it")
        defer { try? FileManager.default.removeItem(at: work) }
        let image = try TestImage.make(at: work.appendingPathComponent("src"), tag: "v1", salt: "docker")
        try await LocalRegistry.with { registry in
            try skopeo([
                "copy", "--format", "v2s2", "--dest-tls-verify=false", "oci:\(image.layout.root.path):v1",
                "docker://\(registry.host)/docker/img:s2",
            ])
            let skopeoDigest = try inspectDigest("\(registry.host)/docker/img:s2")
            #expect(skopeoDigest != image.manifestDigest)  // converted to Docker schema2 by skopeo
            try await RegistryClient.withClient(options: insecure) { client in
                let dest = OCILayout(root: work.appendingPathComponent("dest"))
                let pulled = try await client.pull(
                    try RegistryReference(parsing: "\(registry.host)/docker/img:s2"), into: dest)
                #expect(pulled.digest == skopeoDigest)
                #expect(pulled.mediaType == MediaTypes.dockerManifest)
                let entry = try dest.descriptor(forTag: "s2")
                #expect(entry.digest == skopeoDigest && entry.mediaType == MediaTypes.dockerManifest)
                // And it goes back up unchanged under another name.
                let again = try await client.push(
                    layout: dest, tag: "s2", to: try RegistryReference(parsing: "\(registry.host)/docker/again:s2"))
                #expect(again.digest == skopeoDigest)
                #expect(try inspectDigest("\(registry.host)/docker/again:s2") == skopeoDigest)
            }
        }
    }

    @Test func imageIndexAndCrossRepositoryMount() async throws {
        let work = try makeTempDirectory("registry-it")
        defer { try? FileManager.default.removeItem(at: work) }
        let image = try TestImage.make(
            at: work.appendingPathComponent("src"), tag: "multi", salt: "index", asIndex: true)
        try await LocalRegistry.with { registry in
            try await RegistryClient.withClient(options: insecure) { client in
                let ref = try RegistryReference(parsing: "\(registry.host)/multi/img:multi")
                let push = try await client.push(layout: image.layout, tag: "multi", to: ref)
                #expect(push.digest == image.manifestDigest)
                #expect(push.mediaType == MediaTypes.ociIndex)
                #expect(push.manifests.count == 2)
                #expect(push.transferredBlobs.count == 3)
                #expect(try inspectDigest("\(registry.host)/multi/img:multi") == image.manifestDigest)

                let dest = OCILayout(root: work.appendingPathComponent("dest"))
                let pull = try await client.pull(ref, into: dest)
                #expect(pull.digest == image.manifestDigest)
                #expect(try dest.descriptor(forTag: "multi").mediaType == MediaTypes.ociIndex)
                #expect(pull.transferredBlobs.count == 3)

                // Mount every blob into another repository: no blob bytes sent.
                let mounted = try await client.push(
                    layout: image.layout, tag: "multi",
                    to: try RegistryReference(parsing: "\(registry.host)/mounted/img:multi"),
                    mountFrom: "multi/img")
                #expect(mounted.mountedBlobs.count == 3)
                #expect(mounted.blobBytesTransferred == 0)
                print("mount: \(mounted.summary)")
                #expect(try inspectDigest("\(registry.host)/mounted/img:multi") == image.manifestDigest)

                // A source repository without the blobs: the registry opens an upload session instead (202)
                // and the blobs are uploaded through it.
                let fallback = try await client.push(
                    layout: image.layout, tag: "multi",
                    to: try RegistryReference(parsing: "\(registry.host)/fallback/img:multi"),
                    mountFrom: "nowhere/img")
                #expect(fallback.mountedBlobs.isEmpty)
                #expect(fallback.transferredBlobs.count == 3)
                #expect(try inspectDigest("\(registry.host)/fallback/img:multi") == image.manifestDigest)
            }
        }
    }

    @Test(.enabled(if: Tools.haveHtpasswd, "needs /usr/bin/htpasswd (apt-get install apache2-utils)"))
    func basicAuthWithAndWithoutCredentials() async throws {
        let work = try makeTempDirectory("registry-it")
        defer { try? FileManager.default.removeItem(at: work) }
        let image = try TestImage.make(
            at: work.appendingPathComponent("src"), tag: "v1", salt: "auth", layerSize: 20_000)
        let htpasswd = try run(Tools.htpasswd, ["-Bbn", "bench", "s3cret"])
        try await LocalRegistry.with(htpasswd: htpasswd) { registry in
            let ref = try RegistryReference(parsing: "\(registry.host)/private/img:v1")
            // Without credentials: a clear 401.
            try await RegistryClient.withClient(options: insecure) { client in
                await #expect {
                    _ = try await client.push(layout: image.layout, tag: "v1", to: ref)
                } throws: { error in
                    let text = "\(error)"
                    return (error as? RegistryError)?.status == 401 && text.contains("401 Unauthorized")
                        && text.contains("/v2/private/img/")
                }
            }
            // Wrong password: 401 too.
            let wrong = RegistryClientOptions(
                tlsVerify: false, credentials: RegistryCredentials(username: "bench", password: "nope"))
            try await RegistryClient.withClient(options: wrong) { client in
                await #expect {
                    _ = try await client.pull(ref, into: OCILayout(root: work.appendingPathComponent("never")))
                } throws: { error in (error as? RegistryError)?.status == 401 }
            }
            // With credentials: push and pull work.
            let good = RegistryClientOptions(
                tlsVerify: false, credentials: RegistryCredentials(username: "bench", password: "s3cret"))
            try await RegistryClient.withClient(options: good) { client in
                let push = try await client.push(layout: image.layout, tag: "v1", to: ref)
                #expect(push.transferredBlobs.count == 3)
                let dest = OCILayout(root: work.appendingPathComponent("dest"))
                let pull = try await client.pull(ref, into: dest)
                #expect(pull.digest == image.manifestDigest)
            }
            #expect(try inspectDigest(ref.description, creds: "bench:s3cret") == image.manifestDigest)
        }
    }

    @Test func verifiedTLSRefusesPlainHTTPRegistry() async throws {
        let never = FileManager.default.temporaryDirectory.appendingPathComponent("registry-never-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: never) }
        try await LocalRegistry.with { registry in
            try await RegistryClient.withClient(options: RegistryClientOptions(tlsVerify: true)) { client in
                await #expect {
                    _ = try await client.pull(
                        try RegistryReference(parsing: "\(registry.host)/x/y:z"), into: OCILayout(root: never))
                } throws: { error in "\(error)".contains("https://\(registry.host)/v2/") }
                #expect(!FileManager.default.fileExists(atPath: never.path))
            }
        }
    }
}

/// Bearer token auth against a local token server (Python + cryptography), the registry's `auth.token`.
@Suite(
    .serialized, .timeLimit(.minutes(5)),
    .enabled(if: Tools.haveRegistryAndSkopeo, "needs /usr/bin/docker-registry and /usr/bin/skopeo"),
    .enabled(if: LocalTokenServer.available, "needs python3 with the cryptography package for the test token server"))
struct TokenAuthIntegrationTests {
    @Test func bearerTokenFlowWithAndWithoutCredentials() async throws {
        let work = try makeTempDirectory("registry-it")
        defer { try? FileManager.default.removeItem(at: work) }
        let image = try TestImage.make(
            at: work.appendingPathComponent("src"), tag: "v1", salt: "token", layerSize: 20_000)
        let tokens = try LocalTokenServer(username: "bench", password: "t0ken")
        defer { tokens.stop() }
        try await LocalRegistry.with(
            token: (tokens.realm, LocalTokenServer.service, LocalTokenServer.issuer, tokens.certificate)
        ) { registry in
            let ref = try RegistryReference(parsing: "\(registry.host)/tok/img:v1")
            // No credentials: the token endpoint refuses, and the error says so.
            try await RegistryClient.withClient(options: RegistryClientOptions(tlsVerify: false)) { client in
                await #expect {
                    _ = try await client.push(layout: image.layout, tag: "v1", to: ref)
                } throws: { error in
                    guard case .token(let realm, let status, _)? = error as? RegistryError else { return false }
                    return realm == tokens.realm && status == 401 && "\(error)".contains("invalid username or password")
                }
            }
            let options = RegistryClientOptions(
                tlsVerify: false, credentials: RegistryCredentials(username: "bench", password: "t0ken"))
            try await RegistryClient.withClient(options: options) { client in
                let push = try await client.push(layout: image.layout, tag: "v1", to: ref)
                #expect(push.transferredBlobs.count == 3)
                let dest = OCILayout(root: work.appendingPathComponent("dest"))
                let pull = try await client.pull(ref, into: dest)
                #expect(pull.digest == image.manifestDigest)
                #expect(pull.blobBytesTransferred == push.blobBytesTransferred)
                // Mount needs pull on the source repository in the same token.
                let mounted = try await client.push(
                    layout: image.layout, tag: "v1", to: try RegistryReference(parsing: "\(registry.host)/tok/copy:v1"),
                    mountFrom: "tok/img")
                #expect(mounted.mountedBlobs.count == 3)
            }
            let log = tokens.requestLog
            #expect(
                log.contains("scope=repository%3Atok%2Fimg%3Apull%2Cpush")
                    || log.contains("scope=repository:tok/img:pull,push"))
            #expect(log.contains("service=\(LocalTokenServer.service)"))
            // skopeo, with the same credentials, reads the image.
            let raw = try run(
                Tools.skopeo, ["inspect", "--raw", "--tls-verify=false", "--creds", "bench:t0ken", "docker://\(ref)"],
                environment: [
                    "PATH": "/usr/bin:/bin", "HOME": work.path, "REGISTRY_AUTH_FILE": work.path + "/auth.json",
                ])
            #expect(Digests.sha256(Data(raw.utf8)) == image.manifestDigest)
        }
    }
}

/// HTTPS with a self-signed certificate: refused when verifying, used without verification otherwise.
@Suite(
    .serialized, .timeLimit(.minutes(5)),
    .enabled(if: Tools.haveRegistryAndSkopeo, "needs /usr/bin/docker-registry and /usr/bin/skopeo"),
    .enabled(
        if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"),
        "needs /usr/bin/openssl for a test certificate"))
struct TLSIntegrationTests {
    @Test func selfSignedHTTPSNeedsTLSVerifyFalse() async throws {
        let work = try makeTempDirectory("registry-it")
        defer { try? FileManager.default.removeItem(at: work) }
        let cert = work.appendingPathComponent("cert.pem").path
        let key = work.appendingPathComponent("key.pem").path
        try run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            ])
        let image = try TestImage.make(
            at: work.appendingPathComponent("src"), tag: "v1", salt: "tls", layerSize: 20_000)
        try await LocalRegistry.with(tls: (cert, key)) { registry in
            let ref = try RegistryReference(parsing: "\(registry.host)/secure/img:v1")
            try await RegistryClient.withClient(options: RegistryClientOptions(tlsVerify: true)) { client in
                await #expect {
                    _ = try await client.push(layout: image.layout, tag: "v1", to: ref)
                } throws: { error in
                    guard case .transport(_, _, let url, _)? = error as? RegistryError else { return false }
                    return url == "https://\(registry.host)/v2/"
                }
            }
            try await RegistryClient.withClient(options: RegistryClientOptions(tlsVerify: false)) { client in
                let push = try await client.push(layout: image.layout, tag: "v1", to: ref)
                #expect(push.transferredBlobs.count == 3)
                #expect(try await client.baseURL(registry.host) == "https://\(registry.host)")
                let pull = try await client.pull(ref, into: OCILayout(root: work.appendingPathComponent("dest")))
                #expect(pull.digest == image.manifestDigest)
            }
            let raw = try run(
                Tools.skopeo, ["inspect", "--raw", "--tls-verify=false", "docker://\(ref)"],
                environment: [
                    "PATH": "/usr/bin:/bin", "HOME": work.path, "REGISTRY_AUTH_FILE": work.path + "/auth.json",
                ])
            #expect(Digests.sha256(Data(raw.utf8)) == image.manifestDigest)
        }
    }
}
