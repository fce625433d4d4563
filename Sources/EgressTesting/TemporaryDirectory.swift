import Foundation

/// A fresh directory under the system's temporary directory, removed with everything in it when
/// the object goes away (also when a test fails).
public final class TemporaryDirectory: Sendable {
    /// The directory.
    public let url: URL

    /// Makes a new, empty directory named after `label` in `base` (the system's temporary
    /// directory unless given: containers get a private `/tmp`, so what they must see, or must
    /// be shown not to see, of the host lives elsewhere, such as `/var/lib`).
    public init(_ label: String = "egress-test", in base: String = NSTemporaryDirectory()) throws {
        var template = Array((base + "/\(label).XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw TestSupportError("cannot create a temporary directory: \(String(cString: strerror(errno)))")
        }
        url = URL(fileURLWithPath: String(cString: made), isDirectory: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    /// The path of `name` inside the directory.
    public func path(_ name: String) -> String {
        url.appendingPathComponent(name).path
    }

    /// Writes `text` to `name` inside the directory and returns its path.
    @discardableResult
    public func write(_ text: String, to name: String) throws -> String {
        let file = path(name)
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }
}

/// A failure of the test support code itself (a tool missing, a process that would not start).
public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
