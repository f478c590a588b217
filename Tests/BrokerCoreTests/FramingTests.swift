// Method: the receive path under every split of the input. FakeNetwork hands bytes to the core
// in pieces of a chosen size (down to one byte), so a frame may straddle reads, chunk
// boundaries and the move into a large packet buffer. Each test compares what subscribers
// receive byte for byte with what was published, and ends with the pool accounting check.
// The small limits: io_chunk_size 256, max_packet_size 1024, one large packet buffer.
import MQTTWire
import Testing

@testable import BrokerCore

@Suite("Framing on the receive path")
struct FramingTests {
  @Test("a session split byte by byte across reads works")
  func byteByByte() throws {
    let net = FakeNetwork()
    let sub = try #require(net.connect())
    net.setPiece(sub, 1)
    net.send(sub, P.connect(clientID: "bytes") + P.subscribe(1, "b/#"))
    #expect(net.take(sub).map(\.bytes) == [P.connack(0), P.suback(1, 0)])

    // Also one byte per send (and per event-loop turn): the partial frame waits in the chunk.
    let pub = try #require(net.connect())
    for b in P.connect(clientID: "pub") + P.publish("b/1", "split") + P.pingreq {
      #expect(net.take(pub).count <= 1)
      net.send(pub, [b])
    }
    #expect(net.take(pub).map(\.bytes) == [P.pingresp])
    #expect(net.take(sub).map(\.payloadText) == ["split"])
    net.closeAllAndCheckPools()
  }

  @Test("many packets in one read are all handled, in order")
  func manyInOneRead() throws {
    let net = FakeNetwork()
    let sub = try net.client("sub")
    net.send(sub, P.subscribe(1, "m"))
    _ = net.take(sub)
    let pub = try net.client("pub")
    // 20 PINGREQs (40 bytes) in a single read: 20 PINGRESPs.
    net.send(pub, Array([[UInt8]](repeating: P.pingreq, count: 20).joined()))
    #expect(net.take(pub).map(\.bytes) == Array(repeating: P.pingresp, count: 20))
    // 100 PUBLISHes (about 1.3 KB): several reads, frames straddling chunk ends.
    var stream: [UInt8] = []
    for i in 0..<100 { stream += P.publish("m", "msg\(i)") }
    net.send(pub, stream)
    #expect(net.take(sub).map(\.payloadText) == (0..<100).map { "msg\($0)" })
    #expect(net.stats.messagesReceived == 100)
    net.closeAllAndCheckPools()
  }

  @Test("a packet larger than one chunk goes through the large buffer and arrives intact")
  func largePacket() throws {
    let net = FakeNetwork()
    let sub = try net.client("sub")
    net.send(sub, P.subscribe(1, "big"))
    _ = net.take(sub)
    let pub = try net.client("pub")
    let payload = [UInt8](repeatingPattern: 900)
    let packet = P.publish("big", payload)
    #expect(packet.count > net.limits.chunkBytes)
    net.send(pub, packet)
    let got = net.take(sub)
    #expect(got.count == 1)
    #expect(got.first?.topic == "big")
    #expect(got.first?.payload == payload)
    #expect(net.broker.largeBuffersFree == net.plan.largeBuffers.count, "large buffer returned")
    #expect(net.broker.receiveChunksFree == net.plan.rxChunks)
    net.closeAllAndCheckPools()
  }

  @Test(
    "a large packet arrives intact whatever the read size",
    arguments: [1, 2, 3, 7, 100, 255, 256, 257, 511, 1000])
  func largePacketPieces(piece: Int) throws {
    let net = FakeNetwork()
    let sub = try net.client("sub")
    net.send(sub, P.subscribe(1, "#"))
    _ = net.take(sub)
    let pub = try #require(net.connect())
    net.setPiece(pub, piece)
    let big = [UInt8](repeatingPattern: 950)
    // Small packets before and after the large one share its reads.
    net.send(
      pub, P.connect(clientID: "pub") + P.publish("s/1", "a") + P.publish("l", big) + P.publish("s/2", "b")
        + P.pingreq)
    #expect(net.take(pub).map(\.bytes) == [P.connack(0), P.pingresp])
    let got = net.take(sub)
    #expect(got.map(\.topic) == ["s/1", "l", "s/2"])
    #expect(got.count == 3 && got[1].payload == big)
    net.closeAllAndCheckPools()
  }

  @Test("a large packet whose fixed header straddles the end of a chunk")
  func headerAcrossChunkEnd() throws {
    let net = FakeNetwork()
    let sub = try net.client("sub")
    net.send(sub, P.subscribe(1, "h"))
    _ = net.take(sub)
    let pub = try net.client("pub")
    let big = [UInt8](repeatingPattern: 800)
    let packet = P.publish("h", big)  // 0x30 then a 2-byte remaining length
    // 127 PINGREQs fill 254 bytes of the 256-byte chunk: the chunk ends after 0x30 and the
    // first remaining-length byte, before the length is known.
    let filler = Array([[UInt8]](repeating: P.pingreq, count: (net.limits.chunkBytes - 2) / 2).joined())
    net.send(pub, filler + packet)
    #expect(net.take(pub).count == filler.count / 2)
    #expect(net.take(sub).map(\.payload) == [big])
    net.closeAllAndCheckPools()
  }

