#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Unbuffered writes to stdout and stderr: each streamed delta must reach a pipe at once, and the
/// client avoids Foundation to start fast.
enum Output {
    static func write(_ text: String, to descriptor: Int32 = STDOUT_FILENO) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { raw in
                Glibc.write(descriptor, raw.baseAddress.map { $0 + offset }, raw.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                return  // EPIPE and friends: the reader is gone; nothing useful to do
            }
            offset += written
        }
        _ = bytes
    }

    static func line(_ text: String) { write(text + "\n") }

    /// Errors quote the daemon and the API, so on a terminal their control characters are made
    /// visible whatever --raw says.
    static func error(_ text: String) {
        let shown = isatty(STDERR_FILENO) == 1 ? TerminalText.visible(text) : text
        write("gigachatctl: \(shown)\n", to: STDERR_FILENO)
    }

    static var stdoutIsTerminal: Bool { isatty(STDOUT_FILENO) == 1 }
    static var stdinIsTerminal: Bool { isatty(STDIN_FILENO) == 1 }

    /// Colour only on a terminal, and never with NO_COLOR set (no-color.org).
    static var useColor: Bool {
        stdoutIsTerminal && getenv("NO_COLOR").map { String(cString: $0).isEmpty } ?? true
    }

    /// All of standard input, for a prompt piped in.
    static func readStandardInput() -> String {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            data.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Output collected while more lines from the daemon are already waiting, written in one go when the
/// client is about to wait again: a stream of small deltas costs one write per socket read, not per delta.
final class OutputBuffer {
    private var pending: [UInt8] = []
    private let descriptor: Int32

    init(descriptor: Int32 = STDOUT_FILENO) {
        self.descriptor = descriptor
    }

    func append(_ text: String) {
        pending.append(contentsOf: text.utf8)
    }

    func append(_ bytes: some Sequence<UInt8>) {
        pending.append(contentsOf: bytes)
    }

    func flush() {
        guard !pending.isEmpty else { return }
        Output.write(String(decoding: pending, as: UTF8.self), to: descriptor)
        pending.removeAll(keepingCapacity: true)
    }
}
