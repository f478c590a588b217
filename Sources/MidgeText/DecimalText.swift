// Decimal text of integers without allocation: the one formatter behind Message (startup
// text), log lines (Platform's LogLine) and $SYS payloads (BrokerCore). Pure, no I/O.

public enum DecimalText {
  /// The most bytes one value takes: the 20 digits of UInt64.max and a '-'.
  public static let maxBytes = 21

  /// Writes `magnitude` in decimal, after a '-' when `negative`, at `at`; returns the new end.
  /// `out` must hold `maxBytes` bytes from `at`.
  @inline(never)
  public static func write(
    _ magnitude: UInt64, negative: Bool = false, into out: UnsafeMutableRawBufferPointer, at: Int
  ) -> Int {
    var start = at
    if negative {
      out[start] = 0x2D
      start += 1
    }
    var digits = 0
    var v = magnitude
    repeat {
      digits += 1
      v /= 10
    } while v > 0
    v = magnitude
    var i = start + digits
    repeat {
      i -= 1
      out[i] = 0x30 + UInt8(v % 10)
      v /= 10
    } while v > 0
    return start + digits
  }
}
