internal import CCurl

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Turns a CA bundle given as bytes into a file path libcurl can cache.
///
/// libcurl (≥ 7.87) keeps the X509 store it parsed from a CURLOPT_CAINFO file for every later connection
/// of the multi handle, but parses a CURLOPT_CAINFO_BLOB anew for each connection — with a system store
/// of ~140 certificates that is tens of milliseconds of CPU and over a megabyte per connection. So each
/// distinct bundle is written once to an anonymous in-memory file (memfd) and named by its
/// /proc/self/fd path. Engine thread only.
final class CAFileCache {
    private struct Entry {
        /// Retained so that its storage address, the lookup key, cannot be reused by another array.
        let bundle: [UInt8]
        let descriptor: Int32
        let path: String
    }

    /// Bundles change only on configuration reload; a few entries cover old transfers still running.
    private static let capacity = 4
    private var entries: [Entry] = []

    deinit {
        for entry in entries { close(entry.descriptor) }
    }

    /// The path of a file holding `bundle`, or nil if no in-memory file could be made (the caller then
    /// falls back to the blob).
    func path(for bundle: [UInt8]) -> String? {
        let key = bundle.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        if let entry = entries.first(where: { $0.bundle.count == bundle.count && $0.bundle.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } == key }
        ) {
            return entry.path
        }
        if let entry = entries.first(where: { $0.bundle == bundle }) {
            return entry.path
        }
        let descriptor = ccurl_memfd_create("gigachat-ca-bundle")
        guard descriptor >= 0 else { return nil }
        var offset = 0
        while offset < bundle.count {
            let written = bundle.withUnsafeBytes { write(descriptor, $0.baseAddress.map { $0 + offset }, bundle.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                close(descriptor)
                return nil
            }
            offset += written
        }
        let entry = Entry(bundle: bundle, descriptor: descriptor, path: "/proc/self/fd/\(descriptor)")
        entries.append(entry)
        if entries.count > Self.capacity {
            close(entries.removeFirst().descriptor)
        }
        return entry.path
    }
}
