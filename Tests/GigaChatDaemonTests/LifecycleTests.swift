import Foundation
import GigaChatProtocol
import Testing

@testable import GigaChatDaemon

@Suite struct LifecycleTests {
    @Test func drainingIsFinal() async {
        let lifecycle = Lifecycle()
        await lifecycle.set(.running)
        await lifecycle.set(.draining)
        await lifecycle.set(.running)
        #expect(await lifecycle.state == .draining)
        #expect(await !lifecycle.acceptsRequests)
    }

    @Test func aSecondStopSignalWakesTheDrainAtOnce() async {
        let lifecycle = Lifecycle()
        let waiter = Task { await lifecycle.waitForHurry() }
        await lifecycle.stopRequested(by: "SIGTERM")
        await lifecycle.stopRequested(by: "SIGINT")
        await lifecycle.hurryDrain()
        await waiter.value
        #expect(await lifecycle.stopSignal == "SIGTERM", "the first signal is the one that stopped the daemon")
        // Once hurried, a later wait returns at once.
        await lifecycle.waitForHurry()
    }

    @Test func nothingRunningMeansIdleAtOnce() async {
        let lifecycle = Lifecycle()
        await lifecycle.waitUntilIdle()
        #expect(await lifecycle.runningRequests() == 0)
    }
}

@Suite struct DaemonSnapshotTests {
    func snapshot() -> DaemonSnapshot {
        DaemonSnapshot(
            state: .running, runningRequests: 0, uptimeSeconds: 12.34, baseURL: "https://api", authURL: "https://auth", scope: "S",
            model: "GigaChat", maxConnections: 1, credentials: "authorization key", tokenValidUntil: nil, tokenRefreshes: 2,
            tokenError: nil, inFlight: 1, queued: 3, served: 7, connections: 2, lastUpstreamError: nil, lastUpstreamErrorAt: nil,
            reloadError: nil, balanceSummary: nil, balanceEntries: nil, balanceReadAt: nil, usage: nil
        )
    }

    @Test func statusLineAndStatusSayTheSameThings() {
        var state = snapshot()
        #expect(state.statusLine == "fetching a token; 1 in flight, 3 queued, 7 served")
        #expect(state.json["requests"] == ["in_flight": 1, "queued": 3, "served": 7])
        #expect(state.json["uptime_s"] == 12.3)

        state.state = .draining
        state.runningRequests = 4
        state.tokenValidUntil = 0
        state.reloadError = "bad GIGACHATD_MAX_CONNECTIONS"
        #expect(
            state.statusLine
                == "shutting down, 4 request(s) left; pre-issued token; 1 in flight, 3 queued, 7 served; last reload failed: bad GIGACHATD_MAX_CONNECTIONS"
        )
        #expect(state.json["state"] == "draining")
        #expect(state.json["token"]?["valid_until"] == "unknown (pre-issued token)")
        #expect(state.json["reload"]?["last_error"] == "bad GIGACHATD_MAX_CONNECTIONS")
    }

    @Test func aFailedTokenFetchIsSaidOnce() {
        var state = snapshot()
        state.tokenError = "OAuth answered 401: bad key"
        state.lastUpstreamError = "OAuth answered 401"
        #expect(state.statusLine == "no token; 1 in flight, 3 queued, 7 served; token error: OAuth answered 401: bad key")
        state.lastUpstreamError = "the API answered 500"
        #expect(state.statusLine.hasSuffix("; last upstream error: the API answered 500"))
    }
}
