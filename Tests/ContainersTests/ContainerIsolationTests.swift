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
        // A service on the host's loopback that a container must not reach.
        let hostService = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try XCTUnwrap(hostService.localAddress?.port)
        let (output, _) = try await fixture.run("""
            python3 - <<'EOF'
            import socket
            s = socket.socket(); s.settimeout(3)
            try:
                s.connect(("127.0.0.1", \(port))); print("host-loopback: connected")
            except OSError as e:
                print("host-loopback:", type(e).__name__)
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                u.sendto(b"x", ("203.0.113.9", 9999)); print("udp: sent")
            except OSError as e:
                print("udp:", type(e).__name__)
            EOF
            iptables -t nat -F >/dev/null 2>&1; echo "iptables=$?"
            ip link add egress0 type dummy >/dev/null 2>&1; echo "ip-link=$?"
            unshare -n true >/dev/null 2>&1; echo "unshare=$?"
            mount -t tmpfs none /mnt >/dev/null 2>&1; echo "mount=$?"
            curl -sS -o /dev/null -w 'metadata=%{http_code}\\n' http://169.254.169.254/latest/meta-data/
            """, internet: true)
        try await hostService.close()
        XCTAssertTrue(output.contains("host-loopback: ConnectionRefusedError"), output)
        XCTAssertTrue(output.contains("udp: PermissionError"), output)
        for tool in ["iptables", "ip-link", "unshare", "mount"] {
            XCTAssertFalse(output.contains("\(tool)=0"), "\(tool) worked inside the container: \(output)")
        }
        XCTAssertTrue(output.contains("metadata=502") || output.contains("metadata=403"), "the metadata address is not dialled: \(output)")
    }

    func testNothingSurvivesDestroy() async throws {
        let fixture = try ContainerFixture(self)
        let container = try fixture.host.makeContainer(id: "doomed")
        let path = try await fixture.start(container, script: "sleep 100 & (sleep 200 &) ; echo started; wait")
        try await fixture.waitFor("started", in: path)
        let namespacePath = try XCTUnwrap(container.networkNamespacePath)
        let initPID = try XCTUnwrap(Int32(namespacePath.split(separator: "/")[1]))
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

    func testAHostCleansUpAfterAnotherThatDied() throws {
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

        _ = try ContainerHost(configuration: .init(stateDirectory: directory.path("state")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale), "the stale directory was removed")
        XCTAssertEqual(standIn.waitForExit(), 128 + SIGKILL, "the leftover init was killed")
        XCTAssertTrue(FileManager.default.fileExists(atPath: live), "a live host's container was left alone")
    }

    /// Host pids whose namespace link is `namespace` (such as `pid:[4026532300]`).
    private static func processes(in namespace: String) -> [String] {
        let kind = namespace.prefix { $0 != ":" }
        let link = kind == "mnt" ? "mnt" : String(kind)
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
