// Here's how it works: the codec hands out borrowed views (UnsafeRawBufferPointer) into the
// caller's buffer, which cannot outlive that buffer and cannot be compared with `==`. The
// tests therefore turn every decoded `Packet` into a `Decoded` value that owns copies of its
// bytes (`Blob`), so that expectations can be written as plain values in the vector table
// and compared with `#expect(a == b)`. MQTT 5 parts mirror the codec's optionals (nil: the
// 3.1.1 form, or a part the packet omitted); a property block becomes `Props`, its raw bytes
// plus the (identifier, value) pairs that the test's own parser (its own table of property
// types, not the codec's) reads from them, and `accessorProblems` checks the codec's accessors
// against that parse. `Step` runs one Frame.detect + Packet.decode step on a
// view and reports what happened without throwing, so callers can compare outcomes too.
// `XorShift` is the seeded generator shared by the streaming and mutation tests.

import Testing

@testable import MQTTWire

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Owned bytes with memcmp equality (fast even in debug builds, where the 2 MB vectors would
/// make an element-by-element `==` slow) and a short description for failure messages.
struct Blob: Equatable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
  var bytes: [UInt8]

  init(_ bytes: [UInt8]) { self.bytes = bytes }
  init(_ view: UnsafeRawBufferPointer) { self.bytes = Array(view) }
  init(stringLiteral s: String) { self.bytes = Array(s.utf8) }

  static func == (a: Blob, b: Blob) -> Bool {
    a.bytes.count == b.bytes.count && sameBytes(a.bytes, b.bytes)
  }

  var description: String {
    let b = bytes
    if b.count <= 48, b.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
      return "\"" + String(decoding: b, as: UTF8.self) + "\""
    }
    return hex(b.prefix(24)) + (b.count > 24 ? " ... (\(b.count) bytes)" : "")
  }
}

func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
  guard a.count == b.count else { return false }
  if a.isEmpty { return true }
  return a.withUnsafeBytes { pa in
    b.withUnsafeBytes { pb in memcmp(pa.baseAddress!, pb.baseAddress!, a.count) == 0 }
  }
}

func sameBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
  guard a.count == b.count else { return false }
  if a.count == 0 { return true }
  return memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
}

func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
  let digits = Array("0123456789ABCDEF")
  return bytes.map { String([digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]]) }.joined(separator: " ")
}

// MARK: - MQTT 5 properties, as the tests see them

/// The value of one property, typed by the test's own table of identifiers (below), not by
/// the codec's, so that a wrong type in the codec shows up as a mismatch.
enum PropValue: Equatable, Sendable, CustomStringConvertible {
  case byte(UInt8)
  case u16(UInt16)
  case u32(UInt32)
  case vbi(Int)
  case string(Blob)
  case binary(Blob)
  case pair(Blob, Blob)
  /// Bytes the test parser could not read (never expected from a validated block).
  case unparsed(Blob)

  var description: String {
    switch self {
    case .byte(let v): "\(v)"
    case .u16(let v): "\(v)"
    case .u32(let v): "\(v)"
    case .vbi(let v): "vbi \(v)"
    case .string(let b): "\(b)"
    case .binary(let b): "bin \(b)"
    case .pair(let k, let v): "\(k)=\(v)"
    case .unparsed(let b): "unparsed \(b)"
    }
  }
}

/// One (identifier, value) pair of a property block.
struct Prop: Equatable, Sendable, CustomStringConvertible {
  var id: UInt8
  var value: PropValue

  var description: String { "0x" + hex([id]) + ":" + value.description }

  static func byte(_ id: PropertyID, _ v: UInt8) -> Prop { Prop(id: id.rawValue, value: .byte(v)) }
  static func u16(_ id: PropertyID, _ v: UInt16) -> Prop { Prop(id: id.rawValue, value: .u16(v)) }
  static func u32(_ id: PropertyID, _ v: UInt32) -> Prop { Prop(id: id.rawValue, value: .u32(v)) }
  static func vbi(_ id: PropertyID, _ v: Int) -> Prop { Prop(id: id.rawValue, value: .vbi(v)) }
  static func str(_ id: PropertyID, _ s: Blob) -> Prop { Prop(id: id.rawValue, value: .string(s)) }
  static func bin(_ id: PropertyID, _ b: Blob) -> Prop { Prop(id: id.rawValue, value: .binary(b)) }
  static func user(_ k: Blob, _ v: Blob) -> Prop { Prop(id: 0x26, value: .pair(k, v)) }
}

