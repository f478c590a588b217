// libFuzzer target over the MQTT codec. Here's how it works: the first input byte picks the
// protocol version (low two bits) and, with its top bit set, a small maximum packet size; the
// rest is a byte stream cut into frames exactly as the broker does (Frame.detect, then
// Packet.decode per complete frame). Every packet that decodes must re-encode to the size the
// encoders announce, to exactly the bytes it came from (apart from a longer-than-needed
// remaining length, which MQTT 3.1.1 tolerates), and must decode again to the same encoding.
// Any violation traps, which libFuzzer reports as a crash with the input saved.
//
// Built with the codec's sources in one module (see `make fuzz`), never part of the product.

@_cdecl("LLVMFuzzerTestOneInput")
public func midgeWireFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
  guard size >= 1 else { return 0 }
  let selector = data[0]
  let version: ProtocolVersion
  switch selector & 0x03 {
  case 0: version = .v31
  case 1: version = .v311
  default: version = .v5
  }
  let maxBytes = selector & 0x80 != 0 ? 2 + Int(selector & 0x3F) * 8 : VariableByteInteger.max + 5
  let input = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
  var offset = 0
  while offset < input.count {
    let window = input.slice(offset, input.count - offset)
    guard case .complete(let frame)? = try? Frame.detect(window, maxPacketBytes: maxBytes, version: version) else {
      break
    }
    let bytes = window.slice(0, frame.totalLength)
    if let packet = try? Packet.decode(frame, bytes, version: version) {
      check(packet, bytes, frame, version)
    }
    offset += frame.totalLength
  }
  return 0
}

func check(_ packet: Packet, _ bytes: UnsafeRawBufferPointer, _ frame: Frame, _ version: ProtocolVersion) {
  let encodedSize = Encode.size(packet)
  let minimal = frame.headerLength == 1 + VariableByteInteger.size(frame.remainingLength)
  let out = UnsafeMutableRawBufferPointer.allocate(byteCount: max(encodedSize, 1), alignment: 1)
  defer { out.deallocate() }
  var sink = BufferSink(out)
  Encode.packet(packet, into: &sink)
  precondition(!sink.overflowed && sink.count == encodedSize, "encoder wrote a different size than announced")
  let written = sink.written
  if minimal {
    precondition(written.bytesEqual(bytes), "re-encoding differs from the input")
  } else {
    precondition(version != .v5, "v5 accepted a non-minimal remaining length")
    precondition(written.slice(encodedSize - frame.remainingLength, frame.remainingLength)
      .bytesEqual(bytes.slice(frame.headerLength, frame.remainingLength)), "re-encoded body differs")
  }
  // The re-encoding decodes again and re-encodes identically (idempotent).
  guard case .complete(let again)? = try? Frame.detect(written, maxPacketBytes: Int.max, version: version),
    let second = try? Packet.decode(again, written, version: version)
  else { preconditionFailure("a re-encoded packet does not decode") }
  precondition(Encode.size(second) == encodedSize, "second encoding has another size")
}
