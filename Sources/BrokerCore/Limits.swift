// Capacities and limits, and the memory plan they imply. Each limit has a config key (in
// parentheses) and a documented behaviour when hit (README, "Limits"). Everything that is
// not an explicit limit is derived from the memory budget: after the fixed consumers are
// placed, what is left of the budget is shared by the traffic pools (BrokerPlan.PoolShare).
import Bounded
import MidgeAuth

public struct Limits: Sendable, Equatable {
  /// The worst case this process reserves for the broker (`memory_budget`).
  public var memoryBudgetBytes = 16 << 20
  /// `memory_lock`: fault in and lock the whole arena at startup (mlock), refusing to start
  /// when the kernel cannot give it; false (the default): pages become resident as they are
  /// first used.
  public var memoryLock = false
  /// Concurrent clients (`max_connections`). When full, a new connection is answered from one
  /// of `refusalSlots` extra slots: CONNACK 3 (3.1.1) / 0x89 Server busy (5.0), then closed.
  /// Only when those are busy too is it closed without a CONNACK. Both are counted.
  public var connectionsMax = 1024
  /// Subscriptions across all clients (`max_subscriptions`). When full: SUBACK 0x80.
  public var subscriptionsMax = 8192
  /// Largest packet accepted, fixed header included (`max_packet_size`). Larger: close.
  public var packetBytesMax = 262_144
  /// Longest topic filter stored for a subscription, in bytes (`max_topic_length`). Filters
  /// longer than 64 bytes take one of max_subscriptions / 8 long slots; when those are in use
  /// the SUBSCRIBE is refused like a full table (SUBACK 0x80 / 0x97).
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
  /// The incoming window per client (`max_inflight_messages`): QoS 2 messages received and
  /// not yet released, kept per session. Advertised to MQTT 5 clients as Receive Maximum; an
  /// MQTT 5 client that sends more is disconnected (0x93) [MQTT-3.3.4-9]. A 3.1/3.1.1 client,
  /// which cannot learn the window, spills further ids into the shared `qos2SpillMax` table.
  public var inflightMax = 20
  /// The outgoing window per client (`max_inflight_outgoing`): QoS 1 and 2 messages sent and
  /// not yet acknowledged (an MQTT 5 client's smaller Receive Maximum wins). Entries come from
  /// the shared queue-entry pool, so a larger window costs no reservation.
  public var inflightOutgoingMax = 1024
  /// Inbound QoS 2 packet ids of 3.1/3.1.1 clients beyond `max_inflight_messages`, all sessions
  /// together (`qos2_spill_ids`; 0 = 4 × max_connections, at least 64 and at most 4096: see
  /// `qos2SpillCount`). When full, a 3.1.1 publisher that sends one more unreleased QoS 2
  /// PUBLISH is disconnected without its acknowledgement (counted).
  public var qos2SpillMax = 0
  /// What an MQTT 5 client that sends more unreleased QoS 2 messages than the Receive Maximum
  /// it was told meets (`receive_maximum_exceeded`): false, DISCONNECT 0x93 as the protocol
  /// says [MQTT-3.3.4-9]; true, its further ids spill into the shared table as a 3.1.1
  /// client's do (some clients ignore the Receive Maximum: README, "Queue limits").
  public var spillsBeyondReceiveMaximum = false
  /// Sessions: connected clients plus persistent sessions of disconnected ones
  /// (`max_sessions`; 0 = twice max_connections). When every session is in use, a client with a
  /// new client identifier is refused with CONNACK 3 / 0x89.
  public var sessionsMax = 0
  /// Messages waiting for one session beyond its in-flight window (`max_queued_messages`);
  /// what happens to one more is `queueFullAction`.
  public var queuedMessagesMax = 1000
  /// Whether QoS 0 messages are queued for disconnected persistent sessions
  /// (`queue_qos0_messages`, as in Mosquitto).
  public var queueQoS0 = false
  /// What happens when a recipient's queue holds `queuedMessagesMax` (`queue_full_action`):
  /// see `QueueFullAction`. The default isolates clients: only that recipient misses the message.
  public var queueFullAction: QueueFullAction = .dropNewest
  /// Retained messages kept (`max_retained_messages`) and their stored bytes
  /// (`max_retained_bytes`; 0 = a quarter of the message store). A new retained topic beyond
  /// either limit is not retained: MQTT 5 QoS 1/2 publishers get 0x97 and the message is not
  /// delivered; others have it delivered but not retained (counted).
  public var retainedMessagesMax = 1024
  public var retainedBytesMax = 0
  /// `retain_available`: when false, retained PUBLISHes are refused (MQTT 5: DISCONNECT 0x9A;
  /// 3.1.1: the retain flag is ignored) and MQTT 5 clients are told so in CONNACK.
  public var retainAvailable = true
  /// Topic aliases an MQTT 5 client may use per connection (`max_topic_alias`; 0 = none).
  public var topicAliasMax = 10
  /// Topic aliases midge assigns to the topics it sends an MQTT 5 client that allows them
  /// (`max_topic_alias_broker`, as Mosquitto 2.1; 0 = none): at most this many per connection,
  /// and at most the client's Topic Alias Maximum (BrokerAliases.swift).
  public var topicAliasBrokerMax = 10
  /// Seconds between $SYS statistics updates (`sys_interval`; 0 = none).
  public var sysIntervalSeconds = 10
  /// Seconds a disconnected MQTT 3.1.1 persistent session is kept
  /// (`persistent_client_expiration`; 0 = until max_sessions forces nothing out: forever).
  public var persistentExpirySeconds = 0
  /// Kernel send / receive buffer of each client socket (SO_SNDBUF / SO_RCVBUF), in bytes
  /// (`socket_send_buffer`, `socket_receive_buffer`); 0 leaves the kernel's default and its
  /// autotuning. Kernel memory, outside the budget: `--plan` shows the worst case.
  public var socketSendBufferBytes = 0
  public var socketReceiveBufferBytes = 0
  /// TLS session slots (`max_tls_sessions`): TLS clients connected at once, handshaking or not.
  /// Only reserved when a TLS listener is configured. When all are in use a new TLS client is
  /// closed at once (counted, Stats.tlsRefusedSessions); other clients are unaffected.
  public var tlsSessionsMax = 32
  /// TLS handshakes in progress at once (`max_tls_handshakes`): each needs extra TLS heap for
  /// its duration. When all are in use a new TLS client is closed at once (counted).
  public var tlsHandshakesMax = 4
  /// Authentication and access control (README, "Authentication and access control"). Each
  /// auth file has two regions (text and table), so that a reload (SIGHUP) parses into the
  /// spare one and swaps only on success. `max_auth_file_bytes`: the largest password_file or
  /// acl_file (larger: refused at startup, kept old on reload).
  public var authFileBytesMax = 64 << 10
  /// Users in the password_file (`max_password_entries`); more: refused like a bad file.
  public var passwordEntriesMax = 256
  /// Lines (user, topic, pattern) in the acl_file (`max_acl_rules`); more: refused.
  public var aclRulesMax = 1024
  /// Longest user name kept for ACL checks and identities (`max_username_length`). With an
  /// acl_file a longer user name is refused at CONNECT (5 / 0x87 not authorized).
  public var usernameBytesMax = 64
  /// Which auth regions the plan reserves: set by `password_file`, `acl_file`, and (TLS)
  /// identities given to connections before CONNECT (`Broker.setIdentity`).
  public var usesPasswordFile = false
  public var usesAclFile = false
  public var usesIdentities = false

