import Foundation
import GigaChatProtocol

/// OpenAI chat messages → GigaChat v1 messages.
///
/// - `system` and `developer` messages become GigaChat's one system message, first (the API refuses a
///   second one, or one later in the list); their texts are joined in order.
/// - An assistant message with several `tool_calls` becomes one assistant function call per call, each
///   followed by its result: GigaChat v1 carries one function call per message, and this is the same
///   conversation in the shape it can read.
/// - `tool` results become `function` messages named after their call; the content must be JSON for
///   GigaChat, so plain text is sent as a JSON string.
enum MessageTranslator {
    struct Output {
        var messages: [JSONValue]
        var images: [ChatRequest.InlineImage]
    }

    static func translate(_ messages: [JSONValue]) throws(OpenAIError) -> Output {
        var system: [String] = []
        var out: [JSONValue] = []
        var pendingImages: [ChatRequest.InlineImage] = []
        var index = 0
        while index < messages.count {
            let path = "messages[\(index)]"
            guard let message = messages[index].objectValue else { throw .invalid("\(path) must be an object", param: "messages") }
            guard let role = message["role"]?.stringValue else { throw .invalid("\(path).role must be a string", param: "messages") }
            switch role {
            case "system", "developer":
                system.append(try text(message["content"], at: path))
                index += 1
            case "user":
                var images: [(data: [UInt8], mime: String)] = []
                let content = try text(message["content"], at: path, images: &images)
                for image in images {
                    pendingImages.append(ChatRequest.InlineImage(messageIndex: out.count, data: image.data, mimeType: image.mime))
                }
                out.append(["role": "user", "content": .string(content)])
                index += 1
            case "assistant":
                let textContent = try text(message["content"], at: path)
                if let calls = message["tool_calls"]?.arrayValue, !calls.isEmpty {
                    // The tool messages answering these calls follow this message.
                    var results: [String: (content: JSONValue?, at: String)] = [:]
                    var next = index + 1
                    while next < messages.count, let tool = messages[next].objectValue, tool["role"]?.stringValue == "tool" {
                        guard let id = tool["tool_call_id"]?.stringValue else {
                            throw .invalid("messages[\(next)].tool_call_id is required", param: "messages")
                        }
                        results[id] = (tool["content"], "messages[\(next)]")
                        next += 1
                    }
                    var answered = Set<String>()
                    for (position, call) in calls.enumerated() {
                        let callPath = "\(path).tool_calls[\(position)]"
                        guard let id = call["id"]?.stringValue, let function = call["function"]?.objectValue,
                            let name = function["name"]?.stringValue
                        else { throw .invalid("\(callPath) needs an id and a function name", param: "messages") }
                        let arguments = try Self.arguments(function["arguments"], at: callPath)
                        var assistant: JSONObject = [
                            "role": "assistant", "content": .string(position == 0 ? textContent : ""),
                            "function_call": ["name": .string(name), "arguments": arguments],
                        ]
                        if let state = ToolCallID.stateID(from: id) { assistant["functions_state_id"] = .string(state) }
                        out.append(.object(assistant))
                        guard let result = results[id] else {
                            throw .invalid(
                                "\(callPath) (id \(id)) has no tool message answering it; GigaChat needs every function call followed by its result",
                                param: "messages"
                            )
                        }
                        answered.insert(id)
                        out.append(["role": "function", "name": .string(name), "content": .string(try functionResult(result.content, at: result.at))])
                    }
                    if let stray = results.keys.first(where: { !answered.contains($0) }) {
                        throw .invalid("a tool message answers tool_call_id \(stray), which the assistant message before it did not make", param: "messages")
                    }
                    index = next
                    continue
                }
                var assistant: JSONObject = ["role": "assistant", "content": .string(textContent)]
                if let call = message["function_call"]?.objectValue, let name = call["name"]?.stringValue {
                    assistant["function_call"] = ["name": .string(name), "arguments": try Self.arguments(call["arguments"], at: "\(path).function_call")]
                }
                out.append(.object(assistant))
                index += 1
            case "tool":
                throw .invalid(
                    "\(path) is a tool message that does not follow an assistant message with tool_calls", param: "messages"
                )
            case "function":
                guard let name = message["name"]?.stringValue else { throw .invalid("\(path).name is required for a function message", param: "messages") }
                out.append(["role": "function", "name": .string(name), "content": .string(try functionResult(message["content"], at: path))])
                index += 1
            default:
                throw .invalid("\(path).role \(role) is not one of system, developer, user, assistant, tool", param: "messages")
            }
        }
        guard !out.isEmpty else { throw .invalid("messages needs at least one user message", param: "messages") }
        var messagesOut: [JSONValue] = []
        var offset = 0
        if !system.isEmpty {
            messagesOut.append(["role": "system", "content": .string(system.joined(separator: "\n\n"))])
            offset = 1
        }
        messagesOut.append(contentsOf: out)
        for position in pendingImages.indices { pendingImages[position].messageIndex += offset }
        return Output(messages: messagesOut, images: pendingImages)
    }

    /// Text content: a string, or a list of text parts (joined). Images are refused here.
    static func text(_ content: JSONValue?, at path: String) throws(OpenAIError) -> String {
        var none: [(data: [UInt8], mime: String)] = []
        return try text(content, at: path, images: &none, imagesAllowed: false)
    }

