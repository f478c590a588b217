// What each packet from a client does (§3). Normative checks carry the spec's rule ids.
import Bounded
import MQTTWire
import MidgeAuth

extension Broker {
  /// Handles one complete frame. False when a PUBLISH must wait for queue room
  /// (back-pressure): the frame is then left unprocessed in the receive buffer.
  func handleFrame(_ s: Int, _ frame: Frame, _ bytes: UnsafeRawBufferPointer, now: UInt64) -> Bool {
    let packet: Packet
    do {
      packet = try Packet.decode(frame, bytes, version: connections[s].version)
    } catch {
      if case .unsupportedProtocolLevel = error, connections[s].state == .awaitingConnect {
        refuseConnect(s, .unacceptableProtocolVersion)  // [MQTT-3.1.2-2]
      } else if connections[s].state == .awaitingConnect, frame.type == .connect, isV5Connect(bytes, frame) {
        // A malformed MQTT 5 CONNECT: CONNACK with the reason, then close [MQTT-3.1.4-1].
        refuseConnect(s, .unacceptableProtocolVersion, v5: error.outcome.reasonCode(in: .connack))
      } else {
        close(s, for: error)
      }
      return true
    }
    if connections[s].state == .awaitingConnect {
      guard case .connect(let connect) = packet else {
        close(s, .protocolError)  // [MQTT-3.1.0-1] the first packet must be CONNECT
        return true
      }
      handleConnect(s, connect, now: now)
      return true
    }
    // Any control packet counts for keep alive [MQTT-3.1.2-23], once it is processed (a
    // PUBLISH held back by back-pressure is not, yet).
    if case .publish = packet {} else { heard(s, now: now) }
    switch packet {
    case .connect:
      close(s, .protocolError)  // [MQTT-3.1.0-2] a second CONNECT
    case .publish(let p):
      guard handlePublish(s, p, now: now) else { return false }
      heard(s, now: now)
    case .puback(let ack):
      acknowledged(s, ack.packetID, .awaitingPuback, now: now)
    case .pubrec(let ack):
      handlePubrec(s, ack, now: now)
    case .pubrel(let ack):
      // [MQTT-4.3.3-9] release the packet identifier; PUBCOMP even when it is unknown (a resent
      // PUBREL after a reconnect), MQTT 5 with 0x92 then.
      let known = forgetQoS2(connections[s].session, ack.packetID)
      sendAck(s, .pubcomp, ack.packetID, reason: known ? nil : .packetIdentifierNotFound)
    case .pubcomp(let ack):
      acknowledged(s, ack.packetID, .awaitingPubcomp, now: now)
    case .subscribe(let sub):
      handleSubscribe(s, sub, now: now)
    case .unsubscribe(let unsub):
      handleUnsubscribe(s, unsub)
    case .pingreq:
      send(s, size: Encode.emptySize) { Encode.empty(.pingresp, into: &$0) }  // [MQTT-3.12.4-1]
    case .disconnect(let d):
      handleDisconnect(s, d)
    case .auth:
      // No enhanced authentication was agreed in CONNECT, so AUTH is a protocol error
      // [MQTT-4.12.0-1]; in 3.1.1 it does not decode at all.
      close(s, .protocolError)
    case .connack, .suback, .unsuback, .pingresp:
      close(s, for: .serverOnlyPacket)  // server-to-client packets
    }
    return true
  }

  func heard(_ s: Int, now: UInt64) {
    let keepAlive = connections[s].keepAliveMs
    connections[s].deadline = keepAlive > 0 ? now + UInt64(keepAlive) : 0
  }

  /// Whether the bytes are a CONNECT with protocol level 5 (to answer a bad one in kind).
  func isV5Connect(_ bytes: UnsafeRawBufferPointer, _ frame: Frame) -> Bool {
    let at = frame.headerLength + 6
    return bytes.count > at && bytes[frame.headerLength + 1] == 4 && bytes[at] == 5
  }

  // MARK: CONNECT

