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

    /// Claims `scratch` for this host: creates it with a record naming this process as its owner
    /// (and no init yet). Throws if a live host owns it (the same id on the same state
    /// directory); a dead host's leftovers are removed first.
    static func claim(_ scratch: String, id: String) throws(ContainerError) {
        if let owner = record(in: scratch)?.owner, owner.pid != getpid(), isAlive(owner.pid, startedAt: owner.start) {
            throw .invalidOptions("container id \(id) is in use by another Egress process (pid \(owner.pid)) on this state directory")
        }
        remove(scratch)
        do {
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try write(initPID: 0, in: scratch)
        } catch {
            throw .system("cannot create \(scratch): \(error)")
        }
    }

    /// Adds init's pid to the record in `scratch`.
    static func record(_ pid: pid_t, in scratch: String) throws {
        try write(initPID: pid, in: scratch)
    }

    private static func write(initPID pid: pid_t, in scratch: String) throws {
        let me = getpid()
        let start = pid > 0 ? startTime(of: pid) ?? 0 : 0
        let text = "\(pid) \(start) \(me) \(startTime(of: me) ?? 0)\n"
        try text.write(toFile: scratch + "/" + recordName, atomically: true, encoding: .utf8)
    }

    /// The record in `scratch`: init's and the owner's pid and start time.
    private static func record(in scratch: String) -> (initProcess: (pid: pid_t, start: Int), owner: (pid: pid_t, start: Int))? {
        let fields = ((try? String(contentsOfFile: scratch + "/" + recordName, encoding: .utf8)) ?? "")
            .split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        guard fields.count == 4 else { return nil }
        return ((pid_t(truncatingIfNeeded: fields[0]), fields[1]), (pid_t(truncatingIfNeeded: fields[2]), fields[3]))
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
            let found = record(in: scratch)
            if let owner = found?.owner, isAlive(owner.pid, startedAt: owner.start) { continue }
            if let initProcess = found?.initProcess, isAlive(initProcess.pid, startedAt: initProcess.start) {
                kill(initProcess.pid, SIGKILL)
                logger.warning("killed a container left by a dead host", metadata: ["container": .string(name), "pid": .stringConvertible(initProcess.pid)])
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
