// The packets of MQTT 3.1 (level 3), 3.1.1 (level 4) and 5.0 (level 5), decoded over
// borrowed bytes (§3 of each spec). Decoding checks syntax and every rule that belongs to a
// single packet; what depends on the session (a second CONNECT, a PUBLISH before CONNECT,
// topic alias state, Receive Maximum) is the broker core's job.
//
// MQTT 5 parts are optionals: `properties == nil` means the packet has the 3.1.1 form, and
// reason codes or property blocks that a v5 packet omitted (§3.4.2.1 and peers) stay nil, so
// a decoded packet re-encodes to exactly the bytes it came from.

public enum QoS: UInt8, Sendable, Comparable {
  case atMostOnce = 0, atLeastOnce = 1, exactlyOnce = 2
  public static func < (a: QoS, b: QoS) -> Bool { a.rawValue < b.rawValue }
}

public struct Connect {
  public var version: ProtocolVersion
  /// Clean Session (3.1.1) or Clean Start (5.0).
  public var cleanSession: Bool
  public var keepAliveSeconds: UInt16
  /// MQTT 5 only.
  public var properties: Properties?
  public var clientID: UnsafeRawBufferPointer
  public var will: Will?
  public var username: UnsafeRawBufferPointer?
  public var password: UnsafeRawBufferPointer?

  public struct Will {
    /// MQTT 5 only.
    public var properties: Properties?
    public var topic: UnsafeRawBufferPointer
    public var payload: UnsafeRawBufferPointer
    public var qos: QoS
    public var retain: Bool
  }
}

public struct ConnAck {
  public var sessionPresent: Bool
  /// 3.1.1 return code or MQTT 5 reason code.
  public var reasonCode: UInt8
  /// MQTT 5 only.
  public var properties: Properties?
}

public struct Publish {
  public var topic: UnsafeRawBufferPointer
  public var payload: UnsafeRawBufferPointer
  public var qos: QoS
  public var retain: Bool
  public var duplicate: Bool
  /// Present (non-zero) exactly when qos > 0.
  public var packetID: UInt16
  /// MQTT 5 only.
  public var properties: Properties?

  /// MQTT 5 (§3.3.2.3.2): with Payload Format Indicator 1 the payload must be UTF-8. A server
  /// may check it and answer 0x99.
  public func validatePayloadFormat() throws(DecodeError) {
    guard properties?.byte(.payloadFormatIndicator) == 1 else { return }
    do {
      try UTF8Check.validate(payload, allowingNull: true)
    } catch {
      throw .payloadFormatInvalid
    }
  }
}

/// PUBACK, PUBREC, PUBREL or PUBCOMP.
public struct Ack {
  public var packetID: UInt16
  /// MQTT 5: nil when omitted (meaning 0x00 Success).
  public var reasonCode: UInt8?
  /// MQTT 5: nil when omitted.
  public var properties: Properties?

  public init(packetID: UInt16, reasonCode: UInt8? = nil, properties: Properties? = nil) {
    self.packetID = packetID
    self.reasonCode = reasonCode
    self.properties = properties
  }
}

/// Subscription options (§3.8.3.1). In 3.1.1 only `qos` exists.
public struct SubscriptionOptions: Equatable, Sendable {
  public var qos: QoS
  public var noLocal: Bool
  public var retainAsPublished: Bool
  /// 0: send retained messages at subscribe; 1: only for a new subscription; 2: never.
  public var retainHandling: UInt8

  public init(qos: QoS, noLocal: Bool = false, retainAsPublished: Bool = false, retainHandling: UInt8 = 0) {
    self.qos = qos
    self.noLocal = noLocal
    self.retainAsPublished = retainAsPublished
    self.retainHandling = retainHandling
  }

  public var byte: UInt8 {
    qos.rawValue | (noLocal ? 0x04 : 0) | (retainAsPublished ? 0x08 : 0) | retainHandling << 4
  }
}

/// SUBSCRIBE: the filter list is kept as the validated raw payload and iterated on demand.
public struct Subscribe {
  public var packetID: UInt16
  public var properties: Properties?
  public var entries: SubscribeEntries
}

