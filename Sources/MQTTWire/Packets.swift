// Packets of MQTT 3.1 (level 3) and 3.1.1 (level 4), decoded over borrowed bytes (§3).
// Decoding checks syntax and every rule that belongs to a single packet; what depends on the
// session (a second CONNECT, a PUBLISH before CONNECT) is the broker core's job.
// MQTT 5 (level 5) framing and properties are not decoded yet: CONNECT at level 5 reports
// `unsupportedProtocolLevel(5)` so that the server answers CONNACK 0x01 [MQTT-3.1.2-2].

public struct Connect {
  public var version: ProtocolVersion
  public var cleanSession: Bool
  public var keepAliveSeconds: UInt16
  public var clientID: UnsafeRawBufferPointer
  public var will: Will?
  public var username: UnsafeRawBufferPointer?
  public var password: UnsafeRawBufferPointer?

  public struct Will {
    public var topic: UnsafeRawBufferPointer
    public var payload: UnsafeRawBufferPointer
    public var qos: QoS
    public var retain: Bool
  }
}

public enum QoS: UInt8, Sendable, Comparable {
  case atMostOnce = 0, atLeastOnce = 1, exactlyOnce = 2
  public static func < (a: QoS, b: QoS) -> Bool { a.rawValue < b.rawValue }
}

public struct Publish {
  public var topic: UnsafeRawBufferPointer
  public var payload: UnsafeRawBufferPointer
  public var qos: QoS
  public var retain: Bool
  public var duplicate: Bool
  /// Present (non-zero) exactly when qos > 0.
  public var packetID: UInt16
}

/// SUBSCRIBE: the filter list is kept as the validated raw payload and iterated on demand.
public struct Subscribe {
  public var packetID: UInt16
  public var entries: SubscribeEntries
}

public struct SubscribeEntries: Sequence {
  public let raw: UnsafeRawBufferPointer
  public struct Entry {
    public var filter: UnsafeRawBufferPointer
    public var qos: QoS
  }
  public struct Iterator: IteratorProtocol {
    var reader: ByteReader
    public mutating func next() -> Entry? {
      guard reader.remaining > 0 else { return nil }
      // The payload was validated at decode time; these reads cannot fail.
      guard let filter = try? reader.readBinary(), let options = try? reader.readByte() else {
        preconditionFailure("subscribe payload changed after validation")
      }
      return Entry(filter: filter, qos: QoS(rawValue: options & 0x03) ?? .atMostOnce)
    }
  }
  public func makeIterator() -> Iterator { Iterator(reader: ByteReader(raw)) }
}

public struct Unsubscribe {
  public var packetID: UInt16
  public var filters: TopicFilterList
}

public struct TopicFilterList: Sequence {
  public let raw: UnsafeRawBufferPointer
  public struct Iterator: IteratorProtocol {
    var reader: ByteReader
    public mutating func next() -> UnsafeRawBufferPointer? {
      guard reader.remaining > 0 else { return nil }
      guard let filter = try? reader.readBinary() else {
        preconditionFailure("unsubscribe payload changed after validation")
      }
      return filter
    }
  }
  public func makeIterator() -> Iterator { Iterator(reader: ByteReader(raw)) }
}

public struct ConnAck: Sendable, Equatable {
  public var sessionPresent: Bool
  public var returnCode: UInt8
}

public struct SubAck {
  public var packetID: UInt16
  public var returnCodes: UnsafeRawBufferPointer
}

public enum Packet {
  case connect(Connect)
  case connack(ConnAck)
  case publish(Publish)
  case puback(UInt16)
  case pubrec(UInt16)
  case pubrel(UInt16)
  case pubcomp(UInt16)
  case subscribe(Subscribe)
  case suback(SubAck)
  case unsubscribe(Unsubscribe)
  case unsuback(UInt16)
  case pingreq
  case pingresp
  case disconnect

  /// Decodes one complete frame. `bytes` holds exactly the frame (header and body);
  /// `version` is the connection's negotiated level (ignored for CONNECT).
  public static func decode(
    _ frame: Frame, _ bytes: UnsafeRawBufferPointer, version: ProtocolVersion
  ) throws(DecodeError) -> Packet {
    precondition(bytes.count == frame.totalLength, "decode needs exactly one frame")
    var r = ByteReader(bytes.slice(frame.headerLength, frame.remainingLength))
    let packet: Packet
    switch frame.type {
    case .connect: packet = .connect(try decodeConnect(&r))
    case .connack:
      let flags = try r.readByte()
      if flags & 0xFE != 0 { throw .invalidFixedHeaderFlags }  // §3.2.2.1: bits 7-1 reserved
      packet = .connack(ConnAck(sessionPresent: flags & 1 == 1, returnCode: try r.readByte()))
    case .publish: packet = .publish(try decodePublish(frame.flags, &r))
    case .puback: packet = .puback(try readPacketID(&r))
    case .pubrec: packet = .pubrec(try readPacketID(&r))
    case .pubrel: packet = .pubrel(try readPacketID(&r))
    case .pubcomp: packet = .pubcomp(try readPacketID(&r))
    case .subscribe: packet = .subscribe(try decodeSubscribe(&r))
    case .suback:
      let id = try readPacketID(&r)
      let codes = r.readRemaining()
      for c in codes where c > 2 && c != 0x80 { throw .invalidSubscriptionOptions }
      packet = .suback(SubAck(packetID: id, returnCodes: codes))
    case .unsubscribe: packet = .unsubscribe(try decodeUnsubscribe(&r))
    case .unsuback: packet = .unsuback(try readPacketID(&r))
    case .pingreq: packet = .pingreq
    case .pingresp: packet = .pingresp
    case .disconnect: packet = .disconnect
    case .auth: throw .reservedPacketType  // MQTT 5 only
    }
    if r.remaining != 0 { throw .trailingBytes }
    return packet
  }

