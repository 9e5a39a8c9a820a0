import Testing
import Weights

/// `Manifest.parse` reads `sha256sum` lines byte by byte (fuzz target `manifest` found it
/// splitting on Characters, for which "\r\n" is one character).
@Suite struct ManifestParseTests {
    static let a = String(repeating: "0123456789abcdef", count: 4)
    static let b = String(repeating: "FEDCBA9876543210", count: 4)

    @Test func crlfLinesAreSeparateEntries() throws {
        let manifest = try Manifest.parse("\(Self.a)  one.bin\r\n\(Self.b) *two.bin\r\n\r\n", file: "SHA256SUMS")
        #expect(manifest.entries.map { [$0.sha256, $0.path] } == [[Self.a, "one.bin"], [Self.b.lowercased(), "two.bin"]])
        #expect(try Manifest.parse(manifest.text, file: "SHA256SUMS") == manifest)
    }

    @Test func aPathMayStartWithACombiningMark() throws {
        let manifest = try Manifest.parse("\(Self.a)  \u{301}name\n", file: "SHA256SUMS")
        #expect(manifest.entries.map(\.path) == ["\u{301}name"])
    }

    @Test func aLineThatIsNotADigestAndPathIsNamed() {
        for text in ["\(Self.a) one.bin\n", "\(Self.a)  \n", String(Self.a.dropLast()) + "g  x\n", "\(Self.a)\u{301}  x\n"] {
            do {
                _ = try Manifest.parse("\(Self.b)  ok\n" + text, file: "SHA256SUMS")
                Issue.record("accepted \(text.debugDescription)")
            } catch let error as WeightsError {
                #expect(error.code == .invalidData && error.file == "SHA256SUMS" && error.reason.contains("line 2"), "\(error)")
            } catch {
                Issue.record("\(error)")
            }
        }
    }
}
