// Method: a deterministic stand-in for the platform's event loop. `FakeNetwork` owns one Broker
// built from small Limits, a fake clock (milliseconds, advanced only by the test) and fake
// connections. Bytes a client "sends" wait in a per-connection pending queue, like bytes in the
// kernel's socket buffer; they are copied into whatever `readBuffer` hands out (optionally in
// pieces of at most `piece` bytes), and when the core answers with an empty buffer (paused or
// closing) the rest stays pending until the core reports renewed read interest. `pump()`
// applies effects through the same effect loop as Platform's EventLoop (Broker.applyEffects,
// BrokerCore/Effects.swift: flush, close after one last write, interest), checks the core's
// invariants, and repeats until nothing changes. Output a connection "receives"
// is accumulated per connection and parsed into packets by `ServerPacket.parse`.
// No sockets, no threads, no sleeps: every scenario is a plain sequence of calls.
import Bounded
import MQTTWire
import Testing

@testable import BrokerCore

/// The small limits most scenarios use.
func smallLimits() -> Limits {
  var l = Limits()
  l.connectionsMax = 8
  l.subscriptionsMax = 16
  l.memoryBudgetBytes = 256 << 10
  l.chunkBytes = 256
  l.packetBytesMax = 1024
  l.queuedBytesMax = 2048
  l.largeBuffersMax = 1
  l.clientIDBytesMax = 32
  l.topicBytesMax = 64
  l.keepAliveMaxSeconds = 65535
  l.connectTimeoutSeconds = 10
  l.sysIntervalSeconds = 0  // $SYS has its own tests (SysTests)
  return l
}

final class FakeNetwork {
  let plan: BrokerPlan
  let arena: Arena
  let broker: Broker
  /// The fake clock in milliseconds.
  private(set) var now: UInt64 = 0

  final class Peer {
    let id: ConnectionID
    /// Bytes sent by the client that the broker has not read yet ("in the kernel").
    var pending: [UInt8] = []
    /// Bytes the broker wrote to this client, not yet taken by the test.
    var inbox: [UInt8] = []
    /// Everything the broker ever wrote to this client.
    var totalReceived = 0
    /// Set once the broker closed the connection (reason as reported by closeReason).
    var closed: CloseReason?
    /// A stalled client never reads: the broker's output to it is never written.
    var stalled = false
    /// Largest piece handed to `received` at once (splits reads).
    var piece = Int.max
    /// `wantsRead` values seen when the core reported an interest change, in order.
    var interest: [Bool] = []
    init(_ id: ConnectionID) { self.id = id }
  }

  private var peers: [UInt64: Peer] = [:]
  /// Connections in the order the broker closed them.
  private(set) var closeLog: [ConnectionID] = []
  /// IOSlice capacity per gather (small, so multi-chunk output takes several gathers).
  var gatherCapacity = 3
  /// Largest count passed to `wrote` at once (partial writes).
  var writeMax = Int.max

  init(_ limits: Limits = smallLimits()) {
    do {
      plan = try BrokerPlan.make(limits)
    } catch {
      preconditionFailure("test limits do not fit: \(error.message)")
    }
    arena = Arena(plan.memory)
    broker = Broker(plan: plan, arena: arena)
  }

  var stats: Stats { broker.stats }
  var limits: Limits { broker.limits }

  // MARK: connections

  /// A new TCP connection (nil when the broker refuses it: table full).
  func connect(anonymousAllowed: Bool = true) -> ConnectionID? {
    guard let id = broker.open(now: now, anonymousAllowed: anonymousAllowed) else { return nil }
    #expect(peers[id.token] == nil, "a live token was handed out twice")
    peers[id.token] = Peer(id)
    pump()
    return id
  }

  /// A connection that completed CONNECT/CONNACK (the CONNACK is taken from its inbox).
  func client(
    _ clientID: String, keepAlive: UInt16 = 0, sourceLocation: SourceLocation = #_sourceLocation
  ) throws -> ConnectionID {
    let id = try #require(connect(), sourceLocation: sourceLocation)
    send(id, P.connect(clientID: clientID, keepAlive: keepAlive))
    let packets = take(id)
    #expect(packets.map(\.bytes) == [[0x20, 0x02, 0x00, 0x00]], sourceLocation: sourceLocation)
    return id
  }

  func peer(_ id: ConnectionID) -> Peer {
    guard let p = peers[id.token] else { preconditionFailure("unknown connection") }
    return p
  }

