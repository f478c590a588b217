// The access control list: an acl_file in mosquitto's syntax, parsed in place (records are
// offsets into the file's bytes, which stay in a region of the memory plan). Checks allocate
// nothing: `pattern` substitutions (%c, %u) are expanded while matching, byte by byte.
//
// Syntax (mosquitto.conf(5), acl_file):
//   topic [read|write|readwrite|deny] TOPIC   no access word: readwrite; TOPIC is the rest of
//                                             the line and may contain spaces
//   user NAME                                 the topic lines after it are NAME's
//   pattern [read|write|readwrite|deny] TOPIC for every client; %c = client id, %u = user name
//   '#' at the start of a line: a comment
// Semantics, as Mosquitto 2.0 (security_default.c):
//   - topic lines before the first `user` line apply to anonymous clients only; a client
//     with a user name gets its `user` section (none: no topic lines at all);
//   - with an acl_file, whatever no line grants is denied;
//   - within the client's topic lines, then within the patterns: a matching `deny` denies,
//     else a matching line granting the access allows; deny lines are tried first;
//   - a line whose topic does not start with '$' never matches a topic that does;
//   - patterns are skipped for a client whose id or user name contains '+' or '#' (it could
//     widen its own patterns), and a pattern with %u for a client without a user name.
// Beyond Mosquitto 2.0 (which grants every SUBSCRIBE and filters at delivery): a SUBSCRIBE is
// refused when a deny line covers its whole filter or no line granting read overlaps it.
// Delivery is still checked per message and per subscriber.

public enum AclAccess: UInt8 {
  case deny = 0
  case read = 1
  case write = 2
  case readwrite = 3
}

public struct AclRecord {
  public enum Kind: UInt8 { case user, topic, pattern }
  public var kind: Kind = .topic
  public var access: AclAccess = .readwrite
  public var start: UInt32 = 0
  public var count: UInt32 = 0
  public init() {}
}

public struct AclTable {
  public let text: UnsafeRawBufferPointer
  public let records: UnsafeBufferPointer<AclRecord>

  public static func parse(
    _ text: UnsafeRawBufferPointer, into storage: UnsafeMutableBufferPointer<AclRecord>
  ) throws(AuthFileError) -> AclTable {
    var count = 0
    var lines = AuthLines(text)
    while let line = lines.next() {
      let lineNumber = line.number
      let stop = line.end
      var i = line.start
      var r = AclRecord()
      let wordStart = i
      while i < stop && !isSpace(text[i]) { i += 1 }
      let wordEnd = i
      let word = UnsafeRawBufferPointer(rebasing: text[wordStart..<i])
      while i < stop && isSpace(text[i]) { i += 1 }
      if equal(word, "user") {
        r.kind = .user
      } else if equal(word, "topic") {
        r.kind = .topic
      } else if equal(word, "pattern") {
        r.kind = .pattern
      } else {
        throw AuthFileError(line: lineNumber, "unknown keyword", subjectStart: wordStart, subjectCount: wordEnd - wordStart)
      }
      if r.kind != .user {
        // An access word is optional; what follows is the topic.
        var j = i
        while j < stop && !isSpace(text[j]) { j += 1 }
        let access = UnsafeRawBufferPointer(rebasing: text[i..<j])
        var k = j
        while k < stop && isSpace(text[k]) { k += 1 }
        var known = true
        if equal(access, "read") {
          r.access = .read
        } else if equal(access, "write") {
          r.access = .write
        } else if equal(access, "readwrite") {
          r.access = .readwrite
        } else if equal(access, "deny") {
          r.access = .deny
        } else {
          known = false
        }
        if known && k < stop { i = k }
      }
      guard i < stop else { throw AuthFileError(line: lineNumber, "missing topic or user name") }
      r.start = UInt32(i)
      r.count = UInt32(stop - i)
      if r.kind != .user && !validFilter(UnsafeRawBufferPointer(rebasing: text[i..<stop])) {
        throw AuthFileError(line: lineNumber, "invalid topic filter", subjectStart: i, subjectCount: stop - i)
      }
      guard count < storage.count else { throw AuthFileError(line: lineNumber, "more lines than max_acl_rules") }
      storage[count] = r
      count += 1
    }
    return AclTable(text: text, records: UnsafeBufferPointer(rebasing: storage[0..<count]))
  }

  static func isSpace(_ b: UInt8) -> Bool { AuthLines.isBlank(b) }

  static func equal(_ a: UnsafeRawBufferPointer, _ lit: StaticString) -> Bool {
    guard a.count == lit.utf8CodeUnitCount else { return false }
    var i = 0
    while i < a.count {
      if a[i] != lit.utf8Start[i] { return false }
      i += 1
    }
    return true
  }

