import EgressLinux
import EgressTesting
import Foundation
import NIOCore
import NIOPosix
import Workers
import XCTest

@testable import Containers

/// A container's only way out is the proxy, and nothing of it outlives `destroy`.
final class ContainerIsolationTests: XCTestCase {
    func testEscapeAttemptsFail() async throws {
        let fixture = try ContainerFixture(self)
        // A service on the host's loopback, and a Unix socket in the host's /run.
        let hostService = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try XCTUnwrap(hostService.localAddress?.port)
        let socketPath = "/run/egress-test-\(getpid()).sock"
        let unixService = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(unixDomainSocketPath: socketPath, cleanupExistingSocketFile: true).get()
        let hostFile = fixture.directory.path("host-file")
        let (output, _) = try await fixture.run("""
            python3 - <<'EOF'
            import ctypes, os, socket
            def attempt(name, action):
                try:
                    action(); print(name + ": worked")
                except OSError as e:
                    print(name + ": " + type(e).__name__ + " errno=" + str(e.errno))
            def tcp():
                s = socket.socket(); s.settimeout(3); s.connect(("127.0.0.1", \(port)))
            def unix():
                s = socket.socket(socket.AF_UNIX); s.connect("\(socketPath)")
            def udp():
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("203.0.113.9", 9999))
            def udp6():
                socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(b"x", ("2001:db8::9", 9999))
            def raw():
                socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            def host_file():
                open("\(hostFile)", "w").write("escaped")
            def device():
                os.mknod("/tmp/disk", 0o600 | 0o060000, os.makedev(7, 0))
            libc = ctypes.CDLL(None, use_errno=True)
            def syscall(number, *args):
                if libc.syscall(number, *args) != 0:
                    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
            attempt("host-loopback", tcp)
            attempt("host-unix-socket", unix)
            attempt("udp", udp)
            attempt("udp6", udp6)
            attempt("raw-socket", raw)
            attempt("host-file", host_file)
            attempt("mknod", device)
            attempt("keyctl", lambda: syscall(250, 0, -3, 0))             # KEYCTL_GET_KEYRING_ID of the user keyring
            attempt("user-namespace", lambda: syscall(272, 0x10000000))   # unshare(CLONE_NEWUSER)
            attempt("network-namespace", lambda: syscall(272, 0x40000000))
            attempt("tmp-is-writable", lambda: open("/tmp/scratch", "w").write("private"))
            EOF
            iptables -t nat -F 2>&1 | head -1
            mount -t tmpfs none /mnt 2>&1 | head -1
            curl -sS -o /dev/null -w 'metadata=%{http_code}\n' http://169.254.169.254/latest/meta-data/
            """, internet: true)
        try await hostService.close()
        try await unixService.close()
        let expected = [
            "host-loopback: ConnectionRefusedError errno=111", "host-unix-socket: FileNotFoundError errno=2",
            "udp: PermissionError errno=1", "udp6: PermissionError errno=1", "raw-socket: PermissionError errno=1",
            "host-file: OSError errno=30", "mknod: PermissionError errno=1", "keyctl: PermissionError errno=1",
            "user-namespace: PermissionError errno=1", "network-namespace: PermissionError errno=1",
            "tmp-is-writable: worked", "Permission denied (you must be root)", "mount: /mnt: permission denied",
        ]
        for line in expected {
            XCTAssertTrue(output.contains(line), "expected \"\(line)\" in:\n\(output)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: hostFile), "the host's file system is read-only to the container")
        XCTAssertTrue(output.contains("metadata=403"), "the guard refuses the metadata address (a 502 would mean it was dialled): \(output)")
    }

    func testNothingSurvivesDestroy() async throws {
        let fixture = try ContainerFixture(self)
        let container = try fixture.host.makeContainer(id: "doomed")
        let path = try await fixture.start(container, script: "sleep 100 & (sleep 200 &) ; echo started; wait")
        try await fixture.waitFor("started", in: path)
        let initPID = try XCTUnwrap(container.initProcessID)
        let namespaces = try ["net", "pid", "mnt"].map { kind in
            try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(initPID)/ns/\(kind)")
        }
        XCTAssertEqual(Self.processes(in: namespaces[1]).count, 4, "init, sh and two sleeps")
        let scratch = fixture.directory.path("state/containers/doomed")
        XCTAssertTrue(FileManager.default.fileExists(atPath: scratch))

        await container.destroy()
        XCTAssertFalse(container.running)
        for namespace in namespaces {
            XCTAssertEqual(Self.processes(in: namespace), [], "a process still holds \(namespace)")
            XCTAssertFalse(Self.ownDescriptors().contains(namespace), "this process still holds \(namespace)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch), "the scratch directory is gone")
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        XCTAssertFalse(mounts.contains(fixture.directory.url.path), "no mount of the container is in the host's table")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/etc/cloudflare"), "nothing was written to the host's /etc")
    }

    func testAHostCleansUpAfterAnotherThatDied() async throws {
        try XCTSkipUnless(NetworkNamespace.isRoot, "containers need root")
        let directory = try TemporaryDirectory("egress-stale")
        let stale = directory.path("state/containers/left-behind")
        try FileManager.default.createDirectory(atPath: stale, withIntermediateDirectories: true)
        // A record of a dead host whose init is a live process of ours (a stand-in that must die).
        let standIn = try SpawnedProcess(executable: "/bin/sleep", arguments: ["100"])
        let start = try XCTUnwrap(StaleContainers.startTime(of: standIn.pid))
        try "\(standIn.pid) \(start) 999999 1\n".write(toFile: stale + "/init", atomically: true, encoding: .utf8)
        // A directory of a live host (this process) is left alone.
        let live = directory.path("state/containers/still-running")
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        try StaleContainers.record(getpid(), in: live)

        let host = try ContainerHost(configuration: .init(settings: .init(stateDirectory: directory.path("state"))))
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale), "the stale directory was removed")
        XCTAssertEqual(standIn.waitForExit(), 128 + SIGKILL, "the leftover init was killed")
        XCTAssertTrue(FileManager.default.fileExists(atPath: live), "a live host's container was left alone")
        try await host.shutdown()
    }

    /// Host pids whose namespace link is `namespace` (such as `pid:[4026532300]`).
    private static func processes(in namespace: String) -> [String] {
        let link = String(namespace.prefix { $0 != ":" })
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { entry in
            entry.allSatisfy(\.isNumber) && (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/ns/\(link)")) == namespace
        }
    }

    /// What this process's descriptors point at.
    private static func ownDescriptors() -> Set<String> {
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return Set(descriptors.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)") })
    }
}
