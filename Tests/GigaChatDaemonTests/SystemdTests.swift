import Foundation
import GigaChatAPI
import Logging
import Testing

@testable import GigaChatDaemon

@Suite struct JournalLogHandlerTests {
    private func fields(
        _ level: Logger.Level = .info,
        _ message: String = "request failed",
        _ metadata: Logger.Metadata = [:]
    ) -> [String: String] {
        let list = JournalLogHandler.fields(
            level: level, message: message, metadata: metadata, identifier: "gigachatd",
            file: "GigaChatDaemon/Connection.swift", function: "run(_:)", line: 42
        )
        #expect(Set(list.map(\.name)).count == list.count, "a field sent twice")
        return Dictionary(uniqueKeysWithValues: list.map { ($0.name, $0.value) })
    }

    @Test func metadataBecomesUpperCaseFields() {
        let entry = fields(
            .info, "request failed",
            [
                "request_id": "7", "method": "chat", "upstream_status": "429", "duration_ms": "12", "error_code": "-32003",
            ])
        #expect(entry["REQUEST_ID"] == "7")
        #expect(entry["METHOD"] == "chat")
        #expect(entry["UPSTREAM_STATUS"] == "429")
        #expect(entry["DURATION_MS"] == "12")
        #expect(entry["ERROR_CODE"] == "-32003")
        #expect(entry["SYSLOG_IDENTIFIER"] == "gigachatd")
        #expect(entry["CODE_LINE"] == "42")
    }

    @Test func messageKeepsTheMetadataReadable() {
        let entry = fields(.info, "request failed", ["method": "chat", "error": "HTTP 500: try later"])
        #expect(entry["MESSAGE"] == #"request failed [error="HTTP 500: try later" method=chat]"#)
        #expect(fields(.notice, "ready")["MESSAGE"] == "ready")
    }

    @Test func prioritiesFollowSyslog() {
        #expect(fields(.trace)["PRIORITY"] == "7")
        #expect(fields(.debug)["PRIORITY"] == "7")
        #expect(fields(.info)["PRIORITY"] == "6")
        #expect(fields(.notice)["PRIORITY"] == "5")
        #expect(fields(.warning)["PRIORITY"] == "4")
        #expect(fields(.error)["PRIORITY"] == "3")
        #expect(fields(.critical)["PRIORITY"] == "2")
    }

    @Test func fieldNamesAreValidJournalNames() {
        #expect(JournalLogHandler.fieldName("request_id") == "REQUEST_ID")
        #expect(JournalLogHandler.fieldName("base-url.v1") == "BASE_URL_V1")
        // A leading "_" would claim to be a trusted field; a leading digit is not allowed.
        #expect(JournalLogHandler.fieldName("_pid") == "M__PID")
        #expect(JournalLogHandler.fieldName("2fa") == "M_2FA")
        #expect(JournalLogHandler.fieldName("ключ") == "M_____")
        #expect(JournalLogHandler.fieldName(String(repeating: "a", count: 100)).count == 64)
    }

    @Test func metadataCannotOverrideTheEntrysOwnFields() {
        let entry = fields(.error, "boom", ["message": "forged", "priority": "0"])
        #expect(entry["MESSAGE"]?.hasPrefix("boom") == true)
        #expect(entry["PRIORITY"] == "3")
        #expect(entry["META_MESSAGE"] == "forged")
        #expect(entry["META_PRIORITY"] == "0")
    }
}

@Suite struct JournalStreamTests {
    @Test func parsesDeviceAndInode() {
        #expect(JournalStream.parse("8:12345")?.device == 8)
        #expect(JournalStream.parse("8:12345")?.inode == 12345)
        #expect(JournalStream.parse("8") == nil)
        #expect(JournalStream.parse("a:1") == nil)
        #expect(JournalStream.parse("1:2:3") == nil)
    }

    @Test func anotherStreamIsNotTheJournal() {
        #expect(!JournalStream.stderrIsJournal(environment: [:]))
        #expect(!JournalStream.stderrIsJournal(environment: ["JOURNAL_STREAM": "0:0"]))
    }
}

@Suite struct SystemdNotifierTests {
    @Test func statusIsOneLine() {
        #expect(SystemdNotifier.oneLine("a\nb") == "a b")
    }
}
