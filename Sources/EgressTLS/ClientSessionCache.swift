import COpenSSL
import Synchronization

/// The sessions a client context keeps for resumption, keyed by server hostname, bounded in
/// size (least recently stored or used goes first).
///
/// Shared by every connection of a ``TLSContext``, from any event loop, so the table is behind a
/// mutex. Owns one reference to each `SSL_SESSION` it holds.
final class ClientSessionCache: Sendable {
    /// One cached session; the pointer is only touched under the mutex.
    private struct Entry {
        nonisolated(unsafe) var session: OpaquePointer
        var lastUse: UInt64
    }

    private struct Table: ~Copyable {
        var entries: [String: Entry] = [:]
        var clock: UInt64 = 0

        deinit {
            for entry in entries.values {
                SSL_SESSION_free(entry.session)
            }
        }
    }

    /// The most sessions kept at once.
    let capacity: Int

    private let table = Mutex(Table())

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// The number of sessions held.
    var count: Int {
        table.withLock { $0.entries.count }
    }

    /// Keeps `session` for `key`, taking over the caller's reference; returns `false` (keeping
    /// nothing, taking nothing) when the session cannot be resumed.
    func store(_ session: OpaquePointer, for key: String) -> Bool {
        guard SSL_SESSION_is_resumable(session) == 1 else {
            return false
        }
        nonisolated(unsafe) let session = session
        table.withLock { table in
            table.clock += 1
            if let old = table.entries.updateValue(Entry(session: session, lastUse: table.clock), forKey: key) {
                SSL_SESSION_free(old.session)
            } else if table.entries.count > capacity {
                evictOldest(&table)
            }
        }
        return true
    }

    /// Offers the session kept for `key`, if any, to `ssl` for resumption (`SSL_set_session`
    /// takes its own reference, so the entry may be evicted at any time afterwards).
    func offer(to ssl: OpaquePointer, for key: String) {
        nonisolated(unsafe) let ssl = ssl
        table.withLock { table in
            guard var entry = table.entries[key] else {
                return
            }
            table.clock += 1
            entry.lastUse = table.clock
            table.entries[key] = entry
            if SSL_set_session(ssl, entry.session) != 1 {
                ERR_clear_error()
            }
        }
    }

    private func evictOldest(_ table: inout Table) {
        guard let oldest = table.entries.min(by: { $0.value.lastUse < $1.value.lastUse }) else {
            return
        }
        table.entries.removeValue(forKey: oldest.key)
        SSL_SESSION_free(oldest.value.session)
    }
}
