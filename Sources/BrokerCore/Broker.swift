// The broker core: MQTT 3.1/3.1.1 sessions on fixed pools. Events in, effects out:
//   events : open(now:) · readBuffer/received(count:now:) · peerClosed · tick(now:) · wrote
//   effects: nextFlush() (connections with output) · nextClose() (sockets to close, after a
//            last flush) · nextInterest() (read interest changed: wantsRead)
// The core makes no syscalls and reads no clock: time is the `now` argument in milliseconds.
//
// Receive path: the platform reads straight into a pooled receive chunk of the connection
// (taken when it becomes readable, returned when no partial frame is left), every complete
// frame is decoded in place and handled, and a partial frame stays for the next read. A
// frame larger than a chunk moves to one of the large packet buffers; when none is free the
// connection stops being read (the bytes wait in the kernel) until one is. Nothing is lost
// and nothing grows.
//
// Send path: packets are encoded into the connection's queue of send chunks, once per
// packet, with exactly the size computed first. A control packet that does not fit closes
// that connection; a QoS 0 message that does not fit is dropped and counted.
import Bounded
import MQTTWire

public final class Broker {
  public let limits: Limits
  public private(set) var stats = Stats()

  let connections: UnsafeMutableBufferPointer<Connection>
  let clientIDs: UnsafeMutableRawPointer
  let qos2IDs: UnsafeMutableBufferPointer<UInt16>
  var subscriptions: SubscriptionTable
  let receivePool: ChunkPool
  let sendPool: ChunkPool
  let largePool: ChunkPool
  var freeSlots: IndexRing
  var flushQueue: IndexRing
  var closeQueue: IndexRing
  var interestQueue: IndexRing
  var chunkWaiters: IndexRing
  var largeWaiters: IndexRing
  /// Slots [0, slotHighWater) have been used at least once; timer scans stop there.
  var slotHighWater = 0
  /// Open connections that are not refusals; at most `max_connections`.
  var admittedCount = 0
  var publishStamp: UInt32 = 0
  var nextScanMs: UInt64 = 0
  static let scanIntervalMs: UInt64 = 100

  public init(plan: BrokerPlan, arena: Arena) {
    limits = plan.limits
    let n = limits.slotCount
    connections = arena.bind(plan.connections)
    connections.initialize(repeating: Connection())
    clientIDs = arena.bind(plan.clientIDs)
    qos2IDs = arena.bind(plan.qos2IDs)
    qos2IDs.initialize(repeating: 0)
    subscriptions = SubscriptionTable(
      entries: arena.bind(plan.subscriptions), filters: arena.bind(plan.filters),
      filterBytesMax: limits.topicBytesMax)
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
    // Free slots are a stack: the slot freed last is reused first, so new connections land on
    // memory that is already resident, and low slots are used first.
    var s = n
    while s > 0 {
      s -= 1
      _ = freeSlots.push(UInt32(s))
    }
  }

  // MARK: events

  /// A new network connection. When `max_connections` clients are admitted it takes a refusal
  /// slot and is answered "server busy" at CONNECT. Nil when even the refusal slots are in use:
  /// the platform closes the socket at once (counted in `stats.connectionsDroppedFull`).
  public func open(now: UInt64, anonymousAllowed: Bool) -> ConnectionID? {
    guard let slot = freeSlots.popNewest() else {
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
      // A large buffer holds exactly one frame: read no further than its end.
      let used = Int(connections[s].receiveUsed)
      let total = largeFrameBytes(s)
      let start = largePool.bytes(connections[s].receiveIndex) + used
      return UnsafeMutableRawBufferPointer(start: start, count: total - used)
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
    connections[s].receiveUsed += UInt32(count)
    stats.bytesReceived &+= UInt64(count)
    processInput(s, now: now)
  }

  /// The peer closed the connection, or reading or writing failed.
  public func peerClosed(_ id: ConnectionID, reason: CloseReason) {
    guard let s = live(id) else { return }
    close(s, reason)
  }

  /// Timers: connect and keep-alive deadlines. Cheap to call every loop turn.
  public func tick(now: UInt64) {
    guard now >= nextScanMs else { return }
    nextScanMs = now + Broker.scanIntervalMs
    var s = 0
    while s < slotHighWater {
      let c = connections[s]
      if (c.state == .awaitingConnect || c.state == .connected) && c.deadline != 0 && now >= c.deadline {
        // [MQTT-3.1.2-24] keep alive: no control packet within 1.5 x the keep alive.
        close(s, c.state == .awaitingConnect ? .connectTimeout : .keepAliveTimeout)
      }
      s += 1
    }
  }

  /// When the core next needs `tick`, or nil when no connection is open.
  public var nextTimerMs: UInt64? { stats.connectionsOpen > 0 ? nextScanMs : nil }

  /// Closes every connection (the broker is stopping).
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
  }

