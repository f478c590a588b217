// Encoders for every packet of MQTT 3.1, 3.1.1 and 5.0. Each knows its exact size before
// writing (`...RemainingLength`, `totalSize`), so callers reserve space first and never write
// half a packet. Generic over ByteSink and PropertySource: specialised at compile time, no
// allocation. A nil property block means the 3.1.1 form of the packet.

public enum Encode {
  @inlinable
  public static func fixedHeader<S: ByteSink>(
    _ type: PacketType, flags: UInt8, remaining: Int, into s: inout S
  ) {
    s.write(type.rawValue << 4 | flags)
    s.writeVariableByteInteger(remaining)
  }

  @inlinable
  public static func totalSize(remaining: Int) -> Int {
    1 + VariableByteInteger.size(remaining) + remaining
  }

  static func propertiesSize<P: PropertySource>(_ p: P?) -> Int { p?.encodedCount ?? 0 }

  // MARK: CONNECT

  public static func connectRemainingLength(_ c: Connect) -> Int {
    var n = (c.version == .v31 ? 2 + 6 : 2 + 4) + 1 + 1 + 2  // name, level, flags, keep alive
    n += propertiesSize(c.properties)
    n += 2 + c.clientID.count
    if let w = c.will { n += propertiesSize(w.properties) + 2 + w.topic.count + 2 + w.payload.count }
    if let u = c.username { n += 2 + u.count }
    if let p = c.password { n += 2 + p.count }
    return n
  }

  public static func connect<S: ByteSink>(_ c: Connect, into s: inout S) {
    fixedHeader(.connect, flags: 0, remaining: connectRemainingLength(c), into: &s)
    s.writeBinary(staticBytes(c.version == .v31 ? "MQIsdp" : "MQTT"))
    s.write(c.version.rawValue)
    var flags: UInt8 = c.cleanSession ? 0x02 : 0
    if let w = c.will { flags |= 0x04 | w.qos.rawValue << 3 | (w.retain ? 0x20 : 0) }
    if c.password != nil { flags |= 0x40 }
    if c.username != nil { flags |= 0x80 }
    s.write(flags)
    s.writeUInt16(c.keepAliveSeconds)
    c.properties?.encode(into: &s)
    s.writeBinary(c.clientID)
    if let w = c.will {
      w.properties?.encode(into: &s)
      s.writeBinary(w.topic)
      s.writeBinary(w.payload)
    }
    if let u = c.username { s.writeBinary(u) }
    if let p = c.password { s.writeBinary(p) }
  }

  // MARK: CONNACK

  public static func connackSize<P: PropertySource>(properties: P?) -> Int {
    totalSize(remaining: 2 + propertiesSize(properties))
  }

  /// 3.1.1 CONNACK: four bytes.
  public static let connackSize = 4

  public static func connack<S: ByteSink, P: PropertySource>(
    sessionPresent: Bool, reasonCode: UInt8, properties: P?, into s: inout S
  ) {
    fixedHeader(.connack, flags: 0, remaining: 2 + propertiesSize(properties), into: &s)
    s.write(sessionPresent ? 1 : 0)
    s.write(reasonCode)
    properties?.encode(into: &s)
  }

  public static func connack<S: ByteSink>(sessionPresent: Bool, returnCode: UInt8, into s: inout S) {
    connack(sessionPresent: sessionPresent, reasonCode: returnCode, properties: Properties?.none, into: &s)
  }

  // MARK: PUBACK, PUBREC, PUBREL, PUBCOMP

  public static func ackRemainingLength<P: PropertySource>(reasonCode: UInt8?, properties: P?) -> Int {
    2 + (reasonCode != nil || properties != nil ? 1 : 0) + propertiesSize(properties)
  }

  /// 3.1.1 acks and MQTT 5 acks with reason 0x00 and no properties: four bytes.
  public static let ackSize = 4

  public static func ack<S: ByteSink, P: PropertySource>(
    _ type: PacketType, packetID: UInt16, reasonCode: UInt8?, properties: P?, into s: inout S
  ) {
    precondition(type == .puback || type == .pubrec || type == .pubrel || type == .pubcomp, "not an ack type")
    let remaining = ackRemainingLength(reasonCode: reasonCode, properties: properties)
    fixedHeader(type, flags: type == .pubrel ? 0x02 : 0, remaining: remaining, into: &s)  // [MQTT-3.6.1-1]
    s.writeUInt16(packetID)
    if reasonCode != nil || properties != nil { s.write(reasonCode ?? 0) }
    properties?.encode(into: &s)
  }

