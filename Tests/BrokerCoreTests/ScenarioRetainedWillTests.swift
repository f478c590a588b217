// Method: retained messages (§3.3.1.3) and wills (§3.1.2.5, §3.1.3.2) through FakeNetwork,
// for MQTT 3.1.1 and 5.0. Rule ids are the MQTT 5 ones unless marked 3.1.1. Will delays and
// expiries run on the fake clock; `finish()` drops what is still retained and checks pools.
import MQTTWire
import Testing

@testable import BrokerCore

@Suite("Scenario: retained messages")
struct ScenarioRetainedTests {
  @Test("a retained message is stored and sent with RETAIN 1 to a new subscription, after the SUBACK [MQTT-3.3.1-5] [MQTT-3.3.1-9] [MQTT-3.8.4-4] (3.1.1: MQTT-3.3.1-6, -8)",
    arguments: [false, true])
  func storedAndDelivered(v5: Bool) throws {
    let net = FakeNetwork()
    let pub = try net.join("p", v5: v5)
    net.send(pub, C.publish("r/a", "kept", v5: v5, qos: 1, retain: true, id: 1))
    _ = net.take(pub)
    let s = try net.join("s", v5: v5)
    net.send(s, C.subscribe(1, [("r/#", 1)], v5: v5))
    let got = net.out(s, v5: v5)
    #expect(got.map(\.type) == [9, 3], "SUBACK first, then the retained message")
    #expect(got.last?.text == "kept")
    #expect(got.last?.retain == true)
    #expect(got.last?.qos == 1)
    net.finish()
  }

  @Test("a retained message replaces the previous one; an empty retained payload clears it and is not stored [MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-7] (3.1.1: MQTT-3.3.1-10, -11)",
    arguments: [false, true])
  func replaceAndClear(v5: Bool) throws {
    let net = FakeNetwork()
    let pub = try net.join("p", v5: v5)
    net.send(pub, C.publish("r", "one", v5: v5, retain: true))
    net.send(pub, C.publish("r", "two", v5: v5, retain: true))
    net.send(pub, C.publish("r", "not retained", v5: v5, retain: false))  // [MQTT-3.3.1-8] leaves it
    var s = try net.join("s1", v5: v5)
    #expect(net.sub(s, "r", qos: 0, v5: v5).map(\.text) == ["two"])
    #expect(net.stats.retainedCount == 1)
    net.send(pub, C.publish("r", "", v5: v5, retain: true))
    #expect(net.publishes(s, v5: v5).map(\.text) == [""], "the empty message itself is delivered live")
    #expect(net.stats.retainedCount == 0)
    s = try net.join("s2", v5: v5)
    #expect(net.sub(s, "r", qos: 0, v5: v5).isEmpty, "cleared")
    net.finish()
  }

  @Test("live messages are forwarded with RETAIN 0 (3.1.1; MQTT 5 without Retain As Published), with the flag kept when RAP is set [MQTT-3.3.1-12] [MQTT-3.3.1-13] (3.1.1: MQTT-3.3.1-9)")
  func liveRetainFlag() throws {
    let net = FakeNetwork()
    let old = try net.join("old", v5: false)
    net.sub(old, "t", qos: 0, v5: false)
    let plain = try net.join("plain", v5: true)
    net.sub(plain, "t", qos: 0, v5: true)
    let rap = try net.join("rap", v5: true)
    net.sub(rap, "t", qos: 0, v5: true, options: C.options(qos: 0, rap: true))
    let pub = try net.join("p", v5: true)
    net.send(pub, C.publish("t", "live", v5: true, retain: true))
    #expect(net.publishes(old, v5: false).map(\.retain) == [false])
    #expect(net.publishes(plain, v5: true).map(\.retain) == [false])
    #expect(net.publishes(rap, v5: true).map(\.retain) == [true])
    net.finish()
  }

  @Test("MQTT 5 Retain Handling: 0 sends at every subscribe, 1 only for a new subscription, 2 never [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11]")
  func retainHandling() throws {
    let net = FakeNetwork()
    let pub = try net.join("p", v5: true)
    net.send(pub, C.publish("r", "kept", v5: true, retain: true))
    let s = try net.join("s", v5: true)
    for (rh, expected) in [(UInt8(0), [1, 1]), (1, [1, 0]), (2, [0, 0])] {
      let filter = "r"
      var counts: [Int] = []
      for _ in 0..<2 {
        net.send(s, C.subscribe(1, [(filter, C.options(qos: 0, rh: rh))], v5: true))
        counts.append(net.out(s, v5: true).filter { $0.type == 3 }.count)
      }
      #expect(counts == expected, "retain handling \(rh)")
      net.send(s, C.unsubscribe(2, [filter], v5: true))
      _ = net.take(s)
    }
    net.finish()
  }