  public init() {}

  /// Sessions keep their user name when ACL checks or identities need it.
  public var keepsUsernames: Bool { usesAclFile || usesIdentities }

  /// Extra slots that only answer a refusal while the table is full: 1/16 of max_connections,
  /// at least 4 and at most 64.
  public var refusalSlots: Int { min(64, max(4, connectionsMax / 16)) }

  /// Every slot: admitted clients plus refusal slots.
  public var slotCount: Int { connectionsMax + refusalSlots }

  /// Spilled QoS 2 ids: qos2_spill_ids, or four per connection (64...4096): at least 1024 on
  /// every board profile, so that a client with 500 unreleased ids fits.
  public var qos2SpillCount: Int { qos2SpillMax > 0 ? qos2SpillMax : min(4096, max(64, 4 * connectionsMax)) }

  /// Session slots: max_sessions, or twice max_connections.
  public var sessionCount: Int { sessionsMax > 0 ? sessionsMax : connectionsMax * 2 }
}

/// `queue_full_action`: what a message meets when one recipient's queue is full.
public enum QueueFullAction: UInt8, Sendable {
  /// Not queued for that recipient (counted); the publisher and every other recipient carry on.
  case dropNewest
  /// That recipient's oldest waiting message is dropped (counted) to make room for this one.
  case dropOldest
  /// Delivered to nobody: an MQTT 5 QoS 1/2 publisher gets PUBACK/PUBREC 0x97; a 3.1.1 one is
  /// paused until every recipient has room (lossless, but one full queue holds the publisher).
  case rejectPublish
  /// Every QoS 1/2 publisher is paused until every recipient has room (lossless back-pressure).
  case pausePublisher

