// Method: CONNECT/CONNACK scenarios driven through FakeNetwork (see FakeNetwork.swift): a fake
// client writes hand-built packets, the test checks the exact bytes the broker answers and how
// (and why) it closes the connection. Every scenario ends by closing everything and checking
// that all pooled buffers went back.
import MQTTWire
import Testing

@testable import BrokerCore

@Suite("CONNECT and CONNACK")
struct ConnectTests {
  @Test("CONNECT is answered with CONNACK 0x20 0x02 0x00 0x00 [MQTT-3.2.0-1] [MQTT-3.2.2-1]")
  func connectAccepted() throws {
    let net = FakeNetwork()
    let c = try #require(net.connect())
    net.send(c, P.connect(clientID: "alice"))
    // CONNACK, remaining length 2, session present 0 (clean session), return code 0.
    #expect(net.take(c).map(\.bytes) == [[0x20, 0x02, 0x00, 0x00]])
    #expect(net.closed(c) == nil)
    #expect(net.stats.clientsConnected == 1)
    #expect(net.stats.clientsMaximum == 1)
    #expect(net.stats.connectionsAccepted == 1)
    net.closeAllAndCheckPools()
  }

  @Test("session present is 0 also for cleanSession 0: no persistent sessions yet [MQTT-3.2.2-3]")
  func sessionPresentZero() throws {
    let net = FakeNetwork()
    let c = try #require(net.connect())
    net.send(c, P.connect(clientID: "persistent", clean: false))
    #expect(net.take(c).map(\.bytes) == [P.connack(0)])
    net.closeAllAndCheckPools()
  }

  @Test(
    "the first packet must be CONNECT, otherwise the connection is closed [MQTT-3.1.0-1]",
    arguments: [
      ("PINGREQ", P.pingreq),
      ("SUBSCRIBE", P.subscribe(1, "a/b")),
      ("PUBLISH", P.publish("a/b", "x")),
      ("DISCONNECT", P.disconnect),
      ("PUBREL", P.pubrel(1)),
      ("CONNACK (server-only)", P.connack(0)),
    ])
  func firstPacketMustBeConnect(name: String, packet: [UInt8]) throws {
    let net = FakeNetwork()
    let c = try #require(net.connect())
    net.send(c, packet)
    #expect(net.take(c).isEmpty, "no answer before CONNECT")
    #expect(net.closed(c) == .protocolError)
    #expect(net.stats.closes(.protocolError) == 1)
    #expect(net.stats.clientsConnected == 0)
    net.closeAllAndCheckPools()
  }

  @Test("a second CONNECT is a protocol violation: closed [MQTT-3.1.0-2]")
  func secondConnect() throws {
    let net = FakeNetwork()
    let c = try net.client("twice")
    net.send(c, P.connect(clientID: "twice"))
    #expect(net.take(c).isEmpty)
    #expect(net.closed(c) == .protocolError)
    #expect(net.stats.clientsConnected == 0)
    net.closeAllAndCheckPools()
  }

  @Test(
    "unsupported protocol level: CONNACK return code 1, then close [MQTT-3.1.2-2] [MQTT-3.2.2-5]",
    arguments: [UInt8(6), 7, 0, 2, 255])
  func unsupportedLevel(level: UInt8) throws {
    let net = FakeNetwork()
    let c = try #require(net.connect())
    net.send(c, P.connect(clientID: "v5", level: level))
    // Session present 0 with a non-zero return code [MQTT-3.2.2-4].
    #expect(net.take(c).map(\.bytes) == [P.connack(0x01)])
    #expect(net.closed(c) == .connectRefused)
    #expect(net.stats.clientsConnected == 0)
    net.closeAllAndCheckPools()
  }