  func setPiece(_ id: ConnectionID, _ n: Int) { peer(id).piece = n }

  /// The client sends bytes; the broker reads what it can now, then effects are applied.
  func send(_ id: ConnectionID, _ bytes: [UInt8]) {
    let p = peer(id)
    if p.closed != nil { return }  // the socket is gone: the write fails on the client side
    p.pending += bytes
    readPending(p)
    pump()
  }

  /// The client closes its socket (EOF), or the socket fails.
  func hangUp(_ id: ConnectionID, reason: CloseReason = .peerClosed) {
    broker.peerClosed(id, reason: reason)
    pump()
  }

  /// The client starts reading again: its queued output is written (EPOLLOUT).
  func unstall(_ id: ConnectionID) {
    let p = peer(id)
    p.stalled = false
    flush(p)
    pump()
  }

  /// Output bytes taken from the client's inbox, parsed into packets.
  func take(_ id: ConnectionID, sourceLocation: SourceLocation = #_sourceLocation) -> [ServerPacket] {
    let p = peer(id)
    let (packets, rest) = ServerPacket.parse(p.inbox)
    #expect(rest.isEmpty, "partial packet in the output", sourceLocation: sourceLocation)
    p.inbox = []
    return packets
  }

  func closed(_ id: ConnectionID) -> CloseReason? { peer(id).closed }

  // MARK: time

  /// Advances the clock to `t` in steps of `step` ms, ticking and pumping at every step
  /// (what the event loop does with a timer-driven wait).
  func advance(to t: UInt64, step: UInt64 = 100) {
    precondition(t >= now, "the clock does not go back")
    while now < t {
      now = min(t, now + step)
      broker.tick(now: now)
      pump()
    }
  }

  func advance(by ms: UInt64, step: UInt64 = 100) { advance(to: now + ms, step: step) }

  // MARK: the loop

  fileprivate func readPending(_ p: Peer) {
    var reads = 0
    while !p.pending.isEmpty && p.closed == nil {
      let buffer = broker.readBuffer(p.id)
      if buffer.count == 0 { break }  // paused, or closing
      let n = min(buffer.count, p.pending.count, p.piece)
      p.pending.withUnsafeBytes { src in
        buffer.baseAddress!.copyMemory(from: src.baseAddress!, byteCount: n)
      }
      p.pending.removeFirst(n)
      broker.received(p.id, count: n, now: now)
      reads += 1
      precondition(reads < 1_000_000, "read loop does not terminate")
    }
    broker.readDone(p.id)
  }

  fileprivate func flush(_ p: Peer) {
    guard !p.stalled else { return }
    let slices = UnsafeMutablePointer<IOSlice>.allocate(capacity: gatherCapacity)
    defer { slices.deallocate() }
    while true {
      let count = broker.gatherOutput(p.id, into: slices, capacity: gatherCapacity)
      if count == 0 { break }
      var written = 0
      for i in 0..<count where written < writeMax {
        let n = min(slices[i].count, writeMax - written)
        #expect(n > 0, "empty slice gathered")
        p.inbox += UnsafeRawBufferPointer(start: slices[i].base, count: n)
        written += n
      }
      p.totalReceived += written
      broker.wrote(p.id, count: written)
    }
  }

  /// Set by the effect sink (below) when an effect may have produced more effects.
  private var effectsBusy = false

  /// Applies every effect until there is nothing left to do, through the one effect loop
  /// (BrokerCore/Effects.swift); the core's invariants must hold after every round.
  func pump() {
    var rounds = 0
    repeat {
      rounds += 1
      precondition(rounds < 10_000, "effects do not settle")
      effectsBusy = false
      broker.applyEffects(to: self)
      if let problem = broker.checkInvariants() {
        Issue.record("invariant broken after an effect round: \(problem)")
      }
    } while effectsBusy
  }

  /// Connections the broker has not closed. (Closed ones keep their Peer record: a released
  /// slot comes back with a new generation, so a token is never reused.)
  var openConnections: [ConnectionID] { peers.values.filter { $0.closed == nil }.map(\.id) }

  // MARK: invariants