  func handleConnect(_ s: Int, _ c: Connect, now: UInt64) {
    let v5 = c.version == .v5
    stats.connectsReceived &+= 1
    connectingClientID = c.clientID  // for the `.refused` event (the packet's bytes, valid here)
    defer { connectingClientID = UnsafeRawBufferPointer(start: nil, count: 0) }
    if connections[s].flags.contains(.refusing) {
      // max_connections clients are connected: answer in protocol, then close.
      stats.connectionsRefusedFull &+= 1
      refuseConnect(s, .serverUnavailable, v5: v5 ? .serverBusy : nil)
      return
    }
    connections[s].version = c.version
    var id = c.clientID
    var assigned = false
    if id.count == 0 {
      if c.version == .v31 || (c.version == .v311 && !c.cleanSession) {
        // [MQTT-3.1.3-8] 3.1.1 needs a client id for a persistent session; 3.1 always does.
        refuseConnect(s, .identifierRejected)
        return
      }
      assigned = true  // [MQTT-3.1.3-6] the server assigns one (MQTT 5: and returns it)
    }
    if id.count > limits.clientIDBytesMax || (c.version == .v31 && id.count > 23) {
      refuseConnect(s, .identifierRejected, v5: v5 ? .clientIdentifierNotValid : nil)  // [MQTT-3.1.3-5]
      return
    }
    var keepAlive = c.keepAliveSeconds
    var serverKeepAlive: UInt16? = nil
    let keepAliveMax = limits.keepAliveMaxSeconds
    if keepAliveMax < 65535 && (keepAlive == 0 || Int(keepAlive) > keepAliveMax) {
      if !v5 {
        refuseConnect(s, .identifierRejected)  // as Mosquitto does for max_keepalive (3.1.1)
        return
      }
      keepAlive = UInt16(keepAliveMax)  // [MQTT-3.2.2-21] MQTT 5: Server Keep Alive instead
      serverKeepAlive = keepAlive
    }
    if let p = c.properties, p.contains(.authenticationMethod) {
      // No enhanced authentication method is supported [MQTT-4.12.0-1].
      refuseConnect(s, .notAuthorized, v5: .badAuthenticationMethod)
      return
    }
    let identity = self.identity(s)
    if identity != nil {
      // The transport authenticated the client (TLS certificate or PSK): no password check.
    } else if let table = passwords, let user = c.username {
      // password_file: a user name must come with its password (Mosquitto: even where anonymous
      // clients are allowed). Unknown users cost as much as known ones (see PasswordTable.verify).
      if !table.verify(user: user, password: c.password) {
        stats.connectionsRefusedAuth &+= 1
        refuseConnect(s, .badUsernameOrPassword, v5: v5 ? .badUserNameOrPassword : nil)  // 3.1.1: 4; 5: 0x86
        return
      }
    } else if !connections[s].flags.contains(.anonymousAllowed) {
      // Anonymous (or, without a password_file, any) client where anonymous clients are refused.
      stats.connectionsRefusedAuth &+= 1
      refuseConnect(s, .notAuthorized, v5: v5 ? .notAuthorized : nil)  // 3.1.1: 5; 5: 0x87
      return
    }
    let user = identity ?? c.username
    if limits.keepsUsernames, let user, user.count > limits.usernameBytesMax {
      // The user name could not be kept for ACL checks (max_username_length).
      stats.connectionsRefusedAuth &+= 1
      refuseConnect(s, .notAuthorized, v5: v5 ? .notAuthorized : nil)
      return
    }
    if let w = c.will {
      if v5, w.properties?.byte(.payloadFormatIndicator) == 1, (try? UTF8Check.validate(w.payload, allowingNull: true)) == nil {
        refuseConnect(s, .serverUnavailable, v5: .payloadFormatInvalid)  // [MQTT-3.1.3-11]
        return
      }
      if w.retain && !limits.retainAvailable {
        refuseConnect(s, .serverUnavailable, v5: v5 ? .retainNotSupported : nil)  // [MQTT-3.2.2-12]
        return
      }
    }

    // The will is stored first, so that it survives the CONNECT packet's buffer, and so that a
    // full message store refuses the client before any session is touched.
    var will = messageNone
    if let w = c.will {
      guard let m = store.store(
        topic: w.topic, properties: w.properties, payload: w.payload, qos: w.qos, retain: w.retain,
        expiresAt: 0, publisher: sessionNone)
      else {
        stats.connectionsRefusedStore &+= 1
        refuseConnect(s, .serverUnavailable, v5: v5 ? .quotaExceeded : nil)  // message store full
        return
      }
      will = m
    }

    // The client id: an existing connection with it is taken over [MQTT-3.1.4-2] (its
    // session ends or goes offline as that connection's rules say), then the session is
    // resumed or started [MQTT-3.1.2-4].
    var idBuffer: [24 of UInt8] = .init(repeating: 0)
    var session = sessionNone
    var sessionPresent = false
    let connected = withUnsafeMutableBytes(of: &idBuffer) { raw -> Bool in
      if assigned {
        assignedIDs &+= 1
        id = assignClientID(assignedIDs, into: raw)
      }
      if let existing = findSession(id) {
        if sessions[existing].state == .online {
          // A session with Session Expiry 0 (3.1.1: clean session) ends with the old
          // connection [MQTT-3.1.2-6] §3.1.2.11.2, so Clean Start 0 then finds none.
          close(Int(sessions[existing].connection), .takenOver)
        }
      }
      if let existing = findSession(id), sessions[existing].state == .offline, sessions[existing].expiresAt != 0,
        now >= sessions[existing].expiresAt
      {
        // Expired, though the timer has not run yet [MQTT-3.1.2-23]: it ends now.
        endSession(existing, now: now)
        stats.sessionsExpired &+= 1
      }
      if let existing = findSession(id) {
        if c.cleanSession {
          endSession(existing, now: now)  // [MQTT-3.1.2-6] clean start discards the old session
        } else {
          session = existing
          sessionPresent = true  // [MQTT-3.2.2-2]
          cancelWill(existing)  // [MQTT-3.1.3-9] the client is back before the will delay passed
        }
      }
      if session == sessionNone {
        guard let fresh = newSession(id) else { return false }
        session = fresh
      }
      return true
    }
    guard connected else {
      if will != messageNone { store.release(will) }
      stats.connectionsRefusedSessions &+= 1
      refuseConnect(s, .serverUnavailable, v5: v5 ? .serverBusy : nil)  // every session in use
      return
    }
    let si = Int(session)
    if will != messageNone {
      store.headers[Int(will)].publisher = session
      sessions[si].will = will
      sessions[si].willDelay = c.will?.properties?.uint32(.willDelayInterval) ?? 0
      sessions[si].willExpiry = c.will?.properties?.uint32(.messageExpiryInterval) ?? 0
    }
    sessions[si].version = c.version
    setUsername(session, user)
    attach(session, s)
    if v5 {
      // [MQTT-3.1.2-23] absent means 0: the session ends with the connection.
      sessions[si].expiryInterval = c.properties?.uint32(.sessionExpiryInterval) ?? 0
    } else if c.cleanSession {
      sessions[si].expiryInterval = 0  // [MQTT-3.1.2-6]
    } else {
      let cap = limits.persistentExpirySeconds
      sessions[si].expiryInterval = cap > 0 ? UInt32(cap) : UInt32.max  // cap <= Int32.max (verify)
    }
    connections[s].session = session
    connections[s].state = .connected
    if let p = c.properties {
      connections[s].receiveMaximum = p.uint16(.receiveMaximum) ?? 65535
      connections[s].maximumPacketSize = p.uint32(.maximumPacketSize) ?? 0
      // §3.1.2.11.5: the client's Topic Alias Maximum bounds the aliases midge may send it.
      connections[s].outboundAliasMax = min(UInt16(limits.topicAliasBrokerMax), p.uint16(.topicAliasMaximum) ?? 0)
      // Request Problem Information needs no state: midge sends no Reason String and no User
      // Property of its own [MQTT-3.1.2-29].
    }
    let keepAliveMs = UInt32(keepAlive) * keepAliveGraceMsPerSecond
    connections[s].keepAliveMs = keepAliveMs
    connections[s].deadline = keepAliveMs > 0 ? now + UInt64(keepAliveMs) : 0
    stats.clientsConnected += 1
    stats.clientsMaximum = max(stats.clientsMaximum, stats.clientsConnected)
    report(s, .connected(keepAliveSeconds: keepAlive, cleanStart: c.cleanSession, username: c.username))

    if v5 {
      var props = OutProperties()
      if limits.inflightMax < 65535 { props.receiveMaximum = UInt16(limits.inflightMax) }
      props.maximumPacketSize = UInt32(limits.packetBytesMax)
      if limits.topicAliasMax > 0 { props.topicAliasMaximum = UInt16(limits.topicAliasMax) }
      if !limits.retainAvailable { props.retainAvailable = 0 }
      props.serverKeepAlive = serverKeepAlive
      if assigned { props.assignedClientIdentifier = clientID(session) }  // [MQTT-3.2.2-16]
      send(s, size: Encode.connackSize(properties: props)) {
        Encode.connack(sessionPresent: sessionPresent, reasonCode: 0, properties: props, into: &$0)
      }
    } else {
      send(s, size: Encode.connackSize) {
        Encode.connack(sessionPresent: sessionPresent, returnCode: ConnectReturnCode.accepted.rawValue, into: &$0)
      }
    }
    // A resumed session: unacknowledged messages again (DUP), then the queue [MQTT-4.4.0-1].
    pump(session, now: now)
  }

