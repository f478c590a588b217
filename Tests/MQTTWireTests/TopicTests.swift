// Here's how it works: Topic.matches walks filter and name once, byte by byte. These tests
// check it three ways. (1) A table of filter/name pairs with the expected answer, taken from
// the spec's normative rules and its non-normative examples in §4.7 (`sport/tennis/player1/#`,
// `+/+` vs `/finance`, `$SYS`, ...). (2) A reference matcher written the obvious way (split
// both on "/", compare level by level, with the `$` rule on top) is compared with
// Topic.matches on every pair drawn from all short names and all short valid filters over a
// small alphabet that contains every special character. (3) Tables of valid and invalid topic
// names and filters for Topic.validateName / Topic.validateFilter, plus the properties linking
// them (a filter without wildcards is a name; every name is a filter).

import Testing

@testable import MQTTWire

private func matches(_ filter: String, _ name: String) -> Bool {
  let f = Array(filter.utf8)
  let n = Array(name.utf8)
  return f.withUnsafeBytes { fb in n.withUnsafeBytes { nb in Topic.matches(filter: fb, name: nb) } }
}

private func nameError(_ s: String) -> DecodeError? {
  Array(s.utf8).withUnsafeBytes { b -> DecodeError? in
    do throws(DecodeError) {
      try Topic.validateName(b)
      return nil
    } catch { return error }
  }
}

private func filterError(_ s: String) -> DecodeError? {
  Array(s.utf8).withUnsafeBytes { b -> DecodeError? in
    do throws(DecodeError) {
      try Topic.validateFilter(b)
      return nil
    } catch { return error }
  }
}

/// The reference matcher: split on "/" keeping empty levels, then level by level. Levels are
/// compared as bytes: Swift's String equality would apply canonical equivalence, which is
/// exactly the normalisation [MQTT-4.7.3-4] forbids.
private func referenceMatches(_ filter: String, _ name: String) -> Bool {
  let slash = UInt8(ascii: "/")
  let f = Array(filter.utf8).split(separator: slash, omittingEmptySubsequences: false).map(
    Array.init)
  let n = Array(name.utf8).split(separator: slash, omittingEmptySubsequences: false).map(Array.init)
  if name.utf8.first == UInt8(ascii: "$") && (filter.hasPrefix("+") || filter.hasPrefix("#")) {
    return false
  }
  let plus = [UInt8(ascii: "+")]
  let hash = [UInt8(ascii: "#")]
  func go(_ i: Int, _ j: Int) -> Bool {
    if i == f.count { return j == n.count }
    if f[i] == hash { return true }  // this level and below, or the parent (j == n.count)
    if j == n.count { return false }
    if f[i] == plus || f[i] == n[j] { return go(i + 1, j + 1) }
    return false
  }
  return go(0, 0)
}

/// All strings over `alphabet` of length 1...maxLength.
private func allStrings(_ alphabet: [Character], upTo maxLength: Int) -> [String] {
  var out: [String] = []
  var layer = [""]
  for _ in 1...maxLength {
    layer = layer.flatMap { s in alphabet.map { s + String($0) } }
    out += layer
  }
  return out
}

struct MatchCase: Sendable, CustomTestStringConvertible {
  let filter: String
  let name: String
  let matches: Bool
  let spec: String
  init(_ filter: String, _ name: String, _ matches: Bool, _ spec: String) {
    self.filter = filter
    self.name = name
    self.matches = matches
    self.spec = spec
  }
  var testDescription: String {
    "\(spec) \"\(filter)\" \(matches ? "matches" : "does not match") \"\(name)\""
  }
}

