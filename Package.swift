// swift-tools-version:6.2
import PackageDescription

/// Every target of ours is built in Swift 6 mode and refuses warnings, so "no warnings" is enforced by
/// the compiler instead of by review.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .treatAllWarnings(as: .error),
]

/// Release executables carry the Swift runtime (and Foundation) inside: gigachatctl then starts like a
/// small C program and the daemon maps far fewer shared objects. Set here, so a plain
/// `swift build -c release` builds what is measured and shipped; debug builds stay dynamic (faster links).
///
/// Only the link step sees this flag (the dependencies are compiled as for a dynamic runtime), so the
/// libraries static Foundation needs, which it would otherwise name itself, are named here.
let staticRuntimeInRelease: [LinkerSetting] = [
    .unsafeFlags(
        ["-static-stdlib", "-Xlinker", "--start-group"]
            + ["Foundation", "FoundationInternationalization", "FoundationEssentials", "CoreFoundation", "_FoundationCShims", "_FoundationCollections",
                "_FoundationICU", "swiftSynchronization", "swiftDispatch", "dispatch", "BlocksRuntime"].flatMap { ["-Xlinker", "-l" + $0] }
            + ["-Xlinker", "--end-group"],
        .when(configuration: .release)
    )
]

let package = Package(
    name: "gigachatd",
    products: [
        .executable(name: "gigachatd", targets: ["gigachatd"]),
        .executable(name: "gigachatctl", targets: ["gigachatctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // C shims: one small target per C library, real functions in a .c file.
        .target(
            name: "CCurl",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("curl")]
        ),
        .target(
            name: "CLinux",
            cSettings: [.define("_GNU_SOURCE")]
        ),
        .target(
            name: "CSystemd",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("systemd")]
        ),
        .target(
            name: "CSQLite",
            linkerSettings: [.linkedLibrary("sqlite3")]
        ),

        // The wire protocol shared by daemon and client: JSON, JSON-RPC messages, framing, socket path.
        // No I/O and no Foundation, so the client stays small and starts fast.
        .target(
            name: "GigaChatProtocol",
            dependencies: [
                // Keyed, order-keeping storage for JSON objects: linear parsing however many keys.
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            swiftSettings: strict
        ),

        // HTTP over libcurl: one curl multi handle on its own thread, transfers as async sequences.
        // Knows nothing about GigaChat.
        .target(
            name: "CurlHTTP",
            dependencies: [
                "CCurl",
                // For the one error shape (ErrorShape) and nothing else of GigaChat's.
                "GigaChatProtocol",
                // NIOLock is a pthread mutex, which ThreadSanitizer understands (Synchronization.Mutex on
                // Linux is a bare futex it cannot see, so every access looked like a race).
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),

        // The GigaChat REST API client: configuration, token, requests, SSE.
        .target(
            name: "GigaChatAPI",
            dependencies: [
                "CurlHTTP",
                "GigaChatProtocol",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // The OpenAI-compatible HTTP front end (and GigaChat's own REST paths, forwarded) on a second
        // socket and optionally on loopback TCP, built on NIOHTTP1.
        .target(
            name: "GigaChatOpenAI",
            dependencies: [
                "CurlHTTP",
                "GigaChatAPI",
                "GigaChatProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // The daemon: socket server, connections, dispatch, systemd glue.
        .target(
            name: "GigaChatDaemon",
            dependencies: [
                "CLinux",
                "CSystemd",
                // Said openly: the daemon owns the curl engine its API clients share, and streams uploads
                // through CurlHTTP's file parts.
                "CurlHTTP",
                "GigaChatAPI",
                "GigaChatOpenAI",
                "GigaChatProtocol",
                "UsageLedger",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                // The daemon's services (listeners, token refresher, watchdog, signals) run as one group
                // that starts them in order and shuts them down gracefully in reverse.
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        // The usage ledger: one SQLite row per request, written off the event loop; budgets and priorities.
        .target(
            name: "UsageLedger",
            dependencies: ["CSQLite", "GigaChatProtocol"],
            swiftSettings: strict
        ),

        .executableTarget(
            name: "gigachatd",
            dependencies: [
                "GigaChatDaemon",
                "GigaChatAPI",
                "GigaChatProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict,
            linkerSettings: staticRuntimeInRelease
        ),
        .executableTarget(
            name: "gigachatctl",
            dependencies: [
                "CLinux",
                "GigaChatProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict,
            linkerSettings: staticRuntimeInRelease
        ),

        // What several test targets share: the seeded generator of the fuzz tests.
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "GigaChatProtocolTests",
            dependencies: ["GigaChatProtocol", "TestSupport"],
            // Fuzz regression inputs, read from the source tree by ProtocolFuzzTests.
            exclude: ["Regressions"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CurlHTTPTests",
            dependencies: ["CurlHTTP"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "GigaChatAPITests",
            dependencies: [
                "CurlHTTP", "GigaChatAPI", "GigaChatProtocol", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "GigaChatOpenAITests",
            dependencies: [
                "GigaChatOpenAI",
                "GigaChatAPI",
                "GigaChatProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "UsageLedgerTests",
            dependencies: ["UsageLedger", "GigaChatProtocol"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "GigaChatDaemonTests",
            dependencies: [
                "GigaChatAPI",
                "GigaChatDaemon",
                "GigaChatProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
    ]
)
