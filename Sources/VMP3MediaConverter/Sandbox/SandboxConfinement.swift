#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CConfinement
import VMP3Sandbox

/// The layers a conversion child puts itself under, in order, before it reads its input:
///
/// 1. resource limits: no core files, address space, CPU seconds, file size, 8 descriptors;
/// 2. new user, network, mount and IPC namespaces, where the kernel allows them unprivileged (a
///    container may not: then the child says so and the other layers hold alone);
/// 3. every capability dropped (a root parent's included);
/// 4. `PR_SET_NO_NEW_PRIVS`;
/// 5. the seccomp-BPF allow-list (`vmp3_confinement_install_filter`): no `open`, no socket, no
///    `execve`, no new process, no executable memory.
///
/// Layer 2 may be missing; any other that fails stops the child before it parses a byte. A
/// request whose settings are not `enabled` (the user chose no sandbox) gets none of them but
/// the refusal to dump core: a core file would hold the user's audio.
enum SandboxConfinement {
    struct Outcome {
        /// Why the namespaces could not be entered, or `nil` if they were (or were not asked for).
        var namespacesRefused: String?
    }

    struct Failure: Error {
        var message: String
    }

    /// Descriptors 0–3 and a few for the runtime; nothing can open more anyway.
    static let maxDescriptors: UInt64 = 8

    static func apply(_ settings: ConfinementSettings) throws(Failure) -> Outcome {
        var outcome = Outcome()
        guard settings.enabled else {
            // Every limit 0, "as it is", but no core files, which are never refused.
            try check(vmp3_confinement_set_limits(0, 0, 0, 0), "cannot set the resource limits")
            return outcome
        }
        try check(
            vmp3_confinement_set_limits(settings.addressSpaceBytes ?? 0, settings.cpuSeconds ?? 0, settings.fileSizeBytes ?? 0, maxDescriptors),
            "cannot set the resource limits"
        )
        if settings.namespaces {
            let error = vmp3_confinement_enter_namespaces()
            if error != 0 { outcome.namespacesRefused = String(cString: strerror(error)) }
        }
        try check(vmp3_confinement_drop_capabilities(), "cannot drop capabilities")
        try check(vmp3_confinement_no_new_privileges(), "cannot set no_new_privs")
        try check(vmp3_confinement_install_filter(), "cannot install the seccomp filter")
        return outcome
    }

    private static func check(_ error: Int32, _ what: String) throws(Failure) {
        if error != 0 { throw Failure(message: "\(what): \(String(cString: strerror(error)))") }
    }
}
