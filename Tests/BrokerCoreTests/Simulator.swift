// Method: a seeded simulation of many MQTT clients over a fake network, driving the broker
// core only through its public event/effect API, the way Platform/EventLoop does: open,
// readBuffer/received/readDone, peerClosed, tick, nextFlush/gatherOutput/wrote,
// nextClose/release, nextInterest/wantsRead. One SplitMix64 seed decides everything, so a
// failing seed replays exactly.
//
// Each step picks one action — a client connects (clean or persistent session, with or
// without a will, some keep alive), subscribes, unsubscribes, publishes (QoS 0/1/2, retained
// sometimes, empty retained to clear), pings, disconnects cleanly — or the network
// misbehaves: it resets a connection, closes one without DISCONNECT, stalls a client (it
// stops reading, so the broker's writes come back short and then not at all), makes a client
// silent (it stops sending, so keep alive fires), lets a client reconnect while its old
// connection still looks alive (take-over), opens a connection that never sends CONNECT,
// delays reads (so several packets arrive in one read), or advances the clock. Then the loop
// turns once or twice: reads come in random pieces, writes are cut short at random and by
// each socket's buffer room, the clients read and answer what arrived. After every step
// `broker.checkInvariants()` must hold.
//
// At the end the stalls end, clients with persistent sessions come back, the clock runs past
// every deadline (silent clients and connections that never sent CONNECT must be closed by
// then), the network drains, a fresh subscriber reads the retained messages, everyone
// disconnects cleanly and the pools must be whole. The oracle (SimulatorOracle.swift) then judges the log. What is exercised and
// checked follows `SimFeatures`; the default test uses what the core supports today.
//
// Environment (Linux): MIDGE_SIM_SEED=n replays one seed; MIDGE_SIM_SEEDS=n runs seeds 1...n;
// MIDGE_SIM_STEPS=n steps per seed (default 3000); MIDGE_SIM_FEATURES=all|none|a,b,... the
// features of the default test; MIDGE_SIM_TRACE=1 prints every step.
import Bounded
import Testing

@testable import BrokerCore
@testable import MQTTWire

#if canImport(Glibc)
  import Glibc
#endif

extension SimFeatures {
  /// What the core supports: everything the oracle knows.
  static let supportedToday: SimFeatures = .all
}

enum SimEnvironment {
  static func value(_ name: String) -> String? {
    #if canImport(Glibc)
      guard let v = getenv(name) else { return nil }
      return String(cString: v)
    #else
      return nil
    #endif
  }

  static let defaultSeeds: [UInt64] = Array(1...16)
  static let defaultSteps = 3000

  static var seeds: [UInt64] {
    if let one = value("MIDGE_SIM_SEED").flatMap({ UInt64($0) }) { return [one] }
    if let n = value("MIDGE_SIM_SEEDS").flatMap({ UInt64($0) }), n > 0 { return Array(1...n) }
    return defaultSeeds
  }

  static var steps: Int { value("MIDGE_SIM_STEPS").flatMap { Int($0) }.map { max(1, $0) } ?? defaultSteps }
  static var trace: Bool { value("MIDGE_SIM_TRACE").map { $0 != "0" && !$0.isEmpty } ?? false }
  /// MIDGE_SIM_FEATURES, when set and valid.
  static var features: SimFeatures? { value("MIDGE_SIM_FEATURES").flatMap { SimFeatures(parsing: $0) } }

  /// The command that replays one seed of a run with these settings.
  static func replay(seed: UInt64, steps: Int, features: SimFeatures) -> String {
    var env = "MIDGE_SIM_SEED=\(seed)"
    if steps != defaultSteps { env += " MIDGE_SIM_STEPS=\(steps)" }
    if features != .supportedToday { env += " MIDGE_SIM_FEATURES=\(features)" }
    return "\(env) swift test --filter Simulator"
  }
}

@Suite("Simulator: many clients over a fake network")
struct SimulatorTests {
  @Test("seeded simulation: invariants after every step, delivery oracle at the end", arguments: SimEnvironment.seeds)
  func simulate(seed: UInt64) {
    if let text = SimEnvironment.value("MIDGE_SIM_FEATURES"), SimEnvironment.features == nil {
      Issue.record("MIDGE_SIM_FEATURES=\(text): expected all, none or names from \(SimFeatures.names.map(\.1))")
      return
    }
    run(seed: seed, features: SimEnvironment.features ?? .supportedToday)
  }

  /// The simulation's 3.1.1 clients that pipeline beyond the window reach the QoS 2 spill
  /// table (roomy seeds) and fill it (scarce seeds): the oracle above checks what happens then.
  @Test("seeded simulation: pipelining 3.1.1 clients spill QoS 2 ids beyond the window")
  func spillExercised() {
    var peak = 0
    var full: UInt64 = 0
    for seed in SimEnvironment.defaultSeeds.prefix(8) {
      let sim = Simulation(seed: seed, steps: SimEnvironment.defaultSteps, features: .all, trace: false)
      #expect(sim.run() == nil, "seed \(seed)")
      peak = max(peak, sim.peakSpill)
      full += sim.net.broker.stats.qos2SpillFull
    }
    #expect(peak > Simulation.limits(scarce: true).qos2SpillMax, "roomy seeds hold more ids than a scarce table")
    #expect(full > 0, "scarce seeds fill the table")
  }

