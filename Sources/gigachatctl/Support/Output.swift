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

    /// Bytes as they are (a downloaded file on standard output).
    static func write(bytes: [UInt8], to descriptor: Int32 = STDOUT_FILENO) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                Glibc.write(descriptor, raw.baseAddress.map { $0 + offset }, raw.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
    }

    /// Errors quote the daemon and the API, so on a terminal their control characters are made
    /// visible whatever --raw says.
    static func error(_ text: String) {
        let shown = isatty(STDERR_FILENO) == 1 ? TerminalText.visible(text) : text
        write("gigachatctl: \(shown)\n", to: STDERR_FILENO)
    }

    /// A remark for a person on stderr (a new conversation, a cut-off reply, how long it took): only
    /// on a terminal, dimmed when colour is allowed; scripts reading stderr get errors only.
    static func notice(_ text: String) {
        guard stderrIsTerminal else { return }
        let shown = Style(enabled: colorAllowed).dim(TerminalText.visible(text))
        write(shown + "\n", to: STDERR_FILENO)
    }

    static var stdoutIsTerminal: Bool { isatty(STDOUT_FILENO) == 1 }
    static var stdinIsTerminal: Bool { isatty(STDIN_FILENO) == 1 }
    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    /// Colour only on a terminal, and never with NO_COLOR set (no-color.org) or on a dumb terminal.
    static var useColor: Bool { stdoutIsTerminal && colorAllowed }

    /// NO_COLOR unset (or empty) and TERM not "dumb": styles would be understood.
    static var colorAllowed: Bool {
        let noColor = getenv("NO_COLOR").map { !String(cString: $0).isEmpty } ?? false
        return !noColor && !dumbTerminal
    }

    /// TERM=dumb: a terminal that understands no escape sequences at all.
    static var dumbTerminal: Bool {
        getenv("TERM").map { String(cString: $0) == "dumb" } ?? false
    }

    /// Columns of the terminal on standard output (80 when it cannot be told).
    static var terminalColumns: Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let columns = getenv("COLUMNS").flatMap({ Int(String(cString: $0)) }), columns > 0 { return columns }
        return 80
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
