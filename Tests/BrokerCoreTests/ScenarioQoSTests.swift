// Method: QoS 1/2 scenarios in both directions (§4.3, §4.4, §4.6) and the queue limits
// (max_inflight_messages, Receive Maximum, max_queued_messages) through FakeNetwork, for MQTT
// 3.1.1 and 5.0. Subscribers ack by hand, so the test sees exactly which PUBLISHes are
// unacknowledged at every step. Each scenario ends with `finish()`.
import MQTTWire
import Testing

@testable import BrokerCore

@Suite("Scenario: QoS")
struct ScenarioQoSTests {
  @Test("delivery QoS is min(publish QoS, subscription QoS) [MQTT-3.8.4-8] [MQTT-3.3.5-1]", arguments: [false, true])
  func minimumQoS(v5: Bool) throws {
    let net = FakeNetwork()
    var subs: [ConnectionID] = []
    for q: UInt8 in 0...2 {
      let c = try net.join("s\(q)", v5: v5)
      net.sub(c, "t", qos: q, v5: v5)
      subs.append(c)
    }
    let pub = try net.join("p", v5: v5)
    for q: UInt8 in 0...2 { net.send(pub, C.publish("t", "p\(q)", v5: v5, qos: q, id: q == 0 ? 0 : UInt16(q))) }
    net.send(pub, C.pubrel(2))
    for (sq, c) in subs.enumerated() {
      let got = net.publishes(c, v5: v5)
      #expect(got.map(\.text) == ["p0", "p1", "p2"])
      #expect(got.map(\.qos) == (0...2).map { min(UInt8(sq), $0) }, "subscription QoS \(sq)")
      #expect(got.allSatisfy { ($0.qos == 0) == ($0.packetID == 0) })
    }
    net.finish()
  }

  @Test("QoS 1 out: in flight until PUBACK, resent with DUP 1 and the same id after a reconnect [MQTT-4.3.2-1] [MQTT-4.4.0-1] [MQTT-3.3.1-1]",
    arguments: [false, true])
  func qos1Redelivery(v5: Bool) throws {
    let net = FakeNetwork()
    let s = try net.join("s", v5: v5, clean: false, properties: keep(v5))
    net.sub(s, "t", qos: 1, v5: v5)
    let pub = try net.join("p", v5: v5)
    net.send(pub, C.publish("t", "a", v5: v5, qos: 1, id: 1))
    net.send(pub, C.publish("t", "b", v5: v5, qos: 1, id: 2))
    let first = net.publishes(s, v5: v5)
    #expect(first.map(\.text) == ["a", "b"])
    #expect(first.allSatisfy { $0.qos == 1 && !$0.dup && $0.packetID != 0 })
    #expect(Set(first.map(\.packetID)).count == 2, "distinct packet ids [MQTT-2.3.1-2]")
    net.send(s, C.puback(first[0].packetID))  // "a" done, "b" not
    net.hangUp(s)
    let (s2, got) = try net.resume("s", v5: v5, properties: keep(v5))
    let again = got.filter { $0.type == 3 }
    #expect(again.map(\.text) == ["b"])
    #expect(again.first?.dup == true)
    #expect(again.first?.packetID == first[1].packetID)
    net.send(s2, C.puback(first[1].packetID))
    net.hangUp(s2)
    let (_, got3) = try net.resume("s", v5: v5, properties: keep(v5))
    #expect(got3.filter { $0.type == 3 }.isEmpty, "acknowledged: not sent again")
    net.finish()
  }

  @Test("QoS 2 out: PUBREC → PUBREL → PUBCOMP; after PUBREC and a reconnect PUBREL is resent, not PUBLISH [MQTT-4.3.3-3] [MQTT-4.3.3-4] [MQTT-4.4.0-1]",
    arguments: [false, true])
  func qos2Outbound(v5: Bool) throws {
    let net = FakeNetwork()
    let s = try net.join("s", v5: v5, clean: false, properties: keep(v5))
    net.sub(s, "t", qos: 2, v5: v5)
    let pub = try net.join("p", v5: v5)
    net.send(pub, C.publish("t", "x", v5: v5, qos: 2, id: 7))
    let m = try #require(net.publishes(s, v5: v5).first)
    #expect(m.qos == 2)
    // Not acknowledged: after a reconnect the PUBLISH comes again with DUP.
    net.hangUp(s)
    var (s2, got) = try net.resume("s", v5: v5, properties: keep(v5))
    #expect(got.filter { $0.type == 3 }.map { [$0.dup ? 1 : 0, Int($0.packetID)] } == [[1, Int(m.packetID)]])
    net.send(s2, C.pubrec(m.packetID))
    #expect(net.out(s2, v5: v5).map(\.bytes) == [[0x62, 0x02, UInt8(m.packetID >> 8), UInt8(m.packetID & 0xFF)]])
    // PUBREC received: after a reconnect only PUBREL is resent.
    net.hangUp(s2)
    (s2, got) = try net.resume("s", v5: v5, properties: keep(v5))
    #expect(got.dropFirst().map(\.bytes) == [[0x62, 0x02, UInt8(m.packetID >> 8), UInt8(m.packetID & 0xFF)]])
    net.send(s2, C.pubcomp(m.packetID))
    net.hangUp(s2)
    (s2, got) = try net.resume("s", v5: v5, properties: keep(v5))
    #expect(got.count == 1, "flow complete: nothing resent \(got)")
    net.finish()
  }

