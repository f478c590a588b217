// Method: what happens at every fixed limit, through FakeNetwork: a client that never reads
// (its output is never written, like a full socket buffer), a full connection table, exhausted
// receive chunks, slot reuse and stale connection ids. Counters in `stats` and the free counts
// of the three pools are checked after each step; every scenario ends with all connections
// closed and every pool whole again.
// Two regression tests below would crash the core (a precondition failure) if ring entries of
// released slots were pushed again; they run as exit tests, in a child process, so that a crash
// fails that test instead of the whole run.
import Bounded
import Foundation
import MQTTWire
import Testing

@testable import BrokerCore

/// Small limits with many more connections than receive chunks (16 connections, 8 chunks).
func scarceReceiveLimits() -> Limits {
  var l = smallLimits()
  l.connectionsMax = 16
  // The smallest budget that fits: 8 receive and 8 send chunks (8 x 256 = queuedBytesMax).
  var budget = 16 << 10
  while true {
    l.memoryBudgetBytes = budget
    if (try? BrokerPlan.make(l)) != nil { return l }
    budget += 64
  }
}

@Suite("Limits and resources")
struct ResourceTests {
  @Test("a client that does not read loses QoS 0 messages past max_queued_bytes; others get all")
  func slowSubscriber() throws {
    let limits = smallLimits()
    let net = FakeNetwork(limits)
    let slow = try net.client("slow")
    let fast = try net.client("fast")
    let pub = try net.client("pub")
    net.send(slow, P.subscribe(1, "s/#"))
    net.send(fast, P.subscribe(1, "s/#"))
    _ = net.take(slow)
    _ = net.take(fast)
    net.peer(slow).stalled = true

    // Each delivery is 1 + 1 + 2 + 3 ("s/t") + 90 = 97 bytes: 21 fit in 2048, the rest drop.
    let payload = [UInt8](repeatingPattern: 90)
    let perMessage = 97
    let fitting = limits.queuedBytesMax / perMessage
    for i in 0..<40 {
      var p = payload
      p[0] = UInt8(i)
      net.send(pub, P.publish("s/t", p))
    }
    #expect(net.take(fast).count == 40)
    #expect(net.broker.outputCount(slow) == fitting * perMessage)
    #expect(net.stats.messagesDropped == UInt64(40 - fitting))
    #expect(net.closed(slow) == nil, "dropping QoS 0 messages does not close")

    // A control packet that still fits is queued behind the messages.
    net.send(slow, P.pingreq)
    #expect(net.broker.outputCount(slow) == fitting * perMessage + 2)

    // The client reads again: the first `fitting` messages in order, then PINGRESP.
    net.unstall(slow)
    let got = net.take(slow)
    #expect(got.count == fitting + 1)
    #expect(got.dropLast().map { $0.payload[0] } == (0..<fitting).map { UInt8($0) })
    #expect(got.last?.bytes == P.pingresp)

    // Stalled again and filled again; now a control packet that does not fit closes it.
    net.peer(slow).stalled = true
    for _ in 0..<40 { net.send(pub, P.publish("s/t", payload)) }
    #expect(net.stats.messagesDropped == UInt64(2 * (40 - fitting)))
    let room = limits.queuedBytesMax - fitting * perMessage
    let filters = (0..<(room - 3)).map { ("f\($0)", UInt8(0)) }  // SUBACK = 4 + count = room + 1
    net.send(slow, P.subscribe(9, filters))
    #expect(net.closed(slow) == .outputOverflow)
    #expect(net.stats.closes(.outputOverflow) == 1)
    #expect(net.stats.subscriptionsActive == 1, "the refused SUBSCRIBE added nothing; fast's remains")
    #expect(net.take(fast).count == 40)
    net.closeAllAndCheckPools()
  }