  public static func ack<S: ByteSink>(_ type: PacketType, packetID: UInt16, into s: inout S) {
    if type == .unsuback {
      fixedHeader(.unsuback, flags: 0, remaining: 2, into: &s)  // 3.1.1 UNSUBACK
      s.writeUInt16(packetID)
      return
    }
    ack(type, packetID: packetID, reasonCode: nil, properties: Properties?.none, into: &s)
  }

  // MARK: PINGREQ, PINGRESP, DISCONNECT, AUTH

  public static let emptySize = 2

  /// PINGREQ, PINGRESP or a DISCONNECT without reason: two bytes.
  public static func empty<S: ByteSink>(_ type: PacketType, into s: inout S) {
    precondition(type == .pingreq || type == .pingresp || type == .disconnect, "not an empty type")
    s.write(type.rawValue << 4)
    s.write(0x00)
  }

  public static func reasonPacketRemainingLength<P: PropertySource>(reasonCode: UInt8?, properties: P?) -> Int {
    (reasonCode != nil || properties != nil ? 1 : 0) + propertiesSize(properties)
  }

  /// MQTT 5 DISCONNECT or AUTH; with no reason and no properties the two-byte form.
  public static func reasonPacket<S: ByteSink, P: PropertySource>(
    _ type: PacketType, reasonCode: UInt8?, properties: P?, into s: inout S
  ) {
    precondition(type == .disconnect || type == .auth, "not a reason packet")
    let remaining = reasonPacketRemainingLength(reasonCode: reasonCode, properties: properties)
    fixedHeader(type, flags: 0, remaining: remaining, into: &s)
    if reasonCode != nil || properties != nil { s.write(reasonCode ?? 0) }
    properties?.encode(into: &s)
  }

  // MARK: PUBLISH

  @inlinable
  public static func publishRemainingLength(topicCount: Int, payloadCount: Int, qos: QoS) -> Int {
    2 + topicCount + (qos == .atMostOnce ? 0 : 2) + payloadCount
  }

  public static func publishRemainingLength<P: PropertySource>(
    topicCount: Int, payloadCount: Int, qos: QoS, properties: P?
  ) -> Int {
    publishRemainingLength(topicCount: topicCount, payloadCount: payloadCount, qos: qos) + propertiesSize(properties)
  }

  /// Everything of a PUBLISH except the payload bytes; the caller writes those next. This lets
  /// the broker append the payload straight from where it is stored.
  public static func publishHeader<S: ByteSink, P: PropertySource>(
    topic: UnsafeRawBufferPointer, payloadCount: Int, qos: QoS, retain: Bool, duplicate: Bool,
    packetID: UInt16, properties: P?, into s: inout S
  ) {
    let flags = (duplicate ? 0x08 : 0) | qos.rawValue << 1 | (retain ? 0x01 : 0)
    let remaining = publishRemainingLength(
      topicCount: topic.count, payloadCount: payloadCount, qos: qos, properties: properties)
    fixedHeader(.publish, flags: flags, remaining: remaining, into: &s)
    s.writeBinary(topic)
    if qos != .atMostOnce { s.writeUInt16(packetID) }
    properties?.encode(into: &s)
  }

  /// 3.1.1 PUBLISH header.
  public static func publishHeader<S: ByteSink>(
    topic: UnsafeRawBufferPointer, payloadCount: Int, qos: QoS, retain: Bool, duplicate: Bool,
    packetID: UInt16, into s: inout S
  ) {
    publishHeader(
      topic: topic, payloadCount: payloadCount, qos: qos, retain: retain, duplicate: duplicate,
      packetID: packetID, properties: Properties?.none, into: &s)
  }

  public static func publish<S: ByteSink>(_ p: Publish, into s: inout S) {
    publishHeader(
      topic: p.topic, payloadCount: p.payload.count, qos: p.qos, retain: p.retain,
      duplicate: p.duplicate, packetID: p.packetID, properties: p.properties, into: &s)
    s.write(p.payload)
  }

