// Here's how it works: UTF8Check.validate is compared with two independent sources of truth.
// First, hand-written tables: every single byte value, the first and last code point of each
// encoded length, the surrogate and U+10FFFF edges, overlong forms, truncated sequences and
// lone continuation bytes, U+FEFF [MQTT-1.5.3-3] and U+0000 [MQTT-1.5.3-2]. Second, the Swift
// standard library's UTF-8 decoder (strict RFC 3629: no overlongs, no surrogates, nothing above
// U+10FFFF) as an oracle, on every 2-byte string and on large structured sets of 3- and 4-byte
// strings; and its encoder, to produce every Unicode scalar value, all of which must pass. The
// oracle answers nullCharacter for U+0000 and invalidUTF8 for the first ill-formed sequence,
// which is the order in which the validator scans.

import Testing

@testable import MQTTWire

private func validate(_ bytes: [UInt8]) -> DecodeError? {
  bytes.withUnsafeBytes { b -> DecodeError? in
    do throws(DecodeError) {
      try UTF8Check.validate(b)
      return nil
    } catch { return error }
  }
}

private func validate(_ bytes: UnsafeRawBufferPointer) -> DecodeError? {
  do {
    try UTF8Check.validate(bytes)
    return nil
  } catch { return error }
}

/// The standard library's verdict with MQTT's extra rule about U+0000.
private func oracle(_ bytes: [UInt8]) -> DecodeError? {
  var it = bytes.makeIterator()
  var decoder = Unicode.UTF8()
  while true {
    switch decoder.decode(&it) {
    case .scalarValue(let s): if s.value == 0 { return .nullCharacter }
    case .emptyInput: return nil
    case .error: return .invalidUTF8
    }
  }
}

private func utf8(_ scalar: UInt32) -> [UInt8] {
  var out: [UInt8] = []
  Unicode.UTF8.encode(Unicode.Scalar(scalar)!) { out.append($0) }
  return out
}

/// The generalised (pre-RFC 3629) encoding of any value in `length` bytes: overlongs,
/// surrogates and values above U+10FFFF included.
private func encodeAny(_ v: UInt32, length: Int) -> [UInt8] {
  switch length {
  case 2: return [0xC0 | UInt8(v >> 6), 0x80 | UInt8(v & 0x3F)]
  case 3: return [0xE0 | UInt8(v >> 12), 0x80 | UInt8((v >> 6) & 0x3F), 0x80 | UInt8(v & 0x3F)]
  default:
    return [
      0xF0 | UInt8(v >> 18), 0x80 | UInt8((v >> 12) & 0x3F), 0x80 | UInt8((v >> 6) & 0x3F),
      0x80 | UInt8(v & 0x3F),
    ]
  }
}

struct UTF8Case: Sendable, CustomTestStringConvertible {
  let name: String
  let bytes: [UInt8]
  let error: DecodeError?
  init(_ name: String, _ bytes: [UInt8], _ error: DecodeError?) {
    self.name = name
    self.bytes = bytes
    self.error = error
  }
  var testDescription: String { "\(name) [\(hex(bytes))]" }
}

@Suite("UTF-8 validation")
struct UTF8Tests {
  @Test("every single byte [MQTT-1.5.3-1] [MQTT-1.5.3-2]")
  func singleBytes() {
    for b in 0...255 {
      let byte = UInt8(b)
      let want: DecodeError? = b == 0 ? .nullCharacter : b < 0x80 ? nil : .invalidUTF8
      #expect(validate([byte]) == want, "byte \(hex([byte]))")
      #expect(validate([0x61, byte]) == want, "\"a\" then \(hex([byte]))")
      #expect(validate([byte, 0x61]) == want, "\(hex([byte])) then \"a\"")
    }
    #expect(validate([]) == nil, "the empty string")
    #expect(validate(Array(1...0x7F)) == nil, "all of ASCII but NUL")
  }

