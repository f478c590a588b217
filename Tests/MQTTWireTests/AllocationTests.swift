// Here's how it works: the codec promises that decoding and encoding never allocate (borrowed
// views, fixed-size builders, switches instead of array literals). This test holds it to that
// with the per-thread malloc counter of HostAllocCounter (live in this process, see
// AllocationProbe.swift). Every valid vector of the table, 3.1.1 and MQTT 5 alike (2 MiB
// boundary vectors included), is laid out in one buffer beforehand; a pass then runs, for each
// vector, Frame.detect, Packet.decode with the vector's version, Encode.packet into a
// preallocated BufferSink, a byte comparison with the input, and a walk over everything the
// packet exposes lazily: every property accessor for every identifier (byte, uint16, uint32,
// bytes, contains, all), the SUBSCRIBE entries, the UNSUBSCRIBE filters and the reason codes;
// and each property block is rebuilt as an OutProperties (user properties copied verbatim,
// subscription identifiers added, values taken over) and written, as when forwarding.
// The first pass warms up (lazy metadata, first-use caches); the second is counted and must
// make exactly 0 allocations. Results go into preallocated storage and are checked after the
// count is taken: #expect itself allocates, so nothing of Testing runs inside the measured
// block. Only vectors that decode are measured: in a Swift Testing process every thrown error
// allocates (its will-throw hook captures a backtrace), so the error paths cannot show 0 here. The code inside uses static functions with inout parameters rather than closures
// that capture variables, so that no capture box can be the reason for an allocation.

import HostAllocCounter
import Testing

@testable import MQTTWire

/// The work of one pass; all storage is preallocated by the caller.
private struct Pass {
  let input: UnsafeRawBufferPointer
  let starts: UnsafeBufferPointer<Int>
  let lengths: UnsafeBufferPointer<Int>
  let versions: UnsafeBufferPointer<ProtocolVersion>
  let maxes: UnsafeBufferPointer<Int>
  let output: UnsafeMutableRawBufferPointer
  /// Per vector: bytes re-encoded, or -1 (detect/decode failed), -2 (bytes differ), -3 (overflow).
  let results: UnsafeMutableBufferPointer<Int>

  /// Folds what the lazy views yield into a number, so that none of it is optimised away.
  static func walk(_ p: Properties?, _ sum: inout Int) {
    guard let p else { return }
    var raw: UInt8 = 0
    while raw <= 0x2A {  // every identifier, without PropertyID.allCases (an array)
      if let id = PropertyID(rawValue: raw) {
        // The accessor of the property's own type. (One of another type may read past the
        // value; its internal `try?` then catches a thrown error, and in this process every
        // throw allocates: Swift Testing's will-throw hook records a backtrace.)
        switch id.kind {
        case .byte: sum &+= Int(p.byte(id) ?? 0)
        case .twoByte: sum &+= Int(p.uint16(id) ?? 0)
        case .fourByte, .variable: sum &+= Int(p.uint32(id) ?? 0)
        case .string, .binary, .stringPair: sum &+= p.bytes(id)?.count ?? 0
        }
        sum &+= p.contains(id) ? 1 : 0
        for r in p.all(id) { sum &+= r.offset }
      }
      raw += 1
    }
    sum &+= p.isEmpty ? 0 : p.byteCount
  }

  /// Builds an outgoing block from a decoded one (user properties copied verbatim, the other
  /// values through the accessors) and writes it, as the broker does when it forwards.
  static func rebuild(_ p: Properties?, _ out: UnsafeMutableRawBufferPointer, _ sum: inout Int) {
    guard let p else { return }
    var o = OutProperties()
    o.userPropertiesFrom = p
    o.payloadFormatIndicator = p.byte(.payloadFormatIndicator)
    o.messageExpiryInterval = p.uint32(.messageExpiryInterval)
    o.contentType = p.bytes(.contentType)
    o.responseTopic = p.bytes(.responseTopic)
    o.correlationData = p.bytes(.correlationData)
    for r in p.all(.subscriptionIdentifier) {
      var r = r
      if let v = try? r.readVariableByteInteger() { _ = o.addSubscriptionIdentifier(UInt32(v)) }
    }
    o.sessionExpiryInterval = p.uint32(.sessionExpiryInterval)
    o.receiveMaximum = p.uint16(.receiveMaximum)
    o.topicAlias = p.uint16(.topicAlias)
    o.reasonString = p.bytes(.reasonString)
    o.authenticationMethod = p.bytes(.authenticationMethod)
    o.maximumPacketSize = p.uint32(.maximumPacketSize)
    var sink = BufferSink(out)
    o.encode(into: &sink)
    sum &+= sink.count &+ o.byteCount &+ (sink.overflowed ? 1 : 0)
  }

  static func rebuild(_ packet: Packet, _ out: UnsafeMutableRawBufferPointer, _ sum: inout Int) {
    switch packet {
    case .connect(let c):
      rebuild(c.properties, out, &sum)
      rebuild(c.will?.properties, out, &sum)
    case .connack(let a): rebuild(a.properties, out, &sum)
    case .publish(let pub): rebuild(pub.properties, out, &sum)
    case .puback(let a), .pubrec(let a), .pubrel(let a), .pubcomp(let a):
      rebuild(a.properties, out, &sum)
    case .subscribe(let s): rebuild(s.properties, out, &sum)
    case .suback(let a), .unsuback(let a): rebuild(a.properties, out, &sum)
    case .unsubscribe(let u): rebuild(u.properties, out, &sum)
    case .disconnect(let r), .auth(let r): rebuild(r.properties, out, &sum)
    case .pingreq, .pingresp: break
    }
  }

