import Foundation
import Testing
@testable import VMP3Core

/// VMP3Core, VMP3MediaConverter and `vmp3` build on FoundationEssentials, without the full
/// Foundation (CoreFoundation, ICU); these are the few things they wrote for themselves in its
/// place, checked against what Foundation does.
@Suite struct FoundationEssentialsTests {
    @Test("whitespace and line breaks are the scalars of CharacterSet.whitespaces and .newlines, all of them")
    func scalarClasses() {
        var mismatches: [String] = []
        for value in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            if scalar.isHorizontalWhitespace != CharacterSet.whitespaces.contains(scalar) {
                mismatches.append("whitespace U+\(String(value, radix: 16))")
            }
            if scalar.isLineBreak != CharacterSet.newlines.contains(scalar) {
                mismatches.append("newline U+\(String(value, radix: 16))")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(20))")
    }

    @Test("trimming gives what trimmingCharacters(in:) gives", arguments: [
        "", " ", "\t a b \t", "\u{3000}x\u{A0}", " \n x \r\n", "\u{2028}y\u{85}", "é\u{301} ", "  \u{200B}z", "a",
    ])
    func trimming(_ text: String) {
        #expect(text.trimmingWhitespace() == text.trimmingCharacters(in: .whitespaces))
        #expect(text.trimmingWhitespaceAndNewlines() == text.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(text[...].trimmingWhitespace() == text.trimmingCharacters(in: .whitespaces))
    }

    @Test("decimal(places:) writes what String(format: \"%.Nf\") writes, but for values a rounding error from a half")
    func decimals() {
        // A fixed sequence (SplitMix64), so that every run checks the same values.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var values: [Double] = [0, -0.0, 0.04, -0.04, 0.05, 1, -1, 9.96, 99.95, 221.34, -23.049, 1e14, -7.5e13]
        for _ in 0..<5_000 {
            let magnitude = Double(next() % 1_000_000_000) / 1000 / pow(10, Double(next() % 7))
            values.append(next() % 2 == 0 ? magnitude : -magnitude)
        }
        var mismatches: [String] = []
        var compared = 0
        for value in values {
            for places in 0...3 {
                // printf rounds the binary value exactly; decimal(places:) rounds value × 10^N as
                // a Double computes it, which may land on the other side of a half.
                let scaled = value.magnitude * pow(10, Double(places))
                guard abs(scaled - scaled.rounded(.down) - 0.5) > 1e-6 else { continue }
                compared += 1
                let expected = String(format: "%.\(places)f", value)
                if value.decimal(places: places) != expected { mismatches.append("\(value) %.\(places)f: \(value.decimal(places: places)) != \(expected)") }
                let signed = String(format: "%+.\(places)f", value)
                if value.decimal(places: places, plusSign: true) != signed { mismatches.append("\(value) %+.\(places)f") }
            }
        }
        #expect(compared > 15_000)
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(compared): \(mismatches.prefix(10))")
        #expect(Double.infinity.decimal(places: 1) == "inf")
        #expect(Double.nan.decimal(places: 1) == "nan")
        #expect(1e300.decimal(places: 2) == 1e300.description)
    }

    @Test("padded(toWidth:) pads as %02d and %3d do")
    func padding() {
        for number in [0, 5, 42, 100, 1234] {
            #expect(String(number).padded(toWidth: 2, with: "0") == String(format: "%02d", number))
            #expect(String(number).padded(toWidth: 3) == String(format: "%3d", number))
        }
    }

    @Test("OpenFile writes a new file only, reads it back to its end, seeks, and refuses work once closed")
    func openFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vmp3-openfile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("data").path

        let writer = try OpenFile(path: path, mode: .createNew)
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try writer.write(bytes)
        try writer.synchronize()
        writer.close()
        writer.close()
        #expect(throws: SystemCallError(call: "write", path: path, code: EBADF)) { try writer.write([1]) }
        let exists = #expect(throws: SystemCallError.self) { try OpenFile(path: path, mode: .createNew) }
        #expect(exists?.code == EEXIST && exists?.reason == "File exists", "\(String(describing: exists))")

        let reader = try OpenFile(path: path, mode: .read)
        #expect(try reader.read(upTo: 60_000) == Array(bytes[0..<60_000]))
        #expect(try reader.read(upTo: 60_000) == Array(bytes[60_000...]), "fewer only at the end")
        #expect(try reader.read(upTo: 10).isEmpty)
        try reader.seek(to: 99_990)
        #expect(try reader.read(upTo: 100) == Array(bytes[99_990...]))
        reader.close()
        #expect(throws: SystemCallError(call: "read", path: path, code: EBADF)) { try reader.read(upTo: 1) }

        let missing = #expect(throws: SystemCallError.self) { try OpenFile(path: path + "-missing", mode: .read) }
        #expect(missing?.reason == "No such file or directory")
        #expect(missing?.description == "open \(path)-missing: No such file or directory")
    }

    @Test("fileFailureReason gives the system's words under a FileManager error")
    func fileFailureReason() {
        do {
            _ = try FileManager.default.attributesOfItem(atPath: "/nonexistent-\(UUID().uuidString)")
            Issue.record("no error")
        } catch {
            #expect(error.fileFailureReason == "No such file or directory")
        }
        #expect(SystemCallError(call: "read", path: "/x", code: EACCES).fileFailureReason == "Permission denied")
    }
}