  static let table: [UTF8Case] = [
    // The first and last code point of each encoded length.
    UTF8Case("U+0001", [0x01], nil),
    UTF8Case("U+007F", [0x7F], nil),
    UTF8Case("U+0080", [0xC2, 0x80], nil),
    UTF8Case("U+07FF", [0xDF, 0xBF], nil),
    UTF8Case("U+0800", [0xE0, 0xA0, 0x80], nil),
    UTF8Case("U+D7FF, last before the surrogates", [0xED, 0x9F, 0xBF], nil),
    UTF8Case("U+E000, first after the surrogates", [0xEE, 0x80, 0x80], nil),
    UTF8Case("U+FFFD", [0xEF, 0xBF, 0xBD], nil),
    UTF8Case("U+FFFF (a noncharacter, but well-formed)", [0xEF, 0xBF, 0xBF], nil),
    UTF8Case("U+10000", [0xF0, 0x90, 0x80, 0x80], nil),
    UTF8Case("U+10FFFF", [0xF4, 0x8F, 0xBF, 0xBF], nil),
    // [MQTT-1.5.3-3] U+FEFF is a character like any other.
    UTF8Case("U+FEFF alone", [0xEF, 0xBB, 0xBF], nil),
    UTF8Case("U+FEFF at the start", [0xEF, 0xBB, 0xBF, 0x61], nil),
    UTF8Case("U+FEFF in the middle", [0x61, 0xEF, 0xBB, 0xBF, 0x62], nil),
    UTF8Case("U+FEFF twice at the end", [0x61, 0xEF, 0xBB, 0xBF, 0xEF, 0xBB, 0xBF], nil),
    // [MQTT-1.5.3-2] U+0000 anywhere.
    UTF8Case("U+0000 alone", [0x00], .nullCharacter),
    UTF8Case("U+0000 after a 4-byte character", [0xF0, 0x9F, 0x98, 0x80, 0x00], .nullCharacter),
    UTF8Case("U+0000 at the end", [0x61, 0x62, 0x00], .nullCharacter),
    UTF8Case("overlong U+0000 (C0 80, modified UTF-8)", [0xC0, 0x80], .invalidUTF8),
    // [MQTT-1.5.3-1] surrogates.
    UTF8Case("U+D800", [0xED, 0xA0, 0x80], .invalidUTF8),
    UTF8Case("U+DBFF", [0xED, 0xAF, 0xBF], .invalidUTF8),
    UTF8Case("U+DC00", [0xED, 0xB0, 0x80], .invalidUTF8),
    UTF8Case("U+DFFF", [0xED, 0xBF, 0xBF], .invalidUTF8),
    UTF8Case(
      "surrogate pair as CESU-8 (U+1F600)", [0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80], .invalidUTF8),
    // Above U+10FFFF.
    UTF8Case("U+110000", [0xF4, 0x90, 0x80, 0x80], .invalidUTF8),
    UTF8Case("U+13FFFF", [0xF4, 0xBF, 0xBF, 0xBF], .invalidUTF8),
    UTF8Case("U+140000 (lead F5)", [0xF5, 0x80, 0x80, 0x80], .invalidUTF8),
    UTF8Case("U+1FFFFF (lead F7)", [0xF7, 0xBF, 0xBF, 0xBF], .invalidUTF8),
    UTF8Case("old 5-byte form", [0xF8, 0x88, 0x80, 0x80, 0x80], .invalidUTF8),
    UTF8Case("old 6-byte form", [0xFC, 0x84, 0x80, 0x80, 0x80, 0x80], .invalidUTF8),
    // Overlong forms: the last value of the shorter length, in one byte more.
    UTF8Case("overlong U+002F in 2 bytes", [0xC0, 0xAF], .invalidUTF8),
    UTF8Case("overlong U+007F in 2 bytes (C1 BF)", [0xC1, 0xBF], .invalidUTF8),
    UTF8Case("overlong U+0000 in 3 bytes", [0xE0, 0x80, 0x80], .invalidUTF8),
    UTF8Case("overlong U+07FF in 3 bytes (E0 9F BF)", [0xE0, 0x9F, 0xBF], .invalidUTF8),
    UTF8Case("overlong U+0000 in 4 bytes", [0xF0, 0x80, 0x80, 0x80], .invalidUTF8),
    UTF8Case("overlong U+FFFF in 4 bytes (F0 8F BF BF)", [0xF0, 0x8F, 0xBF, 0xBF], .invalidUTF8),
    // Truncated sequences, at the end and before another character.
    UTF8Case("2-byte lead at the end", [0x61, 0xC2], .invalidUTF8),
    UTF8Case("3-byte sequence missing 1", [0xE0, 0xA0], .invalidUTF8),
    UTF8Case("3-byte sequence missing 2", [0xE2], .invalidUTF8),
    UTF8Case("4-byte sequence missing 1", [0xF0, 0x90, 0x80], .invalidUTF8),
    UTF8Case("4-byte sequence missing 3", [0xF4], .invalidUTF8),
    UTF8Case("2-byte lead then ASCII", [0xC2, 0x41], .invalidUTF8),
    UTF8Case("3-byte sequence cut by ASCII", [0xE0, 0xA0, 0x41], .invalidUTF8),
    UTF8Case("4-byte sequence cut by ASCII", [0xF0, 0x90, 0x80, 0x41], .invalidUTF8),
    UTF8Case(
      "4-byte sequence cut by a lead byte", [0xF0, 0x90, 0x80, 0xF0, 0x90, 0x80, 0x80], .invalidUTF8
    ),
    UTF8Case("3-byte sequence cut by U+0000", [0xE2, 0x82, 0x00], .invalidUTF8),
    // Lone continuation bytes and bytes that never occur.
    UTF8Case("lone 80", [0x80], .invalidUTF8),
    UTF8Case("lone BF after ASCII", [0x61, 0xBF], .invalidUTF8),
    UTF8Case("extra continuation after a 2-byte character", [0xC3, 0xA9, 0xA9], .invalidUTF8),
    UTF8Case("FE", [0xFE], .invalidUTF8),
    UTF8Case("FF", [0xFF], .invalidUTF8),
  ]

