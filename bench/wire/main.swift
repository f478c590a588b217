// PUBLISH decode + encode micro-benchmark (ns per packet). Here's how it works: for each case
// a PUBLISH is encoded once, then `iterations` times the benchmark detects the frame, decodes
// it and re-encodes it into a fixed buffer -- the work the broker does per inbound PUBLISH
// before routing. Each case runs `runs` times and the median is printed, so one noisy run on
// a shared machine does not decide the figure. Built with the codec's sources in one module,
// -O -wmo (see `make bench-wire`); not part of the product.

struct Case {
  let name: String
  let version: ProtocolVersion
  let qos: QoS
  let payloadBytes: Int
  let v5Properties: Bool
}

func makePublish(_ c: Case, into buffer: UnsafeMutableRawBufferPointer) -> Int {
  let topic: StaticString = "sensors/building-7/floor-3/room-12/temperature"
  let topicBytes = UnsafeRawBufferPointer(start: topic.utf8Start, count: topic.utf8CodeUnitCount)
  let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: c.payloadBytes, alignment: 1)
  defer { payload.deallocate() }
  for i in 0..<c.payloadBytes { payload[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
  var sink = BufferSink(buffer)
  if c.v5Properties {
    var props = OutProperties()
    props.payloadFormatIndicator = 0
    props.messageExpiryInterval = 3600
    let ct: StaticString = "application/octet-stream"
    props.contentType = UnsafeRawBufferPointer(start: ct.utf8Start, count: ct.utf8CodeUnitCount)
    Encode.publishHeader(
      topic: topicBytes, payloadCount: c.payloadBytes, qos: c.qos, retain: false, duplicate: false,
      packetID: c.qos == .atMostOnce ? 0 : 4242, properties: props, into: &sink)
  } else {
    Encode.publishHeader(
      topic: topicBytes, payloadCount: c.payloadBytes, qos: c.qos, retain: false, duplicate: false,
      packetID: c.qos == .atMostOnce ? 0 : 4242, properties: c.version == .v5 ? Properties.empty : nil,
      into: &sink)
  }
  sink.write(UnsafeRawBufferPointer(payload))
  precondition(!sink.overflowed)
  return sink.count
}

func measure(_ c: Case, iterations: Int) -> Double {
  let input = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
  let output = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
  defer {
    input.deallocate()
    output.deallocate()
  }
  let n = makePublish(c, into: input)
  let bytes = UnsafeRawBufferPointer(rebasing: input[0..<n])
  var checksum = 0
  let clock = ContinuousClock()
  let start = clock.now
  for _ in 0..<iterations {
    guard case .complete(let frame)? = try? Frame.detect(bytes, maxPacketBytes: 1 << 20, version: c.version),
      case .publish(let p)? = try? Packet.decode(frame, bytes, version: c.version)
    else { fatalError("benchmark packet does not decode") }
    var sink = BufferSink(output)
    Encode.publish(p, into: &sink)
    checksum &+= sink.count &+ Int(p.payload[p.payload.count - 1])
  }
  let elapsed = clock.now - start
  precondition(checksum != 0)
  let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
  return ns / Double(iterations)
}

let cases = [
  Case(name: "3.1.1 QoS 0, 64 B payload", version: .v311, qos: .atMostOnce, payloadBytes: 64, v5Properties: false),
  Case(name: "3.1.1 QoS 1, 64 B payload", version: .v311, qos: .atLeastOnce, payloadBytes: 64, v5Properties: false),
  Case(name: "5.0 QoS 0, 64 B, no properties", version: .v5, qos: .atMostOnce, payloadBytes: 64, v5Properties: false),
  Case(name: "5.0 QoS 1, 64 B, 3 properties", version: .v5, qos: .atLeastOnce, payloadBytes: 64, v5Properties: true),
  Case(name: "3.1.1 QoS 0, 1 KiB payload", version: .v311, qos: .atMostOnce, payloadBytes: 1024, v5Properties: false),
]
let runs = 5
let iterations = 2_000_000
print("PUBLISH decode + encode, median of \(runs) runs of \(iterations) packets (ns per packet)")
for c in cases {
  var results: [Double] = []
  for _ in 0..<runs { results.append(measure(c, iterations: iterations)) }
  results.sort()
  let median = results[runs / 2]
  let line = "  \(c.name)" + String(repeating: " ", count: max(1, 36 - c.name.count))
  print(line + "\(Int(median.rounded())) ns   (min \(Int(results[0].rounded())), max \(Int(results[runs - 1].rounded())))")
}
