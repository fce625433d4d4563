import EgressLinux
import EgressTesting
import Foundation
import XCTest

/// The C init, without the proxy: what the entrypoint sees of its namespaces, mounts and
/// capabilities, and how its end is reported.
final class ContainerInitTests: XCTestCase {
    private func run(
        _ script: String, shell: String = "sh", root: String? = nil, masked: [String] = []
    ) throws -> (String, ContainerInit.Exit) {
        try XCTSkipUnless(NetworkNamespace.isRoot, "containers need root (namespaces, mounts); run the tests as root")
        let directory = try TemporaryDirectory("egress-init")
        let scratch = directory.path("scratch")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let outputPath = directory.path("output")
        let output = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer {
            close(output)
            close(null)
        }
        let specification = ContainerInit.Specification(
            arguments: [shell, "-c", script], environment: ["PATH=/usr/bin:/bin"], searchPath: "/usr/bin:/bin",
            standardInput: null, standardOutput: output, standardError: output, root: root, workingDirectory: nil,
            hostname: "box1", scratchDirectory: scratch,
            files: [.init(path: "added/deep/file.txt", contents: Array("added\n".utf8))], maskedPaths: masked
        )
        let container = try ContainerInit(specification)
        try container.start()
        let exit = container.waitForExit()
        let remains = try FileManager.default.contentsOfDirectory(atPath: scratch)
        XCTAssertEqual(remains, [], "the container's tmpfs never reaches the host's scratch directory")
        return (try String(contentsOfFile: outputPath, encoding: .utf8), exit)
    }

    /// Starting a container whose init has already died (killed from outside, or failed before
    /// the release) is an error for the caller: no SIGPIPE, which would end the host process.
    func testStartingAContainerWhoseInitDiedIsAnErrorNotASignal() throws {
        try XCTSkipUnless(NetworkNamespace.isRoot, "containers need root (namespaces, mounts); run the tests as root")
        let directory = try TemporaryDirectory("egress-init")
        let scratch = directory.path("scratch")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        // Real descriptors: with none (-1) init cannot copy them and exits at once, before this
        // test kills it (and, on a loaded machine, before its namespace could be opened).
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(null) }
        let container = try ContainerInit(ContainerInit.Specification(
            arguments: ["true"], environment: [], searchPath: "/usr/bin:/bin", standardInput: null, standardOutput: null,
            standardError: null, root: nil, workingDirectory: nil, hostname: "box1", scratchDirectory: scratch, files: [],
            maskedPaths: []
        ))
        container.kill()
        XCTAssertEqual(container.waitForExit(), .initKilled, "init was waiting for its release when killed")
        // SIGPIPE blocked on this thread: a write to the dead init's pipe would leave it pending.
        var pipeSignal = sigset_t(), previous = sigset_t(), pending = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, &previous)
        XCTAssertThrowsError(try container.start()) { error in
            XCTAssertEqual((error as? LinuxError)?.code, EPIPE, "the release reaches no init: \(error)")
        }
        sigpending(&pending)
        let raised = sigismember(&pending, SIGPIPE) == 1
        var zero = timespec()
        if raised { _ = sigtimedwait(&pipeSignal, nil, &zero) }
        pthread_sigmask(SIG_SETMASK, &previous, nil)
        XCTAssertFalse(raised, "starting a dead container raised SIGPIPE")
    }

    func testWhatTheEntrypointSees() throws {
        let secret = try TemporaryDirectory("egress-secret", in: "/var/lib")
        try secret.write("key", to: "ca.key")
        let (output, exit) = try run("""
            cat /etc/added/deep/file.txt; echo "pid=$$ host=$(hostname)"; ls /dev | tr '\\n' ' '; echo
            ls \(secret.url.path) | wc -l | sed 's/^/secret-entries=/'
            echo "processes=$(ls /proc | grep -cE '^[0-9]+$')"
            grep CapEff /proc/self/status
            touch /proc/sys/kernel/hostname 2>/dev/null && echo sysctl=writable || echo sysctl=read-only
            exit 3
            """, masked: [secret.url.path])
        XCTAssertEqual(exit, .exited(3))
        XCTAssertTrue(output.hasPrefix("added\npid=2 host=box1\n"), output)
        XCTAssertTrue(output.contains("fd full null random shm stderr stdin stdout tty urandom zero \n"), output)
        XCTAssertTrue(output.contains("secret-entries=0"), output)
        let processes = output.split(separator: "\n").first { $0.hasPrefix("processes=") }.flatMap { Int($0.dropFirst(10)) }
        XCTAssertLessThanOrEqual(processes ?? 99, 5, "init, sh and its pipeline; no host process: \(output)")
        XCTAssertTrue(output.contains("sysctl=read-only"), output)
        let effective = output.split(separator: "\n").first { $0.hasPrefix("CapEff:") }.flatMap { UInt64($0.split(separator: "\t").last ?? "", radix: 16) }
        let capabilities = try XCTUnwrap(effective, output)
        for (name, bit) in [("NET_ADMIN", 12), ("NET_RAW", 13), ("SYS_ADMIN", 21), ("SYS_PTRACE", 19), ("SYS_MODULE", 16)] {
            XCTAssertEqual(capabilities & (1 << bit), 0, "\(name) was kept")
        }
        XCTAssertNotEqual(capabilities & (1 << 0), 0, "CHOWN was dropped")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/etc/added"), "the host's /etc is untouched")
    }

    func testSignalsAndKills() throws {
        let (_, signalled) = try run("kill -TERM $$")
        XCTAssertEqual(signalled, .signalled(SIGTERM))
    }

    func testARootDirectory() throws {
        let root = try TemporaryDirectory("egress-root")
        for directory in ["etc", "proc", "dev", "sys"] {
            try FileManager.default.createDirectory(atPath: root.path(directory), withIntermediateDirectories: true)
        }
        // An image of one program: dash and the libraries it loads.
        let libraries = try ProcessRunner.run("ldd", ["/bin/dash"]).standardOutput
            .split(separator: "\n").compactMap { line in line.split(whereSeparator: \.isWhitespace).first { $0.hasPrefix("/") } }
        for file in ["/bin/dash"] + libraries.map(String.init) {
            let target = root.url.appendingPathComponent(String(file.dropFirst()))
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: URL(fileURLWithPath: file).resolvingSymlinksInPath().path, toPath: target.path)
        }
        try root.write("image file\n", to: "etc/image.txt")
        let (output, exit) = try run(
            "while read line; do echo $line; done < /etc/image.txt; while read line; do echo $line; done < /etc/added/deep/file.txt; cd /../..; pwd; echo *",
            shell: "/bin/dash", root: root.url.path
        )
        XCTAssertEqual(exit, .exited(0), output)
        XCTAssertEqual(output, "image file\nadded\n/\nbin dev etc lib lib64 proc sys\n", "the image is all it sees, and it cannot leave it")
    }
}
