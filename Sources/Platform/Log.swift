// Log lines without allocation: a message is assembled in a fixed stack buffer from static
// strings, byte views and integers, then handed to the C sink (CPlatform/log.c), which adds
// the time and level and writes it to each destination (stderr, stdout, a file: one write(2)
// each; syslog: one datagram). Lines read "<unix time>: <level>: <message>" (Mosquitto's time
// prefix, plus the level so that lines can be grepped by it). Levels not in `log_type` cost a
// test and nothing else.
import BrokerCore
import CPlatform
import MidgeText

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
    var text: [21 of UInt8] = .init(repeating: 0)  // DecimalText.maxBytes
    withUnsafeMutableBytes(of: &text) { t in
      let n = DecimalText.write(UInt64(value.magnitude), negative: value < 0, into: t, at: 0)
      add(UnsafeRawBufferPointer(rebasing: t[0..<n]))
    }
  }
}

public enum Log {
  /// Startup: destinations (CP_LOG_* bits), level mask (LogLevel bits), the time prefix and the
  /// log file. Returns 0 or an errno (the file cannot be opened, a path or format too long).
  public static func configure(
    destinations: UInt8, types: UInt8, timestamp: Bool, timeFormat: String?, filePath: String?
  ) -> Int32 {
    // Both strings, NUL-terminated, in one startup-only array (this allocates: startup).
    var bytes: [CChar] = []
    let formatAt = bytes.count
    if let timeFormat { for b in Message.utf8(timeFormat) { bytes.append(CChar(bitPattern: b)) } }
    bytes.append(0)
    let pathAt = bytes.count
    if let filePath { for b in Message.utf8(filePath) { bytes.append(CChar(bitPattern: b)) } }
    bytes.append(0)
    let rc = bytes.withUnsafeBufferPointer { b in
      // `!`: the array holds at least its two NULs, so it has storage.
      cp_log_configure(
        UInt32(destinations), UInt32(types), timestamp ? 1 : 0, timeFormat == nil ? nil : b.baseAddress! + formatAt,
        filePath == nil ? nil : b.baseAddress! + pathAt)
    }
    return -rc
  }

  public static func wants(_ level: LogLevel) -> Bool { cp_log_wants(UInt32(level.rawValue)) != 0 }

  /// Failed writes to a log destination since startup (never fatal).
  public static var writeErrors: UInt64 { cp_log_write_errors() }

  /// One line at `level` with what `build` adds. Nothing is built when the level is off.
  public static func line(_ level: LogLevel, _ build: (inout LogLine) -> Void) {
    guard wants(level) else { return }
    withUnsafeTemporaryAllocation(byteCount: Int(CP_LOG_LINE_MAX) + 1, alignment: 1) { buffer in
      var l = LogLine(buffer: buffer)
      build(&l)
      cp_log_emit(UInt32(level.rawValue), buffer.baseAddress, l.count)
    }
  }

  /// A line from a Message: startup and shutdown only (building one allocates).
  public static func text(_ level: LogLevel, _ message: Message) {
    message.bytes.withUnsafeBytes { bytes in
      line(level) { $0.add(bytes) }
    }
  }
}
