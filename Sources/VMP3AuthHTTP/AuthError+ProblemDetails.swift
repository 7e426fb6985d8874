import VMP3Auth
import VMP3HTTP

extension AuthError: ProblemDetailsConvertible {
    /// A bad registration is 422, a taken address 409, wrong credentials 401 (without saying
    /// which of the two was wrong); anything else means the user directory is unavailable.
    public var problemDetails: ProblemDetails {
        switch code {
        case .invalidEmail, .weakPassword: ProblemDetails(.unprocessableContent, code: code.rawValue, title: "Invalid registration", detail: message)
        case .emailTaken: ProblemDetails(.conflict, code: code.rawValue, title: "Address taken", detail: message)
        case .invalidCredentials: ProblemDetails(.unauthorized, code: code.rawValue, title: "Invalid credentials", detail: "wrong e-mail address or password")
        default: ProblemDetails(.serviceUnavailable, code: code.rawValue, title: "Authentication unavailable")
        }
    }
}
