import EgressProxy
import EgressRules
import Foundation
import NIOCore
import Workers
import Yams

/// A checked `egressd run` configuration. Every problem in the file is reported with where it is
/// and why, and nothing of a bad file is used (a reload keeps the old configuration).
package struct ProxyConfiguration: Sendable {
    /// The proxy's settings as the library API takes them: addresses and ranges checked, paths
    /// absolute (relative ones were relative to the file's directory).
    package var proxy: InterceptionProxy.Configuration
    /// How long each rule's handler has to answer.
    package var handlerTimeout: Duration
    package var rules: [ConfiguredRule]

    /// Whether traffic no rule intercepts may go out.
    package var internet: Bool { proxy.internet }

    /// Ranges exempted from the pass-through deny list: `proxy.settings.allow`, parsed (the file's
    /// were checked when it was read).
    package var allow: [IPNetwork] { proxy.settings.allow.compactMap(IPNetwork.init) }

    /// Reads and checks the file at `path`; relative paths in it are relative to its directory.
    package static func load(from path: String) throws(ConfigurationError) -> ProxyConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError("cannot read \(path): \((error as NSError).localizedFailureReason ?? "\(error)")")
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            return try parse(text, relativeTo: directory)
        } catch {
            throw ConfigurationError("\(path): \(error)")
        }
    }

    /// Checks a configuration text (YAML; JSON is valid YAML).
    package static func parse(_ text: String, relativeTo directory: String) throws(ConfigurationError) -> ProxyConfiguration {
        let file: ConfigurationFile
        do {
            file = try YAMLDecoder().decode(ConfigurationFile.self, from: text.isEmpty ? "{}" : text)
        } catch let error as DecodingError {
            throw ConfigurationError(Self.describe(error))
        } catch {
            throw ConfigurationError("not valid YAML: \(error)")
        }
        func absolute(_ path: String) -> String {
            path.hasPrefix("/") ? path : URL(fileURLWithPath: directory).appendingPathComponent(path).standardized.path
        }
        let defaults = InterceptionProxy.Configuration()
        let listen = file.listen ?? defaults.listen
        for address in listen { try Self.checkListenAddress(address) }
        guard let mode = CaptureMode(rawValue: file.mode ?? "redirect") else {
            throw ConfigurationError("mode: \"\(file.mode ?? "")\" is neither redirect nor tproxy")
        }
        for (index, text) in (file.upstream?.allow ?? []).enumerated() where IPNetwork(text) == nil {
            throw ConfigurationError("upstream.allow[\(index)]: \"\(text)\" is not an address or CIDR range")
        }
        let rules = try (file.rules ?? []).enumerated().map { index, rule throws(ConfigurationError) in
            try ConfiguredRule(rule, at: index)
        }
        let settings = ProxySettings(
            stateDirectory: absolute(file.stateDirectory ?? defaults.settings.stateDirectory),
            certificateAuthority: file.ca.map { .init(certificate: absolute($0.certificate), key: absolute($0.key)) },
            extraRoots: file.upstream?.extraRoots.map(absolute), upstreamMark: file.upstream?.mark,
            allow: file.upstream?.allow ?? [], env: file.env ?? [:],
            sniffTimeout: try Self.duration(file.timeouts?.sniff, default: ProxySettings.defaultSniffTimeout, "timeouts.sniff"),
            idleTimeout: try Self.duration(file.timeouts?.idle, default: ProxySettings.defaultIdleTimeout, "timeouts.idle")
        )
        let proxy = InterceptionProxy.Configuration(
            listen: listen, transparentProxy: mode == .tproxy, internet: file.internet ?? defaults.internet, settings: settings
        )
        return ProxyConfiguration(
            proxy: proxy,
            handlerTimeout: try Self.duration(file.timeouts?.handler, default: Worker.defaultTimeout, "timeouts.handler"),
            rules: rules
        )
    }

    /// The rules as the proxy runs them, with the built-in handlers bound to their props, and
    /// the internet setting and the guard for unmatched traffic and `forward: origin`: the
    /// file's `allow` ranges, or `destinationGuard` (a container host's, which its containers
    /// keep whatever their file says).
    package func snapshot(upstream: UpstreamClient, destinationGuard: DestinationGuard? = nil) -> InterceptionRules.Snapshot {
        let destinationGuard = destinationGuard ?? DestinationGuard(allowed: allow)
        var snapshot = InterceptionRules.Snapshot(internet: internet, destinationGuard: destinationGuard)
        for rule in rules {
            let worker = rule.worker(upstream: upstream, destinationGuard: destinationGuard, timeout: handlerTimeout)
            switch rule.scheme {
            case .http: snapshot.http.register(rule.target, worker)
            case .https: snapshot.https.register(rule.target, worker)
            }
        }
        return snapshot
    }

    private static func checkListenAddress(_ text: String) throws(ConfigurationError) {
        do {
            _ = try ProxySetup.socketAddress(text)
        } catch {
            throw ConfigurationError("listen: \(error)")
        }
    }

    private static func duration(_ seconds: Double?, default fallback: Duration, _ key: String) throws(ConfigurationError) -> Duration {
        guard let seconds else { return fallback }
        guard seconds > 0, seconds <= 3600 else { throw ConfigurationError("\(key): \(seconds) is not between 0 and 3600 seconds") }
        return .milliseconds(Int64(seconds * 1000))
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return keys.hasPrefix(".") ? String(keys.dropFirst()) : keys.isEmpty ? "the document" : keys
        }
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let cause = context.underlyingError.map { ": \($0)" } ?? ""
            return "\(path(context)): \(context.debugDescription)\(cause)"
        case .keyNotFound(let key, let context):
            return "\(path(context)): missing key \(key.stringValue)"
        @unknown default:
            return "\(error)"
        }
    }
}

/// A configuration that cannot be used, with where and why.
package struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    package let description: String

    init(_ description: String) {
        self.description = description
    }
}
