import COpenSSL
import Synchronization

/// The sessions a client context keeps for resumption, keyed by server hostname, bounded in
/// size (least recently stored or used goes first).
///
/// Shared by every connection of a ``TLSContext``, from any event loop, so the table is behind a
/// mutex. The cache keeps private copies: no `SSL` ever holds a session that is in the table,
/// and each connection resumes from its own copy. (OpenSSL changes a session that an `SSL` is
/// using; one session shared by concurrent handshakes made some of them fall back to a full
/// handshake, and would be a data race besides.)
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

    /// Keeps a copy of `session` for `key`, if it can be resumed; the caller keeps its reference.
    func store(_ session: OpaquePointer, for key: String) {
        guard SSL_SESSION_is_resumable(session) == 1, let copy = SSL_SESSION_dup(session) else {
            return
        }
        let entry = Entry(session: copy, lastUse: 0)
        table.withLock { table in
            table.clock += 1
            var entry = entry
            entry.lastUse = table.clock
            if let old = table.entries.updateValue(entry, forKey: key) {
                SSL_SESSION_free(old.session)
            } else if table.entries.count > capacity {
                evictOldest(&table)
            }
        }
    }

    /// Offers a copy of the session kept for `key`, if any, to `ssl` for resumption.
    func offer(to ssl: OpaquePointer, for key: String) {
        let copy: OpaquePointer? = table.withLock { table in
            guard var entry = table.entries[key] else {
                return nil
            }
            table.clock += 1
            entry.lastUse = table.clock
            table.entries[key] = entry
            return SSL_SESSION_dup(entry.session)
        }
        guard let copy else {
            return
        }
        if SSL_set_session(ssl, copy) != 1 {
            ERR_clear_error()
        }
        SSL_SESSION_free(copy)
    }

    private func evictOldest(_ table: inout Table) {
        guard let oldest = table.entries.min(by: { $0.value.lastUse < $1.value.lastUse }) else {
            return
        }
        table.entries.removeValue(forKey: oldest.key)
        SSL_SESSION_free(oldest.value.session)
    }
}
