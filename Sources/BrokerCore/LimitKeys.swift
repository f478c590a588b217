// The config keys that set a `Limits` field: one row each (name, kind, range, Mosquitto's
// "keep the default" word, one-line doc). Parsing (MidgeConfig), `Limits.verify`, `midge
// --help-config` and the README check all read these rows; defaults come from `Limits()`.
// A switch, not a table of closures: Embedded Swift keeps it a plain jump table.

/// How a key's value is written.
public enum KeyKind: UInt8, Sendable {
  /// A decimal count (`N`, `SECONDS`).
  case count
  /// Bytes, with an optional KiB/MiB/GiB suffix.
  case size
  /// `true` or `false`.
  case flag
  /// Seconds, or Mosquitto's `1h`, `2d`, `1w`, `1m`, `1y`.
  case duration
  /// Anything else (a word from a list, a path, several words): parsed by its own code.
  case other
}

/// One config key's row.
public struct KeySpec: Sendable {
  public let name: StaticString
  public let kind: KeyKind
  /// Accepted range (inclusive) of `count`, `size` and `duration` keys (flags: 0...1).
  public let lo: Int
  public let hi: Int
  /// A value Mosquitto uses for "unlimited" or "the default": accepted, keeps midge's default.
  public let keeps: StaticString?
  /// What the key does, in one line (the README says more).
  public let doc: StaticString

  public init(
    _ name: StaticString, _ kind: KeyKind, _ lo: Int, _ hi: Int, keeps: StaticString? = nil, _ doc: StaticString
  ) {
    self.name = name
    self.kind = kind
    self.lo = lo
    self.hi = hi
    self.keeps = keeps
    self.doc = doc
  }

  /// A key with its own parsing code (no range).
  public init(_ name: StaticString, _ kind: KeyKind, _ doc: StaticString) {
    self.init(name, kind, 0, 0, doc)
  }
}

/// Ranges shared by several keys.
public enum KeyRange {
  public static let u16 = 65535
  public static let million = 1_000_000
  public static let tenMillion = 10_000_000
  public static let int32 = Int(Int32.max)
  /// 256 MiB + 4: the largest MQTT packet (a 268,435,455-byte remaining length, its header).
  public static let packetBytes = 268_435_460
  /// 64 MiB: offsets into an auth file are 32-bit (PasswordEntry, AclRecord), with room to spare.
  public static let authFileBytes = 64 << 20
}

/// A config key stored in `Limits`.
public enum LimitKey: UInt8, CaseIterable, Sendable {
  case memoryBudget, memoryLock, maxConnections, maxSubscriptions, maxPacketSize, maxTopicLength, maxClientIDLength
  case maxQueuedBytes, largePacketBuffers, ioChunkSize, maxKeepalive, connectTimeout, maxInflightMessages
  case maxInflightOutgoing, qos2SpillIDs, maxSessions, maxQueuedMessages, queueQoS0Messages
  case maxRetainedMessages, maxRetainedBytes, retainAvailable, sysInterval, maxTopicAlias, maxTopicAliasBroker
  case persistentClientExpiration, socketSendBuffer, socketReceiveBuffer, maxTLSSessions, maxTLSHandshakes
  case maxAuthFileBytes, maxPasswordEntries, maxACLRules, maxUsernameLength

