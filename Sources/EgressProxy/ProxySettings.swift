/// What every proxy Egress runs is made with, whether it listens for `egressd run`
/// (``InterceptionProxy``) or serves the containers of a container host: where its CA lives, how
/// it dials upstream, what handlers see and how long it waits for quiet clients.
public struct ProxySettings: Equatable, Sendable {
    /// Where the CA lives (created on first use), unless ``certificateAuthority`` is given; a
    /// container host also keeps its containers' scratch directories here.
    public var stateDirectory: String
    /// Your own CA instead: PEM certificate and key files (RSA or EC).
    public var certificateAuthority: CertificateAuthorityFiles?
    /// PEM roots trusted for upstream TLS besides the system's.
    public var extraRoots: String?
    /// `SO_MARK` on every upstream socket, for an iptables `-m mark` exemption.
    public var upstreamMark: UInt32?
    /// Ranges exempted from the pass-through deny list (loopback, link-local, ...).
    public var allow: [String]
    /// What handlers see as `context.env`.
    public var env: [String: String]
    /// How long the proxy waits for a client's first bytes before passing the connection on
    /// as opaque TCP (a protocol whose server speaks first).
    public var sniffTimeout: Duration
    /// How long an HTTP connection may go without traffic, no request in flight, before it
    /// is closed.
    public var idleTimeout: Duration

    /// How long a silent client is waited for by default: half a second.
    public static let defaultSniffTimeout: Duration = .milliseconds(500)
    /// How long an HTTP connection may idle by default: a minute.
    public static let defaultIdleTimeout: Duration = .seconds(60)

    /// The defaults: `./state` and its CA, no extra roots, no mark, nothing allowed, no `env`,
    /// a 0.5 s sniff and a 60 s idle timeout.
    public init(
        stateDirectory: String = "./state", certificateAuthority: CertificateAuthorityFiles? = nil,
        extraRoots: String? = nil, upstreamMark: UInt32? = nil, allow: [String] = [], env: [String: String] = [:],
        sniffTimeout: Duration = ProxySettings.defaultSniffTimeout, idleTimeout: Duration = ProxySettings.defaultIdleTimeout
    ) {
        self.stateDirectory = stateDirectory
        self.certificateAuthority = certificateAuthority
        self.extraRoots = extraRoots
        self.upstreamMark = upstreamMark
        self.allow = allow
        self.env = env
        self.sniffTimeout = sniffTimeout
        self.idleTimeout = idleTimeout
    }

    /// A CA of your own: the paths of its PEM certificate and private key.
    public struct CertificateAuthorityFiles: Hashable, Sendable {
        /// The CA certificate (PEM).
        public var certificate: String
        /// Its private key (PEM; RSA or EC).
        public var key: String

        public init(certificate: String, key: String) {
            self.certificate = certificate
            self.key = key
        }
    }
}
