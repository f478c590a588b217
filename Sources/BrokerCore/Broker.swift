// The broker core: MQTT 3.1, 3.1.1 and 5.0 on fixed pools. Events in, effects out:
//   events : open(now:) · readBuffer/received(count:now:) · peerClosed · tick(now:) · wrote
//   effects: nextFlush() (connections with output) · nextClose() (sockets to close, after a
//            last flush) · nextInterest() (read interest changed: wantsRead)
// The core makes no syscalls and reads no clock: time is the `now` argument in milliseconds.
// The protocol lives in extensions: Packets (what each packet does), Delivery (routing,
// queues, in-flight windows, encoding), SessionLife (sessions, wills, expiry, closing).
//
// Receive path: the platform reads straight into a pooled receive chunk of the connection
// (taken when it becomes readable, returned when no partial frame is left), every complete
// frame is decoded in place and handled, and a partial frame stays for the next read. A
// frame larger than a chunk moves to one of the large packet buffers; when none is free the
// connection stops being read (the bytes wait in the kernel) until one is. A large buffer is
// read to its capacity and every frame in it parsed; it goes back to the pool when emptied,
// or when its rest fits a chunk and the frame there is small or another connection waits. A PUBLISH that
// cannot be queued for a subscriber (back-pressure) also stays in the buffer, unprocessed,
// and reading pauses until the core's timer finds room. Nothing is lost and nothing grows.
//
// Send path: packets are encoded into the connection's queue of send chunks, once per
// packet, with exactly the size computed first. A control packet that does not fit closes
// that connection; messages wait in the session's queue until the send queue has room.
import Bounded
import MQTTWire
import MidgeAuth

public final class Broker {
  public let limits: Limits
  public internal(set) var stats = Stats()
  /// The password_file's table (nil: none configured). The platform sets it at startup and
  /// swaps it on reload; it points into regions reserved at startup, so a swap allocates nothing.
  public var passwords: PasswordTable? = nil
  /// The acl_file's table (nil: none, everything allowed); set and swapped like `passwords`.
  /// New rules apply to the next PUBLISH, SUBSCRIBE and delivery.
  public var acl: AclTable? = nil

