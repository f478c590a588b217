// Method: seeded random scenarios checked against a model. A SplitMix64 generator (fixed seeds,
// so every run is the same) picks subscribers' filters, publishers' topics, payload sizes (up
// to max_packet_size, so many packets need the single large buffer and readers pause), read
// piece sizes and the interleaving of partial sends. The model is an independent, naive
// topic matcher written here (not MQTTWire.Topic): after all bytes are sent, every subscriber
// must have received exactly the matching messages, each once, in each publisher's order,
// and all pools must be whole again after everyone disconnects.
import MQTTWire
import Testing

@testable import BrokerCore

struct SplitMix64 {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
  mutating func pick<T>(_ a: [T]) -> T { a[below(a.count)] }
}

/// Naive reference matcher: split into levels, compare level by level (§4.7).
func modelMatches(filter: String, topic: String) -> Bool {
  let f = filter.split(separator: "/", omittingEmptySubsequences: false)
  let t = topic.split(separator: "/", omittingEmptySubsequences: false)
  if topic.hasPrefix("$") && (filter.hasPrefix("+") || filter.hasPrefix("#")) { return false }
  var i = 0
  while i < f.count {
    if f[i] == "#" { return true }
    if i >= t.count { return false }
    if f[i] != "+" && f[i] != t[i] { return false }
    i += 1
  }
  return i == t.count
}

@Suite("Randomized scenarios against a model")
struct RandomizedTests {
  static let filters = ["#", "a/#", "a/+", "a/b", "+/b", "+/+/c", "$s/#", "a/+/c", "b", "+"]
  static let topics = ["a", "a/b", "a/c", "b", "b/b", "a/b/c", "x/y/c", "$s/a", "$s", "a/"]

