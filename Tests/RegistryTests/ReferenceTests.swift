import Foundation
import NIOHTTP1
import Testing

@testable import Registry

@Suite struct ReferenceTests {
    @Test func parsesHostPortRepositoryAndTag() throws {
        let ref = try RegistryReference(parsing: "127.0.0.1:5000/bench/alpine:3.20")
        #expect(ref.registry == "127.0.0.1:5000")
        #expect(ref.repository == "bench/alpine")
        #expect(ref.tag == "3.20")
        #expect(ref.digest == nil)
        #expect(ref.manifestReference == "3.20")
        #expect(ref.description == "127.0.0.1:5000/bench/alpine:3.20")
    }

    @Test func parsesWithoutTagAndWithDigest() throws {
        let digest = "sha256:" + String(repeating: "ab", count: 32)
        let bare = try RegistryReference(parsing: "registry.example.com/a/b/c")
        #expect(bare.registry == "registry.example.com" && bare.repository == "a/b/c" && bare.tag == nil)
        #expect(bare.manifestReference == "latest")

        let pinned = try RegistryReference(parsing: "localhost/repo@\(digest)")
        #expect(pinned.registry == "localhost" && pinned.repository == "repo" && pinned.digest == digest)
        #expect(pinned.manifestReference == digest)

        let both = try RegistryReference(parsing: "[::1]:5000/my-repo/x__y.z:v1.0-rc_1@\(digest)")
        #expect(both.registry == "[::1]:5000")
        #expect(both.repository == "my-repo/x__y.z")
        #expect(both.tag == "v1.0-rc_1")
        #expect(both.digest == digest)
        #expect(both.manifestReference == digest)
    }

    @Test(arguments: [
        ("", RegistryReferenceError.empty),
        ("127.0.0.1:5000", .missingRepository("127.0.0.1:5000")),
        ("127.0.0.1:99999/repo", .invalidPort("99999")),
        ("127.0.0.1:/repo", .invalidPort("")),
        ("bad_host!.example/repo", .invalidHost("bad_host!.example")),
        ("-bad.example/repo", .invalidHost("-bad.example")),
        ("library/alpine:3", .missingRegistry("library")),
        ("alpine:3", .missingRepository("alpine:3")),
        ("host.test/Repo:tag", .invalidRepositoryComponent("Repo", repository: "Repo")),
        ("host.test/a//b", .invalidRepositoryComponent("", repository: "a//b")),
        ("host.test/a/-b", .invalidRepositoryComponent("-b", repository: "a/-b")),
        ("host.test/repo:.bad", .invalidTag(".bad")),
        ("host.test/repo:", .invalidTag("")),
        ("host.test/repo@sha256:1234", .invalidDigest("sha256:1234")),
        (
            "host.test/repo@md5:" + String(repeating: "a", count: 32),
            .invalidDigest("md5:" + String(repeating: "a", count: 32))
        ),
        ("https://host.test/repo", .schemeNotAllowed("https")),
        ("host.test/re po", .whitespace("host.test/re po")),
        ("[::1/repo", .invalidHost("[::1")),
    ])
    func rejectsAndNamesTheBadPart(text: String, expected: RegistryReferenceError) {
        #expect(throws: expected) { try RegistryReference(parsing: text) }
    }

    @Test func errorMessagesNameTheBadPart() {
        #expect(RegistryReferenceError.invalidPort("99999").description.contains("'99999'"))
        #expect(RegistryReferenceError.invalidTag(".bad").description.contains("'.bad'"))
        #expect(
            RegistryReferenceError.invalidRepositoryComponent("Repo", repository: "x/Repo").description.contains(
                "'Repo'"))
    }

    @Test func parsesCredentials() {
        #expect(RegistryCredentials(parsing: "user:pa:ss") == RegistryCredentials(username: "user", password: "pa:ss"))
        #expect(RegistryCredentials(parsing: "nocolon") == nil)
        #expect(RegistryCredentials(parsing: ":pass") == nil)
        #expect(RegistryCredentials(username: "user", password: "pass").basicHeader == "Basic dXNlcjpwYXNz")
    }
}

