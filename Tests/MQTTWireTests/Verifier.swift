// Here's how it works: a decoder verifier in the spirit of NIO's ByteToMessageDecoderVerifier.
// A network read can end anywhere, so the same bytes must decode to the same packets however
// they arrive. Each VALID vector from Vectors.swift is delivered
//   (a) whole, exactly the frame;
//   (b) byte by byte into a growing buffer: Frame.detect must answer `needMore` (never a frame,
//       never an error) until the last byte, asking for no more than the frame still lacks
//       (exactly that once the header is complete), and only then find the frame;
//   (c) split at every offset into two reads;
//   (d) concatenated with all the other valid vectors in one buffer, decoded in sequence, and
//       streamed through a compacting receive buffer in random-sized reads;
//   (e) at offset 6 of "BEFORE" + bytes + "AFTER", with and without the junk after visible, to
//       catch code that reads from offset 0 or past the end;
// and must decode to the expected fields every time. Each vector is decoded with the protocol
// version it states (a 3.1.1 or MQTT 5 connection; CONNECT carries its own level). The decoded
// packet must only hold views into the input, have the 3.1.1 form exactly when it is not MQTT 5
// (every MQTT 5-only part nil), answer the property accessors (byte, uint16, uint32, bytes,
// contains, all) as the test's own parse of each property block does, announce its exact
// encoded size, and re-encode with Encode.packet into a BufferSink to exactly the input bytes
// (and overflow a sink one byte too small).
// Each MALFORMED vector must produce its error in (a) and at an offset behind a valid frame,
// and in (b)/(c) answer `needMore` until the point the error becomes detectable, then the same
// error; a trap anywhere fails the run. Vectors longer than 4 KiB (the remaining-length
// boundaries up to 2 MiB) are checked at every offset of their first and last 64 bytes and at
// 256 evenly spaced offsets in between, which keeps the run fast in debug builds.

import Testing

@testable import MQTTWire

private func expectedPacket(_ v: Vector) -> Decoded {
  guard case .packet(let d) = v.expected else { preconditionFailure("not a valid vector") }
  return d
}

/// Offsets to stop at: all of 0...total for short vectors, a dense head and tail otherwise.
private func checkpoints(_ total: Int) -> [Int] {
  if total <= 4096 { return Array(0...total) }
  var s = Set(0...64)
  s.formUnion((total - 64)...total)
  let stride = (total - 128) / 256
  var i = 64
  while i < total - 64 {
    s.insert(i)
    i += stride
  }
  return s.sorted()
}

/// The header length of a well-formed frame (1 + remaining-length bytes), from its bytes.
private func headerLength(_ bytes: [UInt8]) -> Int {
  var i = 1
  while i < bytes.count && i < 5 && bytes[i] & 0x80 != 0 { i += 1 }
  return i + 1
}

/// `needMore` answers while a frame of `total` bytes (header `h`) has `k` of them.
private func needMoreIsRight(_ s: Step, have k: Int, total: Int, header h: Int) -> Bool {
  guard case .needMore(let n) = s else { return false }
  if k >= h { return n == total - k }  // header complete: exactly what is missing
  return n >= 1 && k + n <= total  // inside the header: never over-ask
}

