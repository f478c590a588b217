// Method: inbound QoS 1/2 flows, PINGREQ, DISCONNECT and the two timers (keep alive, connect
// timeout) through FakeNetwork. Time is the fake clock: `advance(to:)` moves it in 100 ms steps
// and ticks the core at every step, as the event loop does when its timer fires, so deadline
// checks are exact to the core's scan granularity (Broker.scanIntervalMs = 100 ms).
import MQTTWire
import Testing

@testable import BrokerCore

@Suite("Inbound QoS 1 and 2")
struct QoSTests {
  @Test("QoS 1 PUBLISH: delivered and acknowledged with PUBACK of the same id [MQTT-4.3.2-2] [MQTT-2.3.1-6]")
  func qos1() throws {
    let net = FakeNetwork()
    let sub = try net.client("sub")
    let pub = try net.client("pub")
    net.send(sub, P.subscribe(1, "q"))
    _ = net.take(sub)
    net.send(pub, P.publish("q", "one", qos: 1, id: 0x0102))
    // 0x40 PUBACK, remaining 2, packet id 0x0102.
    #expect(net.take(pub).map(\.bytes) == [[0x40, 0x02, 0x01, 0x02]])
    #expect(net.take(sub).map(\.payloadText) == ["one"])
    // A resent QoS 1 message may be delivered again (at least once), and is acknowledged again.
    net.send(pub, P.publish("q", "one", qos: 1, dup: true, id: 0x0102))
    #expect(net.take(pub).map(\.bytes) == [P.ack(0x40, 0x0102)])
    #expect(net.take(sub).map(\.payloadText) == ["one"])
    // Also without subscribers.
    net.send(pub, P.publish("nobody", "x", qos: 1, id: 7))
    #expect(net.take(pub).map(\.bytes) == [P.ack(0x40, 7)])
    net.closeAllAndCheckPools()
  }

  @Test("QoS 2 PUBLISH: PUBREC, a resend before PUBREL is not delivered again, PUBREL gets PUBCOMP [MQTT-4.3.3-2]")
  func qos2() throws {
    let net = FakeNetwork()
    let sub = try net.client("sub")
    let pub = try net.client("pub")
    net.send(sub, P.subscribe(1, "q2"))
    _ = net.take(sub)

    net.send(pub, P.publish("q2", "exactly", qos: 2, id: 42))
    // 0x50 PUBREC, remaining 2, packet id 42.
    #expect(net.take(pub).map(\.bytes) == [[0x50, 0x02, 0x00, 42]])
    #expect(net.take(sub).map(\.payloadText) == ["exactly"])

    // The publisher did not see PUBREC and resends with DUP=1: PUBREC again, no second delivery.
    net.send(pub, P.publish("q2", "exactly", qos: 2, dup: true, id: 42))
    #expect(net.take(pub).map(\.bytes) == [P.ack(0x50, 42)])
    #expect(net.take(sub).isEmpty, "a QoS 2 message must not be delivered twice")

    // PUBREL: 0x62 flags 0010 → 0x70 PUBCOMP with the same id.
    net.send(pub, P.pubrel(42))
    #expect(net.take(pub).map(\.bytes) == [[0x70, 0x02, 0x00, 42]])

    // After PUBREL the id is free: the same id is a new message.
    net.send(pub, P.publish("q2", "again", qos: 2, id: 42))
    #expect(net.take(pub).map(\.bytes) == [P.ack(0x50, 42)])
    #expect(net.take(sub).map(\.payloadText) == ["again"])
    net.send(pub, P.pubrel(42))
    #expect(net.take(pub).map(\.bytes) == [P.ack(0x70, 42)])
    net.closeAllAndCheckPools()
  }

  @Test("QoS 2 ids are per connection, and several can be in flight at once")
  func qos2Windows() throws {
    let net = FakeNetwork()
    let sub = try net.client("sub")
    let a = try net.client("a")
    let b = try net.client("b")
    net.send(sub, P.subscribe(1, "w"))
    _ = net.take(sub)
    for id: UInt16 in 1...5 { net.send(a, P.publish("w", "a\(id)", qos: 2, id: id)) }
    net.send(b, P.publish("w", "b1", qos: 2, id: 1))  // same id, other connection: delivered
    for id: UInt16 in 1...5 { net.send(a, P.publish("w", "a\(id)", qos: 2, dup: true, id: id)) }
    #expect(net.take(sub).map(\.payloadText) == ["a1", "a2", "a3", "a4", "a5", "b1"])
    #expect(net.take(a).map(\.bytes) == (1...5).map { P.ack(0x50, $0) } + (1...5).map { P.ack(0x50, $0) })
    // PUBREL for an id that was never received still gets PUBCOMP.
    net.send(b, P.pubrel(999))
    #expect(net.take(b).map(\.bytes) == [P.ack(0x50, 1), P.ack(0x70, 999)])
    net.closeAllAndCheckPools()
  }

