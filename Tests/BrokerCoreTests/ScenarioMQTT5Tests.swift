// Method: MQTT 5.0 features through FakeNetwork (§3.1.2.11, §3.2.2.3, §3.3.2.3, §3.8.3, §4.8,
// §4.12): CONNACK properties, topic aliases, message expiry on the fake clock, the client's
// Maximum Packet Size, payload format, forwarded properties (compared byte for byte), No
// Local, subscription identifiers, shared subscriptions, AUTH, reason codes in UNSUBACK/SUBACK.
import MQTTWire
import Testing

@testable import BrokerCore

@Suite("Scenario: MQTT 5")
struct ScenarioMQTT5Tests {
  // MARK: CONNACK

  @Test("CONNACK properties: Receive Maximum = max_inflight_messages, Maximum Packet Size, Topic Alias Maximum [§3.2.2] §3.2.2.3")
  func connackProperties() throws {
    let net = FakeNetwork(limits { $0.inflightMax = 7 })
    let (_, ack) = try net.open("c", v5: true)
    let connack = try #require(ack)
    #expect(connack.reason == 0)
    #expect(connack.u16(0x21) == 7)
    #expect(connack.u32(0x27) == UInt32(net.limits.packetBytesMax))
    #expect(connack.u16(0x22) == UInt16(net.limits.topicAliasMax))
    #expect(connack.prop(0x13) == nil, "no Server Keep Alive when the client's is accepted")
    #expect(connack.prop(0x12) == nil)
    net.finish()
  }

  @Test("Server Keep Alive when the client asks for more than max_keepalive (or 0), and it is enforced [MQTT-3.2.2-21] [MQTT-3.1.2-24]")
  func serverKeepAlive() throws {
    let net = FakeNetwork(limits { $0.keepAliveMaxSeconds = 60 })
    let (a, ack) = try net.open("a", v5: true, keepAlive: 120)
    #expect(ack?.reason == 0)
    #expect(ack?.u16(0x13) == 60)
    let (_, ack0) = try net.open("b", v5: true, keepAlive: 0)
    #expect(ack0?.u16(0x13) == 60)
    let (_, ack30) = try net.open("c", v5: true, keepAlive: 30)
    #expect(ack30?.prop(0x13) == nil)
    net.advance(to: 89_900, step: 1000)
    #expect(net.closed(a) == nil)
    net.advance(to: 90_000 + Broker.scanIntervalMs)
    #expect(net.closed(a) == .keepAliveTimeout)
    #expect(net.out(a, v5: true).map(\.bytes) == [[0xE0, 0x01, 0x8D]], "DISCONNECT 0x8D Keep Alive timeout")
    net.finish()
  }

  // MARK: topic aliases

  @Test("topic alias: set with a topic, then used with an empty topic; forwarded with the full topic and no alias [MQTT-3.3.2-12] [§3.3.4]")
  func topicAlias() throws {
    let net = FakeNetwork()
    let s = try net.join("s", v5: true)
    net.sub(s, "a/#", qos: 1, v5: true)
    let p = try net.join("p", v5: true)
    net.send(p, C.publish("a/b", "1", v5: true, properties: Prop.topicAlias(3)))
    net.send(p, C.publish("", "2", v5: true, qos: 1, id: 1, properties: Prop.topicAlias(3)))
    net.send(p, C.publish("a/c", "3", v5: true, properties: Prop.topicAlias(3)))  // remapped
    net.send(p, C.publish("", "4", v5: true, properties: Prop.topicAlias(3)))
    let got = net.publishes(s, v5: true)
    #expect(got.map(\.topic) == ["a/b", "a/b", "a/c", "a/c"])
    #expect(got.map(\.text) == ["1", "2", "3", "4"])
    #expect(got.allSatisfy { $0.prop(0x23) == nil }, "the alias is not forwarded")
    #expect(net.out(p, v5: true).map(\.packetID) == [1])
    net.finish()
  }

