// Capacities and limits, and the memory plan they imply. Each limit has a config key (in
// parentheses) and a documented behaviour when hit (README, "Limits"). Everything that is
// not an explicit limit is derived from the memory budget: after the fixed consumers are
// placed, what is left of the budget becomes I/O chunks (1/4 receive, 3/4 send).
import Bounded

public struct Limits: Sendable, Equatable {
  /// The worst case this process reserves for the broker (`memory_budget`).
  public var memoryBudgetBytes = 16 << 20
  /// Concurrent clients (`max_connections`). When full, a new connection is answered from one
  /// of `refusalSlots` extra slots: CONNACK 3 (3.1.1) / 0x89 Server busy (5.0), then closed.
  /// Only when those are busy too is it closed without a CONNACK. Both are counted.
  public var connectionsMax = 1024
  /// Subscriptions across all clients (`max_subscriptions`). When full: SUBACK 0x80.
  public var subscriptionsMax = 8192
  /// Largest packet accepted, fixed header included (`max_packet_size`). Larger: close.
  public var packetBytesMax = 262_144
  /// Longest topic filter stored for a subscription, in bytes (`max_topic_length`).
  public var topicBytesMax = 256
  /// Longest client identifier accepted (`max_client_id_length`). Longer: CONNACK 0x02.
  public var clientIDBytesMax = 128
  /// Output bytes queued for one client before QoS 0 messages to it are dropped
  /// (`max_queued_bytes`).
  public var queuedBytesMax = 1 << 20
  /// Receive buffers for packets larger than one I/O chunk (`large_packet_buffers`). When
  /// all are in use, connections in the middle of a large packet wait (reading pauses).
  public var largeBuffersMax = 4
  /// Size of one I/O chunk (`io_chunk_size`): the unit of receive and send buffering.
  public var chunkBytes = 4096
  /// Largest keep alive a client may ask for (`max_keepalive`); 0 or more is refused with
  /// CONNACK 0x02 when this is below 65535.
  public var keepAliveMaxSeconds = 65535
  /// Seconds a new connection may take to send CONNECT (`connect_timeout`).
  public var connectTimeoutSeconds = 10
  /// QoS 2 messages one client may have unreleased (PUBREC sent, no PUBREL yet)
  /// (`max_inflight_messages`). A client that sends more is disconnected without an
  /// acknowledgement of the excess PUBLISH, so it is neither lost nor delivered twice.
  public var inflightMax = 20
  /// Kernel send / receive buffer of each client socket (SO_SNDBUF / SO_RCVBUF), in bytes
  /// (`socket_send_buffer`, `socket_receive_buffer`); 0 leaves the kernel's default and its
  /// autotuning. Kernel memory, outside the budget: `--plan` shows the worst case.
  public var socketSendBufferBytes = 0
  public var socketReceiveBufferBytes = 0

  public init() {}

  /// Extra slots that only answer a refusal while the table is full: 1/16 of max_connections,
  /// at least 4 and at most 64.
  public var refusalSlots: Int { min(64, max(4, connectionsMax / 16)) }

  /// Every slot: admitted clients plus refusal slots.
  public var slotCount: Int { connectionsMax + refusalSlots }
}

/// Why a plan does not fit, naming the consumer to shrink.
public struct PlanError: Error {
  public let message: StaticString
  public let neededBytes: Int64
  public let budgetBytes: Int
}

/// The broker's share of the plan: typed reservations plus the derived chunk counts.
public struct BrokerPlan {
  public var memory = MemoryPlan()
  public let limits: Limits
  public var rxChunks = 0
  public var txChunks = 0
  var connections: Reservation<Connection>
  var clientIDs: ByteReservation
  var qos2IDs: Reservation<UInt16>
  var subscriptions: Reservation<Subscription>
  var filters: ByteReservation
  var rings: Reservation<UInt32>
  var largeBuffers: ByteReservation
  var largeLinks: Reservation<UInt32>
  var rxData: ByteReservation
  var rxLinks: Reservation<UInt32>
  var txData: ByteReservation
  var txLinks: Reservation<UInt32>
  /// The platform's per-connection record (socket and poller state), bound by the platform.
  public var sockets: ByteReservation
  /// The platform's fixed event-loop buffers (poller batch, write slices).
  public var loopBuffers: ByteReservation

  /// Rings per connection slot: free slots, flush, close, interest, rx and large waiters.
  static let ringsPerConnection = 6
  static let minimumRxChunks = 8