/// MQTT 5-only parts are nil exactly when the packet is not MQTT 5: a v5 CONNECT, CONNACK,
/// PUBLISH, SUBSCRIBE, SUBACK, UNSUBSCRIBE or UNSUBACK always has a property block (its length
/// is not optional, §3.x.2.x.1); acks, DISCONNECT and AUTH may omit reason code and properties,
/// but never the reason code alone while keeping the properties.
func formProblem(_ p: Packet, version: ProtocolVersion) -> String? {
  let v5 = version == .v5
  func required(_ props: Properties?, _ what: String) -> String? {
    (props != nil) == v5
      ? nil : "\(what): properties \(props == nil ? "nil" : "present") on \(version)"
  }
  func optional(_ code: UInt8?, _ props: Properties?, _ what: String) -> String? {
    if !v5 && (code != nil || props != nil) { return "\(what): MQTT 5 parts on \(version)" }
    if code == nil && props != nil { return "\(what): properties without a reason code" }
    return nil
  }
  switch p {
  case .connect(let c):
    let c5 = c.version == .v5
    if (c.properties != nil) != c5 {
      return "CONNECT level \(c.version): properties \(c.properties != nil)"
    }
    if let w = c.will, (w.properties != nil) != c5 {
      return "CONNECT level \(c.version): will properties"
    }
    return nil
  case .connack(let a): return required(a.properties, "CONNACK")
  case .publish(let pub): return required(pub.properties, "PUBLISH")
  case .puback(let a), .pubrec(let a), .pubrel(let a), .pubcomp(let a):
    return optional(a.reasonCode, a.properties, "ack")
  case .subscribe(let s): return required(s.properties, "SUBSCRIBE")
  case .suback(let a): return required(a.properties, "SUBACK")
  case .unsuback(let a):
    if !v5 && a.reasonCodes.count != 0 { return "UNSUBACK: reason codes on \(version)" }
    return required(a.properties, "UNSUBACK")
  case .unsubscribe(let u): return required(u.properties, "UNSUBSCRIBE")
  case .disconnect(let d): return optional(d.reasonCode, d.properties, "DISCONNECT")
  case .auth(let a):
    if !v5 { return "AUTH decoded on \(version)" }
    return optional(a.reasonCode, a.properties, "AUTH")
  case .pingreq, .pingresp: return nil
  }
}

