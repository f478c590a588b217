// Decode errors. Each names one precise cause and the spec rule it enforces; `outcome` is the
// one table of what a server does about each (§4.13.1): the class of the close (Malformed
// Packet, Protocol Error, or a more specific one) and the MQTT 5 reason code it answers with,
// in CONNACK for an error in CONNECT and in DISCONNECT after it. The broker core closes,
// counts, logs and answers from this table only. MQTT 3.1.1 has no reason codes: there every
// error except `unsupportedProtocolLevel` closes the connection ([MQTT-4.8.0-1]: a server that
// detects a malformed packet or protocol error closes).

public enum DecodeError: Error, Equatable, Sendable {
  /// A variable byte integer longer than four bytes. [MQTT-1.5.5-1] (3.1.1: §2.2.3)
  case malformedVariableByteInteger
  /// The packet is larger than the configured maximum; detected from the fixed header.
  case packetTooLarge
  /// Packet type 0 (reserved), or 15 (AUTH) before MQTT 5.
  case reservedPacketType
  /// Fixed-header flag bits that the packet type reserves are not as required. [MQTT-2.2.2-2]
  case invalidFixedHeaderFlags
  /// PUBLISH with both QoS bits set. [MQTT-3.3.1-4]
  case invalidQoS
  /// A field runs past the end of the remaining length.
  case truncated
  /// Bytes left over after the last field of a packet that has a fixed layout.
  case trailingBytes
  /// A string that is not well-formed UTF-8 or encodes a surrogate. [MQTT-1.5.3-1]
  case invalidUTF8
  /// A string that contains U+0000. [MQTT-1.5.3-2]
  case nullCharacter
  /// CONNECT protocol name is neither "MQTT" nor "MQIsdp". [MQTT-3.1.2-1]
  case invalidProtocolName
  /// CONNECT protocol level this server does not speak. [MQTT-3.1.2-2] (CONNACK 0x01)
  case unsupportedProtocolLevel(UInt8)
  /// CONNECT reserved flag bit 0 is set. [MQTT-3.1.2-3]
  case connectReservedFlag
  /// Will QoS/Retain set without the Will flag, or Will QoS 3. [MQTT-3.1.2-11..15]
  case invalidWillFlags
  /// Password flag without the User Name flag (MQTT 3.1.1). [MQTT-3.1.2-22]
  case passwordWithoutUsername
  /// A packet identifier of zero where one is required. [MQTT-2.3.1-1]
  case zeroPacketIdentifier
  /// A topic name containing `+` or `#`. [MQTT-3.3.2-2]
  case wildcardInTopicName
  /// An empty topic name (a 3.1.1 PUBLISH, a will topic). [MQTT-4.7.3-1]
  case emptyTopic
  /// An empty topic filter [MQTT-4.7.3-1]; `#` not last or not alone in its level, or `+` not
  /// alone in its level. [MQTT-4.7.1-2..3]
  case invalidTopicFilter
  /// SUBSCRIBE or UNSUBSCRIBE without any topic filter. [MQTT-3.8.3-3] [MQTT-3.10.3-2]
  case noTopicFilters
  /// SUBSCRIBE requested QoS 3 or set reserved bits of the options byte. [MQTT-3.8.3-4] (the 3.1.1
  /// spec prints this id as MQTT-3-8.3-4)
  case invalidSubscriptionOptions
  /// A packet only a server sends (CONNACK, SUBACK, ...) arrived at the server.
  case serverOnlyPacket
  /// MQTT 5: an unknown property identifier, one not valid for the packet, or a value of the
  /// wrong type (§2.2.2.2).
  case malformedProperty
  /// MQTT 5: a property that may appear once appears twice (§2.2.2.2).
  case duplicateProperty
  /// MQTT 5: a property value out of its range (Receive Maximum 0, a flag byte other than 0
  /// or 1, Subscription Identifier 0, ...).
  case invalidPropertyValue
  /// MQTT 5: Topic Alias 0 [MQTT-3.3.2-8] (§3.3.4: a Protocol Error answered with 0x94).
  case invalidTopicAlias
  /// MQTT 5: a reason code not defined for this packet type.
  case invalidReasonCode
  /// MQTT 5: Retain Handling 3 (§3.8.3.1).
  case invalidRetainHandling
  /// MQTT 5: SUBSCRIBE requesting Maximum QoS 3 is a Protocol Error (§3.8.3.1); in 3.1.1 it is
  /// `invalidSubscriptionOptions`.
  case invalidRequestedQoS
  /// MQTT 5: No Local on a shared subscription [MQTT-3.8.3-4].
  case sharedSubscriptionNoLocal
  /// `$share/{ShareName}/{filter}` with an empty or invalid share name or no filter
  /// [MQTT-4.8.2-1] [MQTT-4.8.2-2].
  case invalidSharedSubscription
  /// MQTT 5: empty topic name without a Topic Alias (§3.3.2.1).
  case missingTopicName
  /// MQTT 5: Payload Format Indicator 1 with a payload that is not UTF-8 (§3.3.2.3.2).
  case payloadFormatInvalid

