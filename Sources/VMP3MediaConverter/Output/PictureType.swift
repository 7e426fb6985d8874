/// The MIME type of a cover picture, told by its first bytes: only JPEG and PNG, the two every
/// player shows, are written into an MP3.
enum PictureType {
    /// `image/jpeg`, `image/png`, or `nil` for anything else.
    static func of(_ bytes: some Collection<UInt8>) -> String? {
        let head = Array(bytes.prefix(8))
        if head.starts(with: [0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        if head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return "image/png" }
        return nil
    }
}