@Suite("Decoder verifier: valid vectors")
struct ValidVectorTests {
  @Test("(a) whole: fields, borrowed views, sizes, re-encoding", arguments: Vectors.valid)
  func whole(_ v: Vector) throws {
    try v.bytes.withUnsafeBytes { buf in
      let status = try Frame.detect(buf, maxPacketBytes: v.maxPacketBytes, version: v.version)
      guard case .complete(let frame) = status else {
        Issue.record("detect answered \(status) for a whole frame")
        return
      }
      #expect(frame.totalLength == buf.count)
      #expect(frame.headerLength == 1 + VariableByteInteger.size(frame.remainingLength))
      #expect(frame.flags == v.bytes[0] & 0x0F)
      let p = try Packet.decode(frame, buf, version: v.version)
      let d = Decoded(p)
      #expect(d == expectedPacket(v))
      #expect(frame.type == d.type)
      if let problem = formProblem(p, version: v.version) { Issue.record("\(problem)") }
      for block in propertyBlocks(p) {
        for problem in accessorProblems(block) { Issue.record("accessor: \(problem)") }
      }

      // Zero copy: every view lies inside the input buffer.
      let lo = buf.baseAddress!
      let hi = lo + buf.count
      for view in borrowedViews(p) where view.count > 0 {
        #expect(
          view.baseAddress! >= lo && view.baseAddress! + view.count <= hi, "view outside the input")
      }

      // Encoders announce the exact size and reproduce the bytes ([MQTT-2.2.2-1] flags too).
      #expect(announcedSize(p) == buf.count)
      let exact = encode(p, capacity: buf.count)
      #expect(!exact.overflowed)
      #expect(Blob(exact.bytes) == Blob(v.bytes), "encode(decode(bytes)) != bytes")
      let short = encode(p, capacity: buf.count - 1)
      #expect(short.overflowed, "a sink one byte short must overflow")
    }
  }

  @Test("(b) byte by byte into a growing buffer", arguments: Vectors.valid)
  func byteByByte(_ v: Vector) {
    let total = v.bytes.count
    let h = headerLength(v.bytes)
    var buffer: [UInt8] = []
    buffer.reserveCapacity(total)
    var fed = 0
    for k in checkpoints(total) {
      buffer.append(contentsOf: v.bytes[fed..<k])
      fed = k
      let s = buffer.withUnsafeBytes { step($0, max: v.maxPacketBytes, version: v.version) }
      if k < total {
        guard needMoreIsRight(s, have: k, total: total, header: h) else {
          Issue.record("after \(k) of \(total) bytes: \(s)")
          return
        }
      } else {
        guard case .packet(let d, let frame) = s, frame.totalLength == total else {
          Issue.record("after the last byte: \(s)")
          return
        }
        #expect(d == expectedPacket(v))
      }
    }
  }

  @Test("(c) split into two reads at every offset", arguments: Vectors.valid)
  func splitInTwo(_ v: Vector) {
    let total = v.bytes.count
    let h = headerLength(v.bytes)
    let want = expectedPacket(v)
    for cut in checkpoints(total) {
      var buffer = Array(v.bytes[0..<cut])  // first read
      let first = buffer.withUnsafeBytes { step($0, max: v.maxPacketBytes, version: v.version) }
      if cut < total {
        guard needMoreIsRight(first, have: cut, total: total, header: h) else {
          Issue.record("first read of \(cut) bytes: \(first)")
          return
        }
      }
      buffer.append(contentsOf: v.bytes[cut...])  // second read
      let second = buffer.withUnsafeBytes { step($0, max: v.maxPacketBytes, version: v.version) }
      guard case .packet(let d, let frame) = second, frame.totalLength == total, d == want else {
        Issue.record("split at \(cut): \(second)")
        return
      }
    }
  }

  @Test("(d) all valid vectors back to back in one buffer")
  func concatenated() {
    let vectors = Vectors.valid
    let stream = vectors.flatMap { $0.bytes }
    stream.withUnsafeBytes { buf in
      var offset = 0
      for v in vectors {
        let s = step(
          buf.slice(offset, buf.count - offset), max: v.maxPacketBytes, version: v.version)
        guard case .packet(let d, let frame) = s, frame.totalLength == v.bytes.count else {
          Issue.record("\(v.name) at offset \(offset): \(s)")
          return
        }
        #expect(d == expectedPacket(v), "\(v.name)")
        offset += frame.totalLength
      }
      #expect(offset == buf.count)
      #expect(step(buf.slice(offset, 0), max: Vector.noLimit, version: .v311) == .needMore(2))
    }
  }

  @Test(
    "(d) the same stream through a compacting receive buffer, random-sized reads",
    arguments: [1, 2, 3])
  func streamed(seed: UInt64) {
    let vectors = Vectors.valid
    let stream = vectors.flatMap { $0.bytes }
    var rng = XorShift(seed: seed)
    var pending: [UInt8] = []  // the connection's receive buffer
    var start = 0  // first unconsumed byte in `pending`
    var read = 0  // bytes of `stream` delivered so far
    var next = 0  // index of the vector expected next
    while next < vectors.count {
      let v = vectors[next]
      let s = pending.withUnsafeBytes {
        step($0.slice(start, $0.count - start), max: v.maxPacketBytes, version: v.version)
      }
      switch s {
      case .packet(let d, let frame):
        guard d == expectedPacket(v), frame.totalLength == v.bytes.count else {
          Issue.record("\(v.name): \(s)")
          return
        }
        start += frame.totalLength
        next += 1
        if start > 4096 && start * 2 > pending.count {  // compact like a real receive buffer
          pending.removeSubrange(0..<start)
          start = 0
        }
      case .needMore(let n):
        guard n >= 1, read < stream.count else {
          Issue.record("\(v.name): \(s) with \(stream.count - read) bytes left in the stream")
          return
        }
        // A read returns anything from 1 byte to 64 KiB, mostly small.
        let size = rng.chance(5) ? 1 + rng.below(65_536) : 1 + rng.below(rng.chance(50) ? 8 : 600)
        let end = min(stream.count, read + size)
        pending.append(contentsOf: stream[read..<end])
        read = end
      default:
        Issue.record("\(v.name): \(s)")
        return
      }
    }
    #expect(read == stream.count && start == pending.count)
  }

  @Test("(e) at an offset, between junk", arguments: Vectors.valid)
  func atOffset(_ v: Vector) {
    let before = Array("BEFORE".utf8)
    let after = Array("AFTER".utf8)
    let buffer = before + v.bytes + after
    let total = v.bytes.count
    buffer.withUnsafeBytes { all in
      for visible in [total + after.count, total] {  // junk after visible or not
        let view = all.slice(before.count, visible)
        let status: Frame.Status
        do {
          status = try Frame.detect(view, maxPacketBytes: v.maxPacketBytes, version: v.version)
        } catch {
          Issue.record("detect threw \(error)")
          return
        }
        guard case .complete(let frame) = status, frame.totalLength == total else {
          Issue.record("detect answered \(status)")
          return
        }
        let frameBytes = view.slice(0, total)
        let p: Packet
        do {
          p = try Packet.decode(frame, frameBytes, version: v.version)
        } catch {
          Issue.record("decode threw \(error)")
          return
        }
        #expect(Decoded(p) == expectedPacket(v))
        let lo = frameBytes.baseAddress!
        for b in borrowedViews(p) where b.count > 0 {
          #expect(
            b.baseAddress! >= lo && b.baseAddress! + b.count <= lo + total, "view outside the frame"
          )
        }
        #expect(Blob(encode(p, capacity: total).bytes) == Blob(v.bytes))
      }
    }
  }
}