  /// What a server does about this error: the one table (see the top of this file). Rows
  /// follow the spec's words: "is a Malformed Packet" (§1.2: cannot be parsed) answers 0x81,
  /// "is a Protocol Error" 0x82, unless Table 2-6 has a more specific code (§4.13.1).
  public var outcome: DecodeOutcome {
    switch self {
    case .malformedVariableByteInteger: return .malformed  // §1.5.5 [MQTT-1.5.5-1]
    case .packetTooLarge: return DecodeOutcome(.packetTooLarge, .packetTooLarge)  // §3.1.2.11.4
    case .reservedPacketType: return .malformed  // §2.1.2 "Forbidden": no type to parse it as
    case .invalidFixedHeaderFlags: return .malformed  // §2.1.3 [MQTT-2.1.3-1]
    case .invalidQoS: return .malformed  // §3.3.1.2 [MQTT-3.3.1-4]
    case .truncated: return .malformed  // §1.2
    case .trailingBytes: return .malformed  // §1.2
    case .invalidUTF8: return .malformed  // §1.5.4 [MQTT-1.5.4-1]
    case .nullCharacter: return .malformed  // §1.5.4 [MQTT-1.5.4-2]
    // §3.1.2.1, §3.1.2.2: CONNACK 0x84; only a CONNECT raises these.
    case .invalidProtocolName: return DecodeOutcome(.protocolError, .unsupportedProtocolVersion)
    case .unsupportedProtocolLevel: return DecodeOutcome(.protocolError, .unsupportedProtocolVersion)
    case .connectReservedFlag: return .malformed  // §3.1.2.3 [MQTT-3.1.2-3]
    case .invalidWillFlags: return .malformed  // §3.1.2.6 [MQTT-3.1.2-11..13]
    case .passwordWithoutUsername: return .protocolError  // MQTT 3.1.1 only [MQTT-3.1.2-22]
    case .zeroPacketIdentifier: return .protocolError  // §2.2.1 [MQTT-2.2.1-3]
    case .wildcardInTopicName: return DecodeOutcome(.protocolError, .topicNameInvalid)  // [MQTT-3.3.2-2]
    case .emptyTopic: return DecodeOutcome(.protocolError, .topicNameInvalid)  // [MQTT-4.7.3-1]
    case .invalidTopicFilter: return DecodeOutcome(.protocolError, .topicFilterInvalid)  // §4.7.1
    case .noTopicFilters: return .protocolError  // §3.8.3, §3.10.3: "is a Protocol Error"
    case .invalidSubscriptionOptions: return .malformed  // §3.8.3.1 [MQTT-3.8.3-5]
    case .serverOnlyPacket: return .protocolError  // §4.13.1: "an unexpected packet"
    case .malformedProperty: return .malformed  // §2.2.2.2
    case .duplicateProperty: return .protocolError  // §3.x: "more than once"
    case .invalidPropertyValue: return .protocolError  // §3.1.2.11, §3.2.2.3, §3.3.2.3
    case .invalidTopicAlias: return DecodeOutcome(.topicAliasInvalid, .topicAliasInvalid)  // §3.3.4
    case .invalidReasonCode: return .protocolError  // §2.4 Table 2-6
    case .invalidRetainHandling: return .protocolError  // §3.8.3.1
    case .invalidRequestedQoS: return .protocolError  // §3.8.3.1
    case .sharedSubscriptionNoLocal: return .protocolError  // [MQTT-3.8.3-4]
    case .invalidSharedSubscription: return DecodeOutcome(.protocolError, .topicFilterInvalid)  // §4.8.2
    case .missingTopicName: return .protocolError  // §3.3.2.1
    case .payloadFormatInvalid: return DecodeOutcome(.payloadFormatInvalid, .payloadFormatInvalid)  // §3.3.2.3.2
    }
  }