@Suite struct AuthChallengeTests {
    @Test func parsesBearerWithCommaInScope() {
        let header =
            #"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:bench/alpine:pull,push""#
        let challenges = AuthChallenge.parse(header)
        #expect(challenges.count == 1)
        let c = challenges[0]
        #expect(c.scheme == "bearer")
        #expect(c.realm == "https://auth.example.com/token")
        #expect(c.service == "registry.example.com")
        #expect(c.scopes == ["repository:bench/alpine:pull,push"])
    }

    @Test func parsesBasicAndCaseAndSpaces() {
        let c = AuthChallenge.parse(#"basic   Realm = "basic-realm" "#)
        #expect(c == [AuthChallenge(scheme: "basic", parameters: ["realm": "basic-realm"])])
    }

    @Test func parsesSeveralChallengesAndUnquotedValues() {
        let c = AuthChallenge.parse(
            #"Basic realm="r1", Bearer realm=https://h/token,service=svc,scope="repository:a:pull repository:b:pull""#)
        #expect(c.count == 2)
        #expect(c[0] == AuthChallenge(scheme: "basic", parameters: ["realm": "r1"]))
        #expect(c[1].scheme == "bearer")
        #expect(c[1].realm == "https://h/token")
        #expect(c[1].service == "svc")
        #expect(c[1].scopes == ["repository:a:pull", "repository:b:pull"])
    }

    @Test func handlesEscapesToken68AndGarbage() {
        #expect(AuthChallenge.parse(#"Bearer realm="a\"b\\c""#).first?.realm == #"a"b\c"#)
        #expect(AuthChallenge.parse("Negotiate abc123==").first?.parameters["token68"] == "abc123==")
        #expect(AuthChallenge.parse("").isEmpty)
        #expect(AuthChallenge.parse(",,, ").isEmpty)
        // Malformed input must not crash; an unterminated quote takes the rest.
        #expect(AuthChallenge.parse(#"Bearer realm="unterminated"#).first?.realm == "unterminated")
        _ = AuthChallenge.parse(#"Bearer ="x", ;;; "#)
        _ = AuthChallenge.parse("Bearer realm=")
        _ = AuthChallenge.parse("\"")
    }

    @Test func picksBearerOverBasic() {
        var headers = HTTPHeaders()
        headers.add(name: "WWW-Authenticate", value: #"Basic realm="x""#)
        headers.add(name: "WWW-Authenticate", value: #"Bearer realm="https://t/token""#)
        #expect(RegistryClient.preferredChallenge(headers)?.scheme == "bearer")
    }
}

@Suite struct UploadLocationTests {
    let start = "http://127.0.0.1:5000/v2/bench/alpine/blobs/uploads/"

    @Test func keepsAbsoluteLocations() throws {
        let abs = "http://127.0.0.1:5000/v2/bench/alpine/blobs/uploads/9f2c?_state=abc%3D%3D"
        #expect(try UploadLocation.resolve(abs, against: start) == abs)
    }

    @Test func resolvesPathAbsoluteAndRelativeLocations() throws {
        #expect(
            try UploadLocation.resolve("/v2/bench/alpine/blobs/uploads/uuid1?_state=x", against: start)
                == "http://127.0.0.1:5000/v2/bench/alpine/blobs/uploads/uuid1?_state=x")
        #expect(
            try UploadLocation.resolve("uuid2", against: start)
                == "http://127.0.0.1:5000/v2/bench/alpine/blobs/uploads/uuid2")
        #expect(
            try UploadLocation.resolve("../other/uuid3", against: start)
                == "http://127.0.0.1:5000/v2/bench/alpine/blobs/other/uuid3")
        #expect(throws: RegistryError.self) { try UploadLocation.resolve("", against: start) }
        #expect(throws: RegistryError.self) { try UploadLocation.resolve("ftp://x/y", against: start) }
    }

    @Test func appendsDigestToExistingQuery() {
        let digest = "sha256:" + String(repeating: "0", count: 64)
        let encoded = "sha256%3A" + String(repeating: "0", count: 64)
        #expect(
            UploadLocation.appendingQuery("http://h/v2/r/blobs/uploads/u", name: "digest", value: digest)
                == "http://h/v2/r/blobs/uploads/u?digest=\(encoded)")
        #expect(
            UploadLocation.appendingQuery("http://h/u?_state=a%3D", name: "digest", value: digest)
                == "http://h/u?_state=a%3D&digest=\(encoded)")
        #expect(
            UploadLocation.appendingQuery("http://h/u?", name: "digest", value: digest)
                == "http://h/u?digest=\(encoded)")
        #expect(
            UploadLocation.appendingQuery("http://h/u?a=b&", name: "from", value: "x/y") == "http://h/u?a=b&from=x%2Fy")
    }
}