  /// "midge-" and 16 hex digits: unique while the process lives; 22 bytes, within the 23 every
  /// server must accept [MQTT-3.1.3-5].
  func assignClientID(_ n: UInt64, into raw: UnsafeMutableRawBufferPointer) -> UnsafeRawBufferPointer {
    let prefix: StaticString = "midge-"
    let p = prefix.utf8Start
    var i = 0
    while i < 6 {
      raw[i] = p[i]
      i += 1
    }
    let hex: StaticString = "0123456789abcdef"
    var k = 0
    while k < 16 {
      raw[6 + k] = hex.utf8Start[Int((n >> UInt64(60 - 4 * k)) & 0xF)]
      k += 1
    }
    return UnsafeRawBufferPointer(rebasing: raw[0..<22])
  }

  /// CONNACK with a refusal, then close [MQTT-3.2.2-5]: the 3.1.1 return code, or for an
  /// MQTT 5 client the v5 reason code (v5 CONNACK form, no properties).
  func refuseConnect(_ s: Int, _ code: ConnectReturnCode, v5 reason: ReasonCode? = nil) {
    if let reason {
      send(s, size: Encode.connackSize(properties: OutProperties())) {
        Encode.connack(sessionPresent: false, reasonCode: reason.rawValue, properties: OutProperties(), into: &$0)
      }
    } else {
      send(s, size: Encode.connackSize) { Encode.connack(sessionPresent: false, returnCode: code.rawValue, into: &$0) }
    }
    report(s, .refused(code: reason?.rawValue ?? code.rawValue, clientID: connectingClientID))
    close(s, .connectRefused)
  }

