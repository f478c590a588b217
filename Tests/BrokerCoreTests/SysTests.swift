// Method: $SYS statistics through FakeNetwork with sys_interval 10 s: a subscriber to
// "$SYS/#" gets the counters as retained messages every interval, with values that follow
// what the test did; a leading wildcard does not see them [MQTT-4.7.2-1].
import MQTTWire
import Testing

@testable import BrokerCore

@Suite("$SYS statistics")
struct SysTests {
  func sysLimits() -> Limits {
    var l = smallLimits()
    l.sysIntervalSeconds = 10
    l.retainedMessagesMax = 256  // $SYS alone publishes about 110 topics
    l.queuedBytesMax = 64 << 10  // a $SYS/# subscriber gets them all in one turn
    l.subscriptionsMax = 64
    l.memoryBudgetBytes = 1 << 20
    return l
  }

  @Test("every sys_interval the counters are published, retained, under $SYS/broker/")
  func counters() throws {
    let net = FakeNetwork(sysLimits())
    let watcher = try net.client("watcher")
    let wild = try net.client("wild")
    net.send(watcher, P.subscribe(1, "$SYS/broker/clients/connected"))
    net.send(watcher, P.subscribe(2, "$SYS/broker/publish/messages/received"))
    net.send(wild, P.subscribe(1, "#"))
    _ = net.take(watcher)
    _ = net.take(wild)
    net.send(wild, P.publish("x", "1"))
    net.send(wild, P.publish("x", "2"))
    _ = net.take(wild)
    net.advance(by: 10_000)
    let got = net.take(watcher)
    #expect(got.map(\.topic) == ["$SYS/broker/clients/connected", "$SYS/broker/publish/messages/received"])
    #expect(got.map(\.payloadText) == ["2", "2"])
    #expect(net.take(wild).isEmpty, "# does not match $SYS topics [MQTT-4.7.2-1]")
    // Retained: a late subscriber gets the last values with RETAIN set.
    let late = try net.client("late")
    net.send(late, P.subscribe(1, "$SYS/broker/clients/connected"))
    let retained = net.take(late).dropFirst()
    #expect(retained.map(\.payloadText) == ["2"], "the value of the last interval")
    #expect(retained.first.map { $0.first & 0x01 } == 1)
    net.closeAllAndCheckPools()
  }

  /// The last value of each topic in `packets`.
  func values(_ packets: [ServerPacket]) -> [String: String] {
    var v: [String: String] = [:]
    for p in packets { v[p.topic] = p.payloadText }
    return v
  }

  @Test("load averages as Mosquitto computes them, packet and PUBLISH counts, pools, closes per reason")
  func loadAndPools() throws {
    let net = FakeNetwork(sysLimits())
    let watcher = try net.client("watcher")
    let pub = try net.client("pub")
    net.send(watcher, P.subscribe(1, "$SYS/broker/#"))
    _ = net.take(watcher)
    _ = net.take(pub)
    // Two updates without PUBLISHes: the baseline, then a load of 0.
    net.advance(by: 10_000)
    net.advance(by: 10_000)
    let before = values(net.take(watcher))
    #expect(before["$SYS/broker/load/publish/received/1min"] == "0.00")
    // 6 PUBLISHes within one 10 s interval: a rate of 36 per minute; the 1 min average moves
    // 36 * (1 - e^(-10/60)) = 5.53, the 5 min one 36 * (1 - e^(-10/300)) = 1.18, the 15 min one
    // 36 * (1 - e^(-10/900)) = 0.40.
    for i in 0..<6 { net.send(pub, P.publish("t/\(i)", "x")) }
    net.advance(by: 10_000)
    let v = values(net.take(watcher))
    #expect(v["$SYS/broker/load/publish/received/1min"] == "5.53")
    #expect(v["$SYS/broker/load/publish/received/5min"] == "1.18")
    #expect(v["$SYS/broker/load/publish/received/15min"] == "0.40")
    #expect(v["$SYS/broker/publish/messages/received"] == "6")
    // messages/* count every packet: 2 CONNECT, 1 SUBSCRIBE, 6 PUBLISH received.
    #expect(v["$SYS/broker/messages/received"] == "9")
    #expect(v["$SYS/broker/load/connections/1min"] == "0.00", "no CONNECT in the last interval")
    #expect(v["$SYS/broker/midge/pools/sessions/used"] == "2")
    #expect(v["$SYS/broker/midge/pools/connections/used"] == "2")
    #expect(v["$SYS/broker/midge/pools/sessions/capacity"] == "\(net.plan.sessions.count)")
    #expect(v["$SYS/broker/midge/pools/subscriptions/used"] == "1")
    #expect(v["$SYS/broker/subscriptions/count"] == "1")
    #expect(v["$SYS/broker/midge/memory/budget"] == "\(1 << 20) bytes")
    #expect(v["$SYS/broker/midge/closes/keepalive_timeout"] == "0")
    #expect(v["$SYS/broker/version"]?.hasPrefix("midge version ") == true)
    #expect(Int(v["$SYS/broker/retained messages/count"] ?? "") ?? 0 >= 100, "the $SYS topics themselves")
    net.closeAllAndCheckPools()
  }

  @Test("e^-x without libm")
  func expNeg() {
    for x in [0.0, 1.0 / 90, 1.0 / 60, 0.5, 1, 3, 10, 50] {
      let want = [1.0, 0.988950, 0.983471, 0.606531, 0.367879, 0.049787, 4.53999e-5, 1.92875e-22][
        [0.0, 1.0 / 90, 1.0 / 60, 0.5, 1, 3, 10, 50].firstIndex(of: x)!]
      #expect(abs(LoadAverages.expNeg(x) - want) <= want * 1e-5, "e^-\(x)")
    }
  }

  @Test("sys_interval 0 publishes nothing")
  func off() throws {
    var l = sysLimits()
    l.sysIntervalSeconds = 0
    let net = FakeNetwork(l)
    let watcher = try net.client("watcher")
    net.send(watcher, P.subscribe(1, "$SYS/#"))
    _ = net.take(watcher)
    net.advance(by: 30_000)
    #expect(net.take(watcher).isEmpty)
    #expect(net.stats.retainedCount == 0)
    net.closeAllAndCheckPools()
  }
}
