import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

extension RegistryClient {
    /// Pushes the image that `tag` names in `layout` to `reference` (its tag, or its digest, or `tag`).
    ///
    /// Blobs the repository already has (HEAD hit) are not sent; with `mountFrom` (a repository on
    /// the same registry) missing blobs are mounted from it when the registry can, else uploaded with
    /// `POST` + monolithic `PUT`. Manifests go up with their own media type and exact bytes; an index
    /// has its child manifests pushed by digest first.
    public func push(
        layout: OCILayout, tag: String, to reference: RegistryReference, mountFrom: String? = nil
    ) async throws -> TransferReport {
        let top = try layout.descriptor(forTag: tag)
        if let pinned = reference.digest, pinned != top.digest {
            throw RegistryError.digestMismatch(
                what: "push target", url: reference.description, expected: pinned, actual: top.digest)
        }
        var scopes = ["repository:\(reference.repository):pull,push"]
        if let mountFrom, mountFrom != reference.repository { scopes.append("repository:\(mountFrom):pull") }
        var session = PushSession(
            layout: layout, reference: reference, scopes: scopes,
            mountFrom: mountFrom == reference.repository ? nil : mountFrom,
            report: TransferReport(
                direction: .push, reference: reference.description, digest: top.digest, mediaType: top.mediaType ?? ""))
        let base = try await baseURL(reference.registry)
        let mediaType = try await pushManifest(
            top, as: reference.tag ?? reference.digest ?? tag, base: base, session: &session, depth: 0)
        session.report.mediaType = mediaType
        return session.report
    }

    /// A PUT the registry must answer with 2xx; the digest it echoes, if any, must be the one sent.
    func accept(_ response: HTTPClientResponse, operation: String, url: String, what: String, digest: String)
        async throws
    {
        guard (200..<300).contains(response.status.code) else {
            throw await failure(response, operation: operation, method: .PUT, url: url)
        }
        _ = await Self.collect(response.body, limit: 64 * 1024)
        if let echoed = response.headers.first(name: "Docker-Content-Digest"), echoed != digest {
            throw RegistryError.digestMismatch(what: what, url: url, expected: digest, actual: echoed)
        }
    }

    struct PushSession {
        /// One blob done: what happened to it and the bytes that crossed the network for it.
        mutating func record(_ blob: Descriptor, _ outcome: TransferReport.Outcome, bytes: Int64 = 0) {
            report.blobs.append(
                .init(
                    digest: blob.digest, size: blob.size, mediaType: blob.mediaType, outcome: outcome,
                    bytesTransferred: bytes))
            done.insert(blob.digest)
        }

        var layout: OCILayout
        var reference: RegistryReference
        var scopes: [String]
        var mountFrom: String?
        var report: TransferReport
        var done: Set<String> = []
    }