  let connections: UnsafeMutableBufferPointer<Connection>
  let sessions: UnsafeMutableBufferPointer<Session>
  let clientIDs: UnsafeMutableRawPointer
  let usernames: UnsafeMutableRawPointer
  let identities: UnsafeMutableRawPointer
  /// Session index: hash buckets of client identifiers (session + 1; 0 = empty) and the
  /// chain link of each session.
  let sessionBuckets: UnsafeMutableBufferPointer<UInt32>
  let sessionLinks: UnsafeMutableBufferPointer<UInt32>
  let qos2IDs: UnsafeMutableBufferPointer<UInt16>
  /// Inbound QoS 2 ids of 3.1/3.1.1 clients beyond their window (qos2_spill_ids).
  var qos2Spill: KeySet
  let aliases: UnsafeMutableBufferPointer<UInt32>
  /// Aliases midge assigned, `topicAliasBrokerMax` per connection slot: the topic-only
  /// stored message each alias stands for (BrokerAliases.swift).
  let outboundAliases: UnsafeMutableBufferPointer<UInt32>
  var subscriptions: SubscriptionTable
  let fanout: UnsafeMutableBufferPointer<FanOut>
  /// The topic being routed (from an alias, a will or the retained store).
  let topicScratch: UnsafeMutableRawBufferPointer
  /// The topic of a message being encoded (subscription identifiers).
  let encodeScratch: UnsafeMutableRawBufferPointer
  let store: MessageStore
  var retained: RetainedStore
  var entries: EntryPool
  let receivePool: ChunkPool
  let sendPool: ChunkPool
  let largePool: ChunkPool
  var freeSlots: IndexRing
  var flushQueue: IndexRing
  var closeQueue: IndexRing
  var interestQueue: IndexRing
  var chunkWaiters: IndexRing
  var largeWaiters: IndexRing
  /// Slots [0, slotHighWater) have been used at least once; timer scans stop there. The others
  /// were never touched (they read as zero) and are handed out in order when no released slot
  /// is on `freeSlots`.
  var slotHighWater = 0
  /// Sessions [0, sessionHighWater) have been used at least once; the others, never touched,
  /// are taken in order when the free list is empty.
  var sessionHighWater = 0
  /// Open connections that are not refusals; at most `max_connections`.
  var admittedCount = 0
  var publishStamp: UInt32 = 0
  var nextScanMs: UInt64 = 0
  /// The latest `now` the platform gave (for work triggered by `wrote`, which has no clock).
  var clock: UInt64 = 0
  /// Source of assigned client identifiers.
  var assignedIDs: UInt64 = 0
  /// Released sessions, linked through `Session.connection` (the fresh ones are not listed).
  var sessionFreeHead: UInt32 = sessionNone
  /// Set while a message is being routed: routing uses shared scratch and must not nest.
  var routing = false
  /// Set while `tick` retries a publisher paused by back-pressure.
  var retrying = false
  /// Publishers paused by back-pressure; each holds a receive buffer, so at most half of the
  /// receive chunks may be held this way.
  var pausedPublishers = 0
  /// $SYS: when the next statistics are due, and when the broker first ticked.
  var nextSysMs: UInt64 = 0
  var startMs: UInt64? = nil
  /// $SYS: load averages, bytes the memory plan reserved, the platform's failed log writes.
  var load = LoadAverages()
  let memoryReservedBytes: Int64
  public var logWriteErrors: UInt64 = 0
  /// $SYS: closes that lingered to deliver their reason, and those made at once because
  /// every linger entry was in use (the platform's Linger.swift sets both).
  public var closesLingered: UInt64 = 0
  public var closesLingerFull: UInt64 = 0
  /// $SYS/broker/version (the executable sets it at startup).
  public var versionText: StaticString = "unknown"
  /// The client identifier of the CONNECT being handled (empty outside handleConnect).
  var connectingClientID = UnsafeRawBufferPointer(start: nil, count: 0)
  /// During the `.closed(.packetTooLarge, ...)` report: the packet size its fixed header
  /// announced (0 otherwise), for the log line.
  public internal(set) var tooLargePacketBytes = 0
  /// The platform's handler for client events (connection log lines); see Events.swift.
  public var clientEvents: ((ConnectionID, ClientEvent) -> Void)? = nil
  static let scanIntervalMs: UInt64 = 100
  /// How far past its first frame a large buffer is read, in I/O chunks (as much as the
  /// platform's reads per event take in chunks).
  static let largeReadAheadChunks = 8
  /// How long a publisher without keep alive may stay paused by back-pressure.
  static let pauseMaxMs: UInt64 = 60_000

