import Foundation
import GigaChatAPI

extension Configuration {
    /// The configuration as gigachatd runs with it: `load(_:)`, which already refuses a config file
    /// others can read, plus the same refusal for the secret files named by a plain path.
    ///
    /// Files in $CREDENTIALS_DIRECTORY are systemd's private copies and need no check; the file they were
    /// copied from does (see `secretFilePaths`).
    public static func loadForDaemon(_ sources: Sources) throws(ConfigurationError) -> Configuration {
        let configuration = try load(sources)
        for path in secretFilePaths(of: configuration, sources: sources) {
            try checkPrivate(path, allowInsecure: sources.allowInsecurePermissions)
        }
        return configuration
    }

    /// Plain-path files that hold secrets for this configuration:
    /// - GIGACHAT_KEY_FILE, the private key of the client certificate;
    /// - $XDG_CONFIG_HOME/gigachat/credentials when the unit handed us the key from it (the shipped
    ///   gigachatd.service has LoadCredential=gigachat-credentials:%E/gigachat/credentials). systemd
    ///   copies the file whatever its mode, so this is the only place a key readable by others is noticed.
    static func secretFilePaths(of configuration: Configuration, sources: Sources) -> [String] {
        var paths: [String] = []
        if let keyFile = configuration.keyFile { paths.append(keyFile) }
        if let directory = sources.environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty,
            FileManager.default.fileExists(atPath: "\(directory)/gigachat-credentials"),
            let source = defaultCredentialsPath(environment: sources.environment),
            FileManager.default.fileExists(atPath: source)
        {
            paths.append(source)
        }
        return paths
    }

    /// $XDG_CONFIG_HOME/gigachat/credentials (or ~/.config/...): where the docs tell people to put the key.
    public static func defaultCredentialsPath(environment: [String: String]) -> String? {
        guard let config = defaultConfigPath(environment: environment) else { return nil }
        return (config as NSString).deletingLastPathComponent + "/credentials"
    }
}
