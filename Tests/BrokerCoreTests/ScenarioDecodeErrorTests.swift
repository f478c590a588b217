// Method: every decode error, once, driven from the codec's table (`DecodeError.outcome`). For
// each error a connected MQTT 5 client sends one packet that raises exactly that error (checked
// first against the codec itself: Frame.detect, Packet.decode as MQTT 5, and the payload format
// check); the broker must answer DISCONNECT with the table's reason code and close with the
// table's class. `packet(for:)` switches over DecodeError without a default, so a new error
// does not compile until it has a packet here, and `everyErrorListed` fails until it is in
// `all`. MQTT 5 CONNECT errors are checked the same way against the CONNACK a first CONNECT
// gets (§4.13.1, [MQTT-3.1.4-1]).
import MQTTWire
import Testing

@testable import BrokerCore

@Suite("Scenario: decode errors, MQTT 5")
struct ScenarioDecodeErrorTests {
  /// Every DecodeError, in declaration order.
  static let all: [DecodeError] = [
    .malformedVariableByteInteger, .packetTooLarge, .reservedPacketType, .invalidFixedHeaderFlags,
    .invalidQoS, .truncated, .trailingBytes, .invalidUTF8, .nullCharacter, .invalidProtocolName,
    .unsupportedProtocolLevel(6), .connectReservedFlag, .invalidWillFlags, .passwordWithoutUsername,
    .zeroPacketIdentifier, .wildcardInTopicName, .emptyTopic, .invalidTopicFilter, .noTopicFilters,
    .invalidSubscriptionOptions, .serverOnlyPacket, .malformedProperty, .duplicateProperty,
    .invalidPropertyValue, .invalidTopicAlias, .invalidReasonCode, .invalidRetainHandling,
    .invalidRequestedQoS, .sharedSubscriptionNoLocal, .invalidSharedSubscription, .missingTopicName,
    .payloadFormatInvalid,
  ]

  /// A second CONNECT (level 5 unless `v5` is false) with one byte changed.
  static func connect(v5: Bool = true, will: WillSpec? = nil, _ change: (inout [UInt8]) -> Void = { _ in })
    -> [UInt8]
  {
    var b = C.connect("again", v5: v5, will: will)
    change(&b)  // offsets: 4...7 "MQTT", 8 level, 9 connect flags (remaining length < 128)
    return b
  }

  /// The packet a connected MQTT 5 client sends to raise `error`, and its position in `all`.
  static func packet(for error: DecodeError) -> (index: Int, bytes: [UInt8]) {
    switch error {
    case .malformedVariableByteInteger: return (0, [0xC0, 0x80, 0x80, 0x80, 0x80, 0x01])
    case .packetTooLarge: return (1, [0x30, 0xFF, 0xFF, 0x7F])  // 2 MiB announced; the limit is 1024
    case .reservedPacketType: return (2, [0x00, 0x00])
    case .invalidFixedHeaderFlags: return (3, [0xC1, 0x00])  // PINGREQ with flags 0001
    case .invalidQoS: return (4, [0x36] + C.publish("a", "x", v5: true).dropFirst())
    case .truncated: return (5, [0x40, 0x01, 0x00])  // PUBACK with half a packet identifier
    case .trailingBytes: return (6, [0xC0, 0x01, 0x00])  // PINGREQ with a body
    case .invalidUTF8: return (7, P.packet(0x30, P.string([0x61, 0xFF]) + [0x00]))
    case .nullCharacter: return (8, P.packet(0x30, P.string([0x61, 0x00]) + [0x00]))
    case .invalidProtocolName: return (9, connect { $0[7] = 0x58 })  // "MQTX"
    case .unsupportedProtocolLevel: return (10, connect { $0[8] = 6 })
    case .connectReservedFlag: return (11, connect { $0[9] |= 0x01 })
    case .invalidWillFlags: return (12, connect { $0[9] |= 0x08 })  // Will QoS 1 without the Will Flag
    case .passwordWithoutUsername: return (13, connect(v5: false) { $0[9] |= 0x40 })
    case .zeroPacketIdentifier: return (14, C.puback(0))
    case .wildcardInTopicName: return (15, C.publish("a/+", "x", v5: true))
    case .emptyTopic: return (16, connect(will: WillSpec("", "x")))
    case .invalidTopicFilter: return (17, C.subscribe(1, "a/#/b", qos: 0, v5: true))
    case .noTopicFilters: return (18, P.packet(0x82, [0x00, 0x01, 0x00]))
    case .invalidSubscriptionOptions: return (19, C.subscribe(1, [("a", 0x40)], v5: true))
    case .serverOnlyPacket: return (20, [0xD0, 0x00])  // PINGRESP
    case .malformedProperty: return (21, C.publish("a", "x", v5: true, properties: Prop.byte(0x04, 0)))
    case .duplicateProperty:
      return (22, C.publish("a", "x", v5: true, properties: Prop.payloadFormat(0) + Prop.payloadFormat(0)))
    case .invalidPropertyValue: return (23, C.publish("a", "x", v5: true, properties: Prop.payloadFormat(2)))
    case .invalidTopicAlias: return (24, C.publish("a", "x", v5: true, properties: Prop.topicAlias(0)))
    case .invalidReasonCode: return (25, C.ack(0x40, 1, reason: 0x01))  // PUBACK 0x01
    case .invalidRetainHandling: return (26, C.subscribe(1, [("a", C.options(qos: 0, rh: 3))], v5: true))
    case .invalidRequestedQoS: return (27, C.subscribe(1, [("a", 3)], v5: true))
    case .sharedSubscriptionNoLocal:
      return (28, C.subscribe(1, [("$share/g/a", C.options(qos: 0, noLocal: true))], v5: true))
    case .invalidSharedSubscription: return (29, C.subscribe(1, [("$share//a", 0)], v5: true))
    case .missingTopicName: return (30, C.publish("", "x", v5: true))
    case .payloadFormatInvalid: return (31, C.publish("a", [0xFF], v5: true, properties: Prop.payloadFormat(1)))
    }
  }

