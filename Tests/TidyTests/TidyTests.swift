// Tidy as a test: rules about the text of the code, checked on every `swift test` (a test
// target rather than a script run by `make test`: it runs wherever the unit tests run, needs
// no board build, pytest or network, and fails with file:line like any other test).
// - no function (func, init, subscript) in Sources/ longer than `maxFunctionLines` lines,
// - no line in Sources/ wider than `maxLineWidth` characters,
//   except what allowlist.txt names; the list may only shrink: an entry that is now fine fails
//   the test until it is removed (a width count until it is lowered),
// - spec tags are well formed: `[MQTT-x.y.z-n]`, ranges `[MQTT-x.y.z-n..m]`, several separated
//   by ", " or " / ", continuations `-n`, section references `§x.y` (`3.1.1 §x.y`),
// - no stale words (phrases that were true once: see `staleWords`).
import Foundation
import Testing

let maxFunctionLines = 70
let maxLineWidth = 120

/// Phrases that describe the past: each was found in a comment or text after it stopped being true.
let staleWords = [
  "in a later issue", "MQTT 3.1 and 3.1.1)", "An MQTT 3.1.1 broker", "until the codec is fixed", "TODO", "FIXME",
]

let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
  .deletingLastPathComponent()

/// Files under `dir` (relative to the package root) with one of `extensions`, sorted.
func files(_ dir: String, _ extensions: Set<String>) -> [String] {
  let base = root.appendingPathComponent(dir).path
  guard let e = FileManager.default.enumerator(atPath: base) else { return [] }
  var result: [String] = []
  while let rel = e.nextObject() as? String {
    let ext = (rel as NSString).pathExtension
    if extensions.contains(ext) && !rel.contains("__pycache__") { result.append(dir + "/" + rel) }
  }
  return result.sorted()
}

func lines(_ path: String) -> [String] {
  let text = (try? String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)) ?? ""
  return text.components(separatedBy: "\n")
}

/// A function's name and length (lines from its declaration to its closing brace).
struct FunctionLength {
  let file: String
  let name: String
  let line: Int
  let count: Int
}

