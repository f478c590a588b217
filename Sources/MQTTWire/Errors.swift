// Decode errors. Each names one precise cause and the spec rule it enforces; `reasonCode`
// maps it to the single MQTT 5 reason code a server answers with. MQTT 3.1.1 has no reason
// codes: there every error except `unsupportedProtocolLevel` closes the connection
// ([MQTT-4.8.0-1]: a server that detects a malformed packet or protocol error closes).

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
  /// An empty topic name or topic filter. [MQTT-4.7.3-1]
  case emptyTopic
  /// `#` not last or not alone in its level, or `+` not alone in its level. [MQTT-4.7.1-2..3]
  case invalidTopicFilter
  /// SUBSCRIBE or UNSUBSCRIBE without any topic filter. [MQTT-3.8.3-3] [MQTT-3.10.3-2]
  case noTopicFilters
  /// SUBSCRIBE requested QoS 3 or set reserved bits of the options byte. [MQTT-3-8.3-4]
  case invalidSubscriptionOptions
  /// A packet only a server sends (CONNACK, SUBACK, ...) arrived at the server.
  case serverOnlyPacket

  /// The MQTT 5 reason code for this error.
  public var reasonCode: ReasonCode {
    switch self {
    case .packetTooLarge: return .packetTooLarge
    case .unsupportedProtocolLevel: return .unsupportedProtocolVersion
    case .invalidProtocolName: return .unsupportedProtocolVersion
    case .zeroPacketIdentifier, .serverOnlyPacket, .reservedPacketType: return .protocolError
    case .invalidTopicFilter: return .topicFilterInvalid
    case .wildcardInTopicName: return .topicNameInvalid
    default: return .malformedPacket
    }
  }
}

/// MQTT 5 reason codes (§2.4) used by midge, plus the MQTT 3.1.1 CONNACK return codes.
public struct ReasonCode: RawRepresentable, Equatable, Sendable {
  public let rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }

  public static let success = ReasonCode(rawValue: 0x00)
  public static let unspecifiedError = ReasonCode(rawValue: 0x80)
  public static let malformedPacket = ReasonCode(rawValue: 0x81)
  public static let protocolError = ReasonCode(rawValue: 0x82)
  public static let unsupportedProtocolVersion = ReasonCode(rawValue: 0x84)
  public static let clientIdentifierNotValid = ReasonCode(rawValue: 0x85)
  public static let notAuthorized = ReasonCode(rawValue: 0x87)
  public static let serverBusy = ReasonCode(rawValue: 0x89)
  public static let keepAliveTimeout = ReasonCode(rawValue: 0x8D)
  public static let sessionTakenOver = ReasonCode(rawValue: 0x8E)
  public static let topicFilterInvalid = ReasonCode(rawValue: 0x8F)
  public static let topicNameInvalid = ReasonCode(rawValue: 0x90)
  public static let packetTooLarge = ReasonCode(rawValue: 0x95)
  public static let quotaExceeded = ReasonCode(rawValue: 0x97)
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
