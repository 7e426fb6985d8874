import NIOCore

/// One server-sent event: its `event:` name and its `data:` lines joined by newlines.
struct ServerSentEvent: Sendable, Equatable {
    var name: String
    var data: String
}

/// Turns an HTTP body (chunks split anywhere) into the server-sent events it carries, as the
/// `text/event-stream` format says: lines end at `\n` (or `\r\n`), a blank line ends an event,
/// lines starting with `:` are comments, an event with no `event:` line is a `message`.
struct ServerSentEventParser: Sendable {
    private var line: [UInt8] = []
    private var name = ""
    private var data: [String] = []

    /// The events that `chunk` completes.
    mutating func feed(_ chunk: ByteBuffer) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in chunk.readableBytesView {
            guard byte == UInt8(ascii: "\n") else {
                line.append(byte)
                continue
            }
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            if let event = take(String(decoding: line, as: UTF8.self)) { events.append(event) }
            line.removeAll(keepingCapacity: true)
        }
        return events
    }

    private mutating func take(_ line: String) -> ServerSentEvent? {
        if line.isEmpty {
            defer { name = ""; data = [] }
            return data.isEmpty ? nil : ServerSentEvent(name: name.isEmpty ? "message" : name, data: data.joined(separator: "\n"))
        }
        if line.hasPrefix(":") { return nil }
        let field = line.prefix { $0 != ":" }
        var value = line.dropFirst(field.count).dropFirst()
        if value.hasPrefix(" ") { value = value.dropFirst() }
        switch field {
        case "event": name = String(value)
        case "data": data.append(String(value))
        default: break  // id, retry: this client neither resumes nor reconnects
        }
        return nil
    }
}
