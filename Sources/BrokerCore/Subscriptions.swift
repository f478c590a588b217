// The subscription table: a fixed array of entries, each owning one stored filter. A filter
// of up to 64 bytes (most are) lives in the entry's short slot; a longer one, up to
// max_topic_length, takes one of the fewer long slots (max_subscriptions / 8). So an idle
// client's subscription costs 64 + 28 bytes, not max_topic_length. Entries of one session are linked so that removing a session's
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
  /// The long slot holding the filter, or longNone when it is in the short slot.
  var longSlot: UInt32 = longNone
  var shared: Bool { matchOffset != 0 }
}

let longNone: UInt32 = .max

struct SubscriptionTable {
  static let shortBytes = 64
  let entries: UnsafeMutableBufferPointer<Subscription>
  let shortFilters: UnsafeMutableRawPointer
  let longFilters: UnsafeMutableRawPointer
  /// Free long slots (a stack).
  let longFree: UnsafeMutableBufferPointer<UInt32>
  var longFreeCount: Int
  let filterBytesMax: Int
  var freeHead: UInt32
  /// Entries [0, highWater) have been used at least once; scans stop there.
  var highWater = 0
  var count = 0

  init(
    entries: UnsafeMutableBufferPointer<Subscription>, shortFilters: UnsafeMutableRawPointer,
    longFilters: UnsafeMutableRawPointer, longFree: UnsafeMutableBufferPointer<UInt32>, filterBytesMax: Int
  ) {
    self.entries = entries
    self.shortFilters = shortFilters
    self.longFilters = longFilters
    self.longFree = longFree
    self.filterBytesMax = filterBytesMax
    var k = 0
    while k < longFree.count {
      longFree[k] = UInt32(longFree.count - 1 - k)
      k += 1
    }
    longFreeCount = longFree.count
    var i = 0
    while i < entries.count {
      entries[i] = Subscription()
      entries[i].next = i + 1 < entries.count ? UInt32(i + 1) : subscriptionNone
      i += 1
    }
    freeHead = entries.count > 0 ? 0 : subscriptionNone
  }

  /// The filter as subscribed (shared ones with their "$share/group/" prefix).
  func filterBase(_ i: Int) -> UnsafeMutableRawPointer {
    let long = entries[i].longSlot
    return long == longNone
      ? shortFilters + i * SubscriptionTable.shortBytes : longFilters + Int(long) * filterBytesMax
  }

  func filter(_ i: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: filterBase(i), count: Int(entries[i].filterCount))
  }

  /// The topic filter that topics are matched against.
  func matchFilter(_ i: Int) -> UnsafeRawBufferPointer {
    let offset = Int(entries[i].matchOffset)
    return UnsafeRawBufferPointer(start: filterBase(i) + offset, count: Int(entries[i].filterCount) - offset)
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
    let long = filter.count > SubscriptionTable.shortBytes
    if long && longFreeCount == 0 { return .tableFull }
    let e = freeHead
    freeHead = entries[Int(e)].next
    let idx = Int(e)
    var slot = longNone
    if long {
      longFreeCount -= 1
      slot = longFree[longFreeCount]
    }
    entries[idx] = Subscription(
      owner: owner, next: head, identifier: identifier, lastTurn: 0, filterCount: UInt16(filter.count),
      matchOffset: UInt16(matchOffset), options: options, longSlot: slot)
    filterBase(idx).copyMemory(from: filter.baseAddress!, byteCount: filter.count)
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
    let long = entries[Int(i)].longSlot
    if long != longNone {
      longFree[longFreeCount] = long
      longFreeCount += 1
    }
    entries[Int(i)] = Subscription(owner: subscriptionNone, next: freeHead)
    freeHead = i
    count -= 1
  }
}