  /// The clients' encoder (SimWire, over MQTTWire's Encode) writes packets that MQTTWire
  /// decodes back to the same fields, in 3.1.1 and in 5.0 form (5.0 is not served yet, so
  /// the simulation cannot exercise it against the broker).
  @Test("the simulated clients' packets decode as sent, MQTT 3.1.1 and 5.0")
  func clientPackets() throws {
    func decode(_ bytes: [UInt8], _ v: ProtocolVersion) throws -> FromBroker? {
      try bytes.withUnsafeBytes { raw in
        guard case .complete(let frame) = try Frame.detect(raw, maxPacketBytes: 1 << 20, version: v),
          frame.totalLength == raw.count
        else { return nil }
        let p = try Packet.decode(frame, raw, version: v)
        switch p {
        case .connect(let c):
          #expect(c.version == v && Array(c.clientID) == Array("c7".utf8) && c.keepAliveSeconds == 30)
          #expect(c.cleanSession == false && c.will.map { Array($0.topic) } == Array("w/1".utf8))
          #expect(c.will?.qos == .atLeastOnce && c.will?.retain == true)
          #expect(c.properties?.uint32(.sessionExpiryInterval) == (v == .v5 ? 30 : nil))
          return nil
        case .subscribe(let sub):
          #expect(sub.packetID == 9 && sub.entries.map { Array($0.filter) } == [Array("a/+".utf8), Array("#".utf8)])
          #expect(sub.entries.map(\.qos) == [.exactlyOnce, .atMostOnce])
          return nil
        case .unsubscribe(let u):
          #expect(u.packetID == 10 && u.filters.map { Array($0) } == [Array("a/+".utf8)])
          return nil
        case .pubrel(let a):
          #expect(a.packetID == 11)
          return nil
        case .disconnect, .pingreq:
          return nil
        default:
          return FromBroker(p)
        }
      }
    }
    for v in [ProtocolVersion.v311, .v5] {
      let props: [UInt8]? = v == .v5 ? [PropertyID.sessionExpiryInterval.rawValue, 0, 0, 0, 30] : nil
      _ = try decode(
        SimWire.connect(
          version: v, clientID: Array("c7".utf8), clean: false, keepAlive: 30,
          will: (Array("w/1".utf8), [1, 2], .atLeastOnce, true), properties: props), v)
      let payload = SimLog.payload(number: 4242, will: false, bodyBytes: 300)
      let pub = try decode(
        SimWire.publish(version: v, topic: "a/b", payload: payload, qos: .exactlyOnce, retain: true, dup: true, id: 7),
        v)
      guard case .publish(let topic, let got, let qos, let retain, let dup, let id)? = pub else {
        Issue.record("PUBLISH did not decode")
        continue
      }
      #expect(topic == Array("a/b".utf8) && got == payload && qos == .exactlyOnce && retain && dup && id == 7)
      #expect(SimLog.number(of: got) == 4242)
      _ = try decode(SimWire.subscribe(version: v, id: 9, [("a/+", .exactlyOnce), ("#", .atMostOnce)]), v)
      _ = try decode(SimWire.unsubscribe(version: v, id: 10, ["a/+"]), v)
      _ = try decode(SimWire.ack(.pubrel, 11), v)
      guard case .puback(12, nil)? = try decode(SimWire.ack(.puback, 12), v) else {
        Issue.record("PUBACK did not decode")
        continue
      }
      _ = try decode(SimWire.empty(.pingreq), v)
      _ = try decode(SimWire.disconnect(version: v), v)
    }
  }

  func run(seed: UInt64, features: SimFeatures) {
    let steps = SimEnvironment.steps
    let sim = Simulation(seed: seed, steps: steps, features: features, trace: SimEnvironment.trace)
    if let failure = sim.run() {
      let when = sim.failureStep > steps ? "at the end, after step \(steps)" : "step \(sim.failureStep) of \(steps)"
      let line =
        "simulator seed \(seed) \(when) (features: \(features)): \(failure) "
        + "-- replay: \(SimEnvironment.replay(seed: seed, steps: steps, features: features))"
      Issue.record(Comment(rawValue: line))
    }
  }
}

// MARK: the network

/// One TCP connection between a simulated client (or nobody: a connection that never sends
/// CONNECT) and the broker.
final class SimSocket {
  let serial: Int
  let id: ConnectionID
  /// Client index, or -1 for a connection that never sends anything.
  let owner: Int
  let openedMs: UInt64
  /// Bytes the client sent that the broker has not read yet (the kernel's receive buffer).
  var toBroker: [UInt8] = []
  /// The broker's connection table was full when this connection was opened.
  var openedFull = false
  /// The broker's count of CONNECTs refused for full sessions or store when it was opened.
  var refusalsAtOpen: UInt64 = 0
  /// The client closed its side: the broker reads EOF after `toBroker`.
  var eof = false
  /// The client no longer reads: what the broker writes is discarded.
  var clientGone = false
  /// The client forgot this connection without closing it (take-over).
  var abandoned = false
  /// Bytes the broker wrote that the client has not read yet, at most `capacity`.
  var toClient: [UInt8] = []
  let capacity: Int
  /// Set when the broker closed and released the connection (and when, ms).
  var closedReason: CloseReason?
  var closedMs: UInt64 = 0
  /// The platform's poller registration, as EventLoop keeps it.
  var interestIn = true
  var interestOut = false
  /// Turns during which the broker does not get to read (bytes pile up and arrive together).
  var readDelay = 0
  /// When the broker last read bytes of this connection (ms): keep alive counts from there,
  /// as the broker does not see a packet it has not read (README, "Limits").
  var lastReadMs: UInt64 = 0
  var bytesRead = 0
  /// The broker had no receive buffer for this connection when it was readable.
  var bufferDenied = false

  init(serial: Int, id: ConnectionID, owner: Int, openedMs: UInt64, capacity: Int) {
    self.serial = serial
    self.id = id
    self.owner = owner
    self.openedMs = openedMs
    self.capacity = capacity
  }

  var isOpen: Bool { closedReason == nil }
}