  @Test("topic alias above Topic Alias Maximum → DISCONNECT 0x94 [MQTT-3.3.2-10]")
  func topicAliasTooLarge() throws {
    let net = FakeNetwork()
    let p = try net.join("p", v5: true)
    net.send(p, C.publish("a", "x", v5: true, properties: Prop.topicAlias(UInt16(net.limits.topicAliasMax + 1))))
    #expect(net.out(p, v5: true).map(\.bytes) == [[0xE0, 0x01, 0x94]])
    #expect(net.closed(p) == .topicAliasInvalid)
    net.finish()
  }

  @Test("topic alias 0 is not permitted → DISCONNECT 0x94 Topic Alias invalid [MQTT-3.3.2-8] §3.3.4")
  func topicAliasZero() throws {
    let net = FakeNetwork()
    let p = try net.join("p", v5: true)
    net.send(p, C.publish("a", "x", v5: true, properties: Prop.topicAlias(0)))
    #expect(net.out(p, v5: true).map(\.bytes) == [[0xE0, 0x01, 0x94]])
    #expect(net.closed(p) == .topicAliasInvalid)
    net.finish()
  }

  @Test("an alias never set, with an empty topic → DISCONNECT 0x82; aliases do not survive a reconnect [MQTT-3.3.2-7]")
  func topicAliasUnknown() throws {
    let net = FakeNetwork()
    let p = try net.join("p", v5: true, clean: false, properties: keep(true))
    net.send(p, C.publish("", "x", v5: true, properties: Prop.topicAlias(2)))
    #expect(net.out(p, v5: true).map(\.bytes) == [[0xE0, 0x01, 0x82]])
    #expect(net.closed(p) == .protocolError)
    let q = try net.join("q", v5: true, clean: false, properties: keep(true))
    net.send(q, C.publish("t", "set", v5: true, properties: Prop.topicAlias(2)))
    net.hangUp(q)
    let q2 = try net.join("q", v5: true, clean: false, properties: keep(true))
    net.send(q2, C.publish("", "use", v5: true, properties: Prop.topicAlias(2)))
    #expect(net.out(q2, v5: true).map(\.bytes) == [[0xE0, 0x01, 0x82]])
    net.finish()
  }

  @Test("server-to-client topic aliases: the name once, then an empty topic with the alias; round robin at the client's maximum [MQTT-3.3.2-8] §3.3.2.3.4")
  func outboundAliases() throws {
    let net = FakeNetwork()
    let s = try net.join("s", v5: true, properties: Prop.topicAliasMaximum(2))
    net.sub(s, "a/#", qos: 1, v5: true)
    let plain = try net.join("plain", v5: true)  // no Topic Alias Maximum: no aliases
    net.sub(plain, "a/#", qos: 0, v5: true)
    let p = try net.join("p", v5: true)
    for (i, topic) in ["a/1", "a/1", "a/2", "a/2", "a/3", "a/1", "a/3"].enumerated() {
      net.send(p, C.publish(topic, "\(i)", v5: true, qos: 1, id: UInt16(i + 1)))
    }
    let got = net.publishes(s, v5: true)
    // a/1 takes alias 1, a/2 alias 2; a/3 re-binds alias 1 (the oldest), then a/1 alias 2.
    #expect(got.map(\.topic) == ["a/1", "", "a/2", "", "a/3", "a/1", ""])
    #expect(got.map { $0.u16(0x23) } == [1, 1, 2, 2, 1, 2, 1])
    #expect(got.map(\.text) == ["0", "1", "2", "3", "4", "5", "6"])
    let plainGot = net.publishes(plain, v5: true)
    #expect(plainGot.map(\.topic) == ["a/1", "a/1", "a/2", "a/2", "a/3", "a/1", "a/3"])
    #expect(plainGot.allSatisfy { $0.prop(0x23) == nil })
    net.finish()
  }