  /// The platform closed the socket of a connection it got from `nextClose`: the slot is free.
  public func release(_ id: ConnectionID) {
    guard let s = live(id) else { return }
    precondition(connections[s].state == .closing, "release of an open connection")
    releaseReceive(s)
    withUnsafeMutablePointer(to: &connections[s].output) { sendPool.release(&$0.pointee) }
    if !connections[s].flags.contains(.refusing) { admittedCount -= 1 }
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
    let base = receiveBase(s)
    let used = Int(connections[s].receiveUsed)
    var offset = 0
    while offset < used && connections[s].state != .closing {
      let window = UnsafeRawBufferPointer(start: base + offset, count: used - offset)
      let status: Frame.Status
      do {
        status = try Frame.detect(window, maxPacketBytes: limits.packetBytesMax, version: connections[s].version)
      } catch {
        close(s, error == .packetTooLarge ? .packetTooLarge : .malformed)
        break
      }
      guard case .complete(let frame) = status else { break }
      handleFrame(s, frame, window.slice(0, frame.totalLength), now: now)
      offset += frame.totalLength
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
      precondition(consumed == 0, "a large buffer holds a single frame")
    case .chunk:
      let base = receivePool.bytes(connections[s].receiveIndex)
      if consumed > 0 { base.copyMemory(from: base + consumed, byteCount: left) }
      connections[s].receiveUsed = UInt32(left)
      if let total = partialFrameBytes(UnsafeRawBufferPointer(start: base, count: left)), total > limits.chunkBytes {
        if !moveToLargeBuffer(s) { pause(s, waiting: .waitingLarge) }
      }
    case .none:
      preconditionFailure("partial input without a buffer")
    }
  }

  /// The total length of the frame starting at `bytes`, once its fixed header is complete.
  func partialFrameBytes(_ bytes: UnsafeRawBufferPointer) -> Int? {
    guard case .value(let remaining, let length, _) = VariableByteInteger.decode(bytes, at: 1) else { return nil }
    return 1 + length + remaining
  }

