/// Trust anchors and client credentials for HTTPS; peer and host name verification cannot be turned off.
public struct TLSOptions: Sendable {
    /// PEM bytes of every trusted CA (the caller concatenates system store + extra CAs). Verification is ALWAYS on;
    /// there is deliberately no option to disable it.
    public var caBundlePEM: [UInt8]
    /// Client certificate (PEM file) for mutual TLS.
    public var clientCertificatePath: String?
    /// Private key (PEM file) belonging to ``clientCertificatePath``.
    public var clientKeyPath: String?
    /// Pass phrase of an encrypted ``clientKeyPath``.
    public var clientKeyPassword: String?

    public init(
        caBundlePEM: [UInt8],
        clientCertificatePath: String? = nil,
        clientKeyPath: String? = nil,
        clientKeyPassword: String? = nil
    ) {
        self.caBundlePEM = caBundlePEM
        self.clientCertificatePath = clientCertificatePath
        self.clientKeyPath = clientKeyPath
        self.clientKeyPassword = clientKeyPassword
    }
}
