internal import CSQLite
import GigaChatProtocol
import Glibc

/// The open ledger file, used on the ledger's worker thread only.
final class LedgerStore {
    let database: SQLiteDatabase
    private var insert: SQLiteStatement?

    private init(database: SQLiteDatabase) {
        self.database = database
    }

    /// Opens (creating when missing) the file at `path`: its directory 0700, the file 0600, WAL mode, the
    /// schema brought up to date.
    static func open(path: String, busyTimeoutMs: Int32) throws(LedgerError) -> LedgerStore {
        let directory = Self.directory(of: path)
        try makeDirectory(directory)
        try createPrivateFile(path)
        let database: SQLiteDatabase
        do {
            database = try SQLiteDatabase.open(path)
        } catch {
            throw LedgerError("cannot open the usage ledger \(path): \(error.message)")
        }
        database.setBusyTimeout(milliseconds: busyTimeoutMs)
        let store = LedgerStore(database: database)
        do {
            // The first statement that reads the file: a file that is not a database fails here.
            let mode = try database.text("PRAGMA journal_mode = WAL")
            guard mode?.lowercased() == "wal" else {
                throw LedgerError("the usage ledger \(path) could not be switched to WAL mode (it stays in \(mode ?? "an unknown") mode)")
            }
            // WAL with synchronous=NORMAL survives a crash of the daemon; at worst the last moments are lost
            // on a power cut, which a usage log can afford.
            try database.execute("PRAGMA synchronous = NORMAL")
            try database.execute("PRAGMA journal_size_limit = 4194304")
            try store.migrate()
        } catch let error as SQLiteError {
            throw LedgerError("the usage ledger \(path) cannot be used: \(error.message)")
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError("the usage ledger \(path) cannot be used: \(error)")
        }
        return store
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Creates `directory` and missing parents, 0700. An existing last component owned by us is made
    /// private too: it holds the user's history.
    static func makeDirectory(_ directory: String) throws(LedgerError) {
        var info = stat()
        if stat(directory, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw LedgerError("\(directory) is not a directory") }
            if info.st_uid == geteuid(), info.st_mode & 0o077 != 0 { chmod(directory, 0o700) }
            return
        }
        let parent = Self.directory(of: directory)
        if parent != directory, parent != "/", parent != "." { try makeDirectory(parent) }
        if mkdir(directory, 0o700) != 0, errno != EEXIST {
            let cause = ErrorCause.lastErrno
            throw LedgerError("cannot create \(directory): \(cause)", cause: cause)
        }
    }

