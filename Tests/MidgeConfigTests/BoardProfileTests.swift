// Method: one test case per boards/*.conf, read from the repository next to this file. The
// `default KEY VALUE` lines are turned into the text the build compiles in, exactly as the
// Makefile's awk does (strip the leading `default `, strip a trailing `# comment`, squeeze
// blanks, join with newlines), then parsed with Config.parse the way the executable parses
// its board defaults (over fresh Settings, origin "board profile NAME"). The resulting limits
// must verify and produce a memory plan that fits the board's budget, with every relation the
// core relies on. The profile's own shape (board name = file name, sdk and cpu present, only
// known keys) is checked like `make board-check` does.
import Foundation
import Testing

@testable import BrokerCore
@testable import MidgeConfig

enum Boards {
  static let directory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("boards")

  /// Every profile's file name, sorted (the test arguments).
  static func files() -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.filter { $0.hasSuffix(".conf") }.sorted()
  }

  static func text(_ file: String) throws -> String {
    try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
  }

  /// `{ sub(/[ \t]*#.*/, "") }` then the words of the line.
  static func words(_ line: Substring) -> [Substring] {
    let noComment = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    return noComment.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
  }

  /// The Makefile's DEFAULTS: `default` lines without the prefix and comment, blanks squeezed,
  /// joined with "\n" (MIDGE_BOARD_DEFAULTS).
  static func defaults(_ text: String) -> String {
    var out: [String] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      let w = words(line)
      guard w.first == "default" else { continue }
      out.append(w.dropFirst().joined(separator: " "))
    }
    return out.joined(separator: "\n")
  }
}

@Suite("Board profiles")
struct BoardProfileTests {
  @Test("there are board profiles to check")
  func exist() {
    #expect(Boards.files().count >= 5, "boards directory: \(Boards.directory.path)")
    #expect(Boards.files().contains("x86_64-generic.conf"))
  }

