import Foundation
import Testing

@testable import Images

/// Real OCI tools must accept the store.
@Suite(.serialized) struct ClientInteropTests {
    func buildStore(_ dir: TempDir) throws -> ImageStore {
        let store = try makeStore(dir)
        dir.write(
            "ctx/Dockerfile",
            """
            FROM boxbench/busybox
            COPY hello.txt /srv/hello.txt
            ENV GREETING=hi
            ENTRYPOINT ["/bin/cat"]
            CMD ["/srv/hello.txt"]
            """)
        dir.write("ctx/hello.txt", "hello\n")
        _ = try ImageBuilder(store: store).build(
            BuildOptions(context: dir.path + "/ctx", tag: ImageReference(name: "hello", tag: "v1")))
        return store
    }

    @Test func skopeoInspects() throws {
        let dir = TempDir("skopeo")
        defer { dir.cleanup() }
        let store = try buildStore(dir)
        let r = runTool(["skopeo", "inspect", "oci:\(store.root):hello:v1"])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("\"Layers\""))
        #expect(r.output.contains("GREETING=hi"))
        let base = runTool(["skopeo", "inspect", "--config", "oci:\(store.root):boxbench/busybox:latest"])
        #expect(base.status == 0, "\(base.output)")
    }

    @Test func umociUnpacks() throws {
        let dir = TempDir("umoci")
        defer { dir.cleanup() }
        let store = try buildStore(dir)
        let r = runTool(["umoci", "unpack", "--rootless", "--image", "\(store.root):hello:v1", dir.path + "/bundle"])
        #expect(r.status == 0, "\(r.output)")
        #expect(try String(contentsOfFile: dir.path + "/bundle/rootfs/srv/hello.txt", encoding: .utf8) == "hello\n")
        #expect(FS.exists(dir.path + "/bundle/rootfs/bin/busybox"))
    }

    @Test func ociImageToolValidates() throws {
        let dir = TempDir("oit")
        defer { dir.cleanup() }
        let store = try buildStore(dir)
        let r = runTool(["oci-image-tool", "validate", "--type", "image", "--ref", "name=hello:v1", store.root])
        #expect(r.status == 0, "\(r.output)")
        #expect(!r.output.lowercased().contains("invalid"), "\(r.output)")
    }
}
