// Here's how it works: the codec hands out borrowed views (UnsafeRawBufferPointer) into the
// caller's buffer, which cannot outlive that buffer and cannot be compared with `==`. The
// tests therefore turn every decoded `Packet` into a `Decoded` value that owns copies of its
// bytes (`Blob`), so that expectations can be written as plain values in the vector table
// and compared with `#expect(a == b)`. `Step` runs one Frame.detect + Packet.decode step on a
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

/// A decoded packet with every borrowed view copied out, comparable with `==`.
enum Decoded: Equatable, Sendable {
  case connect(Conn)
  case connack(sessionPresent: Bool, returnCode: UInt8)
  case publish(Pub)
  case puback(UInt16)
  case pubrec(UInt16)
  case pubrel(UInt16)
  case pubcomp(UInt16)
  case subscribe(id: UInt16, [Sub])
  case suback(id: UInt16, codes: [UInt8])
  case unsubscribe(id: UInt16, [Blob])
  case unsuback(UInt16)
  case pingreq
  case pingresp
  case disconnect

  struct Conn: Equatable, Sendable {
    var level: UInt8
    var clean: Bool
    var keepAlive: UInt16
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
  }

  struct Pub: Equatable, Sendable {
    var topic: Blob
    var payload: Blob
    var qos: UInt8
    var retain = false
    var dup = false
    var id: UInt16 = 0
  }

  struct Sub: Equatable, Sendable {
    var filter: Blob
    var qos: UInt8
    init(_ filter: Blob, _ qos: UInt8) {
      self.filter = filter
      self.qos = qos
    }
  }

  init(_ p: Packet) {
    switch p {
    case .connect(let c):
      self = .connect(
        Conn(
          level: c.version.rawValue, clean: c.cleanSession, keepAlive: c.keepAliveSeconds,
          clientID: Blob(c.clientID),
          will: c.will.map {
            Will(
              topic: Blob($0.topic), payload: Blob($0.payload), qos: $0.qos.rawValue,
              retain: $0.retain)
          },
          username: c.username.map { Blob($0) }, password: c.password.map { Blob($0) }))
    case .connack(let a):
      self = .connack(sessionPresent: a.sessionPresent, returnCode: a.returnCode)
    case .publish(let p):
      self = .publish(
        Pub(
          topic: Blob(p.topic), payload: Blob(p.payload), qos: p.qos.rawValue, retain: p.retain,
          dup: p.duplicate, id: p.packetID))
    case .puback(let id): self = .puback(id)
    case .pubrec(let id): self = .pubrec(id)
    case .pubrel(let id): self = .pubrel(id)
    case .pubcomp(let id): self = .pubcomp(id)
    case .subscribe(let s):
      self = .subscribe(id: s.packetID, s.entries.map { Sub(Blob($0.filter), $0.qos.rawValue) })
    case .suback(let a): self = .suback(id: a.packetID, codes: Array(a.returnCodes))
    case .unsubscribe(let u): self = .unsubscribe(id: u.packetID, u.filters.map { Blob($0) })
    case .unsuback(let id): self = .unsuback(id)
    case .pingreq: self = .pingreq
    case .pingresp: self = .pingresp
    case .disconnect: self = .disconnect
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
    }
  }
}

/// Every borrowed view a decoded packet holds (to check they all point into the input).
func borrowedViews(_ p: Packet) -> [UnsafeRawBufferPointer] {
  switch p {
  case .connect(let c):
    var v = [c.clientID]
    if let w = c.will { v += [w.topic, w.payload] }
    if let u = c.username { v.append(u) }
    if let pw = c.password { v.append(pw) }
    return v
  case .publish(let p): return [p.topic, p.payload]
  case .subscribe(let s): return [s.entries.raw] + s.entries.map { $0.filter }
  case .suback(let a): return [a.returnCodes]
  case .unsubscribe(let u): return [u.filters.raw] + u.filters.map { $0 }
  default: return []
  }
}

/// The size the encoders announce for a packet, from their own size functions.
func announcedSize(_ p: Packet) -> Int {
  switch p {
  case .connect(let c): return Encode.totalSize(remaining: Encode.connectRemainingLength(c))
  case .connack: return Encode.connackSize
  case .publish(let pub):
    return Encode.totalSize(
      remaining: Encode.publishRemainingLength(
        topicCount: pub.topic.count, payloadCount: pub.payload.count, qos: pub.qos))
  case .puback, .pubrec, .pubrel, .pubcomp, .unsuback: return Encode.ackSize
  case .subscribe(let s): return Encode.totalSize(remaining: 2 + s.entries.raw.count)
  case .suback(let a): return Encode.subackSize(count: a.returnCodes.count)
  case .unsubscribe(let u): return Encode.totalSize(remaining: 2 + u.filters.raw.count)
  case .pingreq, .pingresp, .disconnect: return Encode.emptySize
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