  @Test("3.1.1: unreleased QoS 2 ids beyond max_inflight_messages spill into the shared table; resends are acknowledged, not delivered again; only a full table closes the publisher, without acknowledging [MQTT-4.3.3-2]")
  func qos2WindowSpill() throws {
    let net = FakeNetwork(limits { $0.qos2SpillMax = 2 })
    let window = net.broker.limits.inflightMax
    let sub = try net.client("sub")
    let pub = try net.client("pub")
    net.send(sub, P.subscribe(1, "w"))
    _ = net.take(sub)
    for id in 1...(window + 2) { net.send(pub, P.publish("w", "m\(id)", qos: 2, id: UInt16(id))) }
    #expect(net.take(sub).count == window + 2)
    #expect(net.broker.qos2Spill.count == 2)
    // Resends of an unreleased one, in the window and spilled, are acknowledged again but not
    // delivered again.
    net.send(pub, P.publish("w", "m1", qos: 2, dup: true, id: 1))
    net.send(pub, P.publish("w", "m\(window + 2)", qos: 2, dup: true, id: UInt16(window + 2)))
    #expect(net.take(sub).isEmpty, "a QoS 2 message must not be delivered twice")
    #expect(
      net.take(pub).map(\.bytes)
        == (1...(window + 2)).map { P.ack(0x50, UInt16($0)) } + [P.ack(0x50, 1), P.ack(0x50, UInt16(window + 2))])
    // PUBREL of a spilled id frees its place: one more fits.
    net.send(pub, P.ack(0x62, UInt16(window + 1)))
    #expect(net.take(pub).map(\.bytes) == [P.ack(0x70, UInt16(window + 1))])
    net.send(pub, P.publish("w", "again", qos: 2, id: UInt16(window + 3)))
    #expect(net.take(sub).count == 1)
    #expect(net.take(pub).map(\.bytes) == [P.ack(0x50, UInt16(window + 3))])
    // The table is full now: one more new id is neither acknowledged nor delivered, closed.
    net.send(pub, P.publish("w", "over", qos: 2, id: UInt16(window + 4)))
    #expect(net.take(sub).isEmpty)
    #expect(net.take(pub).isEmpty)
    #expect(net.closed(pub) == .inflightExceeded)
    #expect(net.stats.qos2SpillFull == 1)
    net.closeAllAndCheckPools()
  }

  @Test("MQTT 5: one unreleased QoS 2 PUBLISH more than the Receive Maximum is refused with DISCONNECT 0x93, never spilled [MQTT-3.3.4-9]")
  func qos2ReceiveMaximumV5() throws {
    let net = FakeNetwork()
    let window = net.broker.limits.inflightMax
    let p = try net.join("p", v5: true)
    for id in 1...window { net.send(p, C.publish("t", "m", v5: true, qos: 2, id: UInt16(id))) }
    #expect(net.out(p, v5: true).count == window)
    net.send(p, C.publish("t", "over", v5: true, qos: 2, id: UInt16(window + 1)))
    let last = net.out(p, v5: true)
    #expect(last.map(\.type) == [14])
    #expect(last.first?.reason == 0x93)
    #expect(net.broker.qos2Spill.count == 0)
    net.finish()
  }

  @Test("MQTT 5 with receive_maximum_exceeded spill: ids beyond the Receive Maximum spill as a 3.1.1 client's, delivered once each")
  func qos2ReceiveMaximumSpill() throws {
    let net = FakeNetwork(limits { $0.spillsBeyondReceiveMaximum = true })
    let window = net.broker.limits.inflightMax
    let sub = try net.join("sub", v5: true)
    net.sub(sub, "t", qos: 2, v5: true)
    let p = try net.join("p", v5: true)
    let count = window + 10
    for id in 1...count { net.send(p, C.publish("t", "m\(id)", v5: true, qos: 2, id: UInt16(id))) }
    #expect(net.out(p, v5: true).map(\.type) == Array(repeating: 5, count: count), "PUBREC for each, no DISCONNECT")
    #expect(net.broker.qos2Spill.count == 10)
    // A resent PUBLISH of a spilled id is acknowledged, not delivered again.
    net.send(p, C.publish("t", "again", v5: true, qos: 2, dup: true, id: UInt16(count)))
    #expect(net.out(p, v5: true).map(\.type) == [5])
    for id in 1...count { net.send(p, C.pubrel(UInt16(id))) }
    #expect(net.out(p, v5: true).map(\.type) == Array(repeating: 7, count: count))
    #expect(net.broker.qos2Spill.count == 0)
    #expect(net.publishes(sub, v5: true).map(\.text) == (1...count).map { "m\($0)" })
    #expect(net.closed(p) == nil)
    net.finish()
  }

  @Test("QoS 2 state ends with the connection: a reconnect may reuse the id")
  func qos2ForgottenOnClose() throws {
    let net = FakeNetwork()
    let sub = try net.client("sub")
    net.send(sub, P.subscribe(1, "z"))
    _ = net.take(sub)
    let pub = try net.client("pub")
    net.send(pub, P.publish("z", "first", qos: 2, id: 5))
    net.hangUp(pub)
    let pub2 = try net.client("pub")
    net.send(pub2, P.publish("z", "second", qos: 2, id: 5))
    #expect(net.take(sub).map(\.payloadText) == ["first", "second"])
    net.closeAllAndCheckPools()
  }

  @Test("stray PUBACK/PUBREC/PUBCOMP from a client are ignored (no QoS > 0 delivery yet)")
  func strayAcks() throws {
    let net = FakeNetwork()
    let c = try net.client("c")
    net.send(c, P.ack(0x40, 1) + P.ack(0x50, 2) + P.ack(0x70, 3) + P.pingreq)
    #expect(net.take(c).map(\.bytes) == [P.pingresp])
    #expect(net.closed(c) == nil)
    net.closeAllAndCheckPools()
  }
}

