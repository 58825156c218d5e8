import GigaChatProtocol
import NIOPosix

/// Where blocking file work runs: threads of its own, never the event loop that streams every client's
/// replies (one slow disk, fsync or FIFO would stall them all).
struct FileIO: Sendable {
    let pool: NIOThreadPool

    /// Runs `work` on the pool; its typed error passes through.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws(RPCError) -> T) async throws(RPCError) -> T {
        let result: Result<T, RPCError>
        do {
            result = try await pool.runIfActive { () -> Result<T, RPCError> in
                do throws(RPCError) {
                    return .success(try work())
                } catch {
                    return .failure(error)
                }
            }
        } catch {
            throw RPCError(.shuttingDown, "gigachatd is shutting down")
        }
        return try result.get()
    }
}
