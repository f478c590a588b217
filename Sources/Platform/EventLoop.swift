// The event loop: one thread, one epoll instance, level-triggered. Each turn:
//   1. wait for events (timeout: the core's next timer, at most one second);
//   2. accept up to `acceptsPerTurn` connections per readable listener;
//   3. read each readable connection into the buffer the core hands out, at most
//      `readsPerEvent` reads, and let the core parse every complete packet;
//      A connection's own output from that read (acknowledgements, CONNACK) is flushed
//      right after it;
//   4. tick the core's timers; 5. apply the core's effects: flush each connection with
//      output (one writev of all its queued chunks, EPOLLOUT armed only after EAGAIN), close
//      what the core closed (after one last flush), and update read interest.
// Every step is bounded; the loop itself runs until SIGINT/SIGTERM.
import Bounded
import BrokerCore
import CPlatform

public struct ListenerSocket {
  public let fd: Int32
  public let anonymousAllowed: Bool
  /// Set for a TLS listener (Platform/TLS.swift).
  public let tls: TLSListener?
  /// The port, for log lines ("New connection from ... on port 1883.").
  public let port: UInt16
  /// `protocol websockets` (WebSocket.swift), and its `http_dir`.
  public let websockets: Bool
  public let httpDirectory: HTTPDirectory?
  /// `port` has no default: a listener rebuilt without it logged "on port 0".
  public init(
    fd: Int32, anonymousAllowed: Bool, tls: TLSListener? = nil, port: UInt16, websockets: Bool = false,
    httpDirectory: HTTPDirectory? = nil
  ) {
    self.fd = fd
    self.anonymousAllowed = anonymousAllowed
    self.tls = tls
    self.port = port
    self.websockets = websockets
    self.httpDirectory = httpDirectory
  }
}

/// Per-connection platform record, 16 bytes, in the plan's "socket table".
struct SocketRecord {
  var fd: Int32 = -1
  var interest: UInt32 = 0
  /// The TLS session slot (TLS.swift) when the transport is over TLS, else -1.
  var tls: Int32 = -1
  /// How its bytes travel (Transport.swift): TCP or TLS, WebSocket frames or none.
  var transport = Transport.tcp
}

/// Something SIGHUP reloads (the auth files; TLS certificates may join). `reload` runs on the
/// loop's thread between two turns, must not allocate, and on failure keeps what it had and
/// logs why. Connections stay open either way.
public protocol Reloadable: AnyObject {
  func reload()
}

public final class EventLoop {
  public static let socketBytesPerConnection = MemoryLayout<SocketRecord>.stride
  static let batchCapacity = 256
  static let slicesCapacity = 64
  public static let loopBufferBytes =
    batchCapacity * 12 + slicesCapacity * MemoryLayout<IOSlice>.stride + LingerTable.bytes
  /// File descriptors beyond the connection slots: sockets that linger (Linger.swift).
  public static let lingerSlots = LingerTable.slots
  static let acceptsPerTurn = 64
  static let readsPerEvent = 8
  static let writesPerFlush = 4
  static let listenerTokenBit: UInt64 = 1 << 63

  let broker: Broker
  let epoll: Int32
  let listeners: [ListenerSocket]
  let sockets: UnsafeMutableBufferPointer<SocketRecord>
  let eventFlags: UnsafeMutablePointer<UInt32>
  let eventTokens: UnsafeMutablePointer<UInt64>
  let slices: UnsafeMutablePointer<IOSlice>
  let verbose: Bool
  /// Sockets closed by midge that still read their peer's input for a moment (Linger.swift).
  var linger: LingerTable
  /// `connection_messages`: log connections and disconnections (ConnectionLog.swift).
  public var connectionMessages = true
  /// `shutdown_flush_timeout`: how long queued output is flushed when stopping (Shutdown.swift).
  public var shutdownFlushMs: UInt64 = EventLoop.shutdownFlushMsDefault
  public static let shutdownFlushMsDefault: UInt64 = 2000
  /// TLS session slots when a listener speaks TLS (TLS.swift holds the TLS paths).
  let tls: TLSSessions?
  /// WebSocket states and handshake buffers when a listener speaks WebSockets (WebSocket.swift).
  let webSockets: WebSockets?
  /// Listeners are taken out of the poller for a moment when the process runs out of file
  /// descriptors (EMFILE), instead of spinning on a readable listener.
  var listenersPausedUntil: UInt64 = 0
  public private(set) var acceptErrors = 0
  /// What SIGHUP reloads, in order; set at startup.
  public var reloadables: [any Reloadable] = []