public struct SubscribeEntries: Sequence {
  public let raw: UnsafeRawBufferPointer
  public struct Entry {
    public var filter: UnsafeRawBufferPointer
    public var options: SubscriptionOptions
    public var qos: QoS { options.qos }
  }
  public struct Iterator: IteratorProtocol {
    var reader: ByteReader
    public mutating func next() -> Entry? {
      guard reader.remaining > 0 else { return nil }
      // The payload was validated at decode time; these reads cannot fail.
      guard let filter = try? reader.readBinary(), let o = try? reader.readByte() else {
        preconditionFailure("subscribe payload changed after validation")
      }
      let options = SubscriptionOptions(
        qos: QoS(rawValue: o & 0x03) ?? .atMostOnce, noLocal: o & 0x04 != 0, retainAsPublished: o & 0x08 != 0,
        retainHandling: (o >> 4) & 0x03)
      return Entry(filter: filter, options: options)
    }
  }
  public func makeIterator() -> Iterator { Iterator(reader: ByteReader(raw)) }
  public var count: Int {
    var n = 0
    for _ in self { n += 1 }
    return n
  }
}

public struct Unsubscribe {
  public var packetID: UInt16
  public var properties: Properties?
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
  public var count: Int {
    var n = 0
    for _ in self { n += 1 }
    return n
  }
}

/// SUBACK (return or reason codes, one per filter) or UNSUBACK (MQTT 5 reason codes; 3.1.1
/// UNSUBACK has none).
public struct SubAck {
  public var packetID: UInt16
  public var properties: Properties?
  public var reasonCodes: UnsafeRawBufferPointer
}

/// DISCONNECT or AUTH (MQTT 5 reason code and properties; both nil in the short forms).
public struct ReasonPacket {
  public var reasonCode: UInt8?
  public var properties: Properties?

  public init(reasonCode: UInt8? = nil, properties: Properties? = nil) {
    self.reasonCode = reasonCode
    self.properties = properties
  }
}

public enum Packet {
  case connect(Connect)
  case connack(ConnAck)
  case publish(Publish)
  case puback(Ack)
  case pubrec(Ack)
  case pubrel(Ack)
  case pubcomp(Ack)
  case subscribe(Subscribe)
  case suback(SubAck)
  case unsubscribe(Unsubscribe)
  case unsuback(SubAck)
  case pingreq
  case pingresp
  case disconnect(ReasonPacket)
  case auth(ReasonPacket)

