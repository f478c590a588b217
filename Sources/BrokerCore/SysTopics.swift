// $SYS statistics: every `sys_interval` seconds the core publishes its counters as retained
// QoS 0 messages under $SYS/broker/: Mosquitto's names where Mosquitto has the counter (see
// mosquitto(8), "BROKER STATUS"), midge's own under $SYS/broker/midge/ for its memory plan,
// pools and limits. Payloads are decimal text built on the stack; every value is published every
// interval (Mosquitto skips unchanged ones). README "$SYS topics" lists them all.
// Leading wildcards never match $SYS topics [MQTT-4.7.2-1]: subscribe to "$SYS/#".
//
// Mosquitto's meanings kept: messages/* count every MQTT packet, publish/messages/* only
// PUBLISH packets. Load averages as Mosquitto computes them: at each update, t seconds after the
// last, the per-minute rate r = (count now - count then) * 60 / t, and for each window W (60, 300,
// 900 s) load = r + e^(-t/W) * (load - r), printed with two decimals.
import Bounded
import MQTTWire
import MidgeText

/// Exponentially weighted per-minute rates of `LoadAverages.counters` counters, 3 windows each.
struct LoadAverages {
  static let counters = 9
  var values: [27 of Double] = .init(repeating: 0)
  var last: [9 of UInt64] = .init(repeating: 0)
  var lastMs: UInt64 = 0
  var started = false

  /// e^-x for x >= 0 without libm (the core calls no C): halve x until it is small, sum the
  /// series, square back. Relative error about 1e-12, plenty for two decimals.
  static func expNeg(_ x: Double) -> Double {
    guard x > 0 else { return 1 }
    guard x < 700 else { return 0 }
    var y = x
    var halvings = 0
    while y > 1.0 / 64 {
      y /= 2
      halvings += 1
    }
    var term = 1.0
    var sum = 1.0
    var k = 1.0
    while k < 12 {
      term *= -y / k
      sum += term
      k += 1
    }
    while halvings > 0 {
      sum *= sum
      halvings -= 1
    }
    return sum
  }

  static let windows: [3 of Double] = [60, 300, 900]

  /// New rates from the counters at `now`; the first call only takes the baseline.
  mutating func update(_ counters: [9 of UInt64], now: UInt64) {
    defer {
      last = counters
      lastMs = now
    }
    guard started else {
      started = true
      return
    }
    let seconds = Double(now &- lastMs) / 1000
    guard seconds > 0 else { return }
    var c = 0
    while c < LoadAverages.counters {
      let rate = Double(counters[c] &- last[c]) * 60 / seconds
      var w = 0
      while w < 3 {
        let e = LoadAverages.expNeg(seconds / LoadAverages.windows[w])
        values[c * 3 + w] = rate + e * (values[c * 3 + w] - rate)
        w += 1
      }
      c += 1
    }
  }
}