  @Test("model check of routing with random splits, large packets and pauses", arguments: Array(UInt64(1)...24))
  func routing(seed: UInt64) throws {
    var rng = SplitMix64(state: seed)
    // Queues large enough that nothing is dropped: between two flushes the core may route
    // several large packets (a paused publisher resumes and its pending bytes are read).
    var limits = smallLimits()
    limits.queuedBytesMax = 64 << 10
    let net = FakeNetwork(limits)
    net.writeMax = [Int.max, 1, 5, 300][rng.below(4)]
    // Subscribers (3) and publishers (3): 6 of the 8 connection slots.
    var subs: [(ConnectionID, [String])] = []
    for i in 0..<3 {
      let c = try net.client("s\(i)")
      var fs: [String] = []
      for _ in 0..<(1 + rng.below(3)) { fs.append(rng.pick(Self.filters)) }
      // QoS 0 subscriptions: deliveries are QoS 0 whatever the publisher sent (QoS 1/2 flows
      // are the simulator's and the QoS scenarios' subject).
      _ = rng.below(3)
      net.send(c, P.subscribe(1, fs.map { ($0, UInt8(0)) }))
      let acks = net.take(c)
      #expect(acks.count == 1 && acks[0].type == 9)
      subs.append((c, fs))
    }
    var pubs: [ConnectionID] = []
    for i in 0..<3 {
      let c = try net.client("p\(i)")
      net.setPiece(c, [1, 3, 17, 100, 255, 256, 1000][rng.below(7)])
      pubs.append(c)
    }
    // Each publisher's stream: random messages, some close to max_packet_size.
    var streams: [[UInt8]] = [[], [], []]
    var sent: [[(topic: String, payload: [UInt8])]] = [[], [], []]
    for _ in 0..<30 {
      let p = rng.below(3)
      let topic = rng.pick(Self.topics)
      let size = rng.below(4) == 0 ? 300 + rng.below(net.limits.packetBytesMax - 330) : rng.below(40)
      // The first two bytes name the publisher and the message: every payload is unique.
      var payload: [UInt8] = [UInt8(p), UInt8(sent[p].count)]
      for _ in 0..<size { payload.append(UInt8(truncatingIfNeeded: rng.next())) }
      let qos = UInt8(rng.below(3))
      streams[p] += P.publish(topic, payload, qos: qos, id: UInt16(1 + sent[p].count))
      if qos == 2 { streams[p] += P.pubrel(UInt16(1 + sent[p].count)) }
      sent[p].append((topic, payload))
    }
    // Interleave partial sends of the three streams.
    var offsets = [0, 0, 0]
    while offsets != streams.map(\.count) {
      let p = rng.below(3)
      let n = min(streams[p].count - offsets[p], 1 + rng.below(700))
      if n == 0 { continue }
      net.send(pubs[p], Array(streams[p][offsets[p]..<(offsets[p] + n)]))
      offsets[p] += n
    }
    // Everything was read; nobody is left paused.
    for p in pubs {
      #expect(net.peer(p).pending.isEmpty, "seed \(seed): bytes left unread")
      #expect(net.closed(p) == nil, "seed \(seed): publisher closed")
    }
    #expect(net.stats.messagesDropped == 0)
    for (c, fs) in subs {
      let got = net.take(c)
      #expect(got.allSatisfy { $0.first == 0x30 })
      for p in 0..<3 {
        let expected = sent[p].filter { m in fs.contains { modelMatches(filter: $0, topic: m.topic) } }
        // The messages from publisher p, in order (payloads are random, so they identify it).
        let fromP = got.filter { $0.payload.first == UInt8(p) }
        // Compared as "topic#length" for readable failures, then byte for byte.
        #expect(
          fromP.map { "\($0.topic)#\($0.payload.count)" } == expected.map { "\($0.topic)#\($0.payload.count)" },
          "seed \(seed): subscriber \(fs) from publisher \(p)")
        let same = fromP.map(\.payload) == expected.map(\.payload)
        #expect(same, "seed \(seed): payload bytes differ")
      }
      let total = (0..<3).reduce(0) { n, p in
        n + sent[p].filter { m in fs.contains { modelMatches(filter: $0, topic: m.topic) } }.count
      }
      #expect(got.count == total, "seed \(seed): one copy per matching message")
    }
    net.closeAllAndCheckPools()
  }

  @Test("the naive model agrees with the spec's examples (§4.7.1)")
  func modelSanity() {
    #expect(modelMatches(filter: "sport/tennis/player1/#", topic: "sport/tennis/player1"))
    #expect(modelMatches(filter: "sport/#", topic: "sport"))
    #expect(!modelMatches(filter: "sport/+", topic: "sport"))
    #expect(modelMatches(filter: "sport/+", topic: "sport/"))
    #expect(modelMatches(filter: "+/+", topic: "/finance"))
    #expect(!modelMatches(filter: "+", topic: "/finance"))
    #expect(!modelMatches(filter: "#", topic: "$SYS/x"))
    #expect(modelMatches(filter: "$SYS/#", topic: "$SYS/x"))
  }

  @Test("churn: random connects, packets and hang-ups keep every counter and pool consistent", arguments: Array(UInt64(100)...111))
  func churn(seed: UInt64) throws {
    var rng = SplitMix64(state: seed)
    let net = FakeNetwork(scarceReceiveLimits())
    var live: [ConnectionID] = []
    let big = P.publish("big", [UInt8](repeatingPattern: 900))
    for step in 0..<400 {
      switch rng.below(9) {
      case 0, 1:
        if let c = net.connect() { live.append(c) }
      case 2:
        if let c = live.randomElement(using: &rng) { net.send(c, P.connect(clientID: "c\(rng.below(6))", keepAlive: 5)) }
      case 3:
        if let c = live.randomElement(using: &rng) { net.send(c, P.subscribe(UInt16(1 + rng.below(9)), rng.pick(RandomizedTests.filters))) }
      case 4:
        if let c = live.randomElement(using: &rng) { net.send(c, P.publish(rng.pick(RandomizedTests.topics), "x")) }
      case 5:
        // Part of a large packet: may hold the large buffer or pause.
        if let c = live.randomElement(using: &rng) { net.send(c, Array(big.prefix(1 + rng.below(big.count)))) }
      case 6:
        if let c = live.randomElement(using: &rng) { net.hangUp(c) }
      case 7:
        if let c = live.randomElement(using: &rng) { net.peer(c).stalled.toggle() }
      default:
        net.advance(by: UInt64(rng.below(3000)))
      }
      live.removeAll { net.closed($0) != nil }
      #expect(net.stats.connectionsOpen == live.count, "seed \(seed) step \(step)")
      #expect(net.stats.clientsConnected <= live.count)
      #expect(net.broker.receiveChunksFree >= 0 && net.broker.receiveChunksFree <= net.plan.rxChunks)
      #expect(net.broker.sendChunksFree >= 0 && net.broker.sendChunksFree <= net.plan.txChunks)
      #expect(net.broker.largeBuffersFree <= net.plan.largeBuffers.count)
      for c in live { _ = net.take(c) }
    }
    net.closeAllAndCheckPools()
  }
}

extension SplitMix64: RandomNumberGenerator {}