  @Test("server-to-client topic aliases end with the connection, not the session [MQTT-3.3.2-7]; max_topic_alias_broker bounds them, 0 turns them off")
  func outboundAliasesPerConnection() throws {
    var limits = smallLimits()
    limits.topicAliasBrokerMax = 1
    let net = FakeNetwork(limits)
    let s = try net.join("s", v5: true, clean: false, properties: keep(true) + Prop.topicAliasMaximum(5))
    net.sub(s, "t/#", qos: 0, v5: true)
    let p = try net.join("p", v5: true)
    net.send(p, C.publish("t/x", "1", v5: true))
    net.send(p, C.publish("t/y", "2", v5: true))  // one alias only: re-binds alias 1
    net.send(p, C.publish("t/y", "3", v5: true))
    #expect(net.publishes(s, v5: true).map(\.topic) == ["t/x", "t/y", ""])
    net.hangUp(s)
    let s2 = try net.join("s", v5: true, clean: false, properties: keep(true) + Prop.topicAliasMaximum(5))
    net.send(p, C.publish("t/y", "4", v5: true))
    let again = net.publishes(s2, v5: true)
    #expect(again.map(\.topic) == ["t/y"], "a new connection starts without aliases")
    #expect(again.map { $0.u16(0x23) } == [1])
    net.finish()

    var off = smallLimits()
    off.topicAliasBrokerMax = 0
    let net0 = FakeNetwork(off)
    let s0 = try net0.join("s", v5: true, properties: Prop.topicAliasMaximum(5))
    net0.sub(s0, "t", qos: 0, v5: true)
    let p0 = try net0.join("p", v5: true)
    net0.send(p0, C.publish("t", "1", v5: true))
    net0.send(p0, C.publish("t", "2", v5: true))
    #expect(net0.publishes(s0, v5: true).allSatisfy { $0.topic == "t" && $0.prop(0x23) == nil })
    net0.finish()
  }

  // MARK: message expiry

  @Test("Message Expiry Interval: an expired queued message is not delivered [MQTT-3.3.2-5]")
  func expiredNotDelivered() throws {
    let net = FakeNetwork()
    let s = try net.join("s", v5: true, clean: false, properties: keep(true))
    net.sub(s, "t", qos: 1, v5: true)
    net.hangUp(s)
    let p = try net.join("p", v5: true)
    net.send(p, C.publish("t", "short", v5: true, qos: 1, id: 1, properties: Prop.messageExpiry(2)))
    net.send(p, C.publish("t", "long", v5: true, qos: 1, id: 2, properties: Prop.messageExpiry(100)))
    net.advance(by: 3_000)
    let (_, got) = try net.resume("s", v5: true, properties: keep(true))
    let msgs = got.filter { $0.type == 3 }
    #expect(msgs.map(\.text) == ["long"])
    #expect(msgs.first?.u32(0x02) == 97, "the remaining interval is forwarded [MQTT-3.3.2-6]")
    #expect(net.stats.messagesExpired == 1)
    net.finish()
  }

  @Test("Message Expiry Interval is forwarded as given on live delivery; 3.1.1 subscribers get no properties [MQTT-3.3.2-6]")
  func expiryForwardedLive() throws {
    let net = FakeNetwork()
    let s5 = try net.join("s5", v5: true)
    net.sub(s5, "t", qos: 0, v5: true)
    let s3 = try net.join("s3", v5: false)
    net.sub(s3, "t", qos: 0, v5: false)
    let p = try net.join("p", v5: true)
    net.send(p, C.publish("t", "x", v5: true, properties: Prop.messageExpiry(30)))
    let got = net.publishes(s5, v5: true)
    #expect(got.first?.u32(0x02) == 30)
    #expect(net.publishes(s3, v5: false).map(\.bytes) == [P.publish("t", "x")])
    net.finish()
  }

  // MARK: Maximum Packet Size of the client

  @Test("a QoS 0 message larger than the client's Maximum Packet Size is not sent to it [MQTT-3.1.2-25]")
  func clientMaximumPacketSizeQoS0() throws {
    let net = FakeNetwork()
    let s = try net.join("s", v5: true, properties: Prop.maximumPacketSize(40))
    net.sub(s, "t", qos: 0, v5: true)
    let p = try net.join("p", v5: false)
    net.send(p, C.publish("t", [UInt8](repeating: 0x61, count: 100), v5: false))
    net.send(p, C.publish("t", "small", v5: false))
    #expect(net.publishes(s, v5: true).map(\.text) == ["small"])
    #expect(net.stats.messagesTooLargeForClient == 1)
    net.finish()
  }

