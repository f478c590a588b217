// Messages for people (errors, log lines, --plan): built from literal pieces and values through
// one out-of-line path. In Embedded Swift every String interpolation or concatenation site
// inlines the stdlib's String append machinery; a Message site is a few calls. Pure, no I/O.

/// UTF-8 text written as a string literal with interpolations: `"\(origin):\(line): unknown key"`.
/// Literal pieces are StaticStrings (no String is built for them); values are appended as
/// decimal numbers, String or byte contents.
public struct Message: ExpressibleByStringInterpolation, Sendable {
  public var bytes: [UInt8]

  public init(stringLiteral literal: StaticString) {
    bytes = []
    bytes.append(literal)
  }

  public init(stringInterpolation m: Message) { bytes = m.bytes }

  public init(bytes: [UInt8]) { self.bytes = bytes }

  /// The text as a String (one conversion, out of line). Bytes that are not UTF-8 (a file name
  /// from a config file may hold any) become '?': String(decoding:) would repair them too, but
  /// its repair path links the stdlib's code for every other string form.
  public var string: String {
    @inline(never) get {
      if let s = String(validating: bytes, as: UTF8.self) { return s }
      return String(validating: bytes.map { $0 < 0x80 ? $0 : 0x3F }, as: UTF8.self) ?? ""
    }
  }

  /// A String's UTF-8 bytes. Strings here are always native UTF-8 (Embedded Swift and Linux
  /// have no bridged ones), so the contiguous view is always there; going through it keeps the
  /// stdlib's code for other string forms out of the binary.
  @inline(never)
  public static func utf8(_ s: String) -> [UInt8] {
    guard let bytes = s.utf8.withContiguousStorageIfAvailable({ Array($0) }) else {
      fatalError("non-contiguous String")
    }
    return bytes
  }

  /// A String's bytes and a NUL, for C (a path).
  public static func cString(_ s: String) -> [UInt8] { utf8(s) + [0] }

  // The interpolation builder is a Message too: `"a\(x)b"` appends into one byte array.
  public typealias StringInterpolation = Message

  public static func + (a: Message, b: Message) -> Message {
    var m = a
    m.bytes.append(contentsOf: b.bytes)
    return m
  }
}

extension Message: StringInterpolationProtocol {
  public init(literalCapacity: Int, interpolationCount: Int) {
    bytes = []
    bytes.reserveCapacity(literalCapacity + 8 * interpolationCount)
  }

  public mutating func appendLiteral(_ literal: StaticString) { bytes.append(literal) }

  public mutating func appendInterpolation(_ s: StaticString) { bytes.append(s) }

  public mutating func appendInterpolation(_ s: String) { bytes.append(contentsOf: Message.utf8(s)) }

  /// Bytes taken as UTF-8 text (a config word, a file name, a topic).
  @inline(never)
  public mutating func appendInterpolation(_ b: [UInt8]) { bytes.append(contentsOf: b) }

  public mutating func appendInterpolation(_ m: Message) { appendInterpolation(m.bytes) }

  /// A NUL-terminated C string's bytes (an errno name, an mbedTLS error text).
  @inline(never)
  public mutating func appendInterpolation(cString p: UnsafePointer<CChar>) {
    var q = p
    while q.pointee != 0 {
      bytes.append(UInt8(bitPattern: q.pointee))
      q += 1
    }
  }

  public mutating func appendInterpolation<T: BinaryInteger>(_ v: T) {
    bytes.appendDecimal(negative: v < 0, UInt64(truncatingIfNeeded: v.magnitude))
  }
}

extension Array where Element == UInt8 {
  /// A StaticString's UTF-8 bytes (`[UInt8](utf8: "-c")`).
  public init(utf8 s: StaticString) {
    self = []
    append(s)
  }

  /// Appends a StaticString's UTF-8 bytes.
  @inline(never)
  public mutating func append(_ s: StaticString) {
    append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
  }

  /// Appends a decimal number (a '-' first when negative).
  @inline(never)
  public mutating func appendDecimal(negative: Bool, _ magnitude: UInt64) {
    var text: [21 of UInt8] = .init(repeating: 0)  // DecimalText.maxBytes
    let n = Swift.withUnsafeMutableBytes(of: &text) {
      DecimalText.write(magnitude, negative: negative, into: $0, at: 0)
    }
    Swift.withUnsafeBytes(of: &text) { append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
  }
}