  @Test("a packet of exactly max_packet_size is accepted")
  func exactlyMax() throws {
    let net = FakeNetwork()
    let sub = try net.client("sub")
    net.send(sub, P.subscribe(1, "x"))
    _ = net.take(sub)
    let pub = try net.client("pub")
    // 1 + 2 (remaining length 1021) + 2 + 1 ("x") + payload = 1024.
    let payload = [UInt8](repeatingPattern: net.limits.packetBytesMax - 6)
    let packet = P.publish("x", payload)
    #expect(packet.count == net.limits.packetBytesMax)
    net.send(pub, packet)
    #expect(net.take(sub).map(\.payload) == [payload])
    #expect(net.closed(pub) == nil)
    net.closeAllAndCheckPools()
  }

  @Test("a packet larger than max_packet_size closes the connection as soon as its header arrives")
  func tooLarge() throws {
    let net = FakeNetwork()
    let other = try net.client("other")
    let c = try net.client("big")
    // Only the fixed header: PUBLISH, remaining length 1024 (total 1027 > 1024).
    net.send(c, [0x30] + P.remaining(net.limits.packetBytesMax))
    #expect(net.closed(c) == .packetTooLarge)
    #expect(net.stats.closes(.packetTooLarge) == 1)
    #expect(net.broker.largeBuffersFree == net.plan.largeBuffers.count, "no large buffer was taken")
    // Also before CONNECT, and for a header announcing the largest possible packet.
    let d = try #require(net.connect())
    net.send(d, [0x10, 0xFF, 0xFF, 0xFF, 0x7F])
    #expect(net.closed(d) == .packetTooLarge)
    #expect(net.closed(other) == nil)
    net.send(other, P.pingreq)
    #expect(net.take(other).map(\.bytes) == [P.pingresp])
    net.closeAllAndCheckPools()
  }

  @Test("the close of a packet too large reports the size its fixed header announced (for the log line)")
  func tooLargeSize() throws {
    let net = FakeNetwork()
    var seen: [(CloseReason, Int)] = []
    net.broker.clientEvents = { [unowned broker = net.broker] _, event in
      if case .closed(let reason, _) = event { seen.append((reason, broker.tooLargePacketBytes)) }
    }
    let c = try net.client("big")
    net.send(c, [0x30] + P.remaining(net.limits.packetBytesMax))  // 1 + 2 + 1024 bytes
    let d = try #require(net.connect())
    net.send(d, [0x10, 0xFF, 0xFF, 0xFF, 0x7F])  // before CONNECT: the largest packet there is
    let e = try net.client("bad")
    net.send(e, [0xC1, 0x00])  // another close: no size
    #expect(seen.map(\.0) == [.packetTooLarge, .packetTooLarge, .malformed])
    #expect(seen.map(\.1) == [3 + net.limits.packetBytesMax, 5 + 268_435_455, 0])
    #expect(net.broker.tooLargePacketBytes == 0, "only readable during the report")
    net.closeAllAndCheckPools()
  }

  @Test(
    "malformed input closes only that connection [MQTT-4.8.0-1] [MQTT-2.2.2-2] [MQTT-1.5.3-1] [MQTT-3.3.1-2]",
    arguments: [
      ("5-byte remaining length", [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F] as [UInt8], CloseReason.malformed),
      ("5 continuation bytes", [0xC0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], .malformed),
      ("reserved type 0", [0x00, 0x00], .malformed),
      ("type 15 (AUTH) in 3.1.1", [0xF0, 0x00], .malformed),
      ("PUBREL flags 0000", [0x60, 0x02, 0x00, 0x01], .malformed),
      ("truncated PUBLISH topic", [0x30, 0x03, 0x00, 0x05, 0x61], .malformed),
      ("DISCONNECT with a body", [0xE0, 0x01, 0x00], .malformed),
      ("invalid UTF-8 topic", [0x30, 0x05, 0x00, 0x02, 0xC3, 0x28, 0x78], .malformed),
      ("QoS 0 PUBLISH with DUP", [0x38, 0x04, 0x00, 0x01, 0x61, 0x78], .malformed),
      ("QoS 1 PUBLISH with packet id 0", [0x32, 0x05, 0x00, 0x01, 0x61, 0x00, 0x00], .protocolError),
      ("SUBACK from a client", [0x90, 0x03, 0x00, 0x01, 0x00], .protocolError),
    ])
  func malformed(name: String, bytes: [UInt8], reason: CloseReason) throws {
    let net = FakeNetwork()
    let sub = try net.client("sub")
    net.send(sub, P.subscribe(1, "#"))
    _ = net.take(sub)
    let bad = try net.client("bad")
    net.send(bad, bytes + P.pingreq)
    #expect(net.closed(bad) == reason, "\(name)")
    #expect(net.take(bad).isEmpty, "nothing answered after the bad packet: \(name)")
    let pub = try net.client("pub")
    net.send(pub, P.publish("after", name))
    #expect(net.take(sub).map(\.payloadText) == [name])
    #expect(net.closed(sub) == nil)
    net.closeAllAndCheckPools()
  }