extension Broker {
  func publishSys(now: UInt64) {
    guard limits.sysIntervalSeconds > 0, now >= nextSysMs else { return }
    if startMs == nil { startMs = now }
    nextSysMs = now + UInt64(limits.sysIntervalSeconds) * 1000
    let st = stats
    sysText("$SYS/broker/version", "midge version ", versionText, now: now)
    sys("$SYS/broker/uptime", (now - (startMs ?? now)) / 1000, suffix: " seconds", now: now)
    sys("$SYS/broker/clients/connected", UInt64(st.clientsConnected), now: now)
    sys("$SYS/broker/clients/maximum", UInt64(st.clientsMaximum), now: now)
    sys("$SYS/broker/clients/disconnected", UInt64(st.sessionsOffline), now: now)
    sys("$SYS/broker/clients/total", UInt64(st.clientsConnected + st.sessionsOffline), now: now)
    sys("$SYS/broker/clients/expired", st.sessionsExpired, now: now)
    sys("$SYS/broker/messages/received", st.packetsReceived, now: now)
    sys("$SYS/broker/messages/sent", st.packetsSent, now: now)
    sys("$SYS/broker/publish/messages/received", st.messagesReceived, now: now)
    sys("$SYS/broker/publish/messages/sent", st.messagesSent, now: now)
    sys("$SYS/broker/publish/messages/dropped", st.messagesDropped, now: now)
    sys("$SYS/broker/messages/stored", UInt64(store.count), now: now)
    sys("$SYS/broker/store/messages/count", UInt64(store.count), now: now)
    let chunksUsed = store.pool.count - store.freeChunks
    sys("$SYS/broker/store/messages/bytes", UInt64(chunksUsed * BrokerPlan.messageChunkBytes), now: now)
    sys("$SYS/broker/retained messages/count", UInt64(retained.count), now: now)
    sys("$SYS/broker/subscriptions/count", UInt64(subscriptions.count), now: now)
    sys("$SYS/broker/bytes/received", st.bytesReceived, now: now)
    sys("$SYS/broker/bytes/sent", st.bytesSent, now: now)
    publishLoad(st, now: now)
    // midge's own: the memory plan, each pool's capacity and use, refusals and drops.
    sys("$SYS/broker/midge/memory/budget", UInt64(limits.memoryBudgetBytes), suffix: " bytes", now: now)
    sys("$SYS/broker/midge/memory/reserved", UInt64(max(0, memoryReservedBytes)), suffix: " bytes", now: now)
    sys("$SYS/broker/midge/connections/open", UInt64(st.connectionsOpen), now: now)
    sys("$SYS/broker/midge/connections/refused_full", st.connectionsRefusedFull, now: now)
    sys("$SYS/broker/midge/connections/dropped_full", st.connectionsDroppedFull, now: now)
    sys("$SYS/broker/midge/connections/refused_sessions", st.connectionsRefusedSessions, now: now)
    sys("$SYS/broker/midge/connections/refused_store", st.connectionsRefusedStore, now: now)
    sys("$SYS/broker/midge/connections/refused_auth", st.connectionsRefusedAuth, now: now)
    sys("$SYS/broker/midge/subscriptions/refused", st.subscriptionsRefused, now: now)
    sys("$SYS/broker/midge/messages/dropped_queue_full", st.messagesDropped, now: now)  // the total (older name)
    sys("$SYS/broker/midge/messages/dropped/queue_full", st.droppedQueueFull, now: now)
    sys("$SYS/broker/midge/messages/dropped/fair_share", st.droppedFairShare, now: now)
    sys("$SYS/broker/midge/messages/dropped/send_queue", st.droppedSendQueue, now: now)
    sys("$SYS/broker/midge/messages/dropped/store_full", st.droppedStoreFull, now: now)
    sys("$SYS/broker/midge/qos2/spilled", UInt64(qos2Spill.count), now: now)
    sys("$SYS/broker/midge/qos2/spill_full", st.qos2SpillFull, now: now)
    sys("$SYS/broker/midge/messages/rejected_quota", st.messagesRejectedQuota, now: now)
    sys("$SYS/broker/midge/messages/expired", st.messagesExpired, now: now)
    sys("$SYS/broker/midge/messages/too_large_for_client", st.messagesTooLargeForClient, now: now)
    sys("$SYS/broker/midge/messages/queued", UInt64(st.messagesQueued), now: now)
    sys("$SYS/broker/midge/retained/refused", st.retainedRefused, now: now)
    sys("$SYS/broker/midge/publishers/paused", st.publisherPauses, now: now)
    sys("$SYS/broker/midge/reads/paused", st.readPauses, now: now)
    sys("$SYS/broker/midge/wills/published", st.willsPublished, now: now)
    sys("$SYS/broker/midge/sessions/expired", st.sessionsExpired, now: now)
    sys("$SYS/broker/midge/log/write_errors", logWriteErrors, now: now)
    sys("$SYS/broker/midge/closes/lingered", closesLingered, now: now)
    sys("$SYS/broker/midge/closes/linger_full", closesLingerFull, now: now)
    sys("$SYS/broker/midge/acl/publishes_denied", st.publishesDenied, now: now)
    sys("$SYS/broker/midge/acl/subscriptions_denied", st.subscriptionsDenied, now: now)
    sys("$SYS/broker/midge/acl/wills_denied", st.willsDenied, now: now)
    sys("$SYS/broker/midge/tls/handshakes", st.tlsHandshakes, now: now)
    sys("$SYS/broker/midge/tls/handshakes_failed", st.tlsHandshakesFailed, now: now)
    sys("$SYS/broker/midge/tls/refused_sessions", st.tlsRefusedSessions, now: now)
    sys("$SYS/broker/midge/tls/refused_handshakes", st.tlsRefusedHandshakes, now: now)
    sys("$SYS/broker/midge/websockets/upgrades", st.wsUpgrades, now: now)
    sys("$SYS/broker/midge/websockets/refused_handshakes", st.wsRefusedHandshakes, now: now)
    sys("$SYS/broker/midge/websockets/handshakes_failed", st.wsHandshakesFailed, now: now)
    sys("$SYS/broker/midge/websockets/http_requests", st.wsHTTPRequests, now: now)
    sys("$SYS/broker/midge/websockets/frame_errors", st.wsFrameErrors, now: now)
    pool("connections", connections.count, st.connectionsOpen, now: now)
    pool("sessions", sessions.count, st.clientsConnected + st.sessionsOffline, now: now)
    pool("subscriptions", subscriptions.entries.count, subscriptions.count, now: now)
    pool("messages", store.headers.count, store.count, now: now)
    pool("message_chunks", store.pool.count, chunksUsed, now: now)
    pool("retained", retained.index.count, retained.count, now: now)
    pool("queue_entries", entries.entries.count, entries.entries.count - entries.freeCount, now: now)
    pool("send_chunks", sendPool.count, sendPool.count - sendPool.freeCount, now: now)
    pool("receive_chunks", receivePool.count, receivePool.count - receivePool.freeCount, now: now)
    pool("large_buffers", largePool.count, largePool.count - largePool.freeCount, now: now)
    if st.tlsSessionsCapacity > 0 {
      pool("tls_sessions", st.tlsSessionsCapacity, st.tlsSessionsInUse, now: now)
      pool("tls_handshakes", st.tlsHandshakesCapacity, st.tlsHandshakesInUse, now: now)
    }
    // The older names (free counts), kept for existing dashboards.
    sys("$SYS/broker/midge/pools/message_chunks_free", UInt64(store.freeChunks), now: now)
    sys("$SYS/broker/midge/pools/queue_entries_free", UInt64(entries.freeCount), now: now)
    sys("$SYS/broker/midge/pools/send_chunks_free", UInt64(sendPool.freeCount), now: now)
    sys("$SYS/broker/midge/pools/receive_chunks_free", UInt64(receivePool.freeCount), now: now)
    for r in CloseReason.allCases {
      sysPath("$SYS/broker/midge/closes/", r.slug, st.closes(r), now: now)
    }
  }

