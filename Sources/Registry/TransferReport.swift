/// What one push or pull moved, blob by blob.
public struct TransferReport: Sendable {
    public enum Direction: String, Sendable { case push, pull }

    public enum Outcome: String, Sendable {
        /// Sent (push) or fetched (pull).
        case transferred
        /// The other side already had it: a HEAD hit on push, a blob already in the layout on pull.
        case present
        /// Cross-repository mounted on the registry: no bytes sent.
        case mounted
        /// A foreign / non-distributable layer, left out.
        case nonDistributable
    }

    public struct Blob: Sendable, Equatable {
        public var digest: String
        public var size: Int64
        public var mediaType: String?
        public var outcome: Outcome
        /// Bytes of this blob that crossed the network (0 unless transferred; more than size after a retry).
        public var bytesTransferred: Int64
    }

    public struct Manifest: Sendable, Equatable {
        public var digest: String
        public var mediaType: String
        public var size: Int64
        public var bytesTransferred: Int64
    }

    public var direction: Direction
    public var reference: String
    /// The digest of what the tag names (manifest or index).
    public var digest: String
    public var mediaType: String
    public var blobs: [Blob] = []
    /// Pull: the descriptor of what the tag names, as it went into the layout.
    public var topDescriptor: Descriptor?
    public var manifests: [Manifest] = []

    public var blobBytesTransferred: Int64 { blobs.reduce(0) { $0 + $1.bytesTransferred } }
    public var manifestBytesTransferred: Int64 { manifests.reduce(0) { $0 + $1.bytesTransferred } }
    public var totalBytesTransferred: Int64 { blobBytesTransferred + manifestBytesTransferred }
    public var transferredBlobs: [String] { blobs.filter { $0.outcome == .transferred }.map(\.digest) }
    public var skippedBlobs: [String] { blobs.filter { $0.outcome == .present }.map(\.digest) }
    public var mountedBlobs: [String] { blobs.filter { $0.outcome == .mounted }.map(\.digest) }

    /// One line for a command's output.
    public var summary: String {
        let verb = direction == .push ? "sent" : "received"
        return "\(direction.rawValue) \(reference) \(digest): \(transferredBlobs.count) blob(s) \(verb) "
            + "(\(blobBytesTransferred) bytes), \(skippedBlobs.count) already present, \(mountedBlobs.count) mounted; "
            + "\(manifests.count) manifest(s), \(manifestBytesTransferred) bytes; \(totalBytesTransferred) bytes in total"
    }
}
