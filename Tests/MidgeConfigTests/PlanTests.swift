// Method: plan arithmetic checked against its own description. BrokerPlan.make lays out named
// lines back to back, each on a 64-byte boundary, then splits what is left of the budget into
// four traffic pools (1/4 receive chunks, 3/8 send chunks, 1/4 message store, 1/8 queue entries). The tests recompute that layout from
// the reservations' offsets and the lines' sizes, and probe the refusal path: a budget that is
// too small must throw a PlanError naming the largest fixed consumer, and the size it reports
// as needed must be enough. Limits.verify's relations are checked one by one.
import Bounded
import Testing

@testable import BrokerCore
@testable import MidgeConfig

/// Reservation offsets in plan order (the order of plan.memory.lines).
func offsets(_ p: BrokerPlan) -> [Int] {
  [
    p.connections.offset, p.sockets.offset, p.loopBuffers.offset, p.sessions.offset, p.clientIDs.offset, p.sessionBuckets.offset, p.sessionLinks.offset,
    p.qos2IDs.offset, p.qos2Spill.offset, p.aliases.offset, p.outboundAliases.offset, p.subscriptions.offset, p.subscriptionBuckets.offset, p.filters.offset, p.longFilters.offset, p.longFree.offset, p.fanout.offset,
    p.topicScratch.offset, p.retained.offset, p.rings.offset, p.largeBuffers.offset, p.largeLinks.offset,
    p.messages.offset, p.messageData.offset, p.messageLinks.offset, p.entries.offset,
    p.rxData.offset, p.rxLinks.offset, p.txData.offset, p.txLinks.offset,
  ]
}

func planError(_ limits: Limits) -> PlanError? {
  do throws(PlanError) {
    _ = try BrokerPlan.make(limits)
    return nil
  } catch {
    return error
  }
}

func limits(budget: Int, _ change: (inout Limits) -> Void = { _ in }) -> Limits {
  var l = Limits()
  change(&l)
  l.memoryBudgetBytes = budget
  return l
}

@Suite("Memory plan arithmetic")
struct PlanTests {
  static let shapes: [(String, Limits)] = [
    ("defaults 16MiB", Limits()),
    ("small", limits(budget: 256 << 10) {
      $0.connectionsMax = 8; $0.subscriptionsMax = 16; $0.chunkBytes = 256; $0.packetBytesMax = 1024
      $0.queuedBytesMax = 2048; $0.largeBuffersMax = 1
    }),
    ("odd sizes", limits(budget: 3_333_333) {
      $0.connectionsMax = 77; $0.subscriptionsMax = 333; $0.chunkBytes = 1000; $0.packetBytesMax = 5000
      $0.queuedBytesMax = 12345; $0.clientIDBytesMax = 23; $0.topicBytesMax = 17; $0.largeBuffersMax = 3
    }),
    ("no large buffers", limits(budget: 1 << 20) {
      $0.connectionsMax = 10; $0.subscriptionsMax = 10; $0.chunkBytes = 4096; $0.packetBytesMax = 4096
      $0.queuedBytesMax = 16384
    }),
  ]

  @Test("total = sum of line totals + alignment padding (< 64 per line); lines aligned, in order, disjoint",
    arguments: PlanTests.shapes.map(\.1))
  func layout(limits: Limits) throws {
    let plan = try BrokerPlan.make(limits)
    let lines = plan.memory.lines
    let sum = lines.reduce(Int64(0)) { $0 + $1.totalBytes }
    let padding = plan.memory.totalBytes - sum
    #expect(padding >= 0)
    #expect(padding < Int64(64 * lines.count))
    #expect(Arena.alignment == 64)

    let offs = offsets(plan)
    try #require(offs.count == lines.count)
    var end: Int64 = 0
    for (line, off) in zip(lines, offs) {
      #expect(off % Arena.alignment == 0, "\(line.name) aligned")
      #expect(Int64(off) >= end, "\(line.name) after the previous line")
      #expect(Int64(off) - end < Int64(Arena.alignment), "\(line.name): no more padding than alignment needs")
      end = Int64(off) + line.totalBytes
    }
    #expect(end == plan.memory.totalBytes)
    #expect(plan.memory.totalBytes <= Int64(limits.memoryBudgetBytes))
  }

