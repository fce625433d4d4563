/// Byte-level operations on hostnames for the lookup path: ASCII case folding, incremental
/// hashing and glob matching, all without allocating.
///
/// Patterns (names and globs from rule targets) are stored lower-case; queries are folded byte by
/// byte as they are read, so an un-normalised query costs nothing extra.
enum HostnameBytes {
    /// The FNV-1a offset basis, the hash of the empty string.
    static let emptyHash: UInt64 = 0xcbf2_9ce4_8422_2325

    /// ASCII upper-case letters to lower case; every other byte unchanged.
    @inline(__always)
    static func fold(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }

    /// One FNV-1a step: the hash of a string extended by `byte`.
    @inline(__always)
    static func hash(_ hash: UInt64, appending byte: UInt8) -> UInt64 {
        (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
    }

    /// The key under which a literal is indexed: its hash combined with its length and the port.
    /// Equal literals at equal ports give equal keys; unequal ones rarely collide, and every
    /// candidate found through a key is verified.
    @inline(__always)
    static func key(hash: UInt64, length: Int, port: UInt16) -> UInt64 {
        hash ^ (UInt64(truncatingIfNeeded: length) << 48 | UInt64(port) << 24)
    }

    /// The hash of the last `length` bytes of `bytes`, read backwards (the direction in which a
    /// lookup extends suffixes).
    static func suffixHash(_ bytes: UTF8Bytes, length: Int) -> UInt64 {
        var result = emptyHash
        for byte in bytes.suffix(length).reversed() {
            result = hash(result, appending: fold(byte))
        }
        return result
    }

    /// The hash of the first `length` bytes of `bytes`, read forwards.
    static func prefixHash(_ bytes: UTF8Bytes, length: Int) -> UInt64 {
        var result = emptyHash
        for byte in bytes.prefix(length) {
            result = hash(result, appending: fold(byte))
        }
        return result
    }

    /// Whether `text`, case-folded, equals the lower-case `name`.
    @inline(__always)
    static func equals(_ name: UTF8Bytes, _ text: UTF8Bytes) -> Bool {
        guard name.count == text.count else { return false }
        for index in 0..<name.count where name[index] != fold(text[index]) {
            return false
        }
        return true
    }

    /// Whether `text`, case-folded, matches the lower-case glob `pattern`, in which `*` matches
    /// any run of bytes, dots and the empty run included. Linear for patterns with one `*`;
    /// backtracks only to the most recent `*`, so never worse than `pattern.count * text.count`.
    static func globMatches(_ pattern: UTF8Bytes, _ text: UTF8Bytes) -> Bool {
        let star = UInt8(ascii: "*")
        var patternIndex = 0
        var textIndex = 0
        var resumePattern = -1
        var resumeText = 0
        while textIndex < text.count {
            if patternIndex < pattern.count {
                let expected = pattern[patternIndex]
                if expected == star {
                    patternIndex += 1
                    resumePattern = patternIndex
                    resumeText = textIndex
                    continue
                }
                if expected == fold(text[textIndex]) {
                    patternIndex += 1
                    textIndex += 1
                    continue
                }
            }
            guard resumePattern >= 0 else { return false }
            resumeText += 1
            patternIndex = resumePattern
            textIndex = resumeText
        }
        while patternIndex < pattern.count && pattern[patternIndex] == star {
            patternIndex += 1
        }
        return patternIndex == pattern.count
    }
}