  @Test("a QoS 1 message larger than the client's Maximum Packet Size is discarded for it, the next one is sent [MQTT-3.1.2-25]")
  func clientMaximumPacketSizeQoS1() throws {
    let net = FakeNetwork()
    let s = try net.join("s", v5: true, properties: Prop.maximumPacketSize(40))
    net.sub(s, "t", qos: 1, v5: true)
    let p = try net.join("p", v5: false)
    net.send(p, C.publish("t", [UInt8](repeating: 0x61, count: 100), v5: false, qos: 1, id: 1))
    net.send(p, C.publish("t", "small", v5: false, qos: 1, id: 2))
    #expect(net.publishes(s, v5: true).map(\.text) == ["small"])
    net.finish()
  }

  @Test("a retained message larger than the client's Maximum Packet Size is not sent at subscribe [MQTT-3.1.2-25]")
  func clientMaximumPacketSizeRetained() throws {
    let net = FakeNetwork()
    let p = try net.join("p", v5: false)
    net.send(p, C.publish("t", [UInt8](repeating: 0x61, count: 100), v5: false, retain: true))
    let s = try net.join("s", v5: true, properties: Prop.maximumPacketSize(40))
    #expect(net.sub(s, "t", qos: 0, v5: true).isEmpty)
    net.finish()
  }

  // MARK: payload format

  @Test("Payload Format Indicator 1 with invalid UTF-8: QoS 1 → PUBACK 0x99, QoS 0 → DISCONNECT 0x99; nothing delivered [§3.3.2] §3.3.2.3.2")
  func payloadFormatInvalid() throws {
    let net = FakeNetwork()
    let s = try net.join("s", v5: true)
    net.sub(s, "t", qos: 1, v5: true)
    let p = try net.join("p", v5: true)
    let bad: [UInt8] = [0xC3, 0x28]
    net.send(p, C.publish("t", bad, v5: true, qos: 1, id: 1, properties: Prop.payloadFormat(1)))
    #expect(net.out(p, v5: true).map(\.bytes) == [[0x40, 0x03, 0x00, 0x01, 0x99]])
    net.send(p, C.publish("t", "ok é", v5: true, qos: 1, id: 2, properties: Prop.payloadFormat(1)))
    #expect(net.out(p, v5: true).map(\.reason) == [0])
    net.send(p, C.publish("t", bad, v5: true, properties: Prop.payloadFormat(1)))
    #expect(net.out(p, v5: true).map(\.bytes) == [[0xE0, 0x01, 0x99]])
    #expect(net.closed(p) == .payloadFormatInvalid)
    let got = net.publishes(s, v5: true)
    #expect(got.map(\.text) == ["ok é"])
    #expect(got.first?.prop(0x01) == [1], "the indicator is forwarded")
    net.finish()
  }

  // MARK: forwarded properties

  @Test("user properties, content type, response topic and correlation data are forwarded unchanged, in order [MQTT-3.3.2-15..20] [MQTT-3.3.2-17] [MQTT-3.3.2-18]")
  func forwardedProperties() throws {
    let net = FakeNetwork()
    let s = try net.join("s", v5: true)
    net.sub(s, "t", qos: 1, v5: true)
    let p = try net.join("p", v5: true)
    let props =
      Prop.payloadFormat(1) + Prop.pair("k", "v1") + Prop.contentType("text/plain") + Prop.responseTopic("reply/1")
      + Prop.correlation([0, 1, 2, 0xFF]) + Prop.pair("k", "v2") + Prop.pair("other", "")
    net.send(p, C.publish("t", "body", v5: true, qos: 1, id: 1, properties: props))
    let got = try #require(net.publishes(s, v5: true).first)
    #expect(got.rawProperties == props)
    #expect(got.text == "body")
    net.finish()
  }

  // MARK: subscriptions

