// Framing (§2.2): the fixed header is one byte of type and flags, then the remaining length
// as a variable byte integer of at most four bytes. `Frame.detect` looks only at the header:
// it rejects reserved flags and oversize packets before the body has arrived, and answers
// "need more" without consuming anything when the frame is incomplete.

public enum PacketType: UInt8, Sendable {
  case connect = 1, connack, publish, puback, pubrec, pubrel, pubcomp
  case subscribe, suback, unsubscribe, unsuback, pingreq, pingresp, disconnect, auth
}

public enum VariableByteInteger {
  /// 268,435,455: the largest value four bytes encode (§1.5.5).
  public static let max = 268_435_455

  @inlinable
  public static func size(_ value: Int) -> Int {
    value < 128 ? 1 : value < 16_384 ? 2 : value < 2_097_152 ? 3 : 4
  }

  public enum Decoded: Equatable, Sendable {
    /// `length` bytes encode `value`; `minimal` is false for a longer-than-needed encoding.
    case value(Int, length: Int, minimal: Bool)
    /// The bytes end inside the integer.
    case incomplete
    /// A fourth byte that still says "more follows" (§1.5.5: at most four bytes).
    case malformed
  }

  /// Decodes the integer starting at `start`: the one decoder behind fixed headers, property
  /// lengths and identifiers, and the core's look at a partial frame.
  @inlinable
  public static func decode(_ bytes: UnsafeRawBufferPointer, at start: Int) -> Decoded {
    var value = 0
    var multiplier = 1
    var i = start
    while true {
      guard i < bytes.count else { return .incomplete }
      let b = bytes[i]
      value += Int(b & 0x7F) * multiplier
      i += 1
      if b & 0x80 == 0 { return .value(value, length: i - start, minimal: b != 0 || i - start == 1) }
      if i - start == 4 { return .malformed }
      multiplier *= 128
    }
  }
}

public struct Frame: Equatable, Sendable {
  public let type: PacketType
  /// The low four bits of the first byte.
  public let flags: UInt8
  /// Fixed header length: 1 + the length of the remaining-length field (2...5).
  public let headerLength: Int
  public let remainingLength: Int
  public var totalLength: Int { headerLength + remainingLength }

  public enum Status: Equatable, Sendable {
    /// A whole frame is present at the start of the buffer.
    case complete(Frame)
    /// At least this many more bytes are needed; nothing was consumed.
    case needMore(Int)
  }

  /// Inspects the start of `bytes`. Throws for a header that can never become valid.
  @inlinable
  public static func detect(
    _ bytes: UnsafeRawBufferPointer, maxPacketBytes: Int, version: ProtocolVersion
  ) throws(DecodeError) -> Status {
    guard bytes.count >= 1 else { return .needMore(2) }
    let first = bytes[0]
    guard let type = PacketType(rawValue: first >> 4) else { throw .reservedPacketType }
    if type == .auth && version != .v5 { throw .reservedPacketType }
    let flags = first & 0x0F
    try checkFlags(type: type, flags: flags)
    let frame: Frame
    switch VariableByteInteger.decode(bytes, at: 1) {
    case .incomplete:
      return .needMore(1)  // still inside the remaining-length field
    case .malformed:
      throw .malformedVariableByteInteger  // at most four bytes (§1.5.5, §2.2.3)
    case .value(let value, let length, let minimal):
      // MQTT 5 requires the minimum number of bytes [MQTT-1.5.5-1]; 3.1.1 does not say so.
      if !minimal && version == .v5 { throw .malformedVariableByteInteger }
      frame = Frame(type: type, flags: flags, headerLength: 1 + length, remainingLength: value)
    }
    if frame.totalLength > maxPacketBytes { throw .packetTooLarge }
    if bytes.count < frame.totalLength { return .needMore(frame.totalLength - bytes.count) }
    return .complete(frame)
  }

  /// The packet size (fixed header included) the fixed header at the start of `bytes`
  /// announces; nil while its remaining length is incomplete or malformed. For a frame still
  /// arriving (which buffer it needs) and the log line of a packet too large.
  @inlinable
  public static func announcedLength(_ bytes: UnsafeRawBufferPointer) -> Int? {
    guard case .value(let value, let length, _) = VariableByteInteger.decode(bytes, at: 1) else { return nil }
    return 1 + length + value
  }

  /// Reserved flag bits per packet type (§2.2.2 Table 2.2). [MQTT-2.2.2-1] [MQTT-2.2.2-2]
  @inlinable
  static func checkFlags(type: PacketType, flags: UInt8) throws(DecodeError) {
    switch type {
    case .publish:
      if flags & 0x06 == 0x06 { throw .invalidQoS }  // [MQTT-3.3.1-4]
    case .pubrel, .subscribe, .unsubscribe:
      // [MQTT-3.6.1-1] [MQTT-3.8.1-1] [MQTT-3.10.1-1]
      if flags != 0x02 { throw .invalidFixedHeaderFlags }
    default:
      if flags != 0 { throw .invalidFixedHeaderFlags }
    }
  }

  @inlinable
  public init(type: PacketType, flags: UInt8, headerLength: Int, remainingLength: Int) {
    self.type = type
    self.flags = flags
    self.headerLength = headerLength
    self.remainingLength = remainingLength
  }
}

/// The protocol level in CONNECT (§3.1.2.2).
public enum ProtocolVersion: UInt8, Sendable {
  case v31 = 3
  case v311 = 4
  case v5 = 5
}
