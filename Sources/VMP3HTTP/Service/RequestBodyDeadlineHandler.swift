import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Closes a connection whose request body has not ended in time after its head: an upload's
/// within `uploadTimeout`, any other's (a login's, a registration's: a few hundred bytes of JSON)
/// within `otherTimeout`. A body trickled a byte at a time (which the idle timeout never sees, as
/// the connection is never quiet for long) cannot hold a connection and a request task for
/// ever, and the unauthenticated routes cannot be held for an upload's hour.
///
/// The route reading the body then sees it fail, so a store's all-or-nothing put keeps nothing.
/// The client gets no answer, only the closed connection: by then it is still sending, and the
/// route, not this handler, owns the response.
final class RequestBodyDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let uploadTimeout: TimeAmount
    private let otherTimeout: TimeAmount
    private var deadline: Scheduled<Void>?
    /// Whether a request's body is still coming, and under the upload's deadline.
    private var readingBody = false
    private var underUploadDeadline = false

    init(uploadTimeout: TimeAmount, otherTimeout: TimeAmount) {
        self.uploadTimeout = uploadTimeout
        self.otherTimeout = otherTimeout
    }

    /// Whether `head` starts an upload, whose body may take the upload's deadline: `POST /v1/jobs`
    /// (as the router matches it: empty segments skipped, the query aside).
    static func isUpload(_ head: HTTPRequest) -> Bool {
        guard head.method == .post, let path = head.path?.split(separator: "?", maxSplits: 1).first else { return false }
        return path.split(separator: "/") == ["v1", "jobs"]
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            readingBody = true
            underUploadDeadline = Self.isUpload(head)
            arm(context, underUploadDeadline ? uploadTimeout : otherTimeout)
        case .end:
            readingBody = false
            disarm()
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    /// An answer that goes out while its request's body is still coming (a 401, a refused
    /// upload) leaves the server only discarding the rest: that gets the short deadline, so that
    /// a refused or unauthenticated "upload" cannot hold the connection for the upload's hour.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .head = unwrapOutboundIn(data), readingBody, underUploadDeadline {
            underUploadDeadline = false
            arm(context, otherTimeout)
        }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, _ timeout: TimeAmount) {
        disarm()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) {
            channel.close(promise: nil)
        }
    }

    private func disarm() {
        deadline?.cancel()
        deadline = nil
    }
}
