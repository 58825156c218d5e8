import Foundation
import GigaChatAPI
import GigaChatProtocol
import UsageLedger

/// `status`: what a person or a monitor wants to know about the daemon. Never the token or credentials.
struct StatusMethod: Sendable {
    let upstream: UpstreamService
    let statistics: DaemonStatistics
    let lifecycle: Lifecycle
    let usage: UsageAccounting

    func callAsFunction() async -> JSONValue {
        let client = await upstream.client
        let configuration = client.configuration
        let validUntil = await client.tokens.validUntilMilliseconds
        let refreshes = await client.tokens.refreshes
        let lastError = await client.tokens.lastError
        let inFlight = await upstream.limiter.inFlight
        let queued = await upstream.limiter.queued

        var token: JSONObject = ["refreshes": .int(Int64(refreshes))]
        switch validUntil {
        case nil: token["valid_until"] = .null
        case 0?: token["valid_until"] = "unknown (pre-issued token)"
        case let milliseconds?:
            token["valid_until"] = .string(Timestamps.iso8601(milliseconds: milliseconds))
        }
        token["last_error"] = lastError.map(JSONValue.string) ?? .null

        let result: JSONObject = [
            "version": .string(GigaChatDVersion.current),
            "uptime_s": .double((await statistics.uptimeSeconds * 10).rounded() / 10),
            "state": .string(await lifecycle.state.rawValue),
            "upstream": [
                "base_url": .string(configuration.baseURL),
                "auth_url": .string(configuration.authURL),
                "scope": .string(configuration.scope),
                "model": .string(configuration.model),
                "max_connections": .int(Int64(configuration.effectiveMaxConnections)),
                "last_error": (await statistics.lastUpstreamError).map(JSONValue.string) ?? .null,
                "last_error_at": (await statistics.lastUpstreamErrorAt).map { .string(Timestamps.iso8601($0)) } ?? .null,
                "credentials": .string(Self.credentialsSummary(configuration)),
            ],
            "token": .object(token),
            "requests": [
                "in_flight": .int(Int64(inFlight)),
                "queued": .int(Int64(queued)),
                "served": .int(Int64(await statistics.served)),
            ],
            "connections": .int(Int64(await statistics.connections)),
            // Why the last SIGHUP was refused (the daemon kept its previous configuration), until one succeeds.
            "reload": ["last_error": (await lifecycle.reloadError).map(JSONValue.string) ?? .null],
            // Today's totals and the ledger's health (docs/USAGE.md).
            "usage": await UsageRPC.status(usage.ledger),
            // A prepaid key's balance as last read (GIGACHATD_BALANCE_INTERVAL), never fetched for this call.
            "balance": [
                "entries": (await upstream.balance.balance)?["balance"] ?? .null, "read_at": (await upstream.balance.readAt).map(JSONValue.string) ?? .null,
            ],
        ]
        return .object(result)
    }

    /// How the daemon authenticates, never with the secret itself; says where the key goes when none is set.
    static func credentialsSummary(_ configuration: Configuration) -> String {
        switch configuration.authentication {
        case .authorizationKey: return "authorization key"
        case .accessToken: return "pre-issued access token"
        case .password: return "user and password"
        case .none:
            if configuration.certFile != nil { return "client certificate" }
            return "none: put the authorization key in ~/.config/gigachat/credentials (or GIGACHAT_CREDENTIALS) and reload"
        }
    }
}
