/// An upload went over the gateway's size limit.
public struct UploadTooLarge: Error, Sendable {
    public var limit: Int64
}