  @Test("profile shape: board name matches the file, sdk and cpu present, known keys only", arguments: Boards.files())
  func shape(file: String) throws {
    let text = try Boards.text(file)
    let name = String(file.dropLast(".conf".count))
    var seen: [String: [String]] = [:]
    for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let w = Boards.words(line)
      guard let key = w.first else { continue }
      let where_ = "boards/\(file):\(i + 1)"
      #expect(["board", "sdk", "cpu", "install", "default"].contains(key), "\(where_): unknown key \(key)")
      seen[String(key), default: []].append(w.dropFirst().joined(separator: " "))
      if key == "default" {
        #expect(w.count == 3, "\(where_): expected default <key> <value>")
        let unsafe = w.joined(separator: " ").contains { "\"'\\$`".contains($0) }
        #expect(!unsafe, "\(where_): quotes, backslashes, $ and ` are not allowed in defaults")
      }
    }
    #expect(seen["board"] == [name], "the board line names the file")
    #expect(seen["sdk"]?.count == 1 && seen["sdk"]?.first?.isEmpty == false, "one sdk line")
    #expect(seen["cpu"]?.count == 1 && seen["cpu"]?.first?.isEmpty == false, "one cpu line")
    #expect(name.allSatisfy { $0.isLowercase || $0.isNumber || "._-".contains($0) })
    #expect(seen["default"]?.isEmpty == false, "the profile sets defaults")
  }

  @Test("defaults parse, verify and give a memory plan within the budget", arguments: Boards.files())
  func plan(file: String) throws {
    let name = String(file.dropLast(".conf".count))
    let defaults = Boards.defaults(try Boards.text(file))
    var settings = Settings()
    do throws(ConfigError) {
      try Config.parse(Array(defaults.utf8), origin: "board profile \(name)", into: &settings)
    } catch {
      Issue.record("boards/\(file): \(error.message)")
      return
    }
    #expect(settings.listeners.isEmpty, "boards set limits, not listeners")
    let limits = settings.limits
    #expect(throws: Never.self) { try limits.verify() }

    let plan: BrokerPlan
    do throws(PlanError) {
      plan = try BrokerPlan.make(limits)
    } catch {
      Issue.record("boards/\(file): plan does not fit: \(error.message), needs \(error.neededBytes)")
      return
    }
    #expect(plan.memory.totalBytes <= Int64(limits.memoryBudgetBytes))
    // 32-bit boards (armv7) must fit a 32-bit address space.
    #expect(limits.memoryBudgetBytes <= Int(Int32.max))
    let optional: Set<String> = ["large packet buffers", "large buffer links"]
    let longLines: Set<String> = ["long subscription filters", "long filter free list"]
    for line in plan.memory.lines {
      let lineName = "\(line.name)"
      if optional.contains(lineName) && limits.packetBytesMax <= limits.chunkBytes { continue }
      if longLines.contains(lineName) && limits.topicBytesMax <= 64 { continue }
      #expect(line.count > 0, "boards/\(file): \(lineName) has no entries")
      #expect(line.bytesEach > 0, "boards/\(file): \(lineName) has no size")
    }
    #expect(plan.rxChunks >= BrokerPlan.minimumRxChunks)
    #expect(plan.rxChunks >= 8)
    #expect(plan.txChunks * limits.chunkBytes >= limits.queuedBytesMax, "one client's queue fits the send pool")
    #expect(limits.queuedBytesMax >= limits.packetBytesMax)
    #expect(plan.largeBuffers.count == (limits.packetBytesMax > limits.chunkBytes ? limits.largeBuffersMax : 0))
    // The budget is used: what is left is less than one unit of each traffic pool (rounding
    // of the four shares) plus alignment slack.
    let left = Int64(limits.memoryBudgetBytes) - plan.memory.totalBytes
    let units = 2 * (limits.chunkBytes + 4) + BrokerPlan.messageChunkCost + MemoryLayout<QueueEntry>.stride
    #expect(left < Int64(units + 9 * 64))
    #expect(plan.messageChunks * BrokerPlan.messageChunkBytes >= limits.packetBytesMax, "one largest message fits")
    // A 3.1.1 client with 500 unreleased QoS 2 ids (test_31) never meets the spill table.
    #expect(limits.inflightMax + limits.qos2SpillCount >= 1024, "boards/\(file): QoS 2 spill table too small")
  }

  /// The rule behind each board's max_packet_size (README, Boards): a power of two P, the
  /// largest whose large packet buffers take at most 1/8 of the budget, so that the round
  /// payload P/2 (and the decimal size below P) fits with any topic and properties. It came from
  /// paho publishing a 1 MiB payload to x86_64-generic, whose limit was exactly 1 MiB.
  @Test("max_packet_size: the largest power of two whose large buffers fit 1/8 of the budget", arguments: Boards.files())
  func packetSize(file: String) throws {
    var settings = Settings()
    try Config.parse(Array(Boards.defaults(try Boards.text(file)).utf8), origin: file, into: &settings)
    let l = settings.limits
    let p = l.packetBytesMax
    #expect(p & (p - 1) == 0, "\(file): \(p) is not a power of two")
    #expect(l.largeBuffersMax * p <= l.memoryBudgetBytes / 8, "\(file): large packet buffers above 1/8 of the budget")
    #expect(l.largeBuffersMax * 2 * p > l.memoryBudgetBytes / 8, "\(file): a larger max_packet_size fits 1/8 of the budget")
    // The payload P/2 with a fixed header, a packet identifier, and 64 KiB for the topic and
    // the properties.
    #expect(p / 2 + 5 + 2 + (64 << 10) <= p, "\(file)")
    if file == "x86_64-generic.conf" {
      #expect(p >= (1 << 20) + 1024, "a 1 MiB payload fits on x86_64-generic")
    }
  }

  @Test("the defaults text is built like the Makefile's")
  func defaultsText() {
    let conf = """
      # comment
      board    b
      default memory_budget      16MiB   # trailing
      \tdefault\tmax_connections\t512
      defaults not_a_default 1
      install  x
      """
    #expect(Boards.defaults(conf) == "memory_budget 16MiB\nmax_connections 512")
  }
}