  @Test("QoS 2 in: a resent PUBLISH before PUBREL is not delivered again, also after the publisher reconnects to its persistent session [MQTT-4.3.3-2] [MQTT-4.4.0-1]",
    arguments: [false, true])
  func qos2InboundAcrossReconnect(v5: Bool) throws {
    let net = FakeNetwork()
    let s = try net.join("s", v5: v5)
    net.sub(s, "t", qos: 0, v5: v5)
    let p = try net.join("p", v5: v5, clean: false, properties: keep(v5))
    net.send(p, C.publish("t", "once", v5: v5, qos: 2, id: 5))
    #expect(net.out(p, v5: v5).map(\.bytes) == [P.ack(0x50, 5)])
    net.send(p, C.publish("t", "once", v5: v5, qos: 2, dup: true, id: 5))
    #expect(net.out(p, v5: v5).map(\.bytes) == [P.ack(0x50, 5)])
    net.hangUp(p)
    let (p2, _) = try net.resume("p", v5: v5, properties: keep(v5))
    net.send(p2, C.publish("t", "once", v5: v5, qos: 2, dup: true, id: 5))
    #expect(net.out(p2, v5: v5).map(\.bytes) == [P.ack(0x50, 5)])
    #expect(net.publishes(s, v5: v5).map(\.text) == ["once"], "exactly once")
    net.send(p2, C.pubrel(5))
    #expect(net.out(p2, v5: v5).map(\.bytes) == [P.ack(0x70, 5)])
    // Released: the id now starts a new message.
    net.send(p2, C.publish("t", "next", v5: v5, qos: 2, id: 5))
    #expect(net.publishes(s, v5: v5).map(\.text) == ["next"])
    net.finish()
  }

  @Test("in-flight window = max_inflight_messages: never more unacknowledged PUBLISHes; the rest queued in order and sent as acks arrive [MQTT-4.9.0-2]",
    arguments: [false, true])
  func inflightWindow(v5: Bool) throws {
    let net = FakeNetwork(limits { $0.inflightOutgoingMax = 3 })
    let s = try net.join("s", v5: v5)
    net.sub(s, "t", qos: 1, v5: v5)
    let pub = try net.join("p", v5: v5)
    for i in 1...7 { net.send(pub, C.publish("t", "m\(i)", v5: v5, qos: 1, id: UInt16(i))) }
    #expect(net.out(pub, v5: v5).count == 7, "the publisher is acknowledged: the messages are queued")
    var got = net.publishes(s, v5: v5)
    #expect(got.map(\.text) == ["m1", "m2", "m3"])
    var seen = got.map(\.text)
    var rounds = 0
    while !got.isEmpty && rounds < 10 {
      rounds += 1
      net.send(s, C.puback(got[0].packetID))
      let more = net.publishes(s, v5: v5)
      #expect(more.count <= 1, "one ack frees one slot")
      seen += more.map(\.text)
      got = Array(got.dropFirst()) + more
    }
    #expect(seen == (1...7).map { "m\($0)" })
    net.finish()
  }

  @Test("MQTT 5: the client's Receive Maximum below max_inflight_messages limits the window [MQTT-3.3.4-7] [MQTT-3.3.4-8]")
  func receiveMaximum() throws {
    let net = FakeNetwork(limits { $0.inflightOutgoingMax = 5 })
    let s = try net.join("s", v5: true, properties: Prop.receiveMaximum(2))
    net.sub(s, "t", qos: 2, v5: true)
    let pub = try net.join("p", v5: true)
    for i in 1...4 { net.send(pub, C.publish("t", "m\(i)", v5: true, qos: 1, id: UInt16(i))) }
    let got = net.publishes(s, v5: true)
    #expect(got.map(\.text) == ["m1", "m2"])
    // A QoS 2 flow occupies its slot until PUBCOMP, not PUBREC... here QoS 1: PUBACK frees.
    net.send(s, C.puback(got[1].packetID))
    #expect(net.publishes(s, v5: true).map(\.text) == ["m3"])
    net.send(s, C.puback(got[0].packetID))
    #expect(net.publishes(s, v5: true).map(\.text) == ["m4"])
    net.finish()
  }

