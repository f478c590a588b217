// Base64 (RFC 4648 §4, standard alphabet, '=' padding) as mosquitto_passwd writes it.
// Decoding writes into a caller's buffer and never allocates; encoding (for `midge passwd`,
// a startup-time tool) returns bytes.

public enum Base64 {
  static let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

  static func value(_ c: UInt8) -> UInt8? {
    switch c {
    case 0x41...0x5A: return c - 0x41
    case 0x61...0x7A: return c - 0x61 + 26
    case 0x30...0x39: return c - 0x30 + 52
    case 0x2B: return 62
    case 0x2F: return 63
    default: return nil
    }
  }

  /// Decodes `text` into `out`; nil when it is not base64 or does not fit.
  public static func decode(_ text: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Int? {
    var n = text.count
    var pads = 0
    while n > 0 && text[n - 1] == 0x3D && pads < 2 {
      n -= 1
      pads += 1
    }
    guard (n + pads) % 4 == 0 || pads == 0 else { return nil }
    var acc: UInt32 = 0
    var bits = 0
    var count = 0
    var i = 0
    while i < n {
      guard let v = value(text[i]) else { return nil }
      acc = acc << 6 | UInt32(v)
      bits += 6
      if bits >= 8 {
        bits -= 8
        guard count < out.count else { return nil }
        out[count] = UInt8(truncatingIfNeeded: acc >> UInt32(bits))
        count += 1
      }
      i += 1
    }
    guard bits < 6 else { return nil }  // a dangling sixth of a byte
    return count
  }

  public static func encode(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
    var out: [UInt8] = []
    let a = alphabet.utf8Start
    var i = 0
    while i < bytes.count {
      let b0 = UInt32(bytes[i])
      let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
      let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
      let v = b0 << 16 | b1 << 8 | b2
      out.append(a[Int(v >> 18 & 63)])
      out.append(a[Int(v >> 12 & 63)])
      out.append(i + 1 < bytes.count ? a[Int(v >> 6 & 63)] : 0x3D)
      out.append(i + 2 < bytes.count ? a[Int(v & 63)] : 0x3D)
      i += 3
    }
    return out
  }
}