  @Test("the names and counts of the lines follow the limits", arguments: PlanTests.shapes.map(\.1))
  func lines(limits: Limits) throws {
    let plan = try BrokerPlan.make(limits)
    let n = limits.slotCount  // max_connections + refusal slots
    let large = limits.packetBytesMax > limits.chunkBytes ? limits.largeBuffersMax : 0
    let sessions = limits.sessionCount
    let long = limits.topicBytesMax > 64 ? max(1, limits.subscriptionsMax / 8) : 0
    let expected: [(String, Int, Int?)] = [
      ("connection slots", n, nil),
      ("socket table", n, 8),
      ("event loop buffers", 1, 8192),
      ("sessions", sessions, nil),
      ("client identifiers", sessions, limits.clientIDBytesMax),
      ("session index", SubscriptionTable.bucketCount(sessions), 4),
      ("session index links", sessions, 4),
      ("inbound QoS 2 ids", sessions * limits.inflightMax, 2),
      ("inbound QoS 2 spill table", KeySet.slotCount(limits.qos2SpillCount), 8),
      ("topic aliases", n * limits.topicAliasMax, 4),
      ("outbound topic aliases", n * limits.topicAliasBrokerMax, 4),
      ("subscriptions", limits.subscriptionsMax, nil),
      ("subscription index", SubscriptionTable.bucketCount(limits.subscriptionsMax), 4),
      ("subscription filters", limits.subscriptionsMax, min(64, limits.topicBytesMax)),
      ("long subscription filters", long, limits.topicBytesMax),
      ("long filter free list", long, 4),
      ("fan-out scratch", 2 * limits.subscriptionsMax, nil),
      ("topic scratch", 2, min(65535, limits.packetBytesMax)),
      ("retained index", limits.retainedMessagesMax, 4),
      ("event rings", n * BrokerPlan.ringsPerConnection, 4),
      ("large packet buffers", large, limits.packetBytesMax),
      ("large buffer links", large, 4),
      ("message headers", plan.messageChunks, nil),
      ("message chunks", plan.messageChunks, BrokerPlan.messageChunkBytes),
      ("message chunk links", plan.messageChunks, 4),
      ("queued message references", plan.queueEntries, MemoryLayout<QueueEntry>.stride),
      ("receive chunks", plan.rxChunks, limits.chunkBytes),
      ("receive chunk links", plan.rxChunks, 4),
      ("send chunks", plan.txChunks, limits.chunkBytes),
      ("send chunk links", plan.txChunks, 4),
    ]
    #expect(plan.memory.lines.map { "\($0.name)" } == expected.map(\.0))
    #expect(plan.memory.lines.map(\.count) == expected.map(\.1))
    for (line, e) in zip(plan.memory.lines, expected) where e.2 != nil {
      #expect(line.bytesEach == e.2, "\(line.name)")
    }
  }

  @Test("what is left of the budget goes to the traffic pools: 1/4 receive, 3/8 send, 1/4 messages, 1/8 entries",
    arguments: PlanTests.shapes.map(\.1))
  func poolSplit(limits: Limits) throws {
    let plan = try BrokerPlan.make(limits)
    let fixedLines = plan.memory.lines.prefix(22)
    let fixed = (fixedLines.last.map { Int64(plan.largeLinks.offset) + $0.totalBytes } ?? 0) + Int64(9 * Arena.alignment)
    let left = Int64(limits.memoryBudgetBytes) - fixed
    let perChunk = Int64(limits.chunkBytes + 4)
    #expect(Int64(plan.rxChunks) == left / 4 / perChunk)
    #expect(Int64(plan.txChunks) == left * 3 / 8 / perChunk)
    #expect(Int64(plan.messageChunks) == left / 4 / Int64(BrokerPlan.messageChunkCost))
    #expect(Int64(plan.queueEntries) == left / 8 / Int64(MemoryLayout<QueueEntry>.stride))
    #expect(plan.rxChunks >= BrokerPlan.minimumRxChunks)
    #expect(plan.txChunks * limits.chunkBytes >= limits.queuedBytesMax)
    #expect(plan.messageChunks * BrokerPlan.messageChunkBytes >= limits.packetBytesMax)
    #expect(plan.memory.totalBytes <= Int64(limits.memoryBudgetBytes))
  }

  @Test("a plan can be carved and a broker built on it", arguments: PlanTests.shapes.map(\.1))
  func carve(limits: Limits) throws {
    let plan = try BrokerPlan.make(limits)
    let arena = Arena(plan.memory)
    #expect(Int64(arena.byteCount) >= plan.memory.totalBytes)
    let broker = Broker(plan: plan, arena: arena)
    #expect(broker.receiveChunksFree == plan.rxChunks)
    #expect(broker.sendChunksFree == plan.txChunks)
    #expect(broker.largeBuffersFree == plan.largeBuffers.count)
    #expect(broker.stats.connectionsOpen == 0)
  }

