/// How a container starts: what it runs, with which environment, where, and whether traffic no
/// rule intercepts may leave it (`ctx.container.start(options)`).
public struct ContainerStartOptions: Sendable, Equatable {
    /// The command and its arguments; the command is looked up on `PATH` (of ``env``, else
    /// `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`) unless it holds a `/`.
    public var entrypoint: [String]
    /// Environment variables for the entrypoint, besides the trust variables Egress sets.
    public var env: [String: String]
    /// Whether traffic that no rule intercepts may go out (false: denied, the default here).
    public var enableInternet: Bool
    /// An unpacked image to run in (its `/etc`, `/proc` and `/dev` are provided); nil runs on the
    /// host's file system, still in the container's own network, pid and mount namespaces.
    public var rootDirectory: String?
    /// The working directory inside the container (default `/`).
    public var workingDirectory: String?
    /// Where the entrypoint's standard output and error go (its input is always `/dev/null`).
    public var output: ContainerOutput

    /// Options for `entrypoint`; everything else as given or defaulted.
    public init(
        entrypoint: [String], env: [String: String] = [:], enableInternet: Bool = false,
        rootDirectory: String? = nil, workingDirectory: String? = nil, output: ContainerOutput = .inherit
    ) {
        self.output = output
        self.entrypoint = entrypoint
        self.env = env
        self.enableInternet = enableInternet
        self.rootDirectory = rootDirectory
        self.workingDirectory = workingDirectory
    }

    /// Throws ``ContainerError/invalidOptions(_:)`` naming the first problem: an empty
    /// entrypoint, an environment name that is empty or holds `=` or NUL, a NUL anywhere else.
    func validate() throws(ContainerError) {
        guard let command = entrypoint.first, !command.isEmpty else {
            throw .invalidOptions("the entrypoint is empty")
        }
        if let argument = entrypoint.first(where: { $0.contains("\0") }) {
            throw .invalidOptions("the entrypoint argument \(argument.debugDescription) holds a NUL byte")
        }
        for (name, value) in env.sorted(by: { $0.key < $1.key }) {
            if name.isEmpty { throw .invalidOptions("an environment variable has an empty name") }
            if name.contains("=") || name.contains("\0") {
                throw .invalidOptions("the environment variable name \(name.debugDescription) holds \"=\" or a NUL byte")
            }
            if value.contains("\0") {
                throw .invalidOptions("the environment variable \(name) holds a NUL byte in its value")
            }
        }
        for path in [rootDirectory, workingDirectory].compactMap({ $0 }) where path.isEmpty || path.contains("\0") {
            throw .invalidOptions("the directory \(path.debugDescription) is empty or holds a NUL byte")
        }
    }
}

/// Where a container's standard output and error go.
public enum ContainerOutput: Sendable, Equatable {
    /// This process's standard output and error.
    case inherit
    /// Nowhere (`/dev/null`).
    case discard
    /// These descriptors (the caller keeps them open until ``Container/start(_:)`` returns and
    /// closes its own copies when it likes).
    case descriptors(standardOutput: Int32, standardError: Int32)
}
