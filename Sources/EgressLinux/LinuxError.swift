import CEgressLinux

/// A failed Linux system call: which one, and its `errno` with the system's text for it.
///
/// `description` reads like `setns(CLONE_NEWNET): Operation not permitted (errno 1)`.
public struct LinuxError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The system call or step that failed, such as `bind` or `splice from client`.
    public let operation: String
    /// The `errno` value.
    public let code: Int32

    /// An error for `operation` that failed with `code`.
    public init(operation: String, code: Int32) {
        self.operation = operation
        self.code = code
    }

    /// The system's text for `code`, such as "Connection reset by peer".
    public var message: String {
        String(cString: egress_error_text(code))
    }

    public var description: String {
        "\(operation): \(message) (errno \(code))"
    }

    /// The error a C helper reported, or `nil` for success.
    init?(_ error: egress_error) {
        guard error.code != 0 else { return nil }
        self.init(operation: error.operation.map { String(cString: $0) } ?? "unknown operation", code: error.code)
    }

    /// Throws the error a C helper reported, if any.
    static func check(_ error: egress_error) throws {
        if let failure = LinuxError(error) { throw failure }
    }
}