  @Test("retained store full (max_retained_messages): MQTT 5 QoS 1 gets PUBACK 0x97 and nothing is delivered; 3.1.1 is delivered but not retained; replacing an existing topic still works")
  func retainedLimit() throws {
    let net = FakeNetwork(limits { $0.retainedMessagesMax = 1 })
    let s = try net.join("s", v5: false)
    net.sub(s, "r/#", qos: 1, v5: false)
    let p5 = try net.join("p5", v5: true)
    let p3 = try net.join("p3", v5: false)
    net.send(p5, C.publish("r/a", "a", v5: true, qos: 1, retain: true, id: 1))
    net.send(p5, C.publish("r/b", "b5", v5: true, qos: 1, retain: true, id: 2))
    #expect(net.out(p5, v5: true).map(\.reason) == [0, 0x97])
    net.send(p3, C.publish("r/b", "b3", v5: false, qos: 1, retain: true, id: 3))
    #expect(net.out(p3, v5: false).map(\.bytes) == [P.ack(0x40, 3)])
    #expect(net.publishes(s, v5: false).map(\.text) == ["a", "b3"])
    #expect(net.stats.retainedRefused >= 1)
    net.send(p5, C.publish("r/a", "a2", v5: true, qos: 1, retain: true, id: 4))
    #expect(net.out(p5, v5: true).map(\.reason) == [0], "replacing fits")
    _ = net.take(s)
    let late = try net.join("late", v5: false)
    net.send(late, C.subscribe(1, [("r/#", 0)], v5: false))
    #expect(net.publishes(late, v5: false).map(\.text) == ["a2"])
    net.finish()
  }

  @Test("retained store bytes (max_retained_bytes): a message beyond the byte limit is not retained")
  func retainedBytesLimit() throws {
    let net = FakeNetwork(limits { $0.retainedBytesMax = 100 })
    let p5 = try net.join("p5", v5: true)
    net.send(p5, C.publish("big", [UInt8](repeating: 0x41, count: 200), v5: true, qos: 1, retain: true, id: 1))
    #expect(net.out(p5, v5: true).map(\.reason) == [0x97])
    let p3 = try net.join("p3", v5: false)
    net.send(p3, C.publish("big", [UInt8](repeating: 0x41, count: 200), v5: false, qos: 0, retain: true))
    #expect(net.stats.retainedCount == 0)
    net.send(p3, C.publish("small", "s", v5: false, retain: true))
    #expect(net.stats.retainedCount == 1)
    net.finish()
  }

  @Test("an expired retained message is not delivered; before expiry it carries the time left [MQTT-3.3.2-5] [MQTT-3.3.2-6]")
  func retainedExpiry() throws {
    let net = FakeNetwork()
    let pub = try net.join("p", v5: true)
    net.send(pub, C.publish("r", "soon gone", v5: true, retain: true, properties: Prop.messageExpiry(5)))
    net.advance(by: 2_000)
    let a = try net.join("a", v5: true)
    let got = net.sub(a, "r", qos: 0, v5: true)
    #expect(got.map(\.text) == ["soon gone"])
    #expect(got.first?.u32(0x02) == 3)
    net.advance(by: 3_000)
    let b = try net.join("b", v5: true)
    #expect(net.sub(b, "r", qos: 0, v5: true).isEmpty)
    #expect(net.stats.retainedCount == 0)
    net.finish()
  }
}

@Suite("Scenario: wills")
struct ScenarioWillTests {
  func watcher(_ net: FakeNetwork, v5: Bool = false, qos: UInt8 = 2) throws -> ConnectionID {
    let w = try net.join("watch", v5: v5)
    net.sub(w, "will/#", qos: qos, v5: v5)
    return w
  }

  @Test("the will is published when the connection closes without DISCONNECT [MQTT-3.1.2-8]", arguments: [false, true])
  func abnormalClose(v5: Bool) throws {
    let net = FakeNetwork()
    let w = try watcher(net)
    let c = try net.join("c", v5: v5, will: WillSpec("will/c", "gone", qos: 1))
    net.hangUp(c)
    let got = net.publishes(w, v5: false)
    #expect(got.map(\.text) == ["gone"])
    #expect(got.first?.qos == 1, "at the will QoS")
    #expect(net.stats.willsPublished == 1)
    net.finish()
  }