  /// Nothing of the arena is written here: every pool hands out its never-used elements in
  /// order and initialises each when it is first handed out (connection slots and their topic
  /// aliases in `open`, sessions in `newSession`, the pools' own), and the arrays whose empty
  /// state is all zero bits (hash buckets, QoS 2 ids, the spill table) rely on the arena
  /// reading as zero. So RSS after start is what is used, not the budget (Arena).
  public init(plan: BrokerPlan, arena: Arena) {
    limits = plan.limits
    memoryReservedBytes = plan.memory.totalBytes
    let n = limits.slotCount
    connections = arena.bind(plan.connections)
    sessions = arena.bind(plan.sessions)
    clientIDs = arena.bind(plan.clientIDs)
    usernames = arena.bind(plan.usernames)
    identities = arena.bind(plan.identities)
    sessionBuckets = arena.bind(plan.sessionBuckets)  // zero: every bucket empty
    sessionLinks = arena.bind(plan.sessionLinks)  // set when a session joins a chain
    qos2IDs = arena.bind(plan.qos2IDs)  // zero: no id remembered
    qos2Spill = KeySet(zeroedSlots: arena.bind(plan.qos2Spill), capacity: limits.qos2SpillCount)
    aliases = arena.bind(plan.aliases)  // a slot's range is set to messageNone at its first open
    outboundAliases = arena.bind(plan.outboundAliases)  // likewise, at the slot's first open
    subscriptions = SubscriptionTable(
      entries: arena.bind(plan.subscriptions), shortFilters: arena.bind(plan.filters),
      longFilters: arena.bind(plan.longFilters), longFree: arena.bind(plan.longFree),
      filterBytesMax: limits.topicBytesMax, buckets: arena.bind(plan.subscriptionBuckets))
    fanout = arena.bind(plan.fanout)  // scratch: written before it is read
    let scratch = arena.bind(plan.topicScratch)
    topicScratch = UnsafeMutableRawBufferPointer(start: scratch, count: plan.topicScratch.bytesEach)
    encodeScratch = UnsafeMutableRawBufferPointer(
      start: scratch + plan.topicScratch.bytesEach, count: plan.topicScratch.bytesEach)
    store = MessageStore(
      headers: arena.bind(plan.messages), data: arena.bind(plan.messageData), links: arena.bind(plan.messageLinks),
      chunkBytes: BrokerPlan.messageChunkBytes)
    let retainedIndex = arena.bind(plan.retained)  // [0, count) is used
    retained = RetainedStore(
      index: retainedIndex,
      bytesMax: limits.retainedBytesMax > 0
        ? limits.retainedBytesMax : plan.messageChunks * BrokerPlan.messageChunkBytes / 4)
    entries = EntryPool(arena.bind(plan.entries))
    receivePool = ChunkPool(
      data: arena.bind(plan.rxData), links: arena.bind(plan.rxLinks), chunkBytes: limits.chunkBytes)
    sendPool = ChunkPool(
      data: arena.bind(plan.txData), links: arena.bind(plan.txLinks), chunkBytes: limits.chunkBytes)
    largePool = ChunkPool(
      data: arena.bind(plan.largeBuffers), links: arena.bind(plan.largeLinks),
      chunkBytes: limits.packetBytesMax)
    let rings = arena.bind(plan.rings)
    func ring(_ k: Int) -> IndexRing {
      IndexRing(storage: UnsafeMutableBufferPointer(rebasing: rings[(k * n)..<((k + 1) * n)]))
    }
    freeSlots = ring(0)
    flushQueue = ring(1)
    closeQueue = ring(2)
    interestQueue = ring(3)
    chunkWaiters = ring(4)
    largeWaiters = ring(5)
    // Free slots: released ones are a stack (the slot freed last is reused first, so new
    // connections land on memory that is already resident), then the never-used ones from
    // slotHighWater up, so low slots are used first.
  }

  // MARK: events

  /// A new network connection. When `max_connections` clients are admitted it takes a refusal
  /// slot and is answered "server busy" at CONNECT. Nil when even the refusal slots are in use:
  /// the platform closes the socket at once (counted in `stats.connectionsDroppedFull`).
  public func open(now: UInt64, anonymousAllowed: Bool) -> ConnectionID? {
    clock = max(clock, now)
    let slot: UInt32
    if let released = freeSlots.popNewest() {
      slot = released
    } else if slotHighWater < limits.slotCount {
      slot = UInt32(slotHighWater)
      openFirstTime(slotHighWater)
    } else {
      stats.connectionsDroppedFull &+= 1
      return nil
    }
    let s = Int(slot)
    let generation = connections[s].generation
    let membership = connections[s].flags.intersection(.ringMembership)
    connections[s] = Connection()
    connections[s].generation = generation
    connections[s].flags = membership
    connections[s].state = .awaitingConnect
    connections[s].deadline = now + UInt64(limits.connectTimeoutSeconds) * 1000
    if anonymousAllowed { connections[s].flags.insert(.anonymousAllowed) }
    if admittedCount < limits.connectionsMax {
      admittedCount += 1
    } else {
      connections[s].flags.insert(.refusing)
    }
    slotHighWater = max(slotHighWater, s + 1)
    stats.connectionsAccepted &+= 1
    stats.connectionsOpen += 1
    return ConnectionID(slot: slot, generation: generation)
  }

