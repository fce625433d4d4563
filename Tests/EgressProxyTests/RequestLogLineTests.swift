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
}
