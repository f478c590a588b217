// Here's how it works: MQTT 5 checks that do not fit the one vector table. (1) Payload Format
// Indicator: Publish.validatePayloadFormat on PUBLISH frames built here, with the indicator 1,
// 0 or absent and payloads that are or are not well-formed UTF-8. (2) OutProperties, the
// builder for outgoing property blocks: for every place a block can sit (PropertyContext) a
// builder with every field allowed there is written, and the bytes must be exactly what the
// fields say (the test's own serialization, in identifier order), as long as byteCount and
// encodedCount announce, pass the codec's validation for that place, and answer the accessors
// with the values put in; plus verbatim copying of user properties and the four subscription
// identifier slots. (3) Encoders fed OutProperties produce packets that decode back to the
// same properties. (4) The MQTT 5 reason code each decode error maps to, where the spec pins
// it. (5) AUTH handed to Packet.decode on a 3.1.1 connection (Frame.detect stops it earlier).
// (6) Every one of the 256 subscription options bytes, in 3.1.1 and in MQTT 5, on a plain and
// on a shared filter.

import Testing

@testable import MQTTWire

/// Bytes of a static string, valid for the life of the process.
private func sv(_ s: StaticString) -> UnsafeRawBufferPointer {
  UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)
}

/// Runs detect + decode on one whole frame; the packet's views are valid inside `body` only.
private func withPacket<R>(
  _ bytes: [UInt8], version: ProtocolVersion, _ body: (Packet) throws -> R
) throws -> R {
  try bytes.withUnsafeBytes { buf in
    guard
      case .complete(let frame) = try Frame.detect(
        buf, maxPacketBytes: Vector.noLimit, version: version),
      frame.totalLength == buf.count
    else { throw DecodeError.truncated }
    return try body(try Packet.decode(frame, buf, version: version))
  }
}

/// Writes `p` (block only, no length) into a fresh buffer.
private func written<P: PropertySource>(_ p: P, capacity: Int = 1024) -> (
  bytes: [UInt8], overflowed: Bool
) {
  var storage = [UInt8](repeating: 0, count: capacity)
  return storage.withUnsafeMutableBytes { raw in
    var sink = BufferSink(raw)
    p.write(into: &sink)
    return (Array(sink.written), sink.overflowed)
  }
}

// MARK: - Payload Format Indicator

/// A v5 PUBLISH QoS 0 to "t" with the given properties and payload.
private func publish(_ props: [Prop], _ payload: [UInt8]) -> [UInt8] {
  let block = serializeProperties(props)
  let body: [UInt8] = [0x00, 0x01, 0x74] + remainingLengthBytes(block.count) + block + payload
  return [0x30] + remainingLengthBytes(body.count) + body
}

@Suite("MQTT 5 Payload Format Indicator")
struct PayloadFormatTests {
  struct Case: Sendable, CustomTestStringConvertible {
    let name: String
    let props: [Prop]
    let payload: [UInt8]
    let invalid: Bool
    var testDescription: String { name }
  }

  static let cases: [Case] = [
    Case(
      name: "indicator 1, ASCII", props: [.byte(.payloadFormatIndicator, 1)],
      payload: Array("hello".utf8), invalid: false),
    Case(
      name: "indicator 1, multi-byte UTF-8 and U+FEFF", props: [.byte(.payloadFormatIndicator, 1)],
      payload: [0xEF, 0xBB, 0xBF, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80],
      invalid: false),
    Case(
      name: "indicator 1, empty payload", props: [.byte(.payloadFormatIndicator, 1)], payload: [],
      invalid: false),
    Case(
      name: "indicator 1, byte FF", props: [.byte(.payloadFormatIndicator, 1)],
      payload: [0x61, 0xFF], invalid: true),
    Case(
      name: "indicator 1, overlong C0 80", props: [.byte(.payloadFormatIndicator, 1)],
      payload: [0xC0, 0x80],
      invalid: true),
    Case(
      name: "indicator 1, surrogate ED A0 80", props: [.byte(.payloadFormatIndicator, 1)],
      payload: [0xED, 0xA0, 0x80], invalid: true),
    Case(
      name: "indicator 1, sequence cut at the end", props: [.byte(.payloadFormatIndicator, 1)],
      payload: [0x61, 0xE2, 0x82], invalid: true),
    Case(
      name: "indicator 1, above U+10FFFF", props: [.byte(.payloadFormatIndicator, 1)],
      payload: [0xF4, 0x90, 0x80, 0x80], invalid: true),
    Case(
      name: "indicator 1 among other properties, byte FF",
      props: [.u32(.messageExpiryInterval, 5), .user("k", "v"), .byte(.payloadFormatIndicator, 1)],
      payload: [0xFF], invalid: true),
    // RFC 3629 UTF-8 includes U+0000; the MQTT ban on U+0000 is for UTF-8 Encoded Strings
    // [MQTT-1.5.4-2], not for "UTF-8 Encoded Character Data" in a payload (§3.3.2.3.2).
    Case(
      name: "indicator 1, U+0000 inside well-formed UTF-8",
      props: [.byte(.payloadFormatIndicator, 1)],
      payload: [0x61, 0x00, 0x62], invalid: false),
    Case(
      name: "indicator 0, byte FF: not checked", props: [.byte(.payloadFormatIndicator, 0)],
      payload: [0xFF], invalid: false),
    Case(
      name: "no indicator, byte FF: not checked", props: [], payload: [0xFF, 0xFE], invalid: false),
  ]

