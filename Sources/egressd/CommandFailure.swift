/// A failure of an `egressd` command that is not about its arguments, printed as `Error: <message>`.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String

    init(_ message: String) {
        description = message
    }
}
