// The subscription table's match index: exact filters through hash buckets, wildcard and
// shared filters through the scanned list. Every case is checked against what a plain scan
// of all entries with Topic.matches finds, with 1 bucket (every exact filter in one chain, so
// unlinking the head, middle and tail of a chain is exercised) and with 64 buckets.
import MQTTWire
import Testing

@testable import BrokerCore

@Suite("Subscription match index")
struct SubscriptionIndexTests {
  final class Table {
    var table: SubscriptionTable
    var heads: [UInt32]
    let entries: UnsafeMutableBufferPointer<Subscription>
    let short: UnsafeMutableRawPointer
    let long: UnsafeMutableRawPointer
    let longFree: UnsafeMutableBufferPointer<UInt32>
    let buckets: UnsafeMutableBufferPointer<UInt32>

    init(capacity: Int, buckets bucketCount: Int, owners: Int) {
      entries = .allocate(capacity: capacity)
      short = .allocate(byteCount: capacity * SubscriptionTable.shortBytes, alignment: 8)
      long = .allocate(byteCount: capacity * 256, alignment: 8)
      longFree = .allocate(capacity: capacity)
      buckets = .allocate(capacity: bucketCount)
      buckets.initialize(repeating: 0)  // as the arena: empty buckets are zero, never written at startup
      table = SubscriptionTable(
        entries: entries, shortFilters: short, longFilters: long, longFree: longFree, filterBytesMax: 256,
        buckets: buckets)
      heads = Array(repeating: subscriptionNone, count: owners)
    }

    deinit {
      entries.deallocate(); short.deallocate(); long.deallocate(); longFree.deallocate(); buckets.deallocate()
    }

    func add(_ owner: Int, _ filter: String) {
      var bytes = Array(filter.utf8)
      let offset = filter.hasPrefix("$share/") ? filter.split(separator: "/", maxSplits: 2)[0...1].joined(separator: "/").utf8.count + 1 : 0
      let r = bytes.withUnsafeMutableBytes { b in
        table.add(
          owner: UInt32(owner), head: &heads[owner], filter: UnsafeRawBufferPointer(b), matchOffset: offset,
          options: SubscriptionOptions(qos: .atMostOnce), identifier: 0)
      }
      #expect(r == .added)
    }

    func remove(_ owner: Int, _ filter: String) {
      var bytes = Array(filter.utf8)
      let ok = bytes.withUnsafeMutableBytes { table.remove(head: &heads[owner], filter: UnsafeRawBufferPointer($0)) }
      #expect(ok)
    }

    /// (owner, filter) pairs the index finds for the topic, and those a full scan finds.
    func matches(_ topic: String) -> (index: Set<String>, scan: Set<String>) {
      var bytes = Array(topic.utf8)
      return bytes.withUnsafeMutableBytes { b in
        let t = UnsafeRawBufferPointer(b)
        var index = Set<String>()
        table.forEachMatch(t) { e in index.insert(name(e)) }
        var scan = Set<String>()
        var e = 0
        while e < table.highWater {
          if table.entries[e].owner != subscriptionNone && Topic.matches(filter: table.matchFilter(e), name: t) {
            scan.insert(name(e))
          }
          e += 1
        }
        return (index, scan)
      }
    }

    func name(_ e: Int) -> String {
      "\(table.entries[e].owner):" + String(decoding: table.filter(e), as: UTF8.self)
    }
  }

  static let topics = ["a/b", "a/c", "a/b/c", "$SYS/x", "b", "a", "x/" + String(repeating: "y", count: 80)]

  @Test("finds what a full scan finds, through adds and removes", arguments: [1, 64])
  func agreesWithScan(buckets: Int) {
    let t = Table(capacity: 32, buckets: buckets, owners: 3)
    for (o, f) in [(0, "a/b"), (1, "a/b"), (2, "a/+"), (0, "#"), (1, "$SYS/x"), (2, "$share/g/a/b"), (0, "b"),
                   (1, "a/c"), (2, "x/" + String(repeating: "y", count: 80)), (1, "+/+/c")] {
      t.add(o, f)
    }
    for topic in Self.topics {
      let m = t.matches(topic)
      #expect(m.index == m.scan, "topic \(topic)")
    }
    #expect(t.matches("a/b").index == ["0:a/b", "1:a/b", "2:a/+", "0:#", "2:$share/g/a/b"])
    #expect(t.matches("$SYS/x").index == ["1:$SYS/x"])  // [MQTT-4.7.2-1] no wildcard match for $ topics
    // Unlink the head, the middle and the tail of the single chain (1 bucket), and list ends.
    for (o, f) in [(1, "a/c"), (0, "a/b"), (0, "b"), (2, "a/+"), (1, "+/+/c")] {
      t.remove(o, f)
      for topic in Self.topics {
        let m = t.matches(topic)
        #expect(m.index == m.scan, "topic \(topic) after removing \(f)")
      }
    }
    t.table.removeAll(head: &t.heads[1])
    #expect(t.matches("a/b").index == ["0:#", "2:$share/g/a/b"])
    #expect(t.matches("$SYS/x").index.isEmpty)
    t.add(1, "a/b")
    #expect(t.matches("a/b").index == ["0:#", "2:$share/g/a/b", "1:a/b"])
  }
}
