// Method: the core promises to allocate nothing after startup (README, "Memory plan and
// limits"). This test drives a Broker directly, without FakeNetwork (whose arrays allocate):
// client bytes are encoded before measuring and copied into the core's read buffers through
// withUnsafeBytes, output is gathered into a preallocated IOSlice array. One warm-up round
// absorbs the runtime's one-time work (type metadata and the like); then the host allocation
// counter (per thread, HostAllocCounter) must not move over many rounds of connect,
// subscribe, publish (small and large), QoS 1/2, ping, timers and disconnect; and over the
// session paths: an MQTT 5 persistent session with a will and subscription identifiers that
// hangs up (will published, messages queued while offline) and resumes (redelivery with DUP,
// acknowledgements), retained set and clear, topic aliases and message expiry.
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
      // The session paths: MQTT 5 client c with a persistent session and a will.
      let connectC = C.connect(
        "alloc-c", v5: true, clean: false, keepAlive: 30, properties: Prop.sessionExpiry(600),
        will: WillSpec("w/c", "gone", qos: 1, retain: true, properties: Prop.willDelay(0)))
      let subscribeC = C.subscribe(3, [("q/#", 2), ("w/#", 1)], v5: true, properties: Prop.subscriptionID(5))
      let offlineTraffic =
        C.publish("q/1", "one", v5: true, qos: 1, id: 21)
        + C.publish("q/2", "two", v5: true, qos: 2, id: 22) + C.pubrel(22)
        + C.publish("q/r", "kept", v5: true, qos: 1, retain: true, id: 23)
        + C.publish("q/r", "", v5: true, qos: 1, retain: true, id: 24)
        + C.publish("q/a", "aliased", v5: true, qos: 0, properties: Prop.topicAlias(1) + Prop.messageExpiry(60))
        + C.publish("", "again", v5: true, qos: 0, properties: Prop.topicAlias(1))
      // Acknowledgements of whatever packet ids the broker chose (1...8 cover a round).
      var acks: [UInt8] = []
      for id in UInt16(1)...8 { acks += C.puback(id) + C.pubrec(id) + C.pubcomp(id) }
      let connectP = C.connect("alloc-p", v5: true, properties: Prop.topicAliasMaximum(0))
      let disconnect5 = C.disconnect()
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
        // Session paths: c resumes (session present from round 1 on), subscribes, hangs up
        // (its will is published and retained), a v5 publisher sends to its offline session,
        // then c resumes again, acknowledges the redelivered messages and disconnects.
        guard let c1 = broker.open(now: now, anonymousAllowed: true),
          let p = broker.open(now: now, anonymousAllowed: true)
        else { break }
        feed(broker, c1, connectC, now: now)
        feed(broker, c1, subscribeC, now: now)
        bytesOut += drain(broker, slices)
        broker.peerClosed(c1, reason: .peerClosed)
        feed(broker, p, connectP, now: now)
        feed(broker, p, offlineTraffic, now: now)
        bytesOut += drain(broker, slices)
        guard let c2 = broker.open(now: now, anonymousAllowed: true) else { break }
        feed(broker, c2, connectC, now: now)
        bytesOut += drain(broker, slices)
        feed(broker, c2, acks, now: now)
        feed(broker, c2, disconnect5, now: now)
        feed(broker, p, disconnect5, now: now)
        bytesOut += drain(broker, slices)
        rounds += 1
      }
      let allocations = host_alloc_count_this_thread() - before
      #expect(rounds == 21)
      #expect(bytesOut > 21 * 900, "the scenario really ran")
      #expect(broker.stats.messagesSent >= 21 * 2)
      #expect(broker.stats.connectionsOpen == 0)
      #expect(broker.stats.willsPublished >= 21, "the will path ran")
      #expect(broker.stats.sessionsOffline == 1, "alloc-c's session stays, offline")
      #expect(allocations == 0, "\(allocations) allocations in 20 rounds")
      #expect(broker.receiveChunksFree == plan.rxChunks)
      #expect(broker.sendChunksFree == plan.txChunks)
      #expect(broker.largeBuffersFree == plan.largeBuffers.count)
    }
  }
#endif