  // MARK: PUBLISH

  /// False when the message must wait for queue room (back-pressure).
  func handlePublish(_ s: Int, _ p: Publish, now: UInt64) -> Bool {
    let session = connections[s].session
    let v5 = connections[s].version == .v5
    var topic = p.topic
    var retain = p.retain
    if v5, let props = p.properties {
      if props.contains(.subscriptionIdentifier) {
        close(s, .protocolError)  // [MQTT-3.3.4-6] only the server sends it
        return true
      }
      if let alias = props.uint16(.topicAlias) {
        // [MQTT-3.3.2-9] [MQTT-3.3.2-10] aliases 1...Topic Alias Maximum
        guard Int(alias) <= limits.topicAliasMax else {
          close(s, .topicAliasInvalid)
          return true
        }
        let a = s * limits.topicAliasMax + Int(alias) - 1
        if topic.count > 0 {
          // Set or replace the alias: its topic is kept in the message store.
          let old = aliases[a]
          if old == messageNone || !store.topicEquals(old, topic) {
            guard let m = store.store(
              topic: topic, properties: nil, payload: UnsafeRawBufferPointer(start: nil, count: 0),
              qos: .atMostOnce, retain: false, expiresAt: 0, publisher: sessionNone)
            else {
              return rejectPublish(s, p, .quotaExceeded)
            }
            if old != messageNone { store.release(old) }
            aliases[a] = m
          }
        } else {
          guard aliases[a] != messageNone else {
            close(s, .protocolError)  // an alias never set (§3.3.2.3.4: a Protocol Error)
            return true
          }
          topic = store.topic(aliases[a], scratch: topicScratch)
        }
      }
      if (try? p.validatePayloadFormat()) == nil {
        // §3.3.2.3.2: not UTF-8 although the indicator says so.
        if p.qos == .atMostOnce {
          close(s, .payloadFormatInvalid)
          return true
        }
        return rejectPublish(s, p, .payloadFormatInvalid)
      }
    }
    if retain && !limits.retainAvailable {
      if v5 {
        close(s, .retainNotSupported)  // §3.3.1.3 with Retain Available 0
        return true
      }
      retain = false
    }
    if p.qos == .exactlyOnce && knowsQoS2(session, p.packetID) {
      // A resent QoS 2 PUBLISH before PUBREL: acknowledged again, not delivered again.
      sendAck(s, .pubrec, p.packetID)
      return true
    }
    if p.qos == .exactlyOnce && !hasQoS2Room(session, v5: v5) {
      // MQTT 5: more unreleased QoS 2 messages than the Receive Maximum we advertised
      // [MQTT-3.3.4-9]; 3.1.1 (or receive_maximum_exceeded spill): the shared spill table is
      // full. Not acknowledged, so the client still owns the message.
      if spills(v5: v5) { stats.qos2SpillFull &+= 1 }
      close(s, .inflightExceeded)
      return true
    }
    guard mayWrite(session, topic) else {
      // acl_file: not delivered, not retained. MQTT 5 QoS 1/2: 0x87 Not authorized; otherwise
      // acknowledged as usual, as Mosquitto does (3.1.1 cannot say "refused").
      stats.publishesDenied &+= 1
      if v5 && p.qos != .atMostOnce { return rejectPublish(s, p, .notAuthorized) }
      acknowledge(s, p, session)
      return true
    }
    stats.messagesReceived &+= 1
    let expiry = p.properties?.uint32(.messageExpiryInterval)
    let outcome = publish(
      topic: topic, properties: p.properties, payload: p.payload, qos: p.qos, retain: retain,
      expiresAt: expiry.map { now + UInt64($0) * 1000 } ?? 0, publisher: session, now: now)
    switch outcome {
    case .done:
      break
    case .retainedFull:
      stats.messagesRejectedQuota &+= 1
      return rejectPublish(s, p, .quotaExceeded)  // retained store full (MQTT 5, QoS 1/2)
    case .full, .poolFull:
      // Held back: queue_full_action reject_publish or pause_publisher and a full recipient,
      // or no room to store the message at all. MQTT 5 can be told (0x97); 3.1.1 cannot, so
      // its reading pauses and the core retries the PUBLISH (Broker.tick).
      let canPause = pausedPublishers < receivePool.count / 2
      if v5 && (outcome == .poolFull || limits.queueFullAction == .rejectPublish || !canPause) {
        stats.messagesRejectedQuota &+= 1
        return rejectPublish(s, p, .quotaExceeded)
      }
      if !canPause {
        // Half the receive chunks are already held by paused publishers: this one is closed
        // instead, its message not acknowledged (the client sends it again after reconnecting).
        close(s, .quotaExceeded)
        return true
      }
      stats.messagesReceived &-= 1  // it will be received again when retried
      return false
    }
    acknowledge(s, p, session)
    return true
  }

