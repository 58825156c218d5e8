internal import CCurl
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One curl multi handle driven by its own dedicated thread (curl_multi_poll + curl_multi_wakeup);
/// all curl calls on easy/multi handles happen on that thread. Connections are kept alive and reused.
///
/// Dropping the last reference shuts the engine down like ``shutdown()``.
public final class CurlEngine: Sendable {
    private let core: EngineCore
    /// The engine thread until it has been joined; guarded so concurrent `shutdown()` calls join once.
    private let thread: NIOLockedValueBox<pthread_t?>

    /// Idle connections kept open for reuse.
    static let maxCachedConnections = 256

    /// - Parameter maxConnectionsPerHost: 0 means unlimited; otherwise transfers queue for a free connection.
    public init(maxConnectionsPerHost: Int = 0) throws(CurlError) {
        try CurlGlobal.ensureInitialized()
        guard let multi = curl_multi_init() else {
            throw CurlError(curlCode: CURLE_FAILED_INIT, detail: "curl_multi_init failed")
        }
        if maxConnectionsPerHost > 0 {
            let code = ccurl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, maxConnectionsPerHost)
            guard code == CURLM_OK else {
                _ = curl_multi_cleanup(multi)
                throw CurlError(multiCode: code, during: "CURLMOPT_MAX_HOST_CONNECTIONS")
            }
        }
        // libcurl's default keeps 4× the handles in use and closes the rest as transfers end; a daemon
        // whose upstream limit may be 50 wants its warm connections kept.
        let cached = ccurl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, Self.maxCachedConnections)
        guard cached == CURLM_OK else {
            _ = curl_multi_cleanup(multi)
            throw CurlError(multiCode: cached, during: "CURLMOPT_MAXCONNECTS")
        }
        let core = EngineCore(multi: multi)
        let loop = Unmanaged.passRetained(EngineLoop(core: core))
        var handle = pthread_t()
        let created = pthread_create(
            &handle,
            nil,
            { argument in
                guard let argument else { return nil }
                let loop = Unmanaged<EngineLoop>.fromOpaque(argument).takeRetainedValue()
                loop.run()
                return nil
            },
            loop.toOpaque()
        )
        guard created == 0 else {
            loop.release()
            _ = curl_multi_cleanup(multi)
            throw CurlError(
                code: Int32(CURLE_FAILED_INIT.rawValue),
                message: "Could not start the curl engine thread (error \(created))",
                kind: .other
            )
        }
        self.core = core
        self.thread = NIOLockedValueBox(handle)
    }

    deinit {
        shutdown()
    }

    /// Starts a transfer; the returned sequence yields `.head` once (the final response head, never a 1xx),
    /// then `.body` chunks, and finishes when the transfer completes, or throws ``CurlError``.
    public func perform(_ request: HTTPRequest) -> HTTPTransfer {
        let state = TransferState(request: request, engine: core)
        if !core.submit(state) {
            state.abort(.cancelled("The curl engine was shut down"))
        }
        return HTTPTransfer(state: state)
    }

    /// Stops the thread and aborts running transfers (they throw ``CurlError`` of kind `.cancelled`).
    /// Blocks until the engine thread has exited; later calls and later transfers are no-ops / fail at once.
    public func shutdown() {
        core.requestStop()
        let joinable: pthread_t? = thread.withLockedValue { handle in
            defer { handle = nil }
            return handle
        }
        guard let joinable else { return }
        if pthread_equal(joinable, pthread_self()) != 0 {
            // Cannot wait for ourselves; the loop ends on its own after this call returns.
            _ = pthread_detach(joinable)
        } else {
            _ = pthread_join(joinable, nil)
        }
    }
}
