// MQTT over WebSockets (RFC 6455) on the listeners with `protocol websockets`, plain or TLS.
//
// A WebSocket connection goes through three phases. *Handshake*: the HTTP request is read into
// one of `max_websockets_handshakes` buffers of `websockets_headers_size` bytes (plan line
// "WebSocket handshake buffers"); a client that finds none free is closed at once (counted).
// The request is answered with 101 (the connection becomes *open*), with a file of `http_dir`
// (*http*: sent with sendfile, then closed), or with an HTTP error and a close. The core sees an
// ordinary connection awaiting CONNECT all along, so `connect_timeout` bounds slow handshakes
// and slow downloads alike. *Open*: raw bytes are read into the core's receive buffer and
// de-framed in place (WebSocketWire.Deframer) before `received`, which sees MQTT bytes only;
// output gets a frame header in front of each writev's MQTT bytes, and `wrote` counts MQTT
// bytes only. Control frames the server sends (a pong, the close frame) and the header of the
// data frame being written go through a small per-connection prefix (`prefixBytes`), written
// ahead of the data in the same writev; a data frame once started is finished before a control
// frame goes out (§5.4). Plan line "WebSocket states": one state per connection slot.
import Bounded
import BrokerCore
import CPlatform
import CTLS
import MidgeText
import WebSocketWire

struct WebSocketState {
  enum Phase: UInt8 { case handshake, open, http }
  var phase = Phase.handshake
  /// Which listener accepted it (for http_dir).
  var listener: UInt8 = 0
  var closeQueued = false
  var deframer = Deframer()
  /// The handshake buffer, or -1; the request bytes in it.
  var buffer: Int32 = -1
  var used: Int32 = 0
  /// http phase: the file being sent, where it is, and the bytes left.
  var file: Int32 = -1
  var fileOffset: Int64 = 0
  var fileLeft: Int64 = 0
  /// The prefix: bytes [prefixStart, prefixEnd) go out before any more data.
  var prefixStart: Int32 = 0
  var prefixEnd: Int32 = 0
  /// MQTT bytes of the data frame being written that are not yet written (its header is out
  /// or in the prefix).
  var frameLeft = 0
}

/// http_dir of one listener: the directory (open) and its resolved path, NUL-terminated.
public final class HTTPDirectory {
  let fd: Int32
  let root: [UInt8]
  public init(path: String) throws(SystemError) {
    var real = [UInt8](repeating: 0, count: 4096)
    let rc = Message.cString(path).withUnsafeBufferPointer { p in
      real.withUnsafeMutableBufferPointer { r in
        p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { c in
          r.baseAddress!.withMemoryRebound(to: CChar.self, capacity: r.count) { cp_http_dir_open(c, $0, r.count) }
        }
      }
    }
    guard rc >= 0 else { throw SystemError(errno: -rc) }
    fd = rc
    root = Array(real.prefix(while: { $0 != 0 })) + [0]
  }
}

public final class WebSockets {
  /// Bytes of a state, its prefix included (plan line "WebSocket states").
  public static let prefixCapacity = 144
  public static var stateBytes: Int { (MemoryLayout<WebSocketState>.stride + prefixCapacity + 15) / 16 * 16 }

  let states: UnsafeMutableRawPointer
  let slots: Int
  let buffers: UnsafeMutableRawPointer
  let bufferBytes: Int
  let freeBuffers: UnsafeMutablePointer<Int32>
  var freeCount: Int
  /// A frame or message may carry one largest packet and the small ones around it.
  let messageLimit: Int

  /// The plan lines: a state per connection slot, then the handshake buffers (each with its
  /// free-list entry). Empty when no listener speaks WebSockets.
  public static func planLines(slots: Int, handshakes: Int, headersBytes: Int) -> [PlatformLine] {
    [
      PlatformLine("WebSocket states", count: slots, bytesEach: stateBytes),
      PlatformLine("WebSocket handshake buffers", count: handshakes, bytesEach: headersBytes + 4),
    ]
  }

  public init(plan: BrokerPlan, first: Int, arena: Arena, packetBytesMax: Int) {
    let stateLine = plan.platform[first]
    let bufferLine = plan.platform[first + 1]
    slots = stateLine.count
    states = arena.bind(stateLine)
    bufferBytes = bufferLine.bytesEach - 4
    buffers = arena.bind(bufferLine)
    freeBuffers = (buffers + bufferLine.count * bufferBytes).bindMemory(to: Int32.self, capacity: bufferLine.count)
    for i in 0..<bufferLine.count { freeBuffers[i] = Int32(bufferLine.count - 1 - i) }
    freeCount = bufferLine.count
    messageLimit = packetBytesMax + 65536
    // The states are not written here (startup RSS): a slot's state is set when a WebSocket
    // listener accepts on it (startWebSocket), and only then read (SocketRecord.ws).
  }