  @Test("stalled clients cannot take the send chunks' last quarter: their QoS 0 drops are counted, a new client still connects (fair share)")
  func sendPoolFairShare() throws {
    // scarceReceiveLimits: at most two clients' max_queued_bytes of send chunks.
    let net = FakeNetwork(scarceReceiveLimits())
    #expect(net.plan.txChunks * net.limits.chunkBytes <= 2 * net.limits.queuedBytesMax)
    let slow = try net.client("slow")
    let other = try net.client("other")
    let pub = try net.client("pub")
    net.send(slow, P.subscribe(1, "#"))
    net.send(other, P.subscribe(1, "#"))
    _ = net.take(slow)
    _ = net.take(other)
    net.peer(slow).stalled = true
    net.peer(other).stalled = true
    for _ in 0..<30 { net.send(pub, P.publish("t", [UInt8](repeatingPattern: 90))) }
    // Each stalled client holds more than an eighth of max_queued_bytes: once less than a
    // quarter of the send chunks is free, nothing more is encoded for them (one message of
    // 90 bytes fits one chunk, so free stays at most one chunk below the quarter).
    let quarter = net.plan.txChunks / Broker.poolReserveDivisor
    #expect(net.broker.sendChunksFree >= quarter - 1)
    #expect(net.stats.droppedFairShare > 0)
    #expect(net.stats.messagesDropped == net.stats.droppedFairShare + net.stats.droppedSendQueue)
    // A new client's CONNACK and a healthy subscriber's messages still find chunks.
    let late = try net.client("late")
    net.send(late, P.subscribe(2, "t"))
    _ = net.take(late)
    net.send(pub, P.publish("t", "fresh"))
    #expect(net.take(late).count == 1, "the healthy subscriber gets its message")
    #expect(net.closed(late) == nil)
    // The stalled clients read again: the pool recovers.
    net.unstall(slow)
    net.unstall(other)
    #expect(net.broker.sendChunksFree == net.plan.txChunks)
    net.closeAllAndCheckPools()
  }

  @Test("a stalled client that starts reading again gets its queue, then new messages")
  func stallAndResume() throws {
    let net = FakeNetwork()
    let sub = try net.client("sub")
    let pub = try net.client("pub")
    net.send(sub, P.subscribe(1, "r"))
    _ = net.take(sub)
    net.peer(sub).stalled = true
    for i in 0..<5 { net.send(pub, P.publish("r", "m\(i)")) }
    #expect(net.take(sub).isEmpty)
    #expect(net.broker.sendChunksFree < net.plan.txChunks)
    net.unstall(sub)
    #expect(net.broker.outputCount(sub) == 0)
    #expect(net.broker.sendChunksFree == net.plan.txChunks, "written chunks went back")
    net.send(pub, P.publish("r", "m5"))
    #expect(net.take(sub).map(\.payloadText) == (0...5).map { "m\($0)" })
    #expect(net.stats.messagesDropped == 0)
    net.closeAllAndCheckPools()
  }

  @Test("a closed client's unwritten output goes back to the send pool")
  func closeWithQueuedOutput() throws {
    let net = FakeNetwork()
    let sub = try net.client("sub")
    net.send(sub, P.subscribe(1, "q"))
    _ = net.take(sub)
    net.peer(sub).stalled = true
    let pub = try net.client("pub")
    for _ in 0..<10 { net.send(pub, P.publish("q", [UInt8](repeatingPattern: 150))) }
    #expect(net.broker.sendChunksFree < net.plan.txChunks)
    net.hangUp(sub)
    #expect(net.broker.sendChunksFree == net.plan.txChunks)
    net.closeAllAndCheckPools()
  }

