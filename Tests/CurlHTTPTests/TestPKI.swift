import Foundation

/// Certificates for the test servers, made once per test run with the `openssl` command line tool.
struct TestPKI: Sendable {
    let directory: String
    /// The CA that signed every server and client certificate below.
    let caPEM: [UInt8]
    let caPath: String
    /// A CA that signed nothing we serve: trusting only it must make verification fail.
    let unrelatedCAPEM: [UInt8]
    /// Valid for IP 127.0.0.1 and DNS localhost.
    let serverCertificate: String
    let serverKey: String
    /// Valid only for wrong.example.invalid.
    let wrongNameCertificate: String
    let wrongNameKey: String
    /// Client certificate for mutual TLS (CN test-client); its key is encrypted with `clientKeyPassword`.
    let clientCertificate: String
    let clientKey: String
    let clientKeyPassword = "test-pass"
    /// The Python server script, written next to the certificates.
    let serverScript: String

    static let shared: Result<TestPKI, any Error> = Result { try TestPKI.make() }

    static func get() throws -> TestPKI {
        try shared.get()
    }

    private static func make() throws -> TestPKI {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("curlhttp-tests-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func path(_ name: String) -> String { directory + "/" + name }
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]

        for (name, subject) in [("ca", "/CN=CurlHTTP Test CA"), ("unrelated-ca", "/CN=Unrelated Test CA")] {
            try openssl(
                ["req", "-x509"] + curve + [
                    "-nodes", "-keyout", path("\(name).key"), "-out", path("\(name).pem"), "-days", "2",
                    "-subj", subject,
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                ],
                directory: directory
            )
        }

        func issue(_ name: String, subject: String, extensions: String, keyPassword: String? = nil) throws {
            try extensions.write(toFile: path("\(name).ext"), atomically: true, encoding: .utf8)
            if let keyPassword {
                try openssl(
                    [
                        "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-aes-256-cbc", "-pass", "pass:\(keyPassword)", "-out", path("\(name).key"),
                    ],
                    directory: directory
                )
                try openssl(
                    [
                        "req", "-new", "-key", path("\(name).key"), "-passin", "pass:\(keyPassword)",
                        "-out", path("\(name).csr"), "-subj", subject,
                    ],
                    directory: directory
                )
            } else {
                try openssl(
                    ["req"] + curve + ["-nodes", "-keyout", path("\(name).key"), "-out", path("\(name).csr"), "-subj", subject],
                    directory: directory
                )
            }
            try openssl(
                [
                    "x509", "-req", "-in", path("\(name).csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
                    "-CAcreateserial", "-out", path("\(name).pem"), "-days", "2", "-extfile", path("\(name).ext"),
                ],
                directory: directory
            )
        }

        let serverUsage = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        try issue("server", subject: "/CN=localhost", extensions: serverUsage + "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        try issue(
            "wrong-name",
            subject: "/CN=wrong.example.invalid",
            extensions: serverUsage + "subjectAltName=DNS:wrong.example.invalid\n"
        )
        try issue(
            "client",
            subject: "/CN=test-client",
            extensions: "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
            keyPassword: "test-pass"
        )

        try TestServerScript.source.write(toFile: path("server.py"), atomically: true, encoding: .utf8)

        // Keys and certificates are needed until the last test; remove them when the test process exits.
        atexit {
            if case .success(let pki) = TestPKI.shared {
                try? FileManager.default.removeItem(atPath: pki.directory)
            }
        }

        return TestPKI(
            directory: directory,
            caPEM: try bytes(path("ca.pem")),
            caPath: path("ca.pem"),
            unrelatedCAPEM: try bytes(path("unrelated-ca.pem")),
            serverCertificate: path("server.pem"),
            serverKey: path("server.key"),
            wrongNameCertificate: path("wrong-name.pem"),
            wrongNameKey: path("wrong-name.key"),
            clientCertificate: path("client.pem"),
            clientKey: path("client.key"),
            serverScript: path("server.py")
        )
    }

    private static func bytes(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TestSetupError("cannot read \(path)")
        }
        return [UInt8](data)
    }

    private static func openssl(_ arguments: [String], directory: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let log = directory + "/openssl.log"
        guard FileManager.default.createFile(atPath: log, contents: nil) else {
            throw TestSetupError("cannot create \(log)")
        }
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? logHandle.close() }
        process.standardOutput = logHandle
        process.standardError = logHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw TestSetupError("openssl \(arguments.joined(separator: " ")) failed: \(output)")
        }
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
