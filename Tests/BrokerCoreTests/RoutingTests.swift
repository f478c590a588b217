// Method: SUBSCRIBE / PUBLISH / UNSUBSCRIBE scenarios through FakeNetwork. Clients connect,
// subscribe with hand-built packets, a publisher sends, and the test compares the exact
// SUBACK/UNSUBACK bytes and the (topic, payload, flags) of every PUBLISH each subscriber got.
// Every scenario ends by closing everything and checking the pools are whole again.
import MQTTWire
import Testing

@testable import BrokerCore

@Suite("Subscriptions and routing")
struct RoutingTests {
  @Test("SUBACK carries the packet id and the granted QoS per filter, as requested [MQTT-3.8.4-1] [MQTT-3.8.4-2] [MQTT-3.8.4-5] [MQTT-3.8.4-6]")
  func suback() throws {
    let net = FakeNetwork()
    let c = try net.client("s")
    net.send(c, P.subscribe(0x1234, [("a", 0), ("b/+", 1), ("c/#", 2)]))
    // 0x90 SUBACK, remaining 5, packet id 0x1234, three return codes: QoS 0, 1 and 2 granted.
    #expect(net.take(c).map(\.bytes) == [[0x90, 0x05, 0x12, 0x34, 0x00, 0x01, 0x02]])
    #expect(net.stats.subscriptionsActive == 3)
    net.closeAllAndCheckPools()
  }

  @Test(
    "wildcards: + matches one level, # the parent and every level below [MQTT-4.7.1-2] [MQTT-4.7.1-3]",
    arguments: [
      ("sport/tennis/+", ["sport/tennis/player1", "sport/tennis/"], ["sport/tennis", "sport/tennis/p/x", "sport/tennisx/p"]),
      ("sport/#", ["sport", "sport/tennis", "sport/tennis/player1/ranking"], ["sports", "other/sport"]),
      ("#", ["a", "a/b", "/", "/a"], []),
      ("+", ["a", "b"], ["a/b", "/a"]),
      ("+/+", ["/a", "a/", "a/b"], ["a", "a/b/c"]),
      ("/+", ["/finance"], ["finance", "/finance/x"]),
      ("+/tennis/#", ["sport/tennis", "sport/tennis/x/y"], ["sport/golf"]),
      ("a/b", ["a/b"], ["a", "a/b/c", "A/b", "a/bc"]),
    ])
  func wildcards(filter: String, matching: [String], notMatching: [String]) throws {
    let net = FakeNetwork()
    let sub = try net.client("sub")
    let pub = try net.client("pub")
    net.send(sub, P.subscribe(1, filter))
    #expect(net.take(sub).map(\.bytes) == [P.suback(1, 0x00)])
    for t in matching + notMatching { net.send(pub, P.publish(t, "m:" + t)) }
    let got = net.take(sub)
    #expect(got.map(\.topic) == matching, "filter \(filter)")
    #expect(got.map(\.payloadText) == matching.map { "m:" + $0 })
    #expect(net.take(pub).isEmpty, "the publisher is not subscribed")
    net.closeAllAndCheckPools()
  }

  @Test("topics starting with $ are not matched by filters starting with a wildcard [MQTT-4.7.2-1]")
  func dollarTopics() throws {
    let net = FakeNetwork()
    let hash = try net.client("hash")
    let plus = try net.client("plus")
    let sys = try net.client("sys")
    let sysPlus = try net.client("sysplus")
    let pub = try net.client("pub")
    net.send(hash, P.subscribe(1, "#"))
    net.send(plus, P.subscribe(1, "+/monitor/Clients"))
    net.send(sys, P.subscribe(1, "$SYS/#"))
    net.send(sysPlus, P.subscribe(1, "$SYS/monitor/+"))
    for c in [hash, plus, sys, sysPlus] { _ = net.take(c) }
    net.send(pub, P.publish("$SYS/monitor/Clients", "s"))
    net.send(pub, P.publish("x/monitor/Clients", "x"))
    #expect(net.take(hash).map(\.topic) == ["x/monitor/Clients"])
    #expect(net.take(plus).map(\.topic) == ["x/monitor/Clients"])
    #expect(net.take(sys).map(\.topic) == ["$SYS/monitor/Clients"])
    #expect(net.take(sysPlus).map(\.topic) == ["$SYS/monitor/Clients"])
    net.closeAllAndCheckPools()
  }