let declaration = try! NSRegularExpression(
  pattern: #"^\s*(?:@[\w()]+\s+)*(?:(?:public|private|fileprivate|internal|static|mutating|nonmutating|override|final|nonisolated|class|convenience|required)(?:\(set\))?\s+)*(func\s+([^\s(<]+)|init|subscript)[\s(<?!]"#)

/// Braces of a line outside string literals and comments (good enough for this code base).
func braces(_ line: String, inMultiline: inout Bool) -> (open: Int, close: Int) {
  var open = 0
  var close = 0
  var inString = false
  var previous: Character = " "
  var chars = Array(line)
  if line.trimmingCharacters(in: .whitespaces).hasPrefix("//") { return (0, 0) }
  var i = 0
  while i < chars.count {
    if i + 2 < chars.count && chars[i] == "\"" && chars[i + 1] == "\"" && chars[i + 2] == "\"" {
      inMultiline.toggle()
      i += 3
      continue
    }
    let c = chars[i]
    if inMultiline {
    } else if inString {
      if c == "\"" && previous != "\\" { inString = false }
    } else if c == "\"" {
      inString = true
    } else if c == "/" && i + 1 < chars.count && chars[i + 1] == "/" {
      break
    } else if c == "{" {
      open += 1
    } else if c == "}" {
      close += 1
    }
    previous = previous == "\\" && c == "\\" ? " " : c
    i += 1
  }
  chars.removeAll()
  return (open, close)
}

func functionLengths(_ file: String) -> [FunctionLength] {
  let text = lines(file)
  var result: [FunctionLength] = []
  for (i, line) in text.enumerated() {
    let range = NSRange(line.startIndex..., in: line)
    guard let m = declaration.firstMatch(in: line, range: range) else { continue }
    let name =
      Range(m.range(at: 2), in: line).map { String(line[$0]) }
      ?? (line.contains("subscript") ? "subscript" : "init")
    var depth = 0
    var started = false
    var multiline = false
    var j = i
    while j < text.count {
      let b = braces(text[j], inMultiline: &multiline)
      if b.open > 0 { started = true }
      depth += b.open - b.close
      if started && depth <= 0 { break }
      if !started && j - i > 12 { break }  // a requirement without a body
      j += 1
    }
    if started && j < text.count { result.append(FunctionLength(file: file, name: name, line: i + 1, count: j - i + 1)) }
  }
  return result
}

/// allowlist.txt: `function FILE NAME` and `width FILE COUNT` lines; `#` comments.
func allowList() -> (functions: Set<String>, widths: [String: Int]) {
  var functions: Set<String> = []
  var widths: [String: Int] = [:]
  for line in lines("Tests/TidyTests/allowlist.txt") {
    let w = line.prefix { $0 != "#" }.split(separator: " ").map(String.init)
    guard w.count == 3 else { continue }
    if w[0] == "function" { functions.insert(w[1] + " " + w[2]) }
    if w[0] == "width" { widths[w[1]] = Int(w[2]) ?? 0 }
  }
  return (functions, widths)
}

@Suite("Tidy")
struct TidyTests {
  static let sources = files("Sources", ["swift"])

  @Test("functions in Sources/ are at most 70 lines, except the allow-listed ones (a list that only shrinks)")
  func functionLength() {
    #expect(TidyTests.sources.count > 40)
    let allowed = allowList().functions
    var long: [String: Int] = [:]
    for file in TidyTests.sources {
      for f in functionLengths(file) where f.count > maxFunctionLines {
        let key = f.file + " " + f.name
        long[key] = max(long[key] ?? 0, f.count)
        if !allowed.contains(key) {
          Issue.record("\(f.file):\(f.line): \(f.name) is \(f.count) lines (at most \(maxFunctionLines))")
        }
      }
    }
    for key in allowed.sorted() where long[key] == nil {
      Issue.record("allowlist.txt: 'function \(key)' is at most \(maxFunctionLines) lines now (or gone): remove it")
    }
  }

  @Test("lines in Sources/ are at most 120 characters, except allow-listed counts (which only shrink)")
  func lineWidth() {
    let allowed = allowList().widths
    var seen: Set<String> = []
    for file in TidyTests.sources {
      let wide = lines(file).enumerated().filter { $0.element.count > maxLineWidth }
      let limit = allowed[file] ?? 0
      if !wide.isEmpty { seen.insert(file) }
      if wide.count > limit {
        for (n, line) in wide {
          Issue.record("\(file):\(n + 1): \(line.count) characters (at most \(maxLineWidth); allowed here: \(limit))")
        }
      } else if wide.count < limit {
        Issue.record("allowlist.txt: 'width \(file) \(limit)': \(wide.count) wide lines now: lower the count")
      }
    }
    for file in allowed.keys.sorted() where !seen.contains(file) && allowed[file]! > 0 {
      Issue.record("allowlist.txt: 'width \(file)' has no wide line now (or is gone): remove it")
    }
  }

  static let textFiles =
    files("Sources", ["swift", "c", "h"]) + files("Tests", ["swift", "py"]) + files("bench", ["py"])
    + ["README.md", "BENCHMARKS.md"]

  @Test("spec tags are well formed ([MQTT-x.y.z-n], ranges, §sections)")
  func specTags() throws {
    let tag = try NSRegularExpression(pattern: #"\[MQTT-[^\]]*\]"#)
    let part = try NSRegularExpression(
      pattern: #"^(MQTT-\d+(\.\d+)+-\d+(\.\.\d+)?|-\d+|((3\.1\.1|5\.0) )?§\d+(\.\d+)*|MQTT-x\.y\.z-n)$"#)
    var checked = 0
    for file in TidyTests.textFiles where !file.hasPrefix("Tests/TidyTests/") {
      for (n, line) in lines(file).enumerated() {
        for m in tag.matches(in: line, range: NSRange(line.startIndex..., in: line)) {
          let text = String(line[Range(m.range, in: line)!])
          let inner = String(text.dropFirst().dropLast())
          let parts = inner.replacingOccurrences(of: " / ", with: ", ").components(separatedBy: ", ")
          checked += 1
          for p in parts where part.firstMatch(in: p, range: NSRange(p.startIndex..., in: p)) == nil {
            Issue.record("\(file):\(n + 1): malformed spec tag \(text)")
          }
        }
      }
    }
    #expect(checked > 300)
  }

  @Test("no stale words")
  func stale() {
    for file in TidyTests.textFiles where !file.hasPrefix("Tests/TidyTests/") {
      for (n, line) in lines(file).enumerated() {
        for word in staleWords where line.contains(word) {
          Issue.record("\(file):\(n + 1): stale words '\(word)'")
        }
      }
    }
  }
}
