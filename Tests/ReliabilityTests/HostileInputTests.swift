import Containers
import Foundation
import Machines
import Suites
import Testing

@testable import Images

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Every fixture under Fixtures/hostile must fail with an error naming the culprit, write nothing outside its
/// target, and leave the image store valid.
@Suite struct HostileInputTests {
    // MARK: Dockerfiles

    @Test func dockerfilesFailNamingFileLineAndInstruction() throws {
        let cases = try Corpus.expectations("dockerfiles")
        #expect(cases.count >= 30)
        for (name, substrings) in cases {
            let path = Corpus.root + "/dockerfiles/" + name
            do {
                _ = try Dockerfile.load(path)
                Issue.record("\(name): parsed without error")
            } catch let e as DockerfileError {
                #expect(e.file == path, "\(name): error names \(e.file)")
                expectNames(e, substrings, fixture: name)
            } catch {
                Issue.record("\(name): untyped error \(error)")
            }
        }
    }

    @Test func oversizedAndBinaryDockerfilesAreTypedErrors() throws {
        let huge = "FROM scratch\nRUN " + String(repeating: "A", count: 2 << 20) + "\nBAD\n"
        #expect(throws: DockerfileError.self) { try Dockerfile.parse(huge, file: "huge") }
        let manyContinuations = "FROM scratch\nRUN a" + String(repeating: " \\\n", count: 50_000) + "b\nNOPE\n"
        #expect { try Dockerfile.parse(manyContinuations, file: "cont") } throws: { e in
            (e as? DockerfileError).map { $0.instruction == "NOPE" && $0.line == 50_003 } ?? false
        }
        let s = Scratch("df")
        defer { s.cleanup() }
        #expect(
            FileManager.default.createFile(atPath: s.path + "/Dockerfile", contents: Data([0x46, 0xff, 0xfe, 0x00])))
        #expect { try Dockerfile.load(s.path + "/Dockerfile") } throws: { e in
            "\(e)".contains(s.path + "/Dockerfile") && "\(e)".contains("UTF-8")
        }
    }

    // MARK: suites

    @Test func suitesFailNamingFileLineAndKey() throws {
        let cases = try Corpus.expectations("suites")
        #expect(cases.count >= 25)
        for (name, substrings) in cases {
            let path = Corpus.root + "/suites/" + name
            do {
                _ = try Suite.load(path: path)
                Issue.record("\(name): parsed without error")
            } catch {
                #expect(error.file == path)
                expectNames(error, substrings, fixture: name)
            }
        }
    }

    // MARK: config.json bundles

    @Test func bundlesFailNamingFileAndField() throws {
        let cases = try Corpus.expectations("bundles")
        #expect(cases.count >= 30)
        for (name, substrings) in cases {
            let bundle = Corpus.root + "/bundles/" + name
            do {
                _ = try RuntimeSpec.load(bundle: bundle)
                Issue.record("\(name): loaded without error")
            } catch {
                #expect(error.file == bundle + "/config.json")
                expectNames(error, substrings + ["config.json"], fixture: name)
            }
        }
    }

    // MARK: domain XML

    @Test func domainNamesAndArgsWithXMLMetacharactersRoundTrip() throws {
        struct Names: Decodable {
            var valid: [String]
            var invalid: [String: String]
        }
        let names = try JSONDecoder().decode(
            Names.self, from: Data(contentsOf: URL(fileURLWithPath: Corpus.root + "/domain/names.json")))
        #expect(names.valid.count >= 8)
        for name in names.valid {
            // Names cannot hold '/', arguments can: the closing-tag injection goes into the cmdline.
            let cmdline = "console=ttyS0 bb.arg=\(name) </cmdline></os><devices><hostdev/></devices><os><cmdline>"
            let spec = DomainSpec(name: name, kernel: "/k/<vmlinuz>&'", initrd: nil, cmdline: cmdline, serial: .pty)
            let xml = try spec.xml()
            let parsed = try XMLTextCollector(xml)
            #expect(parsed.texts["name"] == [name], "name \(name.debugDescription) did not round-trip: \(xml)")
            #expect(parsed.texts["cmdline"] == [cmdline])
            #expect(parsed.texts["kernel"] == ["/k/<vmlinuz>&'"])
            // Nothing injected: one domain, one name, no hostdev.
            #expect(parsed.counts["domain"] == 1 && parsed.counts["name"] == 1 && parsed.counts["hostdev"] == nil)
        }
        for (name, culprit) in names.invalid {
            #expect(throws: MachineError.self, "\(name.debugDescription) accepted") {
                try DomainSpec(name: name, kernel: "/k", initrd: nil, serial: .pty).xml()
            }
            do { _ = try DomainSpec(name: name, kernel: "/k", initrd: nil, serial: .pty).xml() } catch {
                #expect("\(error)".contains(culprit), "\(error) does not name \(culprit)")
            }
            // The same character in an argument fails too, naming the field.
            if !name.isEmpty && !name.contains("/") {
                #expect {
                    try DomainSpec(name: "ok", kernel: "/k", initrd: nil, cmdline: name, serial: .pty).xml()
                } throws: {
                    "\($0)".contains("cmdline")
                }
            }
        }
    }

    // MARK: OCI layouts

    @Test func ociLayoutsFailNamingTheCulpritAndLeaveTheStoreValid() throws {
        let cases = try Corpus.expectations("oci-layouts")
        #expect(cases.count >= 20)
        let s = Scratch("layouts")
        defer { s.cleanup() }
        let store = try ImageStore(root: s.path + "/store", layerCache: s.path + "/layers")
        let before = treeSnapshot(Corpus.root + "/oci-layouts")
        for (name, substrings) in cases {
            let src = Corpus.root + "/oci-layouts/" + name
            // The same layout as a directory and as a tar of it.
            let tar = s.path + "/\(name).tar"
            #expect(try sh(["tar", "-C", src, "-cf", tar, "."]) == 0)
            for path in [src, tar] {
                if substrings.isEmpty {
                    #expect(try store.importImages(from: path).count == 1, "\(name) is the valid control")
                    continue
                }
                do {
                    let imported = try store.importImages(from: path)
                    Issue.record("\(name): imported \(imported.map(\.digest)) without error")
                } catch {
                    #expect(error is ImageError, "\(name): \(type(of: error))")
                    expectNames(error, substrings, fixture: name)
                }
            }
            try expectStoreValid(s.path + "/store", s.path + "/layers", tags: [])
        }
        #expect(treeSnapshot(Corpus.root + "/oci-layouts") == before, "an import wrote into its source")
        // Only the control image made it in.
        let listed = try ImageStore(root: s.path + "/store", layerCache: s.path + "/layers").list()
        #expect(listed.map(\.reference.description) == ["hostile:latest"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.path + "/store/.boxbench/tmp").isEmpty)
    }

    /// Blob files that are symlinks (to /dev/zero, to a host file) or FIFOs must be refused, not read forever.
    @Test(arguments: ["symlink-dev-zero", "symlink-host-file", "fifo"])
    func blobsThatAreNotRegularFilesAreRefused(_ kind: String) throws {
        let s = Scratch("blobkind")
        defer { s.cleanup() }
        let layout = s.path + "/layout"
        #expect(try sh(["cp", "-a", Corpus.root + "/oci-layouts/valid", layout]) == 0)
        let index = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: layout + "/index.json")))
        let digest = try #require(
            ((index as? [String: Any])?["manifests"] as? [[String: Any]])?.first?["digest"] as? String)
        let blob = layout + "/blobs/sha256/" + digest.dropFirst(7)
        try FileManager.default.removeItem(atPath: blob)
        switch kind {
        case "symlink-dev-zero":
            try FileManager.default.createSymbolicLink(atPath: blob, withDestinationPath: "/dev/zero")
        case "symlink-host-file":
            try FileManager.default.createSymbolicLink(atPath: blob, withDestinationPath: "/etc/passwd")
        default: #expect(mkfifo(blob, 0o644) == 0)
        }
        let store = try ImageStore(root: s.path + "/store", layerCache: s.path + "/layers")
        #expect { try store.importImages(from: layout) } throws: { e in
            "\(e)".contains(String(digest)) && "\(e)".contains("not a regular file")
        }
        try expectStoreValid(s.path + "/store", s.path + "/layers", tags: [])
    }

    func expectStoreValid(
        _ root: String, _ layers: String, tags: [String], sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let reopened = try ImageStore(root: root, layerCache: layers)
        let listed = try reopened.list()
        for image in try reopened.allImages() {
            for d in [image.digest, image.manifest.config.digest] + image.manifest.layers.map(\.digest) {
                try reopened.verifyBlob(d)
            }
        }
        #expect(listed.count >= tags.count, sourceLocation: sourceLocation)
    }

    // MARK: tar layers

    @Test func hostileTarsAreRefusedByImportFlattenAndUnpack() throws {
        let s = Scratch("tars")
        defer { s.cleanup() }
        let tars = s.path + "/tars"
        let outside = s.path + "/outside"
        try FileManager.default.createDirectory(atPath: tars, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try Data("original\n".utf8).write(to: URL(fileURLWithPath: outside + "/passwd"))
        #expect(try sh(["python3", Corpus.root + "/tars/make-tars.py", tars, outside]) == 0)
        let cases = try loadExpect(tars)
        #expect(cases.count >= 15)
        let store = try ImageStore(root: s.path + "/target/store", layerCache: s.path + "/target/layers")
        let outsideBefore = treeSnapshot(outside)
        for (name, substrings) in cases {
            let tar = tars + "/" + name
            // 1. Imported as an archive: refused (unsafe entry, or no layout in it for whiteout names).
            #expect(throws: ImageError.self, "\(name) imported") { try store.importImages(from: tar) }
            // 2. As the layer of an otherwise valid image: importing is fine, unpacking is refused.
            let layout = try wrapAsLayout(tar, in: s.path + "/layouts/" + name)
            let image = try #require(try store.importImages(from: layout).first)
            let layerDigest = image.manifest.layers[0].digest.description
            let flat = s.path + "/target/flat-\(name)"
            do {
                try store.flatten(image, into: flat)
                Issue.record("\(name): flatten succeeded")
            } catch {
                #expect((error as? ImageError)?.code == .unsafeEntry, "\(name): \(error)")
                expectNames(error, substrings + [layerDigest], fixture: name)
            }
            do {
                _ = try store.lowerDirs(for: image)
                Issue.record("\(name): unpack succeeded")
            } catch {
                #expect((error as? ImageError)?.code == .unsafeEntry, "\(name): \(error)")
                expectNames(error, substrings + [layerDigest], fixture: name)
            }
            // A failed unpack leaves no half layer behind.
            let cached = try FileManager.default.contentsOfDirectory(atPath: s.path + "/target/layers")
            #expect(cached.isEmpty, "\(name): left \(cached) in the layer cache")
        }
        #expect(treeSnapshot(outside) == outsideBefore, "something was written outside the target")
        #expect(try String(contentsOfFile: outside + "/passwd", encoding: .utf8) == "original\n")
        // Nothing but the target dir appeared next to it.
        let siblings = try FileManager.default.contentsOfDirectory(atPath: s.path).sorted()
        #expect(siblings == ["layouts", "outside", "target", "tars"], "\(siblings)")
        try expectStoreValid(s.path + "/target/store", s.path + "/target/layers", tags: [])
    }

    func loadExpect(_ dir: String) throws -> [(name: String, substrings: [String])] {
        let map = try JSONDecoder().decode(
            [String: [String]].self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/expect.json")))
        return map.keys.sorted().map { ($0, map[$0]!) }
    }

    /// An OCI layout holding `tar` as its only (uncompressed) layer, with truthful digests and diff_id.
    func wrapAsLayout(_ tar: String, in dir: String) throws -> String {
        try FileManager.default.createDirectory(atPath: dir + "/blobs/sha256", withIntermediateDirectories: true)
        func put(_ data: Data) throws -> Digest {
            let d = Digest.of(data)
            try data.write(to: URL(fileURLWithPath: dir + "/blobs/sha256/" + d.hex))
            return d
        }
        let layer = try Data(contentsOf: URL(fileURLWithPath: tar))
        let ld = try put(layer)
        let config = ImageConfig(
            created: nil, architecture: "amd64", os: "linux", config: nil, rootfs: RootFS(diffIDs: [ld]), history: nil)
        let cdata = try canonicalJSON(config)
        let cd = try put(cdata)
        let manifest = ImageManifest(
            config: Descriptor(mediaType: MediaType.config, digest: cd, size: Int64(cdata.count)),
            layers: [Descriptor(mediaType: MediaType.layerTar, digest: ld, size: Int64(layer.count))])
        let mdata = try canonicalJSON(manifest)
        let md = try put(mdata)
        let name = (tar as NSString).lastPathComponent.replacingOccurrences(of: ".tar", with: "")
        var index = ImageIndex(manifests: [
            Descriptor(
                mediaType: MediaType.manifest, digest: md, size: Int64(mdata.count),
                annotations: [refNameAnnotation: "hostile/\(name):latest"])
        ])
        index.mediaType = MediaType.index
        try canonicalJSON(index).write(to: URL(fileURLWithPath: dir + "/index.json"))
        try Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8).write(to: URL(fileURLWithPath: dir + "/oci-layout"))
        return dir
    }
}

/// Element texts and counts of an XML document (parsed by a real XML parser, so injection would show).
struct XMLTextCollector {
    var texts: [String: [String]] = [:]
    var counts: [String: Int] = [:]

    init(_ xml: String) throws {
        final class Delegate: NSObject, XMLParserDelegate {
            var texts: [String: [String]] = [:]
            var counts: [String: Int] = [:]
            var current = ""
            func parser(
                _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]
            ) {
                counts[name, default: 0] += 1
                current = ""
            }
            func parser(_ parser: XMLParser, foundCharacters string: String) { current += string }
            func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?)
            {
                if ["name", "cmdline", "kernel"].contains(name) { texts[name, default: []].append(current) }
                current = ""
            }
        }
        let parser = XMLParser(data: Data(xml.utf8))
        let d = Delegate()
        parser.delegate = d
        guard parser.parse() else {
            throw NSError(
                domain: "xml", code: 1,
                userInfo: [NSLocalizedDescriptionKey: "\(parser.parserError.map { "\($0)" } ?? "?"): \(xml)"])
        }
        texts = d.texts
        counts = d.counts
    }
}
