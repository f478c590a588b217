// Here's how it works: a deterministic mutation fuzzer. Eight shards, each with its own
// xorshift seed, derive 25,000 inputs apiece (200,000 in all) from the short vectors of
// Vectors.swift, valid and malformed: bit flips, random and "interesting" bytes (0x00, 0x7F,
// 0x80, 0xFF, '/', '+', '#', UTF-8 lead bytes), truncations, insertions, deletions,
// duplicated ranges, a rewritten remaining length (random, non-minimal or five bytes long), a
// rewritten two-byte string length, a different type or flags nibble, splices of several
// vectors, and plain random bytes. The seeds are the 3.1.1 and the MQTT 5 vectors; mutations
// aimed at MQTT 5 rewrite property identifiers, property lengths and subscription options.
// Each input is consumed the way a connection consumes its receive buffer, mostly with the
// protocol version of the vector it came from and otherwise with another one (so MQTT 5 bytes
// meet a 3.1.1 decoder and the reverse), sometimes with a tiny maxPacketBytes: detect, decode,
// advance, until "need more" or an error. A trap anywhere fails the run. For every frame that
// decodes, the frame must lie inside the input, the packet must have the form of its version
// (formProblem), its property accessors must agree with the test's parse of each block, and
// it must announce its encoded size, encode into a sink of exactly that size, re-encode to
// exactly the consumed bytes and decode again to the same fields. The one allowed difference
// is a non-minimal remaining length on a connection that is not MQTT 5, which MQTT 3.1.1
// accepts and Encode writes in the shortest form (see RemainingLengthTests.nonMinimal); the
// bytes after the header must still match exactly. Each shard must also have decoded every
// packet type (AUTH included) and seen most of the decode errors, the MQTT 5 ones among them,
// so that the mutations demonstrably reach past the fixed header and into property blocks.

import Testing

@testable import MQTTWire

private let interesting: [UInt8] = [
  0x00, 0x01, 0x02, 0x03, 0x7F, 0x80, 0xFF, 0x2F, 0x2B, 0x23, 0x24, 0xC0, 0xC3, 0xE0, 0xED, 0xEF,
  0xF0, 0xF4,
  0xF5,
]

/// Bytes that are property identifiers (valid or not) or property-ish values.
private let propertyBytes: [UInt8] = [
  0x00, 0x01, 0x02, 0x0B, 0x11, 0x15, 0x16, 0x1F, 0x21, 0x23, 0x24, 0x26, 0x27, 0x2A, 0x2B, 0x7F,
  0x80,
]

private struct Mutator {
  var rng: XorShift
  let valid: [(bytes: [UInt8], version: ProtocolVersion)]
  let malformed: [(bytes: [UInt8], version: ProtocolVersion)]
  /// The version of the vector the current input started from.
  var seedVersion: ProtocolVersion = .v311

  /// A vector to start from: valid ones more often, so that many mutants still decode.
  mutating func seed() -> [UInt8] {
    let v = rng.chance(70) ? valid[rng.below(valid.count)] : malformed[rng.below(malformed.count)]
    seedVersion = v.version
    return v.bytes
  }

  /// The version to decode with: mostly the seed's, sometimes any.
  mutating func version() -> ProtocolVersion {
    rng.chance(75) ? seedVersion : [.v31, .v311, .v5][rng.below(3)]
  }

  /// The length of the fixed header's remaining-length field, if the input has one.
  static func lengthField(_ b: [UInt8]) -> Range<Int>? {
    guard b.count >= 2 else { return nil }
    var i = 1
    while i < b.count && i < 5 && b[i] & 0x80 != 0 { i += 1 }
    return i < b.count ? 1..<(i + 1) : nil
  }

  mutating func input() -> [UInt8] {
    if rng.chance(3) {  // plain random bytes
      seedVersion = [.v31, .v311, .v5][rng.below(3)]
      return (0..<rng.below(48)).map { _ in rng.byte() }
    }
    var b = seed()
    let first = seedVersion  // splices below must not change the version the input is read with
    let rounds = 1 + rng.below(rng.chance(70) ? 2 : 6)
    for _ in 0..<rounds { mutate(&b) }
    seedVersion = first
    return b
  }

