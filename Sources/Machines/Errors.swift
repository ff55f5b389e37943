#if canImport(Glibc)
    import Glibc
#endif

/// Every failure of the VM arm names the operation; libvirt failures carry libvirt's own message.
public enum MachineError: Error, CustomStringConvertible, Sendable {
    /// A libvirt call failed: the operation and `virGetLastErrorMessage()`.
    case libvirt(operation: String, message: String)
    /// A host system call failed: the operation (with its path) and errno.
    case system(operation: String, errno: Int32)
    /// Input the VM arm cannot represent (a newline in an argument, a control character in a name…).
    case invalidInput(String)
    /// Building guest artifacts failed (a tool exited non-zero, a kernel module is missing…).
    case artifacts(String)
    /// Starting the emulator directly failed (launcher qemu): the program and why.
    case launch(String)
    /// The run was cancelled (SIGINT or `VMRunner.cancelAll()`).
    case cancelled

    public var description: String {
        switch self {
        case .libvirt(let op, let message): "\(op): \(message)"
        case .system(let op, let e): "\(op): \(String(cString: strerror(e))) (errno \(e))"
        case .invalidInput(let m): "invalid input: \(m)"
        case .artifacts(let m): "guest artifacts: \(m)"
        case .launch(let m): "launch: \(m)"
        case .cancelled: "cancelled"
        }
    }
}