  /// The acknowledgement of an accepted PUBLISH.
  func acknowledge(_ s: Int, _ p: Publish, _ session: UInt32) {
    switch p.qos {
    case .atMostOnce: break
    case .atLeastOnce: sendAck(s, .puback, p.packetID)  // [MQTT-4.3.2-2]
    case .exactlyOnce:
      // Delivered on first receipt; the id is remembered until PUBREL so that a resent
      // PUBLISH is not delivered twice [MQTT-4.3.3-2] (method B of §4.3.3).
      rememberQoS2(session, p.packetID)
      sendAck(s, .pubrec, p.packetID)
    }
  }

  /// An MQTT 5 QoS 1/2 PUBLISH not accepted: PUBACK/PUBREC with the reason; nothing delivered.
  func rejectPublish(_ s: Int, _ p: Publish, _ reason: ReasonCode) -> Bool {
    switch p.qos {
    case .atMostOnce: stats.countDrop(.storeFull)
    case .atLeastOnce: sendAck(s, .puback, p.packetID, reason: reason)
    case .exactlyOnce: sendAck(s, .pubrec, p.packetID, reason: reason)  // no state kept (§4.3.3)
    }
    return true
  }

  // Inbound QoS 2 ids not yet released: max_inflight_messages slots per session, then (3.1 and
  // 3.1.1 clients only, which cannot learn the window) the shared spill table, keyed by
  // session and id. MQTT 5 clients were told the window as Receive Maximum [MQTT-3.3.4-9].