  mutating func mutate(_ b: inout [UInt8]) {
    switch rng.below(15) {
    case 0:  // flip a bit
      guard !b.isEmpty else { return }
      b[rng.below(b.count)] ^= 1 << UInt8(rng.below(8))
    case 1:  // random byte
      guard !b.isEmpty else { return }
      b[rng.below(b.count)] = rng.byte()
    case 2:  // interesting byte
      guard !b.isEmpty else { return }
      b[rng.below(b.count)] = interesting[rng.below(interesting.count)]
    case 3:  // truncate
      b.removeLast(rng.below(b.count + 1))
    case 4:  // insert 1...8 bytes
      let at = rng.below(b.count + 1)
      let n = 1 + rng.below(8)
      b.insert(
        contentsOf: (0..<n).map { _ in
          rng.chance(50) ? rng.byte() : interesting[rng.below(interesting.count)]
        }, at: at)
    case 5:  // delete a range
      guard !b.isEmpty else { return }
      let at = rng.below(b.count)
      b.removeSubrange(at..<min(b.count, at + 1 + rng.below(6)))
    case 6:  // duplicate a range
      guard !b.isEmpty else { return }
      let at = rng.below(b.count)
      let slice = b[at..<min(b.count, at + 1 + rng.below(8))]
      b.insert(contentsOf: slice, at: rng.below(b.count + 1))
    case 7:  // rewrite the remaining length
      guard let field = Self.lengthField(b) else { return }
      let body = b.count - field.upperBound
      let value: Int
      switch rng.below(4) {
      case 0: value = max(0, body + rng.below(9) - 4)  // close to the truth
      case 1: value = rng.below(300)
      case 2: value = rng.below(VariableByteInteger.max + 1)
      default: value = body
      }
      var encoded = remainingLengthBytes(value)
      if rng.chance(30) {  // make it non-minimal, possibly five bytes long
        let extra = 1 + rng.below(3)
        encoded[encoded.count - 1] |= 0x80
        encoded += Array(repeating: 0x80, count: extra - 1) + [0x00]
      }
      b.replaceSubrange(field, with: encoded)
    case 8:  // rewrite a two-byte length somewhere in the body
      guard b.count >= 4 else { return }
      let at = 2 + rng.below(b.count - 3)
      let old = Int(b[at]) << 8 | Int(b[at + 1])
      let new = rng.chance(50) ? max(0, old + rng.below(7) - 3) : rng.below(0x10000)
      b[at] = UInt8(truncatingIfNeeded: new >> 8)
      b[at + 1] = UInt8(truncatingIfNeeded: new)
    case 9:  // another packet type
      guard !b.isEmpty else { return }
      b[0] = UInt8(rng.below(16)) << 4 | b[0] & 0x0F
    case 10:  // other flags
      guard !b.isEmpty else { return }
      b[0] = b[0] & 0xF0 | UInt8(rng.below(16))
    case 11:  // splice in another vector
      let other = seed()
      if rng.chance(50) {
        b += other
      } else {
        b += other.prefix(rng.below(other.count + 1))
      }
    case 12:  // a property identifier or property-ish byte somewhere in the body
      guard b.count > 2 else { return }
      b[2 + rng.below(b.count - 2)] = propertyBytes[rng.below(propertyBytes.count)]
    case 13:  // a subscription-options-ish byte: reserved bits, Retain Handling, No Local
      guard b.count > 2 else { return }
      b[2 + rng.below(b.count - 2)] =
        [0x04, 0x08, 0x10, 0x20, 0x30, 0x40, 0x80, 0x05][rng.below(8)]
    default:  // a byte at the very end or start
      if rng.chance(50) { b.append(rng.byte()) } else { b.insert(rng.byte(), at: 0) }
    }
  }
}

@Suite("Mutation fuzzing")
struct FuzzishTests {
  static let valid = Vectors.valid.filter { $0.bytes.count <= 512 }.map {
    (bytes: $0.bytes, version: $0.version)
  }
  static let malformed = Vectors.malformed.map { (bytes: $0.bytes, version: $0.version) }
  static let perShard = 25_000