  public var spec: KeySpec {
    typealias R = KeyRange
    switch self {
    case .memoryBudget:
      return KeySpec("memory_budget", .size, Limits.budgetMin, Limits.budgetMax, "the broker's whole memory plan")
    case .memoryLock:
      return KeySpec("memory_lock", .flag, 0, 1, "prefault and lock the whole plan in RAM at startup")
    case .maxConnections:
      return KeySpec("max_connections", .count, 1, R.million, keeps: "-1", "concurrent clients")
    case .maxSubscriptions:
      return KeySpec("max_subscriptions", .count, 1, R.tenMillion, "subscriptions across all clients")
    case .maxPacketSize:
      return KeySpec("max_packet_size", .count, 64, R.packetBytes, "largest packet accepted, fixed header included")
    case .maxTopicLength:
      return KeySpec("max_topic_length", .count, 16, R.u16, "longest subscription filter stored")
    case .maxClientIDLength:
      // MQTT requires at least 23 [MQTT-3.1.3-5].
      return KeySpec("max_client_id_length", .count, 23, R.u16, "longest client identifier (at least 23)")
    case .maxQueuedBytes:
      return KeySpec("max_queued_bytes", .size, 1024, 1 << 30, "encoded output queued for one client")
    case .largePacketBuffers:
      return KeySpec("large_packet_buffers", .count, 1, 65536, "receive buffers for packets above one I/O chunk")
    case .ioChunkSize:
      return KeySpec("io_chunk_size", .size, 256, 65536, "the unit of receive and send buffering")
    case .maxKeepalive:
      return KeySpec("max_keepalive", .count, 1, R.u16, "largest keep alive accepted (seconds)")
    case .connectTimeout:
      return KeySpec("connect_timeout", .count, 1, 3600, "seconds a new connection has to send CONNECT")
    case .maxInflightMessages:
      return KeySpec("max_inflight_messages", .count, 1, R.u16, "incoming QoS 2 window per client")
    case .maxInflightOutgoing:
      return KeySpec("max_inflight_outgoing", .count, 1, R.u16, "outgoing QoS 1/2 window per client")
    case .qos2SpillIDs:
      return KeySpec("qos2_spill_ids", .count, 0, R.million, "3.1.1 QoS 2 ids beyond the window (0: auto)")
    case .maxSessions:
      return KeySpec("max_sessions", .count, 0, R.tenMillion, "sessions (0: twice max_connections)")
    case .maxQueuedMessages:
      return KeySpec("max_queued_messages", .count, 1, R.tenMillion, keeps: "0", "messages queued per session")
    case .queueQoS0Messages:
      return KeySpec("queue_qos0_messages", .flag, 0, 1, "queue QoS 0 for disconnected persistent sessions")
    case .maxRetainedMessages:
      return KeySpec("max_retained_messages", .count, 0, R.tenMillion, "retained topics kept")
    case .maxRetainedBytes:
      return KeySpec("max_retained_bytes", .size, 0, 1 << 30, "retained bytes (0: a quarter of the store)")
    case .retainAvailable:
      return KeySpec("retain_available", .flag, 0, 1, "whether retained PUBLISHes are accepted")
    case .sysInterval:
      return KeySpec("sys_interval", .count, 0, 86400, "seconds between $SYS updates (0: none)")
    case .maxTopicAlias:
      return KeySpec("max_topic_alias", .count, 0, R.u16, "topic aliases an MQTT 5 client may use")
    case .maxTopicAliasBroker:
      return KeySpec("max_topic_alias_broker", .count, 0, R.u16, "topic aliases midge uses towards a client")
    case .persistentClientExpiration:
      return KeySpec(
        "persistent_client_expiration", .duration, 0, R.int32, "how long a 3.1.1 offline session is kept (0: ever)")
    case .socketSendBuffer:
      return KeySpec("socket_send_buffer", .size, 0, 16 << 20, "SO_SNDBUF of client sockets (0: kernel's)")
    case .socketReceiveBuffer:
      return KeySpec("socket_receive_buffer", .size, 0, 16 << 20, "SO_RCVBUF of client sockets (0: kernel's)")
    case .maxTLSSessions:
      return KeySpec("max_tls_sessions", .count, 0, 65536, "TLS clients connected at once")
    case .maxTLSHandshakes:
      return KeySpec("max_tls_handshakes", .count, 1, 4096, "TLS handshakes in progress at once")
    case .maxAuthFileBytes:
      return KeySpec("max_auth_file_bytes", .size, 1, R.authFileBytes, "largest password_file or acl_file")
    case .maxPasswordEntries:
      return KeySpec("max_password_entries", .count, 1, R.million, "users in the password_file")
    case .maxACLRules:
      return KeySpec("max_acl_rules", .count, 1, R.million, "lines in the acl_file")
    case .maxUsernameLength:
      return KeySpec("max_username_length", .count, 1, R.u16, "longest user name kept for ACLs")
    }
  }

  /// Why the range is what it is, where a rule of the protocol sets it (after the range).
  public var rangeNote: StaticString {
    self == .maxClientIDLength ? " (MQTT requires 23) [MQTT-3.1.3-5]" : ""
  }