@Suite("Topic matching")
struct TopicMatchingTests {
  static let table: [MatchCase] = [
    // §4.7.1.2 multi-level wildcard (non-normative examples)
    MatchCase("sport/tennis/player1/#", "sport/tennis/player1", true, "[MQTT-4.7.1-2]"),
    MatchCase("sport/tennis/player1/#", "sport/tennis/player1/ranking", true, "[MQTT-4.7.1-2]"),
    MatchCase(
      "sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true, "[MQTT-4.7.1-2]"),
    MatchCase("sport/tennis/player1/#", "sport/tennis/player2", false, "[MQTT-4.7.1-2]"),
    MatchCase("sport/tennis/player1/#", "sport/tennis/player10", false, "[MQTT-4.7.1-2]"),
    MatchCase("sport/#", "sport", true, "[MQTT-4.7.1-2]"),
    MatchCase("a/#", "a", true, "[MQTT-4.7.1-2]"),
    MatchCase("a/#", "a/", true, "[MQTT-4.7.1-2]"),
    MatchCase("a/#", "a/b/c", true, "[MQTT-4.7.1-2]"),
    MatchCase("a/#", "ab", false, "[MQTT-4.7.1-2]"),
    MatchCase("a/#", "b", false, "[MQTT-4.7.1-2]"),
    MatchCase("a/b/#", "a", false, "[MQTT-4.7.1-2]"),
    MatchCase("#", "a", true, "[MQTT-4.7.1-2]"),
    MatchCase("#", "a/b/c", true, "[MQTT-4.7.1-2]"),
    MatchCase("#", "/", true, "[MQTT-4.7.1-2]"),
    MatchCase("#", "/finance", true, "[MQTT-4.7.1-2]"),
    MatchCase("/#", "/", true, "[MQTT-4.7.1-2]"),
    MatchCase("/#", "a", false, "[MQTT-4.7.1-2]"),
    MatchCase("+/#", "a", true, "[MQTT-4.7.1-2]"),
    MatchCase("a/+/#", "a", false, "[MQTT-4.7.1-2]"),
    MatchCase("a/+/#", "a/b", true, "[MQTT-4.7.1-2]"),
    // §4.7.1.3 single-level wildcard (non-normative examples)
    MatchCase("sport/tennis/+", "sport/tennis/player1", true, "[MQTT-4.7.1-3]"),
    MatchCase("sport/tennis/+", "sport/tennis/player2", true, "[MQTT-4.7.1-3]"),
    MatchCase("sport/tennis/+", "sport/tennis/player1/ranking", false, "[MQTT-4.7.1-3]"),
    MatchCase("sport/+", "sport", false, "[MQTT-4.7.1-3]"),
    MatchCase("sport/+", "sport/", true, "[MQTT-4.7.1-3]"),
    MatchCase("+/+", "/finance", true, "[MQTT-4.7.1-3]"),
    MatchCase("/+", "/finance", true, "[MQTT-4.7.1-3]"),
    MatchCase("+", "/finance", false, "[MQTT-4.7.1-3]"),
    MatchCase("+", "finance", true, "[MQTT-4.7.1-3]"),
    MatchCase("+/+", "/", true, "[MQTT-4.7.1-3]"),  // two empty levels
    MatchCase("+", "/", false, "[MQTT-4.7.1-3]"),
    MatchCase("a/+/c", "a//c", true, "[MQTT-4.7.1-3]"),  // "+" matches an empty level
    MatchCase("a/+", "a/b/", false, "[MQTT-4.7.1-3]"),
    MatchCase("+/b", "a/b", true, "[MQTT-4.7.1-3]"),
    MatchCase("+/+/+", "a/b", false, "[MQTT-4.7.1-3]"),
    MatchCase("a/+/+", "a/b/c", true, "[MQTT-4.7.1-3]"),
    // §4.7.2 topics beginning with $
    MatchCase("#", "$SYS", false, "[MQTT-4.7.2-1]"),
    MatchCase("#", "$SYS/broker/uptime", false, "[MQTT-4.7.2-1]"),
    MatchCase("+/monitor/Clients", "$SYS/monitor/Clients", false, "[MQTT-4.7.2-1]"),
    MatchCase("+", "$", false, "[MQTT-4.7.2-1]"),
    MatchCase("+/#", "$SYS", false, "[MQTT-4.7.2-1]"),
    MatchCase("$SYS/#", "$SYS/monitor/Clients", true, "[MQTT-4.7.2-1]"),
    MatchCase("$SYS/#", "$SYS", true, "[MQTT-4.7.2-1]"),
    MatchCase("$SYS/monitor/+", "$SYS/monitor/Clients", true, "[MQTT-4.7.2-1]"),
    MatchCase("$SYS", "$SYS", true, "[MQTT-4.7.2-1]"),
    MatchCase("#", "a/$SYS", true, "[MQTT-4.7.2-1]"),  // only a leading $ is special
    MatchCase("+/$SYS", "a/$SYS", true, "[MQTT-4.7.2-1]"),
    MatchCase("+/#", "/$SYS", true, "[MQTT-4.7.2-1]"),
    // §4.7.3 literal levels: case-sensitive, no normalisation, "/" is significant
    MatchCase("ACCOUNTS", "Accounts", false, "[MQTT-4.7.3-4]"),
    MatchCase("Accounts payable", "Accounts payable", true, "[MQTT-4.7.3-4]"),
    MatchCase("/finance", "finance", false, "§4.7.3"),
    MatchCase("finance", "/finance", false, "§4.7.3"),
    MatchCase("a/b", "a/b", true, "§4.7.3"),
    MatchCase("a/b", "a/b/", false, "§4.7.3"),
    MatchCase("a/b/", "a/b", false, "§4.7.3"),
    MatchCase("a//", "a//", true, "§4.7.3"),
    MatchCase("a//", "a/", false, "§4.7.3"),
    MatchCase("a/", "a", false, "§4.7.3"),
    MatchCase("ab", "abc", false, "§4.7.3"),
    MatchCase("abc", "ab", false, "§4.7.3"),
    MatchCase("a/b", "a", false, "§4.7.3"),
    MatchCase("a", "a/b", false, "§4.7.3"),
    MatchCase("t/é/€", "t/é/€", true, "[MQTT-4.7.3-4]"),
    MatchCase("t/+/€", "t/é/€", true, "[MQTT-4.7.3-4]"),
    MatchCase("t/e\u{301}", "t/é", false, "[MQTT-4.7.3-4]"),  // no Unicode normalisation
  ]

  @Test("spec examples", arguments: table)
  func specExamples(_ c: MatchCase) {
    #expect(matches(c.filter, c.name) == c.matches)
    #expect(
      referenceMatches(c.filter, c.name) == c.matches,
      "the reference matcher disagrees with the table")
  }