  @Test("200,000 mutated inputs: no trap, exact re-encoding of whatever decodes", arguments: 0..<8)
  func shard(_ shard: Int) {
    var m = Mutator(
      rng: XorShift(seed: 0x6D69_6467_6500 + UInt64(shard)), valid: Self.valid,
      malformed: Self.malformed)
    var decodedTypes = Set<UInt8>()
    var errors: [String: Int] = [:]
    var decodedCount = 0
    var nonMinimal = 0
    var v5ConnectNonMinimal = 0
    var failures = 0

    func fail(_ message: String, _ input: [UInt8]) {
      failures += 1
      if failures <= 5 { Issue.record("\(message); input \(hex(input))") }
    }

    for _ in 0..<Self.perShard {
      let input = m.input()
      let version = m.version()
      let maxBytes = m.rng.chance(10) ? 2 + m.rng.below(40) : Vector.noLimit
      input.withUnsafeBytes { all in
        var offset = 0
        while true {
          let view = all.slice(offset, all.count - offset)
          let status: Frame.Status
          do {
            status = try Frame.detect(view, maxPacketBytes: maxBytes, version: version)
          } catch {
            errors["\(error)".prefix(while: { $0 != "(" }).description, default: 0] += 1
            return
          }
          guard case .complete(let frame) = status else {
            if case .needMore(let n) = status, n < 1 { fail("needMore(\(n))", input) }
            return
          }
          guard frame.totalLength <= view.count, frame.totalLength <= maxBytes,
            (2...5).contains(frame.headerLength)
          else {
            fail("impossible frame \(frame) for \(view.count) bytes, max \(maxBytes)", input)
            return
          }
          let consumed = view.slice(0, frame.totalLength)
          let p: Packet
          do {
            p = try Packet.decode(frame, consumed, version: version)
          } catch {
            errors["\(error)".prefix(while: { $0 != "(" }).description, default: 0] += 1
            return
          }
          let d = Decoded(p)
          decodedTypes.insert(d.type.rawValue)
          decodedCount += 1
          if let problem = formProblem(p, version: version) {
            fail(problem, input)
            return
          }
          for block in propertyBlocks(p) {
            if let problem = accessorProblems(block).first {
              fail("accessor: \(problem)", input)
              return
            }
          }

          // Re-encode: exact size, exact bytes (modulo a non-minimal remaining length).
          let minimalHeader = 1 + VariableByteInteger.size(frame.remainingLength)
          let size = announcedSize(p)
          guard size == minimalHeader + frame.remainingLength else {
            fail("announced size \(size) for a \(frame.remainingLength)-byte body", input)
            return
          }
          let (bytes, overflowed) = encode(p, capacity: size)
          guard !overflowed, bytes.count == size else {
            fail("encoding overflowed its announced size \(size)", input)
            return
          }
          let original = Array(consumed)
          if frame.headerLength == minimalHeader {
            guard sameBytes(bytes, original) else {
              fail("re-encoded \(hex(bytes)) != consumed \(hex(original))", input)
              return
            }
          } else {
            // MQTT 5 requires the shortest form [MQTT-1.5.5-1]: detect rejects it on an MQTT 5
            // connection. A v5 CONNECT arrives while the connection is still 3.1.1, and the
            // codec accepts it there: a known gap, pinned by the vector "v5 CONNECT with a
            // non-minimal remaining length, before the version is known" (fails until fixed).
            if case .connect(let c) = p, c.version == .v5 {
              v5ConnectNonMinimal += 1
            } else if version == .v5 {
              fail("non-minimal remaining length accepted on an MQTT 5 connection", input)
              return
            }
            nonMinimal += 1
            let canonical = [original[0]] + remainingLengthBytes(frame.remainingLength)
            guard Array(bytes[0..<minimalHeader]) == canonical,
              sameBytes(Array(bytes[minimalHeader...]), Array(original[frame.headerLength...]))
            else {
              fail(
                "re-encoded \(hex(bytes)) != consumed \(hex(original)) (non-minimal header)", input)
              return
            }
          }
          let again = bytes.withUnsafeBytes { step($0, max: Vector.noLimit, version: version) }
          guard case .packet(let d2, _) = again, d2 == d else {
            fail("re-encoded bytes decode to \(again)", input)
            return
          }
          offset += frame.totalLength
        }
      }
      if failures > 5 { break }
    }

    #expect(failures == 0)
    #expect(decodedTypes == Set(1...15), "packet types decoded: \(decodedTypes.sorted())")
    #expect(errors.count >= 25, "errors seen: \(errors)")
    for e in [
      "malformedProperty", "duplicateProperty", "invalidPropertyValue", "invalidReasonCode",
      "invalidRetainHandling", "missingTopicName",
    ] {
      #expect(errors[e, default: 0] > 0, "no \(e) among \(errors)")
    }
    #expect(decodedCount > Self.perShard / 10, "only \(decodedCount) frames decoded")
    _ = nonMinimal  // accepted per MQTT 3.1.1; see RemainingLengthTests.nonMinimal
    _ = v5ConnectNonMinimal  // the known gap above
  }
}
