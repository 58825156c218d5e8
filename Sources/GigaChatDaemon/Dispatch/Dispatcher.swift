import Foundation
import GigaChatAPI
import GigaChatProtocol
import UsageLedger

/// Routes a validated request to its method and returns the one final result or error.
struct Dispatcher: Sendable {
    let upstream: UpstreamService
    let statistics: DaemonStatistics
    let lifecycle: Lifecycle
    let fileIO: FileIO
    let usage: UsageAccounting
    /// The state directory does not change on reload (it follows XDG_STATE_HOME), so one store serves.
    let conversations: ConversationStore
    let uploads: UploadPolicy

    init(
        upstream: UpstreamService, statistics: DaemonStatistics, lifecycle: Lifecycle, fileIO: FileIO, usage: UsageAccounting, settings: Settings
    ) {
        self.usage = usage
        self.upstream = upstream
        self.statistics = statistics
        self.lifecycle = lifecycle
        self.fileIO = fileIO
        conversations = ConversationStore(stateDirectory: settings.stateDirectory)
        uploads = UploadPolicy(
            secretDirectories: settings.secretDirectories,
            secretFiles: [settings.configFile, settings.api.keyFile, settings.credentialsFile].compactMap { $0 }
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
        if method == RPCMethod.chat || method == RPCMethod.chatCreate {
            let contract: ChatContract = method == RPCMethod.chat ? .v1 : .v2
            return try await ChatMethod(contract: contract, upstream: upstream, conversations: conversations, fileIO: fileIO)(box, context: context)
        }
        let params = Params(box.take())
        box.markConsumed()
        switch method {
        case RPCMethod.status:
            return await DaemonSnapshot.take(upstream: upstream, statistics: statistics, lifecycle: lifecycle, usage: usage).json
        case RPCMethod.cancel:
            return try await cancel(params, context: context)
        case RPCMethod.models:
            return try await passthrough(APICall(.get, APIPath.models))
        case RPCMethod.modelsGet:
            let id = try params.pathSegment("id")
            return try await passthrough(APICall(.get, APIPath.model(id)))
        case RPCMethod.embeddings:
            let input = try params.stringList("input")
            let model = try params.string("model") ?? APIPath.defaultEmbeddingsModel
            return try await passthrough(
                APICall(.post, APIPath.embeddings, body: .json(["model": .string(model), "input": .array(input.map(JSONValue.string))])))
        case RPCMethod.tokensCount:
            let input = try params.stringList("input")
            let defaultModel = await upstream.configuration.model
            let model = try params.string("model") ?? defaultModel
            return try await passthrough(
                APICall(.post, APIPath.tokensCount, body: .json(["model": .string(model), "input": .array(input.map(JSONValue.string))])))
        case RPCMethod.balance:
            return try await passthrough(APICall(.get, APIPath.balance))
        case RPCMethod.filesList:
            return try await passthrough(APICall(.get, APIPath.files))
        case RPCMethod.filesGet:
            let id = try params.pathSegment("id")
            return try await passthrough(APICall(.get, APIPath.file(id)))
        case RPCMethod.filesDelete:
            let id = try params.pathSegment("id")
            return try await passthrough(APICall(.post, APIPath.fileDelete(id)))
        case RPCMethod.conversationsList:
            let store = conversations
            let all = try await fileIO.run { () throws(RPCError) in try store.list() }
            return [
                "conversations": .array(
                    all.map { conversation in
                        [
                            "name": .string(conversation.name), "messages": .int(Int64(conversation.messages.count)),
                            "updated_at": conversation.updatedAt.map(JSONValue.string) ?? .null,
                        ]
                    })
            ]
        case RPCMethod.conversationsShow:
            let name = try params.requiredString("name")
            let store = conversations
            let conversation = try await fileIO.run { () throws(RPCError) -> ConversationStore.Conversation? in
                try store.exists(name) ? try store.load(name) : nil
            }
            guard let conversation else { throw RPCError(.localError, "no conversation named \(name)") }
            // v1's shape (text in a string) unless asked for v2's (content parts), which keeps everything.
            let messages: [JSONValue]
            switch try params.string("form") ?? "v1" {
            case "v1": messages = conversation.messages.compactMap(MessageForms.v1)
            case "v2": messages = conversation.messages
            default: throw Params.invalid("\"form\" must be \"v1\" or \"v2\"")
            }
            return [
                "name": .string(name), "messages": .array(messages),
                "updated_at": conversation.updatedAt.map(JSONValue.string) ?? .null,
            ]
        case RPCMethod.conversationsDelete:
            let name = try params.requiredString("name")
            let store = conversations
            let fileIO = fileIO
            let deleted = try await conversations.withLock(name) { () throws(RPCError) -> Bool in
                try await fileIO.run { () throws(RPCError) in try store.delete(name) }
            }
            guard deleted else { throw RPCError(.localError, "no conversation named \(name)") }
            return ["name": .string(name), "deleted": true]
        case RPCMethod.usageSummary:
            return try await UsageRPC.summary(params.object, ledger: usage.ledger, budgets: usage.budgets)
        case RPCMethod.usageLog:
            return try await UsageRPC.log(params.object, ledger: usage.ledger)
        case RPCMethod.filesContent:
            return try await FilesContentMethod(upstream: upstream, fileIO: fileIO)(params)
        case RPCMethod.aiCheck:
            guard let input = try params.string("input"), !input.isEmpty else { throw Params.invalid("\"input\" is required: the text to check") }
            let model = try params.string("model") ?? APIPath.defaultAICheckModel
            return try await passthrough(APICall(.post, APIPath.aiCheck, body: .json(["input": .string(input), "model": .string(model)])))
        case RPCMethod.functionsConvert:
            guard let openapi = try params.string("openapi"), !openapi.isEmpty else {
                throw Params.invalid("\"openapi\" is required: the OpenAPI document as text")
            }
            // The body is the document as it is (JSON or YAML); the content type is a guess, none was recorded.
            return try await passthrough(APICall(.post, APIPath.functionsConvert, body: .bytes(Array(openapi.utf8), contentType: "text/plain; charset=utf-8")))
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
}