  @Test("validatePayloadFormat §3.3.2.3.2", arguments: cases)
  func validate(_ c: Case) throws {
    let got = try withPacket(publish(c.props, c.payload), version: .v5) { p -> DecodeError? in
      // Not a PUBLISH: an error no payload check raises, so the expectation below fails.
      guard case .publish(let pub) = p else { return .serverOnlyPacket }
      do throws(DecodeError) {
        try pub.validatePayloadFormat()
        return nil
      } catch { return error }
    }
    #expect(got == (c.invalid ? .payloadFormatInvalid : nil))
  }

  @Test("a 3.1.1 PUBLISH has no indicator and is never checked")
  func v311() throws {
    let bytes: [UInt8] = [0x30, 0x05, 0x00, 0x01, 0x74, 0xFF, 0xFE]  // PUBLISH "t", payload FF FE
    try withPacket(bytes, version: .v311) { p in
      guard case .publish(let pub) = p else {
        Issue.record("not a PUBLISH")
        return
      }
      #expect(pub.properties == nil)
      #expect(throws: Never.self) { try pub.validatePayloadFormat() }
    }
  }

  @Test("payloadFormatInvalid answers 0x99 Payload format invalid")
  func reasonCode() {
    #expect(DecodeError.payloadFormatInvalid.reasonCode == .payloadFormatInvalid)
    #expect(ReasonCode.payloadFormatInvalid.rawValue == 0x99)
  }
}

// MARK: - OutProperties