/// The test's table of property types (MQTT 5 §2.2.2.2 Table 2-4), written out independently
/// of PropertyID.kind.
enum PropKind { case byte, u16, u32, vbi, string, binary, pair }

func propKind(_ id: UInt8) -> PropKind? {
  switch id {
  case 0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A: .byte
  case 0x13, 0x21, 0x22, 0x23: .u16
  case 0x02, 0x11, 0x18, 0x27: .u32
  case 0x0B: .vbi
  case 0x03, 0x08, 0x12, 0x15, 0x1A, 0x1C, 0x1F: .string
  case 0x09, 0x16: .binary
  case 0x26: .pair
  default: nil
  }
}

/// Parses one value of `kind` at `i`; nil if it does not fit.
private func parseValue(_ kind: PropKind, _ b: UnsafeRawBufferPointer, _ i: inout Int) -> PropValue?
{
  func bytes(_ n: Int) -> [UInt8]? {
    guard i + n <= b.count else { return nil }
    defer { i += n }
    return Array(b[i..<(i + n)])
  }
  func blob() -> Blob? {
    guard let l = bytes(2), let v = bytes(Int(l[0]) << 8 | Int(l[1])) else { return nil }
    return Blob(v)
  }
  switch kind {
  case .byte: return bytes(1).map { .byte($0[0]) }
  case .u16: return bytes(2).map { .u16(UInt16($0[0]) << 8 | UInt16($0[1])) }
  case .u32: return bytes(4).map { .u32($0.reduce(0) { $0 << 8 | UInt32($1) }) }
  case .vbi:
    var value = 0
    var shift = 0
    while true {
      guard let x = bytes(1)?[0], shift < 28 else { return nil }
      value |= Int(x & 0x7F) << shift
      shift += 7
      if x & 0x80 == 0 { return .vbi(value) }
    }
  case .string: return blob().map { .string($0) }
  case .binary: return blob().map { .binary($0) }
  case .pair:
    guard let k = blob(), let v = blob() else { return nil }
    return .pair(k, v)
  }
}

/// The test's own parse of a property block (the bytes after the property length).
func parseProperties(_ b: UnsafeRawBufferPointer) -> [Prop] {
  var out: [Prop] = []
  var i = 0
  while i < b.count {
    let start = i
    let id = b[i]
    i += 1
    guard let kind = propKind(id), let v = parseValue(kind, b, &i) else {
      out.append(Prop(id: id, value: .unparsed(Blob(Array(b[start...])))))
      return out
    }
    out.append(Prop(id: id, value: v))
  }
  return out
}

/// The wire form of a property list (the bytes after the property length).
func serializeProperties(_ list: [Prop]) -> [UInt8] {
  var out: [UInt8] = []
  func blob(_ b: Blob) {
    out += [UInt8(b.bytes.count >> 8), UInt8(b.bytes.count & 0xFF)] + b.bytes
  }
  for p in list {
    out.append(p.id)
    switch p.value {
    case .byte(let v): out.append(v)
    case .u16(let v): out += [UInt8(v >> 8), UInt8(v & 0xFF)]
    case .u32(let v):
      out += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    case .vbi(let v): out += remainingLengthBytes(v)
    case .string(let b), .binary(let b): blob(b)
    case .pair(let k, let v):
      blob(k)
      blob(v)
    case .unparsed(let b): out += b.bytes
    }
  }
  return out
}

/// A property block: its raw bytes and the (identifier, value) pairs parsed from them. Both
/// take part in `==`: the raw bytes pin the exact encoding, the list makes a mismatch readable
/// and checks that the block means what the vector says.
struct Props: Equatable, Sendable, CustomStringConvertible {
  var raw: Blob
  var list: [Prop]

  /// What a vector expects: the pairs, and the bytes they serialize to.
  init(_ list: [Prop]) {
    self.list = list
    self.raw = Blob(serializeProperties(list))
  }

  /// A decoded block.
  init(_ p: Properties) {
    raw = Blob(p.raw)
    list = parseProperties(p.raw)
  }

  static let empty = Props([])

  var description: String { "[" + list.map(\.description).joined(separator: ", ") + "]" }
}

