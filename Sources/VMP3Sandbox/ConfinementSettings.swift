/// The kernel-enforced limits and layers a child puts itself under before it reads its input: part
/// of each ``ConversionChildRequest``, the contract between the parent's side (this module) and
/// the child's (VMP3MediaConverter's `SandboxConfinement`).
package struct ConfinementSettings: Codable, Sendable, Hashable {
    /// `RLIMIT_AS`, or `nil` for none (AddressSanitizer's shadow memory fits no such limit).
    package var addressSpaceBytes: UInt64?
    /// `RLIMIT_CPU`: CPU seconds of all its threads together.
    package var cpuSeconds: UInt64?
    /// `RLIMIT_FSIZE`: the largest file it may write.
    package var fileSizeBytes: UInt64?
    /// Whether to enter new user, network, mount and IPC namespaces.
    package var namespaces: Bool
    /// Whether the child confines itself at all. `false` only when the user chose no sandbox
    /// (`vmp3 convert --no-sandbox`: a trusted file, or a kernel that refuses the filter); the
    /// parent's kills at the time and memory limits and on cancellation hold either way.
    package var enabled: Bool

    package init(addressSpaceBytes: UInt64?, cpuSeconds: UInt64?, fileSizeBytes: UInt64?, namespaces: Bool, enabled: Bool = true) {
        self.addressSpaceBytes = addressSpaceBytes
        self.cpuSeconds = cpuSeconds
        self.fileSizeBytes = fileSizeBytes
        self.namespaces = namespaces
        self.enabled = enabled
    }
}
