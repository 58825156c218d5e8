internal import CLinux
import GigaChatProtocol
import Glibc

/// Keeps the daemon's memory — which holds the authorization key and tokens — out of core dumps and
/// away from debuggers of the same user, as ssh-agent does.
public enum ProcessHardening {
    /// Disables core dumps (RLIMIT_CORE 0) and ptrace attach (PR_SET_DUMPABLE 0). Returns what failed,
    /// for a warning; the daemon still runs.
    @discardableResult
    public static func apply() -> [String] {
        var problems: [String] = []
        var limit = rlimit(rlim_cur: 0, rlim_max: 0)
        if setrlimit(Int32(RLIMIT_CORE.rawValue), &limit) != 0 {
            problems.append("setrlimit(RLIMIT_CORE): \(ErrorCause.lastErrno.description)")
        }
        if clinux_set_dumpable(0) != 0 {
            problems.append("prctl(PR_SET_DUMPABLE): \(ErrorCause.lastErrno.description)")
        }
        return problems
    }
}