  /// Whether a full recipient holds the message back for everyone (the lossless policies).
  var holdsPublisher: Bool { self == .rejectPublish || self == .pausePublisher }
}

/// A line the platform adds to the plan (its TLS sessions and heap): count x bytes each.
public struct PlatformLine {
  public let name: StaticString
  public let count: Int
  public let bytesEach: Int
  public init(_ name: StaticString, count: Int, bytesEach: Int) {
    self.name = name
    self.count = count
    self.bytesEach = bytesEach
  }
}

/// Why a plan does not fit, naming the consumer to shrink.
public struct PlanError: Error {
  /// The consumer to shrink, the relation broken, or (with `key`) the key out of its range.
  public let message: StaticString
  public let neededBytes: Int64
  public let budgetBytes: Int
  /// Set when a limit is outside its key's range (`key.spec.lo...key.spec.hi`).
  public var key: LimitKey? = nil
}

/// The broker's share of the plan: typed reservations plus the derived pool sizes.
public struct BrokerPlan {
  public var memory = MemoryPlan()
  public let limits: Limits
  public var rxChunks = 0
  public var txChunks = 0
  public var messageChunks = 0
  public var queueEntries = 0
  var connections: Reservation<Connection>
  var sessions: Reservation<Session>
  var clientIDs: ByteReservation
  var sessionBuckets: Reservation<UInt32>
  var sessionLinks: Reservation<UInt32>
  var qos2IDs: Reservation<UInt16>
  var qos2Spill: Reservation<UInt64>
  var aliases: Reservation<UInt32>
  var outboundAliases: Reservation<UInt32>
  var subscriptions: Reservation<Subscription>
  var subscriptionBuckets: Reservation<UInt32>
  var filters: ByteReservation
  var longFilters: ByteReservation
  var longFree: Reservation<UInt32>
  var fanout: Reservation<FanOut>
  var topicScratch: ByteReservation
  var retained: Reservation<UInt32>
  var rings: Reservation<UInt32>
  var largeBuffers: ByteReservation
  var largeLinks: Reservation<UInt32>
  var messages: Reservation<StoredMessage>
  var messageData: ByteReservation
  var messageLinks: Reservation<UInt32>
  var entries: Reservation<QueueEntry>
  var rxData: ByteReservation
  var rxLinks: Reservation<UInt32>
  var txData: ByteReservation
  var txLinks: Reservation<UInt32>
  /// Auth regions, two of each (current and spare): bound by the platform, which reads the
  /// files into them (see AuthFiles in the executable).
  public var passwordText: ByteReservation
  public var passwordEntries: Reservation<PasswordEntry>
  public var aclText: ByteReservation
  public var aclRecords: Reservation<AclRecord>
  /// User names of sessions (ACL checks at delivery) and identities of connections.
  var usernames: ByteReservation
  var identities: ByteReservation
  /// The platform's per-connection record (socket and poller state), bound by the platform.
  public var sockets: ByteReservation
  /// The platform's fixed event-loop buffers (poller batch, write slices).
  public var loopBuffers: ByteReservation
  /// The platform's own lines (TLS), in the order asked for in `make(platform:)`, back to back.
  public var platform: [ByteReservation] = []