  // MARK: SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK

  public static func subscribe<S: ByteSink>(_ sub: Subscribe, into s: inout S) {
    let remaining = 2 + propertiesSize(sub.properties) + sub.entries.raw.count
    fixedHeader(.subscribe, flags: 0x02, remaining: remaining, into: &s)
    s.writeUInt16(sub.packetID)
    sub.properties?.encode(into: &s)
    s.write(sub.entries.raw)
  }

  public static func unsubscribe<S: ByteSink>(_ u: Unsubscribe, into s: inout S) {
    let remaining = 2 + propertiesSize(u.properties) + u.filters.raw.count
    fixedHeader(.unsubscribe, flags: 0x02, remaining: remaining, into: &s)
    s.writeUInt16(u.packetID)
    u.properties?.encode(into: &s)
    s.write(u.filters.raw)
  }

  public static func subackRemainingLength<P: PropertySource>(count: Int, properties: P?) -> Int {
    2 + propertiesSize(properties) + count
  }

  /// 3.1.1 SUBACK size for `count` return codes.
  public static func subackSize(count: Int) -> Int { totalSize(remaining: 2 + count) }

  /// SUBACK or UNSUBACK header (type, packet identifier, properties); the caller writes the
  /// `count` reason codes next.
  public static func subackHeader<S: ByteSink, P: PropertySource>(
    _ type: PacketType, packetID: UInt16, count: Int, properties: P?, into s: inout S
  ) {
    precondition(type == .suback || type == .unsuback, "not a SUBACK or UNSUBACK")
    fixedHeader(type, flags: 0, remaining: subackRemainingLength(count: count, properties: properties), into: &s)
    s.writeUInt16(packetID)
    properties?.encode(into: &s)
  }

  public static func suback<S: ByteSink>(_ type: PacketType, _ a: SubAck, into s: inout S) {
    subackHeader(type, packetID: a.packetID, count: a.reasonCodes.count, properties: a.properties, into: &s)
    s.write(a.reasonCodes)
  }

  /// Re-encodes any decoded packet (round-trip tests, load generators).
  public static func packet<S: ByteSink>(_ p: Packet, into s: inout S) {
    switch p {
    case .connect(let c): connect(c, into: &s)
    case .connack(let a):
      connack(sessionPresent: a.sessionPresent, reasonCode: a.reasonCode, properties: a.properties, into: &s)
    case .publish(let pub): publish(pub, into: &s)
    case .puback(let a): ack(.puback, packetID: a.packetID, reasonCode: a.reasonCode, properties: a.properties, into: &s)
    case .pubrec(let a): ack(.pubrec, packetID: a.packetID, reasonCode: a.reasonCode, properties: a.properties, into: &s)
    case .pubrel(let a): ack(.pubrel, packetID: a.packetID, reasonCode: a.reasonCode, properties: a.properties, into: &s)
    case .pubcomp(let a):
      ack(.pubcomp, packetID: a.packetID, reasonCode: a.reasonCode, properties: a.properties, into: &s)
    case .subscribe(let sub): subscribe(sub, into: &s)
    case .suback(let a): suback(.suback, a, into: &s)
    case .unsubscribe(let u): unsubscribe(u, into: &s)
    case .unsuback(let a): suback(.unsuback, a, into: &s)
    case .pingreq: empty(.pingreq, into: &s)
    case .pingresp: empty(.pingresp, into: &s)
    case .disconnect(let d): reasonPacket(.disconnect, reasonCode: d.reasonCode, properties: d.properties, into: &s)
    case .auth(let a): reasonPacket(.auth, reasonCode: a.reasonCode, properties: a.properties, into: &s)
    }
  }

  /// The exact encoded size of a decoded packet.
  public static func size(_ p: Packet) -> Int {
    var counter = CountingSink()
    packet(p, into: &counter)
    return counter.count
  }

  @inlinable
  static func staticBytes(_ s: StaticString) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)
  }
}

/// A sink that only counts (sizes of composite packets).
public struct CountingSink: ByteSink {
  public private(set) var count = 0
  public init() {}
  public mutating func write(_ byte: UInt8) { count += 1 }
  public mutating func write(_ bytes: UnsafeRawBufferPointer) { count += bytes.count }
}