  @Test("overlapping subscriptions deliver each message once per client [MQTT-3.3.5-1]")
  func overlapping() throws {
    let net = FakeNetwork()
    let a = try net.client("a")
    let b = try net.client("b")
    let pub = try net.client("pub")
    net.send(a, P.subscribe(1, "t/#", "t/+", "t/x", "#"))
    #expect(net.take(a).map(\.bytes) == [P.suback(1, 0, 0, 0, 0)])
    net.send(b, P.subscribe(1, "t/x"))
    _ = net.take(b)
    net.send(pub, P.publish("t/x", "one"))
    net.send(pub, P.publish("t/x", "two"))
    #expect(net.take(a).map(\.payloadText) == ["one", "two"])
    #expect(net.take(b).map(\.payloadText) == ["one", "two"])
    #expect(net.stats.messagesReceived == 2)
    #expect(net.stats.messagesSent == 4)
    net.closeAllAndCheckPools()
  }

  @Test("a publisher subscribed to its own topic gets its message too")
  func selfDelivery() throws {
    let net = FakeNetwork()
    let c = try net.client("echo")
    net.send(c, P.subscribe(1, "me"))
    _ = net.take(c)
    net.send(c, P.publish("me", "hello"))
    #expect(net.take(c).map(\.payloadText) == ["hello"])
    net.closeAllAndCheckPools()
  }

  @Test("live delivery: QoS is the minimum of publish and subscription, RETAIN and DUP cleared [MQTT-3.3.1-9] [MQTT-3.3.1-3] [MQTT-3.8.4-8]")
  func flagsCleared() throws {
    let net = FakeNetwork()
    let sub = try net.client("sub")
    let pub = try net.client("pub")
    net.send(sub, P.subscribe(1, [("f/#", 2)]))
    _ = net.take(sub)
    net.send(pub, P.publish("f/r", "retained", retain: true))
    net.send(pub, P.publish("f/q1", "q1", qos: 1, retain: true, id: 10))
    net.send(pub, P.publish("f/q2", "q2", qos: 2, retain: true, dup: true, id: 11))
    let got = net.take(sub)
    #expect(got.map(\.topic) == ["f/r", "f/q1", "f/q2"])
    #expect(got.map(\.first) == [0x30, 0x32, 0x34], "PUBLISH, QoS 0/1/2, DUP 0, RETAIN 0")
    #expect(got.map(\.payloadText) == ["retained", "q1", "q2"])
    // Exact bytes of the first delivery: 0x30, remaining 13, topic "f/r", payload.
    #expect(got.first?.bytes == [0x30, 13, 0x00, 0x03] + Array("f/r".utf8) + Array("retained".utf8))
    net.closeAllAndCheckPools()
  }

  @Test("filters longer than 64 bytes use the long slots (max_subscriptions / 8); when those are taken: SUBACK 0x80")
  func longFilters() throws {
    var l = smallLimits()
    l.topicBytesMax = 128
    let net = FakeNetwork(l)
    #expect(net.broker.subscriptions.longFree.count == 2, "16 subscriptions / 8")
    let sub = try net.client("sub")
    let pub = try net.client("pub")
    let long = (0..<3).map { "l\($0)/" + String(repeating: "x", count: 80) }
    net.send(sub, P.subscribe(1, [(long[0], 0), ("short/+", 0), (long[1], 0), (long[2], 0)]))
    // The third long filter finds no long slot: refused like a full table [MQTT-3.9.3-2].
    #expect(net.take(sub).map(\.bytes) == [[0x90, 0x06, 0x00, 0x01, 0x00, 0x00, 0x00, 0x80]])
    net.send(pub, P.publish(long[1], "long"))
    net.send(pub, P.publish("short/a", "short"))
    #expect(net.take(sub).map(\.payloadText) == ["long", "short"])
    // Unsubscribing returns the slot: the third long filter fits now.
    net.send(sub, P.unsubscribe(2, long[0]))
    net.send(sub, P.subscribe(3, [(long[2], 0)]))
    #expect(net.take(sub).map(\.bytes) == [P.ack(0xB0, 2), P.suback(3, 0)])
    net.send(pub, P.publish(long[2], "third"))
    #expect(net.take(sub).map(\.payloadText) == ["third"])
    net.closeAllAndCheckPools()
    #expect(net.broker.subscriptions.longFreeCount == 2)
  }

