// Method: the core promises to allocate nothing after startup (README, "Memory plan and
// limits"). This test drives a Broker directly, without FakeNetwork (whose arrays allocate):
// client bytes are encoded before measuring and copied into the core's read buffers through
// withUnsafeBytes, output is gathered into a preallocated IOSlice array. One warm-up round
// absorbs the runtime's one-time work (type metadata and the like); then the host allocation
// counter (per thread, HostAllocCounter) must not move over many rounds of connect,
// subscribe, publish (small and large), QoS 1/2, ping, timers and disconnect.
// Compiled only when the test target links HostAllocCounter.
#if canImport(HostAllocCounter)
  import Bounded
  import HostAllocCounter
  import MQTTWire
  import Testing

  @testable import BrokerCore

  /// Feeds `bytes` to the connection in reads as large as the core allows.
  private func feed(_ broker: Broker, _ id: ConnectionID, _ bytes: [UInt8], now: UInt64) {
    bytes.withUnsafeBytes { src in
      var offset = 0
      while offset < src.count {
        let buffer = broker.readBuffer(id)
        if buffer.count == 0 { break }
        let n = min(buffer.count, src.count - offset)
        buffer.baseAddress!.copyMemory(from: src.baseAddress! + offset, byteCount: n)
        broker.received(id, count: n, now: now)
        offset += n
      }
    }
    broker.readDone(id)
  }

  /// Applies every effect; returns the number of bytes "written" to clients.
  private func drain(_ broker: Broker, _ slices: UnsafeMutablePointer<IOSlice>) -> Int {
    var written = 0
    while let id = broker.nextFlush() {
      while true {
        let count = broker.gatherOutput(id, into: slices, capacity: 8)
        if count == 0 { break }
        var n = 0
        for i in 0..<count { n += slices[i].count }
        broker.wrote(id, count: n)
        written += n
      }
    }
    while let id = broker.nextClose() { broker.release(id) }
    while let id = broker.nextInterest() { _ = broker.wantsRead(id) }
    return written
  }

  @Suite("Allocation")
  struct AllocationTests {
    @Test("after startup, the core allocates nothing while serving clients")
    func steadyState() throws {
      let plan = try BrokerPlan.make(smallLimits())
      let broker = Broker(plan: plan, arena: Arena(plan.memory))
      let slices = UnsafeMutablePointer<IOSlice>.allocate(capacity: 8)
      defer { slices.deallocate() }
      // Everything the clients send, encoded up front.
      let connectA = P.connect(clientID: "alloc-a", keepAlive: 30)
      let connectB = P.connect(clientID: "alloc-b")
      let subscribe = P.subscribe(1, [("t/#", 0), ("+/x", 1), ("$SYS/#", 0)])
      let publishes =
        P.publish("t/x", "small") + P.publish("t/y", [UInt8](repeatingPattern: 900), qos: 1, id: 7)
        + P.publish("t/z", "q2", qos: 2, id: 9) + P.pubrel(9) + P.pingreq
      let unsubscribe = P.unsubscribe(2, "t/#", "nothing")
      var now: UInt64 = 0

      var rounds = 0
      var bytesOut = 0
      var before: UInt64 = 0
      for round in 0..<21 {
        if round == 1 { before = host_alloc_count_this_thread() }  // round 0 warms up
        guard let a = broker.open(now: now, anonymousAllowed: true),
          let b = broker.open(now: now, anonymousAllowed: true)
        else { break }
        feed(broker, a, connectA, now: now)
        feed(broker, b, connectB, now: now)
        feed(broker, a, subscribe, now: now)
        bytesOut += drain(broker, slices)
        feed(broker, b, publishes, now: now)
        bytesOut += drain(broker, slices)
        feed(broker, a, unsubscribe, now: now)
        now += 1000
        broker.tick(now: now)
        bytesOut += drain(broker, slices)
        feed(broker, b, P.disconnect, now: now)
        broker.peerClosed(a, reason: .peerClosed)
        bytesOut += drain(broker, slices)
        rounds += 1
      }
      let allocations = host_alloc_count_this_thread() - before
      #expect(rounds == 21)
      #expect(bytesOut > 21 * 900, "the scenario really ran")
      #expect(broker.stats.messagesSent >= 21 * 2)
      #expect(broker.stats.connectionsOpen == 0)
      #expect(allocations == 0, "\(allocations) allocations in 20 rounds")
      #expect(broker.receiveChunksFree == plan.rxChunks)
      #expect(broker.sendChunksFree == plan.txChunks)
      #expect(broker.largeBuffersFree == plan.largeBuffers.count)
    }
  }
#endif
