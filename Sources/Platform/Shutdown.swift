// Stopping (SIGTERM, SIGINT): a bounded flush, then the close. The listeners close first (no new
// connections) and nothing more is read; every connection keeps writing what is queued for it —
// its send queue, and what its session queue moves into it as room frees (QoS 0 messages, QoS 1
// and 2 up to the in-flight window) — until nothing is left or `shutdownFlushMs` passes
// (`shutdown_flush_timeout`, default 2 s). Then the core closes every connection (MQTT 5
// clients get DISCONNECT 0x8B after their data) with one last write each. A client that does
// not read costs at most the time bound; its unsent data is counted in the log.
import BrokerCore
import CPlatform

extension EventLoop {
  /// Flushes queued output for at most `shutdownFlushMs`; returns the connections that still
  /// had output when the time was up.
  func drainOutput() -> Int {
    for l in listeners {
      _ = cp_epoll_delete(epoll, l.fd)
      _ = cp_close(l.fd)
    }
    let deadline = cp_monotonic_ms() + shutdownFlushMs
    var left = drainPass(all: true)
    while left > 0 {  // bounded by the deadline
      let now = cp_monotonic_ms()
      if now >= deadline { break }
      let n = cp_epoll_wait(epoll, eventFlags, eventTokens, Int32(EventLoop.batchCapacity), Int32(deadline - now))
      var i = 0
      while i < Int(n) {
        let token = eventTokens[i]
        if token & EventLoop.listenerTokenBit == 0 && eventFlags[i] & UInt32(CP_EV_OUT | CP_EV_ERR | CP_EV_HUP) != 0 {
          drainFlush(ConnectionID(token: token))
        }
        if token & EventLoop.listenerTokenBit != 0 && token & LingerTable.tokenBit != 0 { lingerReadable(token) }
        i += 1
      }
      expireLingering(now: cp_monotonic_ms())
      left = drainPass(all: false)
    }
    return left
  }

  /// One pass over the socket table: with `all`, flushes every connection with output (the
  /// first pass); after it, only counts. Connections without output stop being polled.
  func drainPass(all: Bool) -> Int {
    var left = 0
    var s = 0
    while s < sockets.count {
      if sockets[s].fd >= 0, let id = broker.connection(at: s) {
        if all { drainFlush(id) }
        if broker.outputCount(id) > 0 && broker.closeReason(id) == nil { left += 1 }
      }
      s += 1
    }
    return left
  }

  /// Writes what the connection has queued through its transport (Transport.swift's `drain`).
  func drainFlush(_ id: ConnectionID) {
    let s = Int(id.slot)
    guard s < sockets.count, sockets[s].fd >= 0 else { return }
    drain(id)
  }

  /// While draining: EPOLLOUT while output is left, never EPOLLIN (nothing more is read).
  func drainInterest(_ id: ConnectionID, out: Bool) {
    let s = Int(id.slot)
    let wanted: UInt32 = out ? UInt32(CP_EV_OUT) : 0
    if wanted != sockets[s].interest {
      sockets[s].interest = wanted
      _ = cp_epoll_modify(epoll, sockets[s].fd, wanted, id.token)
    }
  }
}
