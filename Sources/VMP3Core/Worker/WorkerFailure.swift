/// What a worker does about an error that ended a job's run.
enum WorkerFailure: Equatable {
    /// Bad media or a bad request: the job fails at once, without retries.
    case permanent(JobFailure)
    /// Worth another try later (storage or store unreachable, local disk trouble).
    case transient(String)
    /// The worker no longer holds the job: it was cancelled, deleted or taken over.
    case lostJob
    /// The worker is stopping: the job goes back to the queue.
    case stopped

    /// Conversion errors that say the input or the request is bad: retrying cannot help.
    static let permanentConversionCodes: Set<ConversionError.Code> = [
        .notMediaFile, .damagedInput, .noAudioStream, .unsupportedCodec, .invalidOption, .encodingFailed,
        .unsupportedContainer, .unsupportedAudioFormat, .inputTooLong, .outputTooLarge, .timeLimit,
        .memoryLimit, .converterCrashed,
    ]

    /// `message` with the worker's temporary copy of the source (`…/vmp3-job-ID-XXXX/source`)
    /// called "the upload": clients read job failures, and the worker's disk layout is none of
    /// their business.
    static func withoutLocalPaths(_ message: String) -> String {
        message.replacing(/\/\S*vmp3-job-[^\/\s]+\/source/, with: "the upload")
    }

    /// What a client may read of a transient failure: where it happened, never its details
    /// (hosts, ports, paths, the backend's own words), which go to the log and the dead letter.
    var publicSummary: String {
        guard case .transient(let detail) = self else { return "an internal failure" }
        for area in ["storage", "job store", "queue", "conversion"] where detail.hasPrefix(area + ":") {
            return area == "conversion" ? "the converter's own files could not be used" : "the service's \(area) was unavailable"
        }
        return "an internal failure"
    }

    init(_ error: any Error) {
        switch error {
        case is CancellationError:
            self = .stopped
        case let error as ConversionError where error.code == .cancelled:
            self = .stopped
        case let error as ConversionError where Self.permanentConversionCodes.contains(error.code):
            self = .permanent(JobFailure(code: error.code.rawValue, message: Self.withoutLocalPaths(error.message)))
        case let error as ConversionError:
            // The input and output are the worker's own temporary files: a problem there is local.
            self = .transient("conversion: \(error.message)")
        case let error as StorageError where error.code == .notFound || error.code == .invalidKey:
            // The store's own words may name its host or bucket: not for the client.
            self = .permanent(JobFailure(code: "source_missing", message: "the job's upload is no longer in storage"))
        case let error as StorageError:
            self = .transient("storage: \(error.message)")
        case let error as JobStoreError where error.code == .leaseLost || error.code == .notFound:
            self = .lostJob
        case let error as JobStoreError:
            self = .transient("job store: \(error.message)")
        case let error as QueueError:
            self = .transient("queue: \(error.message)")
        default:
            self = .transient("\(error)")
        }
    }
}
