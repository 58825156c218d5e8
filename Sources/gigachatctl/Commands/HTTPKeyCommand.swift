import ArgumentParser
import GigaChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// `gigachatctl http-key`: the local key that OpenAI-compatible tools send to gigachatd's loopback TCP
/// listener, for a tool's settings (`OPENAI_API_KEY=$(gigachatctl http-key)`).
struct HTTPKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http-key",
        abstract: "Print the local key for gigachatd's OpenAI-compatible TCP listener.",
        discussion: """
            gigachatd creates the key (0600, in $XDG_CONFIG_HOME/gigachat/http-key) the first time it serves \
            GIGACHATD_HTTP_LISTEN. The Unix socket openai.sock needs no key. See docs/OPENAI.md.
            """
    )

    func run() throws {
        guard let directory = ClientPaths.configDirectory else {
            Output.error("cannot tell where the key is: neither XDG_CONFIG_HOME nor HOME is set")
            throw ClientExit.usage
        }
        let path = directory + "/" + ProtocolDefaults.httpKeyFileName
        guard let bytes = try? LocalFile.read(path, limit: 4096) else {
            Output.error(
                "no key at \(path) yet: gigachatd creates it when it listens on TCP (GIGACHATD_HTTP_LISTEN=127.0.0.1:PORT)"
            )
            throw ClientExit.upstreamError
        }
        let key = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: " \t\n\r")
        guard !key.isEmpty else {
            Output.error("\(path) is empty; remove it and restart gigachatd to make a new key")
            throw ClientExit.upstreamError
        }
        Output.write(key + "\n")
    }
}
