import Glibc
import Testing

@testable import UsageLedger

@Suite struct ClientIdentityTests {
    @Test(
        arguments: [
            ("0::/user.slice/user-1000.slice/user@1000.service/app.slice/backup.service\n", "backup.service"),
            ("0::/user.slice/user-1000.slice/session-2.scope\n", "session-2.scope"),
            ("0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-terminal-1234.scope\n", "app-gnome-terminal-1234.scope"),
            ("0::/system.slice/docker.service/payload/inner\n", "docker.service"),
            ("12:pids:/\n1:name=systemd:/user.slice/user-1000.slice/user@1000.service/nightly-report.service\n0::/\n", "nightly-report.service"),
            ("0::/\n", nil),
            ("", nil),
        ] as [(String, String?)])
    func unitComesFromTheDeepestServiceOrScope(cgroup: String, unit: String?) {
        #expect(ClientIdentity.unit(fromCgroup: cgroup) == unit)
    }

    @Test func aTimerStartedScriptIsNamedByTheTimersService() {
        // systemd runs a timer's job in the timer's .service unit; its cgroup is that service.
        let cgroup = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/backup.service\n"
        #expect(ClientIdentity.unit(fromCgroup: cgroup) == "backup.service")
    }

    @Test func aRealChildProcessIsIdentified() throws {
        var pid: pid_t = 0
        let arguments = ["/bin/sleep", "30"]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let spawned = argv.withUnsafeMutableBufferPointer { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return -1 }
            return posix_spawn(&pid, "/bin/sleep", nil, nil, base, environ)
        }
        try #require(spawned == 0)
        defer {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        // posix_spawn returns once the child has swapped in the new program, a moment before the kernel
        // renames it (comm), which a real client finished long before it connected.
        var identity = ClientIdentity.of(pid: pid)
        for _ in 0..<200 where identity.processName != "sleep" {
            usleep(5_000)
            identity = ClientIdentity.of(pid: pid)
        }
        #expect(identity.pid == pid)
        #expect(identity.processName == "sleep")
        let resolved = try #require(realpath("/bin/sleep", nil))
        defer { free(resolved) }
        #expect(identity.executable == String(cString: resolved))
        // The child runs in our cgroup, so in our unit (none in a bare container).
        let ours = ClientIdentity.readSmallFile("/proc/self/cgroup").flatMap(ClientIdentity.unit(fromCgroup:))
        #expect(identity.unit == ours)
        #expect(identity.label == (ours ?? "sleep"))
    }

    @Test func aProcessThatHasGoneIsJustItsPid() throws {
        var pid: pid_t = 0
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { for pointer in argv { free(pointer) } }
        let spawned = argv.withUnsafeMutableBufferPointer { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return -1 }
            return posix_spawn(&pid, "/bin/true", nil, nil, base, environ)
        }
        try #require(spawned == 0)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        let identity = ClientIdentity.of(pid: pid)
        #expect(identity == ClientIdentity(pid: pid))
        #expect(identity.label == "pid \(pid)")
    }

    @Test func ourOwnProcessIsIdentified() {
        let identity = ClientIdentity.of(pid: getpid())
        #expect(identity.processName != nil)
        #expect(identity.executable?.hasPrefix("/") == true)
    }
}
