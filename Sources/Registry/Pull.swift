import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1

extension RegistryClient {
    /// The largest manifest accepted (distribution's own limit is 4 MiB).
    static let manifestLimit = 8 << 20

    /// Pulls `reference` into `layout` (created if missing) and records it under `tag` (default: the
    /// reference's tag, else `latest`). Manifests are verified against their digests and stored with
    /// their exact bytes; blobs the layout already has are not fetched; fetched blobs are verified
    /// while streaming into a temp file, then renamed into place. index.json is updated last.
    /// `recordTag: false` leaves `index.json` alone: a caller with its own index (boxbench's image store, under its
    /// lock) tags the pulled digest itself.
    public func pull(
        _ reference: RegistryReference, into layout: OCILayout, tag: String? = nil, recordTag shouldRecord: Bool = true
    ) async throws -> TransferReport {
        let recordTag = tag ?? reference.tag ?? "latest"
        guard !shouldRecord || RegistryReference.isValidTag(recordTag) else {
            throw RegistryError.layout(path: layout.root.path, reason: "invalid tag '\(recordTag)'")
        }
        // Reach the registry before creating anything on disk.
        let base = try await baseURL(reference.registry)
        try layout.create()
        var session = PullSession(
            layout: layout, reference: reference, scopes: ["repository:\(reference.repository):pull"],
            report: TransferReport(direction: .pull, reference: reference.description, digest: "", mediaType: ""))
        let top = try await pullManifest(
            reference.manifestReference, expectedDigest: reference.digest, declared: nil, base: base, session: &session,
            depth: 0)
        session.report.digest = top.digest
        session.report.mediaType = top.mediaType ?? ""
        if shouldRecord { try layout.setTag(recordTag, to: top) }
        session.report.topDescriptor = top
        return session.report
    }

    struct PullSession {
        var layout: OCILayout
        var reference: RegistryReference
        var scopes: [String]
        var report: TransferReport
        var done: Set<String> = []
    }