  /// The MQTT 5 reason code for this error (`outcome.reasonCode`).
  public var reasonCode: ReasonCode { outcome.reasonCode }
}

/// A row of the table `DecodeError.outcome`: how the connection ends.
public struct DecodeOutcome: Equatable, Sendable {
  /// The class of the close (the broker core's CloseReason, counted and logged).
  public enum Kind: Sendable {
    /// §1.2: the packet cannot be parsed.
    case malformed
    /// §1.2: parsed, but holds data the protocol does not allow.
    case protocolError
    case packetTooLarge
    case topicAliasInvalid
    case payloadFormatInvalid
  }

  public let kind: Kind
  /// The MQTT 5 reason code (§4.13.1: 0x81 or 0x82 unless Table 2-6 has a more specific one).
  public let reasonCode: ReasonCode

  public init(_ kind: Kind, _ reasonCode: ReasonCode) {
    self.kind = kind
    self.reasonCode = reasonCode
  }

  public static let malformed = DecodeOutcome(.malformed, .malformedPacket)
  public static let protocolError = DecodeOutcome(.protocolError, .protocolError)

  /// The code to send in `packet` (.connack or .disconnect): `reasonCode` where Table 2-6
  /// allows it there, else 0x81 or 0x82 by kind (a second CONNECT with an unknown protocol
  /// version is answered DISCONNECT 0x82: 0x84 exists only in CONNACK).
  public func reasonCode(in packet: PacketType) -> ReasonCode {
    if ReasonCode.isValid(reasonCode.rawValue, for: packet) { return reasonCode }
    return kind == .malformed ? .malformedPacket : .protocolError
  }
}

