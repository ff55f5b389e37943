import Containers

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
            }
        case .vm(let v): VMEngine(name: name, vm: v, uri: vmURI)
        }
    }
}
