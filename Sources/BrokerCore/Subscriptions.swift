// The subscription table: a fixed array of entries, each owning one stored filter. A filter
// of up to 64 bytes (most are) lives in the entry's short slot; a longer one, up to
// max_topic_length, takes one of the fewer long slots (max_subscriptions / 8). So an idle
// client's subscription costs 64 + 28 bytes, not max_topic_length. Entries of one session are linked so that removing a session's
// subscriptions touches only them; free entries form a free list. A shared subscription
// ($share/group/filter) is stored whole; `matchOffset` is where its filter starts.
// Matching: a filter without wildcards (most are) is found through a hash index of exact
// filters (buckets of entry chains; one hash of the topic and a walk of one bucket per
// publish), and only the wildcard and shared filters are scanned with Topic.matches
// (`forEachMatch`). Buckets hold entry + 1 (0 = empty); there is one per subscription
// (rounded up to a power of two), 4 bytes each, in the plan as "subscription index".
import Bounded
import MQTTWire

let subscriptionNone: UInt32 = .max

/// FNV-1a, 32 bits: the hash of the subscription and session indexes.
func fnv1a(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
  var h: UInt32 = 2_166_136_261
  for b in bytes { h = (h ^ UInt32(b)) &* 16_777_619 }
  return h
}

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
  /// Neighbours in the entry's match list: its hash bucket's chain (exact filters) or the
  /// list of wildcard and shared filters.
  var matchNext: UInt32 = subscriptionNone
  var matchPrev: UInt32 = subscriptionNone
  /// Whether the entry is in the wildcard/shared list (else in a hash bucket).
  var scanned = false
  var shared: Bool { matchOffset != 0 }
}

let longNone: UInt32 = .max

struct SubscriptionTable {
  static let shortBytes = 64
  let entries: UnsafeMutableBufferPointer<Subscription>
  let shortFilters: UnsafeMutableRawPointer
  let longFilters: UnsafeMutableRawPointer
  /// Released long slots (a stack of `longReleased`); slots [longFresh, longFree.count) were
  /// never used.
  let longFree: UnsafeMutableBufferPointer<UInt32>
  var longReleased = 0
  var longFresh = 0
  var longFreeCount: Int { longReleased + longFree.count - longFresh }
  let filterBytesMax: Int
  /// Released entries (linked through `next`), reused first.
  var freeHead: UInt32 = subscriptionNone
  /// Entries [0, highWater) have been used at least once (scans stop there); the others were
  /// never touched and read as zero.
  var highWater = 0
  var count = 0
  /// Hash index of exact filters: a power-of-two count of chain heads, entry + 1 (0 = empty).
  let buckets: UnsafeMutableBufferPointer<UInt32>
  /// Head of the list of wildcard and shared filters.
  var scanHead: UInt32 = subscriptionNone

  /// Buckets for `subscriptions` entries: the power of two at or above it (at least 1).
  static func bucketCount(_ subscriptions: Int) -> Int {
    var n = 1
    while n < subscriptions { n <<= 1 }
    return n
  }

  init(
    entries: UnsafeMutableBufferPointer<Subscription>, shortFilters: UnsafeMutableRawPointer,
    longFilters: UnsafeMutableRawPointer, longFree: UnsafeMutableBufferPointer<UInt32>, filterBytesMax: Int,
    buckets: UnsafeMutableBufferPointer<UInt32>
  ) {
    precondition(buckets.count > 0 && buckets.count & (buckets.count - 1) == 0, "bucket count a power of two")
    self.buckets = buckets  // every bucket empty: the arena reads as zero
    self.entries = entries
    self.shortFilters = shortFilters
    self.longFilters = longFilters
    self.longFree = longFree
    self.filterBytesMax = filterBytesMax
    precondition(UInt64(entries.count) < UInt64(subscriptionNone), "subscription table shape")
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

  /// FNV-1a of the bytes, reduced to a bucket.
  func bucket(_ bytes: UnsafeRawBufferPointer) -> Int { Int(fnv1a(bytes) & UInt32(buckets.count - 1)) }  // masked in UInt32: Int is 32 bits on armv7

  /// Calls `body` with every entry whose filter matches the topic name: the exact filters
  /// equal to it (one bucket) and the wildcard and shared filters that match it.
  func forEachMatch(_ topic: UnsafeRawBufferPointer, _ body: (Int) -> Void) {
    var e = buckets[bucket(topic)]
    var i = e == 0 ? subscriptionNone : e - 1
    while i != subscriptionNone {
      let ix = Int(i)
      if Int(entries[ix].filterCount) == topic.count && filter(ix).bytesEqual(topic) { body(ix) }
      i = entries[ix].matchNext
    }
    e = scanHead
    while e != subscriptionNone {
      let ix = Int(e)
      if Topic.matches(filter: matchFilter(ix), name: topic) { body(ix) }
      e = entries[ix].matchNext
    }
  }

  private mutating func link(_ i: UInt32) {
    let ix = Int(i)
    let f = matchFilter(ix)
    var wild = entries[ix].shared
    for b in f where b == UInt8(ascii: "+") || b == UInt8(ascii: "#") { wild = true }
    entries[ix].scanned = wild
    entries[ix].matchPrev = subscriptionNone
    if wild {
      entries[ix].matchNext = scanHead
      if scanHead != subscriptionNone { entries[Int(scanHead)].matchPrev = i }
      scanHead = i
    } else {
      let b = bucket(f)
      let head = buckets[b] == 0 ? subscriptionNone : buckets[b] - 1
      entries[ix].matchNext = head
      if head != subscriptionNone { entries[Int(head)].matchPrev = i }
      buckets[b] = i + 1
    }
  }

  private mutating func unlink(_ i: UInt32) {
    let ix = Int(i)
    let next = entries[ix].matchNext
    let prev = entries[ix].matchPrev
    if next != subscriptionNone { entries[Int(next)].matchPrev = prev }
    if prev != subscriptionNone {
      entries[Int(prev)].matchNext = next
    } else if entries[ix].scanned {
      scanHead = next
    } else {
      buckets[bucket(matchFilter(ix))] = next == subscriptionNone ? 0 : next + 1
    }
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
    guard freeHead != subscriptionNone || highWater < entries.count else { return .tableFull }
    let long = filter.count > SubscriptionTable.shortBytes
    if long && longFreeCount == 0 { return .tableFull }
    let e: UInt32
    if freeHead != subscriptionNone {
      e = freeHead
      freeHead = entries[Int(e)].next
    } else {
      e = UInt32(highWater)
    }
    let idx = Int(e)
    var slot = longNone
    if long {
      if longReleased > 0 {
        longReleased -= 1
        slot = longFree[longReleased]
      } else {
        slot = UInt32(longFresh)
        longFresh += 1
      }
    }
    entries[idx] = Subscription(
      owner: owner, next: head, identifier: identifier, lastTurn: 0, filterCount: UInt16(filter.count),
      matchOffset: UInt16(matchOffset), options: options, longSlot: slot)
    filterBase(idx).copyMemory(from: filter.baseAddress!, byteCount: filter.count)
    link(e)
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
    unlink(i)
    let long = entries[Int(i)].longSlot
    if long != longNone {
      longFree[longReleased] = long
      longReleased += 1
    }
    entries[Int(i)] = Subscription(owner: subscriptionNone, next: freeHead)
    freeHead = i
    count -= 1
  }
}