  /// $SYS/broker/load/*/{1min,5min,15min}, in Mosquitto's order of counters.
  private func publishLoad(_ st: Stats, now: UInt64) {
    load.update(
      [
        st.packetsReceived, st.packetsSent, st.messagesDropped, st.messagesReceived, st.messagesSent,
        st.bytesReceived, st.bytesSent, st.connectsReceived, st.connectionsAccepted,
      ], now: now)
    let v = load.values
    let names: [9 of StaticString] = [
      "messages/received", "messages/sent", "publish/dropped", "publish/received", "publish/sent",
      "bytes/received", "bytes/sent", "connections", "sockets",
    ]
    let windows: [3 of StaticString] = ["/1min", "/5min", "/15min"]
    var c = 0
    while c < LoadAverages.counters {
      var w = 0
      while w < 3 {
        sysLoad(names[c], windows[w], v[c * 3 + w], now: now)
        w += 1
      }
      c += 1
    }
  }

  /// $SYS/broker/midge/pools/NAME/capacity and .../used.
  private func pool(_ name: StaticString, _ capacity: Int, _ used: Int, now: UInt64) {
    sysPath("$SYS/broker/midge/pools/", name, UInt64(max(0, capacity)), leaf: "/capacity", now: now)
    sysPath("$SYS/broker/midge/pools/", name, UInt64(max(0, used)), leaf: "/used", now: now)
  }

  /// $SYS/broker/load/NAME/WINDOW with two decimals ("12.34").
  private func sysLoad(_ name: StaticString, _ window: StaticString, _ value: Double, now: UInt64) {
    let hundredths = value > 0 ? UInt64(min(value, 1e15) * 100 + 0.5) : 0
    var topic: [64 of UInt8] = .init(repeating: 0)
    var text: [32 of UInt8] = .init(repeating: 0)
    withUnsafeMutableBytes(of: &topic) { t in
      var k = Broker.copy("$SYS/broker/load/", into: t, at: 0)
      k = Broker.copy(name, into: t, at: k)
      k = Broker.copy(window, into: t, at: k)
      withUnsafeMutableBytes(of: &text) { raw in
        var n = Broker.decimal(hundredths / 100, into: raw, at: 0)
        raw[n] = 0x2E
        raw[n + 1] = 0x30 + UInt8(hundredths % 100 / 10)
        raw[n + 2] = 0x30 + UInt8(hundredths % 10)
        n += 3
        sysPublish(UnsafeRawBufferPointer(rebasing: t[0..<k]), UnsafeRawBufferPointer(rebasing: raw[0..<n]), now: now)
      }
    }
  }