  func state(_ s: Int) -> UnsafeMutablePointer<WebSocketState> {
    (states + s * WebSockets.stateBytes).assumingMemoryBound(to: WebSocketState.self)
  }

  func prefix(_ s: Int) -> UnsafeMutableRawPointer {
    states + s * WebSockets.stateBytes + MemoryLayout<WebSocketState>.stride
  }

  func buffer(_ i: Int32) -> UnsafeMutableRawPointer { buffers + Int(i) * bufferBytes }

  /// Appends bytes to the connection's prefix (callers keep within `prefixCapacity`).
  func append(_ s: Int, _ bytes: UnsafeRawPointer, _ n: Int) {
    let w = state(s)
    if w.pointee.prefixStart == w.pointee.prefixEnd {
      w.pointee.prefixStart = 0
      w.pointee.prefixEnd = 0
    }
    precondition(Int(w.pointee.prefixEnd) + n <= WebSockets.prefixCapacity, "WebSocket prefix overflow")
    (prefix(s) + Int(w.pointee.prefixEnd)).copyMemory(from: bytes, byteCount: n)
    w.pointee.prefixEnd += Int32(n)
  }
}

extension EventLoop {
  // MARK: accept and close

  /// Accept-time hook for a WebSocket listener: a handshake buffer, or a close (counted).
  func startWebSocket(_ id: ConnectionID, listener: Int) {
    guard let ws = webSockets else { return }
    let s = Int(id.slot)
    sockets[s].transport = Transport(tls: sockets[s].transport.overTLS, webSocket: true)
    let w = ws.state(s)
    w.pointee = WebSocketState()
    w.pointee.listener = UInt8(truncatingIfNeeded: listener)
    guard ws.freeCount > 0 else {
      broker.countWebSocket(.refusedHandshake)
      broker.peerClosed(id, reason: .ioError)
      if verbose { Log.line(.notice) { $0.add("WebSocket refused: max_websockets_handshakes in progress") } }
      return
    }
    ws.freeCount -= 1
    w.pointee.buffer = ws.freeBuffers[ws.freeCount]
  }

  func releaseHandshakeBuffer(_ s: Int) {
    guard let ws = webSockets else { return }
    let w = ws.state(s)
    if w.pointee.buffer >= 0 {
      ws.freeBuffers[ws.freeCount] = w.pointee.buffer
      ws.freeCount += 1
      w.pointee.buffer = -1
    }
  }

  /// Close-time hook: the last data and the close frame (best effort, non-blocking), the
  /// handshake buffer and the file back.
  func endWebSocket(_ id: ConnectionID) {
    guard let ws = webSockets else { return }
    let s = Int(id.slot)
    let w = ws.state(s)
    if w.pointee.phase == .open { _ = writeWebSocket(id, closing: true) }
    releaseHandshakeBuffer(s)
    if w.pointee.file >= 0 { _ = cp_close(w.pointee.file) }
    w.pointee = WebSocketState()
  }

  func webSocketOpen(_ s: Int) -> Bool { webSockets?.state(s).pointee.phase == .open }

  func webSocketPrefixPending(_ s: Int) -> Bool {
    guard let ws = webSockets else { return false }
    return ws.state(s).pointee.prefixEnd > ws.state(s).pointee.prefixStart
  }

  /// Queues a close frame (§5.5.1) with `code` (nil: an empty body) unless a data frame is
  /// half written (it could not be interleaved, §5.4), and closes the connection.
  func closeWebSocket(_ id: ConnectionID, code: UInt16?, reason: CloseReason) {
    guard let ws = webSockets else { return }
    let s = Int(id.slot)
    let w = ws.state(s)
    if w.pointee.frameLeft == 0 && !w.pointee.closeQueued {
      var frame: [4 of UInt8] = .init(repeating: 0)
      frame[0] = 0x88
      if let code {
        frame[1] = 2
        frame[2] = UInt8(code >> 8)
        frame[3] = UInt8(code & 0xFF)
      }
      withUnsafeBytes(of: &frame) { ws.append(s, $0.baseAddress!, code == nil ? 2 : 4) }
      w.pointee.closeQueued = true
    }
    broker.peerClosed(id, reason: reason)
  }

