import Glibc
import Testing

@testable import UsageLedger

@Suite struct LedgerFileTests {
    private func configuration(_ scratch: ScratchDirectory, clock: ManualClock? = nil, events: EventLog? = nil) -> LedgerConfiguration {
        var configuration = LedgerConfiguration(path: scratch.path + "/state/gigachat/usage.sqlite3")
        configuration.flushIntervalMs = 50
        configuration.reopenIntervalMs = 50
        configuration.busyTimeoutMs = 50
        if let clock { configuration.now = clock.function }
        if let events { configuration.onEvent = { events.append($0) } }
        return configuration
    }

    @Test func createsThePrivateFileAndDirectoryInWALModeAtTheCurrentSchema() async throws {
        let scratch = ScratchDirectory()
        let configuration = configuration(scratch)
        let ledger = Ledger(configuration: configuration)
        ledger.record(.sample(at: LedgerClock.wallMilliseconds()))
        await ledger.flush()
        #expect(ledger.status.healthy)
        #expect(ledger.status.written == 1)
        #expect(Files.mode(configuration.path) == 0o600)
        #expect(Files.mode(scratch.path + "/state/gigachat") == 0o700)
        #expect(Files.mode(scratch.path + "/state") == 0o700, "missing parents are made private too")
        #expect(Files.mode(configuration.path + "-wal") == 0o600, "SQLite gives the WAL file the database's mode")
        await ledger.close()

        let database = try SQLiteDatabase.open(configuration.path)
        #expect(try database.text("PRAGMA journal_mode") == "wal", "WAL mode is kept in the file")
        #expect(try database.integer("PRAGMA user_version") == Schema.currentVersion)
        #expect(try database.integer("SELECT COUNT(*) FROM usage") == 1)
    }

    @Test func anExistingFileWithLoosePermissionsIsMadePrivate() async throws {
        let scratch = ScratchDirectory()
        let path = scratch.path + "/usage.sqlite3"
        Files.write(path, "", mode: 0o644)
        chmod(path, 0o644)
        let ledger = Ledger(configuration: LedgerConfiguration(path: path))
        await ledger.flush()
        #expect(ledger.status.healthy)
        #expect(Files.mode(path) == 0o600)
        await ledger.close()
    }

    @Test func migratesAVersionZeroFileAndLeavesOtherTablesAlone() async throws {
        let scratch = ScratchDirectory()
        let path = scratch.path + "/usage.sqlite3"
        Files.write(path, "")
        do {
            let database = try SQLiteDatabase.open(path)
            try database.execute("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('mine')")
            #expect(try database.integer("PRAGMA user_version") == 0)
        }
        let ledger = Ledger(configuration: LedgerConfiguration(path: path))
        ledger.record(.sample(at: LedgerClock.wallMilliseconds()))
        await ledger.flush()
        #expect(ledger.status.healthy)
        await ledger.close()
        let database = try SQLiteDatabase.open(path)
        #expect(try database.integer("PRAGMA user_version") == Schema.currentVersion)
        #expect(try database.text("SELECT text FROM notes") == "mine")
        #expect(try database.integer("SELECT COUNT(*) FROM usage") == 1)
        #expect(try database.integer("SELECT COUNT(*) FROM sqlite_master WHERE name = 'usage_started'") == 1)
    }

    @Test func aFileFromANewerVersionIsLeftUntouchedAndReported() async throws {
        let scratch = ScratchDirectory()
        let path = scratch.path + "/usage.sqlite3"
        Files.write(path, "")
        try SQLiteDatabase.open(path).execute("PRAGMA user_version = 99")
        let ledger = Ledger(configuration: LedgerConfiguration(path: path))
        ledger.record(.sample(at: LedgerClock.wallMilliseconds()))
        await ledger.flush()
        #expect(!ledger.status.healthy)
        #expect(ledger.status.lastError?.contains("newer") == true)
        await #expect(throws: LedgerError.self) { try await ledger.today() }
        await ledger.close()
        #expect(try SQLiteDatabase.open(path).integer("PRAGMA user_version") == 99)
    }