  @Test("QoS 2 out occupies its in-flight slot until PUBCOMP [MQTT-4.9.0-2]")
  func qos2WindowUntilPubcomp() throws {
    let net = FakeNetwork(limits { $0.inflightOutgoingMax = 1 })
    let s = try net.join("s", v5: false)
    net.sub(s, "t", qos: 2, v5: false)
    let pub = try net.join("p", v5: false)
    // (The publisher releases each one: its inbound window is max_inflight_messages too.)
    net.send(pub, C.publish("t", "a", v5: false, qos: 2, id: 1) + C.pubrel(1))
    net.send(pub, C.publish("t", "b", v5: false, qos: 2, id: 2) + C.pubrel(2))
    let a = try #require(net.publishes(s, v5: false).first)
    #expect(a.text == "a")
    net.send(s, C.pubrec(a.packetID))
    #expect(net.out(s, v5: false).map(\.type) == [6], "PUBREL only; b waits")
    net.send(s, C.pubcomp(a.packetID))
    #expect(net.publishes(s, v5: false).map(\.text) == ["b"])
    net.finish()
  }

  @Test("3.1.1 overlapping subscriptions: one delivery at the highest QoS [MQTT-3.3.4-2]")
  func overlapping() throws {
    let net = FakeNetwork()
    let s = try net.join("s", v5: false)
    net.sub(s, "a/+", qos: 0, v5: false)
    net.sub(s, "a/#", qos: 2, v5: false)
    net.sub(s, "#", qos: 1, v5: false)
    let pub = try net.join("p", v5: false)
    net.send(pub, C.publish("a/b", "x", v5: false, qos: 2, id: 1))
    let got = net.publishes(s, v5: false)
    #expect(got.count == 1)
    #expect(got.first?.qos == 2)
    net.finish()
  }

  @Test("order per topic is kept across QoS 0/1/2 when the window is full [MQTT-4.6.0-5] [MQTT-4.6.0-6]", arguments: [false, true])
  func orderPreserved(v5: Bool) throws {
    let net = FakeNetwork(limits { $0.inflightOutgoingMax = 2 })
    let s = try net.join("s", v5: v5)
    net.sub(s, "t", qos: 2, v5: v5)
    let pub = try net.join("p", v5: v5)
    let qos: [UInt8] = [1, 2, 0, 1, 0, 2, 1, 0]
    for (i, q) in qos.enumerated() {
      net.send(pub, C.publish("t", "m\(i)", v5: v5, qos: q, id: UInt16(i + 1)))
      if q == 2 { net.send(pub, C.pubrel(UInt16(i + 1))) }
    }
    var seen: [String] = []
    var rounds = 0
    var pendingAcks: [Out] = []
    repeat {
      rounds += 1
      let got = net.publishes(s, v5: v5)
      seen += got.map(\.text)
      pendingAcks += got.filter { $0.qos > 0 }
      guard let next = pendingAcks.first else { break }
      pendingAcks.removeFirst()
      if next.qos == 1 {
        net.send(s, C.puback(next.packetID))
      } else {
        net.send(s, C.pubrec(next.packetID))
        _ = net.out(s, v5: v5).filter { $0.type == 3 }.map { seen.append($0.text); pendingAcks.append($0) }
        net.send(s, C.pubcomp(next.packetID))
      }
    } while rounds < 50
    #expect(seen == (0..<qos.count).map { "m\($0)" })
    net.finish()
  }

  @Test("a subscriber that stops reading: QoS 1 messages wait in its session queue and all arrive, in order, once it reads again [MQTT-4.6.0-6]")
  func stalledSubscriberNoLoss() throws {
    let net = FakeNetwork()
    let s = try net.join("s", v5: false)
    net.sub(s, "t", qos: 1, v5: false)
    net.peer(s).stalled = true
    let pub = try net.join("p", v5: false)
    let body = [UInt8](repeating: 0x62, count: 150)
    for i in 1...60 { net.send(pub, C.publish("t", body + Array("\(i)".utf8), v5: false, qos: 1, id: UInt16(i))) }
    #expect(net.out(pub, v5: false).count == 60, "all accepted")
    net.unstall(s)
    var texts: [String] = []
    var rounds = 0
    while rounds < 100 {
      rounds += 1
      let got = net.publishes(s, v5: false)
      if got.isEmpty { break }
      texts += got.map { String(decoding: $0.payload.dropFirst(150), as: UTF8.self) }
      for m in got { net.send(s, C.puback(m.packetID)) }
    }
    #expect(texts == (1...60).map { "\($0)" })
    net.finish()
  }

