import Crypto
import Foundation
import GRDB
import Results
import Stats

/// Why the history could not be opened or written; `badInput` cases are the user's to fix (exit 2).
public enum HistoryError: Error, CustomStringConvertible, Equatable {
    /// Not a boxbench history: not SQLite, another program's database, or a schema newer than this boxbench.
    case badInput(String)
    /// The database failed under us (disk full, I/O error): the operation, the path and SQLite's message.
    case database(operation: String, path: String, message: String)

    public var description: String {
        switch self {
        case .badInput(let m): m
        case .database(let op, let path, let m): "\(op) \(path): \(m)"
        }
    }
}

/// The machine a run was measured on: runs of different hosts are never put in one series.
public struct HostKey: Sendable, Equatable, Hashable, Codable {
    public var cpuModel: String
    public var cpus: Int
    public var kernel: String
    public var cgroupMode: String

    public init(cpuModel: String, cpus: Int, kernel: String, cgroupMode: String) {
        self.cpuModel = cpuModel
        self.cpus = cpus
        self.kernel = kernel
        self.cgroupMode = cgroupMode
    }

    public init(_ host: HostInfo) {
        self.init(cpuModel: host.cpuModel, cpus: host.cpus, kernel: host.kernel, cgroupMode: host.cgroupMode)
    }

    /// 12 hex digits of SHA-256 over the four fields: short enough to type in `--host`.
    public var fingerprint: String {
        let text = "\(cpuModel)\u{0}\(cpus)\u{0}\(kernel)\u{0}\(cgroupMode)"
        return SHA256.hash(data: Data(text.utf8)).prefix(6).map { String(format: "%02x", $0) }.joined()
    }

    public var summary: String { "\(cpuModel) ×\(cpus), \(kernel), cgroups \(cgroupMode)" }
}

/// A run's values of one series as a blob: little-endian IEEE-754 doubles, in sample order.
enum SampleBlob {
    static func encode(_ values: [Double]) -> Data {
        var data = Data(capacity: values.count * 8)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    static func decode(_ data: Data) -> [Double]? {
        guard data.count % 8 == 0 else { return nil }
        return data.withUnsafeBytes { raw in
            (0..<(data.count / 8)).map {
                Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)))
            }
        }
    }
}

/// One stored run.
public struct StoredRun: Sendable, Equatable, Codable {
    public var id: Int64
    public var suite: String
    public var label: String?
    public var startedAt: String
    public var complete: Bool
    public var boxbenchVersion: String
    public var boxbenchCommit: String
    public var host: HostKey
    public var hostFingerprint: String
    public var okSamples: Int
    public var failedSamples: Int
    public var source: String?
}

/// What keeps like with like: one metric of one workload in one arm configuration of one suite on one host.
public struct SeriesKey: Sendable, Equatable, Hashable, Codable {
    public var hostFingerprint: String
    public var suite: String
    public var arm: String
    /// Canonical JSON of the arm's configuration with the accel it really ran with (a TCG series is never a KVM one).
    public var armConfig: String
    public var workload: String
    public var metric: String

    public var label: String { "\(suite) · \(arm) · \(workload) · \(metric) @\(hostFingerprint)" }
}

/// One run's values of one series.
public struct SeriesPoint: Sendable, Equatable {
    public var runID: Int64
    public var startedAt: String
    public var label: String?
    public var values: [Double]
}

public enum AppendOutcome: Sendable, Equatable {
    case added(runID: Int64, values: Int)
    /// The same run (suite, start time, seed, host name) is stored already: nothing was written.
    case alreadyStored(runID: Int64)
}

/// The history database: every run's successful samples, keyed so that queries keep like with like.
/// SQLite through GRDB, WAL with a busy timeout so that several boxbench processes can append to one file.
public final class HistoryStore: Sendable {
    public let path: String
    let queue: DatabaseQueue