  func qos2Slots(_ session: UInt32) -> UnsafeMutableBufferPointer<UInt16> {
    let k = limits.inflightMax
    let i = Int(session)
    return UnsafeMutableBufferPointer(rebasing: qos2IDs[(i * k)..<((i + 1) * k)])
  }

  func spillKey(_ session: UInt32, _ packetID: UInt16) -> UInt64 { UInt64(session) << 16 | UInt64(packetID) }

  func knowsQoS2(_ session: UInt32, _ packetID: UInt16) -> Bool {
    for v in qos2Slots(session) where v == packetID { return true }
    return sessions[Int(session)].qos2Spilled > 0 && qos2Spill.contains(spillKey(session, packetID))
  }

  /// Whether one more unreleased id fits: a free slot of the session's window, or for a 3.1
  /// or 3.1.1 client room in the spill table.
  func hasQoS2Room(_ session: UInt32, v5: Bool) -> Bool {
    for v in qos2Slots(session) where v == 0 { return true }
    return spills(v5: v5) && !qos2Spill.isFull
  }

  /// Whether ids beyond the window go to the spill table: always for 3.1/3.1.1 clients, which
  /// cannot learn the window; for MQTT 5 only with `receive_maximum_exceeded spill`.
  func spills(v5: Bool) -> Bool { !v5 || limits.spillsBeyondReceiveMaximum }

  func rememberQoS2(_ session: UInt32, _ packetID: UInt16) {
    let slots = qos2Slots(session)
    var i = 0
    while i < slots.count {
      if slots[i] == 0 {
        slots[i] = packetID
        return
      }
      i += 1
    }
    let spilled = qos2Spill.insert(spillKey(session, packetID))
    precondition(spilled, "QoS 2 room checked before")
    sessions[Int(session)].qos2Spilled += 1
  }

  func forgetQoS2(_ session: UInt32, _ packetID: UInt16) -> Bool {
    let slots = qos2Slots(session)
    var i = 0
    var found = false
    while i < slots.count {
      if slots[i] == packetID {
        slots[i] = 0
        found = true
      }
      i += 1
    }
    if !found && sessions[Int(session)].qos2Spilled > 0 && qos2Spill.remove(spillKey(session, packetID)) {
      sessions[Int(session)].qos2Spilled -= 1
      found = true
    }
    return found
  }

  /// Every unreleased id of a session that ends.
  func forgetAllQoS2(_ session: UInt32) {
    qos2Slots(session).update(repeating: 0)
    guard sessions[Int(session)].qos2Spilled > 0 else { return }
    qos2Spill.removeAll { $0 >> 16 == UInt64(session) }
    sessions[Int(session)].qos2Spilled = 0
  }