  /// The platform's TLS slots in use (published under $SYS as pools tls_sessions and
  /// tls_handshakes); capacity 0: no TLS listener.
  public func tlsInUse(sessions: Int, of sessionsCapacity: Int, handshakes: Int, of handshakesCapacity: Int) {
    stats.tlsSessionsInUse = sessions
    stats.tlsSessionsCapacity = sessionsCapacity
    stats.tlsHandshakesInUse = handshakes
    stats.tlsHandshakesCapacity = handshakesCapacity
  }

  /// A never-used slot (it reads as zero: generation 0, state free, no ring membership) gets
  /// what a released slot keeps: no topic aliases, inbound or outbound.
  @inline(never)
  private func openFirstTime(_ s: Int) {
    var a = s * limits.topicAliasMax
    while a < (s + 1) * limits.topicAliasMax {
      aliases[a] = messageNone
      a += 1
    }
    a = s * limits.topicAliasBrokerMax
    while a < (s + 1) * limits.topicAliasBrokerMax {
      outboundAliases[a] = messageNone
      a += 1
    }
  }

  /// Counts a TLS event of the platform (Stats: tls*).
  public func countTLS(_ event: TLSEvent) {
    switch event {
    case .handshakeDone: stats.tlsHandshakes &+= 1
    case .handshakeFailed: stats.tlsHandshakesFailed &+= 1
    case .refusedSessions: stats.tlsRefusedSessions &+= 1
    case .refusedHandshakes: stats.tlsRefusedHandshakes &+= 1
    }
  }

  /// Counts a WebSocket event of the platform (Stats: ws*).
  public func countWebSocket(_ event: WebSocketEvent) {
    switch event {
    case .upgraded: stats.wsUpgrades &+= 1
    case .refusedHandshake: stats.wsRefusedHandshakes &+= 1
    case .handshakeFailed: stats.wsHandshakesFailed &+= 1
    case .httpRequest: stats.wsHTTPRequests &+= 1
    case .frameError: stats.wsFrameErrors &+= 1
    }
  }

  /// Where the platform should read this connection's next bytes. Empty when the connection
  /// must not be read now (closing, or paused until a receive buffer is free).
  public func readBuffer(_ id: ConnectionID) -> UnsafeMutableRawBufferPointer {
    guard let s = live(id), connections[s].state != .closing,
      !connections[s].flags.contains(.readPaused)
    else { return UnsafeMutableRawBufferPointer(start: nil, count: 0) }
    switch connections[s].receiveBuffer {
    case .none:
      guard let chunk = receivePool.take() else {
        pause(s, waiting: .waitingChunk)
        return UnsafeMutableRawBufferPointer(start: nil, count: 0)
      }
      connections[s].receiveBuffer = .chunk
      connections[s].receiveIndex = chunk
      connections[s].receiveUsed = 0
      return UnsafeMutableRawBufferPointer(start: receivePool.bytes(chunk), count: limits.chunkBytes)
    case .chunk:
      let used = Int(connections[s].receiveUsed)
      let start = receivePool.bytes(connections[s].receiveIndex) + used
      return UnsafeMutableRawBufferPointer(start: start, count: limits.chunkBytes - used)
    case .large:
      // Read to the end of the large frame at its start and up to `largeReadAhead` bytes
      // past it: the frames behind it are parsed in the same pass (one read for several large
      // frames, not one read and one buffer hand-over per frame), and a read stays bounded.
      let used = Int(connections[s].receiveUsed)
      let base = largePool.bytes(connections[s].receiveIndex)
      let frame = Frame.announcedLength(UnsafeRawBufferPointer(start: base, count: used)) ?? 0
      let end = min(largePool.chunkBytes, max(frame, used) + Broker.largeReadAheadChunks * limits.chunkBytes)
      return UnsafeMutableRawBufferPointer(start: base + used, count: end - used)
    }
  }