  @Test("agrees with a split-based reference matcher on every short name and filter")
  func agreesWithReference() {
    let names = allStrings(["a", "b", "/", "$"], upTo: 4).filter { nameError($0) == nil }
    let filters = allStrings(["a", "/", "+", "#", "$"], upTo: 4).filter { filterError($0) == nil }
    #expect(names.count == 340)
    #expect(filters.count > 100)
    var checked = 0
    var matched = 0
    for f in filters {
      for n in names {
        let got = matches(f, n)
        let want = referenceMatches(f, n)
        if got != want {
          Issue.record("\"\(f)\" vs \"\(n)\": matches says \(got), reference says \(want)")
          return
        }
        checked += 1
        if got { matched += 1 }
      }
    }
    #expect(checked == names.count * filters.count)
    #expect(matched > 1000, "the generated pairs should exercise matches too")
  }

  @Test("a name without wildcards matches itself, and \"#\" matches every non-$ name")
  func reflexive() {
    for n in allStrings(["a", "/", "$"], upTo: 5) {
      #expect(matches(n, n), "\"\(n)\"")
      #expect(matches("#", n) == !n.hasPrefix("$"), "\"#\" vs \"\(n)\"")
    }
  }
}

@Suite("Topic validation")
struct TopicValidationTests {
  @Test(
    "valid topic names [MQTT-4.7.3-1]",
    arguments: [
      "a", "/", "//", "a/b", "/finance", "a//b", "$SYS/x", "$", " ", "Accounts payable", "é/€",
      "a/b/",
    ])
  func validNames(_ name: String) {
    #expect(nameError(name) == nil)
    #expect(filterError(name) == nil, "a topic name is also a valid filter")
  }

  @Test(
    "invalid topic names [MQTT-3.3.2-2] [MQTT-4.7.1-1] [MQTT-4.7.3-1]",
    arguments: [
      ("", DecodeError.emptyTopic), ("+", .wildcardInTopicName), ("#", .wildcardInTopicName),
      ("a/+", .wildcardInTopicName), ("a/#", .wildcardInTopicName), ("a+b", .wildcardInTopicName),
      ("sport/tennis#", .wildcardInTopicName), ("+/x", .wildcardInTopicName),
    ])
  func invalidNames(_ name: String, _ error: DecodeError) {
    #expect(nameError(name) == error)
  }

  @Test(
    "valid topic filters [MQTT-4.7.1-2] [MQTT-4.7.1-3]",
    arguments: [
      "#", "+", "/", "//", "+/+", "/+", "+/", "a/#", "a/+/b", "+/#", "/#", "+/+/#", "$SYS/#",
      "sport/tennis/player1/#", "sport/+/player1", "a//#", "+//+", "a/b",
    ])
  func validFilters(_ filter: String) {
    #expect(filterError(filter) == nil)
  }

  @Test(
    "invalid topic filters [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.3-1]",
    arguments: [
      ("", DecodeError.invalidTopicFilter), ("a/#/b", .invalidTopicFilter), ("a#", .invalidTopicFilter),
      ("+a", .invalidTopicFilter), ("a/b+", .invalidTopicFilter), ("##", .invalidTopicFilter),
      ("#/", .invalidTopicFilter), ("a/#/", .invalidTopicFilter),
      ("sport/tennis#", .invalidTopicFilter),
      ("sport+", .invalidTopicFilter), ("++", .invalidTopicFilter), ("+#", .invalidTopicFilter),
      ("#+", .invalidTopicFilter), ("a/++", .invalidTopicFilter), ("#/#", .invalidTopicFilter),
      ("a/+b/c", .invalidTopicFilter),
    ])
  func invalidFilters(_ filter: String, _ error: DecodeError) {
    #expect(filterError(filter) == error)
  }

  @Test("filter validation agrees with a per-level reference on every short string")
  func filterReference() {
    func reference(_ s: String) -> Bool {
      if s.isEmpty { return false }
      let levels = s.split(separator: "/", omittingEmptySubsequences: false)
      for (i, level) in levels.enumerated() {
        if level.contains("#") && (level != "#" || i != levels.count - 1) { return false }
        if level.contains("+") && level != "+" { return false }
      }
      return true
    }
    for s in allStrings(["a", "/", "+", "#"], upTo: 5) {
      #expect((filterError(s) == nil) == reference(s), "\"\(s)\"")
      #expect((nameError(s) == nil) == !(s.contains("+") || s.contains("#")), "\"\(s)\"")
    }
  }
}
