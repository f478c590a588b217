// Method: shared helpers for the core scenario suites (Scenario*Tests.swift). Client packets
// for MQTT 3.1.1 and 5.0 with properties and wills are built byte by byte here (`Prop`, `C`),
// and server output is decoded by a small independent reader (`Out`) so that the tests do not
// trust the codec they exercise. `finish()` ends everything the broker still holds (open
// connections, offline sessions, retained messages) and then checks that every pool is whole:
// message store, queue entries, subscriptions, sessions, aliases and inbound QoS 2 ids.
import MQTTWire
import Testing

@testable import BrokerCore

// MARK: MQTT 5 properties, encoded by hand (§2.2.2.2)

enum Prop {
  static func byte(_ id: UInt8, _ v: UInt8) -> [UInt8] { [id, v] }
  static func u16(_ id: UInt8, _ v: UInt16) -> [UInt8] { [id, UInt8(v >> 8), UInt8(v & 0xFF)] }
  static func u32(_ id: UInt8, _ v: UInt32) -> [UInt8] {
    [id, UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
  }
  static func varint(_ id: UInt8, _ v: Int) -> [UInt8] { [id] + P.remaining(v) }
  static func string(_ id: UInt8, _ s: String) -> [UInt8] { [id] + P.string(s) }
  static func binary(_ id: UInt8, _ b: [UInt8]) -> [UInt8] { [id] + P.string(b) }
  static func pair(_ k: String, _ v: String) -> [UInt8] { [0x26] + P.string(k) + P.string(v) }

  static func payloadFormat(_ v: UInt8) -> [UInt8] { byte(0x01, v) }
  static func messageExpiry(_ s: UInt32) -> [UInt8] { u32(0x02, s) }
  static func contentType(_ s: String) -> [UInt8] { string(0x03, s) }
  static func responseTopic(_ s: String) -> [UInt8] { string(0x08, s) }
  static func correlation(_ b: [UInt8]) -> [UInt8] { binary(0x09, b) }
  static func subscriptionID(_ v: Int) -> [UInt8] { varint(0x0B, v) }
  static func sessionExpiry(_ s: UInt32) -> [UInt8] { u32(0x11, s) }
  static func authMethod(_ s: String) -> [UInt8] { string(0x15, s) }
  static func willDelay(_ s: UInt32) -> [UInt8] { u32(0x18, s) }
  static func receiveMaximum(_ v: UInt16) -> [UInt8] { u16(0x21, v) }
  static func topicAliasMaximum(_ v: UInt16) -> [UInt8] { u16(0x22, v) }
  static func topicAlias(_ v: UInt16) -> [UInt8] { u16(0x23, v) }
  static func maximumPacketSize(_ v: UInt32) -> [UInt8] { u32(0x27, v) }
}

/// A will for `C.connect`.
struct WillSpec {
  var topic: String
  var payload: [UInt8]
  var qos: UInt8 = 0
  var retain = false
  var properties: [UInt8] = []  // MQTT 5 only
  init(_ topic: String, _ payload: String, qos: UInt8 = 0, retain: Bool = false, properties: [UInt8] = []) {
    self.topic = topic
    self.payload = Array(payload.utf8)
    self.qos = qos
    self.retain = retain
    self.properties = properties
  }
}

/// Client packets for 3.1.1 (v5: false) and 5.0 (v5: true).
enum C {
  static func connect(
    _ clientID: String, v5: Bool, clean: Bool = true, keepAlive: UInt16 = 0, properties: [UInt8] = [],
    will: WillSpec? = nil
  ) -> [UInt8] {
    var flags: UInt8 = clean ? 0x02 : 0
    if let w = will { flags |= 0x04 | w.qos << 3 | (w.retain ? 0x20 : 0) }
    var body = P.string("MQTT") + [v5 ? 5 : 4, flags, UInt8(keepAlive >> 8), UInt8(keepAlive & 0xFF)]
    if v5 { body += P.remaining(properties.count) + properties }
    body += P.string(clientID)
    if let w = will {
      if v5 { body += P.remaining(w.properties.count) + w.properties }
      body += P.string(w.topic) + P.string(w.payload)
    }
    return P.packet(0x10, body)
  }

  static func publish(
    _ topic: String, _ payload: [UInt8], v5: Bool, qos: UInt8 = 0, retain: Bool = false, dup: Bool = false,
    id: UInt16 = 0, properties: [UInt8] = []
  ) -> [UInt8] {
    let first: UInt8 = 0x30 | (dup ? 0x08 : 0) | qos << 1 | (retain ? 0x01 : 0)
    var body = P.string(topic)
    if qos > 0 { body += [UInt8(id >> 8), UInt8(id & 0xFF)] }
    if v5 { body += P.remaining(properties.count) + properties }
    return P.packet(first, body + payload)
  }