  // MARK: acknowledgements of messages we sent

  func handlePubrec(_ s: Int, _ ack: Ack, now: UInt64) {
    let session = connections[s].session
    guard let (e, prev) = findInflight(session, ack.packetID) else {
      // Unknown id: MQTT 5 answers PUBREL 0x92; 3.1.1 has nothing to say.
      if connections[s].version == .v5 { sendAck(s, .pubrel, ack.packetID, reason: .packetIdentifierNotFound) }
      return
    }
    switch entries[e].state {
    case .awaitingPubrec:
      if let code = ack.reasonCode, code >= 0x80 {
        // The subscriber refused the message (MQTT 5): the flow ends here (§3.5.2.1).
        finishInflight(session, e, after: prev, now: now)
        return
      }
      store.release(entries[e].message)  // the message may be discarded now (§4.3.3)
      entries[e].message = messageNone
      entries[e].state = .awaitingPubcomp
      sendAck(s, .pubrel, ack.packetID)  // [MQTT-4.3.3-4]
    case .awaitingPubcomp:
      sendAck(s, .pubrel, ack.packetID)  // a resent PUBREC
    default:
      break  // a PUBREC for a QoS 1 message: ignore
    }
  }

  /// PUBACK (QoS 1) or PUBCOMP (QoS 2) ends the flow of a message we sent.
  func acknowledged(_ s: Int, _ packetID: UInt16, _ expected: EntryState, now: UInt64) {
    let session = connections[s].session
    guard let (e, prev) = findInflight(session, packetID), entries[e].state == expected else { return }
    finishInflight(session, e, after: prev, now: now)
  }

  // MARK: SUBSCRIBE / UNSUBSCRIBE

  func handleSubscribe(_ s: Int, _ sub: Subscribe, now: UInt64) {
    let session = connections[s].session
    let v5 = connections[s].version == .v5
    let count = sub.entries.count
    let identifier = v5 ? sub.properties?.uint32(.subscriptionIdentifier) ?? 0 : 0
    let props: OutProperties? = v5 ? OutProperties() : nil
    let size = Encode.totalSize(remaining: Encode.subackRemainingLength(count: count, properties: props))
    guard fits(s, size) else {
      close(s, .outputOverflow)
      return
    }
    // Which entries get retained messages (the first 64; more in one SUBSCRIBE get them when
    // Retain Handling is 0).
    var sendRetained: UInt64 = 0
    append(s, size: size) { sink in
      Encode.subackHeader(.suback, packetID: sub.packetID, count: count, properties: props, into: &sink)
      var i = 0
      for entry in sub.entries {
        let shared = try? Topic.sharedSubscription(entry.filter)
        let offset = shared.map { entry.filter.count - $0.filter.count } ?? 0
        guard maySubscribe(session, shared?.filter ?? entry.filter) else {
          // acl_file: no line grants read on this filter, or a deny line covers it.
          stats.subscriptionsDenied &+= 1
          sink.write(v5 ? ReasonCode.notAuthorized.rawValue : 0x80)  // [MQTT-3.9.3-2]
          i += 1
          continue
        }
        let result = subscriptions.add(
          owner: session, head: &sessions[Int(session)].subscriptionHead, filter: entry.filter,
          matchOffset: offset, options: entry.options, identifier: identifier)
        switch result {
        case .added, .replaced:
          sink.write(entry.options.qos.rawValue)  // [MQTT-3.8.4-6] the QoS granted
          report(s, .subscribed(filter: entry.filter, qos: entry.options.qos.rawValue))
          // §3.3.1.3 Retain Handling: 0 always, 1 only for a new subscription, 2 never;
          // never for a shared subscription (§4.8.2).
          let rh = v5 ? entry.options.retainHandling : 0
          if shared == nil && (rh == 0 || (rh == 1 && result == .added)) && i < 64 {
            sendRetained |= 1 << UInt64(i)
          }
        case .tableFull, .filterTooLong:
          stats.subscriptionsRefused &+= 1
          sink.write(v5 ? ReasonCode.quotaExceeded.rawValue : 0x80)  // [MQTT-3.9.3-2]
        }
        i += 1
      }
    }
    stats.subscriptionsActive = subscriptions.count
    // Retained messages after the SUBACK [MQTT-3.8.4-4] [MQTT-3.3.1-9].
    var i = 0
    for entry in sub.entries {
      if i < 64 && sendRetained & (1 << UInt64(i)) != 0 {
        deliverRetained(session, filter: entry.filter, qos: entry.options.qos, now: now)
      } else if i >= 64 && (!v5 || entry.options.retainHandling == 0)
        && (try? Topic.sharedSubscription(entry.filter)) == nil
        && subscriptions.find(head: sessions[Int(session)].subscriptionHead, filter: entry.filter) != nil
      {
        deliverRetained(session, filter: entry.filter, qos: entry.options.qos, now: now)
      }
      i += 1
    }
  }

