import Containers
import Foundation

extension ArmSpec {
    /// The engine that runs this arm; `vmURI` selects libvirt's connection (nil: the embedded driver).
    public func makeEngine(vmURI: String? = nil) -> any Engine {
        switch config {
        case .native: NativeEngine(arm: self)
        case .container(let c):
            switch (c.engine, c.path) {
            case (.boxbench, nil): BoxbenchContainerEngine(arm: self)
            case (.boxbench, let path?): PeerContainerEngine(arm: self, peer: PeerRuntime(kind: .boxbench, path: path))
            case (.crun, let path):
                PeerContainerEngine(arm: self, peer: PeerRuntime(kind: .crun, path: path ?? PeerRuntime.crun.path))
            case (.runc, let path):
                PeerContainerEngine(arm: self, peer: PeerRuntime(kind: .runc, path: path ?? PeerRuntime.runc.path))
            case (.podman, let path): PodmanEngine(arm: self, path: path)
            }
        case .vm(let v): VMEngine(name: name, vm: v, uri: vmURI)
        }
    }
}

extension Suite {
    /// Arms whose engine's program is not on this host (`arms[i]` key and the path): said before any run.
    public func missingPrograms() -> [(arm: String, path: String)] {
        arms.compactMap { arm in
            let path: String?
            switch arm.config {
            case .native: path = nil
            case .container(let c):
                switch c.engine {
                case .boxbench: path = c.path
                case .crun: path = c.path ?? PeerRuntime.crun.path
                case .runc: path = c.path ?? PeerRuntime.runc.path
                case .podman: path = c.path ?? "/usr/bin/podman"
                }
            case .vm(let v): path = v.path ?? (v.launcher == .qemu ? "/usr/bin/qemu-system-x86_64" : nil)
            }
            guard let path, access(path, X_OK) != 0 else { return nil }
            return (arm.name, path)
        }
    }
}
