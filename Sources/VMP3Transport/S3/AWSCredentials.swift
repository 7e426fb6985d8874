import Foundation
import VMP3Core

/// An AWS access key, from the environment (never from code or configuration URLs).
public struct AWSCredentials: Sendable, Hashable {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// `Setting.awsAccessKeyID`, `Setting.awsSecretAccessKey` and, if set,
    /// `Setting.awsSessionToken`; `nil` without the first two.
    public static func from(_ settings: Settings) -> AWSCredentials? {
        guard let id = settings.text(.awsAccessKeyID), let secret = settings.text(.awsSecretAccessKey) else { return nil }
        return AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: settings.text(.awsSessionToken))
    }
}

extension AWSCredentials: CustomStringConvertible {
    /// Never prints the secret.
    public var description: String { "AWSCredentials(\(accessKeyID), secret: ***)" }
}
