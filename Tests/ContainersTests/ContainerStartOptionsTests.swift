import XCTest

@testable import Containers

final class ContainerStartOptionsTests: XCTestCase {
    func testValidOptionsPass() throws {
        let options = ContainerStartOptions(entrypoint: ["/bin/sh", "-c", "exit 0"], env: ["FOO": "bar=baz", "EMPTY": ""])
        XCTAssertNoThrow(try options.validate())
    }

    func testRefusals() {
        let refused: [(ContainerStartOptions, String)] = [
            (ContainerStartOptions(entrypoint: []), "the entrypoint is empty"),
            (ContainerStartOptions(entrypoint: [""]), "the entrypoint is empty"),
            (ContainerStartOptions(entrypoint: ["/bin/echo", "a\0b"]), "NUL byte"),
            (ContainerStartOptions(entrypoint: ["/bin/true"], env: ["A=B": "1"]), "\"A=B\" holds \"=\""),
            (ContainerStartOptions(entrypoint: ["/bin/true"], env: ["A\0": "1"]), "holds \"=\" or a NUL"),
            (ContainerStartOptions(entrypoint: ["/bin/true"], env: ["": "1"]), "empty name"),
            (ContainerStartOptions(entrypoint: ["/bin/true"], env: ["A": "x\0y"]), "NUL byte in its value"),
            (ContainerStartOptions(entrypoint: ["/bin/true"], rootDirectory: ""), "is empty or holds a NUL"),
        ]
        for (options, expected) in refused {
            XCTAssertThrowsError(try options.validate(), "\(options)") { error in
                guard case .invalidOptions(let reason) = error as? ContainerError else {
                    return XCTFail("\(error)")
                }
                XCTAssertTrue(reason.contains(expected), "\(reason) lacks \(expected)")
            }
        }
    }
}
