import MQTTWire

// Counters the broker keeps (published under $SYS, SysTopics.swift). Plain integers, updated
// in place: no allocation.

public enum CloseReason: UInt8, CaseIterable, Sendable {
  case clientDisconnect = 0  // DISCONNECT received
  case peerClosed  // EOF or reset without DISCONNECT
  case protocolError  // a valid packet at the wrong time, or a rule of the spec broken
  case malformed  // bytes that do not decode
  case packetTooLarge  // larger than max_packet_size
  case keepAliveTimeout  // [MQTT-3.1.2-24]
  case connectTimeout  // no CONNECT within connect_timeout
  case takenOver  // another connection with the same client identifier [MQTT-3.1.4-2]
  case outputOverflow  // a control packet did not fit the client's output queue
  case connectRefused  // CONNACK with a non-zero return code was sent
  case ioError  // read or write failed
  case shutdown  // the broker is stopping
  case inflightExceeded  // more unreleased QoS 2 messages than max_inflight_messages
  case topicAliasInvalid  // MQTT 5 topic alias 0 or above the maximum
  case payloadFormatInvalid  // MQTT 5 QoS 0 PUBLISH not UTF-8 despite its format indicator
  case retainNotSupported  // retained PUBLISH while retain_available is false
  case quotaExceeded  // a QoS 1/2 PUBLISH could not be queued and no more publishers can wait

  public var name: StaticString {
    switch self {
    case .clientDisconnect: return "client disconnected"
    case .peerClosed: return "connection closed by peer"
    case .protocolError: return "protocol error"
    case .malformed: return "malformed packet"
    case .packetTooLarge: return "packet too large"
    case .keepAliveTimeout: return "keep alive timeout"
    case .connectTimeout: return "no CONNECT in time"
    case .takenOver: return "session taken over"
    case .outputOverflow: return "output queue full"
    case .connectRefused: return "connection refused"
    case .ioError: return "socket error"
    case .shutdown: return "broker shutting down"
    case .inflightExceeded: return "too many unreleased QoS 2 messages"
    case .topicAliasInvalid: return "invalid topic alias"
    case .payloadFormatInvalid: return "payload not UTF-8"
    case .retainNotSupported: return "retain not supported"
    case .quotaExceeded: return "queues full, publisher not acknowledged"
    }
  }

  /// The close for bytes that do not decode, by the class the codec's table gives
  /// (`DecodeError.outcome`).
  init(_ kind: DecodeOutcome.Kind) {
    switch kind {
    case .malformed: self = .malformed
    case .protocolError: self = .protocolError
    case .packetTooLarge: self = .packetTooLarge
    case .topicAliasInvalid: self = .topicAliasInvalid
    case .payloadFormatInvalid: self = .payloadFormatInvalid
    }
  }

  /// The MQTT 5 DISCONNECT reason sent to the client before closing, when there is one (a
  /// decode error's own reason code, from `DecodeError.outcome`, takes its place).
  var disconnectReason: ReasonCode? {
    switch self {
    case .protocolError: return .protocolError
    case .malformed: return .malformedPacket
    case .packetTooLarge: return .packetTooLarge
    case .keepAliveTimeout: return .keepAliveTimeout
    case .takenOver: return .sessionTakenOver
    case .shutdown: return .serverShuttingDown
    case .inflightExceeded: return .receiveMaximumExceeded
    case .topicAliasInvalid: return .topicAliasInvalid
    case .payloadFormatInvalid: return .payloadFormatInvalid
    case .retainNotSupported: return .retainNotSupported
    case .quotaExceeded: return .quotaExceeded
    case .clientDisconnect, .peerClosed, .connectTimeout, .outputOverflow, .connectRefused, .ioError: return nil
    }
  }
}

