// MQTT 5 properties (§2.2.2). A property block is a variable byte integer length followed by
// (identifier, value) pairs. Decoding validates the whole block once -- identifier known and
// allowed for this packet, value of the right type and range, strings well-formed UTF-8, no
// duplicates where the spec forbids them -- and keeps it as a borrowed view; accessors scan
// that view on demand. So a decoded packet stays small, nothing is copied, and a decoded
// block re-encodes byte for byte. Outgoing properties are built with `OutProperties`.

public enum PropertyID: UInt8, Sendable, CaseIterable {
  case payloadFormatIndicator = 0x01
  case messageExpiryInterval = 0x02
  case contentType = 0x03
  case responseTopic = 0x08
  case correlationData = 0x09
  case subscriptionIdentifier = 0x0B
  case sessionExpiryInterval = 0x11
  case assignedClientIdentifier = 0x12
  case serverKeepAlive = 0x13
  case authenticationMethod = 0x15
  case authenticationData = 0x16
  case requestProblemInformation = 0x17
  case willDelayInterval = 0x18
  case requestResponseInformation = 0x19
  case responseInformation = 0x1A
  case serverReference = 0x1C
  case reasonString = 0x1F
  case receiveMaximum = 0x21
  case topicAliasMaximum = 0x22
  case topicAlias = 0x23
  case maximumQoS = 0x24
  case retainAvailable = 0x25
  case userProperty = 0x26
  case maximumPacketSize = 0x27
  case wildcardSubscriptionAvailable = 0x28
  case subscriptionIdentifierAvailable = 0x29
  case sharedSubscriptionAvailable = 0x2A

  /// The data type of the value (§2.2.2.2 Table 2-4).
  public enum Kind: Sendable { case byte, twoByte, fourByte, variable, string, binary, stringPair }

  public var kind: Kind {
    switch self {
    case .payloadFormatIndicator, .requestProblemInformation, .requestResponseInformation, .maximumQoS,
      .retainAvailable, .wildcardSubscriptionAvailable, .subscriptionIdentifierAvailable,
      .sharedSubscriptionAvailable:
      return .byte
    case .serverKeepAlive, .receiveMaximum, .topicAliasMaximum, .topicAlias: return .twoByte
    case .messageExpiryInterval, .sessionExpiryInterval, .willDelayInterval, .maximumPacketSize: return .fourByte
    case .subscriptionIdentifier: return .variable
    case .contentType, .responseTopic, .assignedClientIdentifier, .authenticationMethod, .responseInformation,
      .serverReference, .reasonString:
      return .string
    case .correlationData, .authenticationData: return .binary
    case .userProperty: return .stringPair
    }
  }

  public var bit: UInt64 { 1 << UInt64(rawValue) }
}

/// Where a property block sits; each place allows its own identifiers (§2.2.2.2 Table 2-4).
public enum PropertyContext: Sendable {
  case connect, will, connack, publish, ack, subscribe, suback, unsubscribe, unsuback, disconnect, auth

  /// Allowed identifiers as a bit mask (bit n = identifier n). Constants, so that the decode
  /// path does not build arrays.
  var allowed: UInt64 {
    switch self {
    case .connect:  // §3.1.2.11
      return 1 << 0x11 | 1 << 0x21 | 1 << 0x27 | 1 << 0x22 | 1 << 0x19 | 1 << 0x17 | 1 << 0x26 | 1 << 0x15
        | 1 << 0x16
    case .will:  // §3.1.3.2
      return 1 << 0x18 | 1 << 0x01 | 1 << 0x02 | 1 << 0x03 | 1 << 0x08 | 1 << 0x09 | 1 << 0x26
    case .connack:  // §3.2.2.3
      return 1 << 0x11 | 1 << 0x21 | 1 << 0x24 | 1 << 0x25 | 1 << 0x27 | 1 << 0x12 | 1 << 0x22 | 1 << 0x1F
        | 1 << 0x26 | 1 << 0x28 | 1 << 0x29 | 1 << 0x2A | 1 << 0x13 | 1 << 0x1A | 1 << 0x1C | 1 << 0x15
        | 1 << 0x16
    case .publish:  // §3.3.2.3
      return 1 << 0x01 | 1 << 0x02 | 1 << 0x23 | 1 << 0x08 | 1 << 0x09 | 1 << 0x26 | 1 << 0x0B | 1 << 0x03
    case .ack, .suback, .unsuback:  // §3.4.2.2 ... §3.11.2.1
      return 1 << 0x1F | 1 << 0x26
    case .subscribe:  // §3.8.2.1
      return 1 << 0x0B | 1 << 0x26
    case .unsubscribe:  // §3.10.2.1
      return 1 << 0x26
    case .disconnect:  // §3.14.2.2
      return 1 << 0x11 | 1 << 0x1F | 1 << 0x26 | 1 << 0x1C
    case .auth:  // §3.15.2.2
      return 1 << 0x15 | 1 << 0x16 | 1 << 0x1F | 1 << 0x26
    }
  }