/// A builder with every OutProperties field that `context` allows, and the pairs it must
/// write, in the order OutProperties writes them (identifier order).
private func fullBuilder(
  _ context: PropertyContext, users: Properties?, userList: [Prop]
) -> (OutProperties, [Prop]) {
  var o = OutProperties()
  var want: [Prop] = []
  let allowed = context.allowed
  func has(_ id: PropertyID) -> Bool { allowed & (1 << UInt64(id.rawValue)) != 0 }
  if has(.payloadFormatIndicator) {
    o.payloadFormatIndicator = 1
    want.append(.byte(.payloadFormatIndicator, 1))
  }
  if has(.messageExpiryInterval) {
    o.messageExpiryInterval = 0x0102_0304
    want.append(.u32(.messageExpiryInterval, 0x0102_0304))
  }
  if has(.contentType) {
    o.contentType = sv("text/plain")
    want.append(.str(.contentType, "text/plain"))
  }
  if has(.responseTopic) {
    o.responseTopic = sv("reply/to")
    want.append(.str(.responseTopic, "reply/to"))
  }
  if has(.correlationData) {
    o.correlationData = sv("\u{01}\u{02}")
    want.append(.bin(.correlationData, Blob([1, 2])))
  }
  if has(.subscriptionIdentifier) {
    // PUBLISH carries up to four; SUBSCRIBE exactly one.
    let ids = context == .publish ? [1, 128, 16_384, 268_435_455] : [16_384]
    for id in ids {
      _ = o.addSubscriptionIdentifier(UInt32(id))
      want.append(.vbi(.subscriptionIdentifier, id))
    }
  }
  if has(.sessionExpiryInterval) {
    o.sessionExpiryInterval = 3600
    want.append(.u32(.sessionExpiryInterval, 3600))
  }
  if has(.assignedClientIdentifier) {
    o.assignedClientIdentifier = sv("auto-7")
    want.append(.str(.assignedClientIdentifier, "auto-7"))
  }
  if has(.serverKeepAlive) {
    o.serverKeepAlive = 45
    want.append(.u16(.serverKeepAlive, 45))
  }
  if has(.authenticationMethod) {
    o.authenticationMethod = sv("SCRAM-SHA-1")
    want.append(.str(.authenticationMethod, "SCRAM-SHA-1"))
  }
  if has(.authenticationData) {
    o.authenticationData = sv("\u{00}\u{7F}")
    want.append(.bin(.authenticationData, Blob([0x00, 0x7F])))
  }
  if has(.responseInformation) {
    o.responseInformation = sv("resp/")
    want.append(.str(.responseInformation, "resp/"))
  }
  if has(.serverReference) {
    o.serverReference = sv("other:1883")
    want.append(.str(.serverReference, "other:1883"))
  }
  if has(.reasonString) {
    o.reasonString = sv("because")
    want.append(.str(.reasonString, "because"))
  }
  if has(.receiveMaximum) {
    o.receiveMaximum = 65535
    want.append(.u16(.receiveMaximum, 65535))
  }
  if has(.topicAliasMaximum) {
    o.topicAliasMaximum = 0
    want.append(.u16(.topicAliasMaximum, 0))
  }
  if has(.topicAlias) {
    o.topicAlias = 7
    want.append(.u16(.topicAlias, 7))
  }
  if has(.maximumQoS) {
    o.maximumQoS = 1
    want.append(.byte(.maximumQoS, 1))
  }
  if has(.retainAvailable) {
    o.retainAvailable = 0
    want.append(.byte(.retainAvailable, 0))
  }
  if has(.userProperty), let users {
    o.userPropertiesFrom = users
    want += userList
  }
  if has(.maximumPacketSize) {
    o.maximumPacketSize = 268_435_460
    want.append(.u32(.maximumPacketSize, 268_435_460))
  }
  if has(.wildcardSubscriptionAvailable) {
    o.wildcardSubscriptionAvailable = 1
    want.append(.byte(.wildcardSubscriptionAvailable, 1))
  }
  if has(.subscriptionIdentifierAvailable) {
    o.subscriptionIdentifierAvailable = 0
    want.append(.byte(.subscriptionIdentifierAvailable, 0))
  }
  if has(.sharedSubscriptionAvailable) {
    o.sharedSubscriptionAvailable = 1
    want.append(.byte(.sharedSubscriptionAvailable, 1))
  }
  return (o, want)
}

/// A decoded PUBLISH property block holding user properties among others; calls `body` with
/// the validated view and the user properties it holds, in order.
private func withSourceBlock<R>(_ body: (Properties, [Prop]) throws -> R) throws -> R {
  let list: [Prop] = [
    .byte(.payloadFormatIndicator, 1), .user("a", "1"), .u16(.topicAlias, 3), .user("b", ""),
    .vbi(.subscriptionIdentifier, 9), .user("a", "3"), .str(.contentType, "x"),
    .user(Blob([0xC3, 0xA9]), Blob(Array(repeating: 0x7A, count: 200))),
  ]
  let block = serializeProperties(list)
  let framed = remainingLengthBytes(block.count) + block
  return try framed.withUnsafeBytes { buf in
    var r = ByteReader(buf)
    let p = try Properties.read(&r, .publish)
    return try body(p, list.filter { $0.id == PropertyID.userProperty.rawValue })
  }
}

extension PropertyContext: CustomTestStringConvertible {
  public var testDescription: String { "\(self)" }
}

@Suite("OutProperties")
struct OutPropertiesTests {
  static let contexts: [PropertyContext] = [
    .connect, .will, .connack, .publish, .ack, .subscribe, .suback, .unsubscribe, .unsuback,
    .disconnect, .auth,
  ]

