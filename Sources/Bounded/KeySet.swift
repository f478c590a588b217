// A fixed set of non-zero 64-bit keys: open addressing with linear probing over storage
// reserved at startup, at most half full, so a probe is short. Removal shifts the following
// entries of the probe run back (no tombstones), so the table never degrades over time.
public struct KeySet {
  let slots: UnsafeMutableBufferPointer<UInt64>
  /// The most keys it holds: half its slots.
  public let capacity: Int
  public private(set) var count = 0

  /// Slots for `capacity` keys: a power of two at least twice as many (0 for none).
  public static func slotCount(_ capacity: Int) -> Int {
    guard capacity > 0 else { return 0 }
    var n = 2
    while n < 2 * capacity { n <<= 1 }
    return n
  }

  /// `slots` must hold `slotCount(capacity)` entries, all zero (empty); the arena reads as
  /// zero, so they are not written here and stay untouched until keys arrive.
  public init(zeroedSlots slots: UnsafeMutableBufferPointer<UInt64>, capacity: Int) {
    precondition(slots.count == KeySet.slotCount(capacity), "key set storage does not match its capacity")
    self.slots = slots
    self.capacity = capacity
  }

  public var isFull: Bool { count >= capacity }

  public func contains(_ key: UInt64) -> Bool {
    find(key) != nil
  }

  /// Adds `key`; false when the set is full (a key already present is not added twice).
  public mutating func insert(_ key: UInt64) -> Bool {
    precondition(key != 0, "0 marks an empty slot")
    if find(key) != nil { return true }
    guard count < capacity else { return false }
    var i = home(key)
    while slots[i] != 0 { i = (i + 1) & mask }
    slots[i] = key
    count += 1
    return true
  }

  /// Removes `key`; false when it was not there.
  @discardableResult
  public mutating func remove(_ key: UInt64) -> Bool {
    guard var hole = find(key) else { return false }
    slots[hole] = 0
    count -= 1
    // Backward shift: move up every later key of the run whose home is not in (hole, i].
    var i = (hole + 1) & mask
    while slots[i] != 0 {
      let h = home(slots[i])
      let between = hole <= i ? (hole < h && h <= i) : (hole < h || h <= i)
      if !between {
        slots[hole] = slots[i]
        slots[i] = 0
        hole = i
      }
      i = (i + 1) & mask
    }
    return true
  }

  /// Removes every key for which `matches` is true (a whole-table walk: for rare events).
  public mutating func removeAll(where matches: (UInt64) -> Bool) {
    var i = 0
    while i < slots.count {
      let key = slots[i]
      if key != 0 && matches(key) {
        remove(key)  // may shift a later key into slot i: look at it again
        continue
      }
      i += 1
    }
  }

  var mask: Int { slots.count - 1 }

  func home(_ key: UInt64) -> Int {
    // Fibonacci hashing: the high bits of key x 2^64/phi spread consecutive ids.
    Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
  }

  func find(_ key: UInt64) -> Int? {
    guard count > 0 else { return nil }
    var i = home(key)
    while slots[i] != 0 {
      if slots[i] == key { return i }
      i = (i + 1) & mask
    }
    return nil
  }
}