  @Test(
    "a budget too small throws PlanError naming the largest fixed consumer",
    arguments: [
      ("defaults at 2MiB", limits(budget: 2 << 20), "large packet buffers"),
      ("many large buffers", limits(budget: 4 << 20) {
        $0.largeBuffersMax = 64; $0.packetBytesMax = 1 << 20; $0.queuedBytesMax = 1 << 20
      }, "large packet buffers"),
      ("many connections", limits(budget: 8 << 20) {
        $0.connectionsMax = 100_000; $0.subscriptionsMax = 100
      }, "client identifiers"),
      ("tiny budget", limits(budget: 64 << 10) {
        $0.connectionsMax = 8; $0.subscriptionsMax = 8; $0.chunkBytes = 256; $0.packetBytesMax = 256
        $0.queuedBytesMax = 1 << 20
      }, "event loop buffers"),
    ])
  func tooSmall(name: String, limits: Limits, consumer: String) throws {
    let error = try #require(planError(limits), "\(name) should not fit")
    #expect("\(error.message)" == consumer)
    #expect(error.budgetBytes == limits.memoryBudgetBytes)
    #expect(error.neededBytes > Int64(limits.memoryBudgetBytes))
    // The named consumer is indeed the largest line placed before the chunks.
    var big = limits
    big.memoryBudgetBytes = 1 << 40
    let fixed = try BrokerPlan.make(big).memory.lines.prefix(21)
    let largest = fixed.max { $0.totalBytes < $1.totalBytes }
    #expect(largest.map { "\($0.name)" } == consumer)
  }

  @Test(
    "the size a PlanError reports as needed is enough",
    arguments: [
      ("defaults at 2MiB", limits(budget: 2 << 20)),
      ("small at 16KiB", limits(budget: 16 << 10) {
        $0.connectionsMax = 8; $0.subscriptionsMax = 16; $0.chunkBytes = 256; $0.packetBytesMax = 1024
        $0.queuedBytesMax = 2048; $0.largeBuffersMax = 1
      }),
      ("big queue", limits(budget: 1 << 20) {
        $0.connectionsMax = 16; $0.subscriptionsMax = 16; $0.queuedBytesMax = 8 << 20
      }),
    ])
  func neededIsEnough(name: String, limits: Limits) throws {
    let error = try #require(planError(limits), "\(name) should not fit")
    var raised = limits
    raised.memoryBudgetBytes = Int(error.neededBytes)
    let again = planError(raised)
    #expect(again == nil, "\(name): budget \(error.neededBytes) (reported as needed) still fails, needs \(again?.neededBytes ?? 0)")
    // And not more than needed: one byte less does not fit.
    raised.memoryBudgetBytes = Int(error.neededBytes) - 1
    #expect(planError(raised) != nil, "\(name): \(error.neededBytes) - 1 also fits")
  }

  @Test("the smallest budget that fits is found by the rule the plan states")
  func smallestBudget() throws {
    var l = Limits()
    l.connectionsMax = 8
    l.subscriptionsMax = 16
    l.chunkBytes = 256
    l.packetBytesMax = 1024
    l.queuedBytesMax = 2048
    l.largeBuffersMax = 1
    // Binary search for the smallest fitting budget: there, the tightest pool is at its minimum.
    var lo = 1024
    var hi = 1 << 20
    while lo < hi {
      let mid = (lo + hi) / 2
      l.memoryBudgetBytes = mid
      if planError(l) == nil { hi = mid } else { lo = mid + 1 }
    }
    l.memoryBudgetBytes = lo
    let plan = try BrokerPlan.make(l)
    let atMinimum =
      plan.rxChunks == BrokerPlan.minimumRxChunks || plan.txChunks == 8
      || plan.messageChunks == 1024 / BrokerPlan.messageChunkBytes || plan.queueEntries == l.inflightMax
    #expect(atMinimum, "rx \(plan.rxChunks) tx \(plan.txChunks) messages \(plan.messageChunks) entries \(plan.queueEntries)")
    l.memoryBudgetBytes = lo - 1
    #expect(planError(l) != nil)
    // The error at lo - 1 names lo as needed.
    #expect(planError(l)?.neededBytes == Int64(lo))
  }

  /// Sets the limit a config key names.
  static func set(_ key: String, _ value: Int, _ l: inout Limits) {
    switch key {
    case "max_connections": l.connectionsMax = value
    case "max_subscriptions": l.subscriptionsMax = value
    case "io_chunk_size": l.chunkBytes = value
    case "max_packet_size": l.packetBytesMax = value
    case "max_topic_length": l.topicBytesMax = value
    case "max_client_id_length": l.clientIDBytesMax = value
    case "max_queued_bytes": l.queuedBytesMax = value
    case "large_packet_buffers": l.largeBuffersMax = value
    case "max_keepalive": l.keepAliveMaxSeconds = value
    case "connect_timeout": l.connectTimeoutSeconds = value
    default: preconditionFailure("unknown key \(key)")
    }
  }

