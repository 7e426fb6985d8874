import NIOCore
import NIOHTTPTypes

/// Closes a connection whose request body has not ended within `timeout` of its head: an upload
/// trickled a byte at a time (which the idle timeout never sees, as the connection is never
/// quiet for long) cannot hold a connection, a request task and an upload in progress for ever.
///
/// The route reading the body then sees it fail, so a store's all-or-nothing put keeps nothing.
/// The client gets no answer, only the closed connection: by then it is still sending, and the
/// route, not this handler, owns the response.
final class RequestBodyDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
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
        case .head:
            disarm()
            let channel = context.channel
            deadline = context.eventLoop.scheduleTask(in: timeout) {
                channel.close(promise: nil)
            }
        case .end:
            disarm()
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    private func disarm() {
        deadline?.cancel()
        deadline = nil
    }
}
