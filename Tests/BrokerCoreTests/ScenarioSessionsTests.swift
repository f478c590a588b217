// Method: session life-cycle scenarios (§4.1, §3.1.2.4, §3.1.2.11.2, §3.2.2.1.1) through
// FakeNetwork, for MQTT 3.1.1 and 5.0. A session is made persistent with Clean Session 0
// (3.1.1) or Clean Start 0 plus a Session Expiry Interval (5.0); time only moves with
// `advance`. Each scenario ends with `finish()`, which also checks sessions and the store.
import MQTTWire
import Testing

@testable import BrokerCore

/// Properties that make a v5 session outlive its connection (one hour); none for 3.1.1.
func keep(_ v5: Bool, _ seconds: UInt32 = 3600) -> [UInt8] { v5 ? Prop.sessionExpiry(seconds) : [] }

@Suite("Scenario: sessions")
struct ScenarioSessionsTests {
  @Test("clean session / clean start discards the old session: no subscriptions, session present 0 [MQTT-3.1.2-6] [MQTT-3.2.2-1]",
    arguments: [false, true])
  func cleanDiscards(v5: Bool) throws {
    let net = FakeNetwork()
    let a = try net.join("a", v5: v5, clean: false, properties: keep(v5))
    net.sub(a, "t", qos: 1, v5: v5)
    net.hangUp(a)
    let (a2, ack) = try net.open("a", v5: v5, clean: true, properties: keep(v5))
    #expect(ack?.reason == 0)
    #expect(ack?.sessionPresent == false)
    let pub = try net.join("p", v5: v5)
    net.send(pub, C.publish("t", "x", v5: v5))
    #expect(net.publishes(a2, v5: v5).isEmpty, "the old subscription went with the old session")
    net.finish()
  }

  @Test("a persistent session keeps subscriptions and queued QoS 1/2 messages across a reconnect; QoS 0 is not queued [MQTT-3.1.2-4] [MQTT-3.1.2-5] [MQTT-3.2.2-2]",
    arguments: [false, true])
  func persistentKeeps(v5: Bool) throws {
    let net = FakeNetwork()
    let (a, first) = try net.open("a", v5: v5, clean: false, properties: keep(v5))
    #expect(first?.sessionPresent == false, "no session existed [MQTT-3.2.2-3]")
    net.sub(a, "t", qos: 2, v5: v5)
    net.send(a, v5 ? C.disconnect() : P.disconnect)
    let pub = try net.join("p", v5: v5)
    net.send(pub, C.publish("t", "q1", v5: v5, qos: 1, id: 1))
    net.send(pub, C.publish("t", "q0", v5: v5, qos: 0))
    net.send(pub, C.publish("t", "q2", v5: v5, qos: 2, id: 2))
    net.send(pub, C.pubrel(2))
    _ = net.take(pub)
    let (a2, got) = try net.resume("a", v5: v5, properties: keep(v5))
    #expect(got.first?.type == 2 && got.first?.sessionPresent == true)
    let msgs = got.filter { $0.type == 3 }
    #expect(msgs.map(\.text) == ["q1", "q2"])
    #expect(msgs.map(\.qos) == [1, 2])
    #expect(msgs.allSatisfy { !$0.dup }, "first transmission: DUP 0")
    // The subscription survived too: a live message arrives.
    net.send(pub, C.publish("t", "live", v5: v5, qos: 0))
    #expect(net.publishes(a2, v5: v5).map(\.text) == ["live"])
    net.finish()
  }

  @Test("session present is 1 only when a session was resumed [MQTT-3.2.2-2] [MQTT-3.2.2-3]", arguments: [false, true])
  func sessionPresentFlag(v5: Bool) throws {
    let net = FakeNetwork()
    let (a, ack1) = try net.open("sp", v5: v5, clean: false, properties: keep(v5))
    #expect(ack1?.sessionPresent == false)
    net.hangUp(a)
    let (b, ack2) = try net.open("sp", v5: v5, clean: false, properties: keep(v5))
    #expect(ack2?.sessionPresent == true)
    net.hangUp(b)
    let (_, ack3) = try net.open("sp", v5: v5, clean: true)
    #expect(ack3?.sessionPresent == false)
    net.finish()
  }

  @Test("a second connection with the same client id takes over: the old one is closed (MQTT 5: DISCONNECT 0x8E) [MQTT-3.1.4-2]",
    arguments: [false, true])
  func takeover(v5: Bool) throws {
    let net = FakeNetwork()
    let old = try net.join("dup", v5: v5, clean: false, properties: keep(v5))
    net.sub(old, "t", qos: 1, v5: v5)
    let (new, ack) = try net.open("dup", v5: v5, clean: false, properties: keep(v5))
    #expect(ack?.reason == 0)
    #expect(ack?.sessionPresent == true, "the session goes to the new connection")
    #expect(net.closed(old) == .takenOver)
    let oldOut = net.out(old, v5: v5)
    if v5 {
      #expect(oldOut.map(\.bytes) == [[0xE0, 0x01, 0x8E]], "DISCONNECT 0x8E Session taken over")
    } else {
      #expect(oldOut.isEmpty)
    }
    let pub = try net.join("p", v5: v5)
    net.send(pub, C.publish("t", "m", v5: v5, qos: 1, id: 9))
    #expect(net.publishes(new, v5: v5).map(\.text) == ["m"])
    net.finish()
  }

