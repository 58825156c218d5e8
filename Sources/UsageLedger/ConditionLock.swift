import Glibc

/// A pthread mutex with one condition variable whose timed waits use the monotonic clock, so a wall-clock
/// jump (NTP, suspend) neither stalls nor hurries the ledger's flushes. A pthread mutex rather than
/// Synchronization.Mutex because ThreadSanitizer understands pthread primitives.
final class ConditionLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        condition.deinitialize(count: 1)
        condition.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits for `signal` or until the monotonic clock reaches `deadline` (nil: no deadline). The caller
    /// holds the lock (inside `withLock`); spurious wake-ups are the caller's to handle.
    func wait(until deadline: Int64?) {
        guard let deadline else {
            pthread_cond_wait(condition, mutex)
            return
        }
        let clamped = max(deadline, 0)
        var time = timespec(tv_sec: Int(clamped / 1_000_000_000), tv_nsec: Int(clamped % 1_000_000_000))
        pthread_cond_timedwait(condition, mutex, &time)
    }

    func signal() {
        pthread_cond_broadcast(condition)
    }
}

/// Clocks in integers: wall time in Unix milliseconds, monotonic time in nanoseconds.
public enum LedgerClock {
    /// Unix time in milliseconds.
    public static func wallMilliseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) &* 1000 &+ Int64(time.tv_nsec) / 1_000_000
    }

    static func monotonicNanoseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) &* 1_000_000_000 &+ Int64(time.tv_nsec)
    }
}
