import Glibc

/// Who sent a request: the peer process of the connection (SO_PEERCRED's pid) and what /proc says about
/// it. Read once when the connection is accepted: the pid may be gone, or reused, by the time a request
/// ends.
public struct ClientIdentity: Sendable, Hashable {
    public var pid: Int32?
    /// /proc/PID/comm: the name the kernel shows (at most 15 bytes, "python3", "gigachatctl").
    public var processName: String?
    /// /proc/PID/exe: the program's path ("/usr/bin/python3.11"); " (deleted)" when it was replaced.
    public var executable: String?
    /// The systemd unit the process runs in ("backup.service", "session-2.scope"); a script started by a
    /// timer runs in, and is named by, the timer's service.
    public var unit: String?

    public init(pid: Int32? = nil, processName: String? = nil, executable: String? = nil, unit: String? = nil) {
        self.pid = pid
        self.processName = processName
        self.executable = executable
        self.unit = unit
    }

    /// What /proc tells about `pid`; fields it does not tell (the process has gone, /proc is hidden) are nil.
    /// Blocking, but only reads three small virtual files.
    public static func of(pid: Int32, procRoot: String = "/proc") -> ClientIdentity {
        let directory = "\(procRoot)/\(pid)"
        var identity = ClientIdentity(pid: pid)
        if let comm = readSmallFile(directory + "/comm") {
            let name = comm.hasSuffix("\n") ? String(comm.dropLast()) : comm
            identity.processName = name.isEmpty ? nil : name
        }
        identity.executable = readLink(directory + "/exe")
        if let cgroup = readSmallFile(directory + "/cgroup") {
            identity.unit = unit(fromCgroup: cgroup)
        }
        return identity
    }

    /// The systemd unit in /proc/PID/cgroup's text: the deepest path component naming a service or a
    /// scope, from the unified hierarchy ("0::/...") or else systemd's v1 hierarchy ("N:name=systemd:/...",
    /// where a hybrid setup keeps the units).
    /// Nested cgroups a service makes for itself ("foo.service/payload") still name the service.
    public static func unit(fromCgroup text: String) -> String? {
        var unified: Substring?
        var legacy: Substring?
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            if fields[0] == "0", fields[1].isEmpty { unified = fields[2] }
            if fields[1] == "name=systemd" { legacy = fields[2] }
        }
        func deepestUnit(_ path: Substring?) -> String? {
            path?.split(separator: "/").last { $0.hasSuffix(".service") || $0.hasSuffix(".scope") }.map(String.init)
        }
        return deepestUnit(unified) ?? deepestUnit(legacy)
    }

    /// How a person recognises the client: the unit, else the process name, else the pid.
    public var label: String {
        if let unit { return unit }
        if let processName { return processName }
        if let pid { return "pid \(pid)" }
        return "unknown"
    }

    /// Up to 64 KiB of a file, as text; nil when it cannot be read.
    static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let capacity = 65_536
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < capacity {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = buffer.withUnsafeMutableBufferPointer { characters -> Int in
            guard let base = characters.baseAddress else { return -1 }
            return readlink(path, base, characters.count - 1)
        }
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