  /// '+' and '#' only as whole levels, '#' only last; not empty.
  static func validFilter(_ f: UnsafeRawBufferPointer) -> Bool {
    guard f.count > 0 else { return false }
    var i = 0
    while i < f.count {
      let b = f[i]
      if b == 0x2B || b == 0x23 {
        if i > 0 && f[i - 1] != 0x2F { return false }
        if i + 1 < f.count && f[i + 1] != 0x2F { return false }
        if b == 0x23 && i + 1 != f.count { return false }
      }
      i += 1
    }
    return true
  }

  func bytes(_ r: AclRecord) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(rebasing: text[Int(r.start)..<Int(r.start) + Int(r.count)])
  }

  /// The records of the client's section: [from, to).
  func section(user: UnsafeRawBufferPointer?) -> (Int, Int) {
    var i = 0
    if let user {
      while i < records.count {
        if records[i].kind == .user && bytes(records[i]).elementsEqual(user) {
          var j = i + 1
          while j < records.count && records[j].kind != .user { j += 1 }
          return (i + 1, j)
        }
        i += 1
      }
      return (0, 0)
    }
    while i < records.count && records[i].kind != .user { i += 1 }
    return (0, i)
  }

  static func hasWildcard(_ b: UnsafeRawBufferPointer?) -> Bool {
    guard let b else { return false }
    for c in b where c == 0x2B || c == 0x23 { return true }
    return false
  }

  static func hasUserSubstitution(_ f: UnsafeRawBufferPointer) -> Bool {
    var i = 0
    while i + 1 < f.count {
      if f[i] == 0x25 && f[i + 1] == 0x75 { return true }
      i += 1
    }
    return false
  }

  /// Whether a client may publish to (`.write`) or receive (`.read`) the topic `topic`.
  public func allows(
    _ access: AclAccess, topic: UnsafeRawBufferPointer, client: UnsafeRawBufferPointer, user: UnsafeRawBufferPointer?
  ) -> Bool {
    check(access, topic, client, user, subscribe: false)
  }

  /// Whether a client may subscribe to `filter` (see the file header).
  public func allowsSubscribe(
    _ filter: UnsafeRawBufferPointer, client: UnsafeRawBufferPointer, user: UnsafeRawBufferPointer?
  ) -> Bool {
    check(.read, filter, client, user, subscribe: true)
  }

  func check(
    _ access: AclAccess, _ topic: UnsafeRawBufferPointer, _ client: UnsafeRawBufferPointer,
    _ user: UnsafeRawBufferPointer?, subscribe: Bool
  ) -> Bool {
    let (from, to) = section(user: user)
    let none = UnsafeRawBufferPointer(start: nil, count: 0)
    if let verdict = pass(access, topic, none, none, from, to, kind: .topic, subscribe: subscribe) { return verdict }
    if AclTable.hasWildcard(client) || AclTable.hasWildcard(user) { return false }
    if let verdict = pass(
      access, topic, client, user ?? none, 0, records.count, kind: .pattern, subscribe: subscribe, anonymous: user == nil)
    {
      return verdict
    }
    return false
  }

  /// One pass over the records of `kind` in [from, to): deny lines first, then grants.
  func pass(
    _ access: AclAccess, _ topic: UnsafeRawBufferPointer, _ client: UnsafeRawBufferPointer,
    _ user: UnsafeRawBufferPointer, _ from: Int, _ to: Int, kind: AclRecord.Kind, subscribe: Bool,
    anonymous: Bool = false
  ) -> Bool? {
    let dollar = topic.count > 0 && topic[0] == 0x24
    var round = 0
    while round < 2 {
      var i = from
      while i < to {
        let r = records[i]
        i += 1
        guard r.kind == kind, (r.access == .deny) == (round == 0) else { continue }
        let f = bytes(r)
        if dollar && f[0] != 0x24 { continue }
        if kind == .pattern && anonymous && AclTable.hasUserSubstitution(f) { continue }
        var rule = Expanded(filter: f, client: client, user: user)
        if round == 0 {
          let hit = subscribe ? covers(&rule, topic) : matches(&rule, topic)
          if hit { return false }
        } else if r.access.rawValue & access.rawValue != 0 {
          let hit = subscribe ? overlaps(&rule, topic) : matches(&rule, topic)
          if hit { return true }
        }
      }
      round += 1
    }
    return nil
  }
}

/// The bytes of a rule's filter with %c and %u replaced, one at a time.
struct Expanded {
  let filter: UnsafeRawBufferPointer
  let client: UnsafeRawBufferPointer
  let user: UnsafeRawBufferPointer
  var i = 0
  var sub: UnsafeRawBufferPointer? = nil
  var j = 0

