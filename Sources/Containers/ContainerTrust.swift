import EgressLinux
import Foundation

/// What a container finds in its `/etc` and environment so that its clients trust interception
/// and resolve names through the DNS stub: the proxy CA at the path Cloudflare Containers use, a
/// bundle of the system roots plus that CA, the usual trust variables pointing at the bundle, a
/// `resolv.conf` naming the stub and a `hosts` file.
struct ContainerTrust {
    /// Where the CA certificate is inside the container.
    static let certificatePath = "/etc/cloudflare/certs/cloudflare-containers-ca.crt"
    /// The system roots plus the CA, inside the container.
    static let bundlePath = "/etc/cloudflare/certs/ca-bundle.crt"
    /// The variables set to ``bundlePath`` (unless the start options set them).
    static let trustVariables = ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"]
    /// `PATH` when the start options do not set one.
    static let defaultSearchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    /// Where distributions keep their root bundle, most common first.
    private static let systemBundles = [
        "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem",
        "/etc/ssl/ca-bundle.pem",
    ]

    /// The proxy's CA certificate (PEM).
    let certificatePEM: String
    /// The host's root bundle, read once (a few hundred KiB, needed by every start).
    private let hostRoots: String

    init(certificatePEM: String) {
        self.certificatePEM = certificatePEM
        hostRoots = Self.firstBundle(Self.systemBundles)
    }

    /// The files added to the container's `/etc`. The roots come from the root directory's own
    /// bundle when it has one, else from the host's.
    func files(hostname: String, rootDirectory: String?) -> [ContainerInit.File] {
        let imageRoots = rootDirectory.map { root in Self.firstBundle(Self.systemBundles.compactMap { Self.resolve($0, inside: root) }) }
        let roots = imageRoots.flatMap { $0.isEmpty ? nil : $0 } ?? hostRoots
        let bundle = roots + (roots.hasSuffix("\n") || roots.isEmpty ? "" : "\n") + certificatePEM
        let resolver = "# Egress: the container's DNS stub\nnameserver 127.0.0.1\nnameserver ::1\noptions edns0 timeout:2 attempts:2\n"
        let hosts = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n127.0.1.1 \(hostname)\n"
        return [
            ContainerInit.File(path: "cloudflare/certs/cloudflare-containers-ca.crt", contents: Array(certificatePEM.utf8)),
            ContainerInit.File(path: "cloudflare/certs/ca-bundle.crt", contents: Array(bundle.utf8)),
            ContainerInit.File(path: "resolv.conf", contents: Array(resolver.utf8)),
            ContainerInit.File(path: "hosts", contents: Array(hosts.utf8)),
            ContainerInit.File(path: "hostname", contents: Array("\(hostname)\n".utf8)),
        ]
    }

    /// The entrypoint's environment: the start options' variables over the trust variables,
    /// `PATH`, `HOME` and `HOSTNAME`.
    static func environment(_ env: [String: String], hostname: String) -> [String: String] {
        var merged: [String: String] = ["PATH": defaultSearchPath, "HOME": "/root", "HOSTNAME": hostname]
        for name in trustVariables { merged[name] = bundlePath }
        merged.merge(env) { _, given in given }
        return merged
    }

    /// The contents of the first of `paths` that holds a certificate, or "".
    private static func firstBundle(_ paths: [String]) -> String {
        for path in paths {
            if let text = try? String(contentsOfFile: path, encoding: .utf8), text.contains("BEGIN CERTIFICATE") {
                return text
            }
        }
        return ""
    }

    /// `path` as a process whose root is `root` would find it: symbolic links are followed
    /// inside `root` (an absolute target starts again at `root`, `..` stops at it), so an image's
    /// links never lead to the host's files. Nil if it does not resolve to a regular file.
    static func resolve(_ path: String, inside root: String) -> String? {
        var pending = path.split(separator: "/").map(String.init)
        var resolved: [String] = []
        var links = 0
        while !pending.isEmpty {
            let component = pending.removeFirst()
            switch component {
            case "", ".": continue
            case "..": _ = resolved.popLast()
            default:
                let candidate = root + "/" + (resolved + [component]).joined(separator: "/")
                guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: candidate) else {
                    resolved.append(component)
                    continue
                }
                links += 1
                guard links <= 40 else { return nil }
                if target.hasPrefix("/") { resolved = [] }
                pending = target.split(separator: "/").map(String.init) + pending
            }
        }
        let full = root + "/" + resolved.joined(separator: "/")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue else { return nil }
        return full
    }
}