  @Test(
    "a builder with every field a context allows writes a valid block for it §2.2.2",
    arguments: contexts)
  func perContext(_ context: PropertyContext) throws {
    try withSourceBlock { source, users in
      let (o, want) = fullBuilder(context, users: source, userList: users)
      let (bytes, overflowed) = written(o)
      #expect(!overflowed)
      #expect(o.byteCount == bytes.count, "byteCount \(o.byteCount), wrote \(bytes.count)")
      #expect(bytes == serializeProperties(want))
      #expect(bytes.withUnsafeBytes { parseProperties($0) } == want)
      // encode(into:) writes the length first; encodedCount announces both.
      var storage = [UInt8](repeating: 0, count: 1024)
      let framed = storage.withUnsafeMutableBytes { raw -> [UInt8] in
        var sink = BufferSink(raw)
        o.encode(into: &sink)
        return Array(sink.written)
      }
      #expect(framed == remainingLengthBytes(bytes.count) + bytes)
      #expect(o.encodedCount == framed.count)
      // The codec accepts the block where it belongs, and its accessors give back the values.
      try framed.withUnsafeBytes { buf in
        var r = ByteReader(buf)
        let p = try Properties.read(&r, context)
        #expect(r.remaining == 0)
        #expect(accessorProblems(p) == [])
        #expect(Props(p) == Props(want))
        for prop in want {
          guard let id = PropertyID(rawValue: prop.id) else { continue }
          switch prop.value {
          case .byte(let v): #expect(p.byte(id) == v)
          case .u16(let v): #expect(p.uint16(id) == v)
          case .u32(let v): #expect(p.uint32(id) == v)
          case .string(let b), .binary(let b): #expect(p.bytes(id).map { Blob($0) } == b)
          case .vbi, .pair, .unparsed: break  // several occurrences: see all(id) below
          }
        }
        let ids = p.all(.subscriptionIdentifier).map { r -> Int in
          var r = r
          return (try? r.readVariableByteInteger()) ?? -1
        }
        #expect(
          ids
            == want.compactMap { if case .vbi(let v) = $0.value { v } else { nil } })
        #expect(p.all(.userProperty).map { _ in 1 }.count == users.count || !context.allowsUsers)
      }
    }
  }

  @Test("a builder with every field writes every field, in identifier order, as byteCount says")
  func everyField() throws {
    try withSourceBlock { source, users in
      var o = OutProperties()
      o.payloadFormatIndicator = 0
      o.messageExpiryInterval = 1
      o.contentType = sv("c")
      o.responseTopic = sv("r")
      o.correlationData = sv("")
      let addedID = o.addSubscriptionIdentifier(2)
      #expect(addedID)
      o.sessionExpiryInterval = 0xFFFF_FFFF
      o.assignedClientIdentifier = sv("id")
      o.serverKeepAlive = 0
      o.authenticationMethod = sv("m")
      o.authenticationData = sv("d")
      o.responseInformation = sv("i")
      o.serverReference = sv("s")
      o.reasonString = sv("why")
      o.receiveMaximum = 1
      o.topicAliasMaximum = 2
      o.topicAlias = 3
      o.maximumQoS = 0
      o.retainAvailable = 1
      o.userPropertiesFrom = source
      o.maximumPacketSize = 4
      o.wildcardSubscriptionAvailable = 0
      o.subscriptionIdentifierAvailable = 1
      o.sharedSubscriptionAvailable = 0
      let want: [Prop] =
        [
          .byte(.payloadFormatIndicator, 0), .u32(.messageExpiryInterval, 1),
          .str(.contentType, "c"),
          .str(.responseTopic, "r"), .bin(.correlationData, ""), .vbi(.subscriptionIdentifier, 2),
          .u32(.sessionExpiryInterval, 0xFFFF_FFFF), .str(.assignedClientIdentifier, "id"),
          .u16(.serverKeepAlive, 0),
          .str(.authenticationMethod, "m"), .bin(.authenticationData, "d"),
          .str(.responseInformation, "i"),
          .str(.serverReference, "s"), .str(.reasonString, "why"), .u16(.receiveMaximum, 1),
          .u16(.topicAliasMaximum, 2), .u16(.topicAlias, 3), .byte(.maximumQoS, 0),
          .byte(.retainAvailable, 1),
        ] + users + [
          .u32(.maximumPacketSize, 4), .byte(.wildcardSubscriptionAvailable, 0),
          .byte(.subscriptionIdentifierAvailable, 1), .byte(.sharedSubscriptionAvailable, 0),
        ]
      let (bytes, overflowed) = written(o)
      #expect(!overflowed)
      #expect(o.byteCount == bytes.count)
      #expect(bytes.withUnsafeBytes { parseProperties($0) } == want)
      let ids = want.map(\.id)
      #expect(ids == ids.sorted(), "written in identifier order")
      // No single packet allows all of these: every context refuses the block.
      bytes.withUnsafeBytes { raw in
        for c in Self.contexts {
          #expect(throws: DecodeError.malformedProperty) { try Properties.validate(raw, c) }
        }
      }
      // A sink one byte short overflows instead of writing a partial block silently.
      var short = [UInt8](repeating: 0, count: bytes.count - 1)
      let overflow = short.withUnsafeMutableBytes { raw -> Bool in
        var sink = BufferSink(raw)
        o.write(into: &sink)
        return sink.overflowed
      }
      #expect(overflow)
    }
  }

  @Test("an empty builder writes nothing, and an empty block encodes as one zero byte")
  func empty() {
    let o = OutProperties()
    #expect(o.byteCount == 0)
    #expect(o.encodedCount == 1)
    #expect(written(o).bytes == [])
    #expect(Properties.empty.byteCount == 0)
    #expect(Properties.empty.isEmpty)
  }

  @Test(
    "userPropertiesFrom copies exactly the user properties, in order [MQTT-3.3.2-17] [MQTT-3.3.2-18]"
  )
  func userPropertiesCopied() throws {
    try withSourceBlock { source, users in
      #expect(users.count == 4)
      var o = OutProperties()
      o.userPropertiesFrom = source
      let (bytes, _) = written(o)
      #expect(bytes == serializeProperties(users))
      #expect(o.byteCount == bytes.count)
      // Copied bytes are the source's user property entries verbatim.
      #expect(bytes.withUnsafeBytes { parseProperties($0) } == users)
    }
    // A block without user properties, and an empty block, contribute nothing.
    let noUsers = serializeProperties([.u16(.topicAlias, 1), .byte(.payloadFormatIndicator, 0)])
    try (remainingLengthBytes(noUsers.count) + noUsers).withUnsafeBytes { buf in
      var r = ByteReader(buf)
      var o = OutProperties()
      o.userPropertiesFrom = try Properties.read(&r, .publish)
      #expect(o.byteCount == 0)
      #expect(written(o).bytes == [])
      o.userPropertiesFrom = .empty
      #expect(o.byteCount == 0)
    }
  }

  @Test("addSubscriptionIdentifier takes four and refuses the fifth §3.3.2.3.8")
  func subscriptionIdentifierSlots() {
    var o = OutProperties()
    #expect(OutProperties.subscriptionIdentifiersMax == 4)
    let values: [UInt32] = [268_435_455, 1, 16_384, 128]
    for v in values {
      let added = o.addSubscriptionIdentifier(v)
      #expect(added, "slot for \(v)")
    }
    let fifth = o.addSubscriptionIdentifier(5)
    #expect(!fifth, "a fifth identifier is refused")
    let again = o.addSubscriptionIdentifier(1)
    #expect(!again)
    let (bytes, _) = written(o)
    // Written in the order added; each identifier byte plus a 4-, 1-, 3- and 2-byte value.
    #expect(
      bytes == [0x0B, 0xFF, 0xFF, 0xFF, 0x7F, 0x0B, 0x01, 0x0B, 0x80, 0x80, 0x01, 0x0B, 0x80, 0x01])
    #expect(o.byteCount == 14)
    // The fifth was not written anywhere.
    #expect(bytes.withUnsafeBytes { parseProperties($0) }.count == 4)
  }
}