  @Test("two connections sending large packets share one large buffer: the second pauses and resumes, no byte lost")
  func largeBufferContention() throws {
    let net = FakeNetwork()
    #expect(net.plan.largeBuffers.count == 1)
    let sub = try net.client("sub")
    net.send(sub, P.subscribe(1, "L/#"))
    _ = net.take(sub)
    let a = try net.client("a")
    let b = try net.client("b")
    let payloadA = [UInt8](repeatingPattern: 900)
    let payloadB = payloadA.map { $0 ^ 0x5A }
    let packetA = P.publish("L/a", payloadA)
    let packetB = P.publish("L/b", payloadB) + P.pingreq

    // A sends the first 300 bytes: its frame moves to the large buffer and waits for more.
    net.send(a, Array(packetA.prefix(300)))
    #expect(net.broker.largeBuffersFree == 0)
    #expect(net.broker.wantsRead(a))

    // B sends everything: after one chunk it needs a large buffer, finds none and pauses.
    net.send(b, packetB)
    #expect(net.broker.wantsRead(b) == false, "B's reading is paused")
    #expect(net.peer(b).interest.last == false, "nextInterest reported the pause")
    #expect(net.peer(b).pending.count == packetB.count - net.limits.chunkBytes, "the rest waits in the kernel")
    #expect(net.stats.readPauses == 1)
    #expect(net.take(sub).isEmpty)

    // A completes: its buffer frees, B gets it, reading resumes, both packets are delivered.
    net.send(a, Array(packetA.dropFirst(300)))
    #expect(net.broker.wantsRead(b))
    #expect(net.peer(b).interest.last == true, "nextInterest reported the resume")
    #expect(net.peer(b).pending.isEmpty)
    let got = net.take(sub)
    #expect(got.map(\.topic) == ["L/a", "L/b"])
    #expect(got.map(\.payload) == [payloadA, payloadB])
    #expect(net.take(b).map(\.bytes) == [P.pingresp])
    #expect(net.broker.largeBuffersFree == 1)
    net.closeAllAndCheckPools()
  }

  @Test("a connection paused for a large buffer that closes gives its chunk back; the holder still completes")
  func pausedConnectionCloses() throws {
    let net = FakeNetwork()
    let sub = try net.client("sub")
    net.send(sub, P.subscribe(1, "#"))
    _ = net.take(sub)
    let a = try net.client("a")
    let b = try net.client("b")
    let packet = P.publish("x", [UInt8](repeatingPattern: 700))
    net.send(a, Array(packet.prefix(400)))
    net.send(b, packet)
    #expect(net.broker.wantsRead(b) == false)
    net.hangUp(b)
    #expect(net.closed(b) == .peerClosed)
    net.send(a, Array(packet.dropFirst(400)))
    #expect(net.take(sub).count == 1)
    // Another large packet still finds the buffer.
    net.send(a, packet)
    #expect(net.take(sub).count == 1)
    net.closeAllAndCheckPools()
  }

  @Test("a connection closed while holding the large buffer hands it to the next waiter")
  func largeHolderCloses() throws {
    let net = FakeNetwork()
    let sub = try net.client("sub")
    net.send(sub, P.subscribe(1, "#"))
    _ = net.take(sub)
    let a = try net.client("a")
    let b = try net.client("b")
    let packet = P.publish("y", [UInt8](repeatingPattern: 700))
    net.send(a, Array(packet.prefix(400)))
    net.send(b, packet)
    #expect(net.broker.wantsRead(b) == false)
    net.hangUp(a)
    #expect(net.broker.wantsRead(b))
    #expect(net.take(sub).map(\.topic) == ["y"])
    net.closeAllAndCheckPools()
  }

  @Test("output is written correctly with partial writes and small gathers")
  func partialWrites() throws {
    let net = FakeNetwork()
    net.writeMax = 7
    net.gatherCapacity = 1
    let sub = try net.client("sub")
    net.send(sub, P.subscribe(1, "w"))
    _ = net.take(sub)
    let big = [UInt8](repeatingPattern: 1000)
    net.send(sub, P.publish("w", "small") + P.publish("w", big) + P.publish("w", "tail"))
    #expect(net.take(sub).map(\.payload) == [Array("small".utf8), big, Array("tail".utf8)])
    net.closeAllAndCheckPools()
  }
}