  // MARK: queue limits

  @Test("reject_publish, MQTT 5: a QoS 1 publisher gets PUBACK 0x97 once an offline subscriber's queue (max_queued_messages) is full; the message goes to nobody")
  func queueFullQuota() throws {
    let net = FakeNetwork(limits {
      $0.queuedMessagesMax = 2
      $0.queueFullAction = .rejectPublish
    })
    try net.parkOffline("off", "t", qos: 1)
    let on = try net.join("on", v5: false)
    net.sub(on, "t", qos: 1, v5: false)
    let pub = try net.join("p", v5: true)
    for i in 1...3 { net.send(pub, C.publish("t", "m\(i)", v5: true, qos: 1, id: UInt16(i))) }
    let acks = net.out(pub, v5: true)
    #expect(acks.map(\.packetID) == [1, 2, 3])
    #expect(acks.map(\.reason) == [0, 0, 0x97])
    #expect(net.publishes(on, v5: false).map(\.text) == ["m1", "m2"], "not delivered to anyone")
    #expect(net.stats.messagesRejectedQuota == 1)
    let (_, got) = try net.resume("off", v5: false)
    #expect(got.filter { $0.type == 3 }.map(\.text) == ["m1", "m2"])
    net.finish()
  }

  @Test("pause_publisher, 3.1.1: a QoS 1 publisher is paused (no PUBACK, later packets not read) while a subscriber's queue is full, then everything proceeds with no loss")
  func queueFullPause() throws {
    let net = FakeNetwork(limits {
      $0.queuedMessagesMax = 2
      $0.inflightOutgoingMax = 2
      $0.queueFullAction = .pausePublisher
    })
    try net.parkOffline("off", "t", qos: 1)
    let pub = try net.join("p", v5: false)
    for i in 1...4 { net.send(pub, C.publish("t", "m\(i)", v5: false, qos: 1, id: UInt16(i))) }
    net.send(pub, P.pingreq)
    #expect(net.out(pub, v5: false).map(\.bytes) == [P.ack(0x40, 1), P.ack(0x40, 2)])
    net.advance(by: 1_000)
    #expect(net.take(pub).isEmpty, "still paused: no PUBACK 3, no PINGRESP")
    #expect(net.closed(pub) == nil)
    // The subscriber returns: its two queued messages move into flight, the queue has room;
    // the core's timer retries the paused PUBLISH.
    let (off2, got) = try net.resume("off", v5: false)
    let first = got.filter { $0.type == 3 }
    #expect(first.map(\.text) == ["m1", "m2"])
    net.advance(by: 200)
    #expect(net.out(pub, v5: false).map(\.bytes) == [P.ack(0x40, 3), P.ack(0x40, 4), P.pingresp])
    for m in first { net.send(off2, C.puback(m.packetID)) }
    #expect(net.publishes(off2, v5: false).map(\.text) == ["m3", "m4"], "no loss, in order")
    #expect(net.stats.publisherPauses >= 1)
    net.finish()
  }

  @Test("QoS 0 to a full queue is dropped and counted (stats.messagesDropped); the publisher is not paused")
  func queueFullQoS0() throws {
    let net = FakeNetwork(limits {
      $0.queuedMessagesMax = 1
      $0.queueQoS0 = true
    })
    try net.parkOffline("off", "t", qos: 1)
    let pub = try net.join("p", v5: false)
    net.send(pub, C.publish("t", "q0a", v5: false))
    net.send(pub, C.publish("t", "q0b", v5: false))
    net.send(pub, P.pingreq)
    #expect(net.out(pub, v5: false).map(\.bytes) == [P.pingresp])
    #expect(net.stats.messagesDropped == 1)
    let (_, got) = try net.resume("off", v5: false)
    #expect(got.filter { $0.type == 3 }.map(\.text) == ["q0a"])
    net.finish()
  }