extension PropertyContext {
  fileprivate var allowsUsers: Bool { allowed & (1 << 0x26) != 0 }
}

// MARK: - Encoders with OutProperties, decoded back

@Suite("MQTT 5 encoders with OutProperties")
struct OutPropertiesEncodeTests {
  /// Encodes with `write`, checks the announced size, decodes as MQTT 5.
  private func roundTrip(size: Int, _ write: (inout BufferSink) -> Void) throws -> Decoded {
    var storage = [UInt8](repeating: 0, count: size + 8)
    let bytes = storage.withUnsafeMutableBytes { raw -> [UInt8] in
      var sink = BufferSink(raw)
      write(&sink)
      return Array(sink.written)
    }
    #expect(bytes.count == size, "announced \(size), wrote \(bytes.count)")
    return try withPacket(bytes, version: .v5) { Decoded($0) }
  }

  @Test("CONNACK §3.2.2.3")
  func connack() throws {
    var o = OutProperties()
    o.receiveMaximum = 10
    o.maximumQoS = 1
    o.assignedClientIdentifier = sv("gen-1")
    o.topicAliasMaximum = 0
    let d = try roundTrip(size: Encode.connackSize(properties: o)) {
      Encode.connack(sessionPresent: true, reasonCode: 0, properties: o, into: &$0)
    }
    #expect(
      d
        == .connack(
          sessionPresent: true, returnCode: 0,
          properties: Props([
            .str(.assignedClientIdentifier, "gen-1"), .u16(.receiveMaximum, 10),
            .u16(.topicAliasMaximum, 0),
            .byte(.maximumQoS, 1),
          ])))
    // The 3.1.1 form and a v5 CONNACK without properties.
    #expect(Encode.connackSize == 4)
    #expect(Encode.connackSize(properties: OutProperties()) == 5)
  }

  @Test("PUBLISH header with properties, then the payload §3.3.2.3")
  func publish() throws {
    var o = OutProperties()
    o.payloadFormatIndicator = 1
    let first = o.addSubscriptionIdentifier(3)
    let second = o.addSubscriptionIdentifier(300)
    #expect(first && second)
    o.topicAlias = 2
    let payload = sv("{}")
    let size = Encode.totalSize(
      remaining: Encode.publishRemainingLength(
        topicCount: 3, payloadCount: 2, qos: .atLeastOnce, properties: o))
    let d = try roundTrip(size: size) {
      Encode.publishHeader(
        topic: sv("a/b"), payloadCount: 2, qos: .atLeastOnce, retain: false, duplicate: false,
        packetID: 77,
        properties: o, into: &$0)
      $0.write(payload)
    }
    #expect(
      d
        == .publish(
          .init(
            topic: "a/b", payload: "{}", qos: 1, id: 77,
            properties: Props([
              .byte(.payloadFormatIndicator, 1), .vbi(.subscriptionIdentifier, 3),
              .vbi(.subscriptionIdentifier, 300), .u16(.topicAlias, 2),
            ]))))
  }

  @Test("acks: reason code and properties, reason only, neither §3.4.2.1")
  func acks() throws {
    var o = OutProperties()
    o.reasonString = sv("busy")
    for type in [PacketType.puback, .pubrec, .pubrel, .pubcomp] {
      let code: UInt8 = type == .pubrel || type == .pubcomp ? 0x92 : 0x97
      let full = try roundTrip(
        size: Encode.totalSize(
          remaining: Encode.ackRemainingLength(reasonCode: code, properties: o))
      ) { Encode.ack(type, packetID: 9, reasonCode: code, properties: o, into: &$0) }
      let reasonOnly = try roundTrip(
        size: Encode.totalSize(
          remaining: Encode.ackRemainingLength(reasonCode: code, properties: OutProperties?.none))
      ) {
        Encode.ack(type, packetID: 9, reasonCode: code, properties: OutProperties?.none, into: &$0)
      }
      let short = try roundTrip(size: Encode.ackSize) { Encode.ack(type, packetID: 9, into: &$0) }
      let props = Props([.str(.reasonString, "busy")])
      switch type {
      case .puback:
        #expect(full == .puback(9, reason: code, properties: props))
        #expect(reasonOnly == .puback(9, reason: code))
        #expect(short == .puback(9))
      case .pubrec:
        #expect(full == .pubrec(9, reason: code, properties: props))
        #expect(reasonOnly == .pubrec(9, reason: code))
        #expect(short == .pubrec(9))
      case .pubrel:
        #expect(full == .pubrel(9, reason: code, properties: props))
        #expect(reasonOnly == .pubrel(9, reason: code))
        #expect(short == .pubrel(9))
      default:
        #expect(full == .pubcomp(9, reason: code, properties: props))
        #expect(reasonOnly == .pubcomp(9, reason: code))
        #expect(short == .pubcomp(9))
      }
    }
  }

  @Test("SUBACK and UNSUBACK headers with properties, then the reason codes §3.9 §3.11")
  func subacks() throws {
    var o = OutProperties()
    o.reasonString = sv("partly")
    for type in [PacketType.suback, .unsuback] {
      let codes: [UInt8] = type == .suback ? [0x01, 0x8F] : [0x11, 0x8F]
      let d = try roundTrip(
        size: Encode.totalSize(remaining: Encode.subackRemainingLength(count: 2, properties: o))
      ) { sink in
        Encode.subackHeader(type, packetID: 4, count: 2, properties: o, into: &sink)
        codes.withUnsafeBytes { sink.write($0) }
      }
      let props = Props([.str(.reasonString, "partly")])
      if type == .suback {
        #expect(d == .suback(id: 4, properties: props, codes: codes))
      } else {
        #expect(d == .unsuback(4, properties: props, codes: codes))
      }
    }
  }

  @Test("DISCONNECT and AUTH: long form, reason only, two-byte form §3.14.2.1 §3.15.2.1")
  func reasonPackets() throws {
    var o = OutProperties()
    o.reasonString = sv("bye")
    o.serverReference = sv("b")
    let d = try roundTrip(
      size: Encode.totalSize(
        remaining: Encode.reasonPacketRemainingLength(reasonCode: 0x9D, properties: o))
    ) { Encode.reasonPacket(.disconnect, reasonCode: 0x9D, properties: o, into: &$0) }
    #expect(
      d
        == .disconnect(
          reason: 0x9D,
          properties: Props([.str(.serverReference, "b"), .str(.reasonString, "bye")])))
    var a = OutProperties()
    a.authenticationMethod = sv("m")
    a.authenticationData = sv("xy")
    let auth = try roundTrip(
      size: Encode.totalSize(
        remaining: Encode.reasonPacketRemainingLength(reasonCode: 0x18, properties: a))
    ) { Encode.reasonPacket(.auth, reasonCode: 0x18, properties: a, into: &$0) }
    #expect(
      auth
        == .auth(
          reason: 0x18,
          properties: Props([.str(.authenticationMethod, "m"), .bin(.authenticationData, "xy")])))
    let reasonOnly = try roundTrip(size: 3) {
      Encode.reasonPacket(.disconnect, reasonCode: 0x04, properties: OutProperties?.none, into: &$0)
    }
    #expect(reasonOnly == .disconnect(reason: 0x04))
    let short = try roundTrip(size: Encode.emptySize) {
      Encode.reasonPacket(.auth, reasonCode: nil, properties: OutProperties?.none, into: &$0)
    }
    #expect(short == .auth())
  }
}

