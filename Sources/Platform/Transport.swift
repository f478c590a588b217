// The transport layer: how a connection's bytes travel, in two layers.
//
//   core (MQTT bytes: readBuffer/received, gatherOutput/wrote)
//     |  framing:  none | WebSocket frames (WebSocket.swift: handshake, de-framing in place,
//     |            a frame header ahead of each writev's MQTT bytes)
//     |  stream:   TCP (cp_read, cp_writev) | TLS over TCP (TLS.swift: handshake, ctls_read,
//     |            one record per ctls_write)
//   socket (fd, epoll interest: SocketRecord)
//
// `Transport` names the four combinations; the event loop (EventLoop.swift, Shutdown.swift,
// Linger.swift) drives every connection through the same five operations and never asks which
// it is: `startTransport` (accept time), `read` (readable), `flush` (writable, or output
// queued), `drain` (shutdown: output only) and `endTransport` (close time: the last bytes, a
// close frame, close_notify, per-transport state back to its pool). Dispatch is a switch on a
// one-byte enum in the socket record: no existential, no allocation; payload bytes go from the
// core's buffers to the kernel (or mbedTLS) as they are, framing adds only its headers.
//
// Outbound connections (the bridge) fit the same shape: once a socket is connected, a start
// hook of its own (TLS as a client needs mbedTLS's SSL_CLI_C, not built today) sets the record's
// transport, and read/flush/drain/end apply unchanged (the stream layer does not care who
// connected).
import Bounded
import BrokerCore
import CPlatform
import CTLS

/// The byte stream (TCP, or TLS over TCP) and the framing over it (none, or WebSocket).
enum Transport: UInt8 {
  case tcp = 0
  case tls = 1
  case webSocket = 2
  case webSocketTLS = 3

  init(tls: Bool, webSocket: Bool) {
    self = webSocket ? (tls ? .webSocketTLS : .webSocket) : (tls ? .tls : .tcp)
  }
  /// The stream is TLS (the record's `tls` is its session slot).
  var overTLS: Bool { rawValue & 1 != 0 }
  /// MQTT travels in WebSocket frames (its state is `webSockets.state(slot)`).
  var framed: Bool { rawValue & 2 != 0 }
}

enum StreamResult { case done, blocked, failed }

extension EventLoop {
  // MARK: the five operations the event loop drives

  /// Accept-time hook: the listener's transport for the connection just opened (a TLS session,
  /// a WebSocket handshake buffer). A refusal closes the connection (counted).
  func startTransport(_ id: ConnectionID, fd: Int32, listener index: Int) {
    let listener = listeners[index]
    if let t = listener.tls { startTLS(id, fd: fd, listener: t) }  // sets .tls when a session is free
    if listener.websockets { startWebSocket(id, listener: index) }  // sets .webSocket(TLS)
  }

  /// The connection is readable: bytes into the core's buffers (at most `readsPerEvent` reads).
  func read(_ id: ConnectionID, now: UInt64) {
    let s = Int(id.slot)
    let transport = sockets[s].transport
    let t = sockets[s].tls
    if transport.overTLS, let tls, tls.states[Int(t)].handshaking, !advanceHandshake(id, t) { return }
    if transport.framed {
      readWebSocket(id, now: now)
    } else {
      readStream(id, now: now)
    }
    // Decrypted bytes mbedTLS still holds are invisible to epoll (served by serveTLSPending).
    if transport.overTLS, let tls, sockets[s].tls == t, ctls_pending(tls.blob(t)) != 0 { tls.markPending(t) }
  }

  /// Writes queued output (up to `writesPerFlush` writes); EPOLLOUT only after EAGAIN.
  func flush(_ id: ConnectionID) {
    let s = Int(id.slot)
    let transport = sockets[s].transport
    if transport.overTLS, let tls, tls.states[Int(sockets[s].tls)].handshaking {
      if advanceHandshake(id, sockets[s].tls) { read(id, now: cp_monotonic_ms()) }
      return
    }
    if transport.framed && !webSocketOpen(s) { return flushWebSocketPhase(id) }
    switch writeOutput(id, closing: false) {
    case .blocked: setInterest(id, out: true)
    case .failed: return
    case .done: setInterest(id, out: hasOutput(id))
    }
  }

  /// Shutdown: writes what is queued; polls for EPOLLOUT (never EPOLLIN) while any is left. A
  /// connection still in a handshake (TLS, WebSocket) has nothing to write.
  func drain(_ id: ConnectionID) {
    let s = Int(id.slot)
    let transport = sockets[s].transport
    if transport.overTLS, let tls, tls.states[Int(sockets[s].tls)].handshaking { return }
    if transport.framed && !webSocketOpen(s) { return }
    let r = writeOutput(id, closing: false)
    drainInterest(id, out: r == .blocked || (broker.outputCount(id) > 0 && broker.closeReason(id) == nil))
  }