  public static func make(
    _ limits: Limits, socketBytesPerConnection: Int = 8, loopBufferBytes: Int = 8192
  ) throws(PlanError) -> BrokerPlan {
    try limits.verify()
    var m = MemoryPlan()
    let n = limits.slotCount  // max_connections + refusal slots
    let connections = m.reserve("connection slots", Connection.self, count: n)
    let sockets = m.reserveBytes("socket table", count: n, bytesEach: socketBytesPerConnection)
    let loopBuffers = m.reserveBytes("event loop buffers", count: 1, bytesEach: loopBufferBytes)
    let clientIDs = m.reserveBytes("client identifiers", count: n, bytesEach: limits.clientIDBytesMax)
    let qos2 = m.reserve("inbound QoS 2 ids", UInt16.self, count: n * limits.inflightMax)
    let subs = m.reserve("subscriptions", Subscription.self, count: limits.subscriptionsMax)
    let filters = m.reserveBytes(
      "subscription filters", count: limits.subscriptionsMax, bytesEach: limits.topicBytesMax)
    let rings = m.reserve("event rings", UInt32.self, count: n * ringsPerConnection)
    let largeCount = limits.packetBytesMax > limits.chunkBytes ? limits.largeBuffersMax : 0
    let large = m.reserveBytes("large packet buffers", count: largeCount, bytesEach: limits.packetBytesMax)
    let largeLinks = m.reserve("large buffer links", UInt32.self, count: largeCount)
    // What is left becomes I/O chunks: each costs its bytes plus a 4-byte link.
    let fixed = m.totalBytes + Int64(4 * Arena.alignment)  // alignment slack of the chunk lines
    let perChunk = Int64(limits.chunkBytes + 4)
    let budget = Int64(limits.memoryBudgetBytes)
    let chunks = fixed < budget ? Int((budget - fixed) / perChunk) : 0
    let rxCount = max(minimumRxChunks, chunks / 4)
    let txCount = chunks - rxCount
    if chunks < minimumRxChunks * 2 || txCount * limits.chunkBytes < limits.queuedBytesMax {
      // The smallest chunk count n whose split (receive max(8, n/4), send the rest) holds
      // minimum receive chunks and one client's whole queue.
      let sendNeeded = (limits.queuedBytesMax + limits.chunkBytes - 1) / limits.chunkBytes
      var n = max(minimumRxChunks * 2, sendNeeded + minimumRxChunks)
      while n - max(minimumRxChunks, n / 4) < sendNeeded { n += 1 }
      let needed = fixed + perChunk * Int64(n)
      throw PlanError(
        message: largestFixedConsumer(m), neededBytes: needed, budgetBytes: limits.memoryBudgetBytes)
    }
    let rxData = m.reserveBytes("receive chunks", count: rxCount, bytesEach: limits.chunkBytes)
    let rxLinks = m.reserve("receive chunk links", UInt32.self, count: rxCount)
    let txData = m.reserveBytes("send chunks", count: txCount, bytesEach: limits.chunkBytes)
    let txLinks = m.reserve("send chunk links", UInt32.self, count: txCount)
    precondition(m.totalBytes <= budget, "plan arithmetic exceeds the budget")
    var plan = BrokerPlan(
      limits: limits, connections: connections, clientIDs: clientIDs, qos2IDs: qos2,
      subscriptions: subs, filters: filters, rings: rings, largeBuffers: large,
      largeLinks: largeLinks, rxData: rxData, rxLinks: rxLinks, txData: txData, txLinks: txLinks,
      sockets: sockets, loopBuffers: loopBuffers)
    plan.memory = m
    plan.rxChunks = rxCount
    plan.txChunks = txCount
    return plan
  }

  static func largestFixedConsumer(_ m: MemoryPlan) -> StaticString {
    var best = m.lines[0]
    for line in m.lines where line.totalBytes > best.totalBytes { best = line }
    return best.name
  }
}

extension Limits {
  /// Relations between limits that must hold whatever the budget. Checked at startup and
  /// by a test over every board profile.
  public func verify() throws(PlanError) {
    func fail(_ m: StaticString) -> PlanError {
      PlanError(message: m, neededBytes: 0, budgetBytes: memoryBudgetBytes)
    }
    if connectionsMax < 1 || connectionsMax > 1_000_000 { throw fail("max_connections must be 1..1000000") }
    if subscriptionsMax < 1 || subscriptionsMax > 10_000_000 { throw fail("max_subscriptions must be 1..10000000") }
    if chunkBytes < 256 || chunkBytes > 65536 { throw fail("io_chunk_size must be 256..65536") }
    if packetBytesMax < 64 || packetBytesMax > 268_435_460 { throw fail("max_packet_size must be 64..268435460") }
    if topicBytesMax < 16 || topicBytesMax > 65535 { throw fail("max_topic_length must be 16..65535") }
    if clientIDBytesMax < 23 || clientIDBytesMax > 65535 {
      throw fail("max_client_id_length must be 23..65535 (MQTT requires 23) [MQTT-3.1.3-5]")
    }
    if queuedBytesMax < packetBytesMax { throw fail("max_queued_bytes must be >= max_packet_size") }
    if largeBuffersMax < 1 { throw fail("large_packet_buffers must be >= 1") }
    if keepAliveMaxSeconds < 1 || keepAliveMaxSeconds > 65535 { throw fail("max_keepalive must be 1..65535") }
    if connectTimeoutSeconds < 1 || connectTimeoutSeconds > 3600 { throw fail("connect_timeout must be 1..3600") }
    if inflightMax < 1 || inflightMax > 65535 { throw fail("max_inflight_messages must be 1..65535") }
    if socketSendBufferBytes < 0 || socketSendBufferBytes > 16 << 20 {
      throw fail("socket_send_buffer must be 0..16MiB")
    }
    if socketReceiveBufferBytes < 0 || socketReceiveBufferBytes > 16 << 20 {
      throw fail("socket_receive_buffer must be 0..16MiB")
    }
  }
}