  @Test("take-over of a connection whose session has Session Expiry 0: that session ends with it, Clean Start 0 finds none [MQTT-3.1.2-6] §3.1.2.11.2")
  func takeoverOfAnExpiryZeroSession() throws {
    let net = FakeNetwork()
    let old = try net.join("dup0", v5: true, clean: false)
    net.sub(old, "t", qos: 1, v5: true)
    let (new, ack) = try net.open("dup0", v5: true, clean: false)
    #expect(ack?.sessionPresent == false)
    #expect(net.closed(old) == .takenOver)
    let pub = try net.join("p", v5: true)
    net.send(pub, C.publish("t", "gone", v5: true, qos: 1, id: 3))
    #expect(net.publishes(new, v5: true).isEmpty, "the subscription ended with the old session")
    net.finish()
  }

  @Test("3.1.1: an empty client id with clean session 0 is refused with CONNACK 2; with clean session 1 it is accepted [MQTT-3.1.3-8] [MQTT-3.1.3-6]")
  func emptyClientID311() throws {
    let net = FakeNetwork()
    let (a, ack) = try net.open("", v5: false, clean: false)
    #expect(ack?.bytes == P.connack(2))
    #expect(net.closed(a) == .connectRefused)
    let (b, ack2) = try net.open("", v5: false, clean: true)
    #expect(ack2?.bytes == P.connack(0))
    #expect(net.closed(b) == nil)
    net.finish()
  }

  @Test("MQTT 5: an empty client id gets an Assigned Client Identifier that names the session [MQTT-3.2.2-16]")
  func assignedClientID() throws {
    let net = FakeNetwork()
    let (a, ack) = try net.open("", v5: true, clean: false, properties: keep(true))
    let connack = try #require(ack)
    #expect(connack.reason == 0)
    let raw = try #require(connack.prop(0x12), "Assigned Client Identifier")
    let assigned = String(decoding: raw.dropFirst(2), as: UTF8.self)
    #expect(!assigned.isEmpty)
    let (_, other) = try net.open("", v5: true)
    #expect(other?.prop(0x12) != nil && other?.prop(0x12) != raw, "each assigned id is unique")
    net.sub(a, "t", qos: 1, v5: true)
    net.hangUp(a)
    let (_, again) = try net.open(assigned, v5: true, clean: false, properties: keep(true))
    #expect(again?.sessionPresent == true)
    #expect(again?.prop(0x12) == nil, "only assigned when the client sent none")
    net.finish()
  }

  @Test("MQTT 5: Session Expiry Interval absent or 0 ends the session at disconnect [MQTT-3.1.2-23]")
  func expiryZero() throws {
    let net = FakeNetwork()
    let a = try net.join("z", v5: true, clean: false)
    net.sub(a, "t", qos: 1, v5: true)
    net.hangUp(a)
    #expect(net.stats.sessionsOffline == 0)
    let (_, ack) = try net.open("z", v5: true, clean: false)
    #expect(ack?.sessionPresent == false)
    net.finish()
  }

  @Test("MQTT 5: Session Expiry Interval 10 s keeps the session 10 s after disconnect, then it is gone [MQTT-3.1.2-23]")
  func expiryInterval() throws {
    let net = FakeNetwork()
    let a = try net.join("e", v5: true, clean: false, properties: Prop.sessionExpiry(10))
    net.sub(a, "t", qos: 1, v5: true)
    net.hangUp(a)
    let pub = try net.join("p", v5: true)
    net.send(pub, C.publish("t", "kept", v5: true, qos: 1, id: 1))
    net.advance(by: 9_800)
    #expect(net.stats.sessionsOffline == 1)
    net.advance(by: 200 + Broker.scanIntervalMs)
    #expect(net.stats.sessionsOffline == 0)
    #expect(net.stats.sessionsExpired == 1)
    #expect(net.broker.store.count == 0, "its queued message was released")
    let (_, ack) = try net.open("e", v5: true, clean: false, properties: Prop.sessionExpiry(10))
    #expect(ack?.sessionPresent == false)
    net.finish()
  }