    @Test func rowsAreWrittenInBatchesOffTheCallersThread() async throws {
        let scratch = ScratchDirectory()
        var configuration = configuration(scratch)
        configuration.flushIntervalMs = 60_000
        configuration.batchSize = 5
        let ledger = Ledger(configuration: configuration)
        await ledger.flush()  // opened
        let now = LedgerClock.wallMilliseconds()
        for _ in 0..<4 { ledger.record(.sample(at: now)) }
        try await Task.sleep(for: .milliseconds(200))
        #expect(ledger.status.pending == 4, "fewer rows than a batch wait for the interval")
        #expect(ledger.status.written == 0)
        ledger.record(.sample(at: now))
        #expect(await eventually { ledger.status.written == 5 }, "a full batch is written at once")
        #expect(ledger.status.pending == 0)
        await ledger.close()
    }

    @Test func queuedRowsAreWrittenWithinTheFlushInterval() async throws {
        let scratch = ScratchDirectory()
        let ledger = Ledger(configuration: configuration(scratch))
        ledger.record(.sample(at: LedgerClock.wallMilliseconds()))
        #expect(await eventually { ledger.status.written == 1 })
        await ledger.close()
    }

    @Test func queriesSeeRowsRecordedBeforeThem() async throws {
        let scratch = ScratchDirectory()
        var configuration = configuration(scratch)
        configuration.flushIntervalMs = 60_000
        let ledger = Ledger(configuration: configuration)
        ledger.record(.sample(at: LedgerClock.wallMilliseconds()))
        #expect(try await ledger.today().requests == 1)
        await ledger.close()
    }

    @Test func theQueueIsBoundedAndDropsAreCounted() async throws {
        let scratch = ScratchDirectory()
        var configuration = configuration(scratch)
        configuration.path = scratch.path + "/not-a-directory/usage.sqlite3"
        configuration.queueCapacity = 3
        configuration.maxFlushAttempts = 1_000
        configuration.flushIntervalMs = 60_000
        let events = EventLog()
        configuration.onEvent = { events.append($0) }
        Files.write(scratch.path + "/not-a-directory", "a file")
        let ledger = Ledger(configuration: configuration)
        for _ in 0..<5 { ledger.record(.sample(at: 0)) }
        #expect(ledger.status.pending == 3)
        #expect(ledger.status.dropped == 2)
        await ledger.flush()
        #expect(events.events.contains { if case .dropped(2, _) = $0 { return true } else { return false } })
        await ledger.close()
    }

    @Test func textIsKeptOnlyWhenConfigured() async throws {
        let scratch = ScratchDirectory()
        for storeText in [false, true] {
            var configuration = configuration(scratch)
            configuration.path = scratch.path + "/text-\(storeText).sqlite3"
            configuration.storeText = storeText
            let ledger = Ledger(configuration: configuration)
            var record = UsageRecord.sample(at: LedgerClock.wallMilliseconds())
            record.promptText = "my secret prompt"
            record.replyText = "the reply"
            ledger.record(record)
            let entry = try #require(try await ledger.log(limit: 1).first)
            #expect(entry.record.promptText == (storeText ? "my secret prompt" : nil))
            #expect(entry.record.replyText == (storeText ? "the reply" : nil))
            await ledger.close()
        }
    }

    @Test func retentionRunsAtOpenAndThenPeriodically() async throws {
        let scratch = ScratchDirectory()
        let day: Int64 = 86_400_000
        let clock = ManualClock(1_800_000_000_000)
        var configuration = configuration(scratch, clock: clock)
        configuration.retentionDays = 30
        do {
            let ledger = Ledger(configuration: configuration)
            for age: Int64 in [100, 20, 10, 0] { ledger.record(.sample(at: clock.now - age * day)) }
            await ledger.close()
        }
        configuration.retentionIntervalMs = 50
        let ledger = Ledger(configuration: configuration)
        #expect(try await ledger.log(limit: 100).count == 3, "the 100-day-old row went at open")
        clock.advance(milliseconds: 15 * day)
        #expect(await eventually { (try? await ledger.log(limit: 100).count) == 2 }, "the 20-day-old row is now 35 days old")
        await ledger.close()
    }

