import Foundation

public struct LayerSize: Sendable, Codable {
    public var digest: Digest
    public var diffID: Digest
    /// Gzip bytes: what travels over the wire and sits in the blob store.
    public var compressedBytes: Int64
    /// Tar bytes.
    public var uncompressedBytes: Int64
    /// Other tagged images (by reference) in the store that use this layer too.
    public var sharedWith: [String]
}

public struct ImageSizeReport: Sendable, Codable {
    public var reference: String
    public var digest: Digest
    public var layers: [LayerSize]
    public var configBytes: Int64
    public var manifestBytes: Int64
    public var compressedBytes: Int64
    public var uncompressedBytes: Int64
    /// Layer bytes also used by another image in the store.
    public var sharedCompressedBytes: Int64
    public var sharedUncompressedBytes: Int64
    /// Layer bytes only this image uses.
    public var uniqueCompressedBytes: Int64
    public var uniqueUncompressedBytes: Int64
}

/// What pulling an image costs when another is already present: the layers it lacks.
public struct PullEstimate: Sendable, Codable {
    public var missingLayers: [Digest]
    public var compressedBytes: Int64
    public var uncompressedBytes: Int64
}

extension ImageStore {
    public func sizes(of image: StoredImage) throws -> ImageSizeReport {
        let others = try allImages().filter { $0.digest != image.digest }
        var users: [Digest: [String]] = [:]
        for o in others {
            for l in Set(o.manifest.layers.map(\.digest)) {
                users[l, default: []].append(o.reference?.description ?? o.digest.description)
            }
        }
        var layers: [LayerSize] = []
        for (i, l) in image.manifest.layers.enumerated() {
            let info = try layerInfo(l)
            let diffID = i < image.config.rootfs.diff_ids.count ? image.config.rootfs.diff_ids[i] : info.diffID
            layers.append(
                LayerSize(
                    digest: l.digest, diffID: diffID, compressedBytes: l.size, uncompressedBytes: info.uncompressedSize,
                    sharedWith: Array(Set(users[l.digest] ?? [])).sorted()))
        }
        let shared = layers.filter { !$0.sharedWith.isEmpty }
        let unique = layers.filter { $0.sharedWith.isEmpty }
        return ImageSizeReport(
            reference: image.reference?.description ?? image.digest.description, digest: image.digest, layers: layers,
            configBytes: image.manifest.config.size, manifestBytes: image.manifestDescriptor.size,
            compressedBytes: layers.reduce(0) { $0 + $1.compressedBytes },
            uncompressedBytes: layers.reduce(0) { $0 + $1.uncompressedBytes },
            sharedCompressedBytes: shared.reduce(0) { $0 + $1.compressedBytes },
            sharedUncompressedBytes: shared.reduce(0) { $0 + $1.uncompressedBytes },
            uniqueCompressedBytes: unique.reduce(0) { $0 + $1.compressedBytes },
            uniqueUncompressedBytes: unique.reduce(0) { $0 + $1.uncompressedBytes })
    }

    /// Layer bytes needed to get `image` onto a host that already has `given` (config and manifest, a few
    /// hundred bytes each, are not counted).
    public func bytesToPull(image: StoredImage, given: StoredImage?) throws -> PullEstimate {
        let present = Set(given?.manifest.layers.map(\.digest) ?? [])
        var seen = Set<Digest>()
        var missing: [Digest] = []
        var compressed: Int64 = 0
        var uncompressed: Int64 = 0
        for l in image.manifest.layers where !present.contains(l.digest) && !seen.contains(l.digest) {
            seen.insert(l.digest)
            missing.append(l.digest)
            compressed += l.size
            uncompressed += try layerInfo(l).uncompressedSize
        }
        return PullEstimate(missingLayers: missing, compressedBytes: compressed, uncompressedBytes: uncompressed)
    }
}