  static func publish(
    _ topic: String, _ text: String, v5: Bool, qos: UInt8 = 0, retain: Bool = false, dup: Bool = false,
    id: UInt16 = 0, properties: [UInt8] = []
  ) -> [UInt8] {
    publish(topic, Array(text.utf8), v5: v5, qos: qos, retain: retain, dup: dup, id: id, properties: properties)
  }

  /// Subscription options byte (§3.8.3.1): QoS, No Local, Retain As Published, Retain Handling.
  static func options(qos: UInt8, noLocal: Bool = false, rap: Bool = false, rh: UInt8 = 0) -> UInt8 {
    qos | (noLocal ? 0x04 : 0) | (rap ? 0x08 : 0) | rh << 4
  }

  static func subscribe(_ id: UInt16, _ filters: [(String, UInt8)], v5: Bool, properties: [UInt8] = []) -> [UInt8] {
    var body: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF)]
    if v5 { body += P.remaining(properties.count) + properties }
    for (f, o) in filters { body += P.string(f) + [o] }
    return P.packet(0x82, body)
  }

  static func subscribe(_ id: UInt16, _ filter: String, qos: UInt8, v5: Bool) -> [UInt8] {
    subscribe(id, [(filter, qos)], v5: v5)
  }

  static func unsubscribe(_ id: UInt16, _ filters: [String], v5: Bool) -> [UInt8] {
    var body: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF)]
    if v5 { body += [0] }
    for f in filters { body += P.string(f) }
    return P.packet(0xA2, body)
  }

  /// PUBACK 0x40, PUBREC 0x50, PUBREL 0x62, PUBCOMP 0x70 (short form: success).
  static func puback(_ id: UInt16) -> [UInt8] { P.ack(0x40, id) }
  static func pubrec(_ id: UInt16) -> [UInt8] { P.ack(0x50, id) }
  static func pubrel(_ id: UInt16) -> [UInt8] { P.ack(0x62, id) }
  static func pubcomp(_ id: UInt16) -> [UInt8] { P.ack(0x70, id) }
  static func ack(_ first: UInt8, _ id: UInt16, reason: UInt8) -> [UInt8] {
    [first, 0x03, UInt8(id >> 8), UInt8(id & 0xFF), reason]
  }

  static func disconnect(reason: UInt8 = 0, properties: [UInt8] = []) -> [UInt8] {
    P.packet(0xE0, [reason] + P.remaining(properties.count) + properties)
  }

  static func auth(reason: UInt8 = 0x18, properties: [UInt8]) -> [UInt8] {
    P.packet(0xF0, [reason] + P.remaining(properties.count) + properties)
  }
}

// MARK: server output, decoded independently

/// One property as received: identifier and its value bytes as encoded (strings and binary
/// data with their two-byte length, user properties as both strings).
struct OutProp: Equatable {
  let id: UInt8
  let value: [UInt8]
  var encoded: [UInt8] { [id] + value }
}

/// A server packet decoded for assertions (version-aware).
struct Out: CustomStringConvertible {
  let packet: ServerPacket
  let v5: Bool
  var type: UInt8 { packet.type }
  var flags: UInt8 { packet.first & 0x0F }
  var dup: Bool { flags & 0x08 != 0 }
  var qos: UInt8 { (flags >> 1) & 3 }
  var retain: Bool { flags & 1 != 0 }
  var bytes: [UInt8] { packet.bytes }

  // PUBLISH
  var topic = ""
  var packetID: UInt16 = 0
  var properties: [OutProp] = []
  /// The raw property block (PUBLISH / CONNACK), without its length.
  var rawProperties: [UInt8] = []
  var payload: [UInt8] = []
  var text: String { String(decoding: payload, as: UTF8.self) }
  // CONNACK, acks, DISCONNECT, SUBACK
  var sessionPresent = false
  var reason: UInt8 = 0
  var codes: [UInt8] = []

