import Foundation
import Results

/// A history store: SQLite on one machine (`HistoryStore`), PostgreSQL for a fleet (`PostgresHistory`).
/// Both keep the same data under the same keys; commands and the gate see only this protocol.
public protocol HistoryDatabase: Sendable {
    /// Where it is, for messages (a path, or the URL without its password).
    var location: String { get }
    func append(_ doc: ResultsDocument, label: String?, source: String?) async throws(HistoryError) -> AppendOutcome
    func runs(host: String?, suite: String?) async throws(HistoryError) -> [StoredRun]
    func run(id: Int64) async throws(HistoryError) -> StoredRun?
    func series(metric: String?, arm: String?, workload: String?, host: String?, suite: String?)
        async throws(HistoryError)
        -> [SeriesKey]
    func points(_ key: SeriesKey) async throws(HistoryError) -> [SeriesPoint]
    func close() async
}

extension HistoryDatabase {
    public func runs() async throws(HistoryError) -> [StoredRun] { try await runs(host: nil, suite: nil) }
    public func series(host: String? = nil, suite: String? = nil) async throws(HistoryError) -> [SeriesKey] {
        try await series(metric: nil, arm: nil, workload: nil, host: host, suite: suite)
    }
}

/// `--history`: a `postgres://` or `postgresql://` URL selects PostgreSQL, anything else is a SQLite file path.
public enum HistoryDatabases {
    public static func open(_ location: String) async throws(HistoryError) -> any HistoryDatabase {
        if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") {
            return try await PostgresHistory.connect(url: location)
        }
        return try HistoryStore(path: location)
    }
}

extension HistoryStore: HistoryDatabase {
    public var location: String { path }
    public func append(_ doc: ResultsDocument, label: String?, source: String?) async throws(HistoryError)
        -> AppendOutcome
    {
        try appendNow(doc, label: label, source: source)
    }
    public func runs(host: String?, suite: String?) async throws(HistoryError) -> [StoredRun] {
        try runsNow(host: host, suite: suite)
    }
    public func run(id: Int64) async throws(HistoryError) -> StoredRun? { try runNow(id: id) }
    public func series(metric: String?, arm: String?, workload: String?, host: String?, suite: String?)
        async throws(HistoryError) -> [SeriesKey]
    {
        try seriesNow(metric: metric, arm: arm, workload: workload, host: host, suite: suite)
    }
    public func points(_ key: SeriesKey) async throws(HistoryError) -> [SeriesPoint] { try pointsNow(key) }
    public func close() async {}
}
