import COpenSSL
import CSQLite
import Testing

/// The system libraries link and answer: OpenSSL 3 and SQLite 3 as Debian ships them.
@Suite struct SystemLibraryTests {
    @Test func openSSLIsVersionThree() {
        #expect(OpenSSL_version_num() >= 0x3000_0000)
    }

    @Test func openSSLMakesP256Keys() throws {
        let key = try #require(egress_generate_p256_key())
        defer { EVP_PKEY_free(key) }
        #expect(EVP_PKEY_get_bits(key) == 256)
    }

    @Test func sqliteRunsAQuery() throws {
        var db: OpaquePointer?
        #expect(sqlite3_open(":memory:", &db) == SQLITE_OK)
        defer { sqlite3_close(db) }
        var statement: OpaquePointer?
        #expect(sqlite3_prepare_v2(db, "SELECT ?1 + 1", -1, &statement, nil) == SQLITE_OK)
        defer { sqlite3_finalize(statement) }
        sqlite3_bind_int64(statement, 1, 41)
        #expect(sqlite3_step(statement) == SQLITE_ROW)
        #expect(sqlite3_column_int64(statement, 0) == 42)
        sqlite3_reset(statement)
        #expect(sqlite3_bind_text(statement, 1, "1", -1, csqlite_transient()) == SQLITE_OK)
        #expect(sqlite3_step(statement) == SQLITE_ROW)
        #expect(sqlite3_column_int64(statement, 0) == 2)
    }
}