@Suite struct ErrorAndLayoutTests {
    @Test func httpErrorNamesOperationURLStatusAndCodes() {
        let body = Array(
            #"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#.utf8)
        let details = RegistryErrorDetail.parse(body)
        #expect(details == [RegistryErrorDetail(code: "MANIFEST_UNKNOWN", message: "manifest unknown")])
        let error = RegistryError.http(
            operation: "pull manifest", method: "GET", url: "http://h/v2/r/manifests/x", status: 404, details: details,
            body: "")
        #expect(
            error.description
                == "pull manifest: GET http://h/v2/r/manifests/x failed with HTTP 404 Not Found: MANIFEST_UNKNOWN: manifest unknown"
        )
        #expect(RegistryErrorDetail.parse(Array("not json".utf8)).isEmpty)
    }

    @Test func setTagReplacesOnlyThatTagAndKeepsOtherFields() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reg-layout-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let layout = OCILayout(root: dir)
        try layout.create()
        let d1 = Descriptor(
            mediaType: MediaTypes.ociManifest, digest: "sha256:" + String(repeating: "1", count: 64), size: 10)
        let d2 = Descriptor(
            mediaType: MediaTypes.ociManifest, digest: "sha256:" + String(repeating: "2", count: 64), size: 20)
        let d3 = Descriptor(
            mediaType: MediaTypes.dockerManifest, digest: "sha256:" + String(repeating: "3", count: 64), size: 30)
        try layout.setTag("a", to: d1)
        try layout.setTag("b", to: d2)
        try layout.setTag("a", to: d3)
        #expect(try layout.tags().sorted() == ["a", "b"])
        #expect(try layout.descriptor(forTag: "a").digest == d3.digest)
        #expect(try layout.descriptor(forTag: "a").mediaType == MediaTypes.dockerManifest)
        #expect(try layout.descriptor(forTag: "b").digest == d2.digest)
        #expect(throws: RegistryError.self) { try layout.descriptor(forTag: "missing") }
        // Unknown fields survive a rewrite.
        let indexURL = dir.appendingPathComponent("index.json")
        var text = try String(contentsOf: indexURL, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "\"schemaVersion\"", with: "\"x-extra\":{\"k\":[1,2.5,true,null]},\"schemaVersion\"")
        try Data(text.utf8).write(to: indexURL)
        try layout.setTag("c", to: d1)
        let after = try String(contentsOf: indexURL, encoding: .utf8)
        #expect(after.contains(#""x-extra":{"k":[1,2.5,true,null]}"#))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".tmp") }
        #expect(leftovers.isEmpty)
    }

    @Test func blobPathsRejectBadDigests() {
        let layout = OCILayout(path: "/nonexistent")
        #expect(throws: RegistryError.self) { try layout.blobURL("sha256:../../etc/passwd") }
        #expect(throws: RegistryError.self) { try layout.blobURL("sha256:" + String(repeating: "A", count: 64)) }
        #expect(!layout.hasBlob("garbage"))
    }
}

@Suite struct RobustnessTests {
    /// Random inputs built from the characters that matter: parsing may fail but must not crash,
    /// and whatever parses prints back to something that parses to the same value.
    @Test func randomInputsNeverCrash() {
        let alphabet = Array("aZ0:/@.-_[]\"=, \\sha256:".utf8) + [0xff, 0x0a]
        var generator = SplitMix(seed: 42)
        for _ in 0..<3000 {
            let length = Int(generator.next() % 40)
            let bytes = (0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            let text = String(decoding: bytes, as: UTF8.self)
            if let ref = try? RegistryReference(parsing: text) {
                #expect((try? RegistryReference(parsing: ref.description)) == ref)
            }
            _ = AuthChallenge.parse(text)
            _ = AuthChallenge.parse("Bearer " + text)
            _ = try? UploadLocation.resolve(text, against: "http://127.0.0.1:5000/v2/r/blobs/uploads/")
            _ = UploadLocation.appendingQuery(text, name: "digest", value: text)
        }
    }
}