  private func sysText(_ topic: StaticString, _ a: StaticString, _ b: StaticString, now: UInt64) {
    var text: [64 of UInt8] = .init(repeating: 0)
    withUnsafeMutableBytes(of: &text) { raw in
      var n = Broker.copy(a, into: raw, at: 0)
      n = Broker.copy(b, into: raw, at: n)
      sysPublish(Broker.bytes(topic), UnsafeRawBufferPointer(rebasing: raw[0..<n]), now: now)
    }
  }

  /// A topic made of a prefix, a name and a leaf ("$SYS/broker/midge/closes/" + "malformed").
  private func sysPath(
    _ prefix: StaticString, _ name: StaticString, _ value: UInt64, leaf: StaticString = "", now: UInt64
  ) {
    var topic: [96 of UInt8] = .init(repeating: 0)
    var text: [24 of UInt8] = .init(repeating: 0)
    withUnsafeMutableBytes(of: &topic) { t in
      var n = Broker.copy(prefix, into: t, at: 0)
      n = Broker.copy(name, into: t, at: n)
      n = Broker.copy(leaf, into: t, at: n)
      withUnsafeMutableBytes(of: &text) { raw in
        let k = Broker.decimal(value, into: raw, at: 0)
        sysPublish(UnsafeRawBufferPointer(rebasing: t[0..<n]), UnsafeRawBufferPointer(rebasing: raw[0..<k]), now: now)
      }
    }
  }

  private func sys(_ topic: StaticString, _ value: UInt64, suffix: StaticString = "", now: UInt64) {
    var text: [40 of UInt8] = .init(repeating: 0)
    withUnsafeMutableBytes(of: &text) { raw in
      var n = Broker.decimal(value, into: raw, at: 0)
      n = Broker.copy(suffix, into: raw, at: n)
      sysPublish(Broker.bytes(topic), UnsafeRawBufferPointer(rebasing: raw[0..<n]), now: now)
    }
  }

  private func sysPublish(_ topic: UnsafeRawBufferPointer, _ payload: UnsafeRawBufferPointer, now: UInt64) {
    _ = publish(
      topic: topic, properties: nil, payload: payload, qos: .atMostOnce, retain: true, expiresAt: 0,
      publisher: sessionNone, rejectable: false, now: now)
  }

  static func bytes(_ s: StaticString) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)
  }

  /// Copies `s` at `at` (as far as it fits); returns the new end.
  static func copy(_ s: StaticString, into raw: UnsafeMutableRawBufferPointer, at: Int) -> Int {
    let p = s.utf8Start
    var n = at
    var i = 0
    while i < s.utf8CodeUnitCount && n < raw.count {
      raw[n] = p[i]
      n += 1
      i += 1
    }
    return n
  }

  /// Writes `value` in decimal at `at`; returns the new end (raw holds at least 20 more bytes).
  static func decimal(_ value: UInt64, into raw: UnsafeMutableRawBufferPointer, at: Int) -> Int {
    DecimalText.write(value, into: raw, at: at)
  }
}

extension CloseReason {
  /// The last segment of $SYS/broker/midge/closes/<slug>.
  public var slug: StaticString {
    switch self {
    case .clientDisconnect: return "client_disconnect"
    case .peerClosed: return "peer_closed"
    case .protocolError: return "protocol_error"
    case .malformed: return "malformed"
    case .packetTooLarge: return "packet_too_large"
    case .keepAliveTimeout: return "keepalive_timeout"
    case .connectTimeout: return "connect_timeout"
    case .takenOver: return "taken_over"
    case .outputOverflow: return "output_overflow"
    case .connectRefused: return "connect_refused"
    case .ioError: return "io_error"
    case .shutdown: return "shutdown"
    case .inflightExceeded: return "inflight_exceeded"
    case .topicAliasInvalid: return "topic_alias_invalid"
    case .payloadFormatInvalid: return "payload_format_invalid"
    case .retainNotSupported: return "retain_not_supported"
    case .quotaExceeded: return "quota_exceeded"
    }
  }
}