  @Test("the will is published on a keep alive timeout [MQTT-3.1.2-8] [MQTT-3.1.2-24]", arguments: [false, true])
  func keepAliveTimeout(v5: Bool) throws {
    let net = FakeNetwork()
    let w = try watcher(net)
    let c = try net.join("c", v5: v5, keepAlive: 2, will: WillSpec("will/c", "timeout"))
    net.advance(by: 3_000 + Broker.scanIntervalMs)
    #expect(net.closed(c) == .keepAliveTimeout)
    #expect(net.publishes(w, v5: false).map(\.text) == ["timeout"])
    net.finish()
  }

  @Test("no will after a normal DISCONNECT [MQTT-3.1.2-10] [MQTT-3.14.4-3]", arguments: [false, true])
  func noWillAfterDisconnect(v5: Bool) throws {
    let net = FakeNetwork()
    let w = try watcher(net)
    let c = try net.join("c", v5: v5, will: WillSpec("will/c", "x"))
    net.send(c, v5 ? C.disconnect() : P.disconnect)
    #expect(net.publishes(w, v5: false).isEmpty)
    #expect(net.stats.willsPublished == 0)
    net.finish()
  }

  @Test("MQTT 5: DISCONNECT with reason 0x04 publishes the will (§3.14.2.1)")
  func disconnectWithWill() throws {
    let net = FakeNetwork()
    let w = try watcher(net)
    let c = try net.join("c", v5: true, will: WillSpec("will/c", "asked"))
    net.send(c, C.disconnect(reason: 0x04))
    #expect(net.closed(c) == .clientDisconnect)
    #expect(net.publishes(w, v5: false).map(\.text) == ["asked"])
    net.finish()
  }

  @Test("MQTT 5 Will Delay Interval: published once the delay has passed [MQTT-3.1.3-9]")
  func willDelay() throws {
    let net = FakeNetwork()
    let w = try watcher(net)
    let c = try net.join(
      "c", v5: true, clean: false, properties: Prop.sessionExpiry(60),
      will: WillSpec("will/c", "late", properties: Prop.willDelay(5)))
    net.hangUp(c)
    net.advance(by: 4_900)
    #expect(net.publishes(w, v5: false).isEmpty)
    net.advance(by: 100 + Broker.scanIntervalMs)
    #expect(net.publishes(w, v5: false).map(\.text) == ["late"])
    net.finish()
  }

  @Test("MQTT 5 Will Delay Interval: cancelled when the client reconnects (Clean Start 0) within the delay [MQTT-3.1.3-9]")
  func willDelayCancelled() throws {
    let net = FakeNetwork()
    let w = try watcher(net)
    let c = try net.join(
      "c", v5: true, clean: false, properties: Prop.sessionExpiry(60),
      will: WillSpec("will/c", "late", properties: Prop.willDelay(5)))
    net.hangUp(c)
    net.advance(by: 3_000)
    let (back, ack) = try net.open("c", v5: true, clean: false, properties: Prop.sessionExpiry(60))
    #expect(ack?.sessionPresent == true)
    net.advance(by: 10_000)
    #expect(net.publishes(w, v5: false).isEmpty)
    net.send(back, C.disconnect())
    net.advance(by: 10_000)
    #expect(net.publishes(w, v5: false).isEmpty, "the will went with the first connection")
    net.finish()
  }

  @Test("MQTT 5 Will Delay Interval longer than the Session Expiry Interval: published when the session ends [MQTT-3.1.3-9]")
  func willAtSessionEnd() throws {
    let net = FakeNetwork()
    let w = try watcher(net)
    let c = try net.join(
      "c", v5: true, clean: false, properties: Prop.sessionExpiry(3),
      will: WillSpec("will/c", "session over", properties: Prop.willDelay(60)))
    net.hangUp(c)
    net.advance(by: 2_900)
    #expect(net.publishes(w, v5: false).isEmpty)
    net.advance(by: 100 + Broker.scanIntervalMs)
    #expect(net.publishes(w, v5: false).map(\.text) == ["session over"])
    net.finish()
  }

  @Test("MQTT 5 Will Delay with Session Expiry 0: published at once (the session ends with the connection) [MQTT-3.1.3-9]")
  func willDelayNoSession() throws {
    let net = FakeNetwork()
    let w = try watcher(net)
    let c = try net.join("c", v5: true, will: WillSpec("will/c", "now", properties: Prop.willDelay(30)))
    net.hangUp(c)
    #expect(net.publishes(w, v5: false).map(\.text) == ["now"])
    net.finish()
  }

