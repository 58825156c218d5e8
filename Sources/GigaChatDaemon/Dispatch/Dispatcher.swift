import Foundation
import GigaChatAPI
import GigaChatProtocol

/// Routes a validated request to its method and returns the one final result or error.
struct Dispatcher: Sendable {
    let upstream: UpstreamService
    let statistics: DaemonStatistics
    let lifecycle: Lifecycle
    let fileIO: FileIO
    /// The state directory does not change on reload (it follows XDG_STATE_HOME), so one store serves.
    let conversations: ConversationStore
    let uploads: UploadPolicy

    init(upstream: UpstreamService, statistics: DaemonStatistics, lifecycle: Lifecycle, fileIO: FileIO, configuration: Configuration) {
        self.upstream = upstream
        self.statistics = statistics
        self.lifecycle = lifecycle
        self.fileIO = fileIO
        let environment = ProcessInfo.processInfo.environment
        conversations = ConversationStore(stateDirectory: Configuration.stateDirectory(environment: environment))
        var secretDirectories: [String] = []
        if let credentials = environment["CREDENTIALS_DIRECTORY"], !credentials.isEmpty { secretDirectories.append(credentials) }
        if let configPath = Configuration.defaultConfigPath(environment: environment), let slash = configPath.lastIndex(of: "/") {
            secretDirectories.append(String(configPath[..<slash]))
        }
        uploads = UploadPolicy(
            secretDirectories: secretDirectories,
            secretFiles: [configuration.configFile, configuration.keyFile].compactMap { $0 }
        )
    }

    func handle(_ request: RPCRequest, params: RequestParams, context: RequestContext) async -> Result<JSONValue, RPCError> {
        do throws(RPCError) {
            return .success(try await route(request.method, params: params, context: context))
        } catch {
            return .failure(error)
        }
    }

    private func route(_ method: String, params box: RequestParams, context: RequestContext) async throws(RPCError) -> JSONValue {
        if method == RPCMethod.chat {
            return try await ChatMethod(upstream: upstream, conversations: conversations, fileIO: fileIO)(box, context: context)
        }
        let params = Params(box.take())
        box.markConsumed()
        switch method {
        case RPCMethod.status:
            return await StatusMethod(upstream: upstream, statistics: statistics, lifecycle: lifecycle)()
        case RPCMethod.cancel:
            return try await cancel(params, context: context)
        case RPCMethod.models:
            return try await passthrough(APICall(.get, "/models"))
        case RPCMethod.modelsGet:
            let id = try params.pathSegment("id")
            return try await passthrough(APICall(.get, "/models/\(Self.pathComponent(id))"))
        case RPCMethod.embeddings:
            let input = try params.stringList("input")
            let model = try params.string("model") ?? "Embeddings"
            return try await passthrough(APICall(.post, "/embeddings", body: .json(["model": .string(model), "input": .array(input.map(JSONValue.string))])))
        case RPCMethod.tokensCount:
            let input = try params.stringList("input")
            let defaultModel = await upstream.configuration.model
            let model = try params.string("model") ?? defaultModel
            return try await passthrough(APICall(.post, "/tokens/count", body: .json(["model": .string(model), "input": .array(input.map(JSONValue.string))])))
        case RPCMethod.balance:
            return try await passthrough(APICall(.get, "/balance"))
        case RPCMethod.filesList:
            return try await passthrough(APICall(.get, "/files"))
        case RPCMethod.filesGet:
            let id = try params.pathSegment("id")
            return try await passthrough(APICall(.get, "/files/\(Self.pathComponent(id))"))
        case RPCMethod.filesDelete:
            let id = try params.pathSegment("id")
            return try await passthrough(APICall(.post, "/files/\(Self.pathComponent(id))/delete"))
        case RPCMethod.conversationsList:
            let store = conversations
            let all = try await fileIO.run { () throws(RPCError) in try store.list() }
            return ["conversations": .array(all.map { conversation in
                ["name": .string(conversation.name), "messages": .int(Int64(conversation.messages.count)),
                 "updated_at": conversation.updatedAt.map(JSONValue.string) ?? .null]
            })]
        case RPCMethod.conversationsShow:
            let name = try params.requiredString("name")
            let store = conversations
            let conversation = try await fileIO.run { () throws(RPCError) -> ConversationStore.Conversation? in
                try store.exists(name) ? try store.load(name) : nil
            }
            guard let conversation else { throw RPCError(.localError, "no conversation named \(name)") }
            return ["name": .string(name), "messages": .array(conversation.messages),
                    "updated_at": conversation.updatedAt.map(JSONValue.string) ?? .null]
        case RPCMethod.conversationsDelete:
            let name = try params.requiredString("name")
            let store = conversations
            let fileIO = fileIO
            let deleted = try await conversations.withLock(name) { () throws(RPCError) -> Bool in
                try await fileIO.run { () throws(RPCError) in try store.delete(name) }
            }
            guard deleted else { throw RPCError(.localError, "no conversation named \(name)") }
            return ["name": .string(name), "deleted": true]
        case RPCMethod.filesUpload:
            return try await FilesUploadMethod(upstream: upstream, fileIO: fileIO, policy: uploads)(params, context: context)
        default:
            throw RPCError(.methodNotFound, "Method not found: \(method)")
        }
    }

    private func passthrough(_ call: APICall) async throws(RPCError) -> JSONValue {
        let client = await upstream.client
        do {
            return try await client.send(call)
        } catch {
            throw error.rpcError
        }
    }

    private func cancel(_ params: Params, context: RequestContext) async throws(RPCError) -> JSONValue {
        guard let raw = params.object["id"], let id = RPCID(json: raw) else {
            throw Params.invalid("\"id\" must be the string or integer id of a request on this connection")
        }
        let found = await context.connection.cancel(id)
        return ["cancelled": .bool(found)]
    }

    /// Ids come from users; keep them from escaping their path segment.
    static func pathComponent(_ value: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:".utf8)
        var output = ""
        for byte in value.utf8 {
            if allowed.contains(byte) {
                output.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = Array("0123456789ABCDEF")
                output += "%\(hex[Int(byte >> 4)])\(hex[Int(byte & 0xF)])"
            }
        }
        return output
    }
}