  // MARK: reading

  /// read() for a WebSocket connection (its TLS handshake, if any, is done).
  func readWebSocket(_ id: ConnectionID, now: UInt64) {
    guard let ws = webSockets else { return }
    let s = Int(id.slot)
    let w = ws.state(s)
    switch w.pointee.phase {
    case .handshake:
      readHandshake(id, now: now)
      // A handshake that ended in a close gives its buffer back now, not at the end of the
      // turn: a client accepted later in the same turn may take it.
      if broker.closeReason(id) != nil { releaseHandshakeBuffer(s) }
    case .http:
      // Nothing more is read: the answer is being sent, then the connection closes.
      var sink: [64 of UInt8] = .init(repeating: 0)
      _ = withUnsafeMutableBytes(of: &sink) { streamRead(id, $0.baseAddress!, 64) }
    case .open:
      readStream(id, now: now)
    }
  }

  /// A ping was read: its pong goes out now (ahead of the next data frame).
  func answerPing(_ id: ConnectionID) {
    guard let ws = webSockets, ws.state(Int(id.slot)).pointee.deframer.pongPending else { return }
    flush(id)
  }

  /// De-frames `n` raw bytes read at `p` (the core's receive buffer) and hands the MQTT bytes
  /// to the core; false when the connection is closing.
  func deframe(_ id: ConnectionID, _ p: UnsafeMutableRawPointer, _ n: Int, now: UInt64) -> Bool {
    guard let ws = webSockets else { return false }
    let w = ws.state(Int(id.slot))
    let (payload, event) = w.pointee.deframer.deframe(p, count: n, limit: ws.messageLimit)
    if payload > 0 { broker.received(id, count: payload, now: now) }
    switch event {
    case .none:
      return true
    case .close(let code):
      closeWebSocket(id, code: code, reason: .peerClosed)  // §5.5.1: echo the status code
    case .fail(let code):
      broker.countWebSocket(.frameError)
      closeWebSocket(id, code: code.rawValue, reason: .protocolError)
      if verbose {
        Log.line(.notice) { l in
          l.add("connection ")
          l.add(Int(id.slot))
          l.add(": WebSocket frame refused, close ")
          l.add(Int(code.rawValue))
        }
      }
    }
    return false
  }

  func readHandshake(_ id: ConnectionID, now: UInt64) {
    guard let ws = webSockets else { return }
    let s = Int(id.slot)
    let w = ws.state(s)
    guard w.pointee.buffer >= 0 else { return }
    let base = ws.buffer(w.pointee.buffer)
    let used = Int(w.pointee.used)
    let n = streamRead(id, base + used, ws.bufferBytes - used)
    if n == 0 { return }
    w.pointee.used += Int32(n)
    let all = UnsafeRawBufferPointer(start: base, count: used + n)
    guard let end = HTTPRequest.end(all, searchedUpTo: used) else {
      if used + n == ws.bufferBytes {
        // websockets_headers_size is full and the request has not ended.
        answerHTTP(id, HTTPRequest.hasRequestLine(all) ? .headersTooLarge : .uriTooLong)
      }
      return
    }
    let request = UnsafeRawBufferPointer(start: base, count: end)
    let dir = listeners[Int(w.pointee.listener)].httpDirectory
    let answer = HTTPRequest.answer(request, httpDir: dir != nil)
    switch answer {
    case .upgrade(let key, let subprotocol):
      guard upgrade(id, base, key, subprotocol) else { return }
      // Bytes the client sent after its request (frames already): de-framed like any read.
      let extra = used + n - end
      if extra > 0 {
        let buffer = broker.readBuffer(id)
        guard buffer.count >= extra else {
          closeWebSocket(id, code: WebSocketClose.tooBig.rawValue, reason: .protocolError)
          return
        }
        buffer.baseAddress!.copyMemory(from: base + end, byteCount: extra)
        _ = deframe(id, buffer.baseAddress!, extra, now: now)
        broker.readDone(id)
      }
      releaseHandshakeBuffer(s)
    case .file(let path, let head):
      serveFile(id, dir!, base, path, head: head)
    case .index(let head):
      serveFile(id, dir!, base, nil, head: head)
    case .badVersion: answerHTTP(id, .badVersion)
    case .badRequest: answerHTTP(id, .badRequest)
    case .notFound: answerHTTP(id, .notFound)
    case .methodNotAllowed: answerHTTP(id, .methodNotAllowed)
    case .uriTooLong: answerHTTP(id, .uriTooLong)
    case .unsupportedSubprotocol:
      broker.countWebSocket(.handshakeFailed)  // closed without an answer, as Mosquitto 2.0 does
      broker.peerClosed(id, reason: .protocolError)
    }
  }

