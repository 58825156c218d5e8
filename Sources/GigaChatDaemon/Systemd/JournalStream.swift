import Foundation

/// Whether stderr goes straight to the journal, the way systemd.exec(5) says to tell: JOURNAL_STREAM
/// holds "device:inode" of the stream systemd connected, and only if stderr still is that very stream
/// (not redirected by a wrapper script) should a service switch to native journal entries.
public enum JournalStream {
    /// True when $JOURNAL_STREAM names the file stderr is open on.
    public static func stderrIsJournal(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard let value = environment["JOURNAL_STREAM"], let expected = parse(value) else { return false }
        var info = stat()
        guard fstat(STDERR_FILENO, &info) == 0 else { return false }
        return UInt64(info.st_dev) == expected.device && UInt64(info.st_ino) == expected.inode
    }

    /// "device:inode", both decimal.
    static func parse(_ value: String) -> (device: UInt64, inode: UInt64)? {
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return nil }
        return (device, inode)
    }
}