  @Test("MQTT 5: reconnecting within the Session Expiry Interval resumes the session [MQTT-3.1.2-23]")
  func expiryResumedInTime() throws {
    let net = FakeNetwork()
    let a = try net.join("e", v5: true, clean: false, properties: Prop.sessionExpiry(10))
    net.sub(a, "t", qos: 1, v5: true)
    net.hangUp(a)
    net.advance(by: 9_000)
    let (a2, ack) = try net.open("e", v5: true, clean: false, properties: Prop.sessionExpiry(10))
    #expect(ack?.sessionPresent == true)
    net.advance(by: 20_000)  // connected: no expiry
    let pub = try net.join("p", v5: true)
    net.send(pub, C.publish("t", "x", v5: true))
    #expect(net.publishes(a2, v5: true).map(\.text) == ["x"])
    net.finish()
  }

  @Test("MQTT 5: DISCONNECT setting a non-zero Session Expiry Interval when CONNECT had 0 is a protocol error [MQTT-3.14.2-2]")
  func disconnectExpiryFromZero() throws {
    let net = FakeNetwork()
    let a = try net.join("d", v5: true, clean: false)
    net.sub(a, "t", qos: 1, v5: true)
    net.send(a, C.disconnect(properties: Prop.sessionExpiry(60)))
    #expect(net.out(a, v5: true).map(\.bytes) == [[0xE0, 0x01, 0x82]])
    #expect(net.closed(a) == .protocolError)
    #expect(net.stats.sessionsOffline == 0, "the session still ends with expiry 0")
    net.finish()
  }

  @Test("MQTT 5: DISCONNECT may change a non-zero Session Expiry Interval (to 0: the session ends) [MQTT-3.14.2-2]")
  func disconnectExpiryChange() throws {
    let net = FakeNetwork()
    let a = try net.join("d", v5: true, clean: false, properties: Prop.sessionExpiry(60))
    net.send(a, C.disconnect(properties: Prop.sessionExpiry(0)))
    #expect(net.closed(a) == .clientDisconnect)
    #expect(net.stats.sessionsOffline == 0)
    let b = try net.join("d2", v5: true, clean: false, properties: Prop.sessionExpiry(60))
    net.send(b, C.disconnect(properties: Prop.sessionExpiry(2)))
    #expect(net.stats.sessionsOffline == 1)
    net.advance(by: 2_000 + Broker.scanIntervalMs)
    #expect(net.stats.sessionsOffline == 0)
    net.finish()
  }

  @Test("3.1.1: persistent_client_expiration ends a disconnected persistent session after that many seconds")
  func persistentClientExpiration() throws {
    let net = FakeNetwork(limits { $0.persistentExpirySeconds = 60 })
    let a = try net.join("old", v5: false, clean: false)
    net.sub(a, "t", qos: 1, v5: false)
    net.hangUp(a)
    net.advance(by: 59_000, step: 1000)
    #expect(net.stats.sessionsOffline == 1)
    net.advance(by: 1_000 + Broker.scanIntervalMs)
    #expect(net.stats.sessionsOffline == 0)
    let (_, ack) = try net.open("old", v5: false, clean: false)
    #expect(ack?.sessionPresent == false)
    net.finish()
  }

  @Test("3.1.1: without persistent_client_expiration a persistent session is kept (an hour later still present)")
  func persistentForever() throws {
    let net = FakeNetwork()
    let a = try net.join("old", v5: false, clean: false)
    net.hangUp(a)
    net.advance(by: 3_600_000, step: 10_000)
    let (_, ack) = try net.open("old", v5: false, clean: false)
    #expect(ack?.sessionPresent == true)
    net.finish()
  }

  @Test("max_sessions full: a new client id is refused with CONNACK 3 (3.1.1) / 0x89 (5.0); a known one resumes",
    arguments: [false, true])
  func sessionsFull(v5: Bool) throws {
    let net = FakeNetwork(limits { $0.sessionsMax = 8 })
    for i in 0..<8 {
      let c = try net.join("s\(i)", v5: v5, clean: false, properties: keep(v5))
      net.hangUp(c)
    }
    #expect(net.stats.sessionsOffline == 8)
    let (x, ack) = try net.open("new", v5: v5)
    if v5 {
      #expect(ack?.reason == 0x89)
    } else {
      #expect(ack?.bytes == P.connack(3))
    }
    #expect(net.closed(x) == .connectRefused)
    let (_, back) = try net.open("s3", v5: v5, clean: false, properties: keep(v5))
    #expect(back?.reason == 0)
    #expect(back?.sessionPresent == true)
    net.finish()
  }

  @Test("a clean-session client reusing the id of a full table's session replaces it (no refusal)")
  func sessionsFullCleanReuse() throws {
    let net = FakeNetwork(limits { $0.sessionsMax = 8 })
    for i in 0..<8 {
      let c = try net.join("s\(i)", v5: false, clean: false)
      net.hangUp(c)
    }
    let (_, ack) = try net.open("s0", v5: false, clean: true)
    #expect(ack?.bytes == P.connack(0))
    net.finish()
  }
}