/// The platform's part, as Platform/EventLoop does it, over fake sockets: bounded reads per
/// readable connection, flushes of at most four writes with EPOLLOUT armed after a short
/// write, one last write before a close, read interest as the core reports it.
final class SimNetwork {
  let plan: BrokerPlan
  let arena: Arena
  let broker: Broker
  /// The fake clock, in milliseconds.
  var now: UInt64 = 0
  var rng: SplitMix64
  private(set) var sockets: [SimSocket] = []
  private var byToken: [UInt64: SimSocket] = [:]
  /// Reads mostly come in small pieces (partial frames hold receive buffers longer).
  var trickle = false
  var onClose: (SimSocket, CloseReason) -> Void = { _, _ in }
  var onProblem: (String) -> Void = { _ in }
  private let slices: UnsafeMutablePointer<IOSlice>

  static let readsPerEvent = 8
  static let writesPerFlush = 4
  static let slicesCapacity = 64

  init(limits: Limits, seed: UInt64) {
    do {
      plan = try BrokerPlan.make(limits)
    } catch {
      preconditionFailure("simulator limits do not fit: \(error.message)")
    }
    arena = Arena(plan.memory)
    broker = Broker(plan: plan, arena: arena)
    rng = SplitMix64(state: seed ^ 0x5EED_0F_4E7)
    slices = .allocate(capacity: SimNetwork.slicesCapacity)
  }

  deinit { slices.deallocate() }

  /// The open ones, in the order they were opened.
  private(set) var open: [SimSocket] = []
  var openCount: Int { byToken.count }

  func open(owner: Int) -> SimSocket? {
    guard let id = broker.open(now: now, anonymousAllowed: true) else { return nil }
    let capacity = [256, 1024, 4096, 65536][rng.below(4)]
    let s = SimSocket(serial: sockets.count, id: id, owner: owner, openedMs: now, capacity: capacity)
    // Opened while max_connections clients were admitted: its CONNECT gets "busy".
    s.openedFull = broker.connections[Int(id.slot)].flags.contains(.refusing)
    s.refusalsAtOpen = broker.stats.connectionsRefusedSessions &+ broker.stats.connectionsRefusedStore
    if byToken[id.token] != nil { onProblem("the broker handed out a live connection id twice") }
    sockets.append(s)
    open.append(s)
    byToken[id.token] = s
    return s
  }

  func send(_ s: SimSocket, _ bytes: [UInt8]) {
    guard s.isOpen, !s.eof else { return }  // the write fails on the client's side
    s.toBroker += bytes
    if rng.below(8) == 0 { s.readDelay = max(s.readDelay, 1 + rng.below(3)) }
  }

  /// The client closes its socket after what it sent; it reads nothing more.
  func closeByClient(_ s: SimSocket) {
    s.eof = true
    s.clientGone = true
    s.toClient = []
  }

  /// A reset: the platform sees the error at once; unread bytes both ways are lost.
  func reset(_ s: SimSocket) {
    s.clientGone = true
    s.toClient = []
    guard s.isOpen else { return }
    s.toBroker = []
    broker.peerClosed(s.id, reason: .peerClosed)
  }

  func abandon(_ s: SimSocket) { s.abandoned = true }

  /// One loop turn: readable and writable connections, timers, effects.
  func turn() {
    for s in open where s.isOpen {
      if s.interestOut && (s.clientGone || s.toClient.count < s.capacity) { flush(s) }
      guard s.isOpen, s.interestIn, !s.toBroker.isEmpty || s.eof else { continue }
      if s.readDelay > 0 {
        s.readDelay -= 1
        continue
      }
      read(s)
    }
    broker.tick(now: now)
    applyEffects()
  }

  /// Like EventLoop.read: at most `readsPerEvent` reads into the buffers the core hands out;
  /// a read shorter than the buffer means the socket is drained for now.
  private func read(_ s: SimSocket) {
    var reads = 0
    while reads < SimNetwork.readsPerEvent && s.isOpen {
      let buffer = broker.readBuffer(s.id)
      if buffer.count == 0 {  // paused (no buffer free) or closing
        s.bufferDenied = true
        break
      }
      if s.toBroker.isEmpty {
        if s.eof { broker.peerClosed(s.id, reason: .peerClosed) }  // read() returned 0
        break  // else EAGAIN
      }
      // Bytes arrive in random pieces: a segment, a few bytes, or all that is there.
      let piece = [Int.max, Int.max, 1 + rng.below(16), 1 + rng.below(300)][
        rng.below(trickle ? 3 : 4) + (trickle ? 1 : 0)]
      let n = min(buffer.count, s.toBroker.count, piece)
      s.toBroker.withUnsafeBytes { src in buffer.baseAddress!.copyMemory(from: src.baseAddress!, byteCount: n) }
      s.toBroker.removeFirst(n)
      s.lastReadMs = now
      s.bytesRead += n
      broker.received(s.id, count: n, now: now)
      reads += 1
      if n < buffer.count { break }
    }
    broker.readDone(s.id)
  }

  /// Room the client's socket has for the broker's bytes, cut at random (short writes).
  private func writable(_ s: SimSocket) -> Int {
    let room = s.clientGone ? Int.max : s.capacity - s.toClient.count
    return rng.below(3) == 0 ? min(room, 1 + rng.below(400)) : room
  }

  /// Writes `limit` bytes of the gathered output at most; returns how many were written.
  private func write(_ s: SimSocket, slices count: Int, limit: Int) -> Int {
    var written = 0
    var i = 0
    while i < count && written < limit {
      let n = min(slices[i].count, limit - written)
      if n <= 0 { onProblem("gatherOutput returned an empty slice") }
      if !s.clientGone { s.toClient += UnsafeRawBufferPointer(start: slices[i].base, count: n) }
      written += n
      i += 1
    }
    return written
  }