  @Test(
    "Limits.verify refuses broken relations, whatever the budget",
    arguments: [
      ("max_connections", 0, "max_connections must be 1..1000000"),
      ("max_connections", 1_000_001, "max_connections must be 1..1000000"),
      ("max_subscriptions", 0, "max_subscriptions must be 1..10000000"),
      ("max_subscriptions", 10_000_001, "max_subscriptions must be 1..10000000"),
      ("io_chunk_size", 255, "io_chunk_size must be 256..65536"),
      ("io_chunk_size", 65537, "io_chunk_size must be 256..65536"),
      ("max_packet_size", 63, "max_packet_size must be 64..268435460"),
      ("max_packet_size", 268_435_461, "max_packet_size must be 64..268435460"),
      ("max_topic_length", 15, "max_topic_length must be 16..65535"),
      ("max_client_id_length", 22, "max_client_id_length must be 23..65535 (MQTT requires 23) [MQTT-3.1.3-5]"),
      ("max_queued_bytes", 262_143, "max_queued_bytes must be >= max_packet_size"),
      ("large_packet_buffers", 0, "large_packet_buffers must be 1..65536"),
      ("max_keepalive", 0, "max_keepalive must be 1..65535"),
      ("max_keepalive", 65536, "max_keepalive must be 1..65535"),
      ("connect_timeout", 0, "connect_timeout must be 1..3600"),
      ("connect_timeout", 3601, "connect_timeout must be 1..3600"),
    ] as [(String, Int, String)])
  func verify(key: String, value: Int, message: String) throws {
    var l = Limits()
    l.memoryBudgetBytes = 1 << 30
    PlanTests.set(key, value, &l)
    let error = try #require(planError(l), "\(key) \(value)")
    #expect(Config.describe(error).string == message)
    #expect(error.neededBytes == 0, "a relation error is not a size error")
    #expect(throws: PlanError.self) { try l.verify() }
  }

  @Test("Limits.verify accepts the bounds themselves")
  func verifyBounds() throws {
    for (key, value) in [
      ("max_connections", 1), ("max_subscriptions", 1), ("io_chunk_size", 256), ("io_chunk_size", 65536),
      ("max_topic_length", 16), ("max_client_id_length", 23), ("max_client_id_length", 65535),
      ("max_queued_bytes", 262_144), ("large_packet_buffers", 1), ("max_keepalive", 1), ("connect_timeout", 3600),
    ] {
      var l = Limits()
      PlanTests.set(key, value, &l)
      #expect(throws: Never.self, "\(key) \(value)") { try l.verify() }
    }
  }

  @Test("the default limits verify and fit their 16MiB default budget")
  func defaults() throws {
    #expect(throws: Never.self) { try Limits().verify() }
    let plan = try BrokerPlan.make(Limits())
    #expect(plan.memory.totalBytes <= Int64(16 << 20))
  }
}

@Suite("Memory plan: auth regions")
struct AuthPlanTests {
  func names(_ p: BrokerPlan) -> [String] { p.memory.lines.map { "\($0.name)" } }

  @Test("no auth file: no auth lines; password_file and acl_file: two regions each, in the budget")
  func authLines() throws {
    let bare = try BrokerPlan.make(Limits())
    for name in ["password file text", "password entries", "acl file text", "acl rules", "session user names",
                 "connection identities"] {
      #expect(!names(bare).contains(name))
    }
    var s = Settings()
    try Config.parse(
      Array("password_file /p\nacl_file /a\nmax_acl_rules 100\nmax_password_entries 10\nmax_auth_file_bytes 1000\nmax_username_length 32\n".utf8),
      origin: "t.conf", into: &s)
    let plan = try BrokerPlan.make(s.limits)
    func line(_ name: String) throws -> MemoryPlan.Line {
      try #require(plan.memory.lines.first { "\($0.name)" == name }, "\(name)")
    }
    #expect(try line("password file text").count == 2)
    #expect(try line("password file text").bytesEach == 1001)
    #expect(try line("password entries").count == 20)
    #expect(try line("acl file text").count == 2)
    #expect(try line("acl rules").count == 200)
    #expect(try line("session user names").count == s.limits.sessionCount)
    #expect(try line("session user names").bytesEach == 32)
    #expect(!names(plan).contains("connection identities"))
    #expect(plan.memory.totalBytes <= Int64(s.limits.memoryBudgetBytes))
    // The traffic pools shrink by what the auth regions take.
    #expect(plan.rxChunks < bare.rxChunks)
    var identities = Limits()
    identities.usesIdentities = true
    let withIdentities = try BrokerPlan.make(identities)
    #expect(names(withIdentities).contains("connection identities"))
    #expect(names(withIdentities).contains("session user names"))
  }
}
