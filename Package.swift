// swift-tools-version:6.2

import PackageDescription

let package = Package(
    name: "claude-metrics-exporter",
    products: [
        .executable(name: "claude-metrics-exporter", targets: ["claude-metrics-exporter"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0")
    ],
    targets: [
        // C shims: headers only, no logic.
        .target(name: "CInotify"),
        .target(name: "CEpoll"),
        .target(name: "CBuildInfo"),
        .target(name: "CMalloc"),
        .target(name: "CPthread"),
        .target(name: "CEventFD"),
        .target(name: "CSearch"),
        // libsystemd-dev's headers (the library is loaded at run time) and the binary's .note.dlopen.
        .target(name: "CSystemd"),
        // zlib from Debian's zlib1g-dev, linked statically: `ldd` stays glibc and libstdc++ only.
        .target(name: "CZlib", linkerSettings: [.unsafeFlags(["-Xlinker", "-l:libz.a"])]),

        // Platform wrappers: the one seam every syscall goes through, threads, clocks, /proc.
        .target(name: "Platform", dependencies: ["CEventFD", "CMalloc", "CPthread"]),
        .target(
            name: "FileWatching",
            dependencies: ["CInotify", "Platform"]
        ),
        .target(
            name: "HTTPServer",
            dependencies: [
                "CEpoll",
                "CZlib",
                "Platform",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // systemd integration: sd_notify, the watchdog, socket activation (libsystemd loaded at run time).
        .target(
            name: "Systemd",
            dependencies: ["CSystemd", "Platform", .product(name: "Logging", package: "swift-log")]
        ),

        // Token usage in transcript lines: the JSON reader, ccusage's rules, the de-duplicating counters.
        .target(name: "TokenUsage", dependencies: ["CSearch"]),

        // The domain: what counts as activity, the state actor, the metrics.
        .target(
            name: "ExporterCore",
            dependencies: [
                "FileWatching",
                "Platform",
                "TokenUsage",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Wiring only.
        .executableTarget(
            name: "claude-metrics-exporter",
            dependencies: [
                "CBuildInfo",
                "ExporterCore",
                "FileWatching",
                "HTTPServer",
                "Platform",
                "Systemd",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // For the differential test of the usage reader against Python's json module: one verdict per input line.
        .executableTarget(name: "usage-lines", dependencies: ["TokenUsage"], path: "Tools/usage-lines"),

        // claude-metrics-exporter(1), printed from the option table that --help uses (make man).
        .executableTarget(name: "man-page", dependencies: ["ExporterCore"], path: "Tools/man-page"),

        // Helpers shared by the test targets: a raw HTTP client, waiting on conditions.
        .target(name: "TestSupport", dependencies: ["Platform"], path: "Tests/TestSupport"),
        // For tests only: stops one thread of the exporter (ptrace), as a stuck state actor would be.
        .target(name: "CThreadControl", path: "Tests/CThreadControl"),
        .testTarget(name: "PlatformTests", dependencies: ["Platform"]),
        .testTarget(name: "FileWatchingTests", dependencies: ["FileWatching", "Platform"]),
        .testTarget(name: "TokenUsageTests", dependencies: ["TokenUsage"]),
        .testTarget(
            name: "SystemdTests",
            dependencies: ["Systemd", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "HTTPServerTests",
            dependencies: [
                "HTTPServer", "Platform", "TestSupport", .product(name: "InMemoryLogging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ExporterCoreTests",
            dependencies: [
                "ExporterCore",
                "FileWatching",
                "Platform",
                "TokenUsage",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["claude-metrics-exporter", "CThreadControl", "Platform", "TestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// The libFuzzer targets (the HTTP request parser, the session registry's parser, the token-usage line reader), only for `make fuzz`
// (CME_FUZZ=1): they have no main and link only with -sanitize=fuzzer.
if Context.environment["CME_FUZZ"] != nil {
    package.targets += [
        .target(name: "FuzzSupport", path: "Fuzz/FuzzSupport"),
        .executableTarget(
            name: "HTTPRequestParserFuzzer",
            dependencies: ["FuzzSupport", "HTTPServer"],
            path: "Fuzz/HTTPRequestParserFuzzer",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        .executableTarget(
            name: "UsageLineFuzzer",
            dependencies: ["FuzzSupport", "TokenUsage"],
            path: "Fuzz/UsageLineFuzzer",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        .executableTarget(
            name: "RegistryParserFuzzer",
            dependencies: ["ExporterCore", "FuzzSupport", "Platform"],
            path: "Fuzz/RegistryParserFuzzer",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ]
}

for target in package.targets where [.executable, .test, .regular].contains(target.type) {
    var settings = target.swiftSettings ?? []
    // https://github.com/swiftlang/swift-evolution/blob/main/proposals/0335-existential-any.md
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    // https://github.com/swiftlang/swift-evolution/blob/main/proposals/0444-member-import-visibility.md
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    target.swiftSettings = settings
}
