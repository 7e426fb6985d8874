// A client of a running VMP3 gateway (`vmp3 serve`, or vmp3-gateway): registers, logs in,
// uploads a video, follows the job's server-sent progress, and downloads the MP3.
//
//     swift run GatewayClient --url http://127.0.0.1:8080 --email you@example.com video.mp4
//
// The password comes from $VMP3_PASSWORD (or --password). Exit status: 0 with the MP3 written,
// 1 if the job failed (its reason printed), 2 if the gateway refused a request, 64 for bad usage.
import ArgumentParser
import AsyncHTTPClient
import Foundation
import VMP3Core

@main
struct GatewayClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "GatewayClient", abstract: "Convert a video with a VMP3 gateway.")

    @Option(help: "The gateway's address.") var url = "http://127.0.0.1:8080"
    @Option(help: "Your account (registered first if it is new).") var email: String
    @Option(help: "Your password (default: $VMP3_PASSWORD).") var password = ProcessInfo.processInfo.environment["VMP3_PASSWORD"] ?? ""
    @Option(help: "Constant bit rate in kbit/s (default: VBR).") var bitrate: Int?
    @Option(help: "A URL to receive the signed webhook when the job ends.") var webhookURL: String?
    @Flag(help: "Ask for an e-mail when the job ends.") var notifyEmail = false
    @Option(name: .shortAndLong, help: "Where to write the MP3 (default: VIDEO with .mp3).") var output: String?
    @Argument(help: "The video to convert.") var video: String

    func run() async throws {
        var client = GatewayClient(baseURL: url)
        do {
            try await client.register(email: email, password: password)
            try await client.logIn(email: email, password: password)

            var options: [String: String] = ["title": URL(fileURLWithPath: video).deletingPathExtension().lastPathComponent]
            options["bitrate"] = bitrate.map(String.init)
            options["webhook_url"] = webhookURL
            if notifyEmail { options["notify_email"] = "true" }
            let job = try await client.upload(video, options: options)
            print("job \(job.id.rawValue): \(job.status.rawValue)")

            var last = job
            for try await event in try await client.events(of: job.id) {
                last = try JobDocument.makeDecoder().decode(JobDocument.self, from: Data(event.data.utf8))
                if let progress = last.progress, event.name == "progress" {
                    print("progress \(Int(progress * 100))%")
                } else {
                    print("\(event.name): \(last.status.rawValue)")
                }
            }
            guard last.status == .succeeded else {
                print("the job ended \(last.status.rawValue): \(last.failure.map { "\($0.code): \($0.message)" } ?? "no reason given")")
                throw ExitCode(1)
            }
            let mp3 = output ?? URL(fileURLWithPath: video).deletingPathExtension().appendingPathExtension("mp3").path
            let download = try await client.download(job.id, to: mp3)
            for offset in download.resumedAt { print("download cut off; resumed at byte \(offset)") }
            print("wrote \(mp3) (\(download.size) bytes)")
        } catch let error as GatewayError {
            print("the gateway refused: \(error)")
            throw ExitCode(2)
        }
    }
}
