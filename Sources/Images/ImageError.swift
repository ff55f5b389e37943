import Foundation

/// Every failure in the Images module: what was being done, on what, and why (errno text when a syscall failed).
public struct ImageError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable {
        case io, digestMismatch, notFound, invalidReference, invalidImage, unsafeEntry, archive, build, unsupported
        /// `ImageBuilder.cancelAll()` (SIGINT/SIGTERM) stopped the build; what it had written is removed.
        case cancelled
    }
    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A failed syscall: "open /path: ENOENT (No such file or directory)".
    static func errno(_ operation: String, _ path: String, _ err: Int32 = Glibc.errno) -> ImageError {
        ImageError(.io, "\(operation) \(path): \(errnoName(err)) (\(String(cString: strerror(err))))")
    }

    public var description: String { message }
}

func errnoName(_ err: Int32) -> String {
    let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", EIO: "EIO", EBADF: "EBADF", EACCES: "EACCES", EEXIST: "EEXIST",
        ENOTDIR: "ENOTDIR", EISDIR: "EISDIR", EINVAL: "EINVAL", ENOSPC: "ENOSPC", EROFS: "EROFS", ELOOP: "ELOOP",
        ENOTEMPTY: "ENOTEMPTY", EXDEV: "EXDEV", ENAMETOOLONG: "ENAMETOOLONG", EBUSY: "EBUSY", ENOTSUP: "ENOTSUP",
        EWOULDBLOCK: "EWOULDBLOCK", EMLINK: "EMLINK",
    ]
    return names[err] ?? "errno \(err)"
}