  /// Reading stopped (EAGAIN, EOF or error): return a receive buffer that holds nothing.
  public func readDone(_ id: ConnectionID) {
    guard let s = live(id), connections[s].receiveBuffer != .none, connections[s].receiveUsed == 0 else { return }
    releaseReceive(s)
  }

  /// `count` bytes were read into the buffer `readBuffer` returned.
  public func received(_ id: ConnectionID, count: Int, now: UInt64) {
    guard let s = live(id), connections[s].state != .closing else { return }
    precondition(connections[s].receiveBuffer != .none, "received without a read buffer")
    precondition(count > 0, "received nothing")
    clock = max(clock, now)
    connections[s].receiveUsed += UInt32(count)
    stats.bytesReceived &+= UInt64(count)
    processInput(s, now: now)
  }

  /// The peer closed the connection, or reading or writing failed.
  public func peerClosed(_ id: ConnectionID, reason: CloseReason) {
    guard let s = live(id) else { return }
    close(s, reason)
  }

  /// Timers: connect and keep-alive deadlines, delayed wills, session and message expiry,
  /// and publishers paused by back-pressure. Cheap to call every loop turn.
  public func tick(now: UInt64) {
    clock = max(clock, now)
    guard now >= nextScanMs else { return }
    nextScanMs = now + Broker.scanIntervalMs
    var s = 0
    while s < slotHighWater {
      let c = connections[s]
      if c.flags.contains(.waitingQueue) {
        connections[s].flags.remove([.waitingQueue, .readPaused])
        pausedPublishers -= 1
        if c.deadline != 0 && now >= c.deadline {
          // Paused for a whole keep-alive period: give up on it rather than hold its receive
          // buffer for ever. Its PUBLISH was not acknowledged; the client sends it again.
          close(s, .quotaExceeded)
        } else {
          // Back-pressure: retry the PUBLISH that waits in the receive buffer.
          retrying = true
          processInput(s, now: now)
          retrying = false
          if !connections[s].flags.contains(.waitingQueue) {
            queueInterest(s)  // resumed: read again
            if connections[s].keepAliveMs == 0 { connections[s].deadline = 0 }
          }
        }
      } else if c.deadline != 0 && now >= c.deadline
        && (c.state == .awaitingConnect || (c.state == .connected && !c.flags.contains(.readPaused)))
      {
        // [MQTT-3.1.2-24] keep alive: no control packet within 1.5 x the keep alive. Not while
        // the core itself does not read a client (paused): its packets wait in the kernel. The
        // connect timeout applies whatever the reason.
        close(s, c.state == .awaitingConnect ? .connectTimeout : .keepAliveTimeout)
      }
      s += 1
    }
    expireSessions(now: now)
    publishSys(now: now)
  }

  /// When the core next needs `tick`, or nil when nothing is timed.
  public var nextTimerMs: UInt64? {
    if stats.connectionsOpen > 0 || stats.sessionsOffline > 0 { return nextScanMs }
    // Idle: wake only for $SYS.
    return limits.sysIntervalSeconds > 0 ? max(nextScanMs, nextSysMs) : nil
  }

  /// Closes every connection (the broker is stopping). MQTT 5 clients get DISCONNECT 0x8B.
  public func shutdown() {
    var s = 0
    while s < slotHighWater {
      if connections[s].state == .awaitingConnect || connections[s].state == .connected {
        close(s, .shutdown)
      }
      s += 1
    }
  }

  // MARK: effects

  public func nextFlush() -> ConnectionID? {
    while let slot = flushQueue.pop() {
      let s = Int(slot)
      connections[s].flags.remove(.queuedForFlush)
      if connections[s].state != .free && connections[s].output.count > 0 { return id(s) }
    }
    return nil
  }

  public func nextClose() -> ConnectionID? {
    guard let slot = closeQueue.pop() else { return nil }
    return id(Int(slot))
  }

