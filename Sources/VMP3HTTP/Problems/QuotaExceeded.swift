/// An upload would take its user's jobs over their storage quota.
public struct QuotaExceeded: Error, Sendable {
    public var quota: Int64
    /// What the user's jobs held when the upload was refused.
    public var held: Int64
}
