import VMP3Core

/// What the pipeline needs of an MP3 encoder: samples in, frames appended to the output file,
/// and the LAME/Xing frame written once the stream is complete.
///
/// ``LameEncoder`` encodes on the caller's thread; ``SegmentedMP3Encoder`` cuts the stream into
/// segments, encodes them on several threads and joins them into one stream.
protocol MP3StreamEncoder: AnyObject {
    /// The settings in force (the bit rate and sample rate LAME settled on).
    var settings: LameEncoder.Configuration { get }

    /// Encodes samples `range` of `pcm` (the samples may be changed in place: see
    /// ``LameEncoder/sanitize(_:count:)``) and appends the frames completed so far to `file`.
    func encode(_ pcm: PCMBuffer, range: Range<Int>, to file: AtomicOutputFile) throws(ConversionError)

    /// Encodes whatever is still buffered and appends the last frames to `file`.
    func flush(to file: AtomicOutputFile) throws(ConversionError)

    /// Writes the finished LAME/Xing frame over its placeholder, the first frame, at `offset`.
    func writeLameTag(to file: AtomicOutputFile, at offset: Int64) throws(ConversionError)
}
