import Foundation
import Testing
import Weights

import WeightsPlatform

/// Files that change after they are opened: mapped reads are guarded and checked, and
/// `mapping: .none` reads into owned memory that nothing can take away (Spec/reading.md).
@Suite struct ChangingFileReadTests {
    /// A file with one F32 tensor of 16,384 ones (64 KiB, 16 pages), dated an hour ago so that
    /// a later write changes its modification time whatever the clock's granularity.
    static func makeFile(in directory: String) throws -> (path: String, dataOffset: Int) {
        let path = directory + "/ones.safetensors"
        let tensor = try Tensor(name: "ones", shape: [16_384], elements: [Float](repeating: 1, count: 16_384))
        try SafetensorsWriter.write([tensor], metadata: nil, to: path, syncToDisk: false)
        var times = [timespec(tv_sec: time(nil) - 3600, tv_nsec: 0), timespec(tv_sec: time(nil) - 3600, tv_nsec: 0)]
        unsafe #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
        return (path, try SafetensorsFile(path: path).dataOffset)
    }

    @Test func unmappedFileKeepsItsBytesWhenTheFileIsTruncated() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (path, _) = try Self.makeFile(in: directory)
        let file = try SafetensorsFile(path: path, mapping: .none)
        #expect(!file.storage.isMapped)
        unsafe #expect(truncate(path, 8) == 0)
        let values = try file.tensor(named: "ones").elements(of: Float.self)
        #expect(values.count == 16_384 && values.allSatisfy { $0 == 1 })
        try file.checkUnchanged()
    }

    @Test func unmappedOpenOfAMissingFileIsAnIOError() throws {
        let error = try #require(throws: WeightsError.self) { try SafetensorsFile(path: "/nonexistent/x.safetensors", mapping: .none) }
        #expect(error.code == .io && error.file == "/nonexistent/x.safetensors")
    }

    /// With the guard on, pages cut off the end of a mapped file read as zeros instead of
    /// raising SIGBUS, and the file reports the change.
    @Test func guardedMappedReadPastTheNewEndReadsZerosAndReportsTheChange() throws {
        ByteStorage.guardMappedReads()
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (path, dataOffset) = try Self.makeFile(in: directory)
        let file = try SafetensorsFile(path: path)
        let tensor = try file.tensor(named: "ones")
        try file.checkUnchanged()
        // Keep the first 8 KiB of data (whole pages of the file, as the data starts inside the first).
        let kept = 8192 - dataOffset
        unsafe #expect(truncate(path, off_t(8192)) == 0)
        let values = try tensor.elements(of: Float.self)        // no SIGBUS
        #expect(values[..<(kept / 4)].allSatisfy { $0 == 1 })
        #expect(values[(kept / 4)...].allSatisfy { $0 == 0 })
        for check in [{ try file.checkUnchanged() }, { try tensor.checkUnchanged() }] {
            let error = try #require(throws: WeightsError.self) { try check() }
            #expect(error.code == .fileChanged)
            #expect(error.file == path)
            #expect(error.description.contains("the file changed while it was read"))
        }
        let error = try #require(throws: WeightsError.self) { try tensor.checkUnchanged() }
        #expect(error.tensor == "ones")
        // Hashing the tensors of the changed file is an error, not a digest of zeros.
        let hashed = try #require(throws: WeightsError.self) { try TensorDigests.compute(for: file) }
        #expect(hashed.code == .fileChanged)
    }

    /// A file rewritten in place, at the same size, is caught by its modification time.
    @Test func fileModifiedInPlaceIsReported() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (path, dataOffset) = try Self.makeFile(in: directory)
        let file = try SafetensorsFile(path: path)
        try file.checkUnchanged()
        let fd = unsafe open(path, O_WRONLY)
        #expect(fd >= 0)
        var zero: Float = 0
        unsafe #expect(pwrite(fd, &zero, 4, off_t(dataOffset)) == 4)
        close(fd)
        let error = try #require(throws: WeightsError.self) { try file.checkUnchanged() }
        #expect(error.code == .fileChanged && error.reason.contains("modified"))
    }

    /// A file replaced by rename is not a change: the mapping keeps the old file, intact.
    @Test func fileReplacedByRenameLeavesTheOpenFileIntact() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (path, _) = try Self.makeFile(in: directory)
        let file = try SafetensorsFile(path: path)
        let other = try Tensor(name: "other", shape: [1], elements: [Float(2)])
        try SafetensorsWriter.write([other], metadata: nil, to: path, syncToDisk: false)
        try file.checkUnchanged()
        #expect(try file.tensor(named: "ones").elements(of: Float.self).allSatisfy { $0 == 1 })
    }
}