  @Test("an MQTT 5 CONNECT is accepted: CONNACK 0x00 with the server's limits as properties [§3.2.2] §3.2.2.3")
  func mqtt5Accepted() throws {
    let net = FakeNetwork()
    let c = try #require(net.connect())
    // Level 5, property length 0x05: Session Expiry Interval (0x11) = 0x0000003C.
    net.send(c, P.connect(clientID: "v5", level: 5, v5Properties: [0x11, 0x00, 0x00, 0x00, 0x3C]))
    let answer = try #require(net.take(c).first?.bytes)
    let l = net.limits
    // Receive Maximum (0x21), Topic Alias Maximum (0x22), Maximum Packet Size (0x27), in the
    // order OutProperties writes them.
    let props: [UInt8] =
      [0x21, 0x00, UInt8(l.inflightMax)] + [0x22, 0x00, UInt8(l.topicAliasMax)]
      + [0x27, 0x00, 0x00, UInt8(l.packetBytesMax >> 8), UInt8(l.packetBytesMax & 0xFF)]
    #expect(answer == [0x20, UInt8(3 + props.count), 0x00, 0x00, UInt8(props.count)] + props)
    #expect(net.closed(c) == nil)
    #expect(net.stats.clientsConnected == 1)
    net.closeAllAndCheckPools()
  }

  @Test("MQIsdp with a level other than 3 is refused with return code 1 [MQTT-3.1.2-2]")
  func mqisdpWrongLevel() throws {
    let net = FakeNetwork()
    let c = try #require(net.connect())
    net.send(c, P.connect(clientID: "old", level: 4, name: "MQIsdp"))
    #expect(net.take(c).map(\.bytes) == [P.connack(0x01)])
    #expect(net.closed(c) == .connectRefused)
    net.closeAllAndCheckPools()
  }

  @Test("an unknown protocol name closes without CONNACK [MQTT-3.1.2-1]")
  func badProtocolName() throws {
    let net = FakeNetwork()
    let c = try #require(net.connect())
    net.send(c, P.connect(clientID: "x", name: "MQTX"))
    #expect(net.take(c).isEmpty)
    #expect(net.closed(c) == .protocolError)
    net.closeAllAndCheckPools()
  }

  @Test("empty client id with cleanSession 0: return code 2, then close [MQTT-3.1.3-8]")
  func emptyIDPersistent() throws {
    let net = FakeNetwork()
    let c = try #require(net.connect())
    net.send(c, P.connect(clientID: "", clean: false))
    #expect(net.take(c).map(\.bytes) == [P.connack(0x02)])
    #expect(net.closed(c) == .connectRefused)
    net.closeAllAndCheckPools()
  }

  @Test("empty client id with cleanSession 1 is accepted [MQTT-3.1.3-6] [MQTT-3.1.3-7]")
  func emptyIDClean() throws {
    let net = FakeNetwork()
    let a = try #require(net.connect())
    net.send(a, P.connect(clientID: "", clean: true))
    #expect(net.take(a).map(\.bytes) == [P.connack(0x00)])
    // A second client with an empty id is a different client: no takeover.
    let b = try #require(net.connect())
    net.send(b, P.connect(clientID: "", clean: true))
    #expect(net.take(b).map(\.bytes) == [P.connack(0x00)])
    #expect(net.closed(a) == nil)
    #expect(net.stats.clientsConnected == 2)
    net.closeAllAndCheckPools()
  }

  @Test("MQTT 3.1 (MQIsdp, level 3) accepts ids of 1...23 bytes and refuses 24 or 0 with code 2")
  func mqtt31ClientIDs() throws {
    let net = FakeNetwork()
    let ok = try #require(net.connect())
    net.send(ok, P.connect(clientID: String(repeating: "a", count: 23), level: 3, name: "MQIsdp"))
    #expect(net.take(ok).map(\.bytes) == [P.connack(0x00)])
    #expect(net.closed(ok) == nil)

    let long = try #require(net.connect())
    net.send(long, P.connect(clientID: String(repeating: "b", count: 24), level: 3, name: "MQIsdp"))
    #expect(net.take(long).map(\.bytes) == [P.connack(0x02)])
    #expect(net.closed(long) == .connectRefused)

    let empty = try #require(net.connect())
    net.send(empty, P.connect(clientID: "", clean: true, level: 3, name: "MQIsdp"))
    #expect(net.take(empty).map(\.bytes) == [P.connack(0x02)])
    #expect(net.closed(empty) == .connectRefused)
    net.closeAllAndCheckPools()
  }

