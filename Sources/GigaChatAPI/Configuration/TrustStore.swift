import Foundation

/// The certificate authorities the daemon trusts: the system store, the built-in Russian Trusted Root CA,
/// and GIGACHAT_CA_BUNDLE_FILE. They are combined into one PEM bundle because libcurl takes a single
/// CA source per handle.
public enum TrustStore {
    /// The combined PEM bundle for `configuration`.
    public static func pemBundle(for configuration: Configuration) throws(ConfigurationError) -> [UInt8] {
        var bundle: [UInt8] = []
        for path in Configuration.systemCABundlePaths {
            if let data = FileManager.default.contents(atPath: path) {
                bundle.append(contentsOf: data)
                bundle.append(UInt8(ascii: "\n"))
                break
            }
        }
        bundle.append(contentsOf: RussianTrustedRootCA.pem.utf8)
        bundle.append(UInt8(ascii: "\n"))
        if let extra = configuration.caBundleFile {
            guard let data = FileManager.default.contents(atPath: extra) else {
                throw ConfigurationError("GIGACHAT_CA_BUNDLE_FILE \(extra) cannot be read", kind: .file)
            }
            guard String(decoding: data, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----") else {
                throw ConfigurationError("GIGACHAT_CA_BUNDLE_FILE \(extra) holds no PEM certificate", kind: .file)
            }
            bundle.append(contentsOf: data)
            bundle.append(UInt8(ascii: "\n"))
        }
        return bundle
    }
}
