import EgressTesting
import Foundation
import Testing

/// The built `egressd` program, run as a user runs it.
enum Egressd {
    static var path: String {
        ProcessRunner.productsDirectory.appendingPathComponent("egressd").path
    }

    static func run(_ arguments: [String]) throws -> ProcessResult {
        try ProcessRunner.run(path, arguments)
    }

    /// Whether `swift build` has produced the binary (it does before `swift test` in scripts/test).
    static var isBuilt: Bool {
        FileManager.default.isExecutableFile(atPath: path)
    }
}