  init(_ p: ServerPacket, v5: Bool) {
    packet = p
    self.v5 = v5
    let b = p.body
    var i = 0
    func u16() -> Int {
      defer { i += 2 }
      return Int(b[i]) << 8 | Int(b[i + 1])
    }
    func varint() -> Int {
      var v = 0
      var m = 1
      while true {
        let x = b[i]
        i += 1
        v += Int(x & 0x7F) * m
        m *= 128
        if x & 0x80 == 0 { return v }
      }
    }
    func props() {
      let n = varint()
      let end = i + n
      rawProperties = Array(b[i..<end])
      while i < end {
        let id = b[i]
        i += 1
        let start = i
        switch id {
        case 0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A: i += 1
        case 0x13, 0x21, 0x22, 0x23: i += 2
        case 0x02, 0x11, 0x18, 0x27: i += 4
        case 0x0B: _ = varint()
        case 0x26: i += 2 + (Int(b[i]) << 8 | Int(b[i + 1])); i += 2 + (Int(b[i]) << 8 | Int(b[i + 1]))
        default: i += 2 + (Int(b[i]) << 8 | Int(b[i + 1]))  // string / binary
        }
        properties.append(OutProp(id: id, value: Array(b[start..<i])))
      }
    }
    switch p.type {
    case 3:  // PUBLISH
      let n = u16()
      topic = String(decoding: b[i..<(i + n)], as: UTF8.self)
      i += n
      if qos > 0 { packetID = UInt16(u16()) }
      if v5 { props() }
      payload = Array(b[i...])
    case 2:  // CONNACK
      sessionPresent = b[0] & 1 == 1
      reason = b[1]
      i = 2
      if v5 && b.count > 2 { props() }
    case 4, 5, 6, 7:  // PUBACK PUBREC PUBREL PUBCOMP
      packetID = UInt16(u16())
      if b.count > 2 { reason = b[2] }
    case 9, 11:  // SUBACK UNSUBACK
      packetID = UInt16(u16())
      if v5 { props() }
      codes = Array(b[i...])
    case 14:  // DISCONNECT
      if b.count > 0 { reason = b[0] }
    default: break
    }
  }

  func prop(_ id: UInt8) -> [UInt8]? { properties.first { $0.id == id }?.value }
  func all(_ id: UInt8) -> [[UInt8]] { properties.filter { $0.id == id }.map(\.value) }
  func u16(_ id: UInt8) -> UInt16? { prop(id).map { UInt16($0[0]) << 8 | UInt16($0[1]) } }
  func u32(_ id: UInt8) -> UInt32? {
    prop(id).map { UInt32($0[0]) << 24 | UInt32($0[1]) << 16 | UInt32($0[2]) << 8 | UInt32($0[3]) }
  }
  /// Subscription identifiers (variable byte integers).
  var subscriptionIDs: [Int] {
    all(0x0B).map { v in
      var x = 0
      var m = 1
      for b in v {
        x += Int(b & 0x7F) * m
        m *= 128
      }
      return x
    }
  }

  var description: String {
    switch type {
    case 3: return "PUBLISH(\(topic), \(text), q\(qos)\(dup ? " dup" : "")\(retain ? " r" : "") id \(packetID))"
    case 2: return "CONNACK(sp \(sessionPresent), \(reason))"
    default: return "type \(type) \(bytes)"
    }
  }
}

// MARK: FakeNetwork helpers

extension FakeNetwork {
  /// The decoded output of a connection.
  func out(_ id: ConnectionID, v5: Bool, sourceLocation: SourceLocation = #_sourceLocation) -> [Out] {
    take(id, sourceLocation: sourceLocation).map { Out($0, v5: v5) }
  }

  /// Opens a connection, sends CONNECT, and returns it with the decoded CONNACK (nil if none).
  func open(
    _ clientID: String, v5: Bool, clean: Bool = true, keepAlive: UInt16 = 0, properties: [UInt8] = [],
    will: WillSpec? = nil, sourceLocation: SourceLocation = #_sourceLocation
  ) throws -> (ConnectionID, Out?) {
    let id = try #require(connect(), sourceLocation: sourceLocation)
    send(id, C.connect(clientID, v5: v5, clean: clean, keepAlive: keepAlive, properties: properties, will: will))
    let packets = out(id, v5: v5, sourceLocation: sourceLocation)
    let connack = packets.first { $0.type == 2 }
    return (id, connack)
  }

  /// A connected client (CONNACK success required); returns it and whether a session was present.
  @discardableResult
  func join(
    _ clientID: String, v5: Bool, clean: Bool = true, keepAlive: UInt16 = 0, properties: [UInt8] = [],
    will: WillSpec? = nil, sourceLocation: SourceLocation = #_sourceLocation
  ) throws -> ConnectionID {
    let (id, connack) = try open(
      clientID, v5: v5, clean: clean, keepAlive: keepAlive, properties: properties, will: will,
      sourceLocation: sourceLocation)
    let ack = try #require(connack, "no CONNACK", sourceLocation: sourceLocation)
    #expect(ack.reason == 0, "CONNACK refused: \(ack.reason)", sourceLocation: sourceLocation)
    return id
  }

