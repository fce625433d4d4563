import EgressLinux
import EgressTesting
import Foundation
import XCTest

@testable import Containers

/// Host-side file handling of containers: an image's links stay inside the image, and a scratch
/// directory belongs to one live host at a time.
final class ContainerFilesTests: XCTestCase {
    func testImageLinksResolveInsideTheImage() throws {
        let image = try TemporaryDirectory("egress-image")
        let host = try TemporaryDirectory("egress-host-secret")
        try host.write("-----BEGIN CERTIFICATE-----\nhost secret\n", to: "secret.pem")
        for directory in ["etc/ssl/certs", "usr/share/ca"] {
            try FileManager.default.createDirectory(atPath: image.path(directory), withIntermediateDirectories: true)
        }
        try image.write("image roots\n", to: "usr/share/ca/roots.pem")
        let fileManager = FileManager.default
        // Absolute and relative links are followed inside the image.
        try fileManager.createSymbolicLink(atPath: image.path("etc/ssl/certs/absolute.crt"), withDestinationPath: "/usr/share/ca/roots.pem")
        try fileManager.createSymbolicLink(atPath: image.path("etc/ssl/certs/relative.crt"), withDestinationPath: "../../../usr/share/ca/roots.pem")
        // A link that would leave the image lands inside it (where nothing is).
        try fileManager.createSymbolicLink(atPath: image.path("etc/ssl/certs/escape.crt"), withDestinationPath: host.path("secret.pem"))
        try fileManager.createSymbolicLink(atPath: image.path("etc/ssl/certs/dotdot.crt"), withDestinationPath: "../../../../../../\(host.path("secret.pem"))")
        try fileManager.createSymbolicLink(atPath: image.path("etc/ssl/certs/loop.crt"), withDestinationPath: "loop.crt")

        let root = image.url.path
        XCTAssertEqual(ContainerTrust.resolve("/etc/ssl/certs/absolute.crt", inside: root), root + "/usr/share/ca/roots.pem")
        XCTAssertEqual(ContainerTrust.resolve("/etc/ssl/certs/relative.crt", inside: root), root + "/usr/share/ca/roots.pem")
        XCTAssertNil(ContainerTrust.resolve("/etc/ssl/certs/escape.crt", inside: root))
        XCTAssertNil(ContainerTrust.resolve("/etc/ssl/certs/dotdot.crt", inside: root))
        XCTAssertNil(ContainerTrust.resolve("/etc/ssl/certs/loop.crt", inside: root))
        XCTAssertNil(ContainerTrust.resolve("/etc/ssl/certs", inside: root), "a directory is not a bundle")
    }

    func testTheBundleHoldsTheImagesRootsOrTheHostsAndTheCA() throws {
        let trust = ContainerTrust(certificatePEM: "-----BEGIN CERTIFICATE-----\nEGRESS CA\n-----END CERTIFICATE-----\n")
        func bundle(_ root: String?) -> String {
            let file = trust.files(hostname: "h", rootDirectory: root).first { $0.path == "cloudflare/certs/ca-bundle.crt" }
            return String(decoding: file?.contents ?? [], as: UTF8.self)
        }
        let image = try TemporaryDirectory("egress-image-roots")
        try FileManager.default.createDirectory(atPath: image.path("etc/ssl/certs"), withIntermediateDirectories: true)
        try image.write("-----BEGIN CERTIFICATE-----\nIMAGE ROOT\n-----END CERTIFICATE-----", to: "etc/ssl/certs/ca-certificates.crt")
        XCTAssertEqual(bundle(image.url.path), "-----BEGIN CERTIFICATE-----\nIMAGE ROOT\n-----END CERTIFICATE-----\n" + trust.certificatePEM)
        let host = try String(contentsOfFile: "/etc/ssl/certs/ca-certificates.crt", encoding: .utf8)
        XCTAssertTrue(bundle(nil).hasPrefix(host) && bundle(nil).hasSuffix("EGRESS CA\n-----END CERTIFICATE-----\n"))
        let bare = try TemporaryDirectory("egress-image-bare")
        XCTAssertEqual(bundle(bare.url.path), bundle(nil), "an image without roots gets the host's")
    }

    func testAScratchDirectoryOfALiveHostIsNotTaken() throws {
        let directory = try TemporaryDirectory("egress-claim")
        let scratch = directory.path("containers/busy")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let otherHost = try SpawnedProcess(executable: "/bin/sleep", arguments: ["100"])
        defer { otherHost.send(SIGKILL) }
        let start = try XCTUnwrap(StaleContainers.startTime(of: otherHost.pid))
        try "0 0 \(otherHost.pid) \(start)\n".write(toFile: scratch + "/init", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try StaleContainers.claim(scratch, id: "busy")) { error in
            guard case .invalidOptions(let reason) = error as? ContainerError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("in use by another Egress process (pid \(otherHost.pid))"), reason)
        }
        otherHost.send(SIGKILL)
        _ = otherHost.waitForExit()
        XCTAssertNoThrow(try StaleContainers.claim(scratch, id: "busy"), "a dead host's directory is taken over")
    }
}
