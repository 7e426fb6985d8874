import ArgumentParser
import Foundation
import VMP3Kit
import VMP3Transport

/// `vmp3 create-bucket`: makes the bucket of an `s3://` `VMP3_STORAGE` on its server, signed with
/// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, as the services read them; a bucket that is
/// there already is fine. The compose deployment's one-shot `s3-bucket` service runs it.
struct CreateBucketCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-bucket",
        abstract: "Create the S3 bucket of VMP3_STORAGE if it does not exist."
    )

    func run() async throws {
        let settings = Settings()
        guard let text = settings.text(.storage), let url = URL(string: text), url.scheme == "s3" else {
            ServerFailure.exit("VMP3_STORAGE must be an s3:// URL (it is \(settings.text(.storage) ?? "not set"))", status: 64)
        }
        do {
            // The services' own factory: the same URL parsing and credentials as theirs.
            guard let store = try await TransportBackendFactory(settings: settings).makeObjectStore(url) as? S3ObjectStore else {
                ServerFailure.exit("VMP3_STORAGE is not an S3 store", status: 64)
            }
            try await store.createBucketIfNeeded()
        } catch let error as ConfigurationError {
            ServerFailure.exit(error.message, status: 64)
        } catch {
            ServerFailure.exit("creating the bucket of \(text): \(error)", status: 69)  // EX_UNAVAILABLE
        }
        print("the bucket of \(text) is there")
    }
}