  @Test("drop_newest (default): a full offline queue costs only that session its newest messages; the publisher is acknowledged at once and the live subscriber gets everything", arguments: [false, true])
  func queueFullDropNewest(v5: Bool) throws {
    let net = FakeNetwork(limits { $0.queuedMessagesMax = 3 })
    try net.parkOffline("phone", "home/#", qos: 1)
    let live = try net.join("live", v5: false)
    net.sub(live, "home/#", qos: 1, v5: false)
    let sensor = try net.join("sensor", v5: v5)
    for i in 1...8 { net.send(sensor, C.publish("home/temp", "m\(i)", v5: v5, qos: 1, id: UInt16(i))) }
    let acks = net.out(sensor, v5: v5)
    #expect(acks.map(\.packetID) == Array(1...8).map(UInt16.init), "every message acknowledged, none held back")
    #expect(acks.allSatisfy { ($0.reason ?? 0) == 0 })
    #expect(net.publishes(live, v5: false).map(\.text) == (1...8).map { "m\($0)" })
    #expect(net.stats.droppedQueueFull == 5)
    #expect(net.stats.publisherPauses == 0)
    let (_, got) = try net.resume("phone", v5: false)
    #expect(got.filter { $0.type == 3 }.map(\.text) == ["m1", "m2", "m3"], "the oldest it had room for")
    net.finish()
  }

  @Test("drop_oldest: the full session keeps the newest messages; the others are unaffected")
  func queueFullDropOldest() throws {
    let net = FakeNetwork(limits {
      $0.queuedMessagesMax = 3
      $0.queueFullAction = .dropOldest
    })
    try net.parkOffline("phone", "home/#", qos: 1)
    let sensor = try net.join("sensor", v5: false)
    for i in 1...8 { net.send(sensor, C.publish("home/temp", "m\(i)", v5: false, qos: 1, id: UInt16(i))) }
    #expect(net.out(sensor, v5: false).count == 8)
    #expect(net.stats.droppedQueueFull == 5)
    let (_, got) = try net.resume("phone", v5: false)
    #expect(got.filter { $0.type == 3 }.map(\.text) == ["m6", "m7", "m8"], "the newest")
    net.finish()
  }

  @Test("fair share: offline sessions with long queues cannot take the last quarter of the queue entries; a healthy subscriber still gets every message")
  func fairShareEntries() throws {
    let net = FakeNetwork(limits {
      $0.queuedMessagesMax = 100_000
      $0.inflightMax = 2
    })
    for k in 0..<4 {
      try net.parkOffline("off\(k)", "load/#", qos: 1)
    }
    // Enough messages to exhaust the entries several times over without the rule.
    try expectHealthyServed(net, while: {})
  }

  /// Online subscribers that read but never acknowledge hold their messages in flight. Left
  /// alone, each would fill its outgoing window from the shared entries; the fair-share rule
  /// counts what a session holds in flight too, so the reserve still serves the healthy one.
  @Test
  func fairShareCountsInFlight() throws {
    let net = FakeNetwork(limits {
      $0.inflightMax = 2
      $0.inflightOutgoingMax = 65535
    })
    var stalled: [ConnectionID] = []
    for k in 0..<4 {
      let c = try net.join("mute\(k)", v5: false)
      net.sub(c, "load/#", qos: 1, v5: false)
      stalled.append(c)
    }
    // Each stalled window alone could take every entry; the stalled clients read everything.
    try expectHealthyServed(net, while: { for c in stalled { _ = net.take(c) } })
  }

  /// A healthy QoS 1 subscriber to load/# and a publisher of half the queue entries' count of
  /// messages to load/x (after each, `step`): the publisher is never held back, the healthy
  /// subscriber gets every message, fair share dropped some for the others, the reserve holds.
  private func expectHealthyServed(_ net: FakeNetwork, while step: () -> Void) throws {
    let entries = net.plan.queueEntries
    let healthy = try net.join("healthy", v5: false)
    net.sub(healthy, "load/#", qos: 1, v5: false)
    let pub = try net.join("pub", v5: false)
    var received = 0
    var acked = 0
    var id: UInt16 = 0
    for _ in 0..<(entries / 2) {
      id = id == 65535 ? 1 : id + 1
      net.send(pub, C.publish("load/x", "m", v5: false, qos: 1, id: id))
      acked += net.out(pub, v5: false).count
      for m in net.publishes(healthy, v5: false) {
        received += 1
        net.send(healthy, C.puback(m.packetID))
      }
      step()
    }
    #expect(acked == entries / 2, "the publisher is never held back")
    #expect(received == entries / 2, "the healthy subscriber gets every message")
    #expect(net.stats.droppedFairShare > 0)
    #expect(net.broker.entries.freeCount >= entries / Broker.poolReserveDivisor - 4)
    #expect(net.closed(pub) == nil)
    net.finish()
  }
}
