import Foundation
import Testing
import VMP3Conformance
import VMP3TestSupport
import VMP3Kit

/// Damaged uploads of many kinds: 300 deterministic mutations of real media in twenty containers
/// and codecs, each converted (under AddressSanitizer and LeakSanitizer in the second test stage).
/// Every one must end in an MP3 or a typed error, within its time limit and a memory bound, with
/// nothing left behind but a finished MP3; a crash or a leak fails the whole run.
@Suite struct MutationCorpusTests {
    /// The repository's root, for its scripts and fixtures.
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let mutationsPerFile = 15

    /// Tight limits so that a mutation declaring hours of audio costs little; the time limit is
    /// what a hang would run into.
    let converter = MediaConverter(configuration: .init(limits: ConversionLimits(
        maxAudioDuration: .seconds(600), maxOutputBytes: 16 << 20, maxConversionTime: .seconds(20)
    )))

    /// The originals, made by `scripts/make-media-corpus.sh` (the fuzzer's seeds too).
    static func originals() async throws -> [URL] {
        let directory = testRoot.appendingPathComponent("mutation-originals")
        let made = try await ExternalTool.run("/bin/bash", [repository.appendingPathComponent("scripts/make-media-corpus.sh").path, directory.path])
        guard made.status == 0 else { throw ExternalTool.Failure(description: "make-media-corpus.sh failed: \(made.stderr)") }
        return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil).sorted { $0.path < $1.path }
    }

    @Test("300 mutations of twenty containers and codecs: each an MP3 or a typed error, in bounded time and memory, nothing left behind")
    func mutations() async throws {
        let originals = try await Self.originals()
        #expect(originals.count >= 20)
        let directory = try makeScratchDirectory()
        var outcomes: [String: Int] = [:]
        var largestGrowth: Int64 = 0
        for original in originals {
            let bytes = try [UInt8](Data(contentsOf: original))
            for index in 0..<Self.mutationsPerFile {
                var generator = SplitMix64(seed: UInt64(index) &* 0x9E37_79B9 ^ UInt64(truncatingIfNeeded: original.lastPathComponent.hashValueStable))
                let mutated = Mutator.mutate(bytes, using: &generator)
                let name = "\(original.lastPathComponent)-\(index)"
                let input = directory.appendingPathComponent(name)
                try Data(mutated).write(to: input)
                let output = directory.appendingPathComponent("out")
                try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)

                let (code, growth, elapsed) = try await MemoryMeasurementLock.shared.exclusively {
                    MemoryHighWaterMark.reset()
                    let before = MemoryHighWaterMark.current
                    let clock = ContinuousClock()
                    let started = clock.now
                    var code = "ok"
                    do throws(ConversionError) {
                        _ = try await converter.convert(input, to: output.appendingPathComponent("out.mp3"))
                    } catch {
                        code = error.code.rawValue
                    }
                    return (code, MemoryHighWaterMark.peak - before, clock.now - started)
                }
                outcomes[code, default: 0] += 1
                largestGrowth = max(largestGrowth, growth)

                #expect(elapsed < .seconds(30), "\(name) took \(elapsed)")
                #expect(growth < 96 << 20, "\(name): peak memory grew by \(growth >> 20) MiB")
                #expect(directoryContents(output) == (code == "ok" ? ["out.mp3"] : []), "\(name) (\(code)) left \(directoryContents(output))")
                #expect(code != ConversionError.Code.cancelled.rawValue && code != ConversionError.Code.inputNotFound.rawValue, "\(name): \(code)")
                try FileManager.default.removeItem(at: output)
                try FileManager.default.removeItem(at: input)
            }
        }
        // The mutations must exercise both outcomes, or they test nothing.
        #expect((outcomes["ok"] ?? 0) > 0 && outcomes.count > 1, "\(outcomes)")
        print("mutation corpus: \(outcomes.sorted { $0.key < $1.key }), largest peak growth \(largestGrowth >> 20) MiB")
    }

    @Test("every input the fuzzer found a bug with converts or fails with a typed error")
    func fuzzRegressions() async throws {
        let folder = Self.repository.appendingPathComponent("Tests/VMP3KitTests/Fixtures/FuzzRegressions")
        let inputs = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
        #expect(!inputs.isEmpty)
        for input in inputs {
            let output = try makeScratchDirectory().appendingPathComponent("out.mp3")
            do throws(ConversionError) {
                _ = try await converter.convert(input, to: output)
            } catch {
                #expect(error.code != .cancelled, "\(input.lastPathComponent): \(error)")
            }
        }
    }
}

/// Deterministic mutations of a file, of the kinds that break parsers: flipped bits, bytes set to
/// boundary values, a cut, a repeated or removed block, a header field overwritten.
enum Mutator {
    static func mutate(_ original: [UInt8], using generator: inout SplitMix64) -> [UInt8] {
        var bytes = original
        guard !bytes.isEmpty else { return bytes }
        // Headers hold the fields parsers trust: most mutations aim at the first 4 KB.
        func position() -> Int {
            let head = min(bytes.count, 4096)
            return generator.next() % 4 == 0 ? Int(generator.next() % UInt64(bytes.count)) : Int(generator.next() % UInt64(head))
        }
        let rounds = 1 + Int(generator.next() % 4)
        for _ in 0..<rounds where !bytes.isEmpty {
            switch generator.next() % 6 {
            case 0: // flip bits
                for _ in 0..<(1 + Int(generator.next() % 16)) {
                    let at = position()
                    bytes[at] ^= UInt8(1 << (generator.next() % 8))
                }
            case 1: // boundary values
                let values: [UInt8] = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE]
                for _ in 0..<(1 + Int(generator.next() % 8)) {
                    bytes[position()] = values[Int(generator.next() % UInt64(values.count))]
                }
            case 2: // a 32-bit field set to an extreme
                let at = position()
                let values: [UInt32] = [0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x0001_0000]
                let value = values[Int(generator.next() % UInt64(values.count))]
                for offset in 0..<4 where at + offset < bytes.count {
                    bytes[at + offset] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(3 - offset)))
                }
            case 3: // cut
                bytes.removeLast(Int(generator.next() % UInt64(bytes.count)))
            case 4: // repeat a block
                let at = position()
                let length = min(bytes.count - at, 1 + Int(generator.next() % 512))
                bytes.insert(contentsOf: bytes[at..<(at + length)], at: at)
            default: // remove a block
                let at = position()
                let length = min(bytes.count - at, 1 + Int(generator.next() % 512))
                bytes.removeSubrange(at..<(at + length))
            }
        }
        return bytes
    }
}

/// A small seeded pseudo-random generator (SplitMix64): the same seed, the same mutations, on
/// every machine and run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

extension String {
    /// FNV-1a of the UTF-8 bytes: unlike `hashValue`, the same in every process.
    var hashValueStable: UInt64 {
        utf8.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
    }
}
