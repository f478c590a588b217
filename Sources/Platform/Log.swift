// Log lines without allocation: a line is assembled in a fixed stack buffer from static
// strings, byte views and integers, then written to stderr with one write(2). The format
// matches Mosquitto's default ("<unix time>: <message>") so existing log tooling works.
import CPlatform

public struct LogLine {
  let buffer: UnsafeMutableRawBufferPointer
  var count = 0

  public mutating func add(_ s: StaticString) {
    add(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
  }

  public mutating func add(_ bytes: UnsafeRawBufferPointer) {
    let n = min(bytes.count, buffer.count - 1 - count)  // keep room for the newline
    var i = 0
    while i < n {
      // Client-supplied bytes: keep log lines printable and on one line.
      let b = bytes[i]
      buffer[count + i] = b < 0x20 || b == 0x7F ? 0x3F : b
      i += 1
    }
    count += n
  }

  public mutating func add(_ value: Int) { add(Int64(value)) }

  /// The name of an errno value (strerror's text), e.g. "No such file or directory".
  public mutating func add(errorName errno: Int32) {
    guard let p = cp_error_name(errno) else { return }
    var n = 0
    while p[n] != 0 { n += 1 }
    add(UnsafeRawBufferPointer(start: p, count: n))
  }

  public mutating func add(_ value: Int64) {
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                 UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
      (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    withUnsafeMutableBytes(of: &digits) { d in
      var v = value.magnitude
      var n = 0
      repeat {
        d[19 - n] = UInt8(v % 10) + 0x30
        v /= 10
        n += 1
      } while v > 0
      if value < 0 {
        d[19 - n] = 0x2D
        n += 1
      }
      add(UnsafeRawBufferPointer(rebasing: d[(20 - n)...]))
    }
  }
}

public enum Log {
  /// Writes one line to stderr: "<unix time>: " + what `build` adds + "\n".
  public static func line(_ build: (inout LogLine) -> Void) {
    withUnsafeTemporaryAllocation(byteCount: 512, alignment: 1) { buffer in
      var l = LogLine(buffer: buffer)
      l.add(cp_unix_seconds())
      l.add(": ")
      build(&l)
      buffer[l.count] = 0x0A
      cp_write_all(2, buffer.baseAddress, l.count + 1)
    }
  }
}