  /// Closes everything still open and checks that every pooled buffer went back.
  func closeAllAndCheckPools(sourceLocation: SourceLocation = #_sourceLocation) {
    for id in openConnections {
      broker.peerClosed(id, reason: .peerClosed)
    }
    pump()
    #expect(openConnections.isEmpty, "connections left open", sourceLocation: sourceLocation)
    #expect(broker.stats.connectionsOpen == 0, sourceLocation: sourceLocation)
    #expect(broker.stats.clientsConnected == 0, sourceLocation: sourceLocation)
    #expect(broker.stats.subscriptionsActive == 0, sourceLocation: sourceLocation)
    #expect(broker.receiveChunksFree == plan.rxChunks, "receive chunks leaked", sourceLocation: sourceLocation)
    #expect(broker.sendChunksFree == plan.txChunks, "send chunks leaked", sourceLocation: sourceLocation)
    #expect(
      broker.largeBuffersFree == plan.largeBuffers.count, "large buffers leaked", sourceLocation: sourceLocation)
  }
}

extension FakeNetwork: EffectSink {
  /// A stalled client never becomes writable; the others are always writable.
  func waitsForWritable(_ id: ConnectionID) -> Bool { false }

  func flush(_ id: ConnectionID) { flush(peer(id)) }

  func close(_ id: ConnectionID, reason: CloseReason) {
    let p = peer(id)
    // One last write (the real loop makes one non-blocking attempt).
    flush(p)
    #expect(broker.closeReason(id) != nil, "nextClose returned a connection that is not closing")
    p.closed = reason
    closeLog.append(id)
    p.pending = []
    effectsBusy = true
  }

  func interestChanged(_ id: ConnectionID, wantsRead: Bool) {
    let p = peer(id)
    p.interest.append(wantsRead)
    if wantsRead && !p.pending.isEmpty {
      // Level-triggered: bytes are waiting, so the connection is readable again.
      readPending(p)
      effectsBusy = true
    }
  }
}

// MARK: server output

/// One packet the broker wrote, split off the client's byte stream by its fixed header.
struct ServerPacket: Equatable, CustomStringConvertible {
  let bytes: [UInt8]
  let headerLength: Int

  var first: UInt8 { bytes[0] }
  var type: UInt8 { bytes[0] >> 4 }
  var body: [UInt8] { Array(bytes[headerLength...]) }

  /// PUBLISH fields (QoS 0 as midge delivers: no packet identifier).
  var topic: String {
    let b = body
    let n = Int(b[0]) << 8 | Int(b[1])
    return String(decoding: b[2..<(2 + n)], as: UTF8.self)
  }
  var payload: [UInt8] {
    let b = body
    let n = Int(b[0]) << 8 | Int(b[1])
    let qos = (first >> 1) & 3
    return Array(b[(2 + n + (qos > 0 ? 2 : 0))...])
  }
  var payloadText: String { String(decoding: payload, as: UTF8.self) }

  var description: String {
    bytes.count <= 16 ? "\(bytes)" : "type \(type), \(bytes.count) bytes"
  }

  /// Splits a byte stream into packets; the second result is an incomplete tail.
  static func parse(_ stream: [UInt8]) -> ([ServerPacket], [UInt8]) {
    var packets: [ServerPacket] = []
    var i = 0
    while i < stream.count {
      var value = 0
      var multiplier = 1
      var j = i + 1
      var complete = false
      while j < stream.count && j - i <= 4 {
        let b = stream[j]
        value += Int(b & 0x7F) * multiplier
        multiplier *= 128
        j += 1
        if b & 0x80 == 0 {
          complete = true
          break
        }
      }
      guard complete, j + value <= stream.count else { break }
      packets.append(ServerPacket(bytes: Array(stream[i..<(j + value)]), headerLength: j - i))
      i = j + value
    }
    return (packets, Array(stream[i...]))
  }
}

// MARK: client packets, built by hand

/// Client-to-server packets, byte by byte (MQTT 3.1.1 §3).
enum P {
  /// Remaining length as a variable byte integer (§2.2.3).
  static func remaining(_ n: Int) -> [UInt8] {
    var out: [UInt8] = []
    var x = n
    repeat {
      var b = UInt8(x % 128)
      x /= 128
      if x > 0 { b |= 0x80 }
      out.append(b)
    } while x > 0
    return out
  }

  /// Two-byte length then the bytes (§1.5.3).
  static func string(_ s: [UInt8]) -> [UInt8] { [UInt8(s.count >> 8), UInt8(s.count & 0xFF)] + s }
  static func string(_ s: String) -> [UInt8] { string(Array(s.utf8)) }

