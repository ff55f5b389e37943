import Foundation
import Results
import Testing

@testable import History

/// A real PostgreSQL server (Debian's postgresql) on a temporary data directory, listening only on a unix socket in
/// that directory (no TCP port, no address): started by the test, stopped and removed at the end.
final class TemporaryPostgres {
    let dir: String
    let port = 5433
    static let bin = "/usr/lib/postgresql/15/bin"
    var url: String { "postgres://boxbench@/history?host=\(dir)&port=\(port)" }

    /// nil (with the reason) when this machine has no PostgreSQL server.
    static func start() throws -> TemporaryPostgres {
        guard FileManager.default.isExecutableFile(atPath: bin + "/initdb") else {
            throw PostgresUnavailable(reason: "no PostgreSQL server at \(bin) (scripts/setup installs postgresql)")
        }
        return try TemporaryPostgres()
    }

    private init() throws {
        var template = Array("/tmp/boxbench-pg-XXXXXX".utf8CString)
        dir = String(cString: mkdtemp(&template)!)
        // PostgreSQL refuses to run as root: as root the server runs as the postgres user and owns the directory.
        if getuid() == 0 {
            guard let pw = getpwnam("postgres") else {
                throw PostgresUnavailable(reason: "running as root and there is no postgres user")
            }
            chown(dir, pw.pointee.pw_uid, pw.pointee.pw_gid)
        }
        chmod(dir, 0o755)
        try run([
            Self.bin + "/initdb", "-D", dir + "/data", "-U", "boxbench", "--auth=trust", "-E", "UTF8", "--no-sync",
        ])
        try run([
            Self.bin + "/pg_ctl", "-D", dir + "/data", "-l", dir + "/log", "-w", "-o",
            "-k \(dir) -c listen_addresses='' -p \(port) -c fsync=off", "start",
        ])
        try run([Self.bin + "/createdb", "-h", dir, "-p", "\(port)", "-U", "boxbench", "history"])
    }

    /// posix_spawn + waitpid: Foundation's Process did not reap its child when waited on from an async test.
    func run(_ argv: [String]) throws {
        let full = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] + argv : argv
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var cArgs = full.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, full[0], &actions, nil, &cArgs, environ)
        guard rc == 0 else { throw PostgresUnavailable(reason: "spawn \(full[0]): errno \(rc)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else {
            let log = (try? String(contentsOfFile: dir + "/log", encoding: .utf8)) ?? ""
            throw PostgresUnavailable(reason: "\(argv.joined(separator: " ")) exited with status \(status)\n\(log)")
        }
    }

    func stop() {
        try? run([Self.bin + "/pg_ctl", "-D", dir + "/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: dir)
    }
}

struct PostgresUnavailable: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}

/// The same behaviour as the SQLite store, against a real server: append once, keys, bad input, two writers.
@Suite(.serialized) struct PostgresHistoryTests {
    @Test func appendListSeriesAndPointsAgainstARealServer() async throws {
        let pg = try TemporaryPostgres.start()
        defer { pg.stop() }
        let store = try await PostgresHistory.connect(url: pg.url)
        let doc = syntheticDocument(
            startedAt: "2026-12-01T00:00:00Z", values: ["container": [1, 2, 3], "vm": [10, 11]], failed: 1)
        let first = try await store.append(doc, label: "abc", source: "r.json")
        guard case .added(let id, 5) = first else {
            Issue.record("\(first)")
            await store.close()
            return
        }
        #expect(try await store.append(doc, label: "abc", source: "r.json") == .alreadyStored(runID: id))
        let runs = try await store.runs()
        #expect(runs.count == 1 && runs[0].label == "abc" && runs[0].okSamples == 5 && runs[0].failedSamples == 2)
        #expect(try await store.run(id: id)?.suite == "demo")
        let vm = try #require(
            try await store.series(metric: nil, arm: "vm", workload: nil, host: nil, suite: nil).first)
        #expect(vm.armConfig.contains("\"accel\":\"tcg\""))
        #expect(try await store.points(vm).map(\.values) == [[10, 11]])
        // Same keys and values as the SQLite store for the same document.
        let sqlite = try HistoryStore(path: temporaryPath("same.sqlite"))
        _ = try sqlite.appendNow(doc, label: "abc", source: "r.json")
        #expect(try sqlite.seriesNow() == (try await store.series()))
        await store.close()
        // A second connection finds the schema and the data (the migration ran once).
        let again = try await PostgresHistory.connect(url: pg.url)
        #expect(try await again.runs().count == 1)
        await again.close()
    }

    @Test func badURLsAndANewerSchemaAreBadInput() async throws {
        for url in ["postgres://@/db?host=/tmp", "postgres://u@/?host=/tmp", "postgres://u@/db?host=/tmp&mode=x"] {
            do {
                _ = try await PostgresHistory.connect(url: url)
                Issue.record("\(url) connected")
            } catch {
                guard case .badInput = error else {
                    Issue.record("\(url): \(error)")
                    continue
                }
            }
        }
        let pg = try TemporaryPostgres.start()
        defer { pg.stop() }
        let store = try await PostgresHistory.connect(url: pg.url)
        try await store.connection.query(
            "INSERT INTO boxbench.schema_version (version) VALUES (99)", logger: store.logger)
        await store.close()
        do {
            let newer = try await PostgresHistory.connect(url: pg.url)
            await newer.close()
            Issue.record("a newer schema opened")
        } catch {
            guard case .badInput(let m) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(m.contains("newer boxbench"))
        }
    }

    /// Two boxbench processes importing into one PostgreSQL database at once: nothing lost.
    @Test func twoWritersLoseNothing() throws {
        let pg = try TemporaryPostgres.start()
        defer { pg.stop() }
        let dir = (temporaryPath("x") as NSString).deletingLastPathComponent
        var files: [[String]] = [[], []]
        for i in 0..<20 {
            let doc = syntheticDocument(
                startedAt: String(format: "2026-12-01T03:%02d:00Z", i),
                values: ["container": noisy(100, count: 50, seed: UInt64(i + 1))], seed: UInt64(2000 + i))
            let path = "\(dir)/p\(i).json"
            try ResultsStore.write(doc, to: path)
            files[i % 2].append(path)
        }
        // The same file in both lists: imported once.
        files[1].append(files[0][0])
        let a = try startBoxbench(["history", "import", "--history", pg.url] + files[0], dir: dir)
        let b = try startBoxbench(["history", "import", "--history", pg.url] + files[1], dir: dir)
        for (p, _, err) in [a, b] {
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "\((try? String(contentsOfFile: err, encoding: .utf8)) ?? "")")
        }
        let list = try runBoxbench(["history", "list", "--history", pg.url, "--format", "json"], dir: dir)
        #expect(list.status == 0, "\(list.stderr)")
        let runs = try JSONDecoder().decode([StoredRun].self, from: Data(list.stdout.utf8))
        #expect(runs.count == 20)
        #expect(runs.reduce(0) { $0 + $1.okSamples } == 20 * 50)
        let check = try runBoxbench(["history", "check", "--history", pg.url], dir: dir)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
    }
}
