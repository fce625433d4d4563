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
        #expect(RequestLogLine.milliseconds(duration) == text)
    }

    @Test func aRequestLineHasItsFieldsInOrder() {
        let line = RequestLogLine(
            method: "GET", url: "http://a.example/x", rule: nil, action: "deny", status: 403, bytes: 12,
            started: .now, error: "no internet"
        )
        #expect(line.message.hasPrefix("request method=GET url=http://a.example/x rule=- action=deny status=403 bytes=12 ms="))
        #expect(line.message.hasSuffix(" error=no internet"))
    }
}
