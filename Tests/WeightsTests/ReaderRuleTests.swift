import Testing
import Weights

/// One test per reader rule, in the order the reader applies them (see Spec/safetensors.md).
@Suite struct ReaderRuleTests {
    @Test func fileShorterThanTheLengthFieldIsHeaderTooSmall() {
        for count in 0..<8 {
            #expect(readError(Array(repeating: 0, count: count))?.code == .headerTooSmall)
        }
    }

    @Test func headerLengthOverTheLimitIsHeaderTooLarge() {
        #expect(readError(fileBytes(json: "{}", declaredLength: 100_000_001))?.code == .headerTooLarge)
        #expect(readError(fileBytes(json: "{}", declaredLength: UInt64.max))?.code == .headerTooLarge)
        #expect(readError(fileBytes(json: "{}", declaredLength: UInt64.max - 7))?.code == .headerTooLarge)
        #expect(readError(fileBytes(json: "{}", declaredLength: 1 << 63))?.code == .headerTooLarge)
    }

    @Test func headerLengthPastTheFileIsInvalidHeaderLength() {
        let error = readError(fileBytes(json: "{}", declaredLength: 1000))
        #expect(error?.code == .invalidHeaderLength)
        #expect(error?.offset == 0)
        #expect(readError(fileBytes(json: "{}", declaredLength: 100_000_000))?.code == .invalidHeaderLength)
    }

    @Test func headerThatIsNotUTF8IsInvalidHeader() {
        var bytes = fileBytes(json: "{\"a\":1}")
        bytes[11] = 0xFF
        let error = readError(bytes)
        #expect(error?.code == .invalidHeader)
        #expect(error?.offset == 11)
        // An overlong encoding and a lone surrogate encoded in UTF-8 are not UTF-8 either.
        #expect(readError(fileBytes(json: "{}") + [] == [] ? [] : withHeader([0x7B, 0xC0, 0xAF, 0x7D]))?.code == .invalidHeader)
        #expect(readError(withHeader([0x7B, 0xED, 0xA0, 0x80, 0x7D]))?.code == .invalidHeader)
    }

    private func withHeader(_ header: [UInt8]) -> [UInt8] {
        unsafe withUnsafeBytes(of: UInt64(header.count).littleEndian) { unsafe Array($0) } + header
    }

    @Test(arguments: [
        "[]", "\"x\"", "1", "null", "", "   ", "{", "{\"a\"}", "{\"a\":}", "{,}", "{\"a\":1,}",
        "{\"w\":\"x\"}",
        "{\"w\":{\"shape\":[],\"data_offsets\":[0,0]}}",
        "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,0]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[]}}",
        "{\"w\":{\"dtype\":\"F128\",\"shape\":[],\"data_offsets\":[0,16]}}",
        "{\"w\":{\"dtype\":\"f32\",\"shape\":[],\"data_offsets\":[0,4]}}",
        "{\"w\":{\"dtype\":32,\"shape\":[],\"data_offsets\":[0,4]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[02],\"data_offsets\":[0,8]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8e0]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551616]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}",
        "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
        "{\"__metadata__\":{\"a\":1}}",
        "{\"__metadata__\":{\"a\":null}}",
        "{\"__metadata__\":[]}",
        "{\"__metadata__\":{},\"__metadata__\":{}}",
        "{\"__metadata__\":{\"a\":\"x\",\"a\":\"y\"}}",
        "{} x", "{}{}",
        "{\"a\\x\":1}", "{\"a\u{01}\":1}", "{\"\\ud800\":1}", "{\"\\udc00\":1}", "{\"\\ud800\\u0041\":1}",
        "{\"w\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1],\"x\":[1,2,}}",
        "{\"w\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1],\"x\":tru}}",
        "{\"w\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1],\"x\":-}}",
        "{\"w\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1],\"x\":1.}}",
    ])
    func malformedJSONIsInvalidHeaderDeserialization(json: String) {
        let error = readError(fileBytes(json: json, data: [0, 0, 0, 0, 0, 0, 0, 0]))
        #expect(error?.code == .invalidHeaderDeserialization, "\(json)")
        #expect(error?.offset != nil)
    }

