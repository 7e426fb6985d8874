#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A system call that failed: which call, on which path, and the `errno` it set.
package struct SystemCallError: Error, Sendable, Hashable, CustomStringConvertible {
    package let call: String
    package let path: String
    package let code: Int32

    package init(call: String, path: String, code: Int32) {
        self.call = call
        self.path = path
        self.code = code
    }

    /// The system's words for ``code``: "No such file or directory".
    package var reason: String { String(cString: strerror(code)) }

    package var description: String { "\(call) \(path): \(reason)" }
}

extension Error {
    /// Why a file operation failed, in a few words for a message: the system's reason under a
    /// `FileManager` or `Data` error ("No such file or directory"), ``SystemCallError/reason``,
    /// else the error's own description. (Foundation's `localizedDescription` is not in
    /// FoundationEssentials, and its text, "The operation could not be completed", says less.)
    package var fileFailureReason: String {
        switch self {
        case let error as SystemCallError:
            return error.reason
        case let error as CocoaError:
            if let posix = error.underlying as? POSIXError {
                return String(cString: strerror(posix.code.rawValue))
            }
            return "file error \(error.code.rawValue)"
        case let error as POSIXError:
            return String(cString: strerror(error.code.rawValue))
        default:
            return String(describing: self)
        }
    }
}
