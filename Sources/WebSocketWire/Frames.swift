// WebSocket framing for a server (RFC 6455 §5): the receive side de-frames in place (client
// frames are masked, §5.3; their payload is unmasked and moved to the front of the same buffer,
// so the MQTT bytes are contiguous and no second buffer is needed); the send side writes a
// header (FIN, binary, unmasked, §5.2) in front of the MQTT bytes. Pure: no allocation, no
// syscalls. The state of one connection's receive side is `Deframer` (~190 bytes).

public enum WebSocketOpcode: UInt8, Sendable {
  case continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10
}

/// Close status codes midge sends (RFC 6455 §7.4.1).
public enum WebSocketClose: UInt16, Sendable {
  case normal = 1000
  case protocolError = 1002
  case unsupportedData = 1003  // a text frame: MQTT travels in binary frames only
  case tooBig = 1009
}

public enum WebSocketFrame {
  /// Longest server header: 2 bytes, then a 64-bit length (§5.2).
  public static let headerBytesMax = 10

  /// Writes a final, unmasked server frame header for `length` payload bytes at `p`; returns
  /// its length (2, 4 or 10). The length is encoded in the fewest bytes (§5.2).
  @inlinable
  public static func writeHeader(_ opcode: WebSocketOpcode, length: Int, into p: UnsafeMutableRawPointer) -> Int {
    p.storeBytes(of: 0x80 | opcode.rawValue, as: UInt8.self)
    if length < 126 {
      p.storeBytes(of: UInt8(length), toByteOffset: 1, as: UInt8.self)
      return 2
    }
    if length < 65536 {
      p.storeBytes(of: 126, toByteOffset: 1, as: UInt8.self)
      p.storeBytes(of: UInt8(length >> 8), toByteOffset: 2, as: UInt8.self)
      p.storeBytes(of: UInt8(length & 0xFF), toByteOffset: 3, as: UInt8.self)
      return 4
    }
    p.storeBytes(of: 127, toByteOffset: 1, as: UInt8.self)
    let v = UInt64(length)
    var i = 0
    while i < 8 {
      p.storeBytes(of: UInt8(truncatingIfNeeded: v >> UInt64(56 - 8 * i)), toByteOffset: 2 + i, as: UInt8.self)
      i += 1
    }
    return 10
  }
}

/// One connection's receive side: where it is inside the frame stream.
public struct Deframer {
  /// The header being read (2 to 14 bytes: 2, the extended length, the mask key).
  var header: [14 of UInt8] = .init(repeating: 0)
  var headerCount = 0
  var opcode: UInt8 = 0
  var final = false
  var mask: [4 of UInt8] = .init(repeating: 0)
  var maskPhase = 0
  /// Payload bytes of the current frame not yet read; -1 while reading a header.
  var remaining = -1
  /// Data bytes of the message so far (continuation frames add up, §5.4).
  var messageBytes = 0
  var inMessage = false
  /// The payload of the last ping, for its pong; only pings are kept (a close frame's status
  /// code goes to `closeCode`, its reason and pongs' payloads are dropped).
  var ping: [125 of UInt8] = .init(repeating: 0)
  var pingCount = 0
  /// Payload bytes of the control frame being read so far, and a close frame's first two.
  var controlCount = 0
  var closeCode: [2 of UInt8] = .init(repeating: 0)
  /// A ping arrived and its pong has not been taken (`takePong`). Only the latest ping is
  /// answered when several arrive before the pong leaves (§5.5.3 allows it).
  public private(set) var pongPending = false

  public init() {}

  /// What the bytes just de-framed ask of the connection besides their payload.
  public enum Event: Equatable, Sendable {
    case none
    /// A close frame (§5.5.1): its status code, nil when it had none; answer with the same.
    case close(UInt16?)
    /// The peer broke the protocol: close with this code (§7.1.7) and drop the connection.
    case fail(WebSocketClose)
  }

  /// Copies the pending pong's payload (at most 125 bytes) to `p`, once; returns its length.
  public mutating func takePong(into p: UnsafeMutableRawPointer) -> Int {
    guard pongPending else { return 0 }
    pongPending = false
    let n = pingCount
    withUnsafeBytes(of: &ping) { c in p.copyMemory(from: c.baseAddress!, byteCount: n) }
    return n
  }

  /// De-frames `count` raw bytes at `buffer` in place: the data payload, unmasked, goes to
  /// `buffer[0..<payload]`. `limit` bounds a frame and a message (§10.4): larger ones fail with
  /// 1009. Stops at a close frame or an error (the bytes after it are not looked at).
  public mutating func deframe(
    _ buffer: UnsafeMutableRawPointer, count: Int, limit: Int
  ) -> (payload: Int, event: Event) {
    var input = 0
    var output = 0
    while input < count || remaining == 0 {
      if remaining < 0 {
        // The header, byte by byte (at most 14 bytes: cheap, and it may be split anywhere).
        header[headerCount] = buffer.load(fromByteOffset: input, as: UInt8.self)
        headerCount += 1
        input += 1
        switch parseHeader(limit: limit) {
        case .needMore: continue
        case .fail(let code): return (output, .fail(code))
        case .done: break
        }
        continue
      }
      // Payload bytes of the current frame.
      let n = min(remaining, count - input)
      if opcode < 8 {
        maskPhase = Deframer.unmask(buffer + input, to: buffer + output, n, mask, maskPhase)
        output += n
      } else {
        readControl(buffer + input, n)
      }
      input += n
      remaining -= n
      if remaining == 0 {
        remaining = -1
        headerCount = 0
        if let event = frameDone(), event != .none { return (output, event) }
      }
    }
    return (output, .none)
  }

