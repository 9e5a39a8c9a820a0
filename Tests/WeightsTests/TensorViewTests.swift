import Foundation
import Testing
import Weights
import WeightsTestSupport

@Suite struct TensorViewTests {
    @Test func typedViewsCheckTheDType() throws {
        let tensor = try Tensor(name: "w", shape: [3], elements: [1.5, -2, 0.25] as [Float])
        #expect(try tensor.elements(of: Float.self) == [1.5, -2, 0.25])
        let error = #expect(throws: WeightsError.self) { try tensor.elements(of: Float16.self) }
        #expect(error?.code == .dtypeMismatch)
        #expect(error?.tensor == "w")
        #expect(try tensor.withSpan(of: Float.self) { $0[1] } == -2)
        #expect(tensor.withBytes { $0.byteCount } == 12)
        #expect(tensor.span.byteCount == 12)
    }

    /// `span` borrows its tensor: a span taken from a temporary tensor (over a mapping that
    /// nothing else holds) stays readable for as long as it is used.
    @Test func spanKeepsItsTensorAlive() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/span.safetensors"
        let values: [Float] = [1.5, -2, 0.25, 8]
        try SafetensorsWriter.write([try Tensor(name: "w", shape: [4], elements: values)], metadata: nil, to: path)
        let span = try SafetensorsFile(path: path).tensor(named: "w").span
        #expect(span.byteCount == 16)
        #expect((0..<4).map { unsafe span.unsafeLoadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } == values)
        let storage = try ByteStorage.map(path: path)
        #expect(storage.span.byteCount == storage.withBytes { $0.byteCount })
    }

    /// A header length of 8k+3 leaves the data at an odd address: views must not trap.
    @Test func misalignedDataIsReadThroughACopy() throws {
        let json = #"{"f":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"d":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}}"#
        let padded = json + String(repeating: " ", count: (11 - json.utf8.count % 8) % 8)
        #expect((padded.utf8.count) % 8 == 3)
        var data = unsafe [Float(3.5), -1].withUnsafeBytes { unsafe Array($0) }
        unsafe data += withUnsafeBytes(of: 2.25) { unsafe Array($0) }
        let file = try SafetensorsFile(bytes: fileBytes(json: padded, data: data))
        let f = try file.tensor(named: "f")
        #expect(!f.isAligned)
        #expect(try f.elements(of: Float.self) == [3.5, -1])
        #expect(try f.floats() == [3.5, -1])
        #expect(unsafe try file.tensor(named: "d").withElements(of: Double.self) { unsafe $0[0] } == 2.25)
    }

    @Test func boolViewsRefuseBytesOtherThanZeroAndOne() throws {
        let good = try Tensor(name: "m", dtype: .bool, shape: [2], bytes: [0, 1])
        #expect(try good.elements(of: Bool.self) == [false, true])
        let bad = try Tensor(name: "m", dtype: .bool, shape: [2], bytes: [0, 2])
        #expect(errorCode { _ = try bad.elements(of: Bool.self) } == .invalidData)
    }

    @Test func floatsWidenEveryFloatingDType() throws {
        let values: [Float] = [1, -2.5, 0.125]
        #expect(try Tensor(name: "a", shape: [3], elements: values.map(Double.init)).floats() == values)
        #expect(try Tensor(name: "a", shape: [3], elements: values.map(Float16.init)).floats() == values)
        #expect(try Tensor(name: "a", shape: [3], elements: values.map(BFloat16.init)).floats() == values)
        #expect(errorCode { _ = try Tensor(name: "a", shape: [1], elements: [1] as [Int32]).floats() } == .dtypeMismatch)
    }

    @Test func bfloat16RoundsToNearestEven() {
        #expect(BFloat16(Float(1)).bitPattern == 0x3F80)
        #expect(BFloat16(Float(bitPattern: 0x3F80_8000)).bitPattern == 0x3F80, "tie goes to even")
        #expect(BFloat16(Float(bitPattern: 0x3F81_8000)).bitPattern == 0x3F82, "tie goes to even")
        #expect(BFloat16(Float(bitPattern: 0x3F80_8001)).bitPattern == 0x3F81)
        #expect(BFloat16(Float.greatestFiniteMagnitude).floatValue == .infinity)
        #expect(BFloat16(-Float.nan).isNaN && BFloat16(-Float.nan).bitPattern & 0x8000 != 0)
        #expect(BFloat16(Float(bitPattern: 0x7F80_0001)).isNaN, "a signalling NaN's payload does not become infinity")
        #expect(BFloat16(Float(bitPattern: 1)).bitPattern == 0, "the smallest subnormal rounds to zero")
    }

    @Test func tensorsOutliveTheirFile() throws {
        let bytes = try SafetensorsWriter.serialize([Tensor(name: "w", shape: [2], elements: [9, 8] as [Int16])], metadata: nil)
        var file: SafetensorsFile? = try SafetensorsFile(bytes: bytes)
        let tensor = try file!.tensor(named: "w")
        file = nil
        #expect(try tensor.elements(of: Int16.self) == [9, 8])
    }

    @Test func lookupOfAMissingNameNamesIt() throws {
        let file = try SafetensorsFile(bytes: try SafetensorsWriter.serialize([], metadata: nil), name: "m.safetensors")
        let error = #expect(throws: WeightsError.self) { try file.tensor(named: "nope") }
        #expect(error?.code == .tensorNotFound)
        #expect(error?.description == "m.safetensors: no tensor named 'nope'")
        #expect(file["nope"] == nil)
    }

    @Test func droppedPagesReadBackUnchangedAndOwnedBytesAreNeverDropped() throws {
        let values = (0..<20_000).map { Float($0) * 0.5 }
        let bytes = try SafetensorsWriter.serialize([Tensor(name: "w", shape: [values.count], elements: values)], metadata: nil)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/w.safetensors"
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let mapped = try SafetensorsFile(path: path).tensor(named: "w")
        #expect(mapped.storage.isMapped)
        #expect(try mapped.floats() == values)
        mapped.advise(.dontNeed)
        #expect(try mapped.floats() == values, "the file's bytes come back from the page cache")

        // On owned memory the same advice would zero the pages; it must do nothing there.
        let owned = try SafetensorsFile(bytes: bytes).tensor(named: "w")
        #expect(!owned.storage.isMapped)
        owned.advise(.dontNeed)
        owned.storage.advise(.dontNeed)
        #expect(try owned.floats() == values)
    }
}
