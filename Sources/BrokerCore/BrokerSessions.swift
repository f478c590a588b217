// Sessions over time: finding, starting, resuming and ending them; wills; expiry; closing a
// connection and what that does to its session (§4.1, §3.1.2.5, §3.1.3.2).
import Bounded
import MQTTWire

extension Broker {
  func clientID(_ session: UInt32) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(
      start: clientIDs + Int(session) * limits.clientIDBytesMax, count: Int(sessions[Int(session)].clientIDCount))
  }

  /// The session of a client identifier, through the session index (a hash of client
  /// identifiers: one bucket walked, not every session).
  func findSession(_ id: UnsafeRawBufferPointer) -> UInt32? {
    let b = sessionBucket(id)
    var i = sessionBuckets[b] == 0 ? sessionNone : sessionBuckets[b] - 1
    while i != sessionNone {
      let ix = Int(i)
      if Int(sessions[ix].clientIDCount) == id.count && clientID(i).bytesEqual(id) { return i }
      i = sessionLinks[ix]
    }
    return nil
  }

  func sessionBucket(_ id: UnsafeRawBufferPointer) -> Int { Int(fnv1a(id) & UInt32(sessionBuckets.count - 1)) }  // masked in UInt32: Int is 32 bits on armv7

  /// Takes a session out of the index (its client identifier is still in place).
  func unindexSession(_ session: UInt32) {
    let b = sessionBucket(clientID(session))
    var prev = sessionNone
    var i = sessionBuckets[b] == 0 ? sessionNone : sessionBuckets[b] - 1
    while i != sessionNone {
      let next = sessionLinks[Int(i)]
      if i == session {
        if prev == sessionNone {
          sessionBuckets[b] = next == sessionNone ? 0 : next + 1
        } else {
          sessionLinks[Int(prev)] = next
        }
        sessionLinks[Int(i)] = sessionNone
        return
      }
      prev = i
      i = next
    }
    preconditionFailure("session not in the index")
  }

  /// A fresh session for `id`; nil when every session is in use (`max_sessions`).
  func newSession(_ id: UnsafeRawBufferPointer) -> UInt32? {
    let session: UInt32
    if sessionFreeHead != sessionNone {
      session = sessionFreeHead
      sessionFreeHead = sessions[Int(session)].connection
    } else if sessionHighWater < sessions.count {
      session = UInt32(sessionHighWater)  // never used: reads as zero
    } else {
      return nil
    }
    let i = Int(session)
    sessions[i] = Session()
    if id.count > 0 { (clientIDs + i * limits.clientIDBytesMax).copyMemory(from: id.baseAddress!, byteCount: id.count) }
    sessions[i].clientIDCount = UInt16(id.count)
    sessions[i].state = .online  // bound to its connection by the caller (attach)
    let b = sessionBucket(id)
    sessionLinks[i] = sessionBuckets[b] == 0 ? sessionNone : sessionBuckets[b] - 1
    sessionBuckets[b] = session + 1
    sessionHighWater = max(sessionHighWater, i + 1)
    return session
  }

  /// Ends a session: its will (if still pending) is published [MQTT-3.1.3-9], its
  /// subscriptions, queue and in-flight messages go, and the slot is free.
  func endSession(_ session: UInt32, now: UInt64) {
    let i = Int(session)
    precondition(sessions[i].state != .free, "end of a free session")
    if sessions[i].state == .offline && sessions[i].connection == slotNone { stats.sessionsOffline -= 1 }
    sessions[i].connection = slotNone
    sessions[i].state = .offline
    publishWill(session, now: now)
    subscriptions.removeAll(head: &sessions[i].subscriptionHead)
    stats.subscriptionsActive = subscriptions.count
    while let e = entries.popHead(&sessions[i].inflight) { discard(e) }
    while let e = entries.popHead(&sessions[i].pending) {
      discard(e)
      stats.messagesQueued -= 1
    }
    forgetAllQoS2(session)
    unindexSession(session)
    sessions[i] = Session()
    sessions[i].connection = sessionFreeHead
    sessionFreeHead = session
    stats.messagesStored = store.count
  }

  func cancelWill(_ session: UInt32) {
    let i = Int(session)
    if sessions[i].will != messageNone { store.release(sessions[i].will) }
    sessions[i].will = messageNone
    sessions[i].willAt = 0
  }

  /// Publishes the session's will now (and forgets it).
  func publishWill(_ session: UInt32, now: UInt64) {
    let i = Int(session)
    let m = sessions[i].will
    guard m != messageNone else { return }
    sessions[i].will = messageNone
    sessions[i].willAt = 0
    if sessions[i].willExpiry > 0 {
      store.headers[Int(m)].expiresAt = now + UInt64(sessions[i].willExpiry) * 1000
    }
    let h = store[m]
    let topic = store.topic(m, scratch: topicScratch)
    guard mayWrite(session, topic) else {
      // acl_file: a will the client may not write is not published (checked now, as Mosquitto).
      store.release(m)
      stats.willsDenied &+= 1
      return
    }
    _ = publish(
      topic: topic, properties: nil, payload: UnsafeRawBufferPointer(start: nil, count: 0),
      qos: h.qos, retain: h.retain, expiresAt: h.expiresAt, publisher: session, stored: m, rejectable: false, now: now)
    store.release(m)
    stats.willsPublished &+= 1
  }

  /// Offline sessions: delayed wills that are due, sessions that expired.
  func expireSessions(now: UInt64) {
    guard stats.sessionsOffline > 0 else { return }
    var i = 0
    while i < sessionHighWater {
      if sessions[i].state == .offline && sessions[i].connection == slotNone {
        if sessions[i].willAt != 0 && now >= sessions[i].willAt {
          publishWill(UInt32(i), now: now)  // [MQTT-3.1.3-9] after the Will Delay Interval
        }
        if sessions[i].expiresAt != 0 && now >= sessions[i].expiresAt {
          endSession(UInt32(i), now: now)  // [MQTT-3.1.2-23] the Session Expiry Interval passed
          stats.sessionsExpired &+= 1
        }
      }
      i += 1
    }
  }

  // MARK: closing

  /// Closes for bytes that do not decode, as the codec's table says (`DecodeError.outcome`):
  /// the close reason, and for MQTT 5 the DISCONNECT reason code. `header`: the bytes from the
  /// packet's first byte on; for a packet too large, the size its fixed header announces is
  /// readable during the `.closed` report (`tooLargePacketBytes`, for the log line).
  func close(_ s: Int, for error: DecodeError, header: UnsafeRawBufferPointer? = nil) {
    let outcome = error.outcome
    if error == .packetTooLarge, let header { tooLargePacketBytes = Frame.announcedLength(header) ?? 0 }
    close(s, CloseReason(outcome.kind), disconnect: outcome.reasonCode(in: .disconnect))
    tooLargePacketBytes = 0
  }

  /// `disconnect`: the MQTT 5 DISCONNECT reason code when it is not `reason.disconnectReason`.
  func close(_ s: Int, _ reason: CloseReason, disconnect: ReasonCode? = nil) {
    let state = connections[s].state
    guard state == .awaitingConnect || state == .connected else { return }
    if reason != .connectRefused { report(s, .closed(reason, wasConnected: state == .connected)) }
    if state == .connected {
      stats.clientsConnected -= 1
      if connections[s].version == .v5, let code = disconnect ?? reason.disconnectReason {
        // MQTT 5: the server says why before closing [MQTT-4.13.1-1], when it fits.
        let size = Encode.totalSize(
          remaining: Encode.reasonPacketRemainingLength(reasonCode: code.rawValue, properties: Properties?.none))
        if fits(s, size) {
          append(s, size: size) {
            Encode.reasonPacket(.disconnect, reasonCode: code.rawValue, properties: Properties?.none, into: &$0)
          }
        }
      }
    }
    connections[s].state = .closing
    connections[s].closeReason = reason
    stats.countClose(reason)
    var a = s * limits.topicAliasMax
    while a < (s + 1) * limits.topicAliasMax {
      if aliases[a] != messageNone { store.release(aliases[a]) }
      aliases[a] = messageNone
      a += 1
    }
    releaseOutboundAliases(s)  // [MQTT-3.3.2-7] alias mappings end with the connection
    let queued = closeQueue.push(UInt32(s))
    precondition(queued, "close ring holds one entry per connection")
    if state == .connected { detach(s, reason) }
  }

  /// The connection of a session closed: the will is published or scheduled, and the session
  /// ends (Session Expiry Interval 0) or stays, offline, until it expires.
  func detach(_ s: Int, _ reason: CloseReason) {
    let session = connections[s].session
    connections[s].session = sessionNone
    guard session != sessionNone else { return }
    let i = Int(session)
    let now = clock
    sessions[i].state = .offline
    sessions[i].connection = slotNone
    stats.sessionsOffline += 1
    // Messages sent and not acknowledged are sent again when the session resumes; QoS 0
    // messages waiting are dropped unless queue_qos0_messages.
    var e = sessions[i].inflight.head
    sessions[i].resending = e != entryNone
    while e != entryNone {
      entries[e].unsent = true
      e = entries[e].next
    }
    if !limits.queueQoS0 { dropQueuedQoS0(i) }
    let willDue = reason != .clientDisconnect || connections[s].flags.contains(.willOnDisconnect)
    if sessions[i].will != messageNone {
      if !willDue {
        cancelWill(session)  // [MQTT-3.1.2-10] a normal DISCONNECT removes the will
      } else if sessions[i].willDelay == 0 || sessions[i].expiryInterval == 0 {
        publishWill(session, now: now)  // [MQTT-3.1.2-8]
      } else {
        sessions[i].willAt = now + UInt64(sessions[i].willDelay) * 1000  // [MQTT-3.1.3-9]
      }
    }
    let interval = sessions[i].expiryInterval
    if interval == 0 {
      endSession(session, now: now)
    } else {
      sessions[i].expiresAt = interval == UInt32.max ? 0 : now + UInt64(interval) * 1000
    }
  }

  func dropQueuedQoS0(_ i: Int) {
    var prev = entryNone
    var e = sessions[i].pending.head
    while e != entryNone {
      let next = entries[e].next
      if entries[e].qos == .atMostOnce {
        entries.unlink(e, after: prev, from: &sessions[i].pending)
        discard(e)
        sessions[i].pendingCount -= 1
        stats.messagesQueued -= 1
      } else {
        prev = e
      }
      e = next
    }
  }

  /// Binds a resumed or new session to its connection (it was offline).
  func attach(_ session: UInt32, _ s: Int) {
    let i = Int(session)
    if sessions[i].state == .offline && sessions[i].connection == slotNone { stats.sessionsOffline -= 1 }
    sessions[i].state = .online
    sessions[i].connection = UInt32(s)
    sessions[i].expiresAt = 0
  }
}

extension UnsafeMutableBufferPointer {
  /// Slot-indexed tables use UInt32 indices.
  subscript(_ i: UInt32) -> Element {
    get { self[Int(i)] }
    nonmutating set { self[Int(i)] = newValue }
  }
}
