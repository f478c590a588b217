// Topic names and filters (§4.7). Topics are bytes: levels are separated by '/', '+' matches
// exactly one level, '#' matches the parent level and any number of levels below it, and a
// topic starting with '$' is never matched by a filter whose first character is a wildcard
// [MQTT-4.7.2-1]. Matching walks both strings once: O(length), no allocation.

public enum Topic {
  @usableFromInline static let slash: UInt8 = 0x2F  // '/'
  @usableFromInline static let plus: UInt8 = 0x2B  // '+'
  @usableFromInline static let hash: UInt8 = 0x23  // '#'
  @usableFromInline static let dollar: UInt8 = 0x24  // '$'

  /// A PUBLISH topic name: non-empty [MQTT-4.7.3-1] with no wildcard [MQTT-3.3.2-2].
  /// UTF-8 was checked when the string was read.
  @inlinable
  public static func validateName(_ name: UnsafeRawBufferPointer) throws(DecodeError) {
    if name.count == 0 { throw .emptyTopic }
    for b in name where b == plus || b == hash { throw .wildcardInTopicName }
  }

  /// A SUBSCRIBE/UNSUBSCRIBE topic filter: non-empty [MQTT-4.7.3-1]; '#' only as the last
  /// character and alone in its level [MQTT-4.7.1-2]; '+' alone in its level [MQTT-4.7.1-3].
  /// Each is an invalid filter (MQTT 5: 0x8F Topic Filter invalid).
  @inlinable
  public static func validateFilter(_ filter: UnsafeRawBufferPointer) throws(DecodeError) {
    let n = filter.count
    if n == 0 { throw .invalidTopicFilter }
    var i = 0
    while i < n {
      let b = filter[i]
      if b == hash || b == plus {
        let startsLevel = i == 0 || filter[i - 1] == slash
        let endsLevel = i == n - 1 || filter[i + 1] == slash
        if !startsLevel || !endsLevel { throw .invalidTopicFilter }
        if b == hash && i != n - 1 { throw .invalidTopicFilter }
      }
      i += 1
    }
  }

  /// MQTT 5 subscription filter: either a plain filter or `$share/{ShareName}/{filter}`, where
  /// ShareName is non-empty and holds no '/', '+' or '#' [MQTT-4.8.2-1] and is followed by a
  /// valid, non-empty filter [MQTT-4.8.2-2]. Returns whether the filter is shared.
  @discardableResult
  public static func validateSubscriptionFilter(_ filter: UnsafeRawBufferPointer) throws(DecodeError) -> Bool {
    guard let shared = try sharedSubscription(filter) else {
      try validateFilter(filter)
      return false
    }
    if shared.filter.count == 0 { throw .invalidSharedSubscription }
    try validateFilter(shared.filter)
    return true
  }

  /// Splits `$share/{ShareName}/{filter}`; nil when `filter` is not a shared subscription.
  public static func sharedSubscription(_ filter: UnsafeRawBufferPointer) throws(DecodeError)
    -> (group: UnsafeRawBufferPointer, filter: UnsafeRawBufferPointer)?
  {
    let prefix: StaticString = "$share/"
    let n = prefix.utf8CodeUnitCount
    guard filter.count >= n, filter.slice(0, n).bytesEqual(prefix) else {
      // "$share" alone, or "$share" followed by anything but '/', is an ordinary filter.
      return nil
    }
    var i = n
    while i < filter.count && filter[i] != slash {
      if filter[i] == plus || filter[i] == hash { throw .invalidSharedSubscription }  // [MQTT-4.8.2-1]
      i += 1
    }
    if i == n || i == filter.count { throw .invalidSharedSubscription }  // empty name or no filter
    return (filter.slice(n, i - n), filter.slice(i + 1, filter.count - i - 1))
  }

  /// Whether `filter` (valid) matches `name` (valid).
  @inlinable
  public static func matches(filter: UnsafeRawBufferPointer, name: UnsafeRawBufferPointer) -> Bool {
    let fn = filter.count
    let tn = name.count
    if tn > 0 && name[0] == dollar && fn > 0 && (filter[0] == plus || filter[0] == hash) {
      return false  // [MQTT-4.7.2-1]
    }
    var f = 0
    var t = 0
    while f < fn {
      let fb = filter[f]
      if fb == hash {
        return true  // matches this level and everything below (or the parent, see below)
      }
      if fb == plus {
        // Consume one whole level of the name (possibly empty).
        while t < tn && name[t] != slash { t += 1 }
        f += 1
      } else {
        // Literal level: compare byte by byte up to the next '/'.
        while f < fn && filter[f] != slash {
          if t >= tn || name[t] != filter[f] { return false }
          f += 1
          t += 1
        }
        if t < tn && name[t] != slash { return false }
      }
      // Both are now at a level boundary (or the end).
      if f == fn { return t == tn }
      // filter[f] == '/'
      if t == tn {
        // The name ended; "a/#" matches "a" (the parent level) [MQTT-4.7.1-2] (its example).
        return f + 2 == fn && filter[f + 1] == hash
      }
      f += 1
      t += 1
    }
    return t == tn
  }
}