    /// Creates the file 0600 if it is missing (SQLite's -wal and -shm files then take the same mode), and
    /// takes group and other permissions off an existing one.
    static func createPrivateFile(_ path: String) throws(LedgerError) {
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            let cause = ErrorCause.lastErrno
            throw LedgerError("cannot open the usage ledger \(path) for writing: \(cause)", cause: cause)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw LedgerError("the usage ledger \(path) is not a regular file")
        }
        if info.st_mode & 0o077 != 0 { fchmod(fd, 0o600) }
    }

    /// Runs the steps from the file's version to ours, each in its own transaction with the version bump,
    /// so a crash between steps leaves a consistent file at some version.
    private func migrate() throws(LedgerError) {
        do {
            let version = try database.integer("PRAGMA user_version") ?? 0
            guard version <= Schema.currentVersion else {
                throw LedgerError(
                    "the usage ledger has schema version \(version), newer than this gigachatd knows (\(Schema.currentVersion)); it is left untouched")
            }
            guard version >= 0 else { throw LedgerError("the usage ledger has an invalid schema version \(version)") }
            for next in Int(version)..<Schema.migrations.count {
                try database.transaction { () throws(SQLiteError) in
                    try database.execute(Schema.migrations[next])
                    try database.execute("PRAGMA user_version = \(next + 1)")
                }
            }
        } catch let error as SQLiteError {
            throw LedgerError("the usage ledger could not be brought to schema version \(Schema.currentVersion): \(error.message)")
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError("\(error)")
        }
    }

    /// Writes `records` in one transaction: all or none.
    func insert(_ records: [UsageRecord], storeText: Bool) throws(SQLiteError) {
        let statement: SQLiteStatement
        if let insert {
            statement = insert
        } else {
            statement = try database.prepare(Schema.insertSQL)
            insert = statement
        }
        try database.transaction { () throws(SQLiteError) in
            for record in records {
                statement.reset()
                try bind(record, to: statement, storeText: storeText)
                _ = try statement.step()
            }
            statement.reset()
        }
    }

    private func bind(_ record: UsageRecord, to statement: SQLiteStatement, storeText: Bool) throws(SQLiteError) {
        func milliseconds(_ value: Int64) -> Int64 { min(max(value, 0), Self.maxMilliseconds) }
        try statement.bind(1, record.startedAtMs)
        try statement.bind(2, milliseconds(record.queueWaitMs))
        try statement.bind(3, milliseconds(record.upstreamMs))
        try statement.bind(4, record.method)
        try statement.bind(5, record.endpoint)
        try statement.bind(6, record.contract.rawValue)
        try statement.bind(7, record.modelRequested)
        try statement.bind(8, record.modelAnswered)
        try statement.bind(9, TokenCounts.clamp(record.inputTokens))
        try statement.bind(10, TokenCounts.clamp(record.outputTokens))
        try statement.bind(11, TokenCounts.clamp(record.cachedTokens))
        try statement.bind(12, TokenCounts.clamp(record.totalTokens))
        try statement.bind(13, record.outcome.rawValue)
        try statement.bind(14, record.errorCode.map(Int64.init))
        try statement.bind(15, Int64(min(max(record.retries, 0), 1_000_000)))
        try statement.bind(16, record.conversation)
        try statement.bind(17, record.sessionID)
        try statement.bind(18, record.client.pid.map(Int64.init))
        try statement.bind(19, record.client.processName)
        try statement.bind(20, record.client.executable)
        try statement.bind(21, record.client.unit)
        try statement.bind(22, storeText ? record.promptText.map(Self.capped) : nil)
        try statement.bind(23, storeText ? record.replyText.map(Self.capped) : nil)
    }

    /// A duration longer than this (a year) is not a real one; clamping keeps sums far from overflow.
    static let maxMilliseconds: Int64 = 366 * 24 * 3600 * 1000
    /// The most text one prompt or reply keeps (bytes of UTF-8; cut at a character boundary).
    static let maxTextBytes = 1 << 20

    static func capped(_ text: String) -> String {
        guard text.utf8.count > maxTextBytes else { return text }
        let bytes = Array(text.utf8)
        var end = maxTextBytes
        // Back off continuation bytes (10xxxxxx) so the cut falls between characters.
        while end > 0, bytes[end] & 0xC0 == 0x80 { end -= 1 }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }

    /// Deletes rows that started before `cutoffMs`; returns how many.
    func deleteOlderThan(_ cutoffMs: Int64) throws(SQLiteError) -> Int64 {
        try database.transaction { () throws(SQLiteError) -> Int64 in
            let statement = try database.prepare("DELETE FROM usage WHERE started_ms < ?1")
            try statement.bind(1, cutoffMs)
            _ = try statement.step()
            return database.changes
        }
    }

    // MARK: - Queries

    /// The SQL expression a grouping groups by.
    static func keyExpression(_ grouping: SummaryGrouping) -> String {
        switch grouping {
        case .day: return "strftime('%Y-%m-%d', started_ms / 1000, 'unixepoch', 'localtime')"
        case .model: return Self.modelBase
        case .client: return "COALESCE(executable, process_name)"
        case .unit: return "unit"
        case .method: return "method"
        }
    }

    /// The answering model without its ":version" suffix, else the model asked for.
    static let modelBase = """
        CASE WHEN model_answered IS NULL THEN model_requested
             WHEN instr(model_answered, ':') > 0 THEN substr(model_answered, 1, instr(model_answered, ':') - 1)
             ELSE model_answered END
        """

    static let totalsColumns = """
        COUNT(*), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cached_tokens), 0),
        COALESCE(SUM(total_tokens), 0), COALESCE(SUM(outcome IN ('error', 'partial')), 0), COALESCE(SUM(queue_wait_ms), 0)
        """

    private static func totals(_ statement: SQLiteStatement, from column: Int32) -> UsageTotals {
        UsageTotals(
            requests: statement.int64(column),
            inputTokens: statement.int64(column + 1),
            outputTokens: statement.int64(column + 2),
            cachedTokens: statement.int64(column + 3),
            totalTokens: statement.int64(column + 4),
            errors: statement.int64(column + 5),
            queueWaitMs: statement.int64(column + 6)
        )
    }

    func summary(sinceMs: Int64?, untilMs: Int64?, groupBy grouping: SummaryGrouping) throws(SQLiteError) -> [UsageSummaryRow] {
        let key = Self.keyExpression(grouping)
        let order = grouping == .day ? "key" : "SUM(total_tokens) DESC, COUNT(*) DESC, key"
        let statement = try database.prepare(
            """
            SELECT \(key) AS key, \(Self.totalsColumns) FROM usage
            WHERE started_ms >= ?1 AND started_ms < ?2
            GROUP BY key ORDER BY \(order)
            """)
        try statement.bind(1, sinceMs ?? Int64.min)
        try statement.bind(2, untilMs ?? Int64.max)
        var rows: [UsageSummaryRow] = []
        while try statement.step() {
            rows.append(UsageSummaryRow(key: statement.text(0), totals: Self.totals(statement, from: 1)))
        }
        return rows
    }

    func totals(sinceMs: Int64, untilMs: Int64) throws(SQLiteError) -> UsageTotals {
        let statement = try database.prepare("SELECT \(Self.totalsColumns) FROM usage WHERE started_ms >= ?1 AND started_ms < ?2")
        try statement.bind(1, sinceMs)
        try statement.bind(2, untilMs)
        guard try statement.step() else { return UsageTotals() }
        return Self.totals(statement, from: 0)
    }

    func log(_ filter: UsageLogFilter) throws(SQLiteError) -> [UsageLogEntry] {
        var conditions: [String] = []
        if filter.client != nil { conditions.append("(unit = ?1 OR executable = ?1 OR process_name = ?1)") }
        if filter.model != nil { conditions.append("(model_requested = ?2 OR model_answered = ?2 OR \(Self.modelBase) = ?2)") }
        if filter.outcome != nil { conditions.append("outcome = ?3") }
        if filter.afterID != nil { conditions.append("id > ?4") }
        if filter.sinceMs != nil { conditions.append("started_ms >= ?5") }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let statement = try database.prepare("SELECT \(Schema.selectColumns) FROM usage \(whereClause) ORDER BY id DESC LIMIT ?6")
        if let client = filter.client { try statement.bind(1, client) }
        if let model = filter.model { try statement.bind(2, model) }
        if let outcome = filter.outcome { try statement.bind(3, outcome.rawValue) }
        if let afterID = filter.afterID { try statement.bind(4, afterID) }
        if let sinceMs = filter.sinceMs { try statement.bind(5, sinceMs) }
        try statement.bind(6, Int64(filter.limit))
        var entries: [UsageLogEntry] = []
        while try statement.step() {
            entries.append(Self.entry(from: statement))
        }
        return entries
    }

    private static func entry(from statement: SQLiteStatement) -> UsageLogEntry {
        let record = UsageRecord(
            startedAtMs: statement.int64(1),
            queueWaitMs: statement.int64(2),
            upstreamMs: statement.int64(3),
            method: statement.text(4) ?? "",
            endpoint: statement.text(5),
            contract: statement.text(6).flatMap(UsageContract.init(rawValue:)) ?? .v1,
            modelRequested: statement.text(7),
            modelAnswered: statement.text(8),
            inputTokens: statement.int64(9),
            outputTokens: statement.int64(10),
            cachedTokens: statement.int64(11),
            totalTokens: statement.int64(12),
            outcome: statement.text(13).flatMap(UsageOutcome.init(rawValue:)) ?? .error,
            errorCode: statement.optionalInt64(14).map { Int(clamping: $0) },
            retries: Int(clamping: statement.int64(15)),
            conversation: statement.text(16),
            sessionID: statement.text(17),
            client: ClientIdentity(
                pid: statement.optionalInt64(18).map { Int32(clamping: $0) },
                processName: statement.text(19),
                executable: statement.text(20),
                unit: statement.text(21)
            ),
            promptText: statement.text(22),
            replyText: statement.text(23)
        )
        return UsageLogEntry(id: statement.int64(0), record: record)
    }

    /// Tokens and requests per client since `sinceMs`, for budgets.
    func clientUsage(sinceMs: Int64) throws(SQLiteError) -> [ClientUsage] {
        let statement = try database.prepare(
            """
            SELECT unit, executable, process_name, COALESCE(SUM(total_tokens), 0), COUNT(*) FROM usage
            WHERE started_ms >= ?1 GROUP BY unit, executable, process_name
            """)
        try statement.bind(1, sinceMs)
        var usage: [ClientUsage] = []
        while try statement.step() {
            usage.append(
                ClientUsage(
                    client: ClientIdentity(processName: statement.text(2), executable: statement.text(1), unit: statement.text(0)),
                    tokens: statement.int64(3),
                    requests: statement.int64(4)
                ))
        }
        return usage
    }
}