  static func packet(_ first: UInt8, _ body: [UInt8]) -> [UInt8] { [first] + remaining(body.count) + body }

  static func connect(
    clientID: String, clean: Bool = true, keepAlive: UInt16 = 0, level: UInt8 = 4,
    name: String = "MQTT", username: String? = nil, v5Properties: [UInt8]? = nil
  ) -> [UInt8] {
    connect(clientIDBytes: Array(clientID.utf8), clean: clean, keepAlive: keepAlive, level: level, name: name,
      username: username, v5Properties: v5Properties)
  }

  static func connect(
    clientIDBytes: [UInt8], clean: Bool = true, keepAlive: UInt16 = 0, level: UInt8 = 4,
    name: String = "MQTT", username: String? = nil, v5Properties: [UInt8]? = nil
  ) -> [UInt8] {
    var flags: UInt8 = clean ? 0x02 : 0x00  // bit 1: clean session
    if username != nil { flags |= 0x80 }  // bit 7: user name
    var body = string(name)  // protocol name "MQTT" (or "MQIsdp")
    body.append(level)  // protocol level: 4 = 3.1.1, 3 = 3.1, 5 = 5.0
    body.append(flags)  // connect flags
    body += [UInt8(keepAlive >> 8), UInt8(keepAlive & 0xFF)]  // keep alive, seconds
    if let props = v5Properties { body += remaining(props.count) + props }  // MQTT 5 only: properties
    body += string(clientIDBytes)  // payload: client identifier
    if let u = username { body += string(u) }
    return packet(0x10, body)  // 0x10: CONNECT
  }

  static func publish(
    _ topic: String, _ payload: [UInt8], qos: UInt8 = 0, retain: Bool = false, dup: Bool = false,
    id: UInt16 = 0
  ) -> [UInt8] {
    // 0x30: PUBLISH; flags: DUP (bit 3), QoS (bits 2-1), RETAIN (bit 0)
    let first: UInt8 = 0x30 | (dup ? 0x08 : 0) | qos << 1 | (retain ? 0x01 : 0)
    var body = string(topic)
    if qos > 0 { body += [UInt8(id >> 8), UInt8(id & 0xFF)] }  // packet identifier
    body += payload
    return packet(first, body)
  }

  static func publish(_ topic: String, _ text: String, qos: UInt8 = 0, retain: Bool = false, dup: Bool = false,
    id: UInt16 = 0) -> [UInt8]
  {
    publish(topic, Array(text.utf8), qos: qos, retain: retain, dup: dup, id: id)
  }

  static func subscribe(_ id: UInt16, _ filters: [(String, UInt8)]) -> [UInt8] {
    var body: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF)]  // packet identifier
    for (f, qos) in filters { body += string(f) + [qos] }  // filter, requested QoS
    return packet(0x82, body)  // 0x82: SUBSCRIBE, reserved flags 0010
  }

  static func subscribe(_ id: UInt16, _ filters: String...) -> [UInt8] {
    subscribe(id, filters.map { ($0, 0) })
  }

  static func unsubscribe(_ id: UInt16, _ filters: String...) -> [UInt8] {
    var body: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF)]
    for f in filters { body += string(f) }
    return packet(0xA2, body)  // 0xA2: UNSUBSCRIBE, reserved flags 0010
  }

  static func pubrel(_ id: UInt16) -> [UInt8] { [0x62, 0x02, UInt8(id >> 8), UInt8(id & 0xFF)] }  // flags 0010
  static let pingreq: [UInt8] = [0xC0, 0x00]
  static let disconnect: [UInt8] = [0xE0, 0x00]

  // Expected server packets.
  static func suback(_ id: UInt16, _ codes: UInt8...) -> [UInt8] {
    [0x90, UInt8(2 + codes.count), UInt8(id >> 8), UInt8(id & 0xFF)] + codes
  }
  static func ack(_ first: UInt8, _ id: UInt16) -> [UInt8] { [first, 0x02, UInt8(id >> 8), UInt8(id & 0xFF)] }
  static func connack(_ rc: UInt8) -> [UInt8] { [0x20, 0x02, 0x00, rc] }
  static let pingresp: [UInt8] = [0xD0, 0x00]
}

extension Array where Element == UInt8 {
  init(repeatingPattern n: Int) {
    self = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
  }
}