  /// The field's value (flags: 0 or 1).
  public func value(in l: Limits) -> Int {
    switch self {
    case .memoryBudget: return l.memoryBudgetBytes
    case .maxConnections: return l.connectionsMax
    case .maxSubscriptions: return l.subscriptionsMax
    case .maxPacketSize: return l.packetBytesMax
    case .maxTopicLength: return l.topicBytesMax
    case .maxClientIDLength: return l.clientIDBytesMax
    case .memoryLock: return l.memoryLock ? 1 : 0
    case .maxQueuedBytes: return l.queuedBytesMax
    case .largePacketBuffers: return l.largeBuffersMax
    case .ioChunkSize: return l.chunkBytes
    case .maxKeepalive: return l.keepAliveMaxSeconds
    case .connectTimeout: return l.connectTimeoutSeconds
    case .maxInflightMessages: return l.inflightMax
    case .maxInflightOutgoing: return l.inflightOutgoingMax
    case .qos2SpillIDs: return l.qos2SpillMax
    case .maxSessions: return l.sessionsMax
    case .maxQueuedMessages: return l.queuedMessagesMax
    case .queueQoS0Messages: return l.queueQoS0 ? 1 : 0
    case .maxRetainedMessages: return l.retainedMessagesMax
    case .maxRetainedBytes: return l.retainedBytesMax
    case .retainAvailable: return l.retainAvailable ? 1 : 0
    case .sysInterval: return l.sysIntervalSeconds
    case .maxTopicAlias: return l.topicAliasMax
    case .maxTopicAliasBroker: return l.topicAliasBrokerMax
    case .persistentClientExpiration: return l.persistentExpirySeconds
    case .socketSendBuffer: return l.socketSendBufferBytes
    case .socketReceiveBuffer: return l.socketReceiveBufferBytes
    case .maxTLSSessions: return l.tlsSessionsMax
    case .maxTLSHandshakes: return l.tlsHandshakesMax
    case .maxAuthFileBytes: return l.authFileBytesMax
    case .maxPasswordEntries: return l.passwordEntriesMax
    case .maxACLRules: return l.aclRulesMax
    case .maxUsernameLength: return l.usernameBytesMax
    }
  }

  /// Sets the field (flags: nonzero is true). The caller has checked the range.
  public func set(_ v: Int, in l: inout Limits) {
    switch self {
    case .memoryBudget: l.memoryBudgetBytes = v
    case .memoryLock: l.memoryLock = v != 0
    case .maxConnections: l.connectionsMax = v
    case .maxSubscriptions: l.subscriptionsMax = v
    case .maxPacketSize: l.packetBytesMax = v
    case .maxTopicLength: l.topicBytesMax = v
    case .maxClientIDLength: l.clientIDBytesMax = v
    case .maxQueuedBytes: l.queuedBytesMax = v
    case .largePacketBuffers: l.largeBuffersMax = v
    case .ioChunkSize: l.chunkBytes = v
    case .maxKeepalive: l.keepAliveMaxSeconds = v
    case .connectTimeout: l.connectTimeoutSeconds = v
    case .maxInflightMessages: l.inflightMax = v
    case .maxInflightOutgoing: l.inflightOutgoingMax = v
    case .qos2SpillIDs: l.qos2SpillMax = v
    case .maxSessions: l.sessionsMax = v
    case .maxQueuedMessages: l.queuedMessagesMax = v
    case .queueQoS0Messages: l.queueQoS0 = v != 0
    case .maxRetainedMessages: l.retainedMessagesMax = v
    case .maxRetainedBytes: l.retainedBytesMax = v
    case .retainAvailable: l.retainAvailable = v != 0
    case .sysInterval: l.sysIntervalSeconds = v
    case .maxTopicAlias: l.topicAliasMax = v
    case .maxTopicAliasBroker: l.topicAliasBrokerMax = v
    case .persistentClientExpiration: l.persistentExpirySeconds = v
    case .socketSendBuffer: l.socketSendBufferBytes = v
    case .socketReceiveBuffer: l.socketReceiveBufferBytes = v
    case .maxTLSSessions: l.tlsSessionsMax = v
    case .maxTLSHandshakes: l.tlsHandshakesMax = v
    case .maxAuthFileBytes: l.authFileBytesMax = v
    case .maxPasswordEntries: l.passwordEntriesMax = v
    case .maxACLRules: l.aclRulesMax = v
    case .maxUsernameLength: l.usernameBytesMax = v
    }
  }
}

extension Limits {
  /// `memory_budget`'s range: 64 KiB to 1 TiB, or what a 32-bit address space can hold.
  public static let budgetMin = 64 << 10
  public static let budgetMax = Int.bitWidth == 32 ? Int(Int32.max) : 1 << 40
}