@Suite("Decoder verifier: malformed vectors")
struct MalformedVectorTests {
  /// What a step on the whole vector must report.
  private func matches(_ s: Step, _ v: Vector) -> Bool {
    guard case .error(let e, let stage) = v.expected else { return false }
    switch (s, stage) {
    case (.headerError(let got), .header): return got == e
    case (.bodyError(let got, let frame), .body):
      return got == e && frame.totalLength == v.bytes.count
    default: return false
    }
  }

  /// What a step on the first `k` bytes must report: `needMore` until the error is detectable.
  private func prefixIsRight(_ s: Step, have k: Int, _ v: Vector) -> Bool {
    guard case .error(_, let stage) = v.expected else { return false }
    let total = v.bytes.count
    switch stage {
    case .header(let n):
      if k >= n { return matches(s, v) }
      guard case .needMore(let m) = s else { return false }
      return m >= 1
    case .body:
      if k == total { return matches(s, v) }
      return needMoreIsRight(s, have: k, total: total, header: headerLength(v.bytes))
    }
  }

  @Test("(a) whole, alone and behind a valid frame", arguments: Vectors.malformed)
  func whole(_ v: Vector) {
    let s = v.bytes.withUnsafeBytes { step($0, max: v.maxPacketBytes, version: v.version) }
    #expect(matches(s, v), "got \(s), want \(v.expected)")

    // Behind a PINGREQ, inside junk: the error is reported for the right frame.
    let buffer = Array("BEFORE".utf8) + [0xC0, 0x00] + v.bytes + Array("AFTER".utf8)
    buffer.withUnsafeBytes { all in
      let view = all.slice(6, 2 + v.bytes.count)
      #expect(
        step(view, max: v.maxPacketBytes, version: v.version)
          == .packet(.pingreq, Frame(type: .pingreq, flags: 0, headerLength: 2, remainingLength: 0))
      )
      let rest = step(view.slice(2, v.bytes.count), max: v.maxPacketBytes, version: v.version)
      #expect(matches(rest, v), "after a PINGREQ: got \(rest)")
    }
  }

  @Test("(b) byte by byte: needMore until the error is detectable", arguments: Vectors.malformed)
  func byteByByte(_ v: Vector) {
    var buffer: [UInt8] = []
    for k in 0...v.bytes.count {
      if k > 0 { buffer.append(v.bytes[k - 1]) }
      let s = buffer.withUnsafeBytes { step($0, max: v.maxPacketBytes, version: v.version) }
      guard prefixIsRight(s, have: k, v) else {
        Issue.record("after \(k) of \(v.bytes.count) bytes: \(s)")
        return
      }
    }
  }

  @Test("(c) split into two reads at every offset", arguments: Vectors.malformed)
  func splitInTwo(_ v: Vector) {
    for cut in 0...v.bytes.count {
      var buffer = Array(v.bytes[0..<cut])
      let first = buffer.withUnsafeBytes { step($0, max: v.maxPacketBytes, version: v.version) }
      guard prefixIsRight(first, have: cut, v) else {
        Issue.record("first read of \(cut) bytes: \(first)")
        return
      }
      buffer.append(contentsOf: v.bytes[cut...])
      let second = buffer.withUnsafeBytes { step($0, max: v.maxPacketBytes, version: v.version) }
      guard matches(second, v) else {
        Issue.record("split at \(cut): \(second)")
        return
      }
    }
  }
}