/// MQTT 5 reason codes (§2.4) used by midge, plus the MQTT 3.1.1 CONNACK return codes.
public struct ReasonCode: RawRepresentable, Equatable, Sendable {
  public let rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }

  public static let success = ReasonCode(rawValue: 0x00)
  public static let grantedQoS1 = ReasonCode(rawValue: 0x01)
  public static let grantedQoS2 = ReasonCode(rawValue: 0x02)
  public static let disconnectWithWill = ReasonCode(rawValue: 0x04)
  public static let noMatchingSubscribers = ReasonCode(rawValue: 0x10)
  public static let noSubscriptionExisted = ReasonCode(rawValue: 0x11)
  public static let continueAuthentication = ReasonCode(rawValue: 0x18)
  public static let reAuthenticate = ReasonCode(rawValue: 0x19)
  public static let unspecifiedError = ReasonCode(rawValue: 0x80)
  public static let malformedPacket = ReasonCode(rawValue: 0x81)
  public static let protocolError = ReasonCode(rawValue: 0x82)
  public static let implementationSpecificError = ReasonCode(rawValue: 0x83)
  public static let unsupportedProtocolVersion = ReasonCode(rawValue: 0x84)
  public static let clientIdentifierNotValid = ReasonCode(rawValue: 0x85)
  public static let badUserNameOrPassword = ReasonCode(rawValue: 0x86)
  public static let notAuthorized = ReasonCode(rawValue: 0x87)
  public static let serverUnavailable = ReasonCode(rawValue: 0x88)
  public static let serverBusy = ReasonCode(rawValue: 0x89)
  public static let banned = ReasonCode(rawValue: 0x8A)
  public static let serverShuttingDown = ReasonCode(rawValue: 0x8B)
  public static let badAuthenticationMethod = ReasonCode(rawValue: 0x8C)
  public static let keepAliveTimeout = ReasonCode(rawValue: 0x8D)
  public static let sessionTakenOver = ReasonCode(rawValue: 0x8E)
  public static let topicFilterInvalid = ReasonCode(rawValue: 0x8F)
  public static let topicNameInvalid = ReasonCode(rawValue: 0x90)
  public static let packetIdentifierInUse = ReasonCode(rawValue: 0x91)
  public static let packetIdentifierNotFound = ReasonCode(rawValue: 0x92)
  public static let receiveMaximumExceeded = ReasonCode(rawValue: 0x93)
  public static let topicAliasInvalid = ReasonCode(rawValue: 0x94)
  public static let packetTooLarge = ReasonCode(rawValue: 0x95)
  public static let messageRateTooHigh = ReasonCode(rawValue: 0x96)
  public static let quotaExceeded = ReasonCode(rawValue: 0x97)
  public static let administrativeAction = ReasonCode(rawValue: 0x98)
  public static let payloadFormatInvalid = ReasonCode(rawValue: 0x99)
  public static let retainNotSupported = ReasonCode(rawValue: 0x9A)
  public static let qosNotSupported = ReasonCode(rawValue: 0x9B)
  public static let useAnotherServer = ReasonCode(rawValue: 0x9C)
  public static let serverMoved = ReasonCode(rawValue: 0x9D)
  public static let sharedSubscriptionsNotSupported = ReasonCode(rawValue: 0x9E)
  public static let connectionRateExceeded = ReasonCode(rawValue: 0x9F)
  public static let maximumConnectTime = ReasonCode(rawValue: 0xA0)
  public static let subscriptionIdentifiersNotSupported = ReasonCode(rawValue: 0xA1)
  public static let wildcardSubscriptionsNotSupported = ReasonCode(rawValue: 0xA2)

  /// Whether `code` is defined for packets of `type` (§2.4 Table 2-6). Switches, not array
  /// literals: this runs in the decode path, which must not allocate.
  public static func isValid(_ code: UInt8, for type: PacketType) -> Bool {
    switch type {
    case .connack:
      switch code {
      case 0x00, 0x80...0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99...0x9D, 0x9F: return true
      default: return false
      }
    case .puback, .pubrec:
      switch code {
      case 0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99: return true
      default: return false
      }
    case .pubrel, .pubcomp:
      return code == 0x00 || code == 0x92
    case .suback:
      switch code {
      case 0x00...0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2: return true
      default: return false
      }
    case .unsuback:
      switch code {
      case 0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91: return true
      default: return false
      }
    case .disconnect:
      switch code {
      case 0x00, 0x04, 0x80...0x83, 0x87, 0x89, 0x8B, 0x8D...0x90, 0x93...0xA2: return true
      default: return false
      }
    case .auth:
      return code == 0x00 || code == 0x18 || code == 0x19
    default:
      return false
    }
  }
}

/// MQTT 3.1.1 CONNACK return codes (§3.2.2.3).
public enum ConnectReturnCode: UInt8, Sendable {
  case accepted = 0
  case unacceptableProtocolVersion = 1
  case identifierRejected = 2
  case serverUnavailable = 3
  case badUsernameOrPassword = 4
  case notAuthorized = 5
}