  func largeFrameBytes(_ s: Int) -> Int {
    let base = UnsafeRawBufferPointer(start: largePool.bytes(connections[s].receiveIndex), count: 5)
    guard let total = partialFrameBytes(base) else { preconditionFailure("large buffer without a header") }
    return total
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
      if connections[s].state != .closing { queueInterest(s) }
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
      queueInterest(s)
    }
  }

  func queueInterest(_ s: Int) {
    guard !connections[s].flags.contains(.queuedForInterest) else { return }
    connections[s].flags.insert(.queuedForInterest)
    let queued = interestQueue.push(UInt32(s))
    precondition(queued, "interest ring holds one entry per connection")
  }

  // MARK: packets

  func handleFrame(_ s: Int, _ frame: Frame, _ bytes: UnsafeRawBufferPointer, now: UInt64) {
    let packet: Packet
    do {
      packet = try Packet.decode(frame, bytes, version: connections[s].version)
    } catch {
      if case .unsupportedProtocolLevel = error, connections[s].state == .awaitingConnect {
        refuseConnect(s, .unacceptableProtocolVersion)  // [MQTT-3.1.2-2]
      } else {
        close(s, error == .malformedVariableByteInteger || error == .truncated || error == .trailingBytes
          || error == .invalidUTF8 || error == .nullCharacter ? .malformed : .protocolError)
      }
      return
    }
    if connections[s].state == .awaitingConnect {
      guard case .connect(let connect) = packet else {
        close(s, .protocolError)  // [MQTT-3.1.0-1] the first packet must be CONNECT
        return
      }
      handleConnect(s, connect, now: now)
      return
    }
    // Any control packet counts for keep alive. [MQTT-3.1.2-23]
    if connections[s].keepAliveMs > 0 { connections[s].deadline = now + UInt64(connections[s].keepAliveMs) }
    switch packet {
    case .connect:
      close(s, .protocolError)  // [MQTT-3.1.0-2] a second CONNECT
    case .publish(let p):
      handlePublish(s, p)
    case .pubrel(let ack):
      forgetQoS2(s, ack.packetID)
      sendAck(s, .pubcomp, ack.packetID)  // [MQTT-4.3.3-2]
    case .puback, .pubrec, .pubcomp:
      // midge sends no QoS 1/2 yet, so no acknowledgement is outstanding; ignore strays.
      break
    case .subscribe(let sub):
      handleSubscribe(s, sub)
    case .unsubscribe(let unsub):
      handleUnsubscribe(s, unsub)
    case .pingreq:
      send(s, size: Encode.emptySize) { Encode.empty(.pingresp, into: &$0) }  // [MQTT-3.12.4-1]
    case .disconnect:
      close(s, .clientDisconnect)  // [MQTT-3.14.4-1]
    case .connack, .suback, .unsuback, .pingresp, .auth:
      close(s, .protocolError)  // server-to-client packets; AUTH is MQTT 5 only
    }
  }

  func handleConnect(_ s: Int, _ c: Connect, now: UInt64) {
    if connections[s].flags.contains(.refusing) {
      // max_connections clients are connected: answer in protocol, then close.
      stats.connectionsRefusedFull &+= 1
      refuseConnect(s, .serverUnavailable, v5: c.version == .v5 ? .serverBusy : nil)
      return
    }
    if c.version == .v5 {
      // MQTT 5 sessions are not served yet: refuse in the v5 form. [MQTT-3.1.2-2]
      refuseConnect(s, .unacceptableProtocolVersion, v5: .unsupportedProtocolVersion)
      return
    }
    connections[s].version = c.version
    let id = c.clientID
    if id.count == 0 && (c.version == .v31 || !c.cleanSession) {
      refuseConnect(s, .identifierRejected)  // [MQTT-3.1.3-8]; MQTT 3.1 needs 1..23 bytes
      return
    }
    if id.count > limits.clientIDBytesMax || (c.version == .v31 && id.count > 23) {
      refuseConnect(s, .identifierRejected)  // [MQTT-3.1.3-5] the server may refuse longer ids
      return
    }
    let keepAliveMax = limits.keepAliveMaxSeconds
    if keepAliveMax < 65535 && (c.keepAliveSeconds == 0 || Int(c.keepAliveSeconds) > keepAliveMax) {
      refuseConnect(s, .identifierRejected)  // as Mosquitto does for max_keepalive (3.1.1)
      return
    }
    if !connections[s].flags.contains(.anonymousAllowed) {
      refuseConnect(s, .notAuthorized)  // no password file yet: only anonymous listeners admit
      return
    }
    if id.count > 0 { takeOver(id, except: s) }  // [MQTT-3.1.4-2]
    if id.count > 0 {
      (clientIDs + s * limits.clientIDBytesMax).copyMemory(from: id.baseAddress!, byteCount: id.count)
    }
    connections[s].clientIDCount = UInt16(id.count)
    connections[s].state = .connected
    let keepAliveMs = UInt32(c.keepAliveSeconds) * 1500
    connections[s].keepAliveMs = keepAliveMs
    connections[s].deadline = keepAliveMs > 0 ? now + UInt64(keepAliveMs) : 0
    stats.clientsConnected += 1
    stats.clientsMaximum = max(stats.clientsMaximum, stats.clientsConnected)
    // No persistent sessions yet: session present is always 0. [MQTT-3.2.2-1]
    send(s, size: Encode.connackSize) {
      Encode.connack(sessionPresent: false, returnCode: ConnectReturnCode.accepted.rawValue, into: &$0)
    }
  }

  /// CONNACK with a refusal, then close [MQTT-3.2.2-5]: the 3.1.1 return code, or for an
  /// MQTT 5 client the v5 reason code (v5 CONNACK form, no properties).
  func refuseConnect(_ s: Int, _ code: ConnectReturnCode, v5 reason: ReasonCode? = nil) {
    if let reason {
      send(s, size: Encode.connackSize(properties: OutProperties())) {
        Encode.connack(sessionPresent: false, reasonCode: reason.rawValue, properties: OutProperties(), into: &$0)
      }
    } else {
      send(s, size: Encode.connackSize) { Encode.connack(sessionPresent: false, returnCode: code.rawValue, into: &$0) }
    }
    close(s, .connectRefused)
  }

  func clientID(_ s: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: clientIDs + s * limits.clientIDBytesMax, count: Int(connections[s].clientIDCount))
  }

  func takeOver(_ id: UnsafeRawBufferPointer, except s: Int) {
    var o = 0
    while o < slotHighWater {
      if o != s && connections[o].state == .connected && clientID(o).bytesEqual(id) {
        close(o, .takenOver)
      }
      o += 1
    }
  }

  func handlePublish(_ s: Int, _ p: Publish) {
    stats.messagesReceived &+= 1
    switch p.qos {
    case .atMostOnce:
      route(p)
    case .atLeastOnce:
      route(p)
      sendAck(s, .puback, p.packetID)  // [MQTT-4.3.2-2]
    case .exactlyOnce:
      // Deliver on first receipt, remember the id until PUBREL so that a resent PUBLISH is
      // not delivered twice. [MQTT-4.3.3-2]
      if !knowsQoS2(s, p.packetID) {
        guard rememberQoS2(s, p.packetID) else {
          close(s, .inflightExceeded)  // not acknowledged: the client still owns the message
          return
        }
        route(p)
      }
      sendAck(s, .pubrec, p.packetID)
    }
  }

  func qos2Slots(_ s: Int) -> UnsafeMutableBufferPointer<UInt16> {
    let k = limits.inflightMax
    return UnsafeMutableBufferPointer(rebasing: qos2IDs[(s * k)..<((s + 1) * k)])
  }

  func knowsQoS2(_ s: Int, _ packetID: UInt16) -> Bool {
    for v in qos2Slots(s) where v == packetID { return true }
    return false
  }

  /// Records an unreleased QoS 2 packet identifier; false when the window is full.
  func rememberQoS2(_ s: Int, _ packetID: UInt16) -> Bool {
    let slots = qos2Slots(s)
    var i = 0
    while i < slots.count {
      if slots[i] == 0 {
        slots[i] = packetID
        return true
      }
      i += 1
    }
    return false
  }

  func forgetQoS2(_ s: Int, _ packetID: UInt16) {
    let slots = qos2Slots(s)
    var i = 0
    while i < slots.count {
      if slots[i] == packetID { slots[i] = 0 }
      i += 1
    }
  }

  /// Delivers to every matching subscriber once, at QoS 0, retain flag clear. [MQTT-3.3.1-9]
  func route(_ p: Publish) {
    publishStamp &+= 1
    if publishStamp == 0 { publishStamp = 1 }
    let stamp = publishStamp
    let size = Encode.totalSize(
      remaining: Encode.publishRemainingLength(topicCount: p.topic.count, payloadCount: p.payload.count, qos: .atMostOnce))
    var e = 0
    let end = subscriptions.highWater
    while e < end {
      let owner = subscriptions.entries[e].owner
      if owner != subscriptionNone && Topic.matches(filter: subscriptions.filter(e), name: p.topic) {
        let o = Int(owner)
        if connections[o].deliveryStamp != stamp && connections[o].state == .connected {
          connections[o].deliveryStamp = stamp
          deliver(o, p, size: size)
        }
      }
      e += 1
    }
  }

  func deliver(_ o: Int, _ p: Publish, size: Int) {
    guard fits(o, size) else {
      stats.messagesDroppedQueueFull &+= 1
      return
    }
    append(o, size: size) { sink in
      Encode.publishHeader(
        topic: p.topic, payloadCount: p.payload.count, qos: .atMostOnce, retain: false, duplicate: false,
        packetID: 0, into: &sink)
      sink.write(p.payload)
    }
    stats.messagesSent &+= 1
  }

  func handleSubscribe(_ s: Int, _ sub: Subscribe) {
    let count = sub.entries.count
    let size = Encode.subackSize(count: count)
    guard fits(s, size) else {
      close(s, .outputOverflow)
      return
    }
    append(s, size: size) { sink in
      Encode.fixedHeader(.suback, flags: 0, remaining: 2 + count, into: &sink)
      sink.writeUInt16(sub.packetID)  // [MQTT-3.8.4-2]
      for entry in sub.entries {
        // Only QoS 0 is granted for now. [MQTT-3.8.4-6] the server may grant a lower QoS.
        let result = subscriptions.add(
          owner: UInt32(s), head: &connections[s].subscriptionHead, filter: entry.filter, qos: .atMostOnce)
        switch result {
        case .added, .replaced:
          sink.write(0x00)
        case .tableFull, .filterTooLong:
          stats.subscriptionsRefused &+= 1
          sink.write(0x80)  // [MQTT-3.9.3-2] failure
        }
      }
    }
    stats.subscriptionsActive = subscriptions.count
  }

  func handleUnsubscribe(_ s: Int, _ unsub: Unsubscribe) {
    for filter in unsub.filters {
      _ = subscriptions.remove(head: &connections[s].subscriptionHead, filter: filter)
    }
    stats.subscriptionsActive = subscriptions.count
    sendAck(s, .unsuback, unsub.packetID)  // [MQTT-3.10.4-4] even when nothing matched
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

  func sendAck(_ s: Int, _ type: PacketType, _ packetID: UInt16) {
    send(s, size: Encode.ackSize) { Encode.ack(type, packetID: packetID, into: &$0) }
  }

  func append(_ s: Int, size: Int, _ encode: (inout OutputSink) -> Void) {
    let before = connections[s].output.count
    withUnsafeMutablePointer(to: &connections[s].output) { queue in
      var sink = OutputSink(pool: sendPool, queue: queue)
      encode(&sink)
    }
    precondition(connections[s].output.count - before == size, "encoded size differs from computed size")
    if !connections[s].flags.contains(.queuedForFlush) {
      connections[s].flags.insert(.queuedForFlush)
      let queued = flushQueue.push(UInt32(s))
      precondition(queued, "flush ring holds one entry per connection")
    }
  }

  // MARK: closing

  func close(_ s: Int, _ reason: CloseReason) {
    let state = connections[s].state
    guard state == .awaitingConnect || state == .connected else { return }
    if state == .connected { stats.clientsConnected -= 1 }
    subscriptions.removeAll(head: &connections[s].subscriptionHead)
    stats.subscriptionsActive = subscriptions.count
    for i in qos2Slots(s).indices { qos2Slots(s)[i] = 0 }
    connections[s].state = .closing
    connections[s].closeReason = reason
    stats.countClose(reason)
    let queued = closeQueue.push(UInt32(s))
    precondition(queued, "close ring holds one entry per connection")
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
