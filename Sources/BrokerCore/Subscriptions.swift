// The subscription table: a fixed array of entries, each owning one stored filter of up to
// max_topic_length bytes. Entries of one connection are linked so that unsubscribe-all on
// close touches only that connection's entries; free entries form a free list.
// Matching scans the used entries (O(subscriptions) per publish). A topic tree with
// lookups proportional to topic depth replaces the scan when the core grows shared and
// persistent subscriptions; the interface (add / remove / forEachMatch) stays.
import Bounded
import MQTTWire

let subscriptionNone: UInt32 = .max

struct Subscription {
  /// Owning connection slot, or subscriptionNone when the entry is free.
  var owner: UInt32 = subscriptionNone
  /// Next entry of the same owner, or next free entry.
  var next: UInt32 = subscriptionNone
  var filterCount: UInt16 = 0
  var qos: QoS = .atMostOnce
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

  func filter(_ i: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: filters + i * filterBytesMax, count: Int(entries[i].filterCount))
  }

  enum AddResult { case added, replaced, tableFull, filterTooLong }

  /// Adds or replaces (same filter of the same owner [MQTT-3.8.4-3]) a subscription.
  mutating func add(owner: UInt32, head: inout UInt32, filter: UnsafeRawBufferPointer, qos: QoS) -> AddResult {
    var i = head
    while i != subscriptionNone {
      if self.filter(Int(i)).bytesEqual(filter) {
        entries[Int(i)].qos = qos
        return .replaced
      }
      i = entries[Int(i)].next
    }
    if filter.count > filterBytesMax { return .filterTooLong }
    guard freeHead != subscriptionNone else { return .tableFull }
    let e = freeHead
    freeHead = entries[Int(e)].next
    let idx = Int(e)
    (filters + idx * filterBytesMax).copyMemory(from: filter.baseAddress!, byteCount: filter.count)
    entries[idx] = Subscription(owner: owner, next: head, filterCount: UInt16(filter.count), qos: qos)
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
    entries[Int(i)] = Subscription(owner: subscriptionNone, next: freeHead, filterCount: 0, qos: .atMostOnce)
    freeHead = i
    count -= 1
  }
}