    private func pullManifest(
        _ manifestReference: String, expectedDigest: String?, declared: String?, base: String,
        session: inout PullSession, depth: Int
    ) async throws -> Descriptor {
        let layout = session.layout
        let url = "\(base)/v2/\(session.reference.repository)/manifests/\(manifestReference)"
        guard depth < 4 else {
            throw RegistryError.invalidResponse(
                operation: "pull manifest", url: url, reason: "manifests nested too deep")
        }
        var bytes: Data
        var contentType: String?
        var digest: String
        if let expectedDigest, layout.hasBlob(expectedDigest), let local = try? layout.readBlob(expectedDigest),
            Digests.sha256(local) == expectedDigest
        {
            bytes = local
            digest = expectedDigest
            session.report.manifests.append(
                .init(digest: digest, mediaType: declared ?? "", size: Int64(local.count), bytesTransferred: 0))
        } else {
            var headers = HTTPHeaders()
            headers.add(name: "Accept", value: MediaTypes.manifestAccept.joined(separator: ", "))
            let response = try await send(
                operation: "pull manifest", registry: session.reference.registry, scopes: session.scopes, method: .GET,
                url: url, headers: headers)
            guard response.status.code == 200 else {
                throw await failure(response, operation: "pull manifest", method: .GET, url: url)
            }
            var received: [UInt8] = []
            for try await buffer in response.body {
                received.append(contentsOf: buffer.readableBytesView)
                if received.count > Self.manifestLimit {
                    throw RegistryError.invalidResponse(
                        operation: "pull manifest", url: url, reason: "manifest larger than \(Self.manifestLimit) bytes"
                    )
                }
            }
            bytes = Data(received)
            digest = Digests.sha256(bytes)
            if let echoed = response.headers.first(name: "Docker-Content-Digest"), Digests.isValid(echoed),
                echoed != digest
            {
                throw RegistryError.digestMismatch(what: "manifest", url: url, expected: echoed, actual: digest)
            }
            if let expectedDigest, expectedDigest != digest {
                throw RegistryError.digestMismatch(what: "manifest", url: url, expected: expectedDigest, actual: digest)
            }
            contentType = response.headers.first(name: "Content-Type").map {
                String($0.split(separator: ";").first ?? "").trimmingCharacters(in: .whitespaces)
            }
            session.report.manifests.append(
                .init(digest: digest, mediaType: "", size: Int64(bytes.count), bytesTransferred: Int64(bytes.count)))
        }
        guard let document = try? JSONDecoder().decode(ManifestDocument.self, from: bytes) else {
            throw RegistryError.invalidResponse(operation: "pull manifest", url: url, reason: "not a JSON manifest")
        }
        if document.schemaVersion == 1 || contentType == MediaTypes.dockerSchema1
            || contentType == MediaTypes.dockerSchema1Signed
        {
            throw RegistryError.unsupportedMediaType(url: url, mediaType: contentType ?? MediaTypes.dockerSchema1)
        }
        guard let mediaType = document.resolvedMediaType(declared: contentType ?? declared),
            MediaTypes.isManifest(mediaType)
        else {
            throw RegistryError.unsupportedMediaType(url: url, mediaType: contentType ?? document.mediaType ?? "(none)")
        }
        session.report.manifests[session.report.manifests.count - 1].mediaType = mediaType

        if MediaTypes.isIndex(mediaType) {
            for child in document.manifests ?? [] where !session.done.contains(child.digest) {
                guard Digests.isValid(child.digest) else { throw RegistryError.invalidDigest(child.digest) }
                _ = try await pullManifest(
                    child.digest, expectedDigest: child.digest, declared: child.mediaType, base: base,
                    session: &session, depth: depth + 1)
                session.done.insert(child.digest)
            }
        } else {
            for blob in document.blobs {
                try await pullBlob(blob, base: base, session: &session)
            }
        }
        // Stored after its children and blobs, so a manifest in the layout implies its content is there.
        if !layout.hasBlob(digest, size: Int64(bytes.count)) {
            try layout.storeBlob(bytes, digest: digest)
        }
        return Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count))
    }

    private func pullBlob(_ blob: Descriptor, base: String, session: inout PullSession) async throws {
        guard !session.done.contains(blob.digest) else { return }
        guard Digests.isValid(blob.digest), blob.size >= 0 else { throw RegistryError.invalidDigest(blob.digest) }
        session.done.insert(blob.digest)
        let layout = session.layout
        if layout.hasBlob(blob.digest, size: blob.size) {
            session.report.blobs.append(
                .init(
                    digest: blob.digest, size: blob.size, mediaType: blob.mediaType, outcome: .present,
                    bytesTransferred: 0))
            return
        }
        if let mediaType = blob.mediaType, MediaTypes.isNonDistributable(mediaType), !(blob.urls ?? []).isEmpty {
            session.report.blobs.append(
                .init(
                    digest: blob.digest, size: blob.size, mediaType: blob.mediaType, outcome: .nonDistributable,
                    bytesTransferred: 0))
            return
        }
        let url = "\(base)/v2/\(session.reference.repository)/blobs/\(blob.digest)"
        let response = try await send(
            operation: "pull blob", registry: session.reference.registry, scopes: session.scopes, method: .GET, url: url
        )
        guard response.status.code == 200 else {
            throw await failure(response, operation: "pull blob", method: .GET, url: url)
        }
        let temp = try layout.temporaryBlobURL(for: blob.digest)
        var received: Int64 = 0
        do {
            guard FileManager.default.createFile(atPath: temp.path, contents: nil) else {
                throw RegistryError.layout(path: layout.root.path, reason: "cannot create \(temp.path)")
            }
            let handle = try FileHandle(forWritingTo: temp)
            defer { try? handle.close() }
            var hasher = SHA256()
            for try await buffer in response.body {
                received += Int64(buffer.readableBytes)
                if received > blob.size {
                    throw RegistryError.sizeMismatch(
                        what: "blob \(blob.digest)", url: url, expected: blob.size, actual: received)
                }
                buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                try handle.write(contentsOf: Data(buffer.readableBytesView))
            }
            guard received == blob.size else {
                throw RegistryError.sizeMismatch(
                    what: "blob \(blob.digest)", url: url, expected: blob.size, actual: received)
            }
            let actual = Digests.format(hasher.finalize())
            guard actual == blob.digest else {
                throw RegistryError.digestMismatch(what: "blob", url: url, expected: blob.digest, actual: actual)
            }
            try handle.synchronize()
            try OCILayout.rename(temp, to: try layout.blobURL(blob.digest))
        } catch {
            try? FileManager.default.removeItem(at: temp)
            if let error = error as? RegistryError { throw error }
            throw RegistryError.layout(path: layout.root.path, reason: "writing blob \(blob.digest): \(error)")
        }
        session.report.blobs.append(
            .init(
                digest: blob.digest, size: blob.size, mediaType: blob.mediaType, outcome: .transferred,
                bytesTransferred: received))
    }
}
