// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Egress",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "egressd", targets: ["egressd"]),
        .library(name: "EgressRules", targets: ["EgressRules"]),
        .library(name: "EgressCertificates", targets: ["EgressCertificates"]),
        .library(name: "Workers", targets: ["Workers"]),
        .library(name: "EgressLinux", targets: ["EgressLinux"]),
        .library(name: "EgressTLS", targets: ["EgressTLS"]),
        .library(name: "EgressProxy", targets: ["EgressProxy"]),
        .library(name: "Containers", targets: ["Containers"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // YAML for `egressd run --config` (JSON is valid YAML).
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // System libraries. `shim.h` wraps the OpenSSL macros that Swift cannot import.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),

        // Pure Swift: rule targets, parsing and the first-match rule table.
        .target(name: "EgressRules"),

        // The certificate authority and leaf minting, on OpenSSL only.
        .target(name: "EgressCertificates", dependencies: ["COpenSSL"]),

        // The OpenSSL-backed NIO TLS handler, server and client roles.
        .target(
            name: "EgressTLS",
            dependencies: [
                "COpenSSL",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ]
        ),

        // The public API for handler authors.
        .target(
            name: "Workers",
            dependencies: [
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),

        // Listeners, sniffing, routing, interception, forwarding and pass-through.
        .target(
            name: "EgressProxy",
            dependencies: [
                "Workers",
                "EgressRules",
                "EgressCertificates",
                "EgressTLS",
                "EgressLinux",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // The `egressd run` configuration file, checked, and the rules it builds.
        .target(
            name: "EgressConfiguration",
            dependencies: ["EgressProxy", "EgressRules", "Workers", .product(name: "Yams", package: "Yams")]
        ),

        // Linux system calls Swift cannot make comfortably: original destinations, socket options,
        // sockets made inside other network namespaces, the splice(2) relay engine.
        .target(name: "CEgressLinux"),
        .target(
            name: "EgressLinux",
            dependencies: ["CEgressLinux", "EgressRules", .product(name: "NIOCore", package: "swift-nio")]
        ),

        // Containers: process trees in their own network, pid and mount namespaces whose only way
        // out is the proxy; a DNS stub resolver on each container's loopback.
        .target(
            name: "Containers",
            dependencies: [
                "EgressProxy",
                "EgressLinux",
                "EgressRules",
                "EgressCertificates",
                "Workers",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .executableTarget(
            name: "egressd",
            dependencies: [
                "EgressRules",
                "EgressCertificates",
                "EgressProxy",
                "EgressConfiguration",
                "Containers",
                "EgressLinux",
                "Workers",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),

        // Test support: temporary directories, real programs run as a user would, network
        // namespace topologies.
        .target(
            name: "EgressTesting",
            dependencies: ["EgressLinux", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]
        ),

        // The library API end to end: an interception proxy with handlers written in Swift.
        .executableTarget(
            name: "egress-example",
            dependencies: [
                "EgressProxy",
                "Workers",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Examples/HandlerExample"
        ),

        // Benchmarks: run in release mode (`scripts/bench`).
        .executableTarget(name: "RuleBenchmark", dependencies: ["EgressRules"], path: "Benchmarks/RuleBenchmark"),
        .executableTarget(
            name: "ContainerBenchmark",
            dependencies: ["Containers", "EgressLinux", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/ContainerBenchmark"
        ),
        .executableTarget(
            name: "CertificateBenchmark",
            dependencies: ["EgressCertificates"],
            path: "Benchmarks/CertificateBenchmark"
        ),

        .testTarget(name: "EgressRulesTests", dependencies: ["EgressRules"]),
        .testTarget(name: "EgressCertificatesTests", dependencies: ["EgressCertificates", "EgressTesting", "COpenSSL"]),
        .testTarget(name: "WorkersTests", dependencies: ["Workers"]),
        .testTarget(
            name: "EgressTLSTests",
            dependencies: [
                "EgressTLS",
                "EgressTesting",
                "COpenSSL",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "EgressProxyTests",
            dependencies: [
                "EgressProxy",
                "EgressLinux",
                "EgressRules",
                "EgressTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ContainersTests",
            dependencies: [
                "Containers",
                "EgressLinux",
                "EgressProxy",
                "EgressRules",
                "EgressTesting",
                "Workers",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "SystemLibraryTests", dependencies: ["COpenSSL", "CSQLite"]),
        .testTarget(name: "EgressdTests", dependencies: ["EgressTesting"]),
        .testTarget(name: "EgressConfigurationTests", dependencies: ["EgressConfiguration", "EgressProxy"]),
        // End to end: egressd in test-made network namespaces, driven by real clients (root only).
        .testTarget(name: "EgressEndToEndTests", dependencies: ["EgressTesting"]),
        .testTarget(
            name: "EgressLinuxTests",
            dependencies: [
                "EgressLinux",
                "EgressRules",
                "EgressTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ]
)
