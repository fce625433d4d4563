import EgressProxy
import EgressRules
import Foundation
import Workers

/// One entry of `rules:`: a protocol, a target, and one of the built-in handlers.
package struct ConfiguredRule: Sendable {
    package enum Scheme: String, Sendable {
        case http, https
    }

    package enum Action: Sendable {
        case respond(RespondWorker.Props)
        case forward(ForwardWorker.Props)
        case deny(status: Int)
    }

    package var scheme: Scheme
    package var target: RuleTarget
    package var action: Action

    init(_ rule: ConfigurationFile.RuleFile, at index: Int) throws(ConfigurationError) {
        let place = "rules[\(index)]"
        switch (rule.http, rule.https) {
        case (let target?, nil):
            scheme = .http
            self.target = try Self.target(target, place)
        case (nil, let target?):
            scheme = .https
            self.target = try Self.target(target, place)
        default:
            throw ConfigurationError("\(place): give exactly one of http: TARGET or https: TARGET")
        }
        let actions = [rule.respond != nil, rule.forward != nil, rule.deny != nil].filter { $0 }.count
        guard actions == 1 else { throw ConfigurationError("\(place): give exactly one of respond, forward or deny") }
        if let respond = rule.respond {
            action = .respond(.init(
                status: try Self.status(respond.status ?? 200, place), headerFields: try Self.fields(respond.headers, place),
                body: respond.body ?? ""
            ))
        } else if let forward = rule.forward {
            action = .forward(.init(
                destination: try Self.destination(forward.to ?? "origin", place),
                setHeaders: try Self.fields(forward.setHeaders, place),
                removeHeaders: try (forward.removeHeaders ?? []).map { name throws(ConfigurationError) in
                    guard let field = HTTPField.Name(name) else { throw ConfigurationError("\(place): \"\(name)\" is not a header name") }
                    return field
                }
            ))
        } else {
            action = .deny(status: try Self.status(rule.deny?.status ?? 403, place))
        }
    }

    /// What the rule does, for `egressd explain` and the logs.
    package var summary: String {
        switch action {
        case .respond(let props):
            return "respond \(props.head.status.code)"
        case .forward(let props):
            let destination: String
            switch props.destination {
            case .origin: destination = "the original destination"
            case .url(let usesTLS, let authority, let basePath): destination = "\(usesTLS ? "https" : "http")://\(authority)\(basePath)"
            }
            var text = "forward to \(destination)"
            if !props.setHeaders.isEmpty { text += ", setting " + props.setHeaders.map(\.name.canonicalName).joined(separator: ", ") }
            if !props.removeHeaders.isEmpty { text += ", removing " + props.removeHeaders.map(\.canonicalName).joined(separator: ", ") }
            return text
        case .deny(let status):
            return "deny \(status)"
        }
    }

    func worker(upstream: UpstreamClient, destinationGuard: DestinationGuard, timeout: Duration) -> Worker {
        let name = "\(scheme.rawValue) \(target): \(summary)"
        switch action {
        case .respond(let props): return Worker(RespondWorker(), props: props, name: name, timeout: timeout)
        case .forward(let props):
            return Worker(ForwardWorker(upstream: upstream, destinationGuard: destinationGuard), props: props, name: name, timeout: timeout)
        case .deny(let status): return Worker(DenyWorker(), props: status, name: name, timeout: timeout)
        }
    }

    private static func target(_ text: String, _ place: String) throws(ConfigurationError) -> RuleTarget {
        do {
            return try RuleTarget(parsing: text)
        } catch {
            throw ConfigurationError("\(place): \(error)")
        }
    }

    private static func status(_ code: Int, _ place: String) throws(ConfigurationError) -> Int {
        guard (200...599).contains(code) else { throw ConfigurationError("\(place): status \(code) is not between 200 and 599") }
        return code
    }

    private static func fields(_ map: [String: String]?, _ place: String) throws(ConfigurationError) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in (map ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard let field = HTTPField.Name(name) else { throw ConfigurationError("\(place): \"\(name)\" is not a header name") }
            fields[field] = value
        }
        return fields
    }

    private static func destination(_ text: String, _ place: String) throws(ConfigurationError) -> ForwardWorker.Destination {
        if text == "origin" { return .origin }
        guard let url = AbsoluteURL(text) else {
            throw ConfigurationError("\(place): forward.to \"\(text)\" is neither origin nor an http(s):// URL with a host")
        }
        let usesTLS = url.scheme == "https", authority = url.authority
        var basePath = url.path
        while basePath.hasSuffix("/") { basePath.removeLast() }
        return .url(usesTLS: usesTLS, authority: authority, basePath: basePath.isEmpty ? "/" : basePath)
    }
}