  func handleUnsubscribe(_ s: Int, _ unsub: Unsubscribe) {
    let session = connections[s].session
    if connections[s].version == .v5 {
      let count = unsub.filters.count
      let size = Encode.totalSize(remaining: Encode.subackRemainingLength(count: count, properties: OutProperties()))
      guard fits(s, size) else {
        close(s, .outputOverflow)
        return
      }
      append(s, size: size) { sink in
        Encode.subackHeader(.unsuback, packetID: unsub.packetID, count: count, properties: OutProperties(), into: &sink)
        for filter in unsub.filters {
          let removed = subscriptions.remove(head: &sessions[Int(session)].subscriptionHead, filter: filter)
          sink.write(removed ? 0x00 : ReasonCode.noSubscriptionExisted.rawValue)
          report(s, .unsubscribed(filter: filter))
        }
      }
    } else {
      for filter in unsub.filters {
        _ = subscriptions.remove(head: &sessions[Int(session)].subscriptionHead, filter: filter)
        report(s, .unsubscribed(filter: filter))
      }
      sendAck(s, .unsuback, unsub.packetID)  // [MQTT-3.10.4-4] even when nothing matched
    }
    stats.subscriptionsActive = subscriptions.count
  }

  // MARK: DISCONNECT

  func handleDisconnect(_ s: Int, _ d: ReasonPacket) {
    let session = Int(connections[s].session)
    if connections[s].version == .v5 {
      if let interval = d.properties?.uint32(.sessionExpiryInterval) {
        if sessions[session].expiryInterval == 0 && interval != 0 {
          close(s, .protocolError)  // [MQTT-3.14.2-2] (the will is published)
          return
        }
        sessions[session].expiryInterval = interval
      }
      if d.reasonCode == ReasonCode.disconnectWithWill.rawValue { connections[s].flags.insert(.willOnDisconnect) }
    }
    close(s, .clientDisconnect)  // [MQTT-3.14.4-3] [MQTT-3.1.2-10] no will unless 0x04
  }

  // MARK: sending control packets

  /// PUBACK, PUBREC, PUBREL, PUBCOMP or (3.1.1) UNSUBACK; MQTT 5 with a reason code and, when
  /// the client asked for problem information, no reason string (midge sends none).
  func sendAck(_ s: Int, _ type: PacketType, _ packetID: UInt16, reason: ReasonCode? = nil) {
    if let reason, connections[s].version == .v5 {
      let size = Encode.totalSize(
        remaining: Encode.ackRemainingLength(reasonCode: reason.rawValue, properties: Properties?.none))
      send(s, size: size) {
        Encode.ack(type, packetID: packetID, reasonCode: reason.rawValue, properties: Properties?.none, into: &$0)
      }
      return
    }
    send(s, size: Encode.ackSize) { Encode.ack(type, packetID: packetID, into: &$0) }
  }
}

/// A client silent for one and a half keep-alive periods is disconnected [MQTT-3.1.2-24]:
/// milliseconds of silence allowed per second of keep alive.
let keepAliveGraceMsPerSecond: UInt32 = 1500