  @Test("No Local: a client's own messages are not sent back on that subscription [MQTT-3.8.3-3]")
  func noLocal() throws {
    let net = FakeNetwork()
    let a = try net.join("a", v5: true)
    net.sub(a, "t", qos: 0, v5: true, options: C.options(qos: 0, noLocal: true))
    let b = try net.join("b", v5: true)
    net.sub(b, "t", qos: 0, v5: true)
    net.send(a, C.publish("t", "from a", v5: true))
    net.send(b, C.publish("t", "from b", v5: true))
    #expect(net.publishes(a, v5: true).map(\.text) == ["from b"])
    #expect(net.publishes(b, v5: true).map(\.text) == ["from a", "from b"])
    net.finish()
  }

  @Test("subscription identifiers: each matching subscription's id, all of them on one delivery for overlapping subscriptions [MQTT-3.3.4-3] [MQTT-3.3.4-4]")
  func subscriptionIdentifiers() throws {
    let net = FakeNetwork()
    let s = try net.join("s", v5: true)
    net.sub(s, "a/+", qos: 0, v5: true, properties: Prop.subscriptionID(5))
    net.sub(s, "a/#", qos: 1, v5: true, properties: Prop.subscriptionID(700))
    net.sub(s, "a/b/c", qos: 0, v5: true)  // no identifier
    let p = try net.join("p", v5: true)
    net.send(p, C.publish("a/x", "both", v5: true, qos: 1, id: 1))
    net.send(p, C.publish("a/b/c", "hash and plain", v5: true, qos: 1, id: 2))
    let got = net.publishes(s, v5: true)
    #expect(got.map(\.text) == ["both", "hash and plain"])
    #expect(got.first.map { Set($0.subscriptionIDs) } == [5, 700])
    #expect(got.first?.qos == 1, "one delivery at the highest QoS")
    #expect(got.last?.subscriptionIDs == [700])
    net.finish()
  }

  @Test("a retained message sent at subscribe carries that subscription's identifier [MQTT-3.3.4-3]")
  func subscriptionIdentifierRetained() throws {
    let net = FakeNetwork()
    let p = try net.join("p", v5: true)
    net.send(p, C.publish("r", "kept", v5: true, retain: true))
    let s = try net.join("s", v5: true)
    let got = net.sub(s, "r", qos: 0, v5: true, properties: Prop.subscriptionID(42))
    #expect(got.map(\.subscriptionIDs) == [[42]])
    net.finish()
  }

  @Test("a subscription replaced without an identifier no longer carries the old one (§3.8.2.1.2)")
  func subscriptionIdentifierReplaced() throws {
    let net = FakeNetwork()
    let s = try net.join("s", v5: true)
    net.sub(s, "t", qos: 0, v5: true, properties: Prop.subscriptionID(9))
    net.sub(s, "t", qos: 0, v5: true)
    let p = try net.join("p", v5: true)
    net.send(p, C.publish("t", "x", v5: true))
    #expect(net.publishes(s, v5: true).first?.subscriptionIDs == [])
    net.finish()
  }

  @Test("shared subscriptions: each message goes to exactly one member, in turn; a non-shared subscriber gets all [§4.8.2] §4.8.2")
  func sharedRoundRobin() throws {
    let net = FakeNetwork()
    let m1 = try net.join("m1", v5: true)
    let m2 = try net.join("m2", v5: true)
    net.sub(m1, "$share/g/t/#", qos: 1, v5: true)
    net.sub(m2, "$share/g/t/#", qos: 1, v5: true)
    let n = try net.join("n", v5: true)
    net.sub(n, "t/#", qos: 0, v5: true)
    let p = try net.join("p", v5: true)
    for i in 1...6 { net.send(p, C.publish("t/x", "m\(i)", v5: true, qos: 1, id: UInt16(i))) }
    let a = net.publishes(m1, v5: true).map(\.text)
    let b = net.publishes(m2, v5: true).map(\.text)
    #expect(a.count == 3 && b.count == 3, "round robin: \(a) \(b)")
    #expect(Set(a).isDisjoint(with: b))
    #expect(Set(a + b) == Set((1...6).map { "m\($0)" }))
    #expect(net.publishes(n, v5: true).count == 6)
    net.finish()
  }

