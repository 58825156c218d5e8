import GigaChatProtocol

/// gigachatctl's own defaults: `GIGACHATCTL_MODEL`, `GIGACHATCTL_ROLE` and `GIGACHATCTL_API`, from the environment or
/// from `$XDG_CONFIG_HOME/gigachat/gigachatctl.conf` (KEY=VALUE lines, # comments), the environment
/// winning as it does for gigachatd.
struct ClientConfig {
    static let fileName = "gigachatctl.conf"
    static let modelKey = "GIGACHATCTL_MODEL"
    static let roleKey = "GIGACHATCTL_ROLE"
    static let apiKey = "GIGACHATCTL_API"
    static let keys = [modelKey, roleKey, apiKey]

    var model: String?
    var role: String?
    var api: ChatAPI?

    /// The settings, or a usage error naming the bad line.
    static func loadOrFail() throws -> ClientConfig {
        do {
            return try load()
        } catch {
            throw ClientExit.usageError(error.message)
        }
    }

    static func load() throws(PrivateFile.Failure) -> ClientConfig {
        var values: [String: String] = [:]
        if let directory = ClientPaths.configDirectory,
            let bytes = try PrivateFile.read(directory + "/" + fileName, limit: 64 * 1024)
        {
            for (number, rawLine) in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let line = String(rawLine).trimmingCharacters(in: " \t\r")
                if line.isEmpty || line.hasPrefix("#") { continue }
                guard let equals = line.firstIndex(of: "=") else {
                    throw PrivateFile.Failure(message: "\(directory)/\(fileName), line \(number + 1): expected KEY=VALUE")
                }
                let key = String(line[..<equals]).trimmingCharacters(in: " \t")
                var value = String(line[line.index(after: equals)...]).trimmingCharacters(in: " \t")
                if value.count >= 2, let quote = value.first, quote == "\"" || quote == "'", value.last == quote {
                    value = value.dropFirst().dropLast()
                }
                guard keys.contains(String(key)) else {
                    throw PrivateFile.Failure(
                        message: "\(directory)/\(fileName), line \(number + 1): unknown setting \(key) "
                            + "(known: \(keys.joined(separator: ", ")))"
                    )
                }
                values[String(key)] = String(value)
            }
        }
        for key in keys {
            if let value = SocketPath.processEnvironment(key) { values[key] = value }
        }
        var api: ChatAPI?
        if let name = values[apiKey], !name.isEmpty {
            guard let parsed = ChatAPI(rawValue: name) else {
                throw PrivateFile.Failure(message: "\(apiKey) must be v1 or v2 (got \(name))")
            }
            api = parsed
        }
        return ClientConfig(
            model: values[modelKey].flatMap { $0.isEmpty ? nil : $0 },
            role: values[roleKey].flatMap { $0.isEmpty ? nil : $0 },
            api: api
        )
    }
}