  /// The four pools that absorb traffic share what the fixed lines leave of the budget, in
  /// eighths: receive chunks ¼, send chunks ⅜ (output fans out), the message store ¼ and
  /// queue entries ⅛. README, "Memory plan and limits", describes the same split.
  struct PoolShare {
    let eighths: Int64
    static let receive = PoolShare(eighths: 2), send = PoolShare(eighths: 3)
    static let messages = PoolShare(eighths: 2), entries = PoolShare(eighths: 1)

    /// This pool's bytes of `left`.
    func of(_ left: Int64) -> Int64 { left * eighths / 8 }

    /// The smallest `left` whose share is at least `bytes`.
    func leftFor(_ bytes: Int64) -> Int64 { (bytes * 8 + eighths - 1) / eighths }
  }

  /// Padding the eight pool lines may need to start on an arena boundary (one alignment
  /// each), plus one spare: reserved before the pools are sized from what is left.
  static let poolAlignmentSlack = 9 * Arena.alignment

  /// Rings per connection slot: free slots, flush, close, interest, rx and large waiters.
  static let ringsPerConnection = 6
  static let minimumRxChunks = 8
  /// Stored messages live in chains of small chunks, so that a short message costs little.
  public static let messageChunkBytes = 128
  /// What one message chunk costs with its link and a message header (a message needs at
  /// least one chunk, so there is one header per chunk).
  static var messageChunkCost: Int {
    messageChunkBytes + 4 + MemoryLayout<StoredMessage>.stride
  }

