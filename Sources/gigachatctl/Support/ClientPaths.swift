import GigaChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Where gigachatctl keeps its own things, by the XDG base directory rules.
enum ClientPaths {
    /// `$XDG_CONFIG_HOME/gigachat` (else ~/.config/gigachat): roles and gigachatctl.conf.
    static var configDirectory: String? { base("XDG_CONFIG_HOME", fallback: ".config").map { $0 + "/gigachat" } }

    /// `$XDG_STATE_HOME/gigachat` (else ~/.local/state/gigachat), shared with gigachatd's conversations:
    /// the REPL's history and the last chat.
    static var stateDirectory: String? { base("XDG_STATE_HOME", fallback: ".local/state").map { $0 + "/gigachat" } }

    private static func base(_ variable: String, fallback: String) -> String? {
        if let value = SocketPath.processEnvironment(variable), value.hasPrefix("/") { return value }
        guard let home = SocketPath.processEnvironment("HOME"), home.hasPrefix("/") else { return nil }
        return (home.hasSuffix("/") ? home : home + "/") + fallback
    }
}
