import Foundation
import Logging
import NIOSSL
import PostgresNIO
import Results
import Stats

/// The history in PostgreSQL, for a fleet of CI machines writing to one database. Same keys and data as the SQLite
/// store; the tables live in their own schema (`boxbench`), so the database may be shared with other programs.
///
/// URL: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require]`, or a unix socket with
/// `postgres://USER@/DATABASE?host=/run/postgresql[&port=5432]` (the libpq convention).
public final class PostgresHistory: HistoryDatabase {
    public let location: String
    let connection: PostgresConnection
    let logger = Logger(label: "boxbench.history.postgres")

    /// The schema versions this boxbench knows; a database at a higher version is refused.
    static let schemaVersion = 1
    /// Key of the advisory lock that serialises schema creation between processes.
    static let migrationLock: Int64 = 0x626F_7862_656E_6368

    init(location: String, connection: PostgresConnection) {
        self.location = location
        self.connection = connection
    }

    struct Target {
        var configuration: PostgresConnection.Configuration
        var display: String
    }

    static func parse(_ url: String) throws(HistoryError) -> Target {
        guard let c = URLComponents(string: url), let scheme = c.scheme, ["postgres", "postgresql"].contains(scheme)
        else {
            throw .badInput("--history \(url): not a postgres://USER@HOST/DATABASE URL")
        }
        let query = Dictionary((c.queryItems ?? []).map { ($0.name, $0.value ?? "") }) { _, b in b }
        for name in query.keys where !["host", "port", "sslmode"].contains(name) {
            throw .badInput("--history: unknown URL parameter \(name) (have: host, port, sslmode)")
        }
        guard let user = c.user, !user.isEmpty else {
            throw .badInput("--history \(url): the URL names no user (postgres://USER@…)")
        }
        let database = c.path.hasPrefix("/") ? String(c.path.dropFirst()) : c.path
        guard !database.isEmpty else { throw .badInput("--history \(url): the URL names no database (…/DATABASE)") }
        let portText = query["port"] ?? c.port.map(String.init)
        guard let port = portText.map({ Int($0) }) ?? 5432, (1...65535).contains(port) else {
            throw .badInput("--history \(url): port \(portText ?? "") is not a port number")
        }
        let password = c.password
        var display = "\(scheme)://\(user)@"
        var config: PostgresConnection.Configuration
        if let socketDir = query["host"], socketDir.hasPrefix("/") {
            config = .init(
                unixSocketPath: "\(socketDir)/.s.PGSQL.\(port)", username: user, password: password, database: database)
            display += "/\(database)?host=\(socketDir)&port=\(port)"
        } else {
            guard let host = c.host ?? query["host"], !host.isEmpty else {
                throw .badInput("--history \(url): no host (…@HOST/… or ?host=/socket/dir)")
            }
            let tls: PostgresConnection.Configuration.TLS
            switch query["sslmode"] ?? "prefer" {
            case "disable": tls = .disable
            case let mode where mode == "prefer" || mode == "require":
                do {
                    let context = try NIOSSLContext(configuration: .makeClientConfiguration())
                    tls = mode == "require" ? .require(context) : .prefer(context)
                } catch {
                    throw .database(operation: "set up TLS for", path: url, message: "\(error)")
                }
            case let other: throw .badInput("--history: sslmode \(other): use disable, prefer or require")
            }
            config = .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
            display += "\(host):\(port)/\(database)"
        }
        return Target(configuration: config, display: display)
    }

    /// Connects and brings the schema to this boxbench's version (under an advisory lock: two CI jobs starting
    /// together create it once).
    public static func connect(url: String) async throws(HistoryError) -> PostgresHistory {
        let target = try parse(url)
        let logger = Logger(label: "boxbench.history.postgres")
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(
                configuration: target.configuration, id: 1, logger: logger)
        } catch {
            throw .badInput("history \(target.display): cannot connect (\(describe(error)))")
        }
        let history = PostgresHistory(location: target.display, connection: connection)
        do {
            try await history.migrate()
        } catch {
            await history.close()
            throw error
        }
        return history
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? PSQLError {
            if let message = e.serverInfo?[.message] {
                return message + (e.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
            }
            if let underlying = e.underlying { return "\(e.code): \(underlying)" }
            return "\(e.code)"
        }
        if let e = error as? PostgresTransactionError {
            return [e.beginError, e.closureError, e.rollbackError, e.commitError].compactMap { $0 }.map(describe)
                .joined(separator: "; ")
        }
        if let e = error as? HistoryError { return e.description }
        return "\(error)"
    }

