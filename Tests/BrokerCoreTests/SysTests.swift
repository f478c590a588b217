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
    l.retainedMessagesMax = 64
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
    net.send(watcher, P.subscribe(2, "$SYS/broker/messages/received"))
    net.send(wild, P.subscribe(1, "#"))
    _ = net.take(watcher)
    _ = net.take(wild)
    net.send(wild, P.publish("x", "1"))
    net.send(wild, P.publish("x", "2"))
    _ = net.take(wild)
    net.advance(by: 10_000)
    let got = net.take(watcher)
    #expect(got.map(\.topic) == ["$SYS/broker/clients/connected", "$SYS/broker/messages/received"])
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