  public func nextInterest() -> ConnectionID? {
    while let slot = interestQueue.pop() {
      let s = Int(slot)
      connections[s].flags.remove(.queuedForInterest)
      if connections[s].state == .awaitingConnect || connections[s].state == .connected { return id(s) }
    }
    return nil
  }

  /// Whether the platform should watch this connection for input.
  public func wantsRead(_ id: ConnectionID) -> Bool {
    guard let s = live(id) else { return false }
    return connections[s].state != .closing && !connections[s].flags.contains(.readPaused)
  }

  /// Fills `slices` with the connection's queued output (in order); returns the count used.
  public func gatherOutput(_ id: ConnectionID, into slices: UnsafeMutablePointer<IOSlice>, capacity: Int) -> Int {
    guard let s = live(id) else { return 0 }
    return sendPool.gather(connections[s].output, into: slices, capacity: capacity)
  }

  public func outputCount(_ id: ConnectionID) -> Int {
    guard let s = live(id) else { return 0 }
    return connections[s].output.count
  }

  /// `count` bytes of the gathered output were written to the socket.
  public func wrote(_ id: ConnectionID, count: Int) {
    guard let s = live(id) else { return }
    withUnsafeMutablePointer(to: &connections[s].output) { sendPool.consume(&$0.pointee, count) }
    stats.bytesSent &+= UInt64(count)
    // Room in the send queue: messages waiting in the session's queue may go now.
    if connections[s].state == .connected { pump(connections[s].session, now: clock) }
  }

  /// The platform closed the socket of a connection it got from `nextClose`: the slot is free.
  public func release(_ id: ConnectionID) {
    guard let s = live(id) else { return }
    precondition(connections[s].state == .closing, "release of an open connection")
    releaseReceive(s)
    withUnsafeMutablePointer(to: &connections[s].output) { sendPool.release(&$0.pointee) }
    if !connections[s].flags.contains(.refusing) { admittedCount -= 1 }
    if connections[s].flags.contains(.waitingQueue) { pausedPublishers -= 1 }
    connections[s].state = .free
    connections[s].flags = connections[s].flags.intersection(.ringMembership)
    connections[s].generation = (connections[s].generation &+ 1) & ConnectionID.generationMask
    let freed = freeSlots.push(UInt32(s))
    precondition(freed, "free-slot ring holds one entry per connection")
    stats.connectionsOpen -= 1
  }

  public var receiveChunksFree: Int { receivePool.freeCount }
  public var sendChunksFree: Int { sendPool.freeCount }
  public var largeBuffersFree: Int { largePool.freeCount }

  // MARK: input

  func processInput(_ s: Int, now: UInt64) {
    guard connections[s].receiveBuffer != .none else { return }
    let base = receiveBase(s)
    let used = Int(connections[s].receiveUsed)
    var offset = 0
    while offset < used && connections[s].state != .closing {
      let window = UnsafeRawBufferPointer(start: base + offset, count: used - offset)
      let status: Frame.Status
      do {
        status = try Frame.detect(window, maxPacketBytes: limits.packetBytesMax, version: connections[s].version)
      } catch {
        close(s, for: error, header: window)
        break
      }
      guard case .complete(let frame) = status else { break }
      guard handleFrame(s, frame, window.slice(0, frame.totalLength), now: now) else {
        // Back-pressure: the frame stays unprocessed and reading pauses until `tick` retries.
        connections[s].flags.insert([.waitingQueue, .readPaused])
        pausedPublishers += 1
        if !retrying {
          stats.publisherPauses &+= 1
          queueInterest(s)
          // Without keep alive, a paused publisher is given up after pauseMaxMs.
          if connections[s].keepAliveMs == 0 { connections[s].deadline = now + Broker.pauseMaxMs }
        }
        break
      }
      offset += frame.totalLength
      stats.packetsReceived &+= 1
    }
    if connections[s].state == .closing {
      releaseReceive(s)
    } else {
      keepPartial(s, consumed: offset)
    }
  }