  @Test("a will with Will Retain is retained; delivered at min(will QoS, subscription QoS) [MQTT-3.1.2-17] [MQTT-3.1.2-14]",
    arguments: [false, true])
  func willRetainAndQoS(v5: Bool) throws {
    let net = FakeNetwork()
    let w = try watcher(net, qos: 1)
    let c = try net.join("c", v5: v5, will: WillSpec("will/c", "retained will", qos: 2, retain: true))
    net.hangUp(c)
    let live = net.publishes(w, v5: false)
    #expect(live.map(\.text) == ["retained will"])
    #expect(live.first?.qos == 1)
    #expect(live.first?.retain == false, "live delivery: RETAIN 0")
    let late = try net.join("late", v5: false)
    net.send(late, C.subscribe(1, [("will/#", 2)], v5: false))
    let got = net.publishes(late, v5: false)
    #expect(got.map(\.text) == ["retained will"])
    #expect(got.first?.retain == true)
    #expect(got.first?.qos == 2)
    net.finish()
  }

  @Test("MQTT 5 will properties are forwarded (user property, content type) without the Will Delay Interval; Message Expiry counts from publication [§3.1.3] §3.1.3.2")
  func willProperties() throws {
    let net = FakeNetwork()
    let w = try net.join("watch", v5: true)
    net.sub(w, "will/#", qos: 0, v5: true)
    let props = Prop.pair("why", "test") + Prop.contentType("text/plain") + Prop.messageExpiry(5)
    let c = try net.join(
      "c", v5: true, clean: false, properties: Prop.sessionExpiry(60),
      will: WillSpec("will/c", "bye", retain: true, properties: Prop.willDelay(2) + props))
    net.hangUp(c)
    net.advance(by: 2_000 + Broker.scanIntervalMs)
    let got = try #require(net.publishes(w, v5: true).first)
    #expect(got.prop(0x18) == nil, "Will Delay Interval is not a PUBLISH property")
    #expect(got.prop(0x26) == Array(Prop.pair("why", "test").dropFirst()))
    #expect(got.prop(0x03) == Array(Prop.contentType("text/plain").dropFirst()))
    #expect(got.u32(0x02) == 5, "expiry starts when the will is published")
    // Retained with its expiry: gone 5 s after publication.
    net.advance(by: 5_000)
    let late = try net.join("late", v5: true)
    #expect(net.sub(late, "will/#", qos: 0, v5: true).isEmpty)
    net.finish()
  }

  @Test("3.1.1 take-over publishes the old connection's will (it closed without DISCONNECT) [MQTT-3.1.4-2] [MQTT-3.1.2-8]")
  func takeoverPublishesWill311() throws {
    let net = FakeNetwork()
    let w = try watcher(net)
    _ = try net.join("c", v5: false, will: WillSpec("will/c", "replaced"))
    _ = try net.join("c", v5: false)
    #expect(net.publishes(w, v5: false).map(\.text) == ["replaced"])
    net.finish()
  }

  @Test("MQTT 5: a DISCONNECT that is a protocol error (Session Expiry 0 → 60) publishes the will [MQTT-3.14.2-2] [MQTT-3.1.2-8]")
  func protocolErrorDisconnectPublishesWill() throws {
    let net = FakeNetwork()
    let w = try watcher(net)
    let c = try net.join("c", v5: true, will: WillSpec("will/c", "error"))
    net.send(c, C.disconnect(properties: Prop.sessionExpiry(60)))
    #expect(net.closed(c) == .protocolError)
    #expect(net.publishes(w, v5: false).map(\.text) == ["error"])
    net.finish()
  }

  @Test("MQTT 5: a will with Payload Format Indicator 1 and a payload that is not UTF-8 → CONNACK 0x99 [MQTT-3.1.3-11]")
  func willPayloadFormatInvalid() throws {
    let net = FakeNetwork()
    var will = WillSpec("will/c", "", properties: Prop.payloadFormat(1))
    will.payload = [0xFF, 0xFE]
    let (c, ack) = try net.open("c", v5: true, will: will)
    #expect(ack?.reason == 0x99)
    #expect(net.closed(c) == .connectRefused)
    net.finish()
  }

  @Test("a taken-over connection's will is not published when the session resumes at once (Clean Start 0, will delay) [MQTT-3.1.3-9]")
  func takeoverWithDelayedWill() throws {
    let net = FakeNetwork()
    let w = try watcher(net)
    _ = try net.join(
      "c", v5: true, clean: false, properties: Prop.sessionExpiry(60),
      will: WillSpec("will/c", "x", properties: Prop.willDelay(10)))
    _ = try net.join("c", v5: true, clean: false, properties: Prop.sessionExpiry(60))
    net.advance(by: 20_000)
    #expect(net.publishes(w, v5: false).isEmpty)
    net.finish()
  }
}