    /// The schema this boxbench writes; an older database is migrated, a newer one refused.
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE hosts (
                        id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL UNIQUE, cpu_model TEXT NOT NULL,
                        cpus INTEGER NOT NULL, kernel TEXT NOT NULL, cgroup_mode TEXT NOT NULL);
                    CREATE TABLE runs (
                        id INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE, suite TEXT NOT NULL, label TEXT,
                        started_at TEXT NOT NULL, finished_at TEXT, complete INTEGER NOT NULL,
                        boxbench_version TEXT NOT NULL, boxbench_commit TEXT NOT NULL,
                        host_id INTEGER NOT NULL REFERENCES hosts(id), seed INTEGER NOT NULL,
                        ok_samples INTEGER NOT NULL, failed_samples INTEGER NOT NULL, source TEXT,
                        appended_at TEXT NOT NULL);
                    CREATE INDEX runs_host ON runs(host_id, started_at);
                    CREATE TABLE series (
                        id INTEGER PRIMARY KEY, host_id INTEGER NOT NULL REFERENCES hosts(id), suite TEXT NOT NULL,
                        arm TEXT NOT NULL, arm_config TEXT NOT NULL, workload TEXT NOT NULL, metric TEXT NOT NULL,
                        UNIQUE(host_id, suite, arm, arm_config, workload, metric));
                    CREATE TABLE points (
                        series_id INTEGER NOT NULL REFERENCES series(id),
                        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                        n INTEGER NOT NULL, median REAL NOT NULL, samples BLOB NOT NULL,
                        PRIMARY KEY (series_id, run_id)) WITHOUT ROWID;
                    CREATE INDEX points_run ON points(run_id);
                    """)
        }
        return m
    }

    /// Opens (creating if needed) and migrates the database at `path`.
    public init(path: String) throws(HistoryError) {
        self.path = path
        var config = Configuration()
        config.journalMode = .wal
        // Another boxbench appending holds the write lock for well under a second; wait rather than fail.
        config.busyMode = .timeout(30)
        config.foreignKeysEnabled = true
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw .badInput("history \(path): is a directory, not a history database")
        }
        // Switching a new file to WAL takes a lock the busy timeout does not wait for: another process opening the
        // same new file at that moment gets SQLITE_BUSY, so opening is retried for up to 30 s.
        var opened: DatabaseQueue?
        for attempt in 0..<300 {
            do {
                opened = try DatabaseQueue(path: path, configuration: config)
                break
            } catch let e as DatabaseError
                where (e.resultCode == .SQLITE_BUSY || e.resultCode == .SQLITE_LOCKED)
                && attempt < 299
            {
                usleep(100_000)
            } catch {
                throw Self.classify(error, operation: "open history", path: path)
            }
        }
        guard let opened else { throw .database(operation: "open history", path: path, message: "database is locked") }
        queue = opened
        let migrator = Self.migrator
        do {
            try queue.read { db in
                let tables = try String.fetchAll(
                    db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                if !tables.isEmpty && !tables.contains("grdb_migrations") {
                    throw HistoryError.badInput(
                        "history \(path): a SQLite database of another program (tables: "
                            + "\(tables.prefix(5).joined(separator: ", "))), not a boxbench history")
                }
                if tables.contains("grdb_migrations"), try migrator.hasBeenSuperseded(db) {
                    let applied = try migrator.appliedIdentifiers(db).sorted().joined(separator: ", ")
                    throw HistoryError.badInput(
                        "history \(path): written by a newer boxbench (schema \(applied); this one knows "
                            + "\(migrator.migrations.joined(separator: ", "))): upgrade boxbench to read it")
                }
            }
            // Two processes creating one new file race: the loser's migration fails on a table the winner made
            // between the loser's check and its write lock. Checked again, the migration is then already applied.
            do {
                try migrator.migrate(queue)
            } catch let e as DatabaseError where e.resultCode == .SQLITE_ERROR {
                try migrator.migrate(queue)
            }
        } catch let e as HistoryError {
            throw e
        } catch {
            throw Self.classify(error, operation: "migrate history", path: path)
        }
    }

    static func classify(_ error: any Error, operation: String, path: String) -> HistoryError {
        if let e = error as? DatabaseError {
            switch e.resultCode {
            case .SQLITE_NOTADB, .SQLITE_CORRUPT:
                return .badInput("history \(path): not a SQLite database or corrupt (\(e.message ?? "\(e)"))")
            case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY:
                return .badInput("history \(path): cannot open (\(e.message ?? "\(e)"))")
            default:
                return .database(operation: operation, path: path, message: e.message ?? "\(e)")
            }
        }
        return .database(operation: operation, path: path, message: "\(error)")
    }

    /// Appends the document's successful samples in one transaction: a reader sees all of the run or none.
    public func appendNow(_ doc: ResultsDocument, label: String?, source: String?) throws(HistoryError) -> AppendOutcome
    {
        let uid = StoredForm.uid(doc)
        let host = HostKey(doc.host)
        let configs = StoredForm.armConfigs(doc)
        let (ok, failed) = StoredForm.counts(doc)
        let grouped = StoredForm.valuesBySeries(doc)
        let now = ISO8601DateFormatter().string(from: Date())
        do {
            return try queue.write { db -> AppendOutcome in
                if let existing = try Int64.fetchOne(db, sql: "SELECT id FROM runs WHERE uid = ?", arguments: [uid]) {
                    return .alreadyStored(runID: existing)
                }
                try db.execute(
                    sql: """
                        INSERT INTO hosts (fingerprint, cpu_model, cpus, kernel, cgroup_mode) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT(fingerprint) DO NOTHING
                        """, arguments: [host.fingerprint, host.cpuModel, host.cpus, host.kernel, host.cgroupMode])
                let hostID = try Int64.fetchOne(
                    db, sql: "SELECT id FROM hosts WHERE fingerprint = ?", arguments: [host.fingerprint])!
                try db.execute(
                    sql: """
                        INSERT INTO runs (uid, suite, label, started_at, finished_at, complete, boxbench_version,
                            boxbench_commit, host_id, seed, ok_samples, failed_samples, source, appended_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        uid, doc.suite, label, doc.startedAt, doc.finishedAt, doc.complete, doc.tool.version,
                        doc.tool.commit, hostID, Int64(bitPattern: doc.seed), ok, failed, source, now,
                    ])
                let runID = db.lastInsertedRowID
                var values = 0
                let findSeries = try db.makeStatement(
                    sql: """
                        INSERT INTO series (host_id, suite, arm, arm_config, workload, metric) VALUES (?, ?, ?, ?, ?, ?)
                        ON CONFLICT DO UPDATE SET metric = excluded.metric RETURNING id
                        """)
                let insertPoint = try db.makeStatement(
                    sql: "INSERT INTO points (series_id, run_id, n, median, samples) VALUES (?, ?, ?, ?, ?)")
                for (arm, workload, metric, samples) in grouped {
                    let seriesID = try Int64.fetchOne(
                        findSeries, arguments: [hostID, doc.suite, arm, configs[arm] ?? "{}", workload, metric])!
                    try insertPoint.execute(arguments: [
                        seriesID, runID, samples.count, median(sorted: samples.sorted()), SampleBlob.encode(samples),
                    ])
                    values += samples.count
                }
                return .added(runID: runID, values: values)
            }
        } catch let e as HistoryError {
            throw e
        } catch {
            throw Self.classify(error, operation: "append to history", path: path)
        }
    }

    static func run(_ row: Row) -> StoredRun {
        StoredRun(
            id: row["id"], suite: row["suite"], label: row["label"], startedAt: row["started_at"],
            complete: row["complete"], boxbenchVersion: row["boxbench_version"], boxbenchCommit: row["boxbench_commit"],
            host: HostKey(
                cpuModel: row["cpu_model"], cpus: row["cpus"], kernel: row["kernel"], cgroupMode: row["cgroup_mode"]),
            hostFingerprint: row["fingerprint"], okSamples: row["ok_samples"], failedSamples: row["failed_samples"],
            source: row["source"])
    }

    static let runColumns = """
        SELECT runs.*, hosts.fingerprint, hosts.cpu_model, hosts.cpus, hosts.kernel, hosts.cgroup_mode
        FROM runs JOIN hosts ON hosts.id = runs.host_id
        """

    /// Runs in the order they were measured, optionally of one host (fingerprint prefix) and suite.
    public func runsNow(host: String? = nil, suite: String? = nil) throws(HistoryError) -> [StoredRun] {
        try read("list runs") { db in
            var sql = Self.runColumns + " WHERE 1"
            var args: [(any DatabaseValueConvertible)?] = []
            if let host {
                sql += " AND hosts.fingerprint LIKE ?"
                args.append(host + "%")
            }
            if let suite {
                sql += " AND runs.suite = ?"
                args.append(suite)
            }
            sql += " ORDER BY runs.started_at, runs.id"
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map(Self.run)
        }
    }

    public func runNow(id: Int64) throws(HistoryError) -> StoredRun? {
        try read("read run") { db in
            try Row.fetchOne(db, sql: Self.runColumns + " WHERE runs.id = ?", arguments: [id]).map(Self.run)
        }
    }

    /// Series matching the filters; nil filters match everything.
    public func seriesNow(
        metric: String? = nil, arm: String? = nil, workload: String? = nil, host: String? = nil, suite: String? = nil
    ) throws(HistoryError) -> [SeriesKey] {
        try read("list series") { db in
            var sql = """
                SELECT hosts.fingerprint, series.suite, series.arm, series.arm_config, series.workload, series.metric
                FROM series JOIN hosts ON hosts.id = series.host_id WHERE 1
                """
            var args: [(any DatabaseValueConvertible)?] = []
            for (column, value) in [
                ("series.metric", metric), ("series.arm", arm), ("series.workload", workload), ("series.suite", suite),
            ] {
                if let value {
                    sql += " AND \(column) = ?"
                    args.append(value)
                }
            }
            if let host {
                sql += " AND hosts.fingerprint LIKE ?"
                args.append(host + "%")
            }
            sql += " ORDER BY series.suite, series.workload, series.metric, series.arm, hosts.fingerprint"
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map {
                SeriesKey(
                    hostFingerprint: $0[0], suite: $0[1], arm: $0[2], armConfig: $0[3], workload: $0[4], metric: $0[5])
            }
        }
    }

    /// The series' values, one point per run, in measurement order.
    public func pointsNow(_ key: SeriesKey) throws(HistoryError) -> [SeriesPoint] {
        try read("read series") { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT runs.id, runs.started_at, runs.label, points.samples
                    FROM series JOIN hosts ON hosts.id = series.host_id
                    JOIN points ON points.series_id = series.id JOIN runs ON runs.id = points.run_id
                    WHERE hosts.fingerprint = ? AND series.suite = ? AND series.arm = ? AND series.arm_config = ?
                        AND series.workload = ? AND series.metric = ?
                    ORDER BY runs.started_at, runs.id
                    """,
                arguments: [key.hostFingerprint, key.suite, key.arm, key.armConfig, key.workload, key.metric])
            return try rows.map { row in
                let blob: Data = row[3]
                guard let values = SampleBlob.decode(blob) else {
                    throw HistoryError.badInput("history \(path): run \(row[0] as Int64): stored samples are damaged")
                }
                return SeriesPoint(runID: row[0], startedAt: row[1], label: row[2], values: values)
            }
        }
    }

    /// SQLite's own consistency check ("ok" when sound).
    public func integrityCheck() throws(HistoryError) -> String {
        try read("check history") { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "\n")
        }
    }

    func read<T>(_ operation: String, _ body: (Database) throws -> T) throws(HistoryError) -> T {
        do {
            return try queue.read(body)
        } catch {
            throw Self.classify(error, operation: operation, path: path)
        }
    }
}