  /// Identifiers that may repeat here: User Property everywhere (§3.1.2.11.8 and peers),
  /// Subscription Identifier in a PUBLISH (one per matching subscription, §3.3.2.3.8).
  func mayRepeat(_ id: PropertyID) -> Bool {
    id == .userProperty || (id == .subscriptionIdentifier && self == .publish)
  }
}

/// A validated, borrowed property block (the bytes after the length).
public struct Properties {
  public let raw: UnsafeRawBufferPointer

  public static var empty: Properties { Properties(unchecked: UnsafeRawBufferPointer(start: nil, count: 0)) }

  init(unchecked raw: UnsafeRawBufferPointer) { self.raw = raw }

  /// Reads a property length and block from `r` and validates it for `context`.
  static func read(_ r: inout ByteReader, _ context: PropertyContext) throws(DecodeError) -> Properties {
    let length = try r.readVariableByteInteger()
    guard length <= r.remaining else { throw .truncated }
    let raw = try r.readBytes(length)
    try validate(raw, context)
    return Properties(unchecked: raw)
  }

  static func validate(_ raw: UnsafeRawBufferPointer, _ context: PropertyContext) throws(DecodeError) {
    var r = ByteReader(raw)
    var seen: UInt64 = 0
    while r.remaining > 0 {
      let code = try r.readVariableByteInteger()
      // Every identifier of MQTT 5.0 fits one byte; anything else is unknown.
      guard code < 0x80, let id = PropertyID(rawValue: UInt8(code)) else { throw .malformedProperty }
      // A property not valid for this packet type makes it malformed (§2.2.2.2).
      guard context.allowed & id.bit != 0 else { throw .malformedProperty }
      if seen & id.bit != 0 && !context.mayRepeat(id) { throw .duplicateProperty }
      seen |= id.bit
      switch id.kind {
      case .byte:
        let v = try r.readByte()
        switch id {
        case .maximumQoS, .payloadFormatIndicator, .requestProblemInformation, .requestResponseInformation,
          .retainAvailable, .wildcardSubscriptionAvailable, .subscriptionIdentifierAvailable,
          .sharedSubscriptionAvailable:
          if v > 1 { throw .invalidPropertyValue }  // each is 0 or 1 (§3.1.2.11, §3.2.2.3)
        default: break
        }
      case .twoByte:
        let v = try r.readUInt16()
        if v == 0 && id == .topicAlias { throw .invalidTopicAlias }  // [MQTT-3.3.2-8]
        if v == 0 && id == .receiveMaximum { throw .invalidPropertyValue }  // §3.1.2.11.3, §3.2.2.3.3
      case .fourByte:
        let v = try r.readUInt32()
        if v == 0 && id == .maximumPacketSize { throw .invalidPropertyValue }  // §3.1.2.11.4
      case .variable:
        let v = try r.readVariableByteInteger()
        if v == 0 { throw .invalidPropertyValue }  // Subscription Identifier 1..268435455 §3.3.2.3.8
      case .string:
        let value = try r.readString()
        // A Response Topic is a topic name: no wildcards [MQTT-3.3.2-14], not empty.
        if id == .responseTopic { try Topic.validateName(value) }
      case .binary:
        _ = try r.readBinary()
      case .stringPair:
        _ = try r.readString()
        _ = try r.readString()
      }
    }
    // Authentication Data without an Authentication Method is a Protocol Error
    // (§3.1.2.11.10, §3.2.2.3.18, §3.15.2.2.3).
    if seen & PropertyID.authenticationData.bit != 0 && seen & PropertyID.authenticationMethod.bit == 0 {
      throw .invalidPropertyValue
    }
  }

  // MARK: accessors (scan the validated block)

  /// The first occurrence of `id`, as a reader positioned at its value.
  func find(_ id: PropertyID) -> ByteReader? {
    var r = ByteReader(raw)
    while r.remaining > 0 {
      guard let code = try? r.readVariableByteInteger(), let here = PropertyID(rawValue: UInt8(code)) else {
        preconditionFailure("property block changed after validation")
      }
      if here == id { return r }
      Properties.skip(here, &r)
    }
    return nil
  }

