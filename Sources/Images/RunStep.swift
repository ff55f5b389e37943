/// The network a RUN step gets: the host's (like `docker build --network host`, with the host's resolv.conf and
/// hosts), or none (a fresh network namespace with only loopback).
public enum BuildNetwork: String, Sendable, CaseIterable {
    case host
    case none
}

/// One RUN instruction, ready for a container: an overlay of the image so far plus an empty upper dir.
public struct RunStep: Sendable {
    public var argv: [String]
    public var env: [String]
    public var workdir: String
    public var user: String?
    /// Layer directories, top-most first (overlay lowerdir order); never empty.
    public var lowerDirs: [String]
    public var upperDir: String
    /// overlayfs workdir (same filesystem as upperDir).
    public var workDir: String
    public var network: BuildNetwork

}

/// Runs RUN steps; implemented with boxbench's container runtime outside this module, faked in tests.
/// Mounts overlay(lower=lowerDirs, upper=upperDir, work=workDir), runs argv isolated with that rootfs, and
/// returns the exit status (nonzero fails the build naming the step). Changes land in upperDir.
public protocol RunStepExecutor: Sendable {
    func run(_ step: RunStep, output: @Sendable (String) -> Void) throws -> Int32
}