  /// 101 Switching Protocols (§4.2.2); false when it could not be sent (the connection closes).
  func upgrade(_ id: ConnectionID, _ base: UnsafeMutableRawPointer, _ key: Range<Int>,
               _ subprotocol: WebSocketSubprotocol) -> Bool {
    guard let ws = webSockets else { return false }
    var out = ResponseText()
    out.add("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ")
    var accept: [28 of UInt8] = .init(repeating: 0)
    let rc = withUnsafeMutableBytes(of: &accept) { a in
      ctls_websocket_accept(
        (base + key.lowerBound).assumingMemoryBound(to: UInt8.self), key.count,
        a.baseAddress!.assumingMemoryBound(to: UInt8.self))
    }
    guard rc == 0 else {
      broker.peerClosed(id, reason: .ioError)
      return false
    }
    withUnsafeBytes(of: &accept) { out.add($0) }
    switch subprotocol {
    case .mqtt: out.add("\r\nSec-WebSocket-Protocol: mqtt")
    case .mqttv31: out.add("\r\nSec-WebSocket-Protocol: mqttv3.1")
    case .none, .unsupported: break
    }
    out.add("\r\n\r\n")
    guard sendResponse(id, &out) else { return false }
    ws.state(Int(id.slot)).pointee.phase = .open
    broker.countWebSocket(.upgraded)
    if verbose {
      Log.line(.debug) { l in
        l.add("connection ")
        l.add(Int(id.slot))
        l.add(": WebSocket upgraded")
      }
    }
    return true
  }

  enum HTTPError {
    case badRequest, notFound, methodNotAllowed, uriTooLong, headersTooLarge, badVersion
  }

  /// An HTTP error answer, then the close (counted).
  func answerHTTP(_ id: ConnectionID, _ error: HTTPError) {
    var out = ResponseText()
    switch error {
    case .badRequest: out.add("HTTP/1.1 400 Bad Request\r\n")
    case .notFound: out.add("HTTP/1.1 404 Not Found\r\n")
    case .methodNotAllowed: out.add("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n")
    case .uriTooLong: out.add("HTTP/1.1 414 URI Too Long\r\n")
    case .headersTooLarge: out.add("HTTP/1.1 431 Request Header Fields Too Large\r\n")
    case .badVersion: out.add("HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n")
    }
    out.add("Content-Length: 0\r\nConnection: close\r\n\r\n")
    if verbose {
      let status = out.count
      Log.line(.debug) { l in
        l.add("connection ")
        l.add(Int(id.slot))
        l.add(": HTTP ")
        withUnsafeBytes(of: &out.bytes) { l.add(UnsafeRawBufferPointer(rebasing: $0[9..<min(status, 12)])) }
      }
    }
    _ = sendResponse(id, &out)
    let failedHandshake = error == .badVersion || error == .headersTooLarge || error == .badRequest
    broker.countWebSocket(failedHandshake ? .handshakeFailed : .httpRequest)
    broker.peerClosed(id, reason: failedHandshake ? .protocolError : .clientDisconnect)
  }

  /// Writes a response of at most `ResponseText.capacity` bytes at once; a short write (a fresh
  /// socket's buffer holds it, so only a misbehaving peer) closes the connection.
  func sendResponse(_ id: ConnectionID, _ out: inout ResponseText) -> Bool {
    let count = out.count
    let n = withUnsafeBytes(of: &out.bytes) { b -> Int in
      var slice = IOSlice(base: b.baseAddress!, count: count)
      return streamWrite(id, &slice, 1)
    }
    if n == count { return true }
    if n >= 0 { broker.peerClosed(id, reason: .ioError) }
    return false
  }

