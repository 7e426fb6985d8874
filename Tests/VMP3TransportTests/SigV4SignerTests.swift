import Crypto
import Foundation
import Testing
import VMP3Core
import VMP3TestSupport
@testable import VMP3Transport

/// The S3 server used in tests does not check signatures, so the signer is checked here: against
/// AWS's published examples, and against botocore signing the same requests at the same time.
@Suite struct SigV4SignerTests {
    static func date(_ text: String) -> Date {
        ISO8601DateFormatter().date(from: text)!
    }

    @Test("AWS's Signature V4 test suite: get-vanilla")
    func getVanilla() {
        let signer = SigV4Signer(credentials: AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), region: "us-east-1", service: "service")
        let headers = signer.signedHeaders(method: "GET", url: URL(string: "https://example.amazonaws.com/")!, headers: ["host": "example.amazonaws.com"],
                                           payloadHash: nil, date: Self.date("2015-08-30T12:36:00Z"))
        #expect(headers["authorization"] == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        #expect(headers["x-amz-date"] == "20150830T123600Z")
    }

    static let s3Example = SigV4Signer(credentials: AWSCredentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), region: "us-east-1")

    @Test("AWS's S3 example: GET an object with a Range header")
    func s3GetObjectExample() {
        let headers = Self.s3Example.signedHeaders(
            method: "GET", url: URL(string: "https://examplebucket.s3.amazonaws.com/test.txt")!,
            headers: ["host": "examplebucket.s3.amazonaws.com", "range": "bytes=0-9"], payloadHash: SigV4Signer.emptyPayload,
            date: Self.date("2013-05-24T00:00:00Z")
        )
        #expect(headers["authorization"] == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test("AWS's S3 example: a presigned GET valid for 24 hours")
    func s3PresignedExample() {
        let url = Self.s3Example.presignedURL(url: URL(string: "https://examplebucket.s3.amazonaws.com/test.txt")!, expires: .seconds(86_400), date: Self.date("2013-05-24T00:00:00Z"))
        #expect(url.absoluteString.hasSuffix("X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"))
        #expect(url.absoluteString.contains("X-Amz-Expires=86400"))
    }

    /// Asks botocore to sign `spec`.
    func botocore(_ spec: [String: Any]) async throws -> [String: String] {
        let input = testRoot.appendingPathComponent("sign-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: spec).write(to: input)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/botocore_sign.py").path
        let output = try await ExternalTool.run("/bin/sh", ["-c", "python3 '\(script)' < '\(input.path)'"])
        guard output.status == 0, let result = try JSONSerialization.jsonObject(with: output.stdout) as? [String: String] else {
            throw ExternalTool.Failure(description: "botocore: \(output.stderr)")
        }
        return result
    }

    @Test("Authorization headers match botocore's for the same requests, bodies, keys and time", arguments: [
        ("PUT", "http://127.0.0.1:39000/bucket/outputs/ab.mp3", "an MP3's bytes"),
        ("GET", "https://bucket.s3.eu-west-1.amazonaws.com/sources/with%20space/%C3%BCnic%C3%B8de.mp4", ""),
        ("POST", "http://127.0.0.1:39000/bucket/big.bin?uploads=", ""),
        ("PUT", "http://127.0.0.1:39000/bucket/big.bin?partNumber=2&uploadId=a%2Fb%2Bc%3D", "test"),
        ("POST", "http://127.0.0.1:39000/bucket/big.bin?uploadId=xyz", "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>"),
        ("DELETE", "https://s3.amazonaws.com/bucket/k~e_y-1.2", ""),
    ])
    func matchesBotocore(_ method: String, _ url: String, _ body: String) async throws {
        let region = url.contains("eu-west-1") ? "eu-west-1" : "us-east-1"
        let signer = SigV4Signer(credentials: AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "secret/with+chars"), region: region)
        let target = URL(string: url)!
        let ours = signer.signedHeaders(method: method, url: target, headers: ["host": SigV4Signer.hostHeader(target)],
                                        payloadHash: SHA256.hash(data: Data(body.utf8)).hexEncoded, date: Self.date("2026-11-25T01:02:03Z"))
        let theirs = try await botocore([
            "method": method, "url": url, "headers": [:] as [String: String], "body": body, "region": region, "service": "s3",
            "access_key": "AKIDTEST", "secret_key": "secret/with+chars", "timestamp": "20261125T010203Z",
        ])
        #expect(ours["authorization"] == theirs["authorization"])
    }

    @Test("presigned URLs, with their expiry, match botocore's", arguments: [
        ("http://127.0.0.1:39000/bucket/outputs/x.mp3", 900),
        ("https://bucket.s3.amazonaws.com/a%20b/%C3%BC.mp3", 604_800),
        // The download's file name, as the gateway signs it into the URL.
        ("http://127.0.0.1:39000/bucket/outputs/x.mp3?response-content-disposition=attachment%3B%20filename%3D%22talk.mp3%22%3B%20filename%2A%3DUTF-8%27%27t%C3%A4lk.mp3", 300),
    ])
    func presignMatchesBotocore(_ url: String, _ seconds: Int) async throws {
        let signer = SigV4Signer(credentials: AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "secret/with+chars"), region: "us-east-1")
        let ours = signer.presignedURL(url: URL(string: url)!, expires: .seconds(seconds), date: Self.date("2026-11-25T01:02:03Z"))
        let theirs = try await botocore([
            "method": "GET", "url": url, "region": "us-east-1", "service": "s3", "access_key": "AKIDTEST",
            "secret_key": "secret/with+chars", "timestamp": "20261125T010203Z", "presign_expires": seconds,
        ])
        #expect(ours.absoluteString == theirs["url"])
        #expect(ours.absoluteString.contains("X-Amz-Expires=\(seconds)&"))
    }

    @Test("the secret never appears in descriptions, and credentials come from the environment")
    func credentials() {
        let credentials = AWSCredentials.from(Settings(["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s3cr3t"]))
        #expect(credentials?.accessKeyID == "AKID")
        #expect(!"\(credentials!)".contains("s3cr3t"))
        #expect(AWSCredentials.from(Settings([:])) == nil)
    }
}
