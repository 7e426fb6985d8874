import VMP3Core

/// Planar 32-bit float samples for one or two channels, in memory this type owns.
///
/// The pipeline's only sample buffer, of a fixed size: the resampler fills it a slice at a time,
/// so its size depends neither on the input's length nor on the size of a decoded frame.
final class PCMBuffer {
    let channelCount: Int
    let capacity: Int
    /// One plane per channel.
    let planes: [UnsafeMutablePointer<Float>]
    /// The planes as the `uint8_t **` that `swr_convert` writes into.
    let planePointers: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>

    init(channels: ConversionOptions.Channels, capacity: Int) {
        channelCount = channels.rawValue
        self.capacity = capacity
        planes = (0..<channelCount).map { _ in .allocate(capacity: capacity) }
        planePointers = .allocate(capacity: channelCount)
        bindPlanePointers()
    }

    deinit {
        planes.forEach { $0.deallocate() }
        planePointers.deallocate()
    }

    private func bindPlanePointers() {
        for (index, plane) in planes.enumerated() {
            planePointers[index] = UnsafeMutableRawPointer(plane).assumingMemoryBound(to: UInt8.self)
        }
    }
}