  public static func make(
    _ limits: Limits, socketBytesPerConnection: Int = 8, loopBufferBytes: Int = 8192,
    platform: [PlatformLine] = []
  ) throws(PlanError) -> BrokerPlan {
    try limits.verify()
    var m = MemoryPlan()
    let n = limits.slotCount  // max_connections + refusal slots
    let sessionCount = limits.sessionCount
    let connections = m.reserve("connection slots", Connection.self, count: n)
    let sockets = m.reserveBytes("socket table", count: n, bytesEach: socketBytesPerConnection)
    let loopBuffers = m.reserveBytes("event loop buffers", count: 1, bytesEach: loopBufferBytes)
    let sessions = m.reserve("sessions", Session.self, count: sessionCount)
    let clientIDs = m.reserveBytes("client identifiers", count: sessionCount, bytesEach: limits.clientIDBytesMax)
    let sessionBuckets = m.reserve("session index", UInt32.self, count: SubscriptionTable.bucketCount(sessionCount))
    let sessionLinks = m.reserve("session index links", UInt32.self, count: sessionCount)
    let qos2 = m.reserve("inbound QoS 2 ids", UInt16.self, count: sessionCount * limits.inflightMax)
    let qos2Spill = m.reserve("inbound QoS 2 spill table", UInt64.self, count: KeySet.slotCount(limits.qos2SpillCount))
    let aliases = m.reserve("topic aliases", UInt32.self, count: n * limits.topicAliasMax)
    let outboundAliases = m.reserve("outbound topic aliases", UInt32.self, count: n * limits.topicAliasBrokerMax)
    let subs = m.reserve("subscriptions", Subscription.self, count: limits.subscriptionsMax)
    let buckets = m.reserve(
      "subscription index", UInt32.self, count: SubscriptionTable.bucketCount(limits.subscriptionsMax))
    let filters = m.reserveBytes(
      "subscription filters", count: limits.subscriptionsMax,
      bytesEach: min(SubscriptionTable.shortBytes, limits.topicBytesMax))
    let longCount = limits.topicBytesMax > SubscriptionTable.shortBytes ? max(1, limits.subscriptionsMax / 8) : 0
    let longFilters = m.reserveBytes("long subscription filters", count: longCount, bytesEach: limits.topicBytesMax)
    let longFree = m.reserve("long filter free list", UInt32.self, count: longCount)
    // A matching subscription adds one entry; a shared group adds one more for its member.
    let fanout = m.reserve("fan-out scratch", FanOut.self, count: 2 * limits.subscriptionsMax)
    // Two: the topic being routed, and the topic matched for subscription identifiers.
    let topicScratch = m.reserveBytes(
      "topic scratch", count: 2, bytesEach: min(65535, limits.packetBytesMax))
    let retained = m.reserve("retained index", UInt32.self, count: limits.retainedMessagesMax)
    let rings = m.reserve("event rings", UInt32.self, count: n * ringsPerConnection)
    let largeCount = limits.packetBytesMax > limits.chunkBytes ? limits.largeBuffersMax : 0
    let large = m.reserveBytes("large packet buffers", count: largeCount, bytesEach: limits.packetBytesMax)
    let largeLinks = m.reserve("large buffer links", UInt32.self, count: largeCount)
    // Auth regions: lines only when the feature is configured.
    let fileBytes = limits.authFileBytesMax + 1  // +1: a file that fills the region is too long
    let uses = (password: limits.usesPasswordFile, acl: limits.usesAclFile)
    let passwordText =
      uses.password ? m.reserveBytes("password file text", count: 2, bytesEach: fileBytes) : .none(bytesEach: 0)
    let passwordEntries: Reservation<PasswordEntry> =
      uses.password ? m.reserve("password entries", PasswordEntry.self, count: 2 * limits.passwordEntriesMax) : .none
    let aclText = uses.acl ? m.reserveBytes("acl file text", count: 2, bytesEach: fileBytes) : .none(bytesEach: 0)
    let aclRecords: Reservation<AclRecord> =
      uses.acl ? m.reserve("acl rules", AclRecord.self, count: 2 * limits.aclRulesMax) : .none
    let usernames =
      limits.keepsUsernames
      ? m.reserveBytes("session user names", count: sessionCount, bytesEach: limits.usernameBytesMax)
      : .none(bytesEach: limits.usernameBytesMax)
    let identities =
      limits.usesIdentities
      ? m.reserveBytes("connection identities", count: n, bytesEach: limits.usernameBytesMax)
      : .none(bytesEach: limits.usernameBytesMax)
    var platformLines: [ByteReservation] = []
    for p in platform { platformLines.append(m.reserveBytes(p.name, count: p.count, bytesEach: p.bytesEach)) }
    // What is left is shared by the four pools that absorb traffic (PoolShare).
    let fixed = m.totalBytes + Int64(poolAlignmentSlack)
    let budget = Int64(limits.memoryBudgetBytes)
    let left = fixed < budget ? budget - fixed : 0
    let perChunk = Int64(limits.chunkBytes + 4)
    let entryBytes = Int64(MemoryLayout<QueueEntry>.stride)
    let rxCount = Int(PoolShare.receive.of(left) / perChunk)
    let txCount = Int(PoolShare.send.of(left) / perChunk)
    let messageCount = Int(PoolShare.messages.of(left) / Int64(messageChunkCost))
    let entryCount = Int(PoolShare.entries.of(left) / entryBytes)
    // The smallest workable shape: minimum receive chunks, one client's whole send queue, and
    // room to store one largest packet.
    let sendNeeded = (limits.queuedBytesMax + limits.chunkBytes - 1) / limits.chunkBytes
    let messageNeeded = (limits.packetBytesMax + messageChunkBytes - 1) / messageChunkBytes
    if rxCount < minimumRxChunks || txCount < sendNeeded || messageCount < messageNeeded
      || entryCount < limits.inflightMax
    {
      // The smallest `left` that gives every pool its minimum through its share.
      let needLeft = max(
        PoolShare.receive.leftFor(perChunk * Int64(minimumRxChunks)),
        PoolShare.send.leftFor(perChunk * Int64(sendNeeded)),
        PoolShare.messages.leftFor(Int64(messageChunkCost) * Int64(messageNeeded)),
        PoolShare.entries.leftFor(entryBytes * Int64(limits.inflightMax)))
      throw PlanError(
        message: largestFixedConsumer(m), neededBytes: fixed + needLeft, budgetBytes: limits.memoryBudgetBytes)
    }
    let messages = m.reserve("message headers", StoredMessage.self, count: messageCount)
    let messageData = m.reserveBytes("message chunks", count: messageCount, bytesEach: messageChunkBytes)
    let messageLinks = m.reserve("message chunk links", UInt32.self, count: messageCount)
    let entries = m.reserve("queued message references", QueueEntry.self, count: entryCount)
    let rxData = m.reserveBytes("receive chunks", count: rxCount, bytesEach: limits.chunkBytes)
    let rxLinks = m.reserve("receive chunk links", UInt32.self, count: rxCount)
    let txData = m.reserveBytes("send chunks", count: txCount, bytesEach: limits.chunkBytes)
    let txLinks = m.reserve("send chunk links", UInt32.self, count: txCount)
    precondition(m.totalBytes <= budget, "plan arithmetic exceeds the budget")
    var plan = BrokerPlan(
      limits: limits, connections: connections, sessions: sessions, clientIDs: clientIDs,
      sessionBuckets: sessionBuckets, sessionLinks: sessionLinks, qos2IDs: qos2, qos2Spill: qos2Spill,
      aliases: aliases, outboundAliases: outboundAliases, subscriptions: subs, subscriptionBuckets: buckets, filters: filters, longFilters: longFilters, longFree: longFree, fanout: fanout, topicScratch: topicScratch,
      retained: retained, rings: rings, largeBuffers: large, largeLinks: largeLinks, messages: messages,
      messageData: messageData, messageLinks: messageLinks, entries: entries, rxData: rxData,
      rxLinks: rxLinks, txData: txData, txLinks: txLinks, passwordText: passwordText,
      passwordEntries: passwordEntries, aclText: aclText, aclRecords: aclRecords, usernames: usernames,
      identities: identities, sockets: sockets, loopBuffers: loopBuffers)
    plan.memory = m
    plan.platform = platformLines
    plan.rxChunks = rxCount
    plan.txChunks = txCount
    plan.messageChunks = messageCount
    plan.queueEntries = entryCount
    return plan
  }

  static func largestFixedConsumer(_ m: MemoryPlan) -> StaticString {
    var best = m.lines[0]
    for line in m.lines where line.totalBytes > best.totalBytes { best = line }
    return best.name
  }
}

extension Limits {
  /// Every key's range (LimitKey), and the relations between limits that must hold whatever
  /// the budget. Checked at startup and by a test over every board profile. The budget's own
  /// lower bound is the plan's business: it names the consumer that does not fit.
  public func verify() throws(PlanError) {
    for key in LimitKey.allCases where key != .memoryBudget {
      let v = key.value(in: self)
      if v < key.spec.lo || v > key.spec.hi {
        throw PlanError(message: key.spec.name, neededBytes: 0, budgetBytes: memoryBudgetBytes, key: key)
      }
    }
    func fail(_ m: StaticString) -> PlanError {
      PlanError(message: m, neededBytes: 0, budgetBytes: memoryBudgetBytes)
    }
    if queuedBytesMax < packetBytesMax { throw fail("max_queued_bytes must be >= max_packet_size") }
    if sessionsMax != 0 && sessionsMax < connectionsMax {
      throw fail("max_sessions must be 0 or max_connections..10000000")
    }
  }
}