  @Test("boundaries of each length class", arguments: table)
  func boundaries(_ c: UTF8Case) {
    #expect(validate(c.bytes) == c.error)
    #expect(oracle(c.bytes) == c.error, "the oracle disagrees with the table")
  }

  /// The scalar ranges, split so that the parameterised cases run in parallel.
  static let scalarRanges: [ClosedRange<UInt32>] = [
    0x1...0xD7FF, 0xE000...0xFFFF, 0x10000...0x7FFFF, 0x80000...0x10FFFF,
  ]

  @Test(
    "every Unicode scalar value is accepted, alone and in one long string", arguments: scalarRanges)
  func everyScalar(_ range: ClosedRange<UInt32>) {
    var all: [UInt8] = []
    all.reserveCapacity(range.count * 4)
    var one = [UInt8](repeating: 0, count: 4)
    var failures = 0
    for v in range {
      let s = Unicode.Scalar(v)!
      var n = 0
      one.withUnsafeMutableBufferPointer { buf in
        Unicode.UTF8.encode(s) { unit in
          buf[n] = unit
          n += 1
        }
      }
      all.append(contentsOf: one[0..<n])
      let r = one.withUnsafeBytes { validate(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
      if r != nil && failures < 5 {
        failures += 1
        Issue.record("U+\(String(v, radix: 16, uppercase: true)) rejected: \(r!)")
      }
    }
    #expect(validate(all) == nil)
  }

  @Test("every surrogate U+D800...U+DFFF is rejected [MQTT-1.5.3-1]")
  func everySurrogate() {
    for v: UInt32 in 0xD800...0xDFFF {
      let bytes = encodeAny(v, length: 3)
      #expect(validate(bytes) == .invalidUTF8, "U+\(String(v, radix: 16))")
      #expect(
        validate([0x61] + bytes + [0x62]) == .invalidUTF8,
        "U+\(String(v, radix: 16)) inside a string")
    }
  }

  @Test("everything from U+110000 to U+1FFFFF is rejected")
  func aboveMaximum() {
    var v: UInt32 = 0x110000
    while v <= 0x1FFFFF {
      #expect(validate(encodeAny(v, length: 4)) == .invalidUTF8, "U+\(String(v, radix: 16))")
      v += 0x3F1  // about 2,800 values, hitting every lead byte and many continuations
    }
    #expect(validate(encodeAny(0x1FFFFF, length: 4)) == .invalidUTF8)
  }

  @Test("every overlong form is rejected")
  func everyOverlong() {
    for v: UInt32 in 0...0x7F { #expect(validate(encodeAny(v, length: 2)) == .invalidUTF8) }
    for v: UInt32 in 0...0x7FF { #expect(validate(encodeAny(v, length: 3)) == .invalidUTF8) }
    var failures = 0
    for v: UInt32 in 0...0xFFFF where validate(encodeAny(v, length: 4)) != .invalidUTF8 {
      failures += 1
      if failures <= 5 { Issue.record("4-byte overlong of U+\(String(v, radix: 16)) accepted") }
    }
  }

  @Test("every proper prefix of a multi-byte character is rejected, at the end or before \"a\"")
  func everyTruncation() {
    for v: UInt32 in [0x80, 0x7FF, 0x800, 0xFEFF, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF] {
      let full = utf8(v)
      for cut in 1..<full.count {
        let prefix = Array(full[0..<cut])
        #expect(validate(prefix) == .invalidUTF8, "\(hex(prefix))")
        #expect(validate(prefix + [0x61]) == .invalidUTF8, "\(hex(prefix)) 61")
      }
    }
  }

  @Test("agrees with the standard library on every 2-byte string")
  func oracleTwoBytes() {
    var buf: [UInt8] = [0, 0]
    for b0 in 0...255 {
      for b1 in 0...255 {
        buf[0] = UInt8(b0)
        buf[1] = UInt8(b1)
        let got = validate(buf)
        let want = oracle(buf)
        if got != want {
          Issue.record(
            "\(hex(buf)): validate \(String(describing: got)), oracle \(String(describing: want))")
          return
        }
      }
    }
  }

  /// Second and later bytes: ASCII, NUL, every continuation boundary and every lead class.
  static let followers: [UInt8] = [
    0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xE0, 0xF0, 0xFF,
  ]

  /// First bytes: every lead byte, plus ASCII, NUL and continuation bytes (whose verdict does
  /// not depend on what follows; all of them are covered by the 2-byte test).
  static let leads: [UInt8] = [0x00, 0x41, 0x80, 0xBF] + Array(0xC0...0xFF)

  @Test("agrees with the standard library on 3-byte strings (every lead byte, every second byte)")
  func oracleThreeBytes() {
    var buf: [UInt8] = [0, 0, 0]
    for b0 in Self.leads {
      for b1 in 0...255 {
        for b2 in Self.followers {
          buf[0] = b0
          buf[1] = UInt8(b1)
          buf[2] = b2
          let got = validate(buf)
          let want = oracle(buf)
          if got != want {
            Issue.record(
              "\(hex(buf)): validate \(String(describing: got)), oracle \(String(describing: want))"
            )
            return
          }
        }
      }
    }
  }

  @Test("agrees with the standard library on 4-byte strings (4-byte leads, every second byte)")
  func oracleFourBytes() {
    var buf: [UInt8] = [0, 0, 0, 0]
    let leads: [UInt8] = [0xC2, 0xE0, 0xED, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF7, 0xF8]
    let tails: [UInt8] = [0x41, 0x80, 0x8F, 0x90, 0xA0, 0xBF, 0xC0, 0xFF]
    for b0 in leads {
      for b1 in 0...255 {
        for b2 in tails {
          for b3 in tails {
            buf[0] = b0
            buf[1] = UInt8(b1)
            buf[2] = b2
            buf[3] = b3
            let got = validate(buf)
            let want = oracle(buf)
            if got != want {
              Issue.record(
                "\(hex(buf)): validate \(String(describing: got)), oracle \(String(describing: want))"
              )
              return
            }
          }
        }
      }
    }
  }

  @Test("ByteReader.readString validates only inside the string's length")
  func readStringBounds() throws {
    // "a" E2 82 | AC: the string ends inside "€"; the next byte is not part of it.
    let bytes: [UInt8] = [0x00, 0x03, 0x61, 0xE2, 0x82, 0xAC]
    bytes.withUnsafeBytes { b in
      var r = ByteReader(b)
      #expect(throws: DecodeError.invalidUTF8) { try r.readString() }
    }
    // The same bytes with length 4 are a valid "a€".
    let whole: [UInt8] = [0x00, 0x04, 0x61, 0xE2, 0x82, 0xAC]
    try whole.withUnsafeBytes { b in
      var r = ByteReader(b)
      let s = try r.readString()
      #expect(Blob(s) == Blob([0x61, 0xE2, 0x82, 0xAC]))
      #expect(r.remaining == 0)
    }
  }
}
