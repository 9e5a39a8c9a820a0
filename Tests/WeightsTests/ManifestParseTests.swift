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

    /// GNU coreutils 9.1's `sha256sum` output for files named "a\rb", "c\nd" and "e\\f" (bytes
    /// as it printed them): a leading backslash, then the path with `\\`, `\n`, `\r` escaped.
    static let gnuEscaped = "\\2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881  a\\rb\n"
        + "\\a1fce4363854ff888cff4b8e7875d600c2682390412a8cf79b37d0b11148b0fa  c\\nd\n"
        + "\\594e519ae499312b29433b7dd8a97ff068defcba9755b6d5d00e84c524d67b06  e\\\\f\n"

    @Test func escapedPathsReadAsSha256sumWritesThem() throws {
        let manifest = try Manifest.parse(Self.gnuEscaped, file: "SHA256SUMS")
        #expect(manifest.entries.map(\.path) == ["a\rb", "c\nd", "e\\f"])
        #expect(manifest.entries[0].sha256 == "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881")
        #expect(manifest.text == Self.gnuEscaped)
    }

    @Test func everyPathRoundTrips() throws {
        let paths = ["plain.bin", "ends in cr\r", "new\nline", "back\\slash", "\\n literally", "crlf\r\nin the middle", "é\u{301}"]
        let manifest = Manifest(entries: paths.map { Manifest.Entry(sha256: Self.a, path: $0) })
        #expect(try Manifest.parse(manifest.text, file: "SHA256SUMS") == manifest)
        #expect(manifest.text.hasPrefix("\(Self.a)  plain.bin\n\\\(Self.a)  ends in cr\\r\n"))
    }

    @Test func anUnknownEscapeIsRefused() throws {
        for path in ["a\\tb", "trailing\\"] {
            #expect(throws: WeightsError.self) { try Manifest.parse("\\\(Self.a)  \(path)\n", file: "SHA256SUMS") }
        }
        // Unescaped lines keep their backslashes as they are.
        #expect(try Manifest.parse("\(Self.a)  a\\tb\n", file: "SHA256SUMS").entries.map(\.path) == ["a\\tb"])
    }
}