  /// Like EventLoop.flush: up to `writesPerFlush` writes; EPOLLOUT armed when the socket is full.
  private func flush(_ s: SimSocket) {
    var writes = 0
    while writes < SimNetwork.writesPerFlush {
      let count = broker.gatherOutput(s.id, into: slices, capacity: SimNetwork.slicesCapacity)
      if count == 0 { break }
      let n = write(s, slices: count, limit: writable(s))
      writes += 1
      if n > 0 {
        broker.wrote(s.id, count: n)
        continue
      }
      setInterest(s, out: true)  // EAGAIN
      return
    }
    setInterest(s, out: broker.outputCount(s.id) > 0)
  }

  private func setInterest(_ s: SimSocket, out: Bool) {
    s.interestIn = broker.wantsRead(s.id)
    s.interestOut = out
  }

  private func socket(_ id: ConnectionID, _ effect: String) -> SimSocket? {
    guard let s = byToken[id.token] else {
      onProblem("\(effect) for a connection that is not open (slot \(id.slot), generation \(id.generation))")
      return nil
    }
    return s
  }

  /// The core's effects through the one effect loop (BrokerCore/Effects.swift), as the event
  /// loop applies them; this network is the sink (below).
  private func applyEffects() { broker.applyEffects(to: self) }

  /// Nothing is in flight on the network: no unread bytes either way (for clients that read),
  /// no output queued in the broker.
  func quiet(reading: (SimSocket) -> Bool) -> String? {
    for s in open {
      if !s.toBroker.isEmpty || s.eof {
        return "connection \(s.serial) has \(s.toBroker.count) unread bytes\(s.eof ? " and EOF" : "")"
          + " (read interest \(s.interestIn))"
      }
      if broker.outputCount(s.id) > 0 {
        return
          "connection \(s.serial) has \(broker.outputCount(s.id)) bytes of output queued "
          + "(write interest \(s.interestOut))"
      }
    }
    for s in sockets where !s.toClient.isEmpty && !s.clientGone && reading(s) {
      return "connection \(s.serial) has \(s.toClient.count) bytes its client did not read"
    }
    return nil
  }
}

extension SimNetwork: EffectSink {
  func waitsForWritable(_ id: ConnectionID) -> Bool {
    guard let s = socket(id, "nextFlush") else { return true }
    return s.interestOut
  }

  func flush(_ id: ConnectionID) {
    guard let s = socket(id, "nextFlush") else { return }
    flush(s)
  }

  /// One last write (non-blocking: what the socket takes now), then the socket is gone.
  func close(_ id: ConnectionID, reason: CloseReason) {
    guard let s = socket(id, "nextClose") else { return }
    if broker.outputCount(id) > 0 {
      let count = broker.gatherOutput(id, into: slices, capacity: SimNetwork.slicesCapacity)
      let n = write(s, slices: count, limit: writable(s))
      if n > 0 { broker.wrote(id, count: n) }
    }
    if broker.closeReason(id) == nil { onProblem("nextClose returned a connection that is not closing") }
    s.closedReason = reason
    s.closedMs = now
    s.interestIn = false
    s.interestOut = false
    s.toBroker = []
    byToken[id.token] = nil
    open.removeAll { $0 === s }
    onClose(s, reason)
  }

  func interestChanged(_ id: ConnectionID, wantsRead: Bool) {
    guard let s = socket(id, "nextInterest") else { return }
    setInterest(s, out: s.interestOut)
  }
}

// MARK: the simulation

final class Simulation {
  let seed: UInt64
  let steps: Int
  let features: SimFeatures
  let trace: Bool
  var rng: SplitMix64
  let net: SimNetwork
  let log = SimLog()
  var clients: [SimClient] = []
  private(set) var step = 0
  private(set) var failure: String?
  private(set) var failureStep = 0
  private var sessions = 0
  /// Silent clients: since when (ms).
  private var silentSince: [Int: UInt64] = [:]
  /// Events right after the broker's QoS 0 drop counter went up.
  private var dropEvents: [Int] = []
  private var dropsSeen: UInt64 = 0
  /// Per client: events right after a drop was counted for its session, and the session's
  /// drop counter last seen (the oracle allows a missing copy only where one was counted).
  private var clientDropEvents: [Int: [Int]] = [:]
  private var clientDropsSeen: [Int: UInt32] = [:]
  /// The most QoS 2 ids the spill table held at once.
  private(set) var peakSpill = 0
  /// The broker's count of publishers cut for a full QoS 2 spill table, last seen.
  private var spillFullSeen: UInt64 = 0

  var limits: Limits { net.broker.limits }

  init(seed: UInt64, steps: Int, features: SimFeatures, trace: Bool) {
    self.seed = seed
    self.steps = steps
    self.features = features
    self.trace = trace
    rng = SplitMix64(state: seed)
    // One seed in four runs short of memory: a few receive chunks for many connections (reads
    // pause), small output queues (QoS 0 is dropped, control packets that do not fit close).
    let scarce = rng.below(4) == 0
    net = SimNetwork(limits: Simulation.limits(scarce: scarce), seed: seed)
    net.trickle = scarce
    net.onClose = { [unowned self] s, reason in self.closed(s, reason) }
    net.onProblem = { [unowned self] what in self.fail("network: \(what)") }
    let count = 5 + rng.below(6)
    for i in 0..<count {
      let v5 = features.contains(.mqtt5) && rng.below(2) == 0
      let persistent = features.contains(.persistentSessions) && rng.below(2) == 0
      clients.append(
        SimClient(
          sim: self, index: i, version: v5 ? .v5 : .v311, persistent: persistent,
          sessionExpiry: v5 && persistent ? [5, 30, 0xFFFF_FFFF][rng.below(3)] : 0,
          keepAlive: [0, 5, 10, 30][rng.below(4)], pipelines: !v5 && rng.below(2) == 0))
    }
    note(
      "seed \(seed): \(count) clients, \(scarce ? "scarce" : "roomy") memory (receive \(net.plan.rxChunks), "
        + "send \(net.plan.txChunks) chunks), features \(features)")
  }

