import COpenSSL

/// An OpenSSL memory BIO, the bridge between Swift strings and OpenSSL's PEM readers and writers.
final class MemoryBIO {
    let pointer: OpaquePointer

    /// An empty BIO to write into.
    init() throws(CertificateError) {
        guard let bio = BIO_new(BIO_s_mem()) else { throw .openSSL("cannot allocate a memory BIO") }
        pointer = bio
    }

    /// A BIO to read `contents` from.
    init(contents: String) throws(CertificateError) {
        guard let bio = BIO_new(BIO_s_mem()) else { throw .openSSL("cannot allocate a memory BIO") }
        pointer = bio
        var text = contents
        let written = text.withUTF8 { BIO_write(bio, $0.baseAddress, Int32($0.count)) }
        guard written == text.utf8.count else { throw .openSSL("cannot fill a memory BIO") }
    }

    deinit {
        BIO_free(pointer)
    }

    /// Everything written into the BIO so far, as text.
    func string() -> String {
        var data: UnsafeMutablePointer<CChar>?
        let length = egress_bio_mem_data(pointer, &data)
        guard let data, length > 0 else { return "" }
        let bytes = UnsafeRawBufferPointer(start: data, count: length)
        return String(decoding: bytes, as: UTF8.self)
    }
}