  @Test("MQTT 3.1 connections speak the protocol after CONNECT (SUBSCRIBE, PUBLISH, PINGREQ)")
  func mqtt31Session() throws {
    let net = FakeNetwork()
    let c = try #require(net.connect())
    net.send(c, P.connect(clientID: "legacy", level: 3, name: "MQIsdp"))
    #expect(net.take(c).map(\.bytes) == [P.connack(0x00)])
    net.send(c, P.subscribe(7, "t"))
    net.send(c, P.publish("t", "hi"))
    net.send(c, P.pingreq)
    let out = net.take(c)
    #expect(out.map(\.type) == [9, 3, 13])
    #expect(out.last?.bytes == P.pingresp)
    net.closeAllAndCheckPools()
  }

  @Test("client ids up to clientIDBytesMax are accepted, longer ones get code 2 [MQTT-3.1.3-5]")
  func clientIDLimit() throws {
    let limits = smallLimits()
    let net = FakeNetwork(limits)
    let max = try #require(net.connect())
    net.send(max, P.connect(clientID: String(repeating: "m", count: limits.clientIDBytesMax)))
    #expect(net.take(max).map(\.bytes) == [P.connack(0x00)])

    let over = try #require(net.connect())
    net.send(over, P.connect(clientID: String(repeating: "m", count: limits.clientIDBytesMax + 1)))
    #expect(net.take(over).map(\.bytes) == [P.connack(0x02)])
    #expect(net.closed(over) == .connectRefused)
    #expect(net.closed(max) == nil, "a refused CONNECT takes nothing over")
    net.closeAllAndCheckPools()
  }

  @Test("a listener that refuses anonymous clients answers return code 5, with or without a user name")
  func anonymousRefused() throws {
    let net = FakeNetwork()
    let a = try #require(net.connect(anonymousAllowed: false))
    net.send(a, P.connect(clientID: "anon"))
    #expect(net.take(a).map(\.bytes) == [P.connack(0x05)])
    #expect(net.closed(a) == .connectRefused)

    let b = try #require(net.connect(anonymousAllowed: false))
    net.send(b, P.connect(clientID: "user", username: "bob"))
    #expect(net.take(b).map(\.bytes) == [P.connack(0x05)])
    #expect(net.closed(b) == .connectRefused)
    #expect(net.stats.closes(.connectRefused) == 2)
    net.closeAllAndCheckPools()
  }

  @Test("max_keepalive below 65535: keep alive 0 or above the maximum gets code 2")
  func keepAliveMax() throws {
    var limits = smallLimits()
    limits.keepAliveMaxSeconds = 60
    let net = FakeNetwork(limits)
    for (keepAlive, rc): (UInt16, UInt8) in [(0, 2), (61, 2), (65535, 2), (60, 0), (1, 0)] {
      let c = try #require(net.connect())
      net.send(c, P.connect(clientID: "k\(keepAlive)", keepAlive: keepAlive))
      #expect(net.take(c).map(\.bytes) == [P.connack(rc)], "keep alive \(keepAlive)")
      #expect(net.closed(c) == (rc == 0 ? nil : .connectRefused), "keep alive \(keepAlive)")
    }
    net.closeAllAndCheckPools()
  }

  @Test("max_keepalive 65535 (the default) accepts every keep alive, 0 included")
  func keepAliveUnlimited() throws {
    let net = FakeNetwork()
    for keepAlive: UInt16 in [0, 1, 65535] {
      let c = try #require(net.connect())
      net.send(c, P.connect(clientID: "k\(keepAlive)", keepAlive: keepAlive))
      #expect(net.take(c).map(\.bytes) == [P.connack(0)], "keep alive \(keepAlive)")
    }
    net.closeAllAndCheckPools()
  }