@Suite("PINGREQ and DISCONNECT")
struct PingDisconnectTests {
  @Test("PINGREQ is answered with PINGRESP 0xD0 0x00 [MQTT-3.12.4-1]")
  func ping() throws {
    let net = FakeNetwork()
    let c = try net.client("p")
    net.send(c, P.pingreq)
    #expect(net.take(c).map(\.bytes) == [[0xD0, 0x00]])
    net.send(c, P.pingreq + P.pingreq)
    #expect(net.take(c).map(\.bytes) == [P.pingresp, P.pingresp])
    net.closeAllAndCheckPools()
  }

  @Test("PINGREQ with a body or flags is malformed [MQTT-2.2.2-2]")
  func pingMalformed() throws {
    let net = FakeNetwork()
    let a = try net.client("a")
    net.send(a, [0xC0, 0x01, 0x00])  // remaining length 1: trailing byte
    #expect(net.closed(a) == .malformed)
    let b = try net.client("b")
    net.send(b, [0xC1, 0x00])  // reserved flags set
    #expect(net.closed(b) == .malformed)
    net.closeAllAndCheckPools()
  }

  @Test("DISCONNECT closes the connection with reason clientDisconnect (§3.14.4)")
  func disconnect() throws {
    let net = FakeNetwork()
    let c = try net.client("d")
    net.send(c, P.subscribe(1, "d/#"))
    _ = net.take(c)
    net.send(c, P.disconnect + P.pingreq)  // nothing after DISCONNECT is processed
    #expect(net.take(c).isEmpty)
    #expect(net.closed(c) == .clientDisconnect)
    #expect(net.stats.closes(.clientDisconnect) == 1)
    #expect(net.stats.clientsConnected == 0)
    #expect(net.stats.subscriptionsActive == 0)
    net.closeAllAndCheckPools()
  }

  @Test("a peer EOF closes with peerClosed; later events for that id are ignored")
  func peerEOF() throws {
    let net = FakeNetwork()
    let c = try net.client("e")
    net.hangUp(c)
    #expect(net.closed(c) == .peerClosed)
    net.hangUp(c, reason: .ioError)  // stale: no second close
    #expect(net.stats.closes(.peerClosed) == 1)
    #expect(net.stats.closes(.ioError) == 0)
    net.closeAllAndCheckPools()
  }

  @Test("shutdown closes every connection with reason shutdown")
  func shutdown() throws {
    let net = FakeNetwork()
    let a = try net.client("a")
    let b = try #require(net.connect())
    net.broker.shutdown()
    net.pump()
    #expect(net.closed(a) == .shutdown)
    #expect(net.closed(b) == .shutdown)
    #expect(net.broker.nextTimerMs == nil)
    net.closeAllAndCheckPools()
  }
}