// MARK: - Reason codes of decode errors

@Suite("MQTT 5 reason codes of decode errors")
struct DecodeErrorReasonCodeTests {
  /// Vector name, and the reason code the spec gives for what it breaks.
  static let pinned: [(String, UInt8)] = [
    ("v5 PUBLISH with unknown property 0x04", 0x81),  // §2.2.2.2: Malformed Packet
    ("v5 CONNECT with a Topic Alias", 0x81),  // §2.2.2.2: not valid for the packet type
    ("v5 PUBLISH property length running past the packet", 0x81),
    ("v5 CONNECT with two Session Expiry Intervals", 0x82),  // "more than once": Protocol Error
    ("v5 PUBLISH Topic Alias 0", 0x94),  // §3.3.4: a Protocol Error, answered 0x94
    ("v5 CONNECT Receive Maximum 0", 0x82),  // §3.1.2.11.3: Protocol Error
    ("v5 SUBSCRIBE Subscription Identifier 0", 0x82),  // §3.8.2.1.2: Protocol Error
    ("v5 CONNACK Maximum QoS 2", 0x82),  // §3.2.2.3.4: Protocol Error
    ("v5 SUBSCRIBE options with reserved bit 6 set", 0x81),  // [MQTT-3.8.3-5]: malformed
    ("v5 SUBSCRIBE Retain Handling 3", 0x82),  // §3.8.3.1: Protocol Error
    // §3.8.3.1: "It is a Protocol Error if the Maximum QoS field has the value 3"
    ("v5 SUBSCRIBE Maximum QoS 3", 0x82),
    ("v5 SUBSCRIBE No Local on a shared subscription", 0x82),  // [MQTT-3.8.3-4]: Protocol Error
    ("v5 PUBLISH empty topic name without a Topic Alias", 0x82),  // §3.3.2.1: Protocol Error
    ("v5 PUBLISH Content Type with an overlong encoding", 0x81),  // [MQTT-1.5.4-1]: Malformed
    ("v5 PUBLISH remaining length 0xFF 0x80 0x00 (127 in three bytes)", 0x81),  // [MQTT-1.5.5-1]
  ]