  static func readPacketID(_ r: inout ByteReader) throws(DecodeError) -> UInt16 {
    let id = try r.readUInt16()
    if id == 0 { throw .zeroPacketIdentifier }  // [MQTT-2.3.1-1]
    return id
  }

  static func decodeConnect(_ r: inout ByteReader) throws(DecodeError) -> Connect {
    let name = try r.readBinary()
    let level = try r.readByte()
    let version: ProtocolVersion
    if name.bytesEqual("MQTT") {
      guard level == 4 || level == 5 else { throw .unsupportedProtocolLevel(level) }
      version = level == 4 ? .v311 : .v5
    } else if name.bytesEqual("MQIsdp") {
      guard level == 3 else { throw .unsupportedProtocolLevel(level) }
      version = .v31
    } else {
      throw .invalidProtocolName  // [MQTT-3.1.2-1]
    }
    if version == .v5 { throw .unsupportedProtocolLevel(level) }
    let flags = try r.readByte()
    if flags & 0x01 != 0 { throw .connectReservedFlag }  // [MQTT-3.1.2-3]
    let cleanSession = flags & 0x02 != 0
    let willFlag = flags & 0x04 != 0
    let willQoSBits = (flags >> 3) & 0x03
    let willRetain = flags & 0x20 != 0
    let passwordFlag = flags & 0x40 != 0
    let usernameFlag = flags & 0x80 != 0
    if !willFlag && (willQoSBits != 0 || willRetain) {
      throw .invalidWillFlags  // [MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-3.1.2-15]
    }
    guard let willQoS = QoS(rawValue: willQoSBits) else { throw .invalidWillFlags }  // [MQTT-3.1.2-14]
    if passwordFlag && !usernameFlag { throw .passwordWithoutUsername }  // [MQTT-3.1.2-22]
    let keepAlive = try r.readUInt16()
    let clientID = try r.readString()  // [MQTT-3.1.3-4]
    var will: Connect.Will?
    if willFlag {
      let topic = try r.readString()
      try Topic.validateName(topic)
      let payload = try r.readBinary()
      will = Connect.Will(topic: topic, payload: payload, qos: willQoS, retain: willRetain)
    }
    let username = usernameFlag ? try r.readString() : nil  // [MQTT-3.1.2-19]
    let password = passwordFlag ? try r.readBinary() : nil
    return Connect(
      version: version, cleanSession: cleanSession, keepAliveSeconds: keepAlive,
      clientID: clientID, will: will, username: username, password: password)
  }

  static func decodePublish(_ flags: UInt8, _ r: inout ByteReader) throws(DecodeError) -> Publish {
    guard let qos = QoS(rawValue: (flags >> 1) & 0x03) else { throw .invalidQoS }
    let topic = try r.readString()
    try Topic.validateName(topic)  // [MQTT-3.3.2-2]
    let packetID = qos == .atMostOnce ? 0 : try readPacketID(&r)
    if qos == .atMostOnce && flags & 0x08 != 0 { throw .invalidFixedHeaderFlags }  // [MQTT-3.3.1-2]
    return Publish(
      topic: topic, payload: r.readRemaining(), qos: qos, retain: flags & 0x01 != 0,
      duplicate: flags & 0x08 != 0, packetID: packetID)
  }

  static func decodeSubscribe(_ r: inout ByteReader) throws(DecodeError) -> Subscribe {
    let id = try readPacketID(&r)
    let raw = r.readRemaining()
    var check = ByteReader(raw)
    if check.remaining == 0 { throw .noTopicFilters }  // [MQTT-3.8.3-3]
    while check.remaining > 0 {
      let filter = try check.readString()
      try Topic.validateFilter(filter)
      let options = try check.readByte()
      if options & 0xFC != 0 || options & 0x03 == 0x03 {
        throw .invalidSubscriptionOptions  // [MQTT-3-8.3-4]
      }
    }
    return Subscribe(packetID: id, entries: SubscribeEntries(raw: raw))
  }

  static func decodeUnsubscribe(_ r: inout ByteReader) throws(DecodeError) -> Unsubscribe {
    let id = try readPacketID(&r)
    let raw = r.readRemaining()
    var check = ByteReader(raw)
    if check.remaining == 0 { throw .noTopicFilters }  // [MQTT-3.10.3-2]
    while check.remaining > 0 {
      let filter = try check.readString()
      try Topic.validateFilter(filter)
    }
    return Unsubscribe(packetID: id, filters: TopicFilterList(raw: raw))
  }
}
