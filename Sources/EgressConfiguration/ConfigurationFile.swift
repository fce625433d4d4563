/// The YAML (or JSON) file `egressd run --config` reads, as written: every key optional where a
/// default exists. ``ProxyConfiguration`` is its checked form.
struct ConfigurationFile: Decodable {
    var listen: [String]?
    var mode: String?
    var internet: Bool?
    var stateDirectory: String?
    var ca: CertificateAuthorityFile?
    var upstream: UpstreamFile?
    var env: [String: String]?
    var timeouts: TimeoutsFile?
    var rules: [RuleFile]?

    struct CertificateAuthorityFile: Decodable {
        var certificate: String
        var key: String
    }

    struct UpstreamFile: Decodable {
        var mark: UInt32?
        var extraRoots: String?
        var allow: [String]?
    }

    struct TimeoutsFile: Decodable {
        /// Seconds a handler may take to answer.
        var handler: Double?
        /// Seconds to wait for a client's first bytes.
        var sniff: Double?
        /// Seconds an HTTP connection may go without traffic before it is closed.
        var idle: Double?
    }

    struct RuleFile: Decodable {
        var http: String?
        var https: String?
        var respond: RespondFile?
        var forward: ForwardFile?
        var deny: DenyFile?
    }

    struct RespondFile: Decodable {
        var status: Int?
        var headers: [String: String]?
        var body: String?
    }

    struct ForwardFile: Decodable {
        var to: String?
        var setHeaders: [String: String]?
        var removeHeaders: [String]?
    }

    struct DenyFile: Decodable {
        var status: Int?
    }
}