  /// Connects and returns the connection plus the full decoded output after CONNECT (CONNACK
  /// first, then whatever a resumed session sends).
  func resume(
    _ clientID: String, v5: Bool, clean: Bool = false, properties: [UInt8] = [],
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws -> (ConnectionID, [Out]) {
    let id = try #require(connect(), sourceLocation: sourceLocation)
    send(id, C.connect(clientID, v5: v5, clean: clean, properties: properties))
    return (id, out(id, v5: v5, sourceLocation: sourceLocation))
  }

  /// Subscribes and checks the SUBACK granted the requested QoS; returns what followed the
  /// SUBACK (retained messages).
  @discardableResult
  func sub(
    _ id: ConnectionID, _ filter: String, qos: UInt8, v5: Bool, options: UInt8? = nil, properties: [UInt8] = [],
    sourceLocation: SourceLocation = #_sourceLocation
  ) -> [Out] {
    send(id, C.subscribe(1, [(filter, options ?? qos)], v5: v5, properties: properties))
    let got = out(id, v5: v5, sourceLocation: sourceLocation)
    #expect(got.first?.type == 9 && got.first?.codes == [qos], "SUBACK \(got)", sourceLocation: sourceLocation)
    return Array(got.dropFirst())
  }

  /// A 3.1.1 persistent session subscribed to `filter`, its client gone (an offline queue).
  func parkOffline(
    _ clientID: String, _ filter: String, qos: UInt8, sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let id = try join(clientID, v5: false, clean: false, sourceLocation: sourceLocation)
    sub(id, filter, qos: qos, v5: false, sourceLocation: sourceLocation)
    hangUp(id)
  }

  /// PUBLISH packets in an output list.
  func publishes(_ id: ConnectionID, v5: Bool, sourceLocation: SourceLocation = #_sourceLocation) -> [Out] {
    out(id, v5: v5, sourceLocation: sourceLocation).filter { $0.type == 3 }
  }

  /// Ends everything the broker holds and checks that every pool is whole again (stronger
  /// than `closeAllAndCheckPools`: also sessions, stored messages, queue entries, aliases and
  /// QoS 2 ids). Offline sessions are ended directly (their wills, if any, are published).
  func finish(sourceLocation: SourceLocation = #_sourceLocation) {
    for id in openConnections { broker.peerClosed(id, reason: .peerClosed) }
    pump()
    var i = 0
    while i < broker.sessionHighWater {
      if broker.sessions[i].state != .free { broker.endSession(UInt32(i), now: now) }
      i += 1
    }
    while broker.retained.count > 0 { broker.retained.remove(0, in: broker.store) }
    pump()
    closeAllAndCheckPools(sourceLocation: sourceLocation)
    #expect(broker.stats.sessionsOffline == 0, "persistent session count", sourceLocation: sourceLocation)
    #expect(broker.store.count == 0, "stored messages leaked: \(broker.store.count)", sourceLocation: sourceLocation)
    #expect(
      broker.store.freeChunks == plan.messageChunks, "message chunks leaked", sourceLocation: sourceLocation)
    #expect(
      broker.entries.freeCount == broker.entries.entries.count, "queue entries leaked", sourceLocation: sourceLocation)
    #expect(broker.stats.messagesQueued == 0, "messagesQueued \(broker.stats.messagesQueued)", sourceLocation: sourceLocation)
    #expect(broker.subscriptions.count == 0, "subscriptions leaked", sourceLocation: sourceLocation)
    #expect(
      broker.aliases[..<(broker.slotHighWater * broker.limits.topicAliasMax)].allSatisfy { $0 == messageNone },
      "topic aliases leaked", sourceLocation: sourceLocation)
    #expect(broker.qos2IDs.allSatisfy { $0 == 0 }, "QoS 2 ids leaked", sourceLocation: sourceLocation)
    var free = 0
    var s = broker.sessionFreeHead
    while s != sessionNone && free <= broker.sessions.count {
      free += 1
      s = broker.sessions[Int(s)].connection
    }
    free += broker.sessions.count - broker.sessionHighWater  // never used
    #expect(free == broker.sessions.count, "sessions leaked: \(broker.sessions.count - free)", sourceLocation: sourceLocation)
  }
}

/// Small limits with a few overrides.
func limits(_ change: (inout Limits) -> Void) -> Limits {
  var l = smallLimits()
  change(&l)
  return l
}