/// Where the codec's accessors (byte/uint16/uint32/bytes/contains/all/isEmpty) disagree with
/// the test's parse of the same block; empty when they agree.
func accessorProblems(_ p: Properties) -> [String] {
  var problems: [String] = []
  let list = parseProperties(p.raw)
  if p.isEmpty != list.isEmpty { problems.append("isEmpty \(p.isEmpty) for \(list)") }
  for id in PropertyID.allCases {
    let want = list.filter { $0.id == id.rawValue }.map(\.value)
    guard let kind = propKind(id.rawValue) else {
      problems.append("no test kind for \(id)")
      continue
    }
    if p.contains(id) != !want.isEmpty { problems.append("contains(\(id)) is \(p.contains(id))") }
    // all(id): each reader is positioned at one value.
    var got: [PropValue] = []
    for r in p.all(id) {
      var i = r.offset
      got.append(parseValue(kind, r.bytes, &i) ?? .unparsed(Blob([])))
    }
    if got != want { problems.append("all(\(id)) gave \(got), want \(want)") }
    let first = want.first
    switch kind {
    case .byte:
      let expect: UInt8? = if case .byte(let v) = first { v } else { nil }
      if p.byte(id) != expect {
        problems.append("byte(\(id)) gave \(String(describing: p.byte(id)))")
      }
    case .u16:
      let expect: UInt16? = if case .u16(let v) = first { v } else { nil }
      if p.uint16(id) != expect {
        problems.append("uint16(\(id)) gave \(String(describing: p.uint16(id)))")
      }
    case .u32, .vbi:
      let expect: UInt32? =
        switch first {
        case .u32(let v): v
        case .vbi(let v): UInt32(v)
        default: nil
        }
      if p.uint32(id) != expect {
        problems.append("uint32(\(id)) gave \(String(describing: p.uint32(id)))")
      }
    case .string, .binary, .pair:
      let expect: Blob? =
        switch first {
        case .string(let b), .binary(let b), .pair(let b, _): b
        default: nil
        }
      if p.bytes(id).map({ Blob($0) }) != expect {
        problems.append("bytes(\(id)) gave \(String(describing: p.bytes(id).map { Blob($0) }))")
      }
    }
  }
  return problems
}

/// Every property block a decoded packet holds.
func propertyBlocks(_ p: Packet) -> [Properties] {
  switch p {
  case .connect(let c): return [c.properties, c.will?.properties].compactMap { $0 }
  case .connack(let a): return [a.properties].compactMap { $0 }
  case .publish(let pub): return [pub.properties].compactMap { $0 }
  case .puback(let a), .pubrec(let a), .pubrel(let a), .pubcomp(let a):
    return [a.properties].compactMap { $0 }
  case .subscribe(let s): return [s.properties].compactMap { $0 }
  case .suback(let a), .unsuback(let a): return [a.properties].compactMap { $0 }
  case .unsubscribe(let u): return [u.properties].compactMap { $0 }
  case .disconnect(let d), .auth(let d): return [d.properties].compactMap { $0 }
  case .pingreq, .pingresp: return []
  }
}

// MARK: - The mirror

/// A decoded packet with every borrowed view copied out, comparable with `==`. MQTT 5 parts are
/// optionals exactly where the codec's are: nil means the 3.1.1 form, or a part the v5 packet
/// omitted.
enum Decoded: Equatable, Sendable {
  case connect(Conn)
  case connack(sessionPresent: Bool, returnCode: UInt8, properties: Props? = nil)
  case publish(Pub)
  case puback(UInt16, reason: UInt8? = nil, properties: Props? = nil)
  case pubrec(UInt16, reason: UInt8? = nil, properties: Props? = nil)
  case pubrel(UInt16, reason: UInt8? = nil, properties: Props? = nil)
  case pubcomp(UInt16, reason: UInt8? = nil, properties: Props? = nil)
  case subscribe(id: UInt16, properties: Props? = nil, [Sub])
  case suback(id: UInt16, properties: Props? = nil, codes: [UInt8])
  case unsubscribe(id: UInt16, properties: Props? = nil, [Blob])
  /// 3.1.1: no properties, no codes. MQTT 5: properties and one reason code per filter.
  case unsuback(UInt16, properties: Props? = nil, codes: [UInt8] = [])
  case pingreq
  case pingresp
  case disconnect(reason: UInt8? = nil, properties: Props? = nil)
  case auth(reason: UInt8? = nil, properties: Props? = nil)

  struct Conn: Equatable, Sendable {
    var level: UInt8
    var clean: Bool
    var keepAlive: UInt16
    var properties: Props? = nil
    var clientID: Blob
    var will: Will? = nil
    var username: Blob? = nil
    var password: Blob? = nil
  }

  struct Will: Equatable, Sendable {
    var topic: Blob
    var payload: Blob
    var qos: UInt8
    var retain: Bool
    var properties: Props? = nil
  }

  struct Pub: Equatable, Sendable {
    var topic: Blob
    var payload: Blob
    var qos: UInt8
    var retain = false
    var dup = false
    var id: UInt16 = 0
    var properties: Props? = nil
  }