  init(filter: UnsafeRawBufferPointer, client: UnsafeRawBufferPointer, user: UnsafeRawBufferPointer) {
    self.filter = filter
    self.client = client
    self.user = user
  }

  mutating func next() -> UInt8? {
    while true {
      if let s = sub {
        if j < s.count {
          j += 1
          return s[j - 1]
        }
        sub = nil
      }
      guard i < filter.count else { return nil }
      let b = filter[i]
      if b == 0x25 && i + 1 < filter.count && (filter[i + 1] == 0x63 || filter[i + 1] == 0x75) {
        sub = filter[i + 1] == 0x63 ? client : user
        j = 0
        i += 2
        continue
      }
      i += 1
      return b
    }
  }
}

/// MQTT filter matching [MQTT-4.7.1-1..3] over an expanded rule and a topic name.
func matches(_ rule: inout Expanded, _ topic: UnsafeRawBufferPointer) -> Bool {
  var t = 0
  while true {
    guard let f = rule.next() else { return t == topic.count }
    if f == 0x23 { return true }  // '#': the rest, parent level included
    if f == 0x2B {
      while t < topic.count && topic[t] != 0x2F { t += 1 }
      continue
    }
    if t < topic.count && topic[t] == f {
      t += 1
      continue
    }
    // "a/#" also matches "a" [MQTT-4.7.1-2].
    if f == 0x2F && t == topic.count {
      return rule.next() == 0x23 && rule.next() == nil
    }
    return false
  }
}

enum Level { case literal, plus }

func isLevel(_ l: UnsafeRawBufferPointer, _ b: UInt8) -> Bool { l.count == 1 && l[0] == b }

/// Whether every topic matching `filter` matches the rule (the rule covers the filter).
func covers(_ rule: inout Expanded, _ filter: UnsafeRawBufferPointer) -> Bool {
  var t: Int? = 0
  while true {
    guard let first = rule.next() else { return t == nil }
    if first == 0x23 { return true }  // '#' covers the rest
    guard let at = t else { return false }  // the rule is longer than the filter
    let e = levelEnd(filter, at)
    let level = UnsafeRawBufferPointer(rebasing: filter[at..<e])
    if isLevel(level, 0x23) { return false }  // only '#' covers '#'
    let r = rule.consumeLevel(first: first, against: level)
    if r.kind == .literal && (isLevel(level, 0x2B) || !r.equal) { return false }
    t = e < filter.count ? e + 1 : nil
    if !r.more { return t == nil }
  }
}

/// Whether some topic matches both the rule and `filter`.
func overlaps(_ rule: inout Expanded, _ filter: UnsafeRawBufferPointer) -> Bool {
  var t: Int? = 0
  while true {
    guard let first = rule.next() else {
      // The rule ended: the filter must end too, or go on with just "#".
      guard let at = t else { return true }
      return at + 1 == filter.count && filter[at] == 0x23
    }
    if first == 0x23 { return true }
    guard let at = t else { return false }
    let e = levelEnd(filter, at)
    let level = UnsafeRawBufferPointer(rebasing: filter[at..<e])
    if isLevel(level, 0x23) { return true }
    let r = rule.consumeLevel(first: first, against: level)
    if r.kind == .literal && !isLevel(level, 0x2B) && !r.equal { return false }
    t = e < filter.count ? e + 1 : nil
    if !r.more {
      guard let at2 = t else { return true }
      return at2 + 1 == filter.count && filter[at2] == 0x23
    }
  }
}

func levelEnd(_ f: UnsafeRawBufferPointer, _ from: Int) -> Int {
  var e = from
  while e < f.count && f[e] != 0x2F { e += 1 }
  return e
}

struct LevelResult {
  var kind: Level
  var equal: Bool
  /// A '/' followed: the rule has another level.
  var more: Bool
}

extension Expanded {
  /// Consumes the rest of the rule's current level (its first byte already read) and its '/'.
  mutating func consumeLevel(first: UInt8, against level: UnsafeRawBufferPointer) -> LevelResult {
    var result = LevelResult(kind: .literal, equal: true, more: false)
    var b: UInt8? = first
    var n = 0
    if first == 0x2B { result.kind = .plus }
    while let c = b, c != 0x2F {
      if result.kind == .literal {
        if n >= level.count || level[n] != c { result.equal = false }
      }
      n += 1
      b = next()
    }
    if result.kind == .literal && n != level.count { result.equal = false }
    result.more = b == 0x2F
    return result
  }
}