  static func limits(scarce: Bool) -> Limits {
    var l = Limits()
    l.connectionsMax = 16
    l.subscriptionsMax = scarce ? 24 : 160
    l.memoryBudgetBytes = scarce ? 26 << 10 : 256 << 10
    l.chunkBytes = 256
    l.packetBytesMax = 1024
    l.queuedBytesMax = scarce ? 2048 : 32 << 10
    l.largeBuffersMax = scarce ? 1 : 2
    l.clientIDBytesMax = 32
    l.topicBytesMax = 64
    l.keepAliveMaxSeconds = 65535
    l.connectTimeoutSeconds = 10
    l.inflightMax = 20
      l.sysIntervalSeconds = 0  // no $SYS retained topics in the oracle's retained state
    l.retainedMessagesMax = 64
    // Roomy: more than every pipelining client's ids beyond the window, so the table never
    // fills; scarce: a few, so that the documented disconnect happens.
    l.qos2SpillMax = scarce ? 8 : 16 * SimClient.pipeliningWindow
    if scarce {
      // The smallest budget that fits: every traffic pool near its minimum.
      while (try? BrokerPlan.make(l)) == nil { l.memoryBudgetBytes += 1 << 10 }
    }
    return l
  }

  func newSession() -> Int {
    sessions += 1
    return sessions
  }

  /// MIDGE_SIM_DEBUG=1: the core's slots and sessions when a run fails at the end.
  func debugDump() {
    guard SimEnvironment.value("MIDGE_SIM_DEBUG") != nil else { return }
    let b = net.broker
    for i in 0..<b.slotHighWater where b.connections[i].state != .free {
      let k = b.connections[i]
      print("DEBUG slot \(i) \(k.state) flags \(k.flags.rawValue) deadline \(k.deadline) now \(net.now) ka \(k.keepAliveMs) rx \(k.receiveBuffer) used \(k.receiveUsed) session \(k.session)")
    }
    for i in 0..<b.sessionHighWater where b.sessions[i].state != .free {
      let x = b.sessions[i]
      print("DEBUG session \(i) \(x.state) pending \(x.pendingCount) inflight \(x.inflightCount) expires \(x.expiresAt) conn \(x.connection)")
    }
    print("DEBUG free: rx \(b.receivePool.freeCount) large \(b.largePool.freeCount) store \(b.store.freeChunks) entries \(b.entries.freeCount); paused publishers \(b.pausedPublishers)")
  }

  func fail(_ what: String) {
    guard failure == nil else { return }
    failure = what
    failureStep = step
    note("FAIL: \(what)")
  }

  func note(_ text: @autoclosure () -> String) {
    if trace { print("sim step \(step): \(text())") }
  }

  /// Runs the steps and the end; returns the first failure.
  func run() -> String? {
    while step < steps && failure == nil {
      step += 1
      act()
      noteDrops()
      for _ in 0..<(1 + rng.below(2)) where failure == nil { turn() }
      check()
    }
    if failure == nil { finish() }
    return failure
  }

  /// Network and clients take one turn.
  func turn() {
    net.turn()
    noteDrops()
    for c in clients where failure == nil { c.readInput() }
    for c in clients where failure == nil { c.keepAliveTick() }
  }

  func noteDrops() {
    let drops = net.broker.stats.messagesDropped
    guard drops != dropsSeen else { return }
    dropsSeen = drops
    let event = log.tick()
    dropEvents.append(event)
    for c in clients {
      let id = Array(c.name.utf8)
      let count = id.withUnsafeBytes { raw in
        net.broker.findSession(raw).map { net.broker.sessions[Int($0)].droppedCount } ?? 0
      }
      if count != clientDropsSeen[c.index, default: 0] {
        clientDropsSeen[c.index] = count
        if count > 0 { clientDropEvents[c.index, default: []].append(event) }
      }
    }
  }

  func check() {
    guard failure == nil else { return }
    if let problem = net.broker.checkInvariants() {
      fail("invariant: \(problem)")
      return
    }
    peakSpill = max(peakSpill, net.broker.qos2Spill.count)
    if net.broker.stats.connectionsOpen != net.openCount {
      fail("the broker has \(net.broker.stats.connectionsOpen) connections open, the network \(net.openCount)")
    }
  }

  /// Clock advance in substeps; well-behaved clients keep their connections alive meanwhile.
  func advance(by ms: UInt64, substep: UInt64) {
    var left = ms
    while left > 0 && failure == nil {
      let dt = min(substep, left)
      net.now += dt
      left -= dt
      for c in clients { c.keepAliveTick() }
      turn()
    }
  }

  // MARK: actions

  func any(_ condition: (SimClient) -> Bool) -> SimClient? {
    let candidates = clients.filter(condition)
    return candidates.isEmpty ? nil : candidates[rng.below(candidates.count)]
  }

  func cleanStart(_ c: SimClient) -> Bool {
    !(features.contains(.persistentSessions) && c.persistent) || rng.below(8) == 0
  }

  func will() -> (topic: Int, qos: QoS, retain: Bool)? {
    guard features.contains(.wills), rng.below(3) == 0 else { return nil }
    return (
      rng.below(SimTopics.topics.count), QoS(rawValue: UInt8(rng.below(3)))!,
      features.contains(.retained) && rng.below(4) == 0
    )
  }