  struct Sub: Equatable, Sendable {
    var filter: Blob
    var qos: UInt8
    var noLocal: Bool
    var retainAsPublished: Bool
    var retainHandling: UInt8
    init(_ filter: Blob, _ qos: UInt8, noLocal: Bool = false, rap: Bool = false, rh: UInt8 = 0) {
      self.filter = filter
      self.qos = qos
      self.noLocal = noLocal
      self.retainAsPublished = rap
      self.retainHandling = rh
    }
  }

  init(_ p: Packet) {
    func props(_ p: Properties?) -> Props? { p.map { Props($0) } }
    switch p {
    case .connect(let c):
      self = .connect(
        Conn(
          level: c.version.rawValue, clean: c.cleanSession, keepAlive: c.keepAliveSeconds,
          properties: props(c.properties), clientID: Blob(c.clientID),
          will: c.will.map {
            Will(
              topic: Blob($0.topic), payload: Blob($0.payload), qos: $0.qos.rawValue,
              retain: $0.retain, properties: props($0.properties))
          },
          username: c.username.map { Blob($0) }, password: c.password.map { Blob($0) }))
    case .connack(let a):
      self = .connack(
        sessionPresent: a.sessionPresent, returnCode: a.reasonCode, properties: props(a.properties))
    case .publish(let p):
      self = .publish(
        Pub(
          topic: Blob(p.topic), payload: Blob(p.payload), qos: p.qos.rawValue, retain: p.retain,
          dup: p.duplicate, id: p.packetID, properties: props(p.properties)))
    case .puback(let a):
      self = .puback(a.packetID, reason: a.reasonCode, properties: props(a.properties))
    case .pubrec(let a):
      self = .pubrec(a.packetID, reason: a.reasonCode, properties: props(a.properties))
    case .pubrel(let a):
      self = .pubrel(a.packetID, reason: a.reasonCode, properties: props(a.properties))
    case .pubcomp(let a):
      self = .pubcomp(a.packetID, reason: a.reasonCode, properties: props(a.properties))
    case .subscribe(let s):
      self = .subscribe(
        id: s.packetID, properties: props(s.properties),
        s.entries.map {
          Sub(
            Blob($0.filter), $0.qos.rawValue, noLocal: $0.options.noLocal,
            rap: $0.options.retainAsPublished,
            rh: $0.options.retainHandling)
        })
    case .suback(let a):
      self = .suback(id: a.packetID, properties: props(a.properties), codes: Array(a.reasonCodes))
    case .unsubscribe(let u):
      self = .unsubscribe(
        id: u.packetID, properties: props(u.properties), u.filters.map { Blob($0) })
    case .unsuback(let a):
      self = .unsuback(a.packetID, properties: props(a.properties), codes: Array(a.reasonCodes))
    case .pingreq: self = .pingreq
    case .pingresp: self = .pingresp
    case .disconnect(let d):
      self = .disconnect(reason: d.reasonCode, properties: props(d.properties))
    case .auth(let a): self = .auth(reason: a.reasonCode, properties: props(a.properties))
    }
  }

  var type: PacketType {
    switch self {
    case .connect: .connect
    case .connack: .connack
    case .publish: .publish
    case .puback: .puback
    case .pubrec: .pubrec
    case .pubrel: .pubrel
    case .pubcomp: .pubcomp
    case .subscribe: .subscribe
    case .suback: .suback
    case .unsubscribe: .unsubscribe
    case .unsuback: .unsuback
    case .pingreq: .pingreq
    case .pingresp: .pingresp
    case .disconnect: .disconnect
    case .auth: .auth
    }
  }
}

/// Every borrowed view a decoded packet holds (to check they all point into the input).
func borrowedViews(_ p: Packet) -> [UnsafeRawBufferPointer] {
  var v: [UnsafeRawBufferPointer] = propertyBlocks(p).map(\.raw)
  switch p {
  case .connect(let c):
    v.append(c.clientID)
    if let w = c.will { v += [w.topic, w.payload] }
    if let u = c.username { v.append(u) }
    if let pw = c.password { v.append(pw) }
  case .publish(let p): v += [p.topic, p.payload]
  case .subscribe(let s): v += [s.entries.raw] + s.entries.map { $0.filter }
  case .suback(let a), .unsuback(let a): v.append(a.reasonCodes)
  case .unsubscribe(let u): v += [u.filters.raw] + u.filters.map { $0 }
  default: break
  }
  return v
}

