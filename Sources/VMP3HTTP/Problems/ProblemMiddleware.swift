import Hummingbird
import Logging
import VMP3Core

/// Turns every error a route throws into `application/problem+json`: the SDK's typed errors get
/// the status their code means (a job store's `not_found` is 404, a storage outage 503, …);
/// anything unknown is a 500 whose detail is not shown to the client, only logged.
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let problem = Self.problem(for: error)
            if problem.status.code >= 500 {
                context.logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            }
            return try problem.response(from: request, context: context)
        }
    }

    /// The problem document for `error`.
    public static func problem(for error: any Error) -> ProblemDetails {
        switch error {
        case let problem as ProblemDetails:
            return problem
        case let error as HTTPError:
            return ProblemDetails(error.status, code: "http_\(error.status.code)", title: error.status.reasonPhrase, detail: error.body)
        case let error as any ProblemDetailsConvertible:
            return error.problemDetails
        case let error as TokenError:
            return ProblemDetails(.unauthorized, code: "invalid_token", title: "Invalid token", detail: error.message)
        case let error as ConversionError where error.code == .invalidOption:
            return ProblemDetails(.unprocessableContent, code: error.code.rawValue, title: "Invalid option", detail: error.message)
        case let error as JobStoreError:
            switch error.code {
            case .notFound: return .notFound(error.message)
            case .activeLimitReached:
                return ProblemDetails(.tooManyRequests, code: "active_jobs_limit", title: "Too many active jobs", detail: error.message, retryAfter: 30)
            case .conflict, .invalidTransition, .duplicate: return ProblemDetails(.conflict, code: error.code.rawValue, title: "Conflict", detail: error.message)
            default: return ProblemDetails(.serviceUnavailable, code: "store_unavailable", title: "Job store unavailable")
            }
        case let error as StorageError:
            switch error.code {
            case .notFound: return .notFound(error.message)
            default: return ProblemDetails(.serviceUnavailable, code: "storage_unavailable", title: "Storage unavailable")
            }
        case is QueueError:
            return ProblemDetails(.serviceUnavailable, code: "queue_unavailable", title: "Queue unavailable", detail: "the job could not be queued; try again")
        case let error as QuotaExceeded:
            return ProblemDetails(
                .contentTooLarge, code: "quota_exceeded", title: "Storage quota exceeded",
                detail: "your jobs hold \(error.held) of your \(error.quota) bytes; delete some, or wait for them to expire"
            )
        case let error as UploadTooLarge:
            return ProblemDetails(.contentTooLarge, code: "upload_too_large", title: "Upload too large", detail: "uploads are limited to \(error.limit) bytes")
        default:
            return ProblemDetails(.internalServerError, code: "internal", title: "Internal error")
        }
    }
}