    private func pushManifest(
        _ descriptor: Descriptor, as manifestReference: String, base: String, session: inout PushSession, depth: Int
    ) async throws -> String {
        let layout = session.layout
        guard depth < 4 else {
            throw RegistryError.layout(
                path: layout.root.path, reason: "manifests nested too deep at \(descriptor.digest)")
        }
        let bytes = try layout.readBlob(descriptor.digest)
        let actual = Digests.sha256(bytes)
        guard actual == descriptor.digest else {
            throw RegistryError.digestMismatch(
                what: "manifest in layout", url: layout.root.path, expected: descriptor.digest, actual: actual)
        }
        guard let document = try? JSONDecoder().decode(ManifestDocument.self, from: bytes),
            let mediaType = document.resolvedMediaType(declared: descriptor.mediaType), MediaTypes.isManifest(mediaType)
        else {
            throw RegistryError.unsupportedMediaType(
                url: layout.root.path + " " + descriptor.digest, mediaType: descriptor.mediaType ?? "(unknown)")
        }
        if MediaTypes.isIndex(mediaType) {
            for child in document.manifests ?? [] where !session.done.contains(child.digest) {
                _ = try await pushManifest(child, as: child.digest, base: base, session: &session, depth: depth + 1)
                session.done.insert(child.digest)
            }
        } else {
            for blob in document.blobs {
                try await pushBlob(blob, base: base, session: &session)
            }
        }
        let repository = session.reference.repository
        let url = "\(base)/v2/\(repository)/manifests/\(manifestReference)"
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: mediaType)
        let response = try await send(
            operation: "push manifest", registry: session.reference.registry, scopes: session.scopes, method: .PUT,
            url: url, headers: headers, body: .bytes(ByteBuffer(bytes: bytes)))
        try await accept(
            response, operation: "push manifest", url: url, what: "pushed manifest", digest: descriptor.digest)
        session.report.manifests.append(
            .init(
                digest: descriptor.digest, mediaType: mediaType, size: Int64(bytes.count),
                bytesTransferred: Int64(bytes.count)))
        return mediaType
    }

    private func pushBlob(_ blob: Descriptor, base: String, session: inout PushSession) async throws {
        guard !session.done.contains(blob.digest) else { return }
        guard Digests.isValid(blob.digest) else { throw RegistryError.invalidDigest(blob.digest) }
        let registry = session.reference.registry
        let repository = session.reference.repository
        let layout = session.layout
        let mediaType = blob.mediaType ?? ""

        if MediaTypes.isNonDistributable(mediaType), !(blob.urls ?? []).isEmpty, !layout.hasBlob(blob.digest) {
            session.record(blob, .nonDistributable)
            return
        }

        // Already there?
        let headURL = "\(base)/v2/\(repository)/blobs/\(blob.digest)"
        let head = try await send(
            operation: "push: check blob", registry: registry, scopes: session.scopes, method: .HEAD, url: headURL)
        switch head.status.code {
        case 200:
            _ = await Self.collect(head.body, limit: 0)
            session.record(blob, .present)
            return
        case 404:
            _ = await Self.collect(head.body, limit: 0)
        default:
            throw await failure(head, operation: "push: check blob", method: .HEAD, url: headURL)
        }

        let size = try layout.blobSize(blob.digest)
        guard size == blob.size else {
            throw RegistryError.layout(
                path: layout.root.path,
                reason: "blob \(blob.digest) has \(size) bytes, its descriptor says \(blob.size)")
        }

        // Mount from another repository, or open an upload session.
        var startURL = "\(base)/v2/\(repository)/blobs/uploads/"
        let mounting = session.mountFrom != nil
        if let from = session.mountFrom {
            startURL = UploadLocation.appendingQuery(startURL, name: "mount", value: blob.digest)
            startURL = UploadLocation.appendingQuery(startURL, name: "from", value: from)
        }
        let operation = mounting ? "push: mount blob" : "push: start blob upload"
        var startHeaders = HTTPHeaders()
        startHeaders.add(name: "Content-Length", value: "0")
        let start = try await send(
            operation: operation, registry: registry, scopes: session.scopes, method: .POST, url: startURL,
            headers: startHeaders, body: .bytes(ByteBuffer()))
        if start.status.code == 201, mounting {
            _ = await Self.collect(start.body, limit: 64 * 1024)
            session.record(blob, .mounted)
            return
        }
        guard start.status.code == 202, let location = start.headers.first(name: "Location") else {
            if start.status.code == 202 {
                throw RegistryError.invalidResponse(
                    operation: operation, url: startURL, reason: "202 without a Location header")
            }
            throw await failure(start, operation: operation, method: .POST, url: startURL)
        }
        _ = await Self.collect(start.body, limit: 64 * 1024)

        // Monolithic upload.
        let uploadURL = UploadLocation.appendingQuery(
            try UploadLocation.resolve(location, against: startURL), name: "digest", value: blob.digest)
        let counter = ByteCounter()
        let path = try layout.blobURL(blob.digest).path
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/octet-stream")
        let put = try await send(
            operation: "push: upload blob", registry: registry, scopes: session.scopes, method: .PUT, url: uploadURL,
            headers: headers,
            body: .stream(FileChunks(path: path, chunkSize: 1 << 20, counter: counter), length: .known(size)))
        try await accept(
            put, operation: "push: upload blob \(blob.digest)", url: uploadURL, what: "uploaded blob",
            digest: blob.digest)
        session.record(blob, .transferred, bytes: counter.total)
    }
}
