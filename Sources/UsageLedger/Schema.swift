/// The ledger's schema and the steps that bring an older file up to it. The version lives in SQLite's
/// own header field (PRAGMA user_version), so a file says what it holds without a table to trust.
enum Schema {
    /// Steps in order: step `n` takes a file from version `n` to `n + 1`. A file at version 0 is new (or
    /// was made by something else: only our own table names are touched). Later changes append a step
    /// and never edit an old one, so every file on disk can still be brought up to date.
    static let migrations: [String] = [
        // 0 → 1
        """
        CREATE TABLE IF NOT EXISTS usage (
            id              INTEGER PRIMARY KEY,
            started_ms      INTEGER NOT NULL,
            queue_wait_ms   INTEGER NOT NULL DEFAULT 0,
            upstream_ms     INTEGER NOT NULL DEFAULT 0,
            method          TEXT    NOT NULL,
            endpoint        TEXT,
            contract        TEXT    NOT NULL,
            model_requested TEXT,
            model_answered  TEXT,
            input_tokens    INTEGER NOT NULL DEFAULT 0,
            output_tokens   INTEGER NOT NULL DEFAULT 0,
            cached_tokens   INTEGER NOT NULL DEFAULT 0,
            total_tokens    INTEGER NOT NULL DEFAULT 0,
            outcome         TEXT    NOT NULL,
            error_code      INTEGER,
            retries         INTEGER NOT NULL DEFAULT 0,
            conversation    TEXT,
            session_id      TEXT,
            client_pid      INTEGER,
            process_name    TEXT,
            executable      TEXT,
            unit            TEXT,
            prompt_text     TEXT,
            reply_text      TEXT
        );
        CREATE INDEX IF NOT EXISTS usage_started ON usage (started_ms);
        """
    ]

    static var currentVersion: Int64 { Int64(migrations.count) }

    /// The columns an insert fills, in the order `Ledger` binds them.
    static let insertSQL = """
        INSERT INTO usage (started_ms, queue_wait_ms, upstream_ms, method, endpoint, contract, model_requested,
            model_answered, input_tokens, output_tokens, cached_tokens, total_tokens, outcome, error_code, retries,
            conversation, session_id, client_pid, process_name, executable, unit, prompt_text, reply_text)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)
        """

    /// The columns a log query reads, in the order `LedgerStore.record(from:)` reads them.
    static let selectColumns = """
        id, started_ms, queue_wait_ms, upstream_ms, method, endpoint, contract, model_requested, model_answered,
        input_tokens, output_tokens, cached_tokens, total_tokens, outcome, error_code, retries, conversation,
        session_id, client_pid, process_name, executable, unit, prompt_text, reply_text
        """
}
