import EgressTesting
import Foundation
import Testing

/// `egressd container run` and `egressd demo`, run as a user runs them (root only).
@Suite(
    .enabled(if: Egressd.isBuilt, "egressd is not built; run `swift build` first (scripts/test does)"),
    .enabled(if: NetworkNamespace.isRoot, "containers need root (namespaces, mounts, iptables); run the tests as root")
)
struct ContainerCommandTests {
    @Test func theDemoShowsEveryStepAndPasses() async throws {
        let result = try await offThread { try Egressd.run(["demo"]) }
        #expect(result.status == 0, "\(result.combinedOutput)")
        #expect(result.standardOutput.contains("All 6 checks passed"), "\(result.combinedOutput)")
        let denial = result.standardOutput.split(separator: "\n").first { $0.contains("egress    │ request") && $0.contains("action=deny") }
        #expect(denial?.contains("url=http://203.0.113.10/") == true, "\(result.standardOutput)")
    }

    @Test func helpAndUnknownOptionsStartNoContainer() async throws {
        let help = try await offThread { try Egressd.run(["container", "run", "--help"]) }
        #expect(help.status == 0, "\(help.combinedOutput)")
        #expect(help.standardOutput.contains("USAGE: egressd container run"), "\(help.combinedOutput)")
        let misspelt = try await offThread { try Egressd.run(["container", "run", "--internt", "--", "true"]) }
        #expect(misspelt.status != 0, "\(misspelt.combinedOutput)")
        #expect(misspelt.standardError.contains("--internt"), "the unknown option is named: \(misspelt.combinedOutput)")
        let bare = try await offThread { try Egressd.run(["container", "run", "true"]) }
        #expect(bare.status != 0, "\(bare.combinedOutput)")
        for result in [help, misspelt, bare] {
            #expect(!result.standardError.contains("container started"), "no container ran: \(result.combinedOutput)")
        }
    }

    @Test func runAppliesTheConfigAndExitsWithTheContainersCode() async throws {
        let directory = try TemporaryDirectory("egress-container-run", in: "/var/lib")
        let config = try directory.write("""
            stateDirectory: state
            rules:
              - http: api.test
                respond: { status: 200, body: "configured\\n" }
            """, to: "egress.yaml")
        let result = try await offThread {
            try Egressd.run([
                "container", "run", "--config", config, "--env", "FOO=bar=baz", "--id", "cli-test", "--",
                "sh", "-c", "echo foo=$FOO host=$(hostname); curl -sS http://api.test/; cat \(config) || echo config-hidden; exit 7",
            ])
        }
        #expect(result.status == 7, "\(result.combinedOutput)")
        #expect(result.standardOutput.contains("foo=bar=baz host=cli-test\nconfigured\n"), "\(result.combinedOutput)")
        #expect(!result.standardOutput.contains("api.test"), "the config file (which may hold secrets) is hidden: \(result.standardOutput)")
        #expect(result.standardError.contains("container=cli-test"), "log lines carry the container id: \(result.standardError)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path("state/containers")) == [])
    }

    @Test func sigtermDestroysTheContainer() async throws {
        let directory = try TemporaryDirectory("egress-container-term")
        let egressd = try BackgroundProcess(Egressd.path, [
            "container", "run", "--state-dir", directory.path("state"), "--", "sh", "-c", "echo ready; sleep 100",
        ])
        try await offThread {
            _ = try egressd.waitForLine(startingWith: "ready")
            egressd.send(SIGTERM)
            #expect(try egressd.waitForExit() == 128 + SIGTERM)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path("state/containers")) == [])
    }

    @Test func aKilledEgressdTakesItsContainersAlongAndTheNextOneCleansUp() async throws {
        let directory = try TemporaryDirectory("egress-container-kill")
        let state = directory.path("state")
        let egressd = try BackgroundProcess(Egressd.path, [
            "container", "run", "--state-dir", state, "--id", "victim", "--", "sh", "-c", "echo ready; sleep 100",
        ])
        let scratch = state + "/containers/victim"
        let initPID = try await offThread { () -> pid_t in
            _ = try egressd.waitForLine(startingWith: "ready")
            let record = try String(contentsOfFile: scratch + "/init", encoding: .utf8)
            return pid_t(record.split(separator: " ")[0]) ?? 0
        }
        #expect(initPID > 0 && kill(initPID, 0) == 0)
        egressd.send(SIGKILL)
        let gone = try await offThread { () -> Bool in
            _ = try egressd.waitForExit()
            for _ in 0..<100 where kill(initPID, 0) == 0 { usleep(50_000) }
            return kill(initPID, 0) != 0
        }
        #expect(gone, "the container's init died with egressd")
        #expect(FileManager.default.fileExists(atPath: scratch), "a crash leaves the scratch directory")

        let next = try await offThread { try Egressd.run(["container", "run", "--state-dir", state, "--", "true"]) }
        #expect(next.status == 0, "\(next.combinedOutput)")
        #expect(next.standardError.contains("removed a stale container directory"), "\(next.standardError)")
        #expect(!FileManager.default.fileExists(atPath: scratch))
    }
}