  func bodyBytes() -> Int {
    switch rng.below(20) {
    case 0..<14: return rng.below(40)
    case 14..<19 where !net.trickle: return 40 + rng.below(200)
    default: return 300 + rng.below(650)  // beyond one chunk: a large packet buffer
    }
  }

  func act() {
    let roll = rng.below(1000)
    let connected = { (c: SimClient) in c.phase == .connected && !c.silent }
    switch roll {
    case 0..<110:
      if let c = any({ $0.phase == .offline }) {
        let clean = cleanStart(c)
        let w = will()
        note(
          "\(c.name) connects (\(c.version), clean \(clean), keep alive \(c.keepAlive), "
            + "will \(w.map { "\($0)" } ?? "none"))"
        )
        c.connect(clean: clean, will: w)
      }
    case 110..<380:
      if let c = any(connected) {
        let topic = rng.below(SimTopics.topics.count)
        let qos = QoS(rawValue: UInt8(rng.below(3)))!
        let retain = features.contains(.retained) && rng.below(6) == 0
        let empty = retain && rng.below(4) == 0
        note(
          "\(c.name) publishes #\(log.messages.count) to \(SimTopics.topics[topic]) at QoS \(qos.rawValue)"
            + "\(retain ? " retained" : "")\(empty ? " empty" : "")"
        )
        c.publish(topic: topic, qos: qos, retain: retain, empty: empty, bodyBytes: bodyBytes())
      }
    case 380..<450:
      if let c = any(connected) {
        var entries: [(filter: Int, qos: QoS)] = []
        for _ in 0..<(1 + rng.below(3)) {
          let f = rng.below(SimTopics.filters.count)
          if !entries.contains(where: { $0.filter == f }) { entries.append((f, QoS(rawValue: UInt8(rng.below(3)))!)) }
        }
        note("\(c.name) subscribes to \(entries.map { "\(SimTopics.filters[$0.filter]) QoS \($0.qos.rawValue)" })")
        c.subscribe(entries)
      }
    case 450..<480:
      if let c = any(connected) {
        let mine = c.live.values.filter { $0.endedAt == nil }.map(\.filter).sorted()
        var filters: [Int] = []
        if mine.isEmpty || rng.below(4) == 0 {
          filters.append(rng.below(SimTopics.filters.count))
        } else {
          filters.append(mine[rng.below(mine.count)])
          if mine.count > 1 && rng.below(3) == 0 { filters.append(mine[rng.below(mine.count)]) }
        }
        note("\(c.name) unsubscribes from \(filters.map { SimTopics.filters[$0] })")
        c.unsubscribe(Array(Set(filters)).sorted())
      }
    case 480..<500:
      if let c = any(connected) {
        note("\(c.name) pings")
        c.ping()
      }
    case 500..<530:
      if let c = any({ $0.phase != .offline && !$0.silent }) {
        note("\(c.name) disconnects")
        c.disconnect()
      }
    case 530..<545:
      if let c = any({ $0.phase != .offline && !$0.silent }) {
        note("network resets \(c.name)'s connection")
        c.reset()
      }
    case 545..<555:
      if let c = any({ $0.phase != .offline && !$0.silent }) {
        note("\(c.name) closes its connection without DISCONNECT")
        c.closeWithoutDisconnect()
      }
    case 555..<585:
      if let c = any({ $0.phase != .offline }) {
        c.stalledUntil = step + 1 + rng.below(60)
        note("\(c.name) stops reading until step \(c.stalledUntil)")
      }
    case 585..<595:
      if let c = any({ connected($0) && $0.keepAlive > 0 }) {
        note("\(c.name) goes silent (keep alive \(c.keepAlive) s)")
        c.silent = true
        silentSince[c.index] = net.now
      }
    case 595..<600:
      if let c = any(connected) {
        let clean = cleanStart(c)
        note("\(c.name) reconnects on a new connection while the old one looks alive (clean \(clean))")
        c.abandonAndReconnect(clean: clean, will: will())
      }
    case 600..<605:
      if net.open.filter({ $0.owner < 0 }).count < 2, let s = net.open(owner: -1) {
        log.connections.append(SimConnection(serial: s.serial, client: -1, openedAt: log.tick()))
        note("a connection opens and never sends CONNECT (connection \(s.serial))")
      }
    case 605..<645:
      let open = net.open
      if !open.isEmpty {
        let s = open[rng.below(open.count)]
        s.readDelay = 1 + rng.below(4)
        note("network delays reads of connection \(s.serial) by \(s.readDelay) turns")
      }
    case 645..<745:
      let ms = UInt64(10 + rng.below(490))
      note("clock +\(ms) ms")
      advance(by: ms, substep: 500)
    case 745..<765:
      let ms = UInt64(1000 + rng.below(4000))
      note("clock +\(ms) ms")
      advance(by: ms, substep: 250)
    case 765..<768:
      let ms = UInt64(20_000 + rng.below(40_000))
      note("clock +\(ms) ms")
      advance(by: ms, substep: 500)
    case 768..<788:
      if let c = any(connected) {
        let topic = rng.below(SimTopics.topics.count)
        let count = 5 + rng.below(c.window)
        note("\(c.name) sends a burst of \(count) QoS 2 messages to \(SimTopics.topics[topic])")
        for _ in 0..<count {
          c.publish(topic: topic, qos: .exactlyOnce, retain: false, empty: false, bodyBytes: rng.below(40))
        }
      }
    default:
      break  // the loop just turns
    }
  }

  // MARK: closes

