import CEgressLinux
import Glibc
import Synchronization

/// The init process of a container: cloned into new pid, mount, network, UTS and IPC namespaces,
/// it waits until ``start()`` so that the caller can set up the network namespace
/// (`/proc/PID/ns/net`) first; then it mounts a private `/etc` (the host's or the root
/// directory's, with ``File``s added), `/proc`, `/sys` and `/dev`, enters the root directory,
/// and forks the entrypoint without `CAP_NET_ADMIN`, `CAP_SYS_ADMIN` and other capabilities
/// that could undo its isolation. Init stays as pid 1: it forwards signals to the entrypoint and
/// reports how it ended; when init ends, the kernel kills every process of the container.
///
/// The parent-death signal of init is `SIGKILL`: if this process dies, its containers die too.
/// Signals go through a pidfd and the network namespace is held open, so neither can reach
/// another process that reuses init's pid after it ended.
///
/// `@unchecked Sendable`: ``start()`` and ``waitForExit()`` each touch their own descriptors of
/// the handle and are called once, in that order (the owner's discipline); the network namespace
/// descriptor is behind a lock; the rest is immutable.
package final class ContainerInit: @unchecked Sendable {
    /// A file added to the container's `/etc`.
    package struct File: Sendable {
        /// Relative to `/etc`, such as `resolv.conf` or `cloudflare/certs/ca.crt`.
        package var path: String
        package var contents: [UInt8]
        package var mode: mode_t

        package init(path: String, contents: [UInt8], mode: mode_t = 0o644) {
            self.path = path
            self.contents = contents
            self.mode = mode
        }
    }

    /// How the entrypoint ended.
    package enum Exit: Sendable, Equatable {
        /// It exited with this code.
        case exited(Int32)
        /// A signal ended it.
        case signalled(Int32)
        /// Init itself was killed (by ``kill()`` or from outside) before the entrypoint ended.
        case initKilled
    }

    /// What to run and where.
    package struct Specification: Sendable {
        package var arguments: [String]
        package var environment: [String]
        package var searchPath: String
        package var standardInput: CInt
        package var standardOutput: CInt
        package var standardError: CInt
        package var root: String?
        package var workingDirectory: String?
        package var hostname: String
        /// A host directory (it must exist) that the container covers with a private tmpfs for
        /// its `/etc` layers; nothing is written to it on the host.
        package var scratchDirectory: String
        package var files: [File]
        /// Host paths hidden from a container without a root directory.
        package var maskedPaths: [String]

        package init(
            arguments: [String], environment: [String], searchPath: String, standardInput: CInt, standardOutput: CInt,
            standardError: CInt, root: String?, workingDirectory: String?, hostname: String, scratchDirectory: String,
            files: [File], maskedPaths: [String]
        ) {
            self.arguments = arguments
            self.environment = environment
            self.searchPath = searchPath
            self.standardInput = standardInput
            self.standardOutput = standardOutput
            self.standardError = standardError
            self.root = root
            self.workingDirectory = workingDirectory
            self.hostname = hostname
            self.scratchDirectory = scratchDirectory
            self.files = files
            self.maskedPaths = maskedPaths
        }
    }

    /// Init's pid in this process's pid namespace (for logs).
    package let pid: pid_t
    private let pidfd: CInt
    private var handle: egress_container
    /// This process's descriptor of the container's network namespace; -1 once released.
    private let networkNamespace: Mutex<CInt>

    /// The container's network namespace, to set up before ``start()``: a path to this
    /// process's descriptor of it (valid for other processes such as `nsenter` too), until
    /// ``releaseNetworkNamespace()``. Later users take a descriptor of their own
    /// (``duplicateNetworkNamespace()``): the number in this path may then name another file.
    package let networkNamespacePath: String

    /// Clones init; it waits for ``start()``.
    package init(_ specification: Specification) throws {
        var handle = egress_container()
        try Self.withCSpecification(specification) { spec in
            try LinuxError.check(egress_container_create(spec, &handle))
        }
        self.networkNamespace = Mutex(handle.netns_fd)
        self.networkNamespacePath = "/proc/\(getpid())/fd/\(handle.netns_fd)"
        handle.netns_fd = -1   // owned by `networkNamespace` from here on
        self.handle = handle
        self.pid = handle.pid
        self.pidfd = handle.pidfd
    }

    deinit {
        releaseNetworkNamespace()
        egress_container_close(&handle)
    }

    /// A close-on-exec descriptor of the container's network namespace that the caller owns and
    /// closes, or nil once the namespace was released: a path to it (`/proc/self/fd/N`) stays
    /// valid while the caller holds it, however the container ends meanwhile.
    package func duplicateNetworkNamespace() -> CInt? {
        networkNamespace.withLock { descriptor in
            guard descriptor >= 0 else { return nil }
            let duplicate = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
            return duplicate >= 0 ? duplicate : nil
        }
    }

    /// Closes this process's descriptor of the container's network namespace, so the namespace
    /// ends with the container, not whenever this object goes. Call once the container has ended
    /// and nothing enters its namespace any more (after ``waitForExit()``, with its network torn
    /// down); ``networkNamespacePath`` is void from then on.
    package func releaseNetworkNamespace() {
        networkNamespace.withLock { descriptor in
            guard descriptor >= 0 else { return }
            close(descriptor)
            descriptor = -1
        }
    }

    /// Lets init set up its mounts and start the entrypoint; returns once the entrypoint was
    /// executed, or throws the step that failed (init has then exited; ``waitForExit()`` reaps it).
    package func start() throws {
        try LinuxError.check(egress_container_start(&handle))
    }

    /// Kills init, and with it every process of the container.
    package func kill() {
        send(SIGKILL)
    }

    /// Sends `signal` to init, which forwards it to the entrypoint (`SIGKILL` ends init itself).
    /// Does nothing once init has ended.
    package func send(_ signal: Int32) {
        _ = egress_container_signal(pidfd, signal)
    }

    /// Blocks until init has ended, and reaps it. Call once, from a thread that may block.
    package func waitForExit() -> Exit {
        var status: CInt = 0
        guard egress_container_wait(&handle, &status) == 0 else { return .initKilled }
        let signal = status & 0x7F
        return signal == 0 ? .exited((status >> 8) & 0xFF) : .signalled(signal)
    }

    private static func withCSpecification<T>(
        _ specification: Specification, _ body: (UnsafePointer<egress_container_spec>) throws -> T
    ) throws -> T {
        let argv = CStrings(specification.arguments)
        let envp = CStrings(specification.environment)
        let masked = CStrings(specification.maskedPaths)
        let filePaths = CStrings(specification.files.map(\.path))
        defer {
            argv.free()
            envp.free()
            masked.free()
            filePaths.free()
        }
        let contents = specification.files.map { file in
            let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(file.contents.count, 1))
            _ = buffer.initialize(from: file.contents)
            return buffer
        }
        defer { contents.forEach { $0.deallocate() } }
        var files = specification.files.indices.map { index in
            egress_container_file(
                path: filePaths.pointers[index], data: UnsafePointer(contents[index].baseAddress),
                length: specification.files[index].contents.count, mode: specification.files[index].mode
            )
        }
        return try files.withUnsafeMutableBufferPointer { files in
            var spec = egress_container_spec()
            spec.argv = UnsafePointer(argv.pointers.baseAddress)
            spec.envp = UnsafePointer(envp.pointers.baseAddress)
            spec.stdin_fd = specification.standardInput
            spec.stdout_fd = specification.standardOutput
            spec.stderr_fd = specification.standardError
            spec.file_count = files.count
            spec.files = UnsafePointer(files.baseAddress)
            spec.masked_count = specification.maskedPaths.count
            spec.masked_paths = UnsafePointer(masked.pointers.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: UnsafePointer<CChar>?.self) })
            return try specification.searchPath.withCString { searchPath in
                try specification.hostname.withCString { hostname in
                    try specification.scratchDirectory.withCString { scratch in
                        try withOptionalCString(specification.root) { root in
                            try withOptionalCString(specification.workingDirectory) { workingDirectory in
                                spec.search_path = searchPath
                                spec.hostname = hostname
                                spec.scratch_directory = scratch
                                spec.root = root
                                spec.working_directory = workingDirectory
                                return try body(&spec)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// NULL-terminated C string arrays, freed by hand.
private struct CStrings {
    let pointers: UnsafeMutableBufferPointer<UnsafeMutablePointer<CChar>?>

    init(_ strings: [String]) {
        pointers = .allocate(capacity: strings.count + 1)
        for (index, string) in strings.enumerated() {
            pointers[index] = strdup(string)
        }
        pointers[strings.count] = nil
    }

    func free() {
        pointers.forEach { Glibc.free($0) }
        pointers.deallocate()
    }
}

private func withOptionalCString<T>(_ string: String?, _ body: (UnsafePointer<CChar>?) throws -> T) rethrows -> T {
    guard let string else { return try body(nil) }
    return try string.withCString { try body($0) }
}
