// Borrowed byte views and a bounds-checked reader. Decoding never copies: every string,
// topic and payload a decoded packet holds is an UnsafeRawBufferPointer into the caller's
// buffer, valid for as long as that buffer is. Nothing here allocates.

public typealias Bytes = UnsafeRawBufferPointer

extension UnsafeRawBufferPointer {
  /// Byte-wise equality with another view (memcmp semantics, no Unicode processing).
  @inlinable
  public func bytesEqual(_ other: UnsafeRawBufferPointer) -> Bool {
    if count != other.count { return false }
    if count == 0 { return true }
    var i = 0
    while i < count {
      if self[i] != other[i] { return false }
      i += 1
    }
    return true
  }

  /// Byte-wise equality with an ASCII/UTF-8 literal.
  @inlinable
  public func bytesEqual(_ literal: StaticString) -> Bool {
    bytesEqual(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
  }

  /// The sub-view [from, from+count). Preconditions are programmer errors.
  @inlinable
  public func slice(_ from: Int, _ count: Int) -> UnsafeRawBufferPointer {
    precondition(from >= 0 && count >= 0 && from + count <= self.count, "slice out of range")
    guard let base = baseAddress else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    return UnsafeRawBufferPointer(start: base + from, count: count)
  }
}

/// Reads fields front to back over a borrowed buffer. Every read checks the bounds and
/// throws `.truncated` instead of reading past the end.
public struct ByteReader {
  public let bytes: UnsafeRawBufferPointer
  public var offset: Int

  @inlinable
  public init(_ bytes: UnsafeRawBufferPointer) {
    self.bytes = bytes
    self.offset = 0
  }

  @inlinable
  public var remaining: Int { bytes.count - offset }

  @inlinable
  public mutating func readByte() throws(DecodeError) -> UInt8 {
    guard remaining >= 1 else { throw .truncated }
    let b = bytes[offset]
    offset += 1
    return b
  }

  @inlinable
  public mutating func readUInt16() throws(DecodeError) -> UInt16 {
    guard remaining >= 2 else { throw .truncated }
    let v = UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    offset += 2
    return v
  }

  @inlinable
  public mutating func readBytes(_ count: Int) throws(DecodeError) -> UnsafeRawBufferPointer {
    guard count >= 0, remaining >= count else { throw .truncated }
    let v = bytes.slice(offset, count)
    offset += count
    return v
  }

  @inlinable
  public mutating func readUInt32() throws(DecodeError) -> UInt32 {
    guard remaining >= 4 else { throw .truncated }
    var v: UInt32 = 0
    for i in 0..<4 { v = v << 8 | UInt32(bytes[offset + i]) }
    offset += 4
    return v
  }

  /// A variable byte integer (§1.5.5): at most four bytes [MQTT-1.5.5-1], and in the minimum
  /// number of bytes (MQTT 5 requires it; a longer form is malformed).
  @inlinable
  public mutating func readVariableByteInteger() throws(DecodeError) -> Int {
    switch VariableByteInteger.decode(bytes, at: offset) {
    case .incomplete: throw .truncated
    case .malformed: throw .malformedVariableByteInteger
    case .value(let value, let length, let minimal):
      if !minimal { throw .malformedVariableByteInteger }
      offset += length
      return value
    }
  }

  /// Two-byte length then that many bytes (§1.5.6 Binary Data).
  @inlinable
  public mutating func readBinary() throws(DecodeError) -> UnsafeRawBufferPointer {
    let n = try readUInt16()
    return try readBytes(Int(n))
  }

  /// Two-byte length then UTF-8 that must be well-formed, with no U+0000 ([MQTT-1.5.3-1..2]).
  @inlinable
  public mutating func readString() throws(DecodeError) -> UnsafeRawBufferPointer {
    let v = try readBinary()
    try UTF8Check.validate(v)
    return v
  }

  /// The rest of the buffer.
  @inlinable
  public mutating func readRemaining() -> UnsafeRawBufferPointer {
    let v = bytes.slice(offset, remaining)
    offset = bytes.count
    return v
  }
}

/// Writes encoded packets. Encoders are generic over the sink, so the same code writes into
/// a flat buffer (tests, benchmarks) or a connection's chain of send chunks (the broker).
public protocol ByteSink {
  mutating func write(_ byte: UInt8)
  mutating func write(_ bytes: UnsafeRawBufferPointer)
}

extension ByteSink {
  @inlinable
  public mutating func writeUInt16(_ v: UInt16) {
    write(UInt8(truncatingIfNeeded: v >> 8))
    write(UInt8(truncatingIfNeeded: v))
  }

  @inlinable
  public mutating func writeUInt32(_ v: UInt32) {
    write(UInt8(truncatingIfNeeded: v >> 24))
    write(UInt8(truncatingIfNeeded: v >> 16))
    write(UInt8(truncatingIfNeeded: v >> 8))
    write(UInt8(truncatingIfNeeded: v))
  }

  /// Two-byte length prefix then the bytes. The caller guarantees count <= 65535.
  @inlinable
  public mutating func writeBinary(_ bytes: UnsafeRawBufferPointer) {
    precondition(bytes.count <= 0xFFFF, "binary field longer than 65535 bytes")
    writeUInt16(UInt16(bytes.count))
    write(bytes)
  }

  @inlinable
  public mutating func writeVariableByteInteger(_ value: Int) {
    precondition(value >= 0 && value <= VariableByteInteger.max, "variable byte integer range")
    var v = value
    repeat {
      var b = UInt8(v & 0x7F)
      v >>= 7
      if v > 0 { b |= 0x80 }
      write(b)
    } while v > 0
  }
}

/// A sink over a fixed buffer. Writing past the end sets `overflowed` and drops the bytes, so
/// a caller that sized the buffer with the encoder's `size` never sees it set.
public struct BufferSink: ByteSink {
  public let buffer: UnsafeMutableRawBufferPointer
  public private(set) var count: Int = 0
  public private(set) var overflowed = false

  public init(_ buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }

  public mutating func write(_ byte: UInt8) {
    guard count < buffer.count else { overflowed = true; return }
    buffer[count] = byte
    count += 1
  }

  public mutating func write(_ bytes: UnsafeRawBufferPointer) {
    guard bytes.count <= buffer.count - count else { overflowed = true; return }
    if bytes.count > 0 {
      (buffer.baseAddress! + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
    }
    count += bytes.count
  }

  public var written: UnsafeRawBufferPointer { UnsafeRawBufferPointer(buffer).slice(0, count) }
}
