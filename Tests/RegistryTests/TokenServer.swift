import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A distribution token server for tests: Python (with the `cryptography` package) on 127.0.0.1,
/// issuing RS256 JWTs with an `x5c` self-signed certificate that the registry trusts. It asks for
/// Basic credentials and grants whatever scopes are asked for.
final class LocalTokenServer: @unchecked Sendable {
    static let service = "boxbench-test-registry"
    static let issuer = "boxbench-test-issuer"

    let directory: URL
    let port: Int
    let process: Process
    var realm: String { "http://127.0.0.1:\(port)/token" }
    var certificate: String { directory.appendingPathComponent("token.crt").path }
    var requestLog: String {
        (try? String(contentsOf: directory.appendingPathComponent("requests.log"), encoding: .utf8)) ?? ""
    }

    /// Whether a `python3` on PATH can import `cryptography`.
    static let available: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import cryptography.x509"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        waitForExit(process, seconds: 30)
        return !process.isRunning && process.terminationStatus == 0
    }()

    static let script = #"""
        import base64, datetime, http.server, json, sys, time, urllib.parse, uuid
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
        from cryptography.x509.oid import NameOID

        directory, port, user, password, service, issuer = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "boxbench test token issuer")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        with open(directory + "/token.crt", "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

        def b64u(data):
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                query = urllib.parse.parse_qs(url.query)
                with open(directory + "/requests.log", "a") as f:
                    f.write(self.path + " auth=" + ("yes" if self.headers.get("Authorization") else "no") + "\n")
                if url.path != "/token":
                    return self.reply(404, {"errors": [{"code": "NOT_FOUND", "message": "no such path"}]})
                if self.headers.get("Authorization", "") != expected:
                    return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "invalid username or password"}]})
                access = []
                for scope in query.get("scope", []):
                    parts = scope.split(":")
                    if len(parts) >= 3:
                        access.append({"type": parts[0], "name": ":".join(parts[1:-1]), "actions": parts[-1].split(",")})
                t = int(time.time())
                claims = {"iss": issuer, "sub": user, "aud": query.get("service", [""])[0], "exp": t + 300,
                          "nbf": t - 10, "iat": t, "jti": str(uuid.uuid4()), "access": access}
                header = {"typ": "JWT", "alg": "RS256", "x5c": [x5c]}
                signing = (b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(claims).encode())).encode()
                signature = key.sign(signing, padding.PKCS1v15(), hashes.SHA256())
                self.reply(200, {"token": signing.decode() + "." + b64u(signature), "expires_in": 300})

            def log_message(self, *args):
                pass

        server = http.server.HTTPServer(("127.0.0.1", port), Handler)
        open(directory + "/ready", "w").write("ok")
        server.serve_forever()
        """#

    init(username: String, password: String) throws {
        directory = try makeTempDirectory("boxbench-token")
        do {
            port = try freeLoopbackPort()
            let scriptURL = directory.appendingPathComponent("token_server.py")
            try Data(Self.script.utf8).write(to: scriptURL)
            process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
            process.arguments = [
                "600", "/usr/bin/env", "python3", scriptURL.path, directory.path, String(port), username, password,
                Self.service, Self.issuer,
            ]
            var environment = ["HOME": directory.path]
            environment["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
            process.environment = environment
            let log = directory.appendingPathComponent("server.log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
            try process.run()
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
        let ready = directory.appendingPathComponent("ready").path
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, process.isRunning, !FileManager.default.fileExists(atPath: ready) { usleep(50_000) }
        guard FileManager.default.fileExists(atPath: ready) else {
            let log = (try? String(contentsOf: directory.appendingPathComponent("server.log"), encoding: .utf8)) ?? ""
            stop()
            throw CommandError(description: "token server did not start: \(log)")
        }
    }

    func stop() {
        let pid = process.processIdentifier
        if pid > 0 {
            let children = ((try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? "")
                .split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            for child in children { kill(child, SIGKILL) }
            waitForExit(process, seconds: 5)
            if process.isRunning { kill(pid, SIGKILL) }
            waitForExit(process, seconds: 5)
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