  static func skip(_ id: PropertyID, _ r: inout ByteReader) {
    let ok: Bool
    switch id.kind {
    case .byte: ok = (try? r.readByte()) != nil
    case .twoByte: ok = (try? r.readUInt16()) != nil
    case .fourByte: ok = (try? r.readUInt32()) != nil
    case .variable: ok = (try? r.readVariableByteInteger()) != nil
    case .string, .binary: ok = (try? r.readBinary()) != nil
    case .stringPair: ok = (try? r.readBinary()) != nil && (try? r.readBinary()) != nil
    }
    precondition(ok, "property block changed after validation")
  }

  public func byte(_ id: PropertyID) -> UInt8? {
    guard var r = find(id) else { return nil }
    return try? r.readByte()
  }

  public func uint16(_ id: PropertyID) -> UInt16? {
    guard var r = find(id) else { return nil }
    return try? r.readUInt16()
  }

  public func uint32(_ id: PropertyID) -> UInt32? {
    guard var r = find(id) else { return nil }
    if id.kind == .variable { return (try? r.readVariableByteInteger()).map { UInt32($0) } }
    return try? r.readUInt32()
  }

  /// A string or binary property's bytes.
  public func bytes(_ id: PropertyID) -> UnsafeRawBufferPointer? {
    guard var r = find(id) else { return nil }
    return try? r.readBinary()
  }

  public func contains(_ id: PropertyID) -> Bool { find(id) != nil }

  public var isEmpty: Bool { raw.count == 0 }

  /// Bytes of the block without the properties whose bits are set in `mask`.
  public func byteCount(excluding mask: UInt64) -> Int {
    var counter = CountingSink()
    write(excluding: mask, into: &counter)
    return counter.count
  }

  /// Writes the block's (identifier, value) records in order, except those in `mask`: how a
  /// broker forwards a PUBLISH's properties unchanged while replacing a few of its own.
  public func write<S: ByteSink>(excluding mask: UInt64, into s: inout S) {
    var r = ByteReader(raw)
    while r.remaining > 0 {
      let start = r.offset
      guard let code = try? r.readVariableByteInteger(), let id = PropertyID(rawValue: UInt8(code)) else {
        preconditionFailure("property block changed after validation")
      }
      Properties.skip(id, &r)
      if mask & id.bit == 0 { s.write(raw.slice(start, r.offset - start)) }
    }
  }

  /// Every occurrence of one property, in order (User Property, Subscription Identifier).
  public func all(_ id: PropertyID) -> PropertyIterator { PropertyIterator(reader: ByteReader(raw), id: id) }
}

/// Iterates the values of one identifier; the reader is positioned at each value in turn.
public struct PropertyIterator: IteratorProtocol, Sequence {
  var reader: ByteReader
  let id: PropertyID

  public mutating func next() -> ByteReader? {
    while reader.remaining > 0 {
      guard let code = try? reader.readVariableByteInteger(), let here = PropertyID(rawValue: UInt8(code)) else {
        preconditionFailure("property block changed after validation")
      }
      let at = reader
      Properties.skip(here, &reader)
      if here == id { return at }
    }
    return nil
  }
}

// MARK: encoding

/// Anything that can write a property block: its length first, then the bytes.
public protocol PropertySource {
  /// Bytes of the block, without the length prefix.
  var byteCount: Int { get }
  func write<S: ByteSink>(into s: inout S)
}

extension PropertySource {
  /// Length prefix plus block.
  public var encodedCount: Int { VariableByteInteger.size(byteCount) + byteCount }

  public func encode<S: ByteSink>(into s: inout S) {
    s.writeVariableByteInteger(byteCount)
    write(into: &s)
  }
}

extension Properties: PropertySource {
  public var byteCount: Int { raw.count }
  public func write<S: ByteSink>(into s: inout S) { s.write(raw) }
}