  @Test("an empty payload is delivered")
  func emptyPayload() throws {
    let net = FakeNetwork()
    let sub = try net.client("sub")
    net.send(sub, P.subscribe(1, "e"))
    _ = net.take(sub)
    net.send(sub, P.publish("e", []))
    #expect(net.take(sub).map(\.bytes) == [[0x30, 0x03, 0x00, 0x01, 0x65]])
    net.closeAllAndCheckPools()
  }

  @Test("subscribing to the same filter again replaces the subscription [MQTT-3.8.4-3]")
  func resubscribeReplaces() throws {
    let net = FakeNetwork()
    let sub = try net.client("sub")
    let pub = try net.client("pub")
    net.send(sub, P.subscribe(1, [("r/+", 0)]))
    net.send(sub, P.subscribe(2, [("r/+", 1)]))
    #expect(net.take(sub).map(\.bytes) == [P.suback(1, 0), P.suback(2, 1)])
    #expect(net.stats.subscriptionsActive == 1, "replaced, not added")
    net.send(pub, P.publish("r/1", "once"))
    #expect(net.take(sub).map(\.payloadText) == ["once"])
    // One UNSUBSCRIBE removes it entirely.
    net.send(sub, P.unsubscribe(3, "r/+"))
    #expect(net.take(sub).map(\.bytes) == [P.ack(0xB0, 3)])
    net.send(pub, P.publish("r/1", "gone"))
    #expect(net.take(sub).isEmpty)
    #expect(net.stats.subscriptionsActive == 0)
    net.closeAllAndCheckPools()
  }

  @Test("UNSUBSCRIBE stops delivery; UNSUBACK is always sent with the same id [MQTT-3.10.4-1] [MQTT-3.10.4-4] [MQTT-3.10.4-5]")
  func unsubscribe() throws {
    let net = FakeNetwork()
    let sub = try net.client("sub")
    let pub = try net.client("pub")
    net.send(sub, P.subscribe(1, "u/a", "u/b"))
    _ = net.take(sub)
    net.send(pub, P.publish("u/a", "1"))
    net.send(sub, P.unsubscribe(0xBEEF, "u/a"))
    // 0xB0 UNSUBACK, remaining 2, packet id 0xBEEF.
    #expect(net.take(sub).map(\.bytes) == [P.publish("u/a", "1"), [0xB0, 0x02, 0xBE, 0xEF]])
    net.send(pub, P.publish("u/a", "2"))
    net.send(pub, P.publish("u/b", "3"))
    #expect(net.take(sub).map(\.payloadText) == ["3"])
    // Nothing matches: still UNSUBACK. Filters compare byte for byte ("u/+" is not "u/b").
    net.send(sub, P.unsubscribe(9, "never/subscribed", "u/+"))
    #expect(net.take(sub).map(\.bytes) == [P.ack(0xB0, 9)])
    net.send(pub, P.publish("u/b", "4"))
    #expect(net.take(sub).map(\.payloadText) == ["4"])
    #expect(net.stats.subscriptionsActive == 1)
    // Another client's unsubscribe does not touch this one's subscription.
    net.send(pub, P.unsubscribe(2, "u/b"))
    #expect(net.take(pub).map(\.bytes) == [P.ack(0xB0, 2)])
    net.send(pub, P.publish("u/b", "5"))
    #expect(net.take(sub).map(\.payloadText) == ["5"])
    net.closeAllAndCheckPools()
  }

  @Test("closing a connection removes its subscriptions")
  func closeRemovesSubscriptions() throws {
    let net = FakeNetwork()
    let a = try net.client("a")
    let b = try net.client("b")
    net.send(a, P.subscribe(1, "x", "y"))
    net.send(b, P.subscribe(1, "x"))
    #expect(net.stats.subscriptionsActive == 3)
    net.hangUp(a)
    #expect(net.closed(a) == .peerClosed)
    #expect(net.stats.subscriptionsActive == 1)
    _ = net.take(b)
    net.send(b, P.publish("x", "still"))
    #expect(net.take(b).map(\.payloadText) == ["still"])
    net.closeAllAndCheckPools()
  }

