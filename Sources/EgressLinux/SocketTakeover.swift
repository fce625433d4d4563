import CEgressLinux

/// Taking a connected socket over from code that owns it but will not hand out its descriptor
/// (SwiftNIO): find it by its `SO_COOKIE`, a number the kernel gives each socket, and duplicate
/// it. Once the owner closes its descriptor, the duplicate is the socket's only one.
public enum SocketTakeover {
    /// The `SO_COOKIE` socket option number.
    public static let cookieOption: Int32 = 57

    /// Close-on-exec duplicates of the sockets whose cookies are `first` and `second`, found in
    /// one scan of the process's descriptors (one `getsockopt` per open descriptor for both).
    /// All or nothing: when it throws, no duplicate is left open.
    ///
    /// - Throws: ``LinuxError`` with `ENOENT` when either cookie has no socket, `EINVAL` when the
    ///   two are the same.
    public static func duplicate(_ first: UInt64, _ second: UInt64) throws -> (Int32, Int32) {
        let cookies = [first, second]
        var descriptors: [Int32] = [-1, -1]
        try LinuxError.check(egress_duplicate_sockets_with_cookies(cookies, cookies.count, &descriptors))
        return (descriptors[0], descriptors[1])
    }
}