    func fail(_ operation: String, _ error: any Error) -> HistoryError {
        if let e = error as? HistoryError { return e }
        if let e = error as? PostgresTransactionError, let inner = e.closureError as? HistoryError { return inner }
        return .database(operation: operation, path: location, message: Self.describe(error))
    }

    func migrate() async throws(HistoryError) {
        let location = self.location
        do {
            try await connection.withTransaction(logger: logger) { c in
                try await c.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
                let schemaRows = try await c.query(
                    "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'boxbench'", logger: logger)
                var schemaExists = false
                for try await count in schemaRows.decode(Int64.self) { schemaExists = count > 0 }
                var version = 0
                if schemaExists {
                    let tables = try await c.query(
                        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'boxbench' AND table_name = 'schema_version'",
                        logger: logger)
                    var hasVersion = false
                    for try await count in tables.decode(Int64.self) { hasVersion = count > 0 }
                    guard hasVersion else {
                        throw HistoryError.badInput(
                            "history \(location): schema boxbench exists but is not a boxbench history (no schema_version)"
                        )
                    }
                    for try await v in try await c.query(
                        "SELECT max(version) FROM boxbench.schema_version", logger: logger
                    )
                    .decode(Int?.self) {
                        version = v ?? 0
                    }
                }
                if version > Self.schemaVersion {
                    throw HistoryError.badInput(
                        "history \(location): written by a newer boxbench (schema \(version); this one knows "
                            + "\(Self.schemaVersion)): upgrade boxbench to read it")
                }
                if version < 1 {
                    for statement in [
                        "CREATE SCHEMA IF NOT EXISTS boxbench",
                        "CREATE TABLE boxbench.schema_version (version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                        """
                        CREATE TABLE boxbench.hosts (
                            id BIGSERIAL PRIMARY KEY, fingerprint TEXT NOT NULL UNIQUE, cpu_model TEXT NOT NULL,
                            cpus INTEGER NOT NULL, kernel TEXT NOT NULL, cgroup_mode TEXT NOT NULL)
                        """,
                        """
                        CREATE TABLE boxbench.runs (
                            id BIGSERIAL PRIMARY KEY, uid TEXT NOT NULL UNIQUE, suite TEXT NOT NULL, label TEXT,
                            started_at TEXT NOT NULL, finished_at TEXT, complete BOOLEAN NOT NULL,
                            boxbench_version TEXT NOT NULL, boxbench_commit TEXT NOT NULL,
                            host_id BIGINT NOT NULL REFERENCES boxbench.hosts(id), seed BIGINT NOT NULL,
                            ok_samples INTEGER NOT NULL, failed_samples INTEGER NOT NULL, source TEXT,
                            appended_at TIMESTAMPTZ NOT NULL DEFAULT now())
                        """,
                        "CREATE INDEX runs_host ON boxbench.runs(host_id, started_at)",
                        """
                        CREATE TABLE boxbench.series (
                            id BIGSERIAL PRIMARY KEY, host_id BIGINT NOT NULL REFERENCES boxbench.hosts(id),
                            suite TEXT NOT NULL, arm TEXT NOT NULL, arm_config TEXT NOT NULL, workload TEXT NOT NULL,
                            metric TEXT NOT NULL, UNIQUE (host_id, suite, arm, arm_config, workload, metric))
                        """,
                        """
                        CREATE TABLE boxbench.points (
                            series_id BIGINT NOT NULL REFERENCES boxbench.series(id),
                            run_id BIGINT NOT NULL REFERENCES boxbench.runs(id) ON DELETE CASCADE,
                            n INTEGER NOT NULL, median DOUBLE PRECISION NOT NULL, samples BYTEA NOT NULL,
                            PRIMARY KEY (series_id, run_id))
                        """,
                        "CREATE INDEX points_run ON boxbench.points(run_id)",
                        "INSERT INTO boxbench.schema_version (version) VALUES (1)",
                    ] {
                        try await c.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                }
            }
        } catch {
            throw fail("migrate history", error)
        }
    }

    public func append(_ doc: ResultsDocument, label: String?, source: String?) async throws(HistoryError)
        -> AppendOutcome
    {
        let uid = StoredForm.uid(doc)
        let host = HostKey(doc.host)
        let configs = StoredForm.armConfigs(doc)
        let (ok, failed) = StoredForm.counts(doc)
        let grouped = StoredForm.valuesBySeries(doc)
        let suite = doc.suite
        let logger = self.logger
        do {
            return try await connection.withTransaction(logger: logger) { c -> AppendOutcome in
                // One writer per run identity: a second process importing the same run waits, then finds it.
                try await c.query("SELECT pg_advisory_xact_lock(hashtext(\(uid)))", logger: logger)
                for try await id in try await c.query("SELECT id FROM boxbench.runs WHERE uid = \(uid)", logger: logger)
                    .decode(Int64.self)
                {
                    return .alreadyStored(runID: id)
                }
                try await c.query(
                    """
                    INSERT INTO boxbench.hosts (fingerprint, cpu_model, cpus, kernel, cgroup_mode)
                    VALUES (\(host.fingerprint), \(host.cpuModel), \(host.cpus), \(host.kernel), \(host.cgroupMode))
                    ON CONFLICT (fingerprint) DO NOTHING
                    """, logger: logger)
                var hostID: Int64 = 0
                for try await id in try await c.query(
                    "SELECT id FROM boxbench.hosts WHERE fingerprint = \(host.fingerprint)", logger: logger
                ).decode(Int64.self) { hostID = id }
                var runID: Int64 = 0
                for try await id in try await c.query(
                    """
                    INSERT INTO boxbench.runs (uid, suite, label, started_at, finished_at, complete, boxbench_version,
                        boxbench_commit, host_id, seed, ok_samples, failed_samples, source)
                    VALUES (\(uid), \(suite), \(label), \(doc.startedAt), \(doc.finishedAt), \(doc.complete),
                        \(doc.tool.version), \(doc.tool.commit), \(hostID), \(Int64(bitPattern: doc.seed)), \(ok),
                        \(failed), \(source))
                    RETURNING id
                    """, logger: logger
                ).decode(Int64.self) { runID = id }
                var values = 0
                for (arm, workload, metric, samples) in grouped {
                    let config = configs[arm] ?? "{}"
                    var seriesID: Int64 = 0
                    for try await id in try await c.query(
                        """
                        INSERT INTO boxbench.series (host_id, suite, arm, arm_config, workload, metric)
                        VALUES (\(hostID), \(suite), \(arm), \(config), \(workload), \(metric))
                        ON CONFLICT (host_id, suite, arm, arm_config, workload, metric)
                        DO UPDATE SET metric = EXCLUDED.metric RETURNING id
                        """, logger: logger
                    ).decode(Int64.self) { seriesID = id }
                    let blob = SampleBlob.encode(samples)
                    try await c.query(
                        """
                        INSERT INTO boxbench.points (series_id, run_id, n, median, samples)
                        VALUES (\(seriesID), \(runID), \(samples.count), \(median(sorted: samples.sorted())), \(blob))
                        """, logger: logger)
                    values += samples.count
                }
                return .added(runID: runID, values: values)
            }
        } catch {
            throw fail("append to history", error)
        }
    }

    static let runColumns = """
        SELECT r.id, r.suite, r.label, r.started_at, r.complete, r.boxbench_version, r.boxbench_commit,
            r.ok_samples, r.failed_samples, r.source, h.fingerprint, h.cpu_model, h.cpus, h.kernel, h.cgroup_mode
        FROM boxbench.runs r JOIN boxbench.hosts h ON h.id = r.host_id
        """

    func fetchRuns(_ query: PostgresQuery) async throws(HistoryError) -> [StoredRun] {
        do {
            var out: [StoredRun] = []
            let rows = try await connection.query(query, logger: logger)
            for try await (
                id, suite, label, started, complete, version, commit, ok, failed, source, fp, cpu, cpus, kernel, mode
            )
                in rows.decode(
                    (
                        Int64, String, String?, String, Bool, String, String, Int, Int, String?, String, String, Int,
                        String, String
                    ).self)
            {
                out.append(
                    StoredRun(
                        id: id, suite: suite, label: label, startedAt: started, complete: complete,
                        boxbenchVersion: version, boxbenchCommit: commit,
                        host: HostKey(cpuModel: cpu, cpus: cpus, kernel: kernel, cgroupMode: mode), hostFingerprint: fp,
                        okSamples: ok, failedSamples: failed, source: source))
            }
            return out
        } catch {
            throw fail("list runs", error)
        }
    }

    public func runs(host: String?, suite: String?) async throws(HistoryError) -> [StoredRun] {
        let hostPattern = (host ?? "") + "%"
        return try await fetchRuns(
            """
            \(unescaped: Self.runColumns) WHERE h.fingerprint LIKE \(hostPattern)
                AND (\(suite)::text IS NULL OR r.suite = \(suite)) ORDER BY r.started_at, r.id
            """)
    }

    public func run(id: Int64) async throws(HistoryError) -> StoredRun? {
        try await fetchRuns("\(unescaped: Self.runColumns) WHERE r.id = \(id)").first
    }

    public func series(metric: String?, arm: String?, workload: String?, host: String?, suite: String?)
        async throws(HistoryError) -> [SeriesKey]
    {
        // NULL filters match everything.
        let hostPattern = (host ?? "") + "%"
        let q: PostgresQuery = """
            SELECT h.fingerprint, s.suite, s.arm, s.arm_config, s.workload, s.metric
            FROM boxbench.series s JOIN boxbench.hosts h ON h.id = s.host_id
            WHERE (\(metric)::text IS NULL OR s.metric = \(metric)) AND (\(arm)::text IS NULL OR s.arm = \(arm))
                AND (\(workload)::text IS NULL OR s.workload = \(workload))
                AND (\(suite)::text IS NULL OR s.suite = \(suite)) AND h.fingerprint LIKE \(hostPattern)
            ORDER BY s.suite, s.workload, s.metric, s.arm, h.fingerprint
            """
        do {
            var out: [SeriesKey] = []
            for try await (fp, suite, arm, config, workload, metric) in try await connection.query(q, logger: logger)
                .decode((String, String, String, String, String, String).self)
            {
                out.append(
                    SeriesKey(
                        hostFingerprint: fp, suite: suite, arm: arm, armConfig: config, workload: workload,
                        metric: metric))
            }
            return out
        } catch {
            throw fail("list series", error)
        }
    }

    public func points(_ key: SeriesKey) async throws(HistoryError) -> [SeriesPoint] {
        let q: PostgresQuery = """
            SELECT r.id, r.started_at, r.label, p.samples
            FROM boxbench.series s JOIN boxbench.hosts h ON h.id = s.host_id
            JOIN boxbench.points p ON p.series_id = s.id JOIN boxbench.runs r ON r.id = p.run_id
            WHERE h.fingerprint = \(key.hostFingerprint) AND s.suite = \(key.suite) AND s.arm = \(key.arm)
                AND s.arm_config = \(key.armConfig) AND s.workload = \(key.workload) AND s.metric = \(key.metric)
            ORDER BY r.started_at, r.id
            """
        do {
            var out: [SeriesPoint] = []
            for try await (id, started, label, blob) in try await connection.query(q, logger: logger)
                .decode((Int64, String, String?, Data).self)
            {
                guard let values = SampleBlob.decode(blob) else {
                    throw HistoryError.badInput("history \(location): run \(id): stored samples are damaged")
                }
                out.append(SeriesPoint(runID: id, startedAt: started, label: label, values: values))
            }
            return out
        } catch {
            throw fail("read series", error)
        }
    }

    public func close() async {
        try? await connection.close()
    }
}
