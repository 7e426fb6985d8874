/// Planar 32-bit float samples for one or two channels, in memory this type owns.
///
/// The pipeline's only sample buffer: its size depends on the largest decoded frame, never on the
/// length of the input.
final class PCMBuffer {
    let channelCount: Int
    private(set) var capacity: Int
    /// One plane per channel.
    private(set) var planes: [UnsafeMutablePointer<Float>]
    /// The planes as the `uint8_t **` that `swr_convert` writes into.
    private(set) var planePointers: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>

    init(channelCount: Int, capacity: Int) {
        precondition(channelCount == 1 || channelCount == 2, "MP3 has one or two channels")
        self.channelCount = channelCount
        self.capacity = capacity
        planes = (0..<channelCount).map { _ in .allocate(capacity: capacity) }
        planePointers = .allocate(capacity: channelCount)
        bindPlanePointers()
    }

    deinit {
        planes.forEach { $0.deallocate() }
        planePointers.deallocate()
    }

    /// Makes room for at least `samples` samples per channel (contents are not kept).
    func reserve(_ samples: Int) {
        guard samples > capacity else { return }
        planes.forEach { $0.deallocate() }
        capacity = samples
        planes = (0..<channelCount).map { _ in .allocate(capacity: samples) }
        bindPlanePointers()
    }

    private func bindPlanePointers() {
        for (index, plane) in planes.enumerated() {
            planePointers[index] = UnsafeMutableRawPointer(plane).assumingMemoryBound(to: UInt8.self)
        }
    }
}
