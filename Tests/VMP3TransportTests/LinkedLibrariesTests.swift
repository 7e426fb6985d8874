import Foundation
import Testing
import VMP3TestSupport

/// Each executable links only what it uses (Docs/architecture.md, "What each executable links"):
/// the module split is what keeps FFmpeg out of the processes that never convert and SQLite out
/// of the converter, and a new import in the wrong module would bring them back unnoticed.
@Suite struct LinkedLibrariesTests {
    /// The shared libraries the dynamic loader maps for `executable` (`ldd`, so transitive ones too).
    static func libraries(of executable: String) async throws -> Set<String> {
        let output = try await ExternalTool.run("ldd", [builtExecutable(executable)])
        #expect(output.status == 0, "\(output.stderr)")
        return Set(output.text.split(separator: "\n").compactMap { line in
            line.split(separator: " ").first.map { String($0.split(separator: ".").first ?? $0).trimmingCharacters(in: .whitespaces) }
        })
    }

    static let ffmpeg: Set<String> = ["libavformat", "libavcodec", "libswresample", "libswscale", "libavutil", "libmp3lame"]

    @Test("the gateway, the auth service, the notifier, the vmp3 command and GatewayClient link no FFmpeg or LAME",
          arguments: ["vmp3-gateway", "vmp3-auth", "vmp3-notifier", "vmp3", "GatewayClient"])
    func noFFmpeg(_ executable: String) async throws {
        let linked = try await Self.libraries(of: executable)
        #expect(linked.contains("libswiftCore"), "ldd listed nothing we recognise: \(linked.sorted())")
        #expect(linked.isDisjoint(with: Self.ffmpeg), "\(executable) links \(linked.intersection(Self.ffmpeg).sorted())")
    }

    @Test("the converter and the notifier link no SQLite", arguments: ["vmp3-converter", "vmp3-notifier"])
    func noSQLite(_ executable: String) async throws {
        let linked = try await Self.libraries(of: executable)
        #expect(linked.contains("libswiftCore"), "ldd listed nothing we recognise: \(linked.sorted())")
        #expect(!linked.contains("libsqlite3"), "\(executable) links SQLite")
    }

    @Test("the vmp3 command links none of the server's libraries (SQLite, curl, hiredis): `serve` and `create-bucket` are vmp3-server's, which does")
    func commandLinksNoServer() async throws {
        // Not librabbitmq: Debian's libavformat links it for FFmpeg's own AMQP protocol.
        let server: Set<String> = ["libsqlite3", "libcurl", "libhiredis"]
        let linked = try await Self.libraries(of: "vmp3")
        #expect(linked.contains("libswiftCore"), "ldd listed nothing we recognise: \(linked.sorted())")
        #expect(linked.isDisjoint(with: server), "vmp3 links \(linked.intersection(server).sorted())")
        #expect(try await Self.libraries(of: "vmp3-server").isSuperset(of: server))
    }

    @Test("the vmp3 command and the SDK's core build on FoundationEssentials: no Foundation, CoreFoundation or ICU is loaded to convert")
    func commandLinksNoFoundation() async throws {
        let foundation: Set<String> = ["libFoundation", "libFoundationInternationalization", "lib_FoundationICU"]
        let linked = try await Self.libraries(of: "vmp3")
        #expect(linked.contains("libFoundationEssentials"), "ldd listed nothing we recognise: \(linked.sorted())")
        #expect(linked.isDisjoint(with: foundation), "vmp3 links \(linked.intersection(foundation).sorted())")
        #expect(try await Self.libraries(of: "vmp3-server").isSuperset(of: foundation), "the check looks at the right names")
    }

    @Test("the vmp3 command loads no seccomp: only its conversion child, which confines itself, does")
    func commandLinksNoConfinement() async throws {
        #expect(!(try await Self.libraries(of: "vmp3").contains("libseccomp")))
        #expect(try await Self.libraries(of: "vmp3-convert-child").contains("libseccomp"), "the check looks at the right name")
    }

    @Test("the converter and the conversion child do link FFmpeg and LAME: the checks above look at the right names",
          arguments: ["vmp3-converter", "vmp3-convert-child"])
    func converterLinksFFmpeg(_ executable: String) async throws {
        #expect(try await Self.libraries(of: executable).isSuperset(of: Self.ffmpeg))
    }

    @Test("Docs/architecture.md's table of what each executable links is what the loader maps, row by row")
    func tableInTheDocs() async throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let page = try String(contentsOf: repository.appendingPathComponent("Docs/architecture.md"), encoding: .utf8)
        // | `vmp3-gateway` | no | yes | yes | 54 |: the executable, then FFmpeg + LAME, SQLite and
        // hiredis. The count in the last column is left out: it is the debug build's, and the
        // test stage's AddressSanitizer build maps its runtime too.
        let rows = page.split(separator: "\n").compactMap { line -> (String, [Bool])? in
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 5, cells[0].hasPrefix("`"), cells[0].hasSuffix("`"),
                  cells[1...3].allSatisfy({ $0 == "yes" || $0 == "no" }) else { return nil }
            return (String(cells[0].dropFirst().dropLast()), cells[1...3].map { $0 == "yes" })
        }
        #expect(rows.count >= 10, "the table was not found: \(rows.map(\.0))")
        for (executable, expected) in rows {
            let linked = try await Self.libraries(of: executable)
            let actual = [linked.contains("libavcodec") && linked.contains("libmp3lame"), linked.contains("libsqlite3"), linked.contains("libhiredis")]
            #expect(actual == expected, "\(executable): FFmpeg + LAME, SQLite, hiredis are \(actual), the table says \(expected)")
        }
    }

    @Test("the auth service does link SQLite: the check above looks at the right name")
    func authLinksSQLite() async throws {
        #expect(try await Self.libraries(of: "vmp3-auth").contains("libsqlite3"))
    }
}
