import Foundation
import Logging

/// Scratch directories of containers, and the record in each that lets a later host process
/// clean up after a crash: init's pid and start time, and the owning host's.
///
/// Init dies with the host that made it (its parent-death signal), and its namespaces with it;
/// what a crash can leave is the scratch directory, and, if init somehow survived, init. A host
/// starting on the same state directory kills such an init (when its start time still matches:
/// the pid was not reused) and removes the directory, unless the owning host is still alive.
enum StaleContainers {
    private static let recordName = "init"

    /// Writes the record for `pid` into `scratch`.
    static func record(_ pid: pid_t, in scratch: String) throws {
        let me = getpid()
        let text = "\(pid) \(startTime(of: pid) ?? 0) \(me) \(startTime(of: me) ?? 0)\n"
        try text.write(toFile: scratch + "/" + recordName, atomically: true, encoding: .utf8)
    }

    /// Removes a scratch directory (it holds only files the host wrote).
    static func remove(_ scratch: String) {
        try? FileManager.default.removeItem(atPath: scratch)
    }

    /// Kills leftover inits and removes scratch directories of dead hosts under `runDirectory`.
    static func cleanUp(runDirectory: String, logger: Logger) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runDirectory)) ?? []
        for name in names {
            let scratch = runDirectory + "/" + name
            let fields = ((try? String(contentsOfFile: scratch + "/" + recordName, encoding: .utf8)) ?? "")
                .split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if fields.count == 4, isAlive(pid_t(fields[2]), startedAt: fields[3]) { continue }
            if fields.count == 4, isAlive(pid_t(fields[0]), startedAt: fields[1]) {
                kill(pid_t(fields[0]), SIGKILL)
                logger.warning("killed a container left by a dead host", metadata: ["container": .string(name), "pid": .stringConvertible(fields[0])])
            }
            remove(scratch)
            logger.info("removed a stale container directory", metadata: ["container": .string(name)])
        }
    }

    private static func isAlive(_ pid: pid_t, startedAt start: Int) -> Bool {
        pid > 0 && startTime(of: pid) == start
    }

    /// Field 22 of `/proc/PID/stat`: when the process started, in clock ticks after boot.
    static func startTime(of pid: pid_t) -> Int? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        return fields.count > 19 ? Int(fields[19]) : nil
    }
}
