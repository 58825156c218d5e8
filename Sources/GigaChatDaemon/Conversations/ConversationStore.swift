import Foundation
import GigaChatAPI
import GigaChatProtocol

/// Named chat histories kept by the daemon under $XDG_STATE_HOME/gigachat/conversations, so
/// `gigachatctl chat -c work ...` continues a thread across calls.
///
/// Each conversation is one JSON file, 0600, replaced atomically (write, fsync, rename) so a crash never
/// leaves half a history. Turns on one conversation are serialised: two replies never interleave.
actor ConversationStore {
    static let maxNameLength = 64

    let directory: String
    private var busy: Set<String> = []
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]

    init(stateDirectory: String) {
        self.directory = stateDirectory + "/conversations"
    }

    /// A stored conversation.
    struct Conversation: Sendable {
        var name: String
        /// In the neutral form (see `MessageForms`).
        var messages: [JSONValue]
        var updatedAt: String?
        /// Sent as X-Session-ID with every turn, so the API can reuse its cache of the thread.
        var sessionID: String?
    }

    static func validate(_ name: String) throws(RPCError) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard !name.isEmpty, name.count <= maxNameLength, !name.hasPrefix("."), name.allSatisfy({ allowed.contains($0) }) else {
            throw RPCError(
                .invalidParams,
                "Invalid params: conversation names are 1-\(maxNameLength) characters of A-Z a-z 0-9 . _ - and do not start with a dot"
            )
        }
    }

    /// Runs `body` with the conversation locked against other turns on it.
    func withLock<T: Sendable>(_ name: String, _ body: @Sendable () async throws(RPCError) -> T) async throws(RPCError) -> T {
        while busy.contains(name) {
            await withCheckedContinuation { waiters[name, default: []].append($0) }
        }
        busy.insert(name)
        defer {
            busy.remove(name)
            if var queue = waiters[name], !queue.isEmpty {
                queue.removeFirst().resume()
                waiters[name] = queue.isEmpty ? nil : queue
            }
        }
        return try await body()
    }

    nonisolated func path(_ name: String) -> String { "\(directory)/\(name).json" }

    /// Whether a conversation of that name is stored.
    nonisolated func exists(_ name: String) throws(RPCError) -> Bool {
        try Self.validate(name)
        var info = stat()
        return stat(path(name), &info) == 0
    }

    /// The conversation, or an empty one if it does not exist yet.
    nonisolated func load(_ name: String) throws(RPCError) -> Conversation {
        try Self.validate(name)
        guard let data = FileManager.default.contents(atPath: path(name)) else {
            return Conversation(name: name, messages: [])
        }
        guard let json = try? JSONValue(parsing: Array(data)), let messages = json["messages"]?.arrayValue else {
            throw RPCError(.localError, "conversation \(name) is damaged (\(path(name))); delete it with conversations.delete")
        }
        return Conversation(
            name: name,
            messages: messages.map(MessageForms.neutral),
            updatedAt: json["updated_at"]?.stringValue,
            sessionID: json["session_id"]?.stringValue
        )
    }

    nonisolated func save(_ conversation: Conversation) throws(RPCError) {
        try Self.validate(conversation.name)
        try makeDirectory()
        let document: JSONValue = [
            "name": .string(conversation.name),
            "updated_at": .string(Timestamps.iso8601(Date())),
            "session_id": conversation.sessionID.map(JSONValue.string) ?? .null,
            "messages": .array(conversation.messages),
        ]
        var bytes: [UInt8] = []
        document.write(into: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        try Self.writeAtomically(bytes, to: path(conversation.name))
    }

    nonisolated func list() throws(RPCError) -> [Conversation] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var result: [Conversation] = []
        for file in names.sorted() where file.hasSuffix(".json") && !file.hasPrefix(".") {
            let name = String(file.dropLast(".json".count))
            if let conversation = try? load(name) { result.append(conversation) }
        }
        return result
    }

    /// Deletes a conversation; false if there was none.
    nonisolated func delete(_ name: String) throws(RPCError) -> Bool {
        try Self.validate(name)
        if unlink(path(name)) == 0 { return true }
        if errno == ENOENT { return false }
        throw RPCError(.localError, "cannot delete conversation \(name): \(ErrorCause.lastErrno.description)")
    }

    private nonisolated func makeDirectory() throws(RPCError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw RPCError(.localError, "cannot create \(directory): \(error.localizedDescription)")
        }
    }

    private static func writeAtomically(_ bytes: [UInt8], to path: String) throws(RPCError) {
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RPCError(.localError, "cannot write \(temporary): \(ErrorCause.lastErrno.description)") }
        var offset = 0
        var failed = false
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress.map { $0 + offset }, bytes.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                failed = true
                break
            }
            offset += written
        }
        if failed || fsync(fd) != 0 {
            let reason = ErrorCause.lastErrno.description
            close(fd)
            unlink(temporary)
            throw RPCError(.localError, "cannot write \(path): \(reason)")
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let reason = ErrorCause.lastErrno.description
            unlink(temporary)
            throw RPCError(.localError, "cannot replace \(path): \(reason)")
        }
        let directoryFD = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }
}
