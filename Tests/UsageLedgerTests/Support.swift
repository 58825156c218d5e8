import Glibc
import Testing

@testable import UsageLedger

/// A private scratch directory, removed with everything in it when the test is done.
final class ScratchDirectory {
    let path: String

    init() {
        var template = Array("/tmp/usage-ledger-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard let base = buffer.baseAddress else { return false }
            return mkdtemp(base) != nil
        }
        precondition(made, "mkdtemp failed")
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit {
        Self.remove(path)
    }

    static func remove(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR {
            chmod(path, 0o700)
            if let directory = opendir(path) {
                var names: [String] = []
                while let entry = readdir(directory) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                    }
                    if name != ".", name != ".." { names.append(name) }
                }
                closedir(directory)
                for name in names { remove(path + "/" + name) }
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

/// A clock tests move by hand.
final class ManualClock: @unchecked Sendable {
    private let lock = ConditionLock()
    private var value: Int64

    init(_ start: Int64) { value = start }

    var now: Int64 { lock.withLock { value } }

    func advance(milliseconds: Int64) { lock.withLock { value += milliseconds } }

    var function: @Sendable () -> Int64 { { [self] in now } }
}

/// Collects ledger events.
final class EventLog: @unchecked Sendable {
    private let lock = ConditionLock()
    private var stored: [LedgerEvent] = []

    func append(_ event: LedgerEvent) { lock.withLock { stored.append(event) } }
    var events: [LedgerEvent] { lock.withLock { stored } }
}

enum Files {
    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o7777
    }

    static func exists(_ path: String) -> Bool { mode(path) != nil }

    static func write(_ path: String, _ text: String, mode: mode_t = 0o600) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        precondition(fd >= 0, "cannot write \(path)")
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
}

/// Waits (up to `seconds`) for `condition`; returns whether it became true.
func eventually(seconds: Double = 5, _ condition: () async -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let end = clock.now + .milliseconds(Int64(seconds * 1000))
    while clock.now < end {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return await condition()
}

extension UsageRecord {
    static func sample(
        at startedAtMs: Int64,
        method: String = "chat",
        model: String? = "GigaChat",
        answered: String? = "GigaChat:2.0.28.2",
        tokens: (Int64, Int64, Int64) = (10, 5, 0),
        outcome: UsageOutcome = .ok,
        client: ClientIdentity = ClientIdentity(pid: 42, processName: "python3", executable: "/usr/bin/python3.11", unit: "backup.service"),
        queueWaitMs: Int64 = 0
    ) -> UsageRecord {
        UsageRecord(
            startedAtMs: startedAtMs,
            queueWaitMs: queueWaitMs,
            upstreamMs: 100,
            method: method,
            endpoint: "/chat/completions",
            contract: .v1,
            modelRequested: model,
            modelAnswered: answered,
            inputTokens: tokens.0,
            outputTokens: tokens.1,
            cachedTokens: tokens.2,
            totalTokens: tokens.0 + tokens.1,
            outcome: outcome,
            errorCode: outcome == .ok ? nil : -32003,
            client: client
        )
    }
}
