/// A chapter of the source, as the MP3 carries it (ID3v2 `CHAP`, listed by a `CTOC`): its start
/// and end in seconds of the MP3 and its title.
public struct Chapter: Sendable, Hashable, Codable {
    public var start: Double
    public var end: Double
    public var title: String?

    /// The most chapters an MP3 is given: a table of contents lists at most 255.
    public static let maximumCount = 255

    public init(start: Double, end: Double, title: String? = nil) {
        self.start = start
        self.end = end
        self.title = title
    }

    /// The source's chapters as they fall in an MP3 that starts at `start` seconds of the source
    /// and lasts `duration` (to the end of `length` when `nil`): shifted, clipped, those outside
    /// left out, in order, at most ``maximumCount``. A chapter with no end of its own ends where
    /// the next one starts (or with the MP3).
    public static func placed(_ chapters: [Chapter], start: Double = 0, duration: Double? = nil, length: Double? = nil) -> [Chapter] {
        // The MP3's end in its own time: the duration asked for, else what is left of the source.
        let outputEnd = duration ?? length.map { max(0, $0 - start) }
        let sorted = chapters.filter { $0.start.isFinite && $0.start >= 0 }.sorted { $0.start < $1.start }
        var placed: [Chapter] = []
        for (index, chapter) in sorted.enumerated() {
            let next = index + 1 < sorted.count ? sorted[index + 1].start : nil
            let ownEnd = chapter.end.isFinite && chapter.end > chapter.start ? chapter.end : nil
            guard let sourceEnd = ownEnd ?? next ?? length else { continue }
            let from = max(0, chapter.start - start)
            var to = sourceEnd - start
            if let outputEnd { to = min(to, outputEnd) }
            guard to > from else { continue }
            placed.append(Chapter(start: from, end: to, title: chapter.title))
            if placed.count == maximumCount { break }
        }
        return placed
    }
}
