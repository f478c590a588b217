// The subscription table: a fixed array of entries, each owning one stored filter of up to
// max_topic_length bytes. Entries of one session are linked so that removing a session's
// subscriptions touches only them; free entries form a free list. A shared subscription
// ($share/group/filter) is stored whole; `matchOffset` is where its filter starts.
// Matching scans the used entries (O(subscriptions) per publish); a topic tree can replace
// the scan behind the same interface (add / remove / removeAll / filter / matchFilter).
import Bounded
import MQTTWire

let subscriptionNone: UInt32 = .max

struct Subscription {
  /// Owning session, or subscriptionNone when the entry is free.
  var owner: UInt32 = subscriptionNone
  /// Next entry of the same owner, or next free entry.
  var next: UInt32 = subscriptionNone
  /// MQTT 5 Subscription Identifier; 0 = none.
  var identifier: UInt32 = 0
  /// Shared subscriptions: the publish sequence of this member's last delivery (round robin).
  var lastTurn: UInt32 = 0
  var filterCount: UInt16 = 0
  /// Where the topic filter starts (0, or after "$share/group/").
  var matchOffset: UInt16 = 0
  var options = SubscriptionOptions(qos: .atMostOnce)
  var shared: Bool { matchOffset != 0 }
}

struct SubscriptionTable {
  let entries: UnsafeMutableBufferPointer<Subscription>
  let filters: UnsafeMutableRawPointer
  let filterBytesMax: Int
  var freeHead: UInt32
  /// Entries [0, highWater) have been used at least once; scans stop there.
  var highWater = 0
  var count = 0

  init(entries: UnsafeMutableBufferPointer<Subscription>, filters: UnsafeMutableRawPointer, filterBytesMax: Int) {
    self.entries = entries
    self.filters = filters
    self.filterBytesMax = filterBytesMax
    var i = 0
    while i < entries.count {
      entries[i] = Subscription()
      entries[i].next = i + 1 < entries.count ? UInt32(i + 1) : subscriptionNone
      i += 1
    }
    freeHead = entries.count > 0 ? 0 : subscriptionNone
  }

  /// The filter as subscribed (shared ones with their "$share/group/" prefix).
  func filter(_ i: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: filters + i * filterBytesMax, count: Int(entries[i].filterCount))
  }

  /// The topic filter that topics are matched against.
  func matchFilter(_ i: Int) -> UnsafeRawBufferPointer {
    let offset = Int(entries[i].matchOffset)
    return UnsafeRawBufferPointer(
      start: filters + i * filterBytesMax + offset, count: Int(entries[i].filterCount) - offset)
  }

  func find(head: UInt32, filter: UnsafeRawBufferPointer) -> UInt32? {
    var i = head
    while i != subscriptionNone {
      if self.filter(Int(i)).bytesEqual(filter) { return i }
      i = entries[Int(i)].next
    }
    return nil
  }

  enum AddResult { case added, replaced, tableFull, filterTooLong }

  /// Adds or replaces (same filter of the same owner [MQTT-3.8.4-3]) a subscription.
  mutating func add(
    owner: UInt32, head: inout UInt32, filter: UnsafeRawBufferPointer, matchOffset: Int,
    options: SubscriptionOptions, identifier: UInt32
  ) -> AddResult {
    if let i = find(head: head, filter: filter) {
      entries[Int(i)].options = options
      entries[Int(i)].identifier = identifier
      return .replaced
    }
    if filter.count > filterBytesMax { return .filterTooLong }
    guard freeHead != subscriptionNone else { return .tableFull }
    let e = freeHead
    freeHead = entries[Int(e)].next
    let idx = Int(e)
    (filters + idx * filterBytesMax).copyMemory(from: filter.baseAddress!, byteCount: filter.count)
    entries[idx] = Subscription(
      owner: owner, next: head, identifier: identifier, lastTurn: 0, filterCount: UInt16(filter.count),
      matchOffset: UInt16(matchOffset), options: options)
    head = e
    highWater = max(highWater, idx + 1)
    count += 1
    return .added
  }

  /// Removes the owner's subscription with this exact filter; false when there is none.
  mutating func remove(head: inout UInt32, filter: UnsafeRawBufferPointer) -> Bool {
    var prev = subscriptionNone
    var i = head
    while i != subscriptionNone {
      let after = entries[Int(i)].next
      if self.filter(Int(i)).bytesEqual(filter) {
        if prev == subscriptionNone { head = after } else { entries[Int(prev)].next = after }
        free(i)
        return true
      }
      prev = i
      i = after
    }
    return false
  }

  mutating func removeAll(head: inout UInt32) {
    var i = head
    while i != subscriptionNone {
      let after = entries[Int(i)].next
      free(i)
      i = after
    }
    head = subscriptionNone
  }

  private mutating func free(_ i: UInt32) {
    entries[Int(i)] = Subscription(owner: subscriptionNone, next: freeHead)
    freeHead = i
    count -= 1
  }
}