/// Counters are 64-bit and wrap instead of trapping, on 32-bit boards too.
public struct Stats: Sendable {
  public var connectionsAccepted: UInt64 = 0
  /// CONNECTs refused (CONNACK 3 / 0x89) because max_connections clients were connected.
  public var connectionsRefusedFull: UInt64 = 0
  /// CONNECTs refused (CONNACK 3 / 0x89) because every session was in use (max_sessions).
  public var connectionsRefusedSessions: UInt64 = 0
  /// CONNECTs refused (CONNACK 3 / 0x97) because the message store could not hold the will.
  public var connectionsRefusedStore: UInt64 = 0
  /// CONNECTs refused for bad credentials or as anonymous where that is not allowed.
  public var connectionsRefusedAuth: UInt64 = 0
  /// TCP connections closed without a CONNACK because even the refusal slots were in use.
  public var connectionsDroppedFull: UInt64 = 0
  public var connectionsOpen = 0
  public var clientsConnected = 0
  public var clientsMaximum = 0
  /// PUBLISH packets received and sent.
  public var messagesReceived: UInt64 = 0
  public var messagesSent: UInt64 = 0
  /// MQTT packets of every kind received (handled) and queued to send ($SYS messages/*).
  public var packetsReceived: UInt64 = 0
  public var packetsSent: UInt64 = 0
  /// CONNECT packets received ($SYS load/connections).
  public var connectsReceived: UInt64 = 0
  public var bytesReceived: UInt64 = 0
  public var bytesSent: UInt64 = 0
  /// Messages not delivered to one recipient, per reason (DropReason; README "Queue limits").
  public var droppedQueueFull: UInt64 = 0
  public var droppedFairShare: UInt64 = 0
  public var droppedSendQueue: UInt64 = 0
  public var droppedStoreFull: UInt64 = 0
  /// Every drop, whatever the reason ($SYS/broker/publish/messages/dropped).
  public var messagesDropped: UInt64 { droppedQueueFull &+ droppedFairShare &+ droppedSendQueue &+ droppedStoreFull }
  /// Publishers disconnected because the QoS 2 spill table (qos2_spill_ids) was full.
  public var qos2SpillFull: UInt64 = 0
  public var subscriptionsActive = 0
  /// Subscriptions refused (SUBACK 0x80) because the table or the filter length limit.
  public var subscriptionsRefused: UInt64 = 0
  /// Times a connection's reading paused because no receive buffer was free.
  public var readPauses: UInt64 = 0
  /// Times a publisher's reading paused (back-pressure: queue_full_action pause_publisher or
  /// reject_publish, or a message that could not be stored at all).
  public var publisherPauses: UInt64 = 0
  /// QoS 1/2 PUBLISHes answered 0x97 quota exceeded (MQTT 5), delivered to nobody.
  public var messagesRejectedQuota: UInt64 = 0
  /// Messages not delivered because they expired (MQTT 5 Message Expiry Interval).
  public var messagesExpired: UInt64 = 0
  /// Messages not sent to a client because they exceed its Maximum Packet Size [MQTT-3.1.2-25].
  public var messagesTooLargeForClient: UInt64 = 0
  /// Retained messages not retained because max_retained_messages/bytes was reached.
  public var retainedRefused: UInt64 = 0
  public var retainedCount = 0
  /// Persistent sessions whose client is disconnected.
  public var sessionsOffline = 0
  public var sessionsExpired: UInt64 = 0
  public var willsPublished: UInt64 = 0
  /// acl_file refusals: PUBLISHes not delivered, SUBSCRIBE entries refused (0x87 / 0x80), and
  /// wills not published because the client may not write their topic.
  public var publishesDenied: UInt64 = 0
  public var subscriptionsDenied: UInt64 = 0
  public var willsDenied: UInt64 = 0
  /// Queued messages (entries) across all sessions, and stored messages.
  public var messagesQueued = 0
  public var messagesStored = 0
  /// TLS handshakes completed, and failed (bad or missing certificate, wrong PSK, an old TLS
  /// version, plaintext MQTT or garbage on a TLS port, timeouts are counted as connect timeouts).
  public var tlsHandshakes: UInt64 = 0
  public var tlsHandshakesFailed: UInt64 = 0
  /// TLS clients closed at once because every TLS session slot (max_tls_sessions) or every
  /// handshake slot (max_tls_handshakes) was in use.
  public var tlsRefusedSessions: UInt64 = 0
  public var tlsRefusedHandshakes: UInt64 = 0
  /// TLS session slots (max_tls_sessions) and handshake slots (max_tls_handshakes): capacity
  /// (0 without TLS listeners) and in use, as the platform last reported them (`tlsInUse`).
  public var tlsSessionsCapacity = 0
  public var tlsSessionsInUse = 0
  public var tlsHandshakesCapacity = 0
  public var tlsHandshakesInUse = 0
  /// WebSocket listeners: upgrades done; handshakes refused because every handshake buffer
  /// (max_websockets_handshakes) was in use; requests that failed (bad or oversize headers, a
  /// wrong version or subprotocol); plain HTTP requests answered (files and errors); connections
  /// closed for a frame that broke RFC 6455 (unmasked, text, oversize, reserved bits).
  public var wsUpgrades: UInt64 = 0
  public var wsRefusedHandshakes: UInt64 = 0
  public var wsHandshakesFailed: UInt64 = 0
  public var wsHTTPRequests: UInt64 = 0
  public var wsFrameErrors: UInt64 = 0
  var closeCounts: [17 of UInt64] = .init(repeating: 0)

  public func closes(_ r: CloseReason) -> UInt64 { closeCounts[Int(r.rawValue)] }

  mutating func countClose(_ r: CloseReason) { closeCounts[Int(r.rawValue)] &+= 1 }
}

/// TLS events the platform reports (`Broker.countTLS`).
public enum TLSEvent: Sendable {
  case handshakeDone, handshakeFailed, refusedSessions, refusedHandshakes
}

/// WebSocket events the platform reports (`Broker.countWebSocket`).
public enum WebSocketEvent: Sendable {
  case upgraded, refusedHandshake, handshakeFailed, httpRequest, frameError
}

/// Why a message was not delivered to one recipient (README "Queue limits"). The publisher
/// and every other recipient are unaffected.
public enum DropReason: UInt8, Sendable {
  /// The recipient's queue held max_queued_messages (queue_full_action drop_newest or
  /// drop_oldest: the newest or its oldest message goes).
  case queueFull
  /// A shared pool (queue entries, message store, send chunks) ran low and the recipient's
  /// queue was already long: the pool's last quarter serves short queues only.
  case fairShare
  /// QoS 0: the recipient's send queue was full (max_queued_bytes or the send chunks).
  case sendQueue
  /// The message store or the queue entries had no room at all.
  case storeFull

  public var name: StaticString {
    switch self {
    case .queueFull: return "queue full"
    case .fairShare: return "fair share of a low pool"
    case .sendQueue: return "send queue full"
    case .storeFull: return "message store full"
    }
  }
}

extension Stats {
  mutating func countDrop(_ reason: DropReason) {
    switch reason {
    case .queueFull: droppedQueueFull &+= 1
    case .fairShare: droppedFairShare &+= 1
    case .sendQueue: droppedSendQueue &+= 1
    case .storeFull: droppedStoreFull &+= 1
    }
  }
}