  /// Decodes one complete frame. `bytes` holds exactly the frame (header and body);
  /// `version` is the connection's negotiated level (ignored for CONNECT, which sets it).
  public static func decode(
    _ frame: Frame, _ bytes: UnsafeRawBufferPointer, version: ProtocolVersion
  ) throws(DecodeError) -> Packet {
    precondition(bytes.count == frame.totalLength, "decode needs exactly one frame")
    var r = ByteReader(bytes.slice(frame.headerLength, frame.remainingLength))
    let v5 = version == .v5
    let packet: Packet
    switch frame.type {
    case .connect:
      let connect = try decodeConnect(&r)
      // The version is only known now: hold a v5 CONNECT to the minimal remaining-length
      // encoding that Frame.detect could not yet require [MQTT-1.5.5-1].
      if connect.version == .v5 && frame.headerLength != 1 + VariableByteInteger.size(frame.remainingLength) {
        throw .malformedVariableByteInteger
      }
      packet = .connect(connect)
    case .connack: packet = .connack(try decodeConnAck(&r, v5))
    case .publish: packet = .publish(try decodePublish(frame.flags, &r, v5))
    case .puback: packet = .puback(try decodeAck(.puback, &r, v5))
    case .pubrec: packet = .pubrec(try decodeAck(.pubrec, &r, v5))
    case .pubrel: packet = .pubrel(try decodeAck(.pubrel, &r, v5))
    case .pubcomp: packet = .pubcomp(try decodeAck(.pubcomp, &r, v5))
    case .subscribe: packet = .subscribe(try decodeSubscribe(&r, v5))
    case .suback: packet = .suback(try decodeSubAck(.suback, &r, v5))
    case .unsubscribe: packet = .unsubscribe(try decodeUnsubscribe(&r, v5))
    case .unsuback: packet = .unsuback(try decodeSubAck(.unsuback, &r, v5))
    case .pingreq: packet = .pingreq
    case .pingresp: packet = .pingresp
    case .disconnect: packet = .disconnect(try decodeReasonPacket(.disconnect, &r, v5))
    case .auth:
      guard v5 else { throw .reservedPacketType }
      packet = .auth(try decodeReasonPacket(.auth, &r, v5))
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
    let v5 = version == .v5
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
    // 3.1.1 forbids a password without a user name [MQTT-3.1.2-22]; MQTT 5 allows it (§3.1.2.9).
    if passwordFlag && !usernameFlag && !v5 { throw .passwordWithoutUsername }
    let keepAlive = try r.readUInt16()
    let properties = v5 ? try Properties.read(&r, .connect) : nil
    let clientID = try r.readString()  // [MQTT-3.1.3-4]
    var will: Connect.Will?
    if willFlag {
      let willProperties = v5 ? try Properties.read(&r, .will) : nil
      let topic = try r.readString()
      try Topic.validateName(topic)
      let payload = try r.readBinary()
      will = Connect.Will(properties: willProperties, topic: topic, payload: payload, qos: willQoS, retain: willRetain)
    }
    let username = usernameFlag ? try r.readString() : nil  // [MQTT-3.1.2-19]
    let password = passwordFlag ? try r.readBinary() : nil
    return Connect(
      version: version, cleanSession: cleanSession, keepAliveSeconds: keepAlive, properties: properties,
      clientID: clientID, will: will, username: username, password: password)
  }

  static func decodeConnAck(_ r: inout ByteReader, _ v5: Bool) throws(DecodeError) -> ConnAck {
    let flags = try r.readByte()
    if flags & 0xFE != 0 { throw .invalidFixedHeaderFlags }  // §3.2.2.1: bits 7-1 reserved
    let code = try r.readByte()
    if v5 && !ReasonCode.isValid(code, for: .connack) { throw .invalidReasonCode }
    let properties = v5 ? try Properties.read(&r, .connack) : nil
    return ConnAck(sessionPresent: flags & 1 == 1, reasonCode: code, properties: properties)
  }

  static func decodePublish(_ flags: UInt8, _ r: inout ByteReader, _ v5: Bool) throws(DecodeError) -> Publish {
    guard let qos = QoS(rawValue: (flags >> 1) & 0x03) else { throw .invalidQoS }
    if qos == .atMostOnce && flags & 0x08 != 0 { throw .invalidFixedHeaderFlags }  // [MQTT-3.3.1-2]
    let topic = try r.readString()
    let packetID = qos == .atMostOnce ? 0 : try readPacketID(&r)
    let properties = v5 ? try Properties.read(&r, .publish) : nil
    if topic.count == 0 && v5 {
      // MQTT 5 allows an empty topic name only together with a Topic Alias (§3.3.2.1).
      guard properties?.contains(.topicAlias) == true else { throw .missingTopicName }
    } else {
      try Topic.validateName(topic)  // [MQTT-3.3.2-2] [MQTT-4.7.3-1]
    }
    return Publish(
      topic: topic, payload: r.readRemaining(), qos: qos, retain: flags & 0x01 != 0,
      duplicate: flags & 0x08 != 0, packetID: packetID, properties: properties)
  }

  /// PUBACK/PUBREC/PUBREL/PUBCOMP. MQTT 5 may omit the reason code (remaining length 2) and
  /// the properties (remaining length 3) (§3.4.2.1).
  static func decodeAck(_ type: PacketType, _ r: inout ByteReader, _ v5: Bool) throws(DecodeError) -> Ack {
    let id = try readPacketID(&r)
    guard v5, r.remaining > 0 else { return Ack(packetID: id) }
    let code = try r.readByte()
    guard ReasonCode.isValid(code, for: type) else { throw .invalidReasonCode }
    let properties = r.remaining > 0 ? try Properties.read(&r, .ack) : nil
    return Ack(packetID: id, reasonCode: code, properties: properties)
  }

  static func decodeSubscribe(_ r: inout ByteReader, _ v5: Bool) throws(DecodeError) -> Subscribe {
    let id = try readPacketID(&r)
    let properties = v5 ? try Properties.read(&r, .subscribe) : nil
    let raw = r.readRemaining()
    var check = ByteReader(raw)
    if check.remaining == 0 { throw .noTopicFilters }  // [MQTT-3.8.3-3]
    while check.remaining > 0 {
      let filter = try check.readString()
      let options = try check.readByte()
      if v5 {
        if options & 0xC0 != 0 { throw .invalidSubscriptionOptions }  // [MQTT-3.8.3-5]
        if options & 0x03 == 0x03 { throw .invalidRequestedQoS }  // QoS 3 (§3.8.3.1)
        if (options >> 4) & 0x03 == 0x03 { throw .invalidRetainHandling }  // §3.8.3.1
        let shared = try Topic.validateSubscriptionFilter(filter)
        if shared && options & 0x04 != 0 { throw .sharedSubscriptionNoLocal }  // [MQTT-3.8.3-4]
      } else {
        if options & 0xFC != 0 || options & 0x03 == 0x03 {
          throw .invalidSubscriptionOptions  // [MQTT-3.8.3-4]
        }
        try Topic.validateFilter(filter)
      }
    }
    return Subscribe(packetID: id, properties: properties, entries: SubscribeEntries(raw: raw))
  }

  static func decodeUnsubscribe(_ r: inout ByteReader, _ v5: Bool) throws(DecodeError) -> Unsubscribe {
    let id = try readPacketID(&r)
    let properties = v5 ? try Properties.read(&r, .unsubscribe) : nil
    let raw = r.readRemaining()
    var check = ByteReader(raw)
    if check.remaining == 0 { throw .noTopicFilters }  // [MQTT-3.10.3-2]
    while check.remaining > 0 {
      let filter = try check.readString()
      if v5 { _ = try Topic.validateSubscriptionFilter(filter) } else { try Topic.validateFilter(filter) }
    }
    return Unsubscribe(packetID: id, properties: properties, filters: TopicFilterList(raw: raw))
  }

  static func decodeSubAck(_ type: PacketType, _ r: inout ByteReader, _ v5: Bool) throws(DecodeError) -> SubAck {
    let id = try readPacketID(&r)
    let properties = v5 ? try Properties.read(&r, type == .suback ? .suback : .unsuback) : nil
    let codes = r.readRemaining()
    if type == .suback || v5 {
      if codes.count == 0 { throw .truncated }  // one code per filter of the request
      for c in codes {
        if v5 {
          guard ReasonCode.isValid(c, for: type) else { throw .invalidReasonCode }
        } else if c > 2 && c != 0x80 {
          throw .invalidSubscriptionOptions  // 3.1.1 SUBACK return codes 0, 1, 2, 0x80
        }
      }
    } else if codes.count != 0 {
      throw .trailingBytes  // 3.1.1 UNSUBACK is the packet identifier only
    }
    return SubAck(packetID: id, properties: properties, reasonCodes: codes)
  }

  /// DISCONNECT (§3.14.2) or AUTH (§3.15.2). In 3.1.1 DISCONNECT has no body.
  static func decodeReasonPacket(_ type: PacketType, _ r: inout ByteReader, _ v5: Bool) throws(DecodeError)
    -> ReasonPacket
  {
    guard v5, r.remaining > 0 else { return ReasonPacket() }
    let code = try r.readByte()
    guard ReasonCode.isValid(code, for: type) else { throw .invalidReasonCode }
    let properties = r.remaining > 0 ? try Properties.read(&r, type == .auth ? .auth : .disconnect) : nil
    return ReasonPacket(reasonCode: code, properties: properties)
  }
}
