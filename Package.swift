// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Egress",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "egressd", targets: ["egressd"]),
        .library(name: "EgressRules", targets: ["EgressRules"]),
        .library(name: "EgressCertificates", targets: ["EgressCertificates"]),
        .library(name: "EgressTLS", targets: ["EgressTLS"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
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

        .executableTarget(
            name: "egressd",
            dependencies: [
                "EgressRules",
                "EgressCertificates",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Benchmarks: run in release mode (`scripts/bench`).
        .executableTarget(name: "RuleBenchmark", dependencies: ["EgressRules"], path: "Benchmarks/RuleBenchmark"),
        .executableTarget(
            name: "CertificateBenchmark",
            dependencies: ["EgressCertificates"],
            path: "Benchmarks/CertificateBenchmark"
        ),

        .testTarget(name: "EgressRulesTests", dependencies: ["EgressRules"]),
        .testTarget(name: "EgressCertificatesTests", dependencies: ["EgressCertificates", "COpenSSL"]),
        .testTarget(
            name: "EgressTLSTests",
            dependencies: [
                "EgressTLS",
                "COpenSSL",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "SystemLibraryTests", dependencies: ["COpenSSL", "CSQLite"]),
        .testTarget(name: "EgressdTests", dependencies: ["egressd"]),
    ]
)