  public init(
    broker: Broker, plan: BrokerPlan, arena: Arena, listeners: [ListenerSocket], verbose: Bool, tls: TLSSessions? = nil,
    webSockets: WebSockets? = nil
  ) throws(PlatformError) {
    self.broker = broker
    self.tls = tls
    self.webSockets = webSockets
    self.listeners = listeners
    self.verbose = verbose
    let ep = cp_epoll_create()
    guard ep >= 0 else { throw PlatformError(operation: "epoll_create", errno: -ep) }
    epoll = ep
    let socketBytes = arena.bind(plan.sockets)
    precondition(plan.sockets.bytesEach >= MemoryLayout<SocketRecord>.stride, "socket table too small")
    let records = socketBytes.bindMemory(to: SocketRecord.self, capacity: plan.sockets.count)
    sockets = UnsafeMutableBufferPointer(start: records, count: plan.sockets.count)
    sockets.initialize(repeating: SocketRecord())
    let loop = arena.bind(plan.loopBuffers)
    precondition(plan.loopBuffers.bytesEach >= EventLoop.loopBufferBytes, "loop buffers too small")
    slices = loop.bindMemory(to: IOSlice.self, capacity: EventLoop.slicesCapacity)
    let tokens = loop + EventLoop.slicesCapacity * MemoryLayout<IOSlice>.stride
    eventTokens = tokens.bindMemory(to: UInt64.self, capacity: EventLoop.batchCapacity)
    eventFlags = (tokens + EventLoop.batchCapacity * 8).bindMemory(to: UInt32.self, capacity: EventLoop.batchCapacity)
    linger = LingerTable(tokens + EventLoop.batchCapacity * 12)
    for (i, l) in listeners.enumerated() {
      let rc = cp_epoll_add(epoll, l.fd, UInt32(CP_EV_IN), EventLoop.listenerTokenBit | UInt64(i))
      guard rc == 0 else { throw PlatformError(operation: "epoll_ctl(listener)", errno: -rc) }
    }
    // Client events become log lines; the closure is made here, at startup (it allocates).
    broker.clientEvents = { [unowned(unsafe) self] id, event in self.logClientEvent(id, event) }
  }

  /// Runs until a stop signal; then closes every connection and returns.
  public func run() {
    while cp_stop_requested() == 0 {  // the one unbounded loop: the broker's lifetime
      broker.logWriteErrors = Log.writeErrors  // for $SYS/broker/midge/log/write_errors
      broker.closesLingered = linger.started  // $SYS/broker/midge/closes/*
      broker.closesLingerFull = linger.full
      turn(timeoutMs: timeout(now: cp_monotonic_ms()))
      if cp_take_hangup() != 0 { reload() }
    }
    let stopDeadline = cp_monotonic_ms() + shutdownFlushMs
    let unsent = drainOutput()  // listeners closed; queued output flushed, bounded in time
    if unsent > 0 {
      Log.line(.warning) { l in
        l.add("shutdown: ")
        l.add(unsent)
        l.add(" connections still had unsent output after ")
        l.add(Int(shutdownFlushMs))
        l.add(" ms")
      }
    }
    broker.shutdown()
    applyEffects()
    finishLingering(until: stopDeadline)
  }

  /// SIGHUP: every reloadable in turn (SIGHUP's default action, ending the process, is off).
  func reload() {
    if reloadables.isEmpty {
      Log.line(.notice) { $0.add("SIGHUP: nothing to reload (no password_file, acl_file or TLS listener)") }
      return
    }
    for r in reloadables { r.reload() }
  }

  /// One pass of the loop (public for tests that drive the loop step by step).
  public func turn(timeoutMs: Int32) {
    let n = cp_epoll_wait(epoll, eventFlags, eventTokens, Int32(EventLoop.batchCapacity), timeoutMs)
    let now = cp_monotonic_ms()
    if listenersPausedUntil != 0 && now >= listenersPausedUntil { resumeListeners() }
    var i = 0
    while i < Int(n) {
      let token = eventTokens[i]
      if token & EventLoop.listenerTokenBit != 0 {
        if token & LingerTable.tokenBit != 0 { lingerReadable(token) } else { accept(Int(token & 0xFFFF), now: now) }
      } else {
        handle(ConnectionID(token: token), events: eventFlags[i], now: now)
      }
      i += 1
    }
    serveTLSPending(now: now)
    if let tls {
      broker.tlsInUse(
        sessions: tls.count - tls.freeCount, of: tls.count, handshakes: tls.handshakes, of: tls.handshakesMax)
    }
    broker.tick(now: now)
    applyEffects()
    expireLingering(now: now)
  }

  func timeout(now: UInt64) -> Int32 {
    if tlsReadyPending { return 0 }  // decrypted bytes wait inside mbedTLS
    var t: UInt64 = 1000
    if let due = broker.nextTimerMs { t = due > now ? min(t, due - now) : 0 }
    if listenersPausedUntil != 0 { t = min(t, listenersPausedUntil > now ? listenersPausedUntil - now : 0) }
    return Int32(t)
  }

  // MARK: accepting

