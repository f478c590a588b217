// Method: the key table (ConfigKey.all) is the one source of each key's name, range and
// default. These tests derive the README's key tables, the parser's range checks,
// Limits.verify and `--help-config` from it and check that they agree: every key in a README
// table exists and every key is in one; a default the README writes as a number or a flag is
// the built-in one; each numeric key accepts its bounds and refuses one past them, in the
// parser and in verify.
import Foundation
import Testing

@testable import BrokerCore
@testable import MidgeConfig

/// README rows of the key tables (a header "| key | default..."): each row's key names (the
/// first word of every code span in the first cell) and its default cell.
func readmeKeyRows() throws -> [(keys: [String], defaultCell: String)] {
  let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("README.md")
  let text = try String(contentsOf: readme, encoding: .utf8)
  var rows: [(keys: [String], defaultCell: String)] = []
  var inTable = false
  for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
    if line.hasPrefix("| key | default") {
      inTable = true
      continue
    }
    guard inTable, line.hasPrefix("|") else {
      inTable = false
      continue
    }
    if line.hasPrefix("|---") { continue }
    let cells = line.split(separator: "|", omittingEmptySubsequences: false).map {
      $0.trimmingCharacters(in: .whitespaces)
    }
    guard cells.count > 3 else { continue }
    let spans = cells[1].split(separator: "`", omittingEmptySubsequences: false).enumerated()
      .filter { $0.offset % 2 == 1 }.map { String($0.element.split(separator: " ").first ?? "") }
    rows.append((spans, cells[2]))
  }
  return rows
}

func name(_ key: ConfigKey) -> String { "\(key.spec.name)" }

@Suite("Config key table")
struct KeyTableTests {
  @Test("names are unique, snake_case, and each has a one-line doc")
  func names() {
    let all = ConfigKey.all.map(name)
    #expect(Set(all).count == all.count)
    for key in ConfigKey.all {
      #expect(name(key).allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" }, "\(name(key))")
      #expect(key.spec.doc.utf8CodeUnitCount > 0 && key.spec.doc.utf8CodeUnitCount <= 60, "\(name(key))")
    }
  }

  @Test("README: every key is in a key table, and every key there exists")
  func readmeLists() throws {
    let rows = try readmeKeyRows()
    let documented = Set(rows.flatMap(\.keys))
    let known = Set(ConfigKey.all.map(name))
    #expect(rows.count > 40)
    #expect(known.subtracting(documented).sorted() == [], "keys missing from the README's tables")
    #expect(documented.subtracting(known).sorted() == [], "README keys midge does not know")
  }

  @Test("README: a default written as a number, size or flag is the built-in default")
  func readmeDefaults() throws {
    let byName = Dictionary(uniqueKeysWithValues: ConfigKey.all.map { (name($0), $0) })
    var checked = 0
    for row in try readmeKeyRows() where row.keys.count == 1 {
      guard let key = byName[row.keys[0]], key.spec.kind != .other else { continue }
      let cell = row.defaultCell
      let whole = Array(cell.filter { $0 != " " }.utf8)
      let first = Array((cell.split(separator: " ").first.map(String.init) ?? "").utf8)
      let readme: String
      if key.spec.kind == .flag {
        guard cell == "true" || cell == "false" else { continue }
        readme = cell
      } else if let n = Config.parseSize(whole) ?? Config.parseSize(first) {
        readme = "\(n)"
      } else {
        continue
      }
      #expect(readme == key.defaultText.string, "\(name(key)): README says \(cell)")
      checked += 1
    }
    #expect(checked >= 30)
  }

  @Test("each ranged key accepts its bounds and refuses one past them; verify agrees")
  func ranges() throws {
    for key in ConfigKey.all where key.spec.kind == .count || key.spec.kind == .size {
      let s = key.spec
      for (v, ok) in [(s.lo, true), (s.hi, true), (s.lo - 1, false), (s.hi + 1, false)]
      where v >= 0 && s.keeps.map({ "\($0)" }) != "\(v)" {
        var settings = Settings()
        let line = Array("\(name(key)) \(v)".utf8)
        var refusal: String?
        do throws(ConfigError) {
          try Config.parse(line, origin: "t", into: &settings)
        } catch {
          refusal = error.message
        }
        #expect((refusal == nil) == ok, "\(name(key)) \(v): \(refusal ?? "accepted")")
      }
      guard case .limit(let k) = key, k != .memoryBudget else { continue }
      var limits = Limits()
      k.set(s.hi + 1, in: &limits)
      do throws(PlanError) {
        try limits.verify()
        Issue.record("verify accepted \(name(key)) \(s.hi + 1)")
      } catch {
        #expect(error.key == k)
        #expect(Config.describe(error).string == "\(name(key)) must be \(s.lo)..\(s.hi)\(k.rangeNote)")
      }
    }
  }

  @Test("the built-in limits pass verify; --help-config lists every key with its default")
  func listing() throws {
    try Limits().verify()
    let text = Config.keyListing().string
    for key in ConfigKey.all {
      #expect(text.contains("  \(name(key)) "), "\(name(key))")
    }
    #expect(text.contains("max_connections") && text.contains("N 1..1000000") && text.contains("default 1024"))
  }
}