  /// After parsing: keep the unparsed tail (a partial frame) or return the buffer.
  func keepPartial(_ s: Int, consumed: Int) {
    let used = Int(connections[s].receiveUsed)
    let left = used - consumed
    if left == 0 {
      releaseReceive(s)
      return
    }
    switch connections[s].receiveBuffer {
    case .large:
      let base = largePool.bytes(connections[s].receiveIndex)
      if consumed > 0 { base.copyMemory(from: base + consumed, byteCount: left) }
      connections[s].receiveUsed = UInt32(left)
      // Back to a receive chunk when the rest fits one and either its frame does too or
      // another connection waits for a large buffer; else keep it for the large frame in
      // progress (no copy back and forth while a client streams large frames).
      let total = Frame.announcedLength(UnsafeRawBufferPointer(start: base, count: left))
      let small = total != nil && total! <= limits.chunkBytes
      // (Less than a whole chunk: a full chunk with a frame in progress could not be read.)
      if left < limits.chunkBytes && (small || !largeWaiters.isEmpty) { _ = moveToReceiveChunk(s) }
    case .chunk:
      let base = receivePool.bytes(connections[s].receiveIndex)
      if consumed > 0 { base.copyMemory(from: base + consumed, byteCount: left) }
      connections[s].receiveUsed = UInt32(left)
      if let total = Frame.announcedLength(UnsafeRawBufferPointer(start: base, count: left)), total > limits.chunkBytes {
        if !moveToLargeBuffer(s) { pause(s, waiting: .waitingLarge) }
      }
    case .none:
      preconditionFailure("partial input without a buffer")
    }
  }

  /// The unparsed rest of a large buffer (less than one chunk) into a receive chunk, returning
  /// the large buffer to a waiter; false when no receive chunk is free (it stays).
  func moveToReceiveChunk(_ s: Int) -> Bool {
    guard let chunk = receivePool.take() else { return false }
    let large = connections[s].receiveIndex
    let used = Int(connections[s].receiveUsed)
    receivePool.bytes(chunk).copyMemory(from: largePool.bytes(large), byteCount: used)
    largePool.give(large)
    connections[s].receiveBuffer = .chunk
    connections[s].receiveIndex = chunk
    wakeLargeWaiter()
    return true
  }

  func moveToLargeBuffer(_ s: Int) -> Bool {
    guard let large = largePool.take() else { return false }
    let chunk = connections[s].receiveIndex
    let used = Int(connections[s].receiveUsed)
    largePool.bytes(large).copyMemory(from: receivePool.bytes(chunk), byteCount: used)
    receivePool.give(chunk)
    connections[s].receiveBuffer = .large
    connections[s].receiveIndex = large
    wakeChunkWaiters()
    return true
  }

  func receiveBase(_ s: Int) -> UnsafeMutableRawPointer {
    switch connections[s].receiveBuffer {
    case .chunk: return receivePool.bytes(connections[s].receiveIndex)
    case .large: return largePool.bytes(connections[s].receiveIndex)
    case .none: preconditionFailure("no receive buffer")
    }
  }

  func releaseReceive(_ s: Int) {
    switch connections[s].receiveBuffer {
    case .none: return
    case .chunk:
      receivePool.give(connections[s].receiveIndex)
      connections[s].receiveBuffer = .none
      wakeChunkWaiters()
    case .large:
      largePool.give(connections[s].receiveIndex)
      connections[s].receiveBuffer = .none
      wakeLargeWaiter()
    }
    connections[s].receiveIndex = chunkNone
    connections[s].receiveUsed = 0
  }

  func pause(_ s: Int, waiting: ConnectionFlags) {
    connections[s].flags.insert([.readPaused, waiting])
    let membership: ConnectionFlags = waiting == .waitingChunk ? .inChunkRing : .inLargeRing
    if !connections[s].flags.contains(membership) {
      connections[s].flags.insert(membership)
      let queued = waiting == .waitingChunk ? chunkWaiters.push(UInt32(s)) : largeWaiters.push(UInt32(s))
      precondition(queued, "waiter ring holds one entry per connection")
    }
    stats.readPauses &+= 1
    queueInterest(s)
  }