  func accept(_ index: Int, now: UInt64) {
    let listener = listeners[index]
    var accepted = 0
    while accepted < EventLoop.acceptsPerTurn {
      let fd = cp_accept(
        listener.fd, Int32(broker.limits.socketSendBufferBytes), Int32(broker.limits.socketReceiveBufferBytes))
      if fd < 0 {
        if fd == -CP_EMFILE || fd == -CP_ENFILE || fd == -CP_ENOBUFS || fd == -CP_ENOMEM {
          acceptErrors += 1
          pauseListeners(now: now)
        }
        return
      }
      accepted += 1
      guard let id = broker.open(now: now, anonymousAllowed: listener.anonymousAllowed) else {
        _ = cp_close(fd)  // every slot, refusal slots included, is in use (counted by the core)
        continue
      }
      let s = Int(id.slot)
      sockets[s] = SocketRecord(fd: fd, interest: UInt32(CP_EV_IN))
      logAccepted(fd, port: listener.port)
      let rc = cp_epoll_add(epoll, fd, UInt32(CP_EV_IN), id.token)
      if rc != 0 {
        broker.peerClosed(id, reason: .ioError)
      } else {
        startTransport(id, fd: fd, listener: index)
      }
    }
  }

  func pauseListeners(now: UInt64) {
    guard listenersPausedUntil == 0 else { return }
    listenersPausedUntil = now + 100
    for l in listeners { _ = cp_epoll_delete(epoll, l.fd) }
    Log.line(.warning) { $0.add("out of file descriptors; not accepting for 100 ms") }
  }

  func resumeListeners() {
    listenersPausedUntil = 0
    for (i, l) in listeners.enumerated() {
      _ = cp_epoll_add(epoll, l.fd, UInt32(CP_EV_IN), EventLoop.listenerTokenBit | UInt64(i))
    }
  }

  // MARK: connections

  func handle(_ id: ConnectionID, events: UInt32, now: UInt64) {
    let s = Int(id.slot)
    guard s < sockets.count, sockets[s].fd >= 0, broker.wantsRead(id) || broker.outputCount(id) > 0 else {
      // A stale event for a slot closed earlier in this batch, or a paused connection.
      if s < sockets.count && sockets[s].fd >= 0 && events & UInt32(CP_EV_HUP | CP_EV_ERR) != 0 {
        broker.peerClosed(id, reason: .peerClosed)
      }
      return
    }
    if events & UInt32(CP_EV_IN | CP_EV_HUP | CP_EV_ERR) != 0 {
      read(id, now: now)
      // Its own answers (CONNACK, SUBACK, acknowledgements, a QoS 1/2 window refilled by its
      // PUBACKs) go at once: the send chunk returns to the pool before the next connection
      // takes one (a burst of connecting clients touches one chunk, not one per client), and
      // a subscriber's next window leaves without waiting for the rest of the turn.
      if events & UInt32(CP_EV_OUT) == 0 && sockets[s].interest & UInt32(CP_EV_OUT) == 0
        && broker.outputCount(id) > 0
      {
        flush(id)
        return
      }
    }
    if events & UInt32(CP_EV_OUT) != 0 { flush(id) }
  }

  func setInterest(_ id: ConnectionID, out: Bool) {
    let s = Int(id.slot)
    var wanted: UInt32 = broker.wantsRead(id) ? UInt32(CP_EV_IN) : 0
    if out { wanted |= UInt32(CP_EV_OUT) }
    if wanted != sockets[s].interest {
      sockets[s].interest = wanted
      _ = cp_epoll_modify(epoll, sockets[s].fd, wanted, id.token)
    }
  }

  /// The core's effects (BrokerCore/Effects.swift, the one effect loop), applied to the sockets.
  func applyEffects() { broker.applyEffects(to: SocketEffects(loop: self)) }
}

/// The event loop as the core's effect sink: flush through the transport (Transport.swift),
/// close after the transport's last bytes (at once, or lingering: Linger.swift), epoll interest.
struct SocketEffects: EffectSink {
  unowned(unsafe) let loop: EventLoop

  func waitsForWritable(_ id: ConnectionID) -> Bool {
    loop.sockets[Int(id.slot)].interest & UInt32(CP_EV_OUT) != 0
  }

  func flush(_ id: ConnectionID) { loop.flush(id) }

  func close(_ id: ConnectionID, reason: CloseReason) {
    loop.endTransport(id)  // last bytes, close frame, close_notify, transport state back
    loop.closeSocket(id, reason: reason, now: cp_monotonic_ms())  // at once, or lingering
    loop.sockets[Int(id.slot)] = SocketRecord()
  }

  func interestChanged(_ id: ConnectionID, wantsRead: Bool) {
    loop.setInterest(id, out: loop.sockets[Int(id.slot)].interest & UInt32(CP_EV_OUT) != 0)
  }
}

public struct PlatformError: Error {
  public let operation: StaticString
  public let errno: Int32
}
