import VMP3Core
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

/// A cover taken from a frame of the source's video: the key frame at or before a time, scaled to
/// at most ``CoverArt/frameSize`` pixels on its longer side (square pixels), as a JPEG.
///
/// It reads the conversion's own container, before the audio is converted (which then opens the
/// input afresh), so that the demuxer's index is never held twice, within bounds of its own:
/// ``timeLimit``, ``maxPackets`` of video read after the seek, the decoder's own limits
/// (``StreamDecoder/videoKeyFrames(container:streamIndex:)``). Nothing here fails the
/// conversion: a video that cannot give a frame (a codec outside
/// ``StreamDecoder/coverDecoders``, damage, a picture over
/// ``ConversionLimits/maxCoverFramePixels``, time up) gives no cover, and says why in the log.
/// Only a cancelled conversion stops here.
struct VideoFrameCover {
    var input: URL
    var limits: ConversionLimits
    var cancellation: CancellationFlag
    var logger: Logger

    /// The longest the frame may take to find, decode, scale and encode (both tries, when the
    /// first after a seek finds none and the second reads from the start).
    static let timeLimit: Duration = .seconds(10)
    /// Packets of the video stream read after the seek without a key frame before giving up.
    static let maxPackets = 2000

    /// The cover, or `nil` with the reason logged.
    ///
    /// `container` is the input as it was opened, nothing read from it yet; the cover seeks and
    /// reads it, and closes it (``InputContainer/close()``) when it is done.
    ///
    /// - Throws: only ``ConversionError/Code/cancelled``.
    func take(at seconds: Double, from container: InputContainer) throws(ConversionError) -> ID3v2Tag.Picture? {
        let stop = StopCondition(cancellation: cancellation, timeLimit: Self.timeLimit)
        defer { container.close() }
        do {
            let picture: ID3v2Tag.Picture
            do {
                // The container was opened under the conversion's bounds; the cover's are tighter.
                picture = try container.interrupting(with: stop) { () throws(Failure) in try frame(at: seconds, in: container, stop: stop) }
            } catch where error.foundNoFrame && seconds > 0 {
                // A seek can land past the only key frame (or the headers a decoder needs before
                // it): the first key frame of the video is a cover too, read from the input
                // opened afresh (the one before is closed first).
                container.close()
                picture = try frame(at: 0, in: try reopened(stop: stop), stop: stop)
            }
            logger.debug("took a video frame as the cover", metadata: ["at": "\(CoverArt.frame(at: seconds).argument)", "bytes": "\(picture.bytes.count)"])
            return picture
        } catch {
            if stop.reason == .cancelled { throw .cancelled() }
            logger.info("no cover from the video", metadata: ["at": "\(CoverArt.frame(at: seconds).argument)", "reason": "\(error.reason)"])
            return nil
        }
    }

    /// Why no frame: for the log.
    private struct Failure: Error {
        var reason: String
        /// The video was read to the end, or for ``maxPackets``, without a picture.
        var foundNoFrame = false
    }

    private func reopened(stop: StopCondition) throws(Failure) -> InputContainer {
        do {
            return try MediaInput.open(input, limits: limits, stop: stop)
        } catch {
            throw Failure(reason: error.message)
        }
    }

    private func frame(at seconds: Double, in container: InputContainer, stop: StopCondition) throws(Failure) -> ID3v2Tag.Picture {
        guard let index = container.firstVideoStream() else { throw Failure(reason: "the source has no video") }
        let codec = container.streamInfo(index).codec
        let decoder: StreamDecoder
        do {
            decoder = try StreamDecoder.videoKeyFrames(container: container, streamIndex: index)
        } catch {
            throw Failure(reason: error == .decoderNotFound ? "no cover is taken from \(codec) video" : "the \(codec) decoder: \(error.message)")
        }
        container.discardAllStreams(except: index)
        // A failed seek reads from the start: the first key frame is a cover too.
        if seconds > 0 { try? container.seek(streamIndex: index, to: seconds) }

        let packet: Packet, picture: Frame
        do {
            packet = try Packet()
            picture = try Frame()
        } catch {
            throw Failure(reason: "out of memory")
        }
        var packets = 0
        var decoded = false
        reading: while !decoded {
            if let reason = stop.reason { throw Failure(reason: reason == .cancelled ? "cancelled" : "no frame within \(Self.timeLimit)") }
            let more: Bool
            do { more = try container.read(into: packet) } catch { throw Failure(reason: "reading the video: \(error.message)") }
            guard more else {
                decoder.finish()
                decoded = (try? decoder.receive(into: picture)) == .frame
                break reading
            }
            defer { packet.unref() }
            guard packet.streamIndex == index else { continue }
            packets += 1
            guard packets <= Self.maxPackets else { throw Failure(reason: "no key frame in \(Self.maxPackets) packets", foundNoFrame: true) }
            // A damaged packet is skipped; the decoder takes the next key frame.
            guard (try? decoder.send(packet)) != nil else { continue }
            decoded = (try? decoder.receive(into: picture)) == .frame
            if !decoded && packet.isKey {
                // Decoders that reorder hold a picture back until later ones arrive, and later ones
                // are skipped: draining gives it now. If none comes, start again on the next key frame.
                decoder.finish()
                decoded = (try? decoder.receive(into: picture)) == .frame
                if !decoded { decoder.reset() }
            }
        }
        guard decoded else { throw Failure(reason: "the video has no decodable key frame there", foundNoFrame: true) }

        let width = Int(picture.pointer.pointee.width), height = Int(picture.pointer.pointee.height)
        guard width > 0, height > 0, width * height <= ConversionLimits.maxCoverFramePixels else {
            throw Failure(reason: "a \(width)×\(height) picture")
        }
        let frameAspect = picture.pointer.pointee.sample_aspect_ratio
        let aspect = frameAspect.num > 0 && frameAspect.den > 0 ? (frameAspect.doubleValue ?? 1) : container.pixelAspectRatio(ofStream: index)
        let size = Self.coverSize(width: width, height: height, pixelAspect: aspect)
        guard let scaler = PictureScaler(from: picture, width: Int32(size.width), height: Int32(size.height)) else {
            throw Failure(reason: "a picture format the scaler does not read")
        }
        let bytes: [UInt8]
        do {
            bytes = try JPEGEncoder.encode(try scaler.scale(picture))
        } catch {
            throw Failure(reason: "encoding the JPEG: \(error.message)")
        }
        guard bytes.count <= CoverArt.maximumBytes, PictureType.of(bytes) == "image/jpeg" else {
            throw Failure(reason: "the JPEG came out at \(bytes.count) bytes")
        }
        return ID3v2Tag.Picture(mimeType: "image/jpeg", bytes: bytes)
    }

    /// The cover's size for a `width` × `height` picture whose pixels are `pixelAspect` wide:
    /// square pixels, the longer side at most ``CoverArt/frameSize``, never enlarged, even sides.
    static func coverSize(width: Int, height: Int, pixelAspect: Double) -> (width: Int, height: Int) {
        let aspect = pixelAspect.isFinite && pixelAspect > 0.1 && pixelAspect < 10 ? pixelAspect : 1
        let displayWidth = Double(width) * aspect, displayHeight = Double(height)
        let scale = min(1, Double(CoverArt.frameSize) / max(displayWidth, displayHeight))
        func even(_ value: Double) -> Int { max(2, min(CoverArt.frameSize, Int((value * scale / 2).rounded()) * 2)) }
        return (even(displayWidth), even(displayHeight))
    }
}