  /// Close-time hook: the last bytes (best effort, non-blocking: one write, or a WebSocket's
  /// last frames and its close frame), TLS's close_notify, per-transport state back to its pool.
  /// The socket itself is closed by the caller (Linger.swift).
  func endTransport(_ id: ConnectionID) {
    let s = Int(id.slot)
    let transport = sockets[s].transport
    let t = sockets[s].tls
    let established = !(transport.overTLS && (tls?.states[Int(t)].handshaking ?? true))
    if transport.framed {
      endWebSocket(id)  // the last frames (an open WebSocket only), the buffers back
    } else if established && broker.outputCount(id) > 0
      && !(transport.overTLS && tls!.states[Int(t)].pendingWrite != 0)
    {
      // One last attempt: a CONNACK with a refusal code, say (TLS: one record).
      let count = broker.gatherOutput(id, into: slices, capacity: transport.overTLS ? 1 : EventLoop.slicesCapacity)
      if count > 0 {
        let n = streamWrite(id, slices, count)
        if n > 0 { broker.wrote(id, count: n) }
      }
    }
    if transport.overTLS, let tls { tls.end(t, notify: established) }
    sockets[s].transport = .tcp
  }

  // MARK: shared by the operations

  /// Output left to write: the core's, and for a WebSocket the frame bytes in its prefix.
  func hasOutput(_ id: ConnectionID) -> Bool {
    if broker.outputCount(id) > 0 { return true }
    return sockets[Int(id.slot)].transport.framed && webSocketPrefixPending(Int(id.slot))
  }

  /// Reads from the stream into the core's buffers; a WebSocket's frames are de-framed in place.
  func readStream(_ id: ConnectionID, now: UInt64) {
    let transport = sockets[Int(id.slot)].transport
    var reads = 0
    while reads < EventLoop.readsPerEvent {
      let buffer = broker.readBuffer(id)
      if buffer.count == 0 { break }  // paused (no buffer free) or closing; TLS: mbedTLS keeps it
      let n = streamRead(id, buffer.baseAddress!, buffer.count)
      if n == 0 { break }
      reads += 1
      if transport.framed {
        if !deframe(id, buffer.baseAddress!, n, now: now) { break }
      } else {
        broker.received(id, count: n, now: now)
      }
      // TCP: a short read drained the socket for now. TLS: mbedTLS may hold more than it gave.
      if !transport.overTLS && n < buffer.count { break }
    }
    broker.readDone(id)
    if transport.framed { answerPing(id) }
  }

  /// Writes the core's output through the framing and the stream: up to `writesPerFlush` writes
  /// (TLS: one record each, four times as many). `closing`: a WebSocket's close frame follows.
  func writeOutput(_ id: ConnectionID, closing: Bool) -> StreamResult {
    let transport = sockets[Int(id.slot)].transport
    if transport.framed { return writeWebSocket(id, closing: closing) }
    let writes = transport.overTLS ? EventLoop.writesPerFlush * 4 : EventLoop.writesPerFlush
    let capacity = transport.overTLS ? 1 : EventLoop.slicesCapacity
    var k = 0
    while k < writes {
      let count = broker.gatherOutput(id, into: slices, capacity: capacity)
      if count == 0 { break }
      let n = streamWrite(id, slices, count)
      k += 1
      if n <= 0 { return n == 0 ? .blocked : .failed }
      broker.wrote(id, count: n)
    }
    return .done
  }

  // MARK: the byte stream (TCP, or TLS's plaintext)

  /// Reads raw bytes: > 0, or 0 when nothing is there now (or the connection was closed:
  /// then the core knows).
  func streamRead(_ id: ConnectionID, _ p: UnsafeMutableRawPointer, _ n: Int) -> Int {
    let s = Int(id.slot)
    if sockets[s].transport.overTLS, let tls {
      let r = ctls_read(tls.blob(sockets[s].tls), p, n)
      if r > 0 { return r }
      if r == CTLS_WANT_WRITE {
        setInterest(id, out: true)
      } else if r != CTLS_WANT_READ {
        broker.peerClosed(id, reason: r == CTLS_PEER_CLOSED ? .peerClosed : .ioError)
      }
      return 0
    }
    let r = cp_read(sockets[s].fd, p, n)
    if r > 0 { return r }
    if r == 0 {
      broker.peerClosed(id, reason: .peerClosed)
    } else if r != -CP_EAGAIN {
      broker.peerClosed(id, reason: r == -CP_ECONNRESET ? .peerClosed : .ioError)
    }
    return 0
  }

  /// Writes slices (TLS: the first one, one record, retried with the same length after
  /// WANT_WRITE): bytes written, 0 when the socket would block, -1 when it failed (closed).
  func streamWrite(_ id: ConnectionID, _ first: UnsafeMutablePointer<IOSlice>, _ count: Int) -> Int {
    let s = Int(id.slot)
    if sockets[s].transport.overTLS, let tls {
      let t = sockets[s].tls
      var length = min(first[0].count, Int(ctls_max_write()))
      let retry = Int(tls.states[Int(t)].pendingWrite)
      if retry > 0 { length = retry }
      let n = ctls_write(tls.blob(t), first[0].base, length)
      if n > 0 {
        tls.states[Int(t)].pendingWrite = 0
        return n
      }
      if n == CTLS_WANT_WRITE || n == CTLS_WANT_READ {
        tls.states[Int(t)].pendingWrite = Int32(length)
        return 0
      }
      broker.peerClosed(id, reason: n == CTLS_PEER_CLOSED ? .peerClosed : .ioError)
      return -1
    }
    let n = cp_writev(sockets[s].fd, UnsafeRawPointer(first), Int32(count))
    if n > 0 { return n }
    if n == -CP_EAGAIN { return 0 }
    broker.peerClosed(id, reason: n == -CP_EPIPE || n == -CP_ECONNRESET ? .peerClosed : .ioError)
    return -1
  }
}