  /// Control frame payload: a ping's into `ping`, a close frame's first two bytes into
  /// `closeCode`, the rest only unmasked in place (the mask phase must advance).
  mutating func readControl(_ p: UnsafeMutableRawPointer, _ n: Int) {
    let m = mask
    let phase = maskPhase
    let at = controlCount
    maskPhase = Deframer.unmask(p, to: p, n, m, phase)
    if opcode == 9 {
      withUnsafeMutableBytes(of: &ping) { c in (c.baseAddress! + at).copyMemory(from: p, byteCount: n) }
    } else if opcode == 8 {
      var i = 0
      while i < n && at + i < 2 {
        closeCode[at + i] = p.load(fromByteOffset: i, as: UInt8.self)
        i += 1
      }
    }
    controlCount += n
  }

  enum HeaderStep { case needMore, done, fail(WebSocketClose) }

  mutating func parseHeader(limit: Int) -> HeaderStep {
    let b0 = header[0]
    if headerCount == 1 {
      // §5.2: RSV1-3 must be 0 (no extension was negotiated); opcodes 3-7 and 11-15 are reserved.
      if b0 & 0x70 != 0 { return .fail(.protocolError) }
      let op = b0 & 0x0F
      switch op {
      case 0: if !inMessage { return .fail(.protocolError) }  // continuation of nothing (§5.4)
      case 1: return .fail(.unsupportedData)  // text: MQTT is binary [MQTT-6.0.0-1]
      case 2: if inMessage { return .fail(.protocolError) }  // a new message inside a fragmented one
      case 8, 9, 10: if b0 & 0x80 == 0 { return .fail(.protocolError) }  // control frames are not fragmented (§5.5)
      default: return .fail(.protocolError)
      }
      return .needMore
    }
    let b1 = header[1]
    if headerCount == 2 {
      if b1 & 0x80 == 0 { return .fail(.protocolError) }  // §5.1: a client MUST mask every frame
      if b0 & 0x0F >= 8 && b1 & 0x7F > 125 { return .fail(.protocolError) }  // §5.5
    }
    let short = Int(b1 & 0x7F)
    let lengthBytes = short == 126 ? 2 : short == 127 ? 8 : 0
    guard headerCount == 2 + lengthBytes + 4 else { return .needMore }
    var length = short
    if lengthBytes > 0 {
      if lengthBytes == 8 && header[2] & 0x80 != 0 { return .fail(.protocolError) }  // §5.2: MSB 0
      var v: UInt64 = 0
      for i in 0..<lengthBytes { v = v << 8 | UInt64(header[2 + i]) }
      // §5.2: "the minimal number of bytes MUST be used to encode the length".
      if (lengthBytes == 2 && v < 126) || (lengthBytes == 8 && v < 65536) { return .fail(.protocolError) }
      if v > UInt64(limit) { return .fail(.tooBig) }
      length = Int(v)
    }
    opcode = b0 & 0x0F
    final = b0 & 0x80 != 0
    for i in 0..<4 { mask[i] = header[2 + lengthBytes + i] }
    maskPhase = 0
    if opcode < 8 {
      if messageBytes + length > limit { return .fail(.tooBig) }
      messageBytes += length
      inMessage = !final
    } else {
      controlCount = 0
      // A new ping replaces a pong not yet sent (§5.5.3 allows answering only the latest): its
      // payload is read into the same buffer.
      if opcode == 9 { pongPending = false }
    }
    remaining = length
    return .done
  }

  /// A frame's payload is complete.
  mutating func frameDone() -> Event? {
    if opcode < 8 {
      if final { messageBytes = 0 }
      return nil
    }
    switch opcode {
    case 9:
      pingCount = controlCount
      pongPending = true  // §5.5.2: answered with a pong carrying the same payload
      return nil
    case 8:
      if controlCount == 0 { return .close(nil) }
      if controlCount == 1 { return .fail(.protocolError) }
      let code = UInt16(closeCode[0]) << 8 | UInt16(closeCode[1])
      return WebSocketCloseCode.isValid(code) ? .close(code) : .fail(.protocolError)
    default:
      return nil  // pong: unsolicited pongs are allowed and ignored (§5.5.3)
    }
  }

  /// XORs `n` bytes with the mask key from `phase` (§5.3), `from` to `to` (to <= from: in
  /// place, front to back); returns the phase after them. Eight bytes at a time (the key,
  /// rotated to the phase, repeated twice in a word), then byte by byte.
  @inline(__always)
  static func unmask(
    _ from: UnsafeMutableRawPointer, to: UnsafeMutableRawPointer, _ n: Int, _ mask: [4 of UInt8], _ phase: Int
  ) -> Int {
    var i = 0
    if n >= 16 {
      var word: UInt64 = 0
      for k in 0..<8 { word |= UInt64(mask[(phase + k) & 3]) << UInt64(8 * k) }
      let key = UInt64(littleEndian: word)
      while i + 8 <= n {
        let v = from.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        to.storeBytes(of: v ^ key, toByteOffset: i, as: UInt64.self)
        i += 8
      }
    }
    var p = (phase + i) & 3
    while i < n {
      let b = from.load(fromByteOffset: i, as: UInt8.self)
      to.storeBytes(of: b ^ mask[p], toByteOffset: i, as: UInt8.self)
      p = (p + 1) & 3
      i += 1
    }
    return p
  }
}

public enum WebSocketCloseCode {
  /// §7.4: codes a peer may send (1000-1003, 1007-1011, 3000-4999).
  public static func isValid(_ code: UInt16) -> Bool {
    switch code {
    case 1000...1003, 1007...1011: return true
    case 3000...4999: return true
    default: return false
    }
  }
}
