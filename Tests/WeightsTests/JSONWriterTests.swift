import Testing
import Weights

@Suite("JSON writer") struct JSONWriterTests {
    @Test("Compact, in order, escaped as the reference writer escapes, and read back equal")
    func writesWhatTheReaderReads() throws {
        let value: JSONValue = .object([
            ("z", .string("tab\there \"quoted\" \u{1}é")), ("a", .array([.int(-3), .double(0.5), .float(0.1)])),
            ("nothing", .null), ("yes", .bool(true)), ("inf", .double(.infinity)), ("nan", .float(.nan)),
            ("meta", .sortedStrings(["b": "2", "a": "1", "é": "3", "f": "4"])), ("none", .sortedStrings(nil)),
        ])
        let text = value.serialized()
        #expect(text == #"{"z":"tab\there \"quoted\" \u0001é","a":[-3,0.5,0.1],"nothing":null,"yes":true,"inf":null,"nan":null,"meta":{"a":"1","b":"2","f":"4","é":"3"},"none":null}"#)
        let parsed = unsafe try Array(text.utf8).withUnsafeBytes { unsafe try JSONValue.parse($0) }
        #expect(parsed["z"] == value["z"] && parsed["a"] == value["a"] && parsed["meta"] == value["meta"])
        #expect(parsed["inf"] == .null)
    }
}
