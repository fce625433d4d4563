import EgressLinux
import Glibc
import Testing

/// Starting, waiting for and signalling child processes.
@Suite struct SpawnedProcessTests {
    @Test func exitStatusesAndSignalsAreReported() throws {
        let ok = try SpawnedProcess(executable: "/bin/sh", arguments: ["-c", "exit 0"])
        #expect(ok.waitForExit() == 0)
        let seven = try SpawnedProcess(executable: "/bin/sh", arguments: ["-c", "exit 7"])
        #expect(seven.waitForExit() == 7)
        #expect(seven.exitStatus == 7, "the status is kept once reaped")
        let sleeper = try SpawnedProcess(executable: "/bin/sleep", arguments: ["30"])
        #expect(sleeper.isRunning)
        sleeper.send(SIGTERM)
        #expect(sleeper.waitForExit() == 128 + SIGTERM)
        #expect(!sleeper.isRunning)
    }

    /// One thread waits while another signals: the waiter sees the end the signal caused, and
    /// the status stays readable (reaped once, kept) for everyone after.
    @Test func aWaiterSeesTheEndOfAProcessAnotherThreadSignals() throws {
        let sleeper = try SpawnedProcess(executable: "/bin/sleep", arguments: ["30"])
        let waiter = BackgroundThread { sleeper.waitForExit() }
        usleep(100_000)
        #expect(sleeper.isRunning)
        sleeper.send(SIGKILL)
        #expect(try waiter.value(timeout: 10) == 128 + SIGKILL)
        #expect(sleeper.exitStatus == 128 + SIGKILL)
        #expect(sleeper.waitForExit() == 128 + SIGKILL)
    }

    @Test func aMissingExecutableIsAnError() {
        #expect(throws: LinuxError.self) { try SpawnedProcess(executable: "/nonexistent/egress-test", arguments: []) }
    }
}