  @Test("shared subscriptions: two groups on one filter each get every message once; an offline member is passed over (§4.8.2)")
  func sharedGroups() throws {
    let net = FakeNetwork()
    let g1 = try net.join("g1", v5: true)
    net.sub(g1, "$share/one/t", qos: 1, v5: true)
    let g2 = try net.join("g2", v5: true)
    net.sub(g2, "$share/two/t", qos: 1, v5: true)
    let away = try net.join("away", v5: true, clean: false, properties: keep(true))
    net.sub(away, "$share/two/t", qos: 1, v5: true)
    net.hangUp(away)
    let p = try net.join("p", v5: true)
    for i in 1...4 { net.send(p, C.publish("t", "m\(i)", v5: true, qos: 1, id: UInt16(i))) }
    #expect(net.publishes(g1, v5: true).map(\.text) == ["m1", "m2", "m3", "m4"])
    #expect(net.publishes(g2, v5: true).map(\.text) == ["m1", "m2", "m3", "m4"], "the connected member of group two")
    let (_, back) = try net.resume("away", v5: true, properties: keep(true))
    #expect(back.filter { $0.type == 3 }.isEmpty)
    net.finish()
  }

  @Test("a client with a shared and a non-shared subscription gets its own copy plus, when chosen, the group's (§4.8.2)")
  func sharedAndOwn() throws {
    let net = FakeNetwork()
    let m = try net.join("m", v5: true)
    net.sub(m, "$share/g/t", qos: 0, v5: true)
    net.sub(m, "t", qos: 0, v5: true)
    let p = try net.join("p", v5: true)
    net.send(p, C.publish("t", "x", v5: true))
    #expect(net.publishes(m, v5: true).count == 2, "one copy by the non-shared subscription, one as the only group member")
    net.finish()
  }

  @Test("shared subscription: a retained message is not sent at subscribe [§3.8.4] §4.8.2")
  func sharedNoRetained() throws {
    let net = FakeNetwork()
    let p = try net.join("p", v5: true)
    net.send(p, C.publish("t", "kept", v5: true, retain: true))
    let m = try net.join("m", v5: true)
    #expect(net.sub(m, "$share/g/t", qos: 0, v5: true).isEmpty)
    net.finish()
  }

  // MARK: AUTH, UNSUBACK, SUBACK

  @Test("an Authentication Method in CONNECT is refused with CONNACK 0x8C (no enhanced authentication) [MQTT-4.12.0-1]")
  func authMethodRefused() throws {
    let net = FakeNetwork()
    let (c, ack) = try net.open("a", v5: true, properties: Prop.authMethod("SCRAM-SHA-1"))
    #expect(ack?.reason == 0x8C)
    #expect(net.closed(c) == .connectRefused)
    net.finish()
  }

  @Test("an AUTH packet without an agreed method → DISCONNECT 0x82 [MQTT-4.12.0-1]")
  func authPacket() throws {
    let net = FakeNetwork()
    let c = try net.join("a", v5: true)
    net.send(c, C.auth(properties: Prop.authMethod("X")))
    #expect(net.out(c, v5: true).map(\.bytes) == [[0xE0, 0x01, 0x82]])
    #expect(net.closed(c) == .protocolError)
    net.finish()
  }

  @Test("UNSUBACK reason codes: 0x00 for a removed subscription, 0x11 for a filter not subscribed (§3.11.3)")
  func unsuback() throws {
    let net = FakeNetwork()
    let c = try net.join("a", v5: true)
    net.sub(c, "x", qos: 0, v5: true)
    net.send(c, C.unsubscribe(4, ["x", "y", "x"], v5: true))
    let got = net.out(c, v5: true)
    #expect(got.map(\.type) == [11])
    #expect(got.first?.packetID == 4)
    #expect(got.first?.codes == [0x00, 0x11, 0x11])
    net.finish()
  }

