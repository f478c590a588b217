// Closes that deliver their reason. When midge closes a connection after writing something the
// client must read (DISCONNECT with a reason, a refusing CONNACK, 0x8E on takeover, 0x93, 0x8B
// at shutdown), a plain close() would destroy it if the client's own bytes are still arriving:
// Linux answers unread input at close() with a reset (RFC 1122 4.2.2.13, RFC 2525 2.17), and a
// reset makes the client's stack drop the data it has received but not yet handed to the
// application. The client then sees EPIPE or ECONNRESET instead of the reason (Paho's
// test_flow_control2 dies that way writing a PUBREL).
//
// So such a close lingers: after the last bytes (and TLS's close_notify) are written, the
// socket's sending side is shut down (FIN after the queued bytes), the connection slot and
// every buffer return to their pools at once, and only the bare descriptor stays, in a fixed
// table of `lingerSlots` entries: the loop reads and discards what arrives until the peer
// closes (EOF, reset) or `lingerMs` passes, then closes it. Closes the peer started (EOF,
// reset, a DISCONNECT from the client) and I/O errors close at once. A close that finds the
// table full closes at once too and is counted ($SYS/broker/midge/closes/linger_full).
//
// Memory: the table (16 bytes an entry) and one discard buffer are part of the plan's "event
// loop buffers" line. File descriptors: at most `lingerSlots` beyond max_connections (the
// open-file limit is raised for them). At shutdown the lingering sockets are served until the
// last one closed, at most `lingerMs` and no later than shutdown_flush_timeout after the stop
// signal (so stopping takes no longer than before; with 0 they close at once).
import BrokerCore
import CPlatform

struct LingerEntry {
  var fd: Int32 = -1
  var deadline: UInt64 = 0
}

struct LingerTable {
  /// Sockets that may linger at once; a close beyond it is immediate (and counted).
  static let slots = 64
  /// How long a lingering socket is read before it is closed anyway.
  static let lingerMs: UInt64 = 2000
  /// Discarded input is read into this buffer, a few reads per readiness event.
  static let discardBytes = 1024
  static let readsPerEvent = 4
  /// Poller tokens of lingering sockets: the listener bit plus this bit plus the entry index.
  static let tokenBit: UInt64 = 1 << 32
  static var bytes: Int { slots * MemoryLayout<LingerEntry>.stride + discardBytes }

  let entries: UnsafeMutablePointer<LingerEntry>
  let discard: UnsafeMutableRawPointer
  var count = 0
  /// Closes that lingered, and closes made at once because every entry was in use.
  var started: UInt64 = 0
  var full: UInt64 = 0

  init(_ memory: UnsafeMutableRawPointer) {
    entries = memory.bindMemory(to: LingerEntry.self, capacity: LingerTable.slots)
    entries.initialize(repeating: LingerEntry(), count: LingerTable.slots)
    discard = memory + LingerTable.slots * MemoryLayout<LingerEntry>.stride
  }
}

extension EventLoop {
  /// Close-time hook (the effect sink's close): closes the connection's socket, lingering when
  /// midge started the close (see the file header). The socket record is reset by the caller.
  func closeSocket(_ id: ConnectionID, reason: CloseReason, now: UInt64) {
    let fd = sockets[Int(id.slot)].fd
    guard reason != .peerClosed && reason != .ioError && reason != .clientDisconnect else {
      _ = cp_epoll_delete(epoll, fd)
      _ = cp_close(fd)
      return
    }
    var k = 0
    while k < LingerTable.slots && linger.entries[k].fd >= 0 { k += 1 }
    guard k < LingerTable.slots, cp_shutdown_write(fd) == 0 else {
      if k == LingerTable.slots { linger.full &+= 1 }
      _ = cp_epoll_delete(epoll, fd)
      _ = cp_close(fd)
      return
    }
    let token = EventLoop.listenerTokenBit | LingerTable.tokenBit | UInt64(k)
    if cp_epoll_modify(epoll, fd, UInt32(CP_EV_IN), token) != 0 {
      _ = cp_epoll_delete(epoll, fd)
      _ = cp_close(fd)
      return
    }
    linger.entries[k] = LingerEntry(fd: fd, deadline: now + LingerTable.lingerMs)
    linger.count += 1
    linger.started &+= 1
  }

  /// A lingering socket is readable: discard its input; close it at EOF or on an error.
  func lingerReadable(_ token: UInt64) {
    let k = Int(token & 0xFFFF)
    guard k < LingerTable.slots, linger.entries[k].fd >= 0 else { return }
    var reads = 0
    while reads < LingerTable.readsPerEvent {
      let n = cp_read(linger.entries[k].fd, linger.discard, LingerTable.discardBytes)
      reads += 1
      if n > 0 { continue }
      if n != -CP_EAGAIN { endLinger(k) }  // EOF or reset: the peer is done
      return
    }
  }

  /// Closes the lingering sockets whose time is up (every turn; nothing to do when none linger).
  func expireLingering(now: UInt64) {
    guard linger.count > 0 else { return }
    var k = 0
    while k < LingerTable.slots {
      if linger.entries[k].fd >= 0 && now >= linger.entries[k].deadline { endLinger(k) }
      k += 1
    }
  }

  func endLinger(_ k: Int) {
    _ = cp_epoll_delete(epoll, linger.entries[k].fd)
    _ = cp_close(linger.entries[k].fd)
    linger.entries[k] = LingerEntry()
    linger.count -= 1
  }

  /// At shutdown, after the last closes: serves the lingering sockets until they are all
  /// closed, at most until their own deadlines and `deadline` (the end of
  /// shutdown_flush_timeout, counted from the stop signal, so that stopping takes no longer).
  func finishLingering(until deadline: UInt64) {
    var turns = 0
    while linger.count > 0 && turns < 10_000 {  // bounded by the deadlines (lingerMs)
      let now = cp_monotonic_ms()
      expireLingering(now: now >= deadline ? UInt64.max : now)
      if linger.count == 0 { break }
      let wait = Int32(min(100, deadline > now ? deadline - now : 0))
      let n = cp_epoll_wait(epoll, eventFlags, eventTokens, Int32(EventLoop.batchCapacity), wait)
      var i = 0
      while i < Int(n) {
        if eventTokens[i] & LingerTable.tokenBit != 0 && eventTokens[i] & EventLoop.listenerTokenBit != 0 {
          lingerReadable(eventTokens[i])
        }
        i += 1
      }
      turns += 1
    }
  }
}