@Suite("Timers")
struct TimerTests {
  @Test("keep alive 10 s: open at 14.9 s without packets, closed once 15 s have passed [MQTT-3.1.2-24]")
  func keepAliveTimeout() throws {
    let net = FakeNetwork()
    let c = try net.client("ka", keepAlive: 10)
    let other = try net.client("other", keepAlive: 0)
    net.advance(to: 14_900)
    #expect(net.closed(c) == nil)
    net.advance(to: 15_000 + Broker.scanIntervalMs)
    #expect(net.closed(c) == .keepAliveTimeout)
    #expect(net.stats.closes(.keepAliveTimeout) == 1)
    #expect(net.take(c).isEmpty, "no packet is sent on a keep alive close")
    // Keep alive 0 means no timeout at all.
    net.advance(to: 3_600_000, step: 1000)
    #expect(net.closed(other) == nil)
    net.closeAllAndCheckPools()
  }

  @Test("a PINGREQ (or any packet) at 10 s moves the deadline to 25 s [MQTT-3.1.2-24]")
  func pingMovesDeadline() throws {
    let net = FakeNetwork()
    let c = try net.client("ka", keepAlive: 10)
    let d = try net.client("kb", keepAlive: 10)
    net.advance(to: 10_000)
    net.send(c, P.pingreq)
    #expect(net.take(c).map(\.bytes) == [P.pingresp])
    net.send(d, P.subscribe(1, "x"))  // any control packet counts
    net.advance(to: 15_000 + Broker.scanIntervalMs)
    #expect(net.closed(c) == nil)
    #expect(net.closed(d) == nil)
    net.advance(to: 24_900)
    #expect(net.closed(c) == nil)
    #expect(net.closed(d) == nil)
    net.advance(to: 25_000 + Broker.scanIntervalMs)
    #expect(net.closed(c) == .keepAliveTimeout)
    #expect(net.closed(d) == .keepAliveTimeout)
    net.closeAllAndCheckPools()
  }

  @Test("half a packet does not count as a control packet for keep alive")
  func partialPacketDoesNotCount() throws {
    let net = FakeNetwork()
    let c = try net.client("ka", keepAlive: 2)
    net.advance(to: 2_000)
    net.send(c, [0xC0])  // first byte of PINGREQ only
    net.advance(to: 3_000 + Broker.scanIntervalMs)
    #expect(net.closed(c) == .keepAliveTimeout)
    net.closeAllAndCheckPools()
  }

  @Test("keep alive 65535 s fits the core's arithmetic (98 302.5 s deadline)")
  func keepAliveMaximum() throws {
    let net = FakeNetwork()
    let c = try net.client("long", keepAlive: 65535)
    net.advance(to: 98_302_000, step: 100_000)
    #expect(net.closed(c) == nil)
    net.advance(to: 98_302_600)
    #expect(net.closed(c) == .keepAliveTimeout)
    net.closeAllAndCheckPools()
  }

  @Test("connect timeout closes a silent connection after connect_timeout seconds")
  func connectTimeout() throws {
    let limits = smallLimits()
    let net = FakeNetwork(limits)
    let deadline = UInt64(limits.connectTimeoutSeconds) * 1000
    let silent = try #require(net.connect())
    let partial = try #require(net.connect())
    net.send(partial, Array(P.connect(clientID: "slow").prefix(5)))  // CONNECT never completes
    let connected = try #require(net.connect())
    net.send(connected, P.connect(clientID: "in time"))
    #expect(net.broker.nextTimerMs != nil)
    net.advance(to: deadline - 100)
    #expect(net.closed(silent) == nil)
    #expect(net.closed(partial) == nil)
    net.advance(to: deadline + Broker.scanIntervalMs)
    #expect(net.closed(silent) == .connectTimeout)
    #expect(net.closed(partial) == .connectTimeout)
    #expect(net.take(silent).isEmpty)
    #expect(net.closed(connected) == nil, "keep alive 0 after CONNECT: no deadline")
    #expect(net.stats.closes(.connectTimeout) == 2)
    net.closeAllAndCheckPools()
    #expect(net.broker.nextTimerMs == nil, "no timer without connections")
  }

  @Test("CONNECT with keep alive replaces the connect deadline")
  func connectThenKeepAlive() throws {
    let net = FakeNetwork()
    net.advance(to: 9_000)
    let c = try net.client("c", keepAlive: 20)  // connect deadline was 19 s, keep alive 39 s
    net.advance(to: 38_900)
    #expect(net.closed(c) == nil)
    net.advance(to: 39_100)
    #expect(net.closed(c) == .keepAliveTimeout)
    net.closeAllAndCheckPools()
  }
}