  @Test("subscription table full: SUBACK 0x97 (MQTT 5) / 0x80 (3.1.1) for the filters that do not fit [§3.9.3]")
  func subackFull() throws {
    let net = FakeNetwork(limits { $0.subscriptionsMax = 2 })
    let c = try net.join("a", v5: true)
    net.send(c, C.subscribe(1, [("a", 1), ("b", 2), ("c", 0)], v5: true))
    #expect(net.out(c, v5: true).first?.codes == [1, 2, 0x97])
    net.send(c, C.subscribe(2, [("a", 0)], v5: true))
    #expect(net.out(c, v5: true).first?.codes == [0], "replacing an existing one needs no new entry")
    let d = try net.join("d", v5: false)
    net.send(d, C.subscribe(1, [("z", 1)], v5: false))
    #expect(net.out(d, v5: false).first?.codes == [0x80])
    net.finish()
  }

  // MARK: acknowledgements with reason codes

  @Test("a PUBREC with a failure reason ends the QoS 2 flow (no PUBREL) and frees the slot (§4.3.3)")
  func pubrecFailure() throws {
    let net = FakeNetwork(limits { $0.inflightOutgoingMax = 1 })
    let s = try net.join("s", v5: true)
    net.sub(s, "t", qos: 2, v5: true)
    let p = try net.join("p", v5: true)
    net.send(p, C.publish("t", "a", v5: true, qos: 2, id: 1) + C.pubrel(1))
    net.send(p, C.publish("t", "b", v5: true, qos: 2, id: 2) + C.pubrel(2))
    let a = try #require(net.publishes(s, v5: true).first)
    #expect(a.qos == 2)
    net.send(s, C.ack(0x50, a.packetID, reason: 0x80))
    let next = net.out(s, v5: true)
    #expect(next.map(\.type) == [3], "no PUBREL, the next message instead")
    #expect(next.first?.text == "b")
    net.finish()
  }

  @Test("PUBREL for an unknown packet id → PUBCOMP 0x92 (MQTT 5) (§3.7.2.1)")
  func pubrelUnknown() throws {
    let net = FakeNetwork()
    let c = try net.join("c", v5: true)
    net.send(c, C.pubrel(77))
    #expect(net.out(c, v5: true).map(\.bytes) == [[0x70, 0x03, 0x00, 77, 0x92]])
    net.finish()
  }

  @Test("retain_available false: CONNACK says Retain Available 0, a retained PUBLISH → DISCONNECT 0x9A [§3.3.1] §3.2.2.3.5")
  func retainNotAvailable() throws {
    let net = FakeNetwork(limits { $0.retainAvailable = false })
    let (c, ack) = try net.open("c", v5: true)
    #expect(ack?.prop(0x25) == [0])
    net.send(c, C.publish("t", "x", v5: true, retain: true))
    #expect(net.out(c, v5: true).map(\.bytes) == [[0xE0, 0x01, 0x9A]])
    net.finish()
  }

  @Test("reject_publish: a QoS 2 publisher rejected for a full queue gets PUBREC 0x97 and no state is kept (PUBREL → PUBCOMP 0x92)")
  func qos2QuotaExceeded() throws {
    let net = FakeNetwork(limits {
      $0.queuedMessagesMax = 1
      $0.queueFullAction = .rejectPublish
    })
    let off = try net.join("off", v5: true, clean: false, properties: keep(true))
    net.sub(off, "t", qos: 2, v5: true)
    net.hangUp(off)
    let p = try net.join("p", v5: true)
    net.send(p, C.publish("t", "1", v5: true, qos: 2, id: 1) + C.pubrel(1))
    net.send(p, C.publish("t", "2", v5: true, qos: 2, id: 2))
    let got = net.out(p, v5: true)
    #expect(got.map(\.type) == [5, 7, 5])
    #expect(got.last?.reason == 0x97)
    net.send(p, C.pubrel(2))
    #expect(net.out(p, v5: true).map(\.bytes) == [[0x70, 0x03, 0x00, 0x02, 0x92]])
    net.finish()
  }
}