  func wakeChunkWaiters() {
    var budget = receivePool.freeCount
    while budget > 0, let slot = chunkWaiters.pop() {
      let s = Int(slot)
      connections[s].flags.remove(.inChunkRing)
      guard connections[s].flags.contains(.waitingChunk) else { continue }  // stale entry
      connections[s].flags.remove([.waitingChunk, .readPaused])
      if connections[s].state != .closing { resumeReading(s) }
      budget -= 1
    }
  }

  func wakeLargeWaiter() {
    while largePool.freeCount > 0, let slot = largeWaiters.pop() {
      let s = Int(slot)
      connections[s].flags.remove(.inLargeRing)
      guard connections[s].flags.contains(.waitingLarge) else { continue }  // stale entry
      connections[s].flags.remove([.waitingLarge, .readPaused])
      guard connections[s].state != .closing else { continue }
      let moved = moveToLargeBuffer(s)
      precondition(moved, "a large buffer was free")
      resumeReading(s)
    }
  }

  /// Reading resumes after a pause: the keep-alive period starts again, as the client's
  /// packets may have waited in the kernel.
  func resumeReading(_ s: Int) {
    if connections[s].keepAliveMs > 0 { connections[s].deadline = clock + UInt64(connections[s].keepAliveMs) }
    queueInterest(s)
  }

  func queueInterest(_ s: Int) {
    guard !connections[s].flags.contains(.queuedForInterest) else { return }
    connections[s].flags.insert(.queuedForInterest)
    let queued = interestQueue.push(UInt32(s))
    precondition(queued, "interest ring holds one entry per connection")
  }

  // MARK: output

  func fits(_ s: Int, _ size: Int) -> Bool {
    let queue = connections[s].output
    return queue.count + size <= limits.queuedBytesMax && sendPool.room(queue) >= size
  }

  /// Queues a control packet; a connection whose queue cannot take it is closed.
  func send(_ s: Int, size: Int, _ encode: (inout OutputSink) -> Void) {
    guard fits(s, size) else {
      close(s, .outputOverflow)
      return
    }
    append(s, size: size, encode)
  }

  func append(_ s: Int, size: Int, _ encode: (inout OutputSink) -> Void) {
    let before = connections[s].output.count
    withUnsafeMutablePointer(to: &connections[s].output) { queue in
      var sink = OutputSink(pool: sendPool, queue: queue)
      encode(&sink)
    }
    precondition(connections[s].output.count - before == size, "encoded size differs from computed size")
    stats.packetsSent &+= 1
    if !connections[s].flags.contains(.queuedForFlush) {
      connections[s].flags.insert(.queuedForFlush)
      let queued = flushQueue.push(UInt32(s))
      precondition(queued, "flush ring holds one entry per connection")
    }
  }

  public func closeReason(_ id: ConnectionID) -> CloseReason? {
    guard let s = live(id), connections[s].state == .closing else { return nil }
    return connections[s].closeReason
  }

  // MARK: helpers

  func live(_ id: ConnectionID) -> Int? {
    let s = Int(id.slot)
    guard s < connections.count, connections[s].generation == id.generation, connections[s].state != .free else {
      return nil
    }
    return s
  }

  func id(_ s: Int) -> ConnectionID { ConnectionID(slot: UInt32(s), generation: connections[s].generation) }
}

/// Encoder sink over one connection's send queue.
struct OutputSink: ByteSink {
  let pool: ChunkPool
  let queue: UnsafeMutablePointer<ChunkQueue>
  mutating func write(_ byte: UInt8) { pool.append(&queue.pointee, byte) }
  mutating func write(_ bytes: UnsafeRawBufferPointer) { pool.append(&queue.pointee, bytes) }
}