    @Test func aLockedLedgerNeitherThrowsNorBlocksAndRecovers() async throws {
        let scratch = ScratchDirectory()
        let events = EventLog()
        var configuration = configuration(scratch, events: events)
        configuration.flushIntervalMs = 60_000
        let ledger = Ledger(configuration: configuration)
        await ledger.flush()
        #expect(ledger.status.healthy)

        let other = try SQLiteDatabase.open(configuration.path)
        try other.execute("BEGIN EXCLUSIVE")
        let clock = ContinuousClock()
        let before = clock.now
        ledger.record(.sample(at: LedgerClock.wallMilliseconds()))
        #expect(clock.now - before < .milliseconds(50), "record only queues")
        await ledger.flush()
        #expect(!ledger.status.healthy)
        #expect(ledger.status.lastError?.contains("locked") == true)
        #expect(ledger.status.pending == 1, "kept for the next attempt")

        try other.execute("COMMIT")
        await ledger.flush()
        #expect(ledger.status.healthy)
        #expect(ledger.status.lastError == nil)
        #expect(ledger.status.written == 1)
        #expect(events.events.contains(.recovered))
        await ledger.close()
    }

    @Test func aCorruptFileIsReportedRowsAreDroppedAfterTheirAttemptsAndAReplacedFileWorks() async throws {
        let scratch = ScratchDirectory()
        let events = EventLog()
        var configuration = configuration(scratch, events: events)
        configuration.path = scratch.path + "/usage.sqlite3"
        configuration.maxFlushAttempts = 2
        configuration.flushIntervalMs = 60_000
        Files.write(configuration.path, String(repeating: "this is not an SQLite database\n", count: 200))
        let ledger = Ledger(configuration: configuration)
        ledger.record(.sample(at: LedgerClock.wallMilliseconds()))
        await ledger.flush()
        #expect(!ledger.status.healthy)
        #expect(ledger.status.lastError?.contains("not a database") == true)
        await #expect(throws: LedgerError.self) { try await ledger.summary(groupBy: .day) }
        await ledger.flush()
        #expect(ledger.status.dropped == 1, "dropped after its two attempts")
        #expect(events.events.contains { if case .failed = $0 { return true } else { return false } })

        unlink(configuration.path)
        try await Task.sleep(for: .milliseconds(100))  // past the reopen interval
        ledger.record(.sample(at: LedgerClock.wallMilliseconds()))
        await ledger.flush()
        #expect(
            await eventually {
                await ledger.flush()
                return ledger.status.written == 1
            })
        #expect(ledger.status.healthy)
        await ledger.close()
    }

    @Test(.enabled(if: geteuid() != 0, "root may write a 0400 file"))
    func aReadOnlyFileIsReportedNotThrown() async throws {
        let scratch = ScratchDirectory()
        let path = scratch.path + "/usage.sqlite3"
        do {
            let ledger = Ledger(configuration: LedgerConfiguration(path: path))
            await ledger.close()
        }
        chmod(path, 0o400)
        var configuration = LedgerConfiguration(path: path)
        configuration.maxFlushAttempts = 1
        let ledger = Ledger(configuration: configuration)
        ledger.record(.sample(at: LedgerClock.wallMilliseconds()))
        await ledger.flush()
        #expect(!ledger.status.healthy)
        #expect(ledger.status.lastError != nil)
        #expect(ledger.status.dropped == 1)
        await ledger.close()
    }

    @Test func anUncreatableDirectoryIsReportedNotThrown() async throws {
        let scratch = ScratchDirectory()
        Files.write(scratch.path + "/gigachat", "a file where the directory should be")
        var configuration = LedgerConfiguration(path: scratch.path + "/gigachat/usage.sqlite3")
        configuration.maxFlushAttempts = 1
        let ledger = Ledger(configuration: configuration)
        ledger.record(.sample(at: LedgerClock.wallMilliseconds()))
        await ledger.flush()
        #expect(ledger.status.lastError?.contains("not a directory") == true)
        #expect(ledger.status.dropped == 1)
        let status = await UsageRPC.status(ledger)
        #expect(status["today"] == .null)
        #expect(status["ledger"]?["last_error"]?.stringValue?.contains("not a directory") == true)
        await ledger.close()
    }

    @Test func closingWritesWhatIsQueuedAndLaterRowsAreDropped() async throws {
        let scratch = ScratchDirectory()
        var configuration = configuration(scratch)
        configuration.flushIntervalMs = 60_000
        let ledger = Ledger(configuration: configuration)
        for _ in 0..<3 { ledger.record(.sample(at: LedgerClock.wallMilliseconds())) }
        await ledger.close()
        #expect(ledger.status.written == 3)
        ledger.record(.sample(at: LedgerClock.wallMilliseconds()))
        #expect(ledger.status.dropped == 1)
        await #expect(throws: LedgerError.self) { try await ledger.today() }
        await ledger.close()  // twice is fine
    }
}