  /// The broker released a connection (reason as it reported it).
  func closed(_ s: SimSocket, _ reason: CloseReason) {
    let event = log.tick()
    note("connection \(s.serial) closed by the broker: \(reason.name)")
    if s.owner < 0 {
      if reason != .connectTimeout {
        fail("a connection that never sent CONNECT was closed for \(reason.name), not the connect timeout")
      } else if net.now < s.openedMs + UInt64(limits.connectTimeoutSeconds) * 1000 {
        fail("a connection that never sent CONNECT was closed before connect_timeout")
      }
      return
    }
    let c = log.connections[s.serial]
    let client = clients[s.owner]
    c.closedAt = event
    c.closeReason = "\(reason.name)"
    let silent = client.silent && client.socket === s
    // The client left this connection (closed it, or forgot it and connected again).
    let left = client.socket !== s
    // What a well-behaved client may be closed for.
    switch reason {
    case .inflightExceeded:
      // Only a 3.1.1 client that pipelines, when the shared spill table is full (counted),
      // which happens only on scarce seeds: a roomy table holds every client's ids.
      let spillFull = net.broker.stats.qos2SpillFull
      let roomy = limits.qos2SpillCount >= clients.count * SimClient.pipeliningWindow
      if client.version == .v5 || spillFull == spillFullSeen || roomy {
        fail("the broker closed \(client.name)'s connection \(s.serial): \(reason.name)")
      }
      spillFullSeen = spillFull
    case .connectTimeout where s.bytesRead == 0 && s.bufferDenied:
      // The documented limit: the receive chunks stayed held (paused publishers, partial
      // packets) for the whole connect timeout, and the CONNECT waited unread in the kernel.
      note("\(client.name)'s CONNECT was never read: no receive chunk free within connect_timeout")
    case .protocolError, .malformed, .packetTooLarge, .ioError, .connectTimeout, .shutdown,
      .topicAliasInvalid, .payloadFormatInvalid, .retainNotSupported:
      fail("the broker closed \(client.name)'s connection \(s.serial): \(reason.name)")
    case .keepAliveTimeout:
      if !silent && !left {
        fail("the broker closed \(client.name)'s connection \(s.serial) for keep alive, but the client kept it alive")
      } else if silent && net.now < client.lastSendMs + UInt64(client.keepAlive) * 1500 {
        fail("\(client.name) was closed for keep alive before 1.5 x keep alive passed [MQTT-3.1.2-24]")
      }
    case .takenOver:
      // By a CONNECT with the same client identifier on another connection: a newer one, or an
      // older one whose CONNECT the broker read late (both may have been processed in this turn).
      let other = net.sockets.contains {
        $0.owner == s.owner && $0 !== s && ($0.isOpen || $0.closedMs == net.now)
      }
      if !other {
        fail("\(client.name)'s connection \(s.serial) was taken over, but no other connection of it was open")
      }
    case .clientDisconnect:
      if !c.sentDisconnect { fail("\(client.name)'s connection \(s.serial) closed as DISCONNECTed; it sent none") }
    case .peerClosed, .outputOverflow, .connectRefused, .quotaExceeded:
      break
    }
    // The will: due unless the client disconnected cleanly or was never accepted.
    if let w = c.will {
      w.sentAt = event
      switch reason {
      case .clientDisconnect, .connectRefused, .connectTimeout: w.willDue = false
      case .takenOver: w.willDue = nil  // implementations differ for 3.1.1
      default: w.willDue = c.connackAt != nil ? true : nil
      }
      w.willPublished = w.willDue != false
      if w.willDue == true {
        w.acknowledgedAt = event
        w.processedAt = event
        w.lastProcessedAt = event
      }
    }
    // A session that does not persist ends with its connection.
    if !c.persists {
      for r in log.subscriptionsOf[s.owner] ?? [] where r.session == c.session {
        r.end(possibly: event, certainly: event)
      }
    }
    client.brokerClosed(c)
    if silent {
      silentSince[client.index] = nil
      client.lost()  // a silent client notices nothing by itself
    }
  }

  // MARK: the end