  /// GET or HEAD of a file of http_dir ("/" is index.html): 200 and the file, or 404.
  /// `request` is the handshake buffer: the path is NUL-terminated in place.
  func serveFile(_ id: ConnectionID, _ dir: HTTPDirectory, _ request: UnsafeMutableRawPointer, _ path: Range<Int>?,
                 head: Bool) {
    guard let ws = webSockets else { return }
    let s = Int(id.slot)
    let w = ws.state(s)
    let index: StaticString = "index.html"
    let name: UnsafeRawPointer
    let length: Int
    if let path {
      request.storeBytes(of: 0, toByteOffset: path.upperBound, as: UInt8.self)  // a space or '?' was there
      name = UnsafeRawPointer(request + path.lowerBound)
      length = path.count
    } else {
      name = UnsafeRawPointer(index.utf8Start)  // literals are NUL-terminated
      length = index.utf8CodeUnitCount
    }
    var size: Int64 = 0
    let fd = dir.root.withUnsafeBufferPointer { root in
      root.baseAddress!.withMemoryRebound(to: CChar.self, capacity: root.count) { r in
        cp_http_file_open(dir.fd, r, name.assumingMemoryBound(to: CChar.self), &size)
      }
    }
    guard fd >= 0 else { return answerHTTP(id, .notFound) }  // logged there
    if verbose {
      Log.line(.debug) { l in
        l.add("connection ")
        l.add(Int(id.slot))
        l.add(head ? ": HTTP HEAD /" : ": HTTP GET /")
        l.add(UnsafeRawBufferPointer(start: name, count: length))
        l.add(": 200, ")
        l.add(Int64(size))
        l.add(" bytes")
      }
    }
    let type = HTTPRequest.contentType(UnsafeRawBufferPointer(start: name, count: length), 0..<length)
    var out = ResponseText()
    out.add("HTTP/1.1 200 OK\r\nContent-Type: ")
    out.add(type)
    out.add("\r\nContent-Length: ")
    out.add(decimal: size)
    out.add("\r\nCache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n")
    broker.countWebSocket(.httpRequest)
    guard sendResponse(id, &out), !head, size > 0 else {
      _ = cp_close(fd)
      broker.peerClosed(id, reason: .clientDisconnect)
      return
    }
    releaseHandshakeBuffer(s)
    w.pointee.phase = .http
    w.pointee.file = fd
    w.pointee.fileLeft = size
    sendFile(id)
  }

  /// Sends more of the file (up to `writesPerFlush` calls of 64 KiB); closes when done.
  func sendFile(_ id: ConnectionID) {
    guard let ws = webSockets else { return }
    let s = Int(id.slot)
    let w = ws.state(s)
    let overTLS = sockets[s].transport.overTLS
    var writes = 0
    while writes < EventLoop.writesPerFlush && w.pointee.fileLeft > 0 {
      writes += 1
      let want = Int(min(w.pointee.fileLeft, 65536))
      var n: Int
      if overTLS {
        n = sendFileTLS(id, w, want)
        if n < 0 { return }
      } else {
        n = cp_sendfile(sockets[s].fd, w.pointee.file, &w.pointee.fileOffset, want)
        if n == -CP_EAGAIN {
          setInterest(id, out: true)
          return
        }
        if n <= 0 {
          broker.peerClosed(id, reason: .ioError)
          return
        }
      }
      if n == 0 {
        setInterest(id, out: true)
        return
      }
      w.pointee.fileLeft -= Int64(n)
    }
    if w.pointee.fileLeft == 0 {
      broker.peerClosed(id, reason: .clientDisconnect)
    } else {
      setInterest(id, out: true)
    }
  }

  /// TLS: the file is read into the core's receive buffer for this connection (it reads nothing
  /// else in this phase) and written as one record; bytes sent, 0 when blocked, -1 when closed.
  func sendFileTLS(_ id: ConnectionID, _ w: UnsafeMutablePointer<WebSocketState>, _ want: Int) -> Int {
    let buffer = broker.readBuffer(id)
    guard buffer.count > 0 else {
      broker.peerClosed(id, reason: .ioError)
      return -1
    }
    let s = Int(id.slot)
    let retry = tls.map { Int($0.states[Int(sockets[s].tls)].pendingWrite) } ?? 0
    let length = retry > 0 ? retry : min(want, buffer.count, Int(ctls_max_write()))
    let got = cp_pread(w.pointee.file, buffer.baseAddress, length, w.pointee.fileOffset)
    guard got == length else {
      broker.peerClosed(id, reason: .ioError)
      return -1
    }
    var slice = IOSlice(base: UnsafeRawPointer(buffer.baseAddress!), count: length)
    let n = streamWrite(id, &slice, 1)
    if n > 0 { w.pointee.fileOffset += Int64(n) }
    return n
  }

  // MARK: writing

