// Method: Messages built by interpolation, compared byte for byte with the expected text; the
// number formatter at its edges (0, negative, Int64.min, UInt64.max, every width of 10^k),
// bytes, C strings and the String conversions, including bytes that are not UTF-8.
import Testing

import MidgeText

@Suite("Message: text for people through one builder")
struct MessageTests {
  @Test("literal pieces, Strings, bytes and StaticStrings in order")
  func pieces() {
    let origin = "midge.conf"
    let key: [UInt8] = Array("listener".utf8)
    let fixed: StaticString = "(1-65535)"
    let m: Message = "\(origin):\(3): invalid port for '\(key)' \(fixed)"
    #expect(m.string == "midge.conf:3: invalid port for 'listener' (1-65535)")
    #expect(("plain" as Message).bytes == Array("plain".utf8))
    #expect((("a" as Message) + "b\(1)").string == "ab1")
  }

  @Test("integers of every type and width print in decimal")
  func numbers() {
    #expect(("\(0)" as Message).string == "0")
    #expect(("\(-7)" as Message).string == "-7")
    #expect(("\(Int64.min)" as Message).string == "-9223372036854775808")
    #expect(("\(Int64.max)" as Message).string == "9223372036854775807")
    #expect(("\(UInt64.max)" as Message).string == "18446744073709551615")
    #expect(("\(UInt16(65535)) \(Int32(-1)) \(UInt8(9))" as Message).string == "65535 -1 9")
    var p: UInt64 = 1
    for k in 0..<20 {
      #expect(("\(p)" as Message).string == String(p), "10^\(k)")
      #expect(("\(p - 1)" as Message).string == String(p - 1), "10^\(k) - 1")
      if k < 19 { p *= 10 }
    }
  }

  @Test("a C string's bytes up to its NUL")
  func cString() {
    let bytes: [CChar] = [0x6E, 0x6F, 0x20, 0x66, 0x69, 0x6C, 0x65, 0, 0x78]
    let m = bytes.withUnsafeBufferPointer { p -> Message in "open: \(cString: p.baseAddress!)" }
    #expect(m.string == "open: no file")
  }

  @Test("String conversions: UTF-8 kept, bytes that are not UTF-8 become '?'")
  func strings() {
    #expect(Message.utf8("grüße/é") == Array("grüße/é".utf8))
    #expect(Message.cString("a/b") == Array("a/b".utf8) + [0])
    #expect(Message(bytes: Array("grüße".utf8)).string == "grüße")
    #expect(Message(bytes: [0x61, 0xFF, 0x62, 0xC3]).string == "a?b?")
    #expect([UInt8](utf8: "-c") == [0x2D, 0x63])
  }
}

@Suite("DecimalText")
struct DecimalTextTests {
  @Test("the one decimal formatter: zero, extremes, negatives; Message and $SYS text use it")
  func formats() {
    for (v, negative, text) in [
      (UInt64(0), false, "0"), (7, false, "7"), (10, false, "10"), (1_000_000, false, "1000000"),
      (UInt64.max, false, "18446744073709551615"), (1, true, "-1"), (UInt64(Int64.max) + 1, true, "-9223372036854775808"),
    ] {
      var out = [UInt8](repeating: 0x2A, count: 2 + DecimalText.maxBytes)
      let end = out.withUnsafeMutableBytes { DecimalText.write(v, negative: negative, into: $0, at: 2) }
      #expect(String(decoding: out[2..<end], as: UTF8.self) == text)
      #expect(out[0] == 0x2A && out[1] == 0x2A)
    }
    let m: Message = "\(Int64.min) \(0) \(UInt64.max)"
    #expect(m.string == "-9223372036854775808 0 18446744073709551615")
  }
}