  func finish() {
    step = steps + 1  // failures from here on report the step after the last
    note("end: stalls end, persistent sessions come back, the clock passes every deadline")
    for c in clients { c.stalledUntil = 0 }
    // A silent client whose connection the broker closed meanwhile notices it now.
    for c in clients where c.silent && !(c.socket?.isOpen ?? false) {
      silentSince[c.index] = nil
      c.lost()
    }
    for s in net.sockets { s.readDelay = 0 }
    let comeBack = { (c: SimClient) in c.persistent && self.features.contains(.persistentSessions) }
    for c in clients where c.phase == .offline && comeBack(c) { c.connect(clean: false, will: nil) }
    let keepAliveMax = clients.map { UInt64($0.keepAlive) }.max() ?? 0
    advance(by: max(keepAliveMax * 1500, UInt64(limits.connectTimeoutSeconds) * 1000) + 1000, substep: 250)
    // A silent client's last packets may wait unread while the broker does not read it (a
    // full pool: README "Limits"); its keep alive counts from when the broker read them.
    // Pauses end within a keep-alive period or 60 s; several may follow one another.
    for _ in 0..<10 {
      let due = clients.compactMap { c -> UInt64? in
        guard c.silent, let s = c.socket, s.isOpen else { return nil }
        if !s.toBroker.isEmpty { return net.now + Broker.pauseMaxMs }
        return s.lastReadMs + UInt64(c.keepAlive) * 1500 + 1000
      }.max() ?? 0
      guard due > net.now else { break }
      advance(by: due - net.now, substep: 250)
    }
    check()
    guard failure == nil else { return }
    // A silent client whose connection the broker already closed (for another reason, before
    // it went silent) has nothing left to time out.
    if let c = clients.first(where: { $0.silent && ($0.socket?.isOpen ?? false) }) {
      debugDump()
      fail(
        "\(c.name) went silent at \(silentSince[c.index] ?? 0) ms, keep alive \(c.keepAlive) s, "
          + "and is still connected at \(net.now) ms [MQTT-3.1.2-24]"
      )
      return
    }
    if let s = net.open.first(where: { $0.owner < 0 }) {
      fail("connection \(s.serial) never sent CONNECT and is still open after connect_timeout")
      return
    }
    for s in net.open where s.abandoned { net.reset(s) }

    note("end: the network drains")
    drain(reconnecting: comeBack)
    // An answered PINGREQ: every PUBLISH sent before it was processed.
    for c in clients where c.phase == .connected { c.ping() }
    drain(reconnecting: comeBack)
    guard failure == nil else { return }
    log.endEvent = log.tick()

    if features.contains(.retained) {
      note("end: a fresh subscriber reads the retained messages")
      let fresh = SimClient(
        sim: self, index: clients.count, version: .v311, persistent: false, sessionExpiry: 0, keepAlive: 0)
      fresh.collectsRetained = true
      clients.append(fresh)
      fresh.connect(clean: true, will: nil)
      drain(reconnecting: { _ in false })
      let q: QoS = features.contains(.outboundQoS) ? .exactlyOnce : .atMostOnce
      fresh.subscribe([(SimTopics.filters.firstIndex(of: "#")!, q), (SimTopics.filters.firstIndex(of: "$s/#")!, q)])
      drain(reconnecting: { _ in false })
      fresh.ping()
      drain(reconnecting: { _ in false })
      if fresh.phase != .connected { fail("the fresh subscriber could not connect") }
    }

    note("end: everyone disconnects; persistent sessions are ended with a clean connection")
    for c in clients where c.phase != .offline { c.disconnect() }
    drain(reconnecting: { _ in false })
    for c in clients where comeBack(c) {
      c.connect(clean: true, will: nil, endSession: true)
    }
    drain(reconnecting: { _ in false })
    for c in clients where c.phase != .offline { c.disconnect() }
    drain(reconnecting: { _ in false })
    advance(by: 120_000, substep: 1000)  // past every expiry
    guard failure == nil else { return }

    let b = net.broker
    if net.openCount != 0 || b.stats.connectionsOpen != 0 || b.stats.clientsConnected != 0 {
      fail(
        "after everyone left: \(net.openCount) sockets, \(b.stats.connectionsOpen) connections, "
          + "\(b.stats.clientsConnected) clients open"
      )
    } else if b.stats.subscriptionsActive != 0 {
      fail("after everyone left: \(b.stats.subscriptionsActive) subscriptions remain")
    } else if b.receiveChunksFree != net.plan.rxChunks || b.sendChunksFree != net.plan.txChunks
      || b.largeBuffersFree != net.plan.largeBuffers.count
    {
      fail(
        "after everyone left the pools are not whole: receive \(b.receiveChunksFree)/\(net.plan.rxChunks), "
          + "send \(b.sendChunksFree)/\(net.plan.txChunks), large \(b.largeBuffersFree)/\(net.plan.largeBuffers.count)")
    } else if let problem = b.checkInvariants() {
      fail("invariant after everyone left: \(problem)")
    }
    guard failure == nil else { return }
    let oracle = SimOracle(
      log: log, features: features, dropEvents: dropEvents, clientDropEvents: clientDropEvents,
      retainedRefused: net.broker.stats.retainedRefused)
    if let problem = oracle.check() {
      debugDump()
      fail("oracle: \(problem)")
    }
    note(
      "end: \(log.messages.count) messages, \(log.receipts.count) copies received, "
        + "\(b.stats.messagesDropped) QoS 0 drops, \(log.connections.count) connections, "
        + "owed: \(oracle.owedAtLeastOnce) at least once, \(oracle.owedComplete) complete QoS 0, "
        + "read pauses \(b.stats.readPauses), QoS 2 spill peak \(peakSpill), closes: "
        + "\(CloseReason.allCases.filter { b.stats.closes($0) > 0 }.map { "\($0.name) \(b.stats.closes($0))" })"
    )
  }

  /// Turns until nothing is in flight (bounded). Clients for which `reconnecting` holds come
  /// back if they lose their connection meanwhile (a few times).
  func drain(reconnecting: (SimClient) -> Bool) {
    var attempts: [Int: Int] = [:]
    var turns = 0
    while failure == nil {
      for c in clients where c.phase == .offline && reconnecting(c) && attempts[c.index, default: 0] < 3 {
        attempts[c.index, default: 0] += 1
        c.connect(clean: false, will: nil)
      }
      // Later turns let time pass too: a publisher paused because a pool was full resumes or
      // is given up on its timer (README "Queue limits"), which needs the clock to move.
      // A pool held in a cycle (a publisher paused with the only large buffer, waiting for
      // the store that a subscriber behind it holds) is freed only by that timer (60 s).
      if turns < 100 { turn() } else { advance(by: 1000, substep: 250) }
      check()
      turns += 1
      let readers = { (s: SimSocket) in s.owner >= 0 && self.clients[s.owner].socket === s }
      var busy = net.quiet(reading: readers)
      if busy == nil,
        let c = clients.first(where: { $0.phase == .connecting || ($0.phase == .connected && $0.hasPendingRequests) })
      {
        busy =
          "\(c.name) is "
          + (c.phase == .connecting ? "waiting for CONNACK" : "waiting for answers (\(c.inFlight) in flight)")
      }
      guard let busy else { return }
      if turns >= 2000 {
        debugDump()
        fail("the network does not drain: \(busy)")
        return
      }
    }
  }
}