  @Test("the reason code a server answers with", arguments: pinned)
  func reasonCode(_ name: String, _ code: UInt8) {
    guard let v = Vectors.all.first(where: { $0.name == name }), case .error(let e, _) = v.expected
    else {
      Issue.record("no malformed vector named \(name)")
      return
    }
    #expect(
      e.reasonCode.rawValue == code, "\(name): \(e) answers 0x\(hex([e.reasonCode.rawValue]))")
  }
}

// MARK: - AUTH on a 3.1.1 connection

@Suite("AUTH before MQTT 5")
struct AuthBeforeV5Tests {
  /// Frame.detect already refuses type 15 before MQTT 5; Packet.decode must refuse it too when
  /// handed such a frame directly (its own check, not the header's). §2.1.2 Table 2-1.
  @Test(
    "Packet.decode refuses AUTH on 3.1.1 and 3.1 connections",
    arguments: [ProtocolVersion.v311, .v31])
  func decodeRefuses(_ version: ProtocolVersion) {
    let bytes: [UInt8] = [0xF0, 0x02, 0x18, 0x00]  // AUTH, RL 2, 0x18, property length 0
    bytes.withUnsafeBytes { buf in
      let frame = Frame(type: .auth, flags: 0, headerLength: 2, remainingLength: 2)
      #expect(throws: DecodeError.reservedPacketType) {
        try Packet.decode(frame, buf, version: version)
      }
    }
  }
}