/// The size the encoders announce for a packet, from their own size functions (the fixed
/// 3.1.1 sizes where a packet has the 3.1.1 form).
func announcedSize(_ p: Packet) -> Int {
  switch p {
  case .connect(let c): return Encode.totalSize(remaining: Encode.connectRemainingLength(c))
  case .connack(let a):
    return a.properties == nil ? Encode.connackSize : Encode.connackSize(properties: a.properties)
  case .publish(let pub):
    return Encode.totalSize(
      remaining: Encode.publishRemainingLength(
        topicCount: pub.topic.count, payloadCount: pub.payload.count, qos: pub.qos,
        properties: pub.properties))
  case .puback(let a), .pubrec(let a), .pubrel(let a), .pubcomp(let a):
    if a.reasonCode == nil && a.properties == nil { return Encode.ackSize }
    return Encode.totalSize(
      remaining: Encode.ackRemainingLength(reasonCode: a.reasonCode, properties: a.properties))
  case .subscribe(let s):
    return Encode.totalSize(remaining: 2 + (s.properties?.encodedCount ?? 0) + s.entries.raw.count)
  case .suback(let a):
    if a.properties == nil { return Encode.subackSize(count: a.reasonCodes.count) }
    return Encode.totalSize(
      remaining: Encode.subackRemainingLength(count: a.reasonCodes.count, properties: a.properties))
  case .unsuback(let a):
    if a.properties == nil && a.reasonCodes.count == 0 { return Encode.ackSize }
    return Encode.totalSize(
      remaining: Encode.subackRemainingLength(count: a.reasonCodes.count, properties: a.properties))
  case .unsubscribe(let u):
    return Encode.totalSize(remaining: 2 + (u.properties?.encodedCount ?? 0) + u.filters.raw.count)
  case .pingreq, .pingresp: return Encode.emptySize
  case .disconnect(let r), .auth(let r):
    if r.reasonCode == nil && r.properties == nil { return Encode.emptySize }
    return Encode.totalSize(
      remaining: Encode.reasonPacketRemainingLength(
        reasonCode: r.reasonCode, properties: r.properties))
  }
}

/// Encodes `p` into a sink of exactly `capacity` bytes; returns the bytes and the overflow flag.
func encode(_ p: Packet, capacity: Int) -> (bytes: [UInt8], overflowed: Bool) {
  let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(capacity, 1), alignment: 1)
  defer { storage.deallocate() }
  var sink = BufferSink(UnsafeMutableRawBufferPointer(rebasing: storage[0..<capacity]))
  Encode.packet(p, into: &sink)
  return (Array(sink.written), sink.overflowed)
}

/// The canonical (shortest) encoding of a remaining length.
func remainingLengthBytes(_ value: Int) -> [UInt8] {
  var out: [UInt8] = []
  var v = value
  repeat {
    var b = UInt8(v & 0x7F)
    v >>= 7
    if v > 0 { b |= 0x80 }
    out.append(b)
  } while v > 0
  return out
}

/// What one detect+decode step on the start of a view produced.
enum Step: Equatable, CustomStringConvertible {
  case needMore(Int)
  case headerError(DecodeError)
  case bodyError(DecodeError, Frame)
  case packet(Decoded, Frame)

  var description: String {
    switch self {
    case .needMore(let n): "needMore(\(n))"
    case .headerError(let e): "detect threw \(e)"
    case .bodyError(let e, let f): "decode threw \(e) (frame \(f.type), \(f.totalLength) bytes)"
    case .packet(let d, let f): "decoded \(d.type) (\(f.totalLength) bytes)"
    }
  }
}

/// Runs Frame.detect on `view`; on a complete frame decodes exactly that frame.
func step(_ view: UnsafeRawBufferPointer, max: Int, version: ProtocolVersion) -> Step {
  let status: Frame.Status
  do {
    status = try Frame.detect(view, maxPacketBytes: max, version: version)
  } catch {
    return .headerError(error)
  }
  switch status {
  case .needMore(let n): return .needMore(n)
  case .complete(let frame):
    do {
      let p = try Packet.decode(frame, view.slice(0, frame.totalLength), version: version)
      return .packet(Decoded(p), frame)
    } catch {
      return .bodyError(error, frame)
    }
  }
}

/// xorshift64*: small, fast, deterministic across platforms.
struct XorShift {
  var state: UInt64
  init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
  mutating func next() -> UInt64 {
    state ^= state >> 12
    state ^= state << 25
    state ^= state >> 27
    return state &* 0x2545_F491_4F6C_DD1D
  }
  /// Uniform-enough in 0..<n (n > 0).
  mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
  mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next() >> 32) }
  mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}