  /// What the codec says of `bytes` on an MQTT 5 connection: the error it raises (a packet only
  /// a server sends is `.serverOnlyPacket`), or nil when they decode.
  static func codecError(_ bytes: [UInt8], maxPacketBytes: Int) -> DecodeError? {
    bytes.withUnsafeBytes { raw -> DecodeError? in
      do throws(DecodeError) {
        guard case .complete(let frame) = try Frame.detect(raw, maxPacketBytes: maxPacketBytes, version: .v5)
        else { return nil }
        let one = UnsafeRawBufferPointer(rebasing: raw[0..<frame.totalLength])
        switch try Packet.decode(frame, one, version: .v5) {
        case .publish(let p): try p.validatePayloadFormat()
        case .connack, .suback, .unsuback, .pingresp: return .serverOnlyPacket
        default: break
        }
        return nil
      } catch {
        return error
      }
    }
  }

  @Test("every DecodeError is listed once, in order")
  func everyErrorListed() {
    #expect(Self.all.map { Self.packet(for: $0).index } == Array(0..<Self.all.count))
  }

  @Test("a connected MQTT 5 client gets DISCONNECT with the table's reason code, closed as the table's class (§4.13.1)",
    arguments: all)
  func disconnectReason(_ error: DecodeError) throws {
    let net = FakeNetwork()
    let bytes = Self.packet(for: error).bytes
    #expect(Self.codecError(bytes, maxPacketBytes: net.limits.packetBytesMax) == error, "the packet raises \(error)")
    let outcome = error.outcome
    let code = outcome.reasonCode(in: .disconnect)
    #expect(ReasonCode.isValid(code.rawValue, for: .disconnect))
    let c = try net.join("c", v5: true)
    net.send(c, bytes)
    #expect(net.out(c, v5: true).map(\.bytes) == [[0xE0, 0x01, code.rawValue]], "\(error)")
    #expect(net.closed(c) == CloseReason(outcome.kind), "\(error)")
    #expect(net.stats.closes(CloseReason(outcome.kind)) == 1)
    net.finish()
  }

  @Test("the DISCONNECT reasons the issue names: wildcard topic 0x90, invalid filter 0x8F, Topic Alias 0 0x94")
  func namedReasons() {
    #expect(DecodeError.wildcardInTopicName.outcome.reasonCode(in: .disconnect) == .topicNameInvalid)
    #expect(DecodeError.invalidTopicFilter.outcome.reasonCode(in: .disconnect) == .topicFilterInvalid)
    #expect(DecodeError.invalidSharedSubscription.outcome.reasonCode(in: .disconnect) == .topicFilterInvalid)
    #expect(DecodeError.invalidTopicAlias.outcome.reasonCode(in: .disconnect) == .topicAliasInvalid)
    #expect(DecodeError.truncated.outcome == .malformed)
    #expect(DecodeError.noTopicFilters.outcome == .protocolError)
    // 0x84 exists only in CONNACK: a second CONNECT naming another protocol gets 0x82.
    #expect(DecodeError.invalidProtocolName.outcome.reasonCode(in: .connack) == .unsupportedProtocolVersion)
    #expect(DecodeError.invalidProtocolName.outcome.reasonCode(in: .disconnect) == .protocolError)
  }

  /// The errors of an MQTT 5 CONNECT (level 5, protocol name of four bytes).
  static let connectErrors: [DecodeError] = [
    .invalidProtocolName, .connectReservedFlag, .invalidWillFlags, .emptyTopic,
  ]

  @Test("a first MQTT 5 CONNECT that does not decode gets CONNACK with the table's reason code [MQTT-3.1.4-1]",
    arguments: connectErrors)
  func connackReason(_ error: DecodeError) throws {
    let net = FakeNetwork()
    let bytes = Self.packet(for: error).bytes
    #expect(Self.codecError(bytes, maxPacketBytes: net.limits.packetBytesMax) == error)
    let c = try #require(net.connect())
    net.send(c, bytes)
    let got = net.out(c, v5: true)
    #expect(got.map(\.type) == [2], "\(error): \(got)")
    #expect(got.first?.reason == error.outcome.reasonCode(in: .connack).rawValue, "\(error)")
    #expect(net.closed(c) == .connectRefused)
    net.finish()
  }
}
