// Encoders for the MQTT 3.1/3.1.1 packets. Each knows its exact size before writing
// (`...Size` / `remainingLength`), so callers reserve space first and never write half a
// packet. Generic over ByteSink: specialised at compile time, no allocation.

public enum Encode {
  /// Fixed header for a packet whose remaining length is `remaining`.
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

  // MARK: CONNECT

  public static func connectRemainingLength(_ c: Connect) -> Int {
    var n = (c.version == .v31 ? 2 + 6 : 2 + 4) + 1 + 1 + 2  // name, level, flags, keep alive
    n += 2 + c.clientID.count
    if let w = c.will { n += 2 + w.topic.count + 2 + w.payload.count }
    if let u = c.username { n += 2 + u.count }
    if let p = c.password { n += 2 + p.count }
    return n
  }

  public static func connect<S: ByteSink>(_ c: Connect, into s: inout S) {
    fixedHeader(.connect, flags: 0, remaining: connectRemainingLength(c), into: &s)
    if c.version == .v31 {
      s.writeBinary(staticBytes("MQIsdp"))
    } else {
      s.writeBinary(staticBytes("MQTT"))
    }
    s.write(c.version.rawValue)
    var flags: UInt8 = c.cleanSession ? 0x02 : 0
    if let w = c.will {
      flags |= 0x04 | w.qos.rawValue << 3 | (w.retain ? 0x20 : 0)
    }
    if c.password != nil { flags |= 0x40 }
    if c.username != nil { flags |= 0x80 }
    s.write(flags)
    s.writeUInt16(c.keepAliveSeconds)
    s.writeBinary(c.clientID)
    if let w = c.will {
      s.writeBinary(w.topic)
      s.writeBinary(w.payload)
    }
    if let u = c.username { s.writeBinary(u) }
    if let p = c.password { s.writeBinary(p) }
  }

  // MARK: CONNACK, acks, ping, disconnect

  public static let connackSize = 4

  public static func connack<S: ByteSink>(sessionPresent: Bool, returnCode: UInt8, into s: inout S) {
    s.write(0x20)
    s.write(0x02)
    s.write(sessionPresent ? 1 : 0)
    s.write(returnCode)
  }

  /// PUBACK, PUBREC, PUBREL, PUBCOMP or UNSUBACK: type, packet identifier.
  public static let ackSize = 4

  public static func ack<S: ByteSink>(_ type: PacketType, packetID: UInt16, into s: inout S) {
    precondition(
      type == .puback || type == .pubrec || type == .pubrel || type == .pubcomp
        || type == .unsuback, "not an ack type")
    s.write(type.rawValue << 4 | (type == .pubrel ? 0x02 : 0))  // [MQTT-3.6.1-1]
    s.write(0x02)
    s.writeUInt16(packetID)
  }

  public static let emptySize = 2

  /// PINGREQ, PINGRESP or DISCONNECT (3.1.1): two bytes.
  public static func empty<S: ByteSink>(_ type: PacketType, into s: inout S) {
    precondition(type == .pingreq || type == .pingresp || type == .disconnect, "not empty type")
    s.write(type.rawValue << 4)
    s.write(0x00)
  }

  // MARK: PUBLISH

  @inlinable
  public static func publishRemainingLength(topicCount: Int, payloadCount: Int, qos: QoS) -> Int {
    2 + topicCount + (qos == .atMostOnce ? 0 : 2) + payloadCount
  }

  /// Everything of a PUBLISH except the payload bytes; the caller writes those next. This lets
  /// the broker append the payload straight from the publisher's receive buffer.
  @inlinable
  public static func publishHeader<S: ByteSink>(
    topic: UnsafeRawBufferPointer, payloadCount: Int, qos: QoS, retain: Bool, duplicate: Bool,
    packetID: UInt16, into s: inout S
  ) {
    let flags = (duplicate ? 0x08 : 0) | qos.rawValue << 1 | (retain ? 0x01 : 0)
    let remaining = publishRemainingLength(
      topicCount: topic.count, payloadCount: payloadCount, qos: qos)
    fixedHeader(.publish, flags: flags, remaining: remaining, into: &s)
    s.writeBinary(topic)
    if qos != .atMostOnce { s.writeUInt16(packetID) }
  }

  public static func publish<S: ByteSink>(_ p: Publish, into s: inout S) {
    publishHeader(
      topic: p.topic, payloadCount: p.payload.count, qos: p.qos, retain: p.retain,
      duplicate: p.duplicate, packetID: p.packetID, into: &s)
    s.write(p.payload)
  }

  // MARK: SUBSCRIBE / SUBACK / UNSUBSCRIBE

  public static func subscribe<S: ByteSink>(_ sub: Subscribe, into s: inout S) {
    fixedHeader(.subscribe, flags: 0x02, remaining: 2 + sub.entries.raw.count, into: &s)
    s.writeUInt16(sub.packetID)
    s.write(sub.entries.raw)
  }

  public static func subackSize(count: Int) -> Int { totalSize(remaining: 2 + count) }

  public static func suback<S: ByteSink>(
    packetID: UInt16, returnCodes: UnsafeRawBufferPointer, into s: inout S
  ) {
    fixedHeader(.suback, flags: 0, remaining: 2 + returnCodes.count, into: &s)
    s.writeUInt16(packetID)
    s.write(returnCodes)
  }

  public static func unsubscribe<S: ByteSink>(_ u: Unsubscribe, into s: inout S) {
    fixedHeader(.unsubscribe, flags: 0x02, remaining: 2 + u.filters.raw.count, into: &s)
    s.writeUInt16(u.packetID)
    s.write(u.filters.raw)
  }

  /// Re-encodes any decoded packet (round-trip tests, load generators).
  public static func packet<S: ByteSink>(_ p: Packet, into s: inout S) {
    switch p {
    case .connect(let c): connect(c, into: &s)
    case .connack(let a): connack(sessionPresent: a.sessionPresent, returnCode: a.returnCode, into: &s)
    case .publish(let pub): publish(pub, into: &s)
    case .puback(let id): ack(.puback, packetID: id, into: &s)
    case .pubrec(let id): ack(.pubrec, packetID: id, into: &s)
    case .pubrel(let id): ack(.pubrel, packetID: id, into: &s)
    case .pubcomp(let id): ack(.pubcomp, packetID: id, into: &s)
    case .subscribe(let sub): subscribe(sub, into: &s)
    case .suback(let a): suback(packetID: a.packetID, returnCodes: a.returnCodes, into: &s)
    case .unsubscribe(let u): unsubscribe(u, into: &s)
    case .unsuback(let id): ack(.unsuback, packetID: id, into: &s)
    case .pingreq: empty(.pingreq, into: &s)
    case .pingresp: empty(.pingresp, into: &s)
    case .disconnect: empty(.disconnect, into: &s)
    }
  }

  @inlinable
  static func staticBytes(_ s: StaticString) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)
  }
}
