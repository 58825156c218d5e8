import Foundation
import GigaChatAPI
import GigaChatProtocol
import UsageLedger

/// The daemon's state at one moment, read once from the actors that own it, for the two places that
/// show it: the `status` method (`json`) and systemd's STATUS= line (`statusLine`). Never the token or
/// credentials.
struct DaemonSnapshot: Sendable {
    var state: Lifecycle.State
    /// Requests still running on the JSON-RPC socket (what a drain waits for).
    var runningRequests: Int
    var uptimeSeconds: Double
    var baseURL: String
    var authURL: String
    var scope: String
    var model: String
    var maxConnections: Int
    var credentials: String
    /// nil: no token yet; 0: a pre-issued token whose expiry is unknown; else milliseconds since the epoch.
    var tokenValidUntil: Int64?
    var tokenRefreshes: Int
    var tokenError: String?
    var inFlight: Int
    var queued: Int
    var served: Int
    var connections: Int
    var lastUpstreamError: String?
    var lastUpstreamErrorAt: Date?
    var reloadError: String?
    var balanceSummary: String?
    var balanceEntries: JSONValue?
    var balanceReadAt: String?
    /// Today's totals and the ledger's health; read only for `status` (it asks the ledger's thread).
    var usage: JSONValue?

    static func take(
        upstream: UpstreamService, statistics: DaemonStatistics, lifecycle: Lifecycle, usage: UsageAccounting?
    ) async -> DaemonSnapshot {
        let client = await upstream.client
        let configuration = client.configuration
        return DaemonSnapshot(
            state: await lifecycle.state,
            runningRequests: await lifecycle.runningRequests(),
            uptimeSeconds: await statistics.uptimeSeconds,
            baseURL: configuration.baseURL,
            authURL: configuration.authURL,
            scope: configuration.scope,
            model: configuration.model,
            maxConnections: configuration.effectiveMaxConnections,
            credentials: credentialsSummary(configuration),
            tokenValidUntil: await client.tokens.validUntilMilliseconds,
            tokenRefreshes: await client.tokens.refreshes,
            tokenError: await client.tokens.lastError,
            inFlight: await upstream.limiter.inFlight,
            queued: await upstream.limiter.queued,
            served: await statistics.served,
            connections: await statistics.connections,
            lastUpstreamError: await statistics.lastUpstreamError,
            lastUpstreamErrorAt: await statistics.lastUpstreamErrorAt,
            reloadError: await lifecycle.reloadError,
            balanceSummary: await upstream.balance.summary,
            balanceEntries: (await upstream.balance.balance)?["balance"],
            balanceReadAt: await upstream.balance.readAt,
            usage: await usage.asyncMap { await UsageRPC.status($0.ledger) }
        )
    }

    /// The `status` method's result.
    var json: JSONValue {
        var token: JSONObject = ["refreshes": .int(Int64(tokenRefreshes))]
        switch tokenValidUntil {
        case nil: token["valid_until"] = .null
        case 0?: token["valid_until"] = "unknown (pre-issued token)"
        case let milliseconds?: token["valid_until"] = .string(Timestamps.iso8601(milliseconds: milliseconds))
        }
        token["last_error"] = tokenError.map(JSONValue.string) ?? .null
        return [
            "version": .string(GigaChatDVersion.current),
            "uptime_s": .double((uptimeSeconds * 10).rounded() / 10),
            "state": .string(state.rawValue),
            "upstream": [
                "base_url": .string(baseURL),
                "auth_url": .string(authURL),
                "scope": .string(scope),
                "model": .string(model),
                "max_connections": .int(Int64(maxConnections)),
                "last_error": lastUpstreamError.map(JSONValue.string) ?? .null,
                "last_error_at": lastUpstreamErrorAt.map { .string(Timestamps.iso8601($0)) } ?? .null,
                "credentials": .string(credentials),
            ],
            "token": .object(token),
            "requests": ["in_flight": .int(Int64(inFlight)), "queued": .int(Int64(queued)), "served": .int(Int64(served))],
            "connections": .int(Int64(connections)),
            // Why the last SIGHUP was refused (the daemon kept its previous configuration), until one succeeds.
            "reload": ["last_error": reloadError.map(JSONValue.string) ?? .null],
            "usage": usage ?? .null,
            // A prepaid key's balance as last read (GIGACHATD_BALANCE_INTERVAL), never fetched for this call.
            "balance": ["entries": balanceEntries ?? .null, "read_at": balanceReadAt.map(JSONValue.string) ?? .null],
        ]
    }

    /// What `systemctl --user status gigachatd` shows: the token, the load, the last upstream error.
    var statusLine: String {
        var parts: [String] = []
        if state == .draining {
            parts.append("shutting down, \(runningRequests) request(s) left")
        }
        switch tokenValidUntil {
        case nil: parts.append(tokenError == nil ? "fetching a token" : "no token")
        case 0?: parts.append("pre-issued token")
        case let milliseconds?: parts.append("token valid until \(Timestamps.iso8601(milliseconds: milliseconds))")
        }
        parts.append("\(inFlight) in flight, \(queued) queued, \(served) served")
        if let balanceSummary { parts.append(balanceSummary) }
        if let tokenError { parts.append("token error: \(tokenError)") }
        // A failed token fetch also fails the requests that wait for it: say it once.
        if let lastUpstreamError, !(tokenError?.hasPrefix(lastUpstreamError) ?? false) {
            parts.append("last upstream error: \(lastUpstreamError)")
        }
        if let reloadError { parts.append("last reload failed: \(reloadError)") }
        return parts.joined(separator: "; ")
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

extension Optional where Wrapped: Sendable {
    fileprivate func asyncMap<T>(_ transform: (Wrapped) async -> T) async -> T? {
        guard let value = self else { return nil }
        return await transform(value)
    }
}
