// UTF-8 well-formedness as MQTT requires it (§1.5.3): well-formed per RFC 3629 (no overlong
// forms, no code points above U+10FFFF), no UTF-16 surrogates U+D800..U+DFFF [MQTT-1.5.3-1],
// and no U+0000 [MQTT-1.5.3-2]. U+FEFF is allowed and kept [MQTT-1.5.3-3]. Byte-wise and
// allocation-free: midge treats every string as bytes and never builds a Swift String.

public enum UTF8Check {
  /// `allowingNull`: payloads with Payload Format Indicator 1 need well-formed UTF-8 only
  /// (§3.3.2.3.2); the ban on U+0000 applies to UTF-8 Encoded String fields.
  @inlinable
  public static func validate(_ s: UnsafeRawBufferPointer, allowingNull: Bool = false) throws(DecodeError) {
    var i = 0
    let n = s.count
    while i < n {
      let b0 = s[i]
      if b0 < 0x80 {
        if b0 == 0 && !allowingNull { throw .nullCharacter }  // [MQTT-1.5.3-2]
        i += 1
        continue
      }
      if b0 < 0xC2 || b0 > 0xF4 { throw .invalidUTF8 }  // continuation, overlong or > U+10FFFF
      if b0 < 0xE0 {
        guard i + 1 < n, s[i + 1] & 0xC0 == 0x80 else { throw .invalidUTF8 }
        i += 2
        continue
      }
      if b0 < 0xF0 {
        guard i + 2 < n else { throw .invalidUTF8 }
        let b1 = s[i + 1]
        guard b1 & 0xC0 == 0x80, s[i + 2] & 0xC0 == 0x80 else { throw .invalidUTF8 }
        if b0 == 0xE0 && b1 < 0xA0 { throw .invalidUTF8 }  // overlong
        if b0 == 0xED && b1 >= 0xA0 { throw .invalidUTF8 }  // surrogate [MQTT-1.5.3-1]
        i += 3
        continue
      }
      guard i + 3 < n else { throw .invalidUTF8 }
      let b1 = s[i + 1]
      guard b1 & 0xC0 == 0x80, s[i + 2] & 0xC0 == 0x80, s[i + 3] & 0xC0 == 0x80 else {
        throw .invalidUTF8
      }
      if b0 == 0xF0 && b1 < 0x90 { throw .invalidUTF8 }  // overlong
      if b0 == 0xF4 && b1 >= 0x90 { throw .invalidUTF8 }  // above U+10FFFF
      i += 4
    }
  }
}
