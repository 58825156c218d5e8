import Logging

/// The logger of the request a task is working for, so that every line about it — a 401 and its
/// refresh, a retry, a connection failure — carries the request's id, however deep it is logged.
public enum RequestLog {
    /// Set by the daemon around each request; nil outside one.
    @TaskLocal public static var logger: Logger?
}