@Suite("Remaining length")
struct RemainingLengthTests {
  /// Header-only frames: the remaining length decodes, and detect asks for exactly the body.
  @Test(
    "Table 2.4 values from the header alone [MQTT-1.5.5-1 / §2.2.3]",
    arguments: [
      (0, [0x00] as [UInt8]), (1, [0x01]), (127, [0x7F]), (128, [0x80, 0x01]), (321, [0xC1, 0x02]),
      (16_383, [0xFF, 0x7F]), (16_384, [0x80, 0x80, 0x01]), (2_097_151, [0xFF, 0xFF, 0x7F]),
      (2_097_152, [0x80, 0x80, 0x80, 0x01]), (268_435_455, [0xFF, 0xFF, 0xFF, 0x7F]),
    ])
  func values(remaining: Int, encoded: [UInt8]) throws {
    // The encoder writes these exact bytes and knows their size.
    #expect(remainingLengthBytes(remaining) == encoded)
    #expect(VariableByteInteger.size(remaining) == encoded.count)
    var storage = [UInt8](repeating: 0, count: 8)
    let written = storage.withUnsafeMutableBytes { raw -> [UInt8] in
      var sink = BufferSink(raw)
      sink.writeVariableByteInteger(remaining)
      return Array(sink.written)
    }
    #expect(written == encoded)

    let header: [UInt8] = [0x30] + encoded
    let hl = header.count
    try header.withUnsafeBytes { h in
      let s = try Frame.detect(h, maxPacketBytes: Vector.noLimit, version: .v311)
      if remaining == 0 {
        #expect(
          s == .complete(Frame(type: .publish, flags: 0, headerLength: hl, remainingLength: 0)))
      } else {
        #expect(s == .needMore(remaining))
      }
      // The limit is checked against header + body, from the header alone.
      #expect(throws: DecodeError.packetTooLarge) {
        try Frame.detect(h, maxPacketBytes: hl + remaining - 1, version: .v311)
      }
      let atLimit = try Frame.detect(h, maxPacketBytes: hl + remaining, version: .v311)
      #expect(atLimit == s)
    }
  }

  @Test("the largest value is 268435455; the encoder refuses nothing below it")
  func maximum() {
    #expect(VariableByteInteger.max == 268_435_455)
    #expect(Encode.totalSize(remaining: VariableByteInteger.max) == 1 + 4 + 268_435_455)
    #expect(Encode.totalSize(remaining: 0) == 2)
  }

  /// MQTT 3.1.1 §2.2.3 gives the algorithm and the ranges of Table 2.4 but, unlike MQTT 5
  /// ([MQTT-1.5.5-1] there), no rule that the shortest form be used. The codec accepts longer
  /// forms and Encode always writes the shortest, so such a frame re-encodes one or more bytes
  /// shorter. This test pins that behaviour; the fuzz test allows exactly this difference.
  @Test(
    "non-minimal remaining lengths are accepted and re-encoded in the shortest form",
    arguments: [
      ([0xC0, 0x80, 0x00] as [UInt8], [0xC0, 0x00] as [UInt8]),  // PINGREQ, 0 in two bytes
      ([0xC0, 0x80, 0x80, 0x80, 0x00], [0xC0, 0x00]),  // PINGREQ, 0 in four bytes
      ([0x40, 0x82, 0x00, 0x00, 0x01], [0x40, 0x02, 0x00, 0x01]),  // PUBACK, 2 in two bytes
    ])
  func nonMinimal(frame bytes: [UInt8], canonical: [UInt8]) throws {
    try bytes.withUnsafeBytes { buf in
      guard case .complete(let frame) = try Frame.detect(buf, maxPacketBytes: 100, version: .v311)
      else {
        Issue.record("no frame")
        return
      }
      #expect(frame.totalLength == bytes.count)
      let p = try Packet.decode(frame, buf, version: .v311)
      #expect(encode(p, capacity: 16).bytes == canonical)
    }
  }

  /// MQTT 5 makes the shortest form mandatory [MQTT-1.5.5-1]: the same frames are malformed on
  /// an MQTT 5 connection, known from the header alone.
  @Test(
    "non-minimal remaining lengths are malformed on an MQTT 5 connection [MQTT-1.5.5-1]",
    arguments: [
      [0xC0, 0x80, 0x00] as [UInt8],  // PINGREQ, 0 in two bytes
      [0xC0, 0x80, 0x80, 0x80, 0x00],  // PINGREQ, 0 in four bytes
      [0x40, 0x82, 0x00, 0x00, 0x01],  // PUBACK, 2 in two bytes
    ])
  func nonMinimalV5(frame bytes: [UInt8]) {
    bytes.withUnsafeBytes { buf in
      _ = #expect(throws: DecodeError.malformedVariableByteInteger) {
        try Frame.detect(buf, maxPacketBytes: 100, version: .v5)
      }
    }
  }
}