/// Properties the broker sends: optional fields written in identifier order, plus verbatim
/// pass-through of a decoded block's user properties (and other forwarded properties) and up
/// to four subscription identifiers. Fixed size; no allocation.
public struct OutProperties: PropertySource {
  public var payloadFormatIndicator: UInt8?
  public var messageExpiryInterval: UInt32?
  public var contentType: UnsafeRawBufferPointer?
  public var responseTopic: UnsafeRawBufferPointer?
  public var correlationData: UnsafeRawBufferPointer?
  /// Up to four Subscription Identifiers (0 = unused slot).
  public var subscriptionIdentifiers: [4 of UInt32] = .init(repeating: 0)
  public var sessionExpiryInterval: UInt32?
  public var assignedClientIdentifier: UnsafeRawBufferPointer?
  public var serverKeepAlive: UInt16?
  public var authenticationMethod: UnsafeRawBufferPointer?
  public var authenticationData: UnsafeRawBufferPointer?
  public var responseInformation: UnsafeRawBufferPointer?
  public var serverReference: UnsafeRawBufferPointer?
  public var reasonString: UnsafeRawBufferPointer?
  public var receiveMaximum: UInt16?
  public var topicAliasMaximum: UInt16?
  public var topicAlias: UInt16?
  public var maximumQoS: UInt8?
  public var retainAvailable: UInt8?
  public var maximumPacketSize: UInt32?
  public var wildcardSubscriptionAvailable: UInt8?
  public var subscriptionIdentifierAvailable: UInt8?
  public var sharedSubscriptionAvailable: UInt8?
  /// User properties copied verbatim from a decoded block (its User Property entries only).
  public var userPropertiesFrom: Properties?

  public init() {}

  public static let subscriptionIdentifiersMax = 4

  /// Adds a subscription identifier; false when four are already set.
  public mutating func addSubscriptionIdentifier(_ v: UInt32) -> Bool {
    precondition(v > 0 && Int(v) <= VariableByteInteger.max, "subscription identifier range")
    for i in subscriptionIdentifiers.indices where subscriptionIdentifiers[i] == 0 {
      subscriptionIdentifiers[i] = v
      return true
    }
    return false
  }

  /// Measured by writing into a counting sink, so size and bytes cannot disagree.
  public var byteCount: Int {
    var counter = CountingSink()
    write(into: &counter)
    return counter.count
  }

  public func write<S: ByteSink>(into s: inout S) {
    func byte(_ id: PropertyID, _ v: UInt8?) {
      guard let v else { return }
      s.write(id.rawValue)
      s.write(v)
    }
    func two(_ id: PropertyID, _ v: UInt16?) {
      guard let v else { return }
      s.write(id.rawValue)
      s.writeUInt16(v)
    }
    func four(_ id: PropertyID, _ v: UInt32?) {
      guard let v else { return }
      s.write(id.rawValue)
      s.writeUInt32(v)
    }
    func bytes(_ id: PropertyID, _ v: UnsafeRawBufferPointer?) {
      guard let v else { return }
      s.write(id.rawValue)
      s.writeBinary(v)
    }
    byte(.payloadFormatIndicator, payloadFormatIndicator)
    four(.messageExpiryInterval, messageExpiryInterval)
    bytes(.contentType, contentType)
    bytes(.responseTopic, responseTopic)
    bytes(.correlationData, correlationData)
    let ids = subscriptionIdentifiers
    for i in ids.indices where ids[i] != 0 {
      s.write(PropertyID.subscriptionIdentifier.rawValue)
      s.writeVariableByteInteger(Int(ids[i]))
    }
    four(.sessionExpiryInterval, sessionExpiryInterval)
    bytes(.assignedClientIdentifier, assignedClientIdentifier)
    two(.serverKeepAlive, serverKeepAlive)
    bytes(.authenticationMethod, authenticationMethod)
    bytes(.authenticationData, authenticationData)
    bytes(.responseInformation, responseInformation)
    bytes(.serverReference, serverReference)
    bytes(.reasonString, reasonString)
    two(.receiveMaximum, receiveMaximum)
    two(.topicAliasMaximum, topicAliasMaximum)
    two(.topicAlias, topicAlias)
    byte(.maximumQoS, maximumQoS)
    byte(.retainAvailable, retainAvailable)
    if let from = userPropertiesFrom {
      for var r in from.all(.userProperty) {
        let start = r.offset
        Properties.skip(.userProperty, &r)
        s.write(PropertyID.userProperty.rawValue)
        s.write(r.bytes.slice(start, r.offset - start))
      }
    }
    four(.maximumPacketSize, maximumPacketSize)
    byte(.wildcardSubscriptionAvailable, wildcardSubscriptionAvailable)
    byte(.subscriptionIdentifierAvailable, subscriptionIdentifierAvailable)
    byte(.sharedSubscriptionAvailable, sharedSubscriptionAvailable)
  }
}