  /// flush() for a WebSocket connection before or after its open phase: a handshake has
  /// nothing to write, an http_dir answer sends more of its file.
  func flushWebSocketPhase(_ id: ConnectionID) {
    guard let ws = webSockets else { return }
    switch ws.state(Int(id.slot)).pointee.phase {
    case .handshake: setInterest(id, out: false)
    case .http: sendFile(id)
    case .open: flush(id)
    }
  }

  /// Up to `writesPerFlush` writes of the prefix (a pong, a close frame, the data frame's
  /// header) and the MQTT bytes as one binary frame per writev (§5.6). `closing`: a close
  /// frame follows the last data (the connection is being closed).
  func writeWebSocket(_ id: ConnectionID, closing: Bool) -> StreamResult {
    guard let ws = webSockets else { return .failed }
    let s = Int(id.slot)
    let w = ws.state(s)
    let data = slices + 1
    let capacity = EventLoop.slicesCapacity - 1
    var writes = 0
    while writes < EventLoop.writesPerFlush {
      var count: Int
      if w.pointee.frameLeft == 0 {
        if w.pointee.prefixEnd == w.pointee.prefixStart && w.pointee.deframer.pongPending && !w.pointee.closeQueued {
          var pong: [127 of UInt8] = .init(repeating: 0)
          withUnsafeMutableBytes(of: &pong) { p in
            let n = w.pointee.deframer.takePong(into: p.baseAddress! + 2)
            p[0] = 0x8A  // FIN, pong (§5.5.3)
            p[1] = UInt8(n)
            ws.append(s, p.baseAddress!, n + 2)
          }
        }
        count = w.pointee.closeQueued ? 0 : broker.gatherOutput(id, into: data, capacity: capacity)
        if count > 0 {
          var total = 0
          for i in 0..<count { total += data[i].count }
          var header: [10 of UInt8] = .init(repeating: 0)
          withUnsafeMutableBytes(of: &header) { h in
            let n = WebSocketFrame.writeHeader(.binary, length: total, into: h.baseAddress!)
            ws.append(s, h.baseAddress!, n)
          }
          w.pointee.frameLeft = total
        } else if closing && !w.pointee.closeQueued {
          var frame: [4 of UInt8] = .init(repeating: 0)
          frame[0] = 0x88
          frame[1] = 2
          frame[2] = UInt8(WebSocketClose.normal.rawValue >> 8)
          frame[3] = UInt8(WebSocketClose.normal.rawValue & 0xFF)
          withUnsafeBytes(of: &frame) { ws.append(s, $0.baseAddress!, 4) }
          w.pointee.closeQueued = true
        }
      } else {
        count = broker.gatherOutput(id, into: data, capacity: capacity)
        var left = w.pointee.frameLeft
        var i = 0
        while i < count && left > 0 {
          if data[i].count > left { data[i].count = left }
          left -= data[i].count
          i += 1
        }
        count = i
      }
      let prefixBytes = Int(w.pointee.prefixEnd - w.pointee.prefixStart)
      if prefixBytes == 0 && count == 0 { return .done }
      var first = data
      if prefixBytes > 0 {
        slices[0] = IOSlice(base: ws.prefix(s) + Int(w.pointee.prefixStart), count: prefixBytes)
        first = slices
        count += 1
      }
      let n = streamWrite(id, first, count)
      writes += 1
      if n <= 0 { return n == 0 ? .blocked : .failed }
      let fromPrefix = min(n, prefixBytes)
      w.pointee.prefixStart += Int32(fromPrefix)
      let payload = n - fromPrefix
      if payload > 0 {
        w.pointee.frameLeft -= payload
        broker.wrote(id, count: payload)
      }
    }
    return .done
  }
}

/// An HTTP response head built on the stack (no allocation).
struct ResponseText {
  static let capacity = 320
  var bytes: [320 of UInt8] = .init(repeating: 0)
  var count = 0

  mutating func add(_ s: StaticString) {
    add(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
  }

  mutating func add(_ b: UnsafeRawBufferPointer) {
    let n = min(b.count, ResponseText.capacity - count)
    var i = 0
    while i < n {
      bytes[count + i] = b[i]
      i += 1
    }
    count += n
  }

  mutating func add(decimal v: Int64) {
    var digits: [20 of UInt8] = .init(repeating: 0)
    var n = 0
    var x = v
    repeat {
      digits[19 - n] = 0x30 + UInt8(x % 10)
      x /= 10
      n += 1
    } while x > 0
    withUnsafeBytes(of: &digits) { add(UnsafeRawBufferPointer(rebasing: $0[(20 - n)...])) }
  }
}