    static func text(
        _ content: JSONValue?, at path: String, images: inout [(data: [UInt8], mime: String)], imagesAllowed: Bool = true
    ) throws(OpenAIError) -> String {
        switch content {
        case nil, .null?:
            return ""
        case .string(let text)?:
            return text
        case .array(let parts)?:
            var texts: [String] = []
            for (position, part) in parts.enumerated() {
                let partPath = "\(path).content[\(position)]"
                switch part["type"]?.stringValue {
                case "text"?, "input_text"?, "refusal"?:
                    guard let text = part["text"]?.stringValue ?? part["refusal"]?.stringValue else {
                        throw .invalid("\(partPath).text must be a string", param: "messages")
                    }
                    texts.append(text)
                case "image_url"?:
                    guard imagesAllowed else {
                        throw .unsupported("\(partPath): images are accepted in user messages only", param: "messages")
                    }
                    let url = part["image_url"]?["url"]?.stringValue ?? part["image_url"]?.stringValue
                    guard let url else { throw .invalid("\(partPath).image_url.url must be a string", param: "messages") }
                    images.append(try dataURL(url, at: partPath))
                case let other:
                    throw .unsupported("\(partPath) has type \(other ?? "none"); supported parts are text and image_url", param: "messages")
                }
            }
            return texts.joined(separator: "\n")
        case let other?:
            throw .invalid("\(path).content must be a string or a list of parts, got \(other.typeName)", param: "messages")
        }
    }

    /// A `data:` URL's bytes. Web URLs are refused: the daemon does not fetch pages on a caller's behalf.
    static func dataURL(_ url: String, at path: String) throws(OpenAIError) -> (data: [UInt8], mime: String) {
        guard url.hasPrefix("data:"), let comma = url.firstIndex(of: ",") else {
            throw .unsupported("\(path): images must be data: URLs (base64); gigachatd does not download images from the web", param: "messages")
        }
        let meta = url[url.index(url.startIndex, offsetBy: 5)..<comma]
        let parts = meta.split(separator: ";")
        guard parts.contains("base64"), let mime = parts.first, mime.contains("/") else {
            throw .invalid("\(path): the image data: URL must be base64 with a MIME type (data:image/png;base64,...)", param: "messages")
        }
        guard let data = Data(base64Encoded: String(url[url.index(after: comma)...]), options: .ignoreUnknownCharacters), !data.isEmpty else {
            throw .invalid("\(path): the image data: URL does not hold valid base64", param: "messages")
        }
        return (Array(data), String(mime))
    }

    /// A function call's arguments: OpenAI sends JSON text, GigaChat wants the object.
    static func arguments(_ value: JSONValue?, at path: String) throws(OpenAIError) -> JSONValue {
        switch value {
        case nil, .null?:
            return .object([:])
        case .object?:
            return value ?? .object([:])
        case .string(let text)?:
            if text.trimmingCharacters(in: .whitespaces).isEmpty { return .object([:]) }
            guard let parsed = try? JSONValue(parsing: text), parsed.objectValue != nil else {
                throw .invalid("\(path).arguments must be a JSON object in text form", param: "messages")
            }
            return parsed
        case let other?:
            throw .invalid("\(path).arguments must be a string, got \(other.typeName)", param: "messages")
        }
    }

    /// A function result as GigaChat wants it: JSON text. JSON stays as it is; anything else is sent as a
    /// JSON string.
    static func functionResult(_ content: JSONValue?, at path: String) throws(OpenAIError) -> String {
        let text = try text(content, at: path)
        if (try? JSONValue(parsing: text)) != nil { return text }
        return JSONValue.string(text).jsonText
    }
}

/// OpenAI tool-call ids for GigaChat's function calls. GigaChat identifies a call's state with
/// `functions_state_id` (v1) or `tools_state_id` (v2), which must come back with the call on the next turn;
/// carrying it inside the id (`call_<state>`, and `call_<state>_<n>` for the n-th of several calls in one
/// reply) lets the daemon map it back without remembering anything, across restarts.
enum ToolCallID {
    static func make(stateID: String?, index: Int = 0) -> String {
        guard let stateID, isStateID(stateID) else { return "call_" + RandomID.make(count: 24) }
        return index == 0 ? "call_" + stateID : "call_\(stateID)_\(index)"
    }

    static func stateID(from id: String) -> String? {
        guard id.hasPrefix("call_") else { return nil }
        var rest = Substring(id.dropFirst(5))
        if let underscore = rest.firstIndex(of: "_") {
            let suffix = rest[rest.index(after: underscore)...]
            guard !suffix.isEmpty, suffix.utf8.count <= 4, suffix.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
            rest = rest[..<underscore]
        }
        return isStateID(String(rest)) ? String(rest) : nil
    }

    /// GigaChat's state ids are UUIDs; nothing else is read back out of an id.
    static func isStateID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        for (index, byte) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(index) {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                let isHex = (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte) || (0x41...0x46).contains(byte)
                guard isHex else { return false }
            }
        }
        return true
    }
}

/// Random identifiers for responses and tool calls.
enum RandomID {
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)

    static func make(count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        for _ in 0..<count {
            bytes.append(alphabet[Int.random(in: 0..<alphabet.count, using: &generator)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
