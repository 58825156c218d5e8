import Foundation

/// One running instance of the Python HTTPS test server on 127.0.0.1.
final class TestServer {
    let port: Int
    private let process: Process
    private let stdin: Pipe

    /// Starts the server with the given certificate; with `clientCA`, clients must present a certificate.
    init(certificate: String, key: String, clientCA: String? = nil) throws {
        let pki = try TestPKI.get()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", pki.serverScript, certificate, key] + (clientCA.map { [$0] } ?? [])
        let stdout = Pipe()
        let stdin = Pipe()
        process.standardOutput = stdout
        process.standardInput = stdin
        process.standardError = FileHandle.standardError
        try process.run()

        var line: [UInt8] = []
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(contentsOf: chunk)
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let port = Int(text) else {
            process.terminate()
            throw TestSetupError("test server did not report a port (got \"\(text)\")")
        }
        self.port = port
        self.process = process
        self.stdin = stdin
    }

    /// The default server: the certificate valid for 127.0.0.1.
    convenience init() throws {
        let pki = try TestPKI.get()
        try self.init(certificate: pki.serverCertificate, key: pki.serverKey)
    }

    func url(_ pathAndQuery: String) -> String {
        "https://127.0.0.1:\(port)\(pathAndQuery)"
    }

    func stop() {
        try? stdin.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    deinit {
        stop()
    }
}