  @Test("malformed CONNECT variants close without CONNACK [MQTT-3.1.2-3] [MQTT-2.2.2-2] [MQTT-3.1.2-22]")
  func malformedConnects() throws {
    let good = P.connect(clientID: "g")
    let cases: [(String, [UInt8], CloseReason)] = [
      // Connect flags byte (offset 9 after 0x10 len 00 04 'MQTT' 04) with reserved bit 0 set.
      ("reserved connect flag", { var b = good; b[9] |= 0x01; return b }(), .malformed),
      // Fixed-header flags 0001 on CONNECT.
      ("header flags", { var b = good; b[0] = 0x11; return b }(), .malformed),
      // Password flag (bit 6) without user name flag (bit 7).
      ("password without user name", { var b = good; b[9] |= 0x40; return b }(), .protocolError),
      // Remaining length cut to the protocol name only.
      ("truncated", [0x10, 0x06, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54], .malformed),
      // A client id that is not UTF-8 (0xFF never appears in UTF-8) [MQTT-1.5.3-1].
      ("invalid UTF-8 client id", P.connect(clientIDBytes: [0x61, 0xFF]), .malformed),
      // U+0000 in the client id [MQTT-1.5.3-2].
      ("NUL in client id", P.connect(clientIDBytes: [0x61, 0x00]), .malformed),
    ]
    for (name, bytes, reason) in cases {
      let net = FakeNetwork()
      let c = try #require(net.connect())
      net.send(c, bytes)
      #expect(net.take(c).isEmpty, "\(name)")
      #expect(net.closed(c) == reason, "\(name)")
      net.closeAllAndCheckPools()
    }
  }
}

@Suite("Client id takeover")
struct TakeoverTests {
  @Test("a second connection with the same client id closes the first [MQTT-3.1.4-2]")
  func takeover() throws {
    let net = FakeNetwork()
    let first = try net.client("same")
    net.send(first, P.subscribe(1, "t/#"))
    #expect(net.take(first).map(\.bytes) == [P.suback(1, 0x00)])
    #expect(net.stats.subscriptionsActive == 1)

    let second = try #require(net.connect())
    net.send(second, P.connect(clientID: "same"))
    #expect(net.closed(first) == .takenOver)
    #expect(net.take(second).map(\.bytes) == [P.connack(0x00)])
    #expect(net.closed(second) == nil)
    #expect(net.stats.closes(.takenOver) == 1)
    #expect(net.stats.clientsConnected == 1)
    // The old session's subscriptions went with it (no persistent sessions).
    #expect(net.stats.subscriptionsActive == 0)

    // The new connection works; the old one is gone (its stale id is ignored).
    let pub = try net.client("pub")
    net.send(second, P.subscribe(2, "t/#"))
    #expect(net.take(second).map(\.bytes) == [P.suback(2, 0x00)])
    net.send(pub, P.publish("t/1", "after"))
    #expect(net.take(second).map(\.payloadText) == ["after"])
    #expect(net.broker.wantsRead(first) == false)
    #expect(net.broker.outputCount(first) == 0)
    net.closeAllAndCheckPools()
  }

  @Test("a different client id, or a refused CONNECT with the same id, takes nothing over")
  func noTakeover() throws {
    let net = FakeNetwork()
    let a = try net.client("a")
    _ = try net.client("A")  // ids are compared byte for byte
    let refused = try #require(net.connect(anonymousAllowed: false))
    net.send(refused, P.connect(clientID: "a"))
    #expect(net.take(refused).map(\.bytes) == [P.connack(0x05)])
    #expect(net.closed(a) == nil)
    // A connection still waiting for CONNECT is not "connected": nothing to take over, and
    // its id does not exist yet.
    let waiting = try #require(net.connect())
    _ = waiting
    let b = try net.client("b")
    #expect(net.closed(waiting) == nil)
    #expect(net.closed(b) == nil)
    #expect(net.stats.clientsConnected == 3)
    net.closeAllAndCheckPools()
  }
}
