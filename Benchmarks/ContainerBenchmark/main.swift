// Prints how long containers take to start and to run a trivial entrypoint to its end, next to
// the same program started as a plain child process in the same run. Needs root. Run in release
// mode: `swift run -c release ContainerBenchmark` (scripts/bench does).

import Containers
import EgressLinux
import Foundation
import Logging

/// Milliseconds of `durations`: median and 90th percentile.
func summary(_ durations: [Duration]) -> String {
    let sorted = durations.map { Double($0.components.seconds) * 1e3 + Double($0.components.attoseconds) / 1e15 }.sorted()
    let median = sorted[sorted.count / 2], p90 = sorted[min(sorted.count - 1, sorted.count * 9 / 10)]
    return String(format: "median %7.2f ms   p90 %7.2f ms", median, p90)
}

func report(_ label: String, _ durations: [Duration]) {
    print(label.padding(toLength: 46, withPad: " ", startingAt: 0) + summary(durations))
}

guard geteuid() == 0 else {
    print("ContainerBenchmark needs root (namespaces, mounts, iptables); skipped.")
    exit(0)
}
let rounds = Int(ProcessInfo.processInfo.environment["BENCH_ROUNDS"] ?? "") ?? 30
let state = NSTemporaryDirectory() + "/egress-container-bench-\(getpid())"
defer { try? FileManager.default.removeItem(atPath: state) }
var logger = Logger(label: "bench")
logger.logLevel = .error
let host = try ContainerHost(configuration: .init(settings: .init(stateDirectory: state)), logger: logger)
let clock = ContinuousClock()

print("Containers (\(rounds) rounds each; /bin/true as the entrypoint)")
var direct: [Duration] = []
for _ in 0..<rounds {
    direct.append(try clock.measure {
        let process = try SpawnedProcess(executable: "/bin/true", arguments: [])
        _ = process.waitForExit()
    })
}
report("plain child process, spawn to exit", direct)

var starts: [Duration] = [], lifetimes: [Duration] = []
let container = try host.makeContainer(id: "bench")
for _ in 0..<rounds {
    let began = clock.now
    try await container.start(ContainerStartOptions(entrypoint: ["/bin/true"], output: .discard))
    starts.append(clock.now - began)
    try await container.monitor()
    lifetimes.append(clock.now - began)
}
report("container start() (namespaces, network, exec)", starts)
report("container start to monitor() resolving", lifetimes)

let concurrency = 8
let began = clock.now
try await withThrowingTaskGroup(of: Void.self) { group in
    for index in 0..<concurrency {
        group.addTask {
            let each = try host.makeContainer(id: "bench-\(index)")
            try await each.start(ContainerStartOptions(entrypoint: ["/bin/true"], output: .discard))
            try await each.monitor()
        }
    }
    try await group.waitForAll()
}
report("\(concurrency) containers at once, all ended", [clock.now - began])
try await host.shutdown()