  @Test("a full connection table answers CONNACK 3 from the refusal slots, then open returns nil; a released slot is reused with a new generation [MQTT-3.2.2-5]")
  func connectionTableFull() throws {
    let limits = smallLimits()
    let net = FakeNetwork(limits)
    var ids: [ConnectionID] = []
    for i in 0..<limits.connectionsMax { ids.append(try net.client("c\(i)")) }
    // max_connections clients are in: the next ones get refusal slots and "server unavailable".
    var refused: [ConnectionID] = []
    for _ in 0..<limits.refusalSlots { refused.append(try #require(net.connect())) }
    #expect(net.connect() == nil)
    #expect(net.connect() == nil)
    #expect(net.stats.connectionsDroppedFull == 2)
    for (i, r) in refused.enumerated() {
      net.send(r, P.connect(clientID: "late\(i)"))
      #expect(net.take(r).map(\.bytes) == [P.connack(3)])
      #expect(net.closed(r) == .connectRefused)
    }
    #expect(net.stats.connectionsRefusedFull == UInt64(limits.refusalSlots))
    #expect(net.stats.connectionsOpen == limits.connectionsMax)
    #expect(net.stats.connectionsAccepted == UInt64(limits.slotCount))
    #expect(net.stats.clientsConnected == limits.connectionsMax)

    let old = ids[3]
    net.send(old, P.subscribe(1, "old/#"))
    net.hangUp(old)
    let new = try #require(net.connect())
    #expect(new.slot == old.slot, "the most recently freed slot is reused last-in first-out")
    #expect(new.generation == (old.generation + 1) & ConnectionID.generationMask)
    #expect(new != old)
    #expect(ConnectionID(token: new.token) == new)

    // Events for the stale id are ignored and do not reach the new connection.
    #expect(net.broker.readBuffer(old).count == 0)
    #expect(net.broker.wantsRead(old) == false)
    #expect(net.broker.outputCount(old) == 0)
    #expect(net.broker.closeReason(old) == nil)
    net.broker.received(old, count: 1, now: net.now)
    net.broker.readDone(old)
    net.broker.wrote(old, count: 0)
    net.broker.release(old)
    net.broker.peerClosed(old, reason: .ioError)
    net.pump()
    #expect(net.closed(new) == nil)
    #expect(net.broker.wantsRead(new))
    #expect(net.stats.closes(.ioError) == 0)
    let slices = UnsafeMutablePointer<IOSlice>.allocate(capacity: 4)
    defer { slices.deallocate() }
    #expect(net.broker.gatherOutput(old, into: slices, capacity: 4) == 0)

    // The reused slot starts clean: no client id, no subscriptions of the old occupant.
    net.send(new, P.connect(clientID: "c3"))
    #expect(net.take(new).map(\.bytes) == [P.connack(0)])
    net.send(ids[0], P.publish("old/x", "nobody"))
    #expect(net.take(new).isEmpty)
    #expect(net.stats.clientsMaximum == limits.connectionsMax)
    net.closeAllAndCheckPools()
    #expect(net.broker.nextTimerMs == nil)
  }

  @Test("slots cycle through many generations without leaking")
  func manyGenerations() throws {
    let net = FakeNetwork()
    var seen = Set<UInt64>()
    for i in 0..<200 {
      let c = try net.client("g\(i % 3)")
      #expect(seen.insert(c.token).inserted, "token reused")
      if i % 2 == 0 { net.send(c, P.subscribe(1, "t/\(i)")) }
      net.send(c, i % 4 == 0 ? P.disconnect : P.pingreq)
      if i % 4 != 0 { net.hangUp(c) }
    }
    #expect(net.stats.connectionsOpen == 0)
    #expect(net.stats.subscriptionsActive == 0)
    net.closeAllAndCheckPools()
  }

  @Test("exhausted receive chunks: reading pauses and resumes when a chunk frees, nothing is lost")
  func receiveChunksExhausted() throws {
    let limits = scarceReceiveLimits()
    let net = FakeNetwork(limits)
    #expect(net.plan.rxChunks == BrokerPlan.minimumRxChunks)
    #expect(limits.connectionsMax > net.plan.rxChunks)
    let sub = try net.client("sub")
    net.send(sub, P.subscribe(1, "#"))
    _ = net.take(sub)
    // Each holder keeps a chunk with the first byte of a PUBLISH.
    var holders: [ConnectionID] = []
    for i in 0..<net.plan.rxChunks {
      let h = try net.client("h\(i)")
      net.send(h, [0x30])
      holders.append(h)
    }
    #expect(net.broker.receiveChunksFree == 0)

    // A new connection's CONNECT cannot be read: no chunk. Reading pauses, the bytes wait.
    let waiter = try #require(net.connect())
    let connect = P.connect(clientID: "waiter")
    net.send(waiter, connect)
    #expect(net.broker.wantsRead(waiter) == false)
    #expect(net.peer(waiter).interest.last == false, "nextInterest reported the pause")
    #expect(net.peer(waiter).pending == connect)
    #expect(net.stats.readPauses == 1)
    #expect(net.take(waiter).isEmpty)

    // One holder completes its packet: its chunk frees and the waiter is read.
    net.send(holders[0], Array(P.publish("h", "done").dropFirst()))
    #expect(net.take(sub).map(\.payloadText) == ["done"])
    #expect(net.broker.wantsRead(waiter))
    #expect(net.peer(waiter).interest.last == true, "nextInterest reported the resume")
    #expect(net.take(waiter).map(\.bytes) == [P.connack(0)])
    // The others complete too.
    for h in holders.dropFirst() { net.send(h, Array(P.publish("h", "late").dropFirst())) }
    #expect(net.take(sub).count == holders.count - 1)
    net.closeAllAndCheckPools()
  }

  @Test("a connection paused for a receive chunk that closes leaves no trace")
  func waitingForChunkCloses() throws {
    let net = FakeNetwork(scarceReceiveLimits())
    var holders: [ConnectionID] = []
    for _ in 0..<net.plan.rxChunks {
      let h = try #require(net.connect())
      net.send(h, [0x10])  // first byte of a CONNECT
      holders.append(h)
    }
    let waiter = try #require(net.connect())
    net.send(waiter, P.connect(clientID: "w"))
    #expect(net.broker.wantsRead(waiter) == false)
    net.hangUp(waiter)
    #expect(net.closed(waiter) == .peerClosed)
    net.send(holders[0], Array(P.connect(clientID: "h0").dropFirst()))
    #expect(net.take(holders[0]).map(\.bytes) == [P.connack(0)])
    net.closeAllAndCheckPools()
  }

  // MARK: waiter rings (regressions)

  @Test(
    "regression (85f6296): connections that close while waiting for a receive chunk do not overflow the waiter ring")
  func chunkWaiterRingStaleEntries() async {
    // Receive chunks are exhausted by holders that never finish a packet. Clients then connect,
    // find no chunk (pause: pushed onto chunkWaiters), and hang up. The released slot's entry
    // stays in chunkWaiters (wakeChunkWaiters pops nothing while no chunk is free). Before
    // 85f6296 a reused slot was pushed again, and after max_connections cycles the push failed
    // `precondition(queued, "waiter ring holds one entry per connection")`: the process died.
    await #expect(processExitsWith: .success) {
      let net = FakeNetwork(scarceReceiveLimits())
      for _ in 0..<net.plan.rxChunks {
        let h = net.connect()!
        net.send(h, [0x10])
      }
      for _ in 0..<(3 * net.limits.connectionsMax) {
        let c = net.connect()!
        net.send(c, P.connect(clientID: "x"))  // paused: no chunk
        net.hangUp(c)
      }
      net.closeAllAndCheckPools()
      if net.broker.receiveChunksFree != net.plan.rxChunks { exit(3) }
    }
  }

  @Test(
    "regression (85f6296): connections that close while waiting for a large buffer do not overflow the waiter ring")
  func largeWaiterRingStaleEntries() async {
    // One connection holds the only large buffer with an unfinished large packet. Others send
    // a large packet too (pause: pushed onto largeWaiters) and hang up. wakeLargeWaiter only
    // runs when a large buffer frees, so the stale entries stay; before 85f6296 a reused slot
    // was pushed again and the ring overflowed the precondition in pause().
    await #expect(processExitsWith: .success) {
      let net = FakeNetwork()
      let packet = P.publish("x", [UInt8](repeatingPattern: 900))
      let holder = net.connect()!
      net.send(holder, Array(packet.prefix(300)))
      for _ in 0..<(3 * net.limits.connectionsMax) {
        let c = net.connect()!
        net.send(c, packet)  // paused: no large buffer
        net.hangUp(c)
      }
      // The holder completes; the large buffer is free again and the pools are whole.
      net.send(holder, Array(packet.dropFirst(300)))
      net.closeAllAndCheckPools()
      if net.broker.largeBuffersFree != net.plan.largeBuffers.count { exit(3) }
    }
  }
}
