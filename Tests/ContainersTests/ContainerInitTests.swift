import EgressLinux
import EgressTesting
import Foundation
import XCTest

final class ContainerInitTests: XCTestCase {
    func testSmoke() throws {
        try XCTSkipUnless(NetworkNamespace.isRoot, "needs root")
        let directory = try TemporaryDirectory("init")
        let scratch = directory.path("scratch")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        var ends: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&ends), 0)
        let null = open("/dev/null", O_RDWR)
        let spec = ContainerInit.Specification(
            arguments: ["sh", "-c", "cat /etc/cloudflare/test.txt; echo pid=$$; hostname; ls /dev; ls \(directory.path("")); cat /proc/self/status | grep Cap; exit 3"],
            environment: ["PATH=/usr/bin:/bin"], searchPath: "/usr/bin:/bin", standardInput: null, standardOutput: ends[1],
            standardError: ends[1], root: nil, workingDirectory: "/tmp", hostname: "box1", scratchDirectory: scratch,
            files: [.init(path: "cloudflare/test.txt", contents: Array("hello\n".utf8))], maskedPaths: [directory.path("")]
        )
        let container = try ContainerInit(spec)
        try container.start()
        close(ends[1])
        let exit = container.waitForExit()
        var output = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(ends[0], &buffer, 4096)
            if n <= 0 { break }
            output.append(contentsOf: buffer[0..<n])
        }
        print(String(decoding: output, as: UTF8.self))
        XCTAssertEqual(exit, .exited(3))
    }
}