    @Test func nestingIsBoundedWithoutRecursingForever() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let json = "{\"w\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,0],\"x\":\(deep)}}"
        #expect(readError(fileBytes(json: json))?.code == .invalidHeaderDeserialization)
        let deepObject = String(repeating: "{\"a\":", count: 100_000) + "1" + String(repeating: "}", count: 100_000)
        #expect(readError(fileBytes(json: deepObject))?.code == .invalidHeaderDeserialization)
        // 127 levels inside an unknown key (129 in all) is beyond the reference's limit of 128.
        let limit = String(repeating: "[", count: 127) + String(repeating: "]", count: 127)
        #expect(readError(fileBytes(json: "{\"w\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,0],\"x\":\(limit)}}"))?.code
                == .invalidHeaderDeserialization)
        let within = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: Never.self) {
            try SafetensorsFile(bytes: fileBytes(json: "{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0],\"x\":\(within)}}"))
        }
    }

    @Test func offsetsWithGapsOverlapsOrReversalsAreInvalidOffset() {
        let data = [UInt8](repeating: 0, count: 16)
        let cases: [(String, String)] = [
            ("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,12]}}", "b"),
            ("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}", "b"),
            ("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,0]}}", "a"),
            ("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}", "a"),
        ]
        for (json, tensor) in cases {
            let error = readError(fileBytes(json: json, data: data))
            #expect(error?.code == .invalidOffset, "\(json)")
            #expect(error?.tensor == tensor)
            #expect(error?.description.contains("'\(tensor)'") == true)
        }
    }

    @Test func shapeProductOverflowIsValidationOverflow() {
        let json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}"
        let error = readError(fileBytes(json: json, data: [0, 0, 0, 0]))
        #expect(error?.code == .validationOverflow)
        #expect(error?.tensor == "a")
        // Elements fit, bits do not.
        let bits = "{\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}}"
        #expect(readError(fileBytes(json: bits, data: Array(repeating: 0, count: 8)))?.code == .validationOverflow)
    }

    @Test func packedTypesThatDoNotFillBytesAreMisalignedSlice() {
        let f4 = "{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}"
        #expect(readError(fileBytes(json: f4, data: [0, 0]))?.code == .misalignedSlice)
        let f6 = "{\"a\":{\"dtype\":\"F6_E2M3\",\"shape\":[2],\"data_offsets\":[0,2]}}"
        #expect(readError(fileBytes(json: f6, data: [0, 0]))?.code == .misalignedSlice)
        let ok = "{\"a\":{\"dtype\":\"F6_E3M2\",\"shape\":[4],\"data_offsets\":[0,3]}}"
        #expect(throws: Never.self) { try SafetensorsFile(bytes: fileBytes(json: ok, data: [1, 2, 3])) }
    }

    @Test func spanNotMatchingTheShapeIsTensorInvalidInfo() {
        let json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}"
        let error = readError(fileBytes(json: json, data: [0, 0, 0, 0]))
        #expect(error?.code == .tensorInvalidInfo)
        #expect(error?.tensor == "a")
    }

    @Test func dataSectionOfTheWrongSizeIsMetadataIncompleteBuffer() {
        let json = "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}"
        #expect(readError(fileBytes(json: json, data: [1, 2, 3, 4, 5]))?.code == .metadataIncompleteBuffer)
        #expect(readError(fileBytes(json: json, data: [1, 2, 3]))?.code == .metadataIncompleteBuffer)
        #expect(readError(fileBytes(json: "{}", data: [0]))?.code == .metadataIncompleteBuffer)
    }

    @Test func duplicateNamesAreRefusedEvenThoughTheReferenceKeepsTheLast() {
        let json = "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}"
        let error = readError(fileBytes(json: json, data: [1, 2]))
        #expect(error?.code == .duplicateTensorName)
        #expect(error?.tensor == "a")
    }

    @Test func canonicallyEquivalentNamesAreTwoTensors() throws {
        let json = "{\"\u{E9}\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"e\u{301}\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}"
        let file = try SafetensorsFile(bytes: fileBytes(json: json, data: [7, 9]))
        #expect(file.tensors.count == 2)
        #expect(try file.tensor(named: "\u{E9}").copyBytes() == [7])
        #expect(try file.tensor(named: "e\u{301}").copyBytes() == [9])
    }

    @Test func theReferenceToleratesWhitespaceNullMetadataAndUnknownKeys() throws {
        let json = "  \n{\"__metadata__\":null,\"w\":{\"extra\":{\"k\":[1,2.5,-3e4,true,null,\"s\"]},\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}\t "
        let file = try SafetensorsFile(bytes: fileBytes(json: json, data: [5, 6]))
        #expect(file.metadata == nil)
        #expect(try file.tensor(named: "w").copyBytes() == [5, 6])
    }

    @Test func tensorsComeInDataOrderWhateverTheHeaderOrder() throws {
        let json = "{\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]},\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"z\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}"
        let file = try SafetensorsFile(bytes: fileBytes(json: json, data: [1, 2]))
        #expect(file.tensors.map(\.name) == ["z", "a", "b"])
        // The name index follows the reordering.
        #expect(try file.tensor(named: "a").copyBytes() == [1])
        #expect(try file.tensor(named: "b").copyBytes() == [2])
        #expect(file.contains("z") && !file.contains("y"))
    }

    @Test func everyNameOfALargeHeaderIsFound() throws {
        // Enough names to grow the index several times; data order is the reverse of header order.
        let count = 3_000
        let members = (0..<count).reversed().map { i in
            "\"layer.\(i).w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[\(i),\(i + 1)]}"
        }
        let data = (0..<count).map { UInt8(truncatingIfNeeded: $0) }
        let file = try SafetensorsFile(bytes: fileBytes(json: "{" + members.joined(separator: ",") + "}", data: data))
        #expect(file.tensors.map(\.name) == (0..<count).map { "layer.\($0).w" })
        for i in stride(from: 0, to: count, by: 7) {
            #expect(try file.tensor(named: "layer.\(i).w").copyBytes() == [UInt8(truncatingIfNeeded: i)])
        }
        #expect(!file.contains("layer.\(count).w") && !file.contains("layer.1.") && !file.contains(""))
    }

    @Test func escapedNamesAreDecoded() throws {
        let json = #"{"a\"b\\c\/d\n\u00e9\ud83d\ude00":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}"#
        let file = try SafetensorsFile(bytes: fileBytes(json: json, data: [3]))
        #expect(file.tensors.first?.name == "a\"b\\c/d\n\u{E9}\u{1F600}")
        #expect(try file.tensor(named: "a\"b\\c/d\n\u{E9}\u{1F600}").copyBytes() == [3])
    }

    @Test func missingFileIsAnIOErrorNamingIt() {
        let error = #expect(throws: WeightsError.self) { try SafetensorsFile(path: "/nonexistent/model.safetensors") }
        #expect(error?.code == .io)
        #expect(error?.description.hasPrefix("/nonexistent/model.safetensors: ") == true)
    }
}