  static func walk(_ packet: Packet, _ sum: inout Int) {
    switch packet {
    case .connect(let c):
      walk(c.properties, &sum)
      walk(c.will?.properties, &sum)
      sum &+= c.clientID.count &+ (c.will?.payload.count ?? 0) &+ (c.password?.count ?? 0)
    case .connack(let a): walk(a.properties, &sum)
    case .publish(let pub):
      walk(pub.properties, &sum)
      sum &+= pub.topic.count &+ pub.payload.count
    case .puback(let a), .pubrec(let a), .pubrel(let a), .pubcomp(let a):
      walk(a.properties, &sum)
      sum &+= Int(a.reasonCode ?? 0)
    case .subscribe(let s):
      walk(s.properties, &sum)
      for e in s.entries { sum &+= e.filter.count &+ Int(e.options.byte) }
      sum &+= s.entries.count
    case .suback(let a), .unsuback(let a):
      walk(a.properties, &sum)
      for c in a.reasonCodes { sum &+= Int(c) }
    case .unsubscribe(let u):
      walk(u.properties, &sum)
      for f in u.filters { sum &+= f.count }
      sum &+= u.filters.count
    case .pingreq, .pingresp: sum &+= 1
    case .disconnect(let r), .auth(let r):
      walk(r.properties, &sum)
      sum &+= Int(r.reasonCode ?? 0)
    }
  }

  /// One vector: detect, decode, re-encode, compare, walk.
  static func one(_ pass: Pass, _ i: Int, _ sum: inout Int) {
    let bytes = pass.input.slice(pass.starts[i], pass.lengths[i])
    let packet: Packet
    do throws(DecodeError) {
      guard
        case .complete(let frame) = try Frame.detect(
          bytes, maxPacketBytes: pass.maxes[i], version: pass.versions[i])
      else {
        pass.results[i] = -1
        return
      }
      packet = try Packet.decode(frame, bytes, version: pass.versions[i])
    } catch {
      pass.results[i] = -1
      return
    }
    var sink = BufferSink(pass.output)
    Encode.packet(packet, into: &sink)
    if sink.overflowed {
      pass.results[i] = -3
      return
    }
    if !sameBytes(sink.written, bytes) {
      pass.results[i] = -2
      return
    }
    pass.results[i] = sink.count
    walk(packet, &sum)
    rebuild(packet, pass.output, &sum)
  }

  func run() -> Int {
    var sum = 0
    var i = 0
    while i < results.count {
      Pass.one(self, i, &sum)
      i += 1
    }
    return sum
  }
}

@Suite("Allocations")
struct AllocationTests {
  @Test(
    "decode, re-encode, walk and rebuild the properties of every valid vector (3.1.1 and MQTT 5): 0 allocations"
  )
  func zeroAllocations() {
    let vectors = Vectors.valid
    let n = vectors.count
    let total = vectors.reduce(0) { $0 + $1.bytes.count }
    let largest = vectors.map(\.bytes.count).max() ?? 0

    let input = UnsafeMutableRawBufferPointer.allocate(byteCount: total, alignment: 8)
    let output = UnsafeMutableRawBufferPointer.allocate(byteCount: largest, alignment: 8)
    let starts = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
    let lengths = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
    let versions = UnsafeMutableBufferPointer<ProtocolVersion>.allocate(capacity: n)
    let maxes = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
    let results = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
    defer {
      input.deallocate()
      output.deallocate()
      starts.deallocate()
      lengths.deallocate()
      versions.deallocate()
      maxes.deallocate()
      results.deallocate()
    }
    starts.initialize(repeating: 0)
    lengths.initialize(repeating: 0)
    versions.initialize(repeating: .v311)
    maxes.initialize(repeating: 0)
    results.initialize(repeating: 0)
    var offset = 0
    for (i, v) in vectors.enumerated() {
      v.bytes.withUnsafeBytes {
        input.baseAddress!.advanced(by: offset).copyMemory(
          from: $0.baseAddress!, byteCount: $0.count)
      }
      starts[i] = offset
      lengths[i] = v.bytes.count
      versions[i] = v.version
      maxes[i] = v.maxPacketBytes
      offset += v.bytes.count
    }
    let pass = Pass(
      input: UnsafeRawBufferPointer(input), starts: UnsafeBufferPointer(starts),
      lengths: UnsafeBufferPointer(lengths),
      versions: UnsafeBufferPointer(versions), maxes: UnsafeBufferPointer(maxes), output: output,
      results: results)

    _ = pass.run()  // warm-up
    results.update(repeating: 0)

    let before = host_alloc_count_this_thread()
    let sum = pass.run()
    let after = host_alloc_count_this_thread()

    #expect(
      after - before == 0, "\(after - before) allocations while decoding and encoding \(n) vectors")
    for (i, v) in vectors.enumerated() where results[i] != v.bytes.count {
      Issue.record("\(v.name): result \(results[i]) for \(v.bytes.count) bytes")
    }
    #expect(sum != 0)
    #expect(vectors.contains { $0.version == .v5 } && vectors.contains { $0.version == .v311 })
  }
}
