// Method: `checkInvariants` must see a broken pool. Each test builds a broker through
// FakeNetwork with every pool in use (clients, a subscription, QoS 1 messages queued for a
// stalled subscriber and in flight), checks that the invariants hold, then breaks one pool the
// way a wrong lazy initialisation or a leak would (a never-used element written, an element
// taken and listed nowhere, a high-water index moved without the element) and requires the
// check to name the problem.
import Bounded
import Testing

@testable import BrokerCore

@Suite("Invariants see broken pools")
struct InvariantTests {
  /// A broker with every pool partly used, and consistent.
  func busy() throws -> FakeNetwork {
    let net = FakeNetwork()
    let sub = try net.client("sub")
    let pub = try net.client("pub")
    net.send(sub, P.subscribe(1, [("t/#", 1)]))
    _ = net.take(sub)
    net.peer(sub).stalled = true
    for i in 0..<4 { net.send(pub, P.publish("t/\(i)", "m\(i)", qos: 1, id: UInt16(i + 1))) }
    _ = net.take(pub)
    #expect(net.broker.checkInvariants() == nil)
    #expect(net.broker.entries.fresh > 0 && net.broker.store.fresh > 0)
    return net
  }

  func expectProblem(_ net: FakeNetwork, _ words: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let problem = net.broker.checkInvariants()
    #expect(problem?.contains(words) == true, "got: \(problem ?? "nil")", sourceLocation: sourceLocation)
  }

  @Test("a never-used connection slot, session or topic alias that was written")
  func freshSlotsWritten() throws {
    var net = try busy()
    net.broker.connections[net.broker.slotHighWater].deadline = 1
    expectProblem(net, "slot beyond slotHighWater was written")
    net = try busy()
    net.broker.sessions[net.broker.sessionHighWater].expiresAt = 1
    expectProblem(net, "session beyond sessionHighWater was written")
    net = try busy()
    net.broker.aliases[net.broker.slotHighWater * net.broker.limits.topicAliasMax] = messageNone
    expectProblem(net, "topic alias of a slot beyond slotHighWater")
  }

  @Test("a never-used queue entry, message header or subscription entry that was written")
  func freshElementsWritten() throws {
    var net = try busy()
    net.broker.entries.entries[Int(net.broker.entries.fresh)].packetID = 7
    expectProblem(net, "queue entry beyond the fresh index")
    net = try busy()
    net.broker.store.headers[Int(net.broker.store.fresh)].refs = 1
    expectProblem(net, "message header beyond the fresh index")
    net = try busy()
    net.broker.subscriptions.entries[net.broker.subscriptions.highWater].owner = subscriptionNone
    expectProblem(net, "subscription entry beyond highWater")
  }

  @Test("a chunk, queue entry or message header taken and held by nobody")
  func leaks() throws {
    var net = try busy()
    _ = net.broker.receivePool.take()
    expectProblem(net, "neither free nor held")
    net = try busy()
    _ = net.broker.entries.take()
    expectProblem(net, "neither free nor listed")
    net = try busy()
    let held = net.broker.connections[Int(net.broker.slotHighWater - 2)].output.head  // the stalled subscriber's
    #expect(held != chunkNone)
    net.broker.sendPool.give(held)  // in its queue and now also free
    expectProblem(net, "held by the free list and by slot")
  }

  @Test("a high-water index moved past an element that is on no free list")
  func highWaterWithoutElement() throws {
    var net = try busy()
    net.broker.sessionHighWater += 1  // an all-zero session: "subscription list" head 0
    expectProblem(net, "session \(net.broker.sessionHighWater - 1): its list holds entry 0")
    net = try busy()
    net.broker.subscriptions.highWater += 1  // an all-zero entry: owner 0, long slot 0
    expectProblem(net, "subscription entry \(net.broker.subscriptions.highWater - 1) holds long slot 0")
    net = try busy()
    net.broker.slotHighWater += 1  // an all-zero slot: free, but "receive chunk 0" (index 0)
    expectProblem(net, "free slot \(net.broker.slotHighWater - 1) holds")
  }
}
