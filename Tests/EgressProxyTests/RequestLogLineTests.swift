import Testing

@testable import EgressProxy

@Suite struct RequestLogLineTests {
    @Test func valuesAClientChoseCannotForgeFields() {
        var line = RequestLogLine()
        line.add("url", "http://a.example/ action=deny status=200")
        line.add("error", "bad\nrequest \"x\"")
        line.add("action", "handler Greeter")
        #expect(line.message == #"request url="http://a.example/ action=deny status=200" error="bad\nrequest \"x\"" action=handler Greeter"#)
    }

    @Test(arguments: [
        (Duration.zero, "0.000"), (.microseconds(7), "0.007"), (.microseconds(1_050), "1.050"),
        (.milliseconds(12_345), "12345.000"), (.seconds(2) + .nanoseconds(999), "2000.000"), (.microseconds(-5), "0.000"),
    ])
    func durationsAreMillisecondsWithThreeDecimals(duration: Duration, text: String) {
        var bytes: [UInt8] = []
        RequestLogLine.appendMilliseconds(duration, to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == text)
    }

    @Test func numbersAreWrittenInDecimal() {
        var line = RequestLogLine()
        line.add("zero", 0)
        line.add("big", UInt64.max)
        line.add("negative", -42)
        line.add("status", UInt(204))
        #expect(line.message == "request zero=0 big=18446744073709551615 negative=-42 status=204")
    }

    @Test func aRequestLineHasItsFieldsInOrder() {
        let line = RequestLogLine(
            method: "GET", url: .init(scheme: "http", authority: "a.example", path: "/x"), rule: nil, action: .deny, status: 403, bytes: 12,
            started: .now, error: "no internet"
        )
        #expect(line.message.hasPrefix("request method=GET url=http://a.example/x rule=- action=deny status=403 bytes=12 ms="))
        #expect(line.message.hasSuffix(" error=no internet"))
    }

    @Test func aURLAndAnActionWrittenInPartsReadAsOneValue() {
        let plain = RequestLogLine(
            method: "GET", url: .init(scheme: "https", authority: "a.example:8443", path: "/v1"), rule: "a.example",
            action: .handler("Greeter"), status: 200, bytes: 5, started: .now
        )
        #expect(plain.message.hasPrefix("request method=GET url=https://a.example:8443/v1 rule=a.example action=handler Greeter status=200"))
        // One part that needs quoting quotes the whole value, not just that part.
        let query = RequestLogLine(
            method: "GET", url: .init(scheme: "http", authority: nil, path: "/?a=b"), rule: nil, action: .deny, status: 403,
            bytes: 0, started: .now
        )
        #expect(query.message.hasPrefix(#"request method=GET url="http:///?a=b" rule=- action=deny status=403"#))
    }

    @Test func aForwardActionNamesItsTarget() {
        var line = RequestLogLine()
        line.add("action", .forward(UpstreamTarget(host: "2001:db8::7", port: 443, usesTLS: true, serverName: "api.example")))
        line.add("action", .forward(UpstreamTarget(host: "198.51.100.2", port: 80, serverName: "198.51.100.2")))
        line.add("action", .forward(UpstreamTarget(host: "198.51.100.2", port: 80, serverName: "a=b")))
        #expect(line.message == #"request action=forward https://[2001:db8::7]:443 (api.example) action=forward http://198.51.100.2:80 action="forward http://198.51.100.2:80 (a=b)""#)
        #expect(UpstreamTarget(host: "2001:db8::7", port: 443, usesTLS: true, serverName: "api.example").description == "https://[2001:db8::7]:443 (api.example)")
    }
}