// MARK: - Subscription options, exhaustively

@Suite("Subscription options, every byte value")
struct SubscriptionOptionsTests {
  /// SUBSCRIBE (packet id 1) with one filter and one options byte; MQTT 5 with an empty
  /// property block.
  private func subscribe(_ filter: String, _ options: UInt8, v5: Bool) -> [UInt8] {
    let f = Array(filter.utf8)
    let body: [UInt8] =
      [0x00, 0x01] + (v5 ? [0x00] : []) + [UInt8(f.count >> 8), UInt8(f.count & 0xFF)] + f + [
        options
      ]
    return [0x82] + remainingLengthBytes(body.count) + body
  }

  private func outcome(_ bytes: [UInt8], _ version: ProtocolVersion) -> Result<Decoded, DecodeError>
  {
    bytes.withUnsafeBytes { buf in
      do throws(DecodeError) {
        guard
          case .complete(let frame) = try Frame.detect(buf, maxPacketBytes: 1000, version: version)
        else {
          return .failure(.truncated)
        }
        return .success(Decoded(try Packet.decode(frame, buf, version: version)))
      } catch { return .failure(error) }
    }
  }

  @Test(
    "MQTT 5: reserved bits [MQTT-3.8.3-5], QoS 3 and Retain Handling 3 §3.8.3.1, No Local on $share [MQTT-3.8.3-4]",
    arguments: ["a/b", "$share/g/a/b"])
  func v5(_ filter: String) {
    let shared = filter.hasPrefix("$share/")
    for o in 0...255 {
      let o = UInt8(o)
      let want: Result<Decoded, DecodeError>
      if o & 0xC0 != 0 {
        want = .failure(.invalidSubscriptionOptions)
      } else if o & 0x03 == 0x03 {
        want = .failure(.invalidRequestedQoS)
      } else if (o >> 4) & 0x03 == 0x03 {
        want = .failure(.invalidRetainHandling)
      } else if shared && o & 0x04 != 0 {
        want = .failure(.sharedSubscriptionNoLocal)
      } else {
        let sub = Decoded.Sub(
          Blob(stringLiteral: filter), o & 0x03, noLocal: o & 0x04 != 0, rap: o & 0x08 != 0,
          rh: (o >> 4) & 0x03)
        want = .success(.subscribe(id: 1, properties: .empty, [sub]))
      }
      let got = outcome(subscribe(filter, o, v5: true), .v5)
      #expect(got == want, "options 0x\(hex([o]))")
      // The decoded options give back the byte they came from.
      if case .success = want {
        let byte = SubscriptionOptions(
          qos: QoS(rawValue: o & 0x03)!, noLocal: o & 0x04 != 0, retainAsPublished: o & 0x08 != 0,
          retainHandling: (o >> 4) & 0x03
        ).byte
        #expect(byte == o)
      }
    }
  }

  @Test("3.1.1: only QoS 0, 1, 2; every other bit is reserved [MQTT-3.8.3-4] (3.1.1)")
  func v311() {
    for o in 0...255 {
      let o = UInt8(o)
      let want: Result<Decoded, DecodeError> =
        o <= 2
        ? .success(.subscribe(id: 1, [.init("a/b", o)])) : .failure(.invalidSubscriptionOptions)
      #expect(outcome(subscribe("a/b", o, v5: false), .v311) == want, "options 0x\(hex([o]))")
    }
  }
}
