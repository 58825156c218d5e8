/// A saved system prompt with defaults: `$XDG_CONFIG_HOME/gigachat/roles/NAME` (or NAME.md).
///
/// The file is the system prompt. It may start with a header between two `---` lines holding
/// `model:`, `temperature:` and `max_tokens:`, as aichat's roles do:
///
///     ---
///     model: GigaChat-2-Pro
///     temperature: 0.2
///     ---
///     You review patches. Name bugs first, style last. Be brief.
struct Role {
    var name: String
    var prompt: String?
    var model: String?
    var temperature: Double?
    var maxTokens: Int?

    struct Failure: Error {
        let message: String
    }

    static func load(_ name: String) throws(Failure) -> Role {
        guard isValidName(name) else {
            throw Failure(message: "--role: \"\(name)\" is not a role name (letters, digits, . _ -; not starting with .)")
        }
        guard let directory = ClientPaths.configDirectory.map({ $0 + "/roles" }) else {
            throw Failure(message: "--role: neither XDG_CONFIG_HOME nor HOME is set, so there is no roles directory")
        }
        for candidate in [name, name + ".md"] {
            let path = directory + "/" + candidate
            let bytes: [UInt8]?
            do {
                bytes = try PrivateFile.read(path, limit: 1024 * 1024)
            } catch {
                throw Failure(message: "--role: \(error.message)")
            }
            if let bytes { return try parse(String(decoding: bytes, as: UTF8.self), name: name, path: path) }
        }
        throw Failure(message: "--role: no role \(name): create \(directory)/\(name) holding its system prompt")
    }

    static func parse(_ text: String, name: String, path: String) throws(Failure) -> Role {
        var role = Role(name: name)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }[...]
        if lines.first == "---" {
            lines = lines.dropFirst()
            var number = 1
            while let line = lines.first, line != "---" {
                lines = lines.dropFirst()
                number += 1
                let trimmed = String(line).trimmingCharacters(in: " \t")
                if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                guard let colon = trimmed.firstIndex(of: ":") else {
                    throw Failure(message: "--role: \(path), line \(number): expected key: value")
                }
                let key = String(trimmed[..<colon]).trimmingCharacters(in: " \t")
                let value = String(String(trimmed[trimmed.index(after: colon)...]).trimmingCharacters(in: " \t\"'"))
                switch key {
                case "model":
                    role.model = value
                case "temperature":
                    guard let parsed = Double(value), parsed >= 0 else {
                        throw Failure(message: "--role: \(path), line \(number): temperature must be a number >= 0")
                    }
                    role.temperature = parsed
                case "max_tokens", "max-tokens":
                    guard let count = Int(value), count >= 1 else {
                        throw Failure(message: "--role: \(path), line \(number): max_tokens must be a whole number >= 1")
                    }
                    role.maxTokens = count
                default:
                    throw Failure(message: "--role: \(path), line \(number): unknown key \(key) (known: model, temperature, max_tokens)")
                }
            }
            guard !lines.isEmpty else { throw Failure(message: "--role: \(path): the header has no closing ---") }
            lines = lines.dropFirst()
        }
        let prompt = lines.joined(separator: "\n").trimmingCharacters(in: " \t\n\r")
        role.prompt = prompt.isEmpty ? nil : String(prompt)
        return role
    }

    /// The same rule as conversation names: no paths, nothing hidden.
    static func isValidName(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), !name.hasPrefix(".") else { return false }
        return name.unicodeScalars.allSatisfy { scalar in
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || scalar == "." || scalar == "_" || scalar == "-"
        }
    }
}