  @Test("a full subscription table answers 0x80 for that filter and counts it [MQTT-3.9.3-2]")
  func tableFull() throws {
    let limits = smallLimits()
    let net = FakeNetwork(limits)
    let a = try net.client("a")
    for i in 0..<limits.subscriptionsMax {
      net.send(a, P.subscribe(UInt16(i + 1), "f/\(i)"))
    }
    #expect(net.take(a).map(\.bytes) == (0..<limits.subscriptionsMax).map { P.suback(UInt16($0 + 1), 0x00) })
    #expect(net.stats.subscriptionsActive == limits.subscriptionsMax)
    // One new filter and one existing one in a single SUBSCRIBE: refused, replaced.
    net.send(a, P.subscribe(100, "f/new", "f/0"))
    #expect(net.take(a).map(\.bytes) == [P.suback(100, 0x80, 0x00)])
    #expect(net.stats.subscriptionsRefused == 1)
    // Another client is refused too; the connection stays open.
    let b = try net.client("b")
    net.send(b, P.subscribe(1, "g"))
    #expect(net.take(b).map(\.bytes) == [P.suback(1, 0x80)])
    #expect(net.stats.subscriptionsRefused == 2)
    #expect(net.closed(b) == nil)
    // Room again after an unsubscribe.
    net.send(a, P.unsubscribe(101, "f/3"))
    _ = net.take(a)
    net.send(b, P.subscribe(2, "g"))
    #expect(net.take(b).map(\.bytes) == [P.suback(2, 0x00)])
    net.send(a, P.publish("g", "ok"))
    #expect(net.take(b).map(\.payloadText) == ["ok"])
    net.closeAllAndCheckPools()
  }

  @Test("a filter longer than max_topic_length answers 0x80; exactly the maximum is stored")
  func filterTooLong() throws {
    let limits = smallLimits()
    let net = FakeNetwork(limits)
    let a = try net.client("a")
    let max = String(repeating: "x", count: limits.topicBytesMax)
    let over = String(repeating: "y", count: limits.topicBytesMax + 1)
    net.send(a, P.subscribe(1, over, max))
    #expect(net.take(a).map(\.bytes) == [P.suback(1, 0x80, 0x00)])
    #expect(net.stats.subscriptionsRefused == 1)
    #expect(net.stats.subscriptionsActive == 1)
    net.send(a, P.publish(max, "m"))
    net.send(a, P.publish(over, "o"))
    #expect(net.take(a).map(\.payloadText) == ["m"])
    net.closeAllAndCheckPools()
  }

  @Test(
    "invalid SUBSCRIBE/UNSUBSCRIBE close the connection [MQTT-3.8.3-3] [MQTT-4.7.1-2] [MQTT-3.8.3-4] [MQTT-2.3.1-1] [MQTT-3.8.1-1]",
    arguments: [
      ("no filters", P.packet(0x82, [0x00, 0x01]), CloseReason.protocolError),
      ("# not last", P.subscribe(1, "a/#/b"), .protocolError),
      ("+ inside a level", P.subscribe(1, "a/b+"), .protocolError),
      ("requested QoS 3", P.subscribe(1, [("a", 3)]), .malformed),  // [MQTT-3.8.3-4]
      ("packet id 0", P.subscribe(0, "a"), .protocolError),
      ("empty filter", P.subscribe(1, ""), .protocolError),
      ("SUBSCRIBE flags 0000", [0x80] + P.subscribe(1, "a").dropFirst(), .malformed),
      ("UNSUBSCRIBE without filters", P.packet(0xA2, [0x00, 0x01]), .protocolError),
      ("PUBLISH with a wildcard", P.publish("a/+", "x"), .protocolError),
      ("PUBLISH QoS 3", [0x36] + P.publish("a", "x").dropFirst(), .malformed),
    ])
  func invalidPackets(name: String, packet: [UInt8], reason: CloseReason) throws {
    let net = FakeNetwork()
    let bad = try net.client("bad")
    let good = try net.client("good")
    net.send(good, P.subscribe(1, "#"))
    _ = net.take(good)
    net.send(bad, packet)
    #expect(net.take(bad).isEmpty, "\(name)")
    #expect(net.closed(bad) == reason, "\(name)")
    net.send(good, P.publish("ok", "fine"))
    #expect(net.take(good).map(\.payloadText) == ["fine"])
    #expect(net.closed(good) == nil)
    net.closeAllAndCheckPools()
  }
}
