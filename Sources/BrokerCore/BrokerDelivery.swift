// Routing and delivery: matching a message against the subscriptions, the quota checks that
// decide whether it is accepted, the retained store, each session's queue and in-flight
// window, and the encoding of a stored message for one subscriber.
import Bounded
import MQTTWire

enum PublishOutcome {
  case done
  /// A QoS 1/2 recipient's queue is full (max_queued_messages): nothing was delivered (the
  /// publisher is answered 0x97 or paused until that subscriber's queue drains).
  case full
  /// The shared queue entries or the message store are full: nothing was delivered, and
  /// waiting would not help reliably (the publisher's own acknowledgements may be what frees
  /// them), so the publisher is answered 0x97 or disconnected without an acknowledgement.
  case poolFull
  /// A new retained topic does not fit the retained store and the publisher can be told
  /// (MQTT 5, QoS 1/2): nothing was delivered.
  case retainedFull
}

extension Broker {
  /// Routes one message to every matching session. `stored` is the message when it is already
  /// in the store (a will); otherwise it is stored here once if anyone needs it.
  /// `rejectable`: the publisher can be answered "not accepted" or paused, so a full queue
  /// stops the whole delivery; otherwise (wills) what fits is delivered.
  func publish(
    topic: UnsafeRawBufferPointer, properties: Properties?, payload: UnsafeRawBufferPointer, qos: QoS,
    retain: Bool, expiresAt: UInt64, publisher: UInt32, stored: UInt32 = messageNone, rejectable: Bool = true,
    now: UInt64
  ) -> PublishOutcome {
    precondition(!routing, "routing must not nest")
    routing = true
    defer { routing = false }
    let k = match(topic, publisher: publisher)
    let bytes =
      stored != messageNone
      ? store[stored].data.count
      : MessageStore.byteCount(topic: topic.count, properties: properties, payload: payload.count)
    // [MQTT-3.3.1-6] an empty retained payload clears; [MQTT-3.3.1-5] otherwise it replaces.
    let clearsRetained = retain && payloadIsEmpty(payload, stored)
    var retains = retain && !clearsRetained
    if retains && !retained.fits(topic, bytes: bytes, in: store) {
      if rejectable && qos != .atMostOnce && publisherIsV5(publisher) { return .retainedFull }
      stats.retainedRefused &+= 1
      retains = false  // delivered, not retained (README, "Limits")
    }
    // Quota: every QoS 1/2 recipient must be able to queue it (§4.3.2, §4.3.3): never
    // acknowledge a message and then lose it.
    // The publisher's own session is exempt from max_queued_messages: its queue drains only
    // when the acknowledgements behind this very PUBLISH are read.
    var needed = 0
    var full = false
    var i = 0
    while i < k {
      let f = fanout[i]
      if !f.shared && min(f.qos, qos) != .atMostOnce {
        needed += 1
        if f.session != publisher && sessions[Int(f.session)].pendingCount >= UInt32(limits.queuedMessagesMax) {
          full = true
        }
      }
      i += 1
    }
    let needsStore = stored == messageNone && (k > 0 || retains)
    let poolFull = needed > entries.freeCount || (needsStore && (needed > 0 || retains) && !store.canStore(bytes))
    if rejectable && qos != .atMostOnce {
      if poolFull { return .poolFull }
      if full { return .full }
    }
    var m = stored
    if needsStore {
      m =
        store.store(
          topic: topic, properties: properties, payload: payload, qos: qos, retain: retains,
          expiresAt: expiresAt, publisher: publisher) ?? messageNone
    } else if m != messageNone {
      store.retain(m)
    }
    if clearsRetained {
      retained.clear(topic, in: store)
    } else if retains {
      // Not retained when the store had no room (QoS 0 only gets here then): counted.
      if m == messageNone || !retained.set(topic, m, in: store) { stats.retainedRefused &+= 1 }
    }
    stats.retainedCount = retained.count
    i = 0
    while i < k {
      let f = fanout[i]
      if !f.shared {
        if m == messageNone {
          stats.messagesDroppedQueueFull &+= 1  // the message store is full
        } else {
          let rap = f.retainAsPublished && retain  // [MQTT-3.3.1-12] [MQTT-3.3.1-13]
          enqueue(f.session, m, qos: min(f.qos, qos), retain: rap, ownMessage: f.session == publisher, now: now)  // [MQTT-3.8.4-8]
        }
      }
      i += 1
    }
    if m != messageNone { store.release(m) }
    stats.messagesStored = store.count
    return .done
  }

  func payloadIsEmpty(_ payload: UnsafeRawBufferPointer, _ stored: UInt32) -> Bool {
    stored != messageNone ? store.payloadCount(stored) == 0 : payload.count == 0
  }

  func publisherIsV5(_ session: UInt32) -> Bool {
    session != sessionNone && sessions[Int(session)].version == .v5
  }

  /// Fills the fan-out scratch with the recipients of `topic`: one entry per session, at the
  /// highest QoS of its matching subscriptions [MQTT-3.3.4-2], and for each shared
  /// subscription group one more entry for one member in turn (round robin, connected
  /// members first).
  func match(_ topic: UnsafeRawBufferPointer, publisher: UInt32) -> Int {
    publishStamp &+= 1
    if publishStamp == 0 { publishStamp = 1 }
    let stamp = publishStamp
    var k = 0
    var e = 0
    let end = subscriptions.highWater
    var sharedCount = 0
    while e < end {
      let sub = subscriptions.entries[e]
      if sub.owner != subscriptionNone && Topic.matches(filter: subscriptions.matchFilter(e), name: topic)
        && mayRead(sub.owner, topic)  // acl_file: read, per subscriber
      {
        if sub.shared {
          fanout[k] = FanOut(session: sub.owner, subscription: UInt32(e), qos: sub.options.qos, shared: true)
          k += 1
          sharedCount += 1
        } else if !(sub.options.noLocal && sub.owner == publisher) {  // [MQTT-3.8.3-3]
          k = addRecipient(sub.owner, UInt32(e), sub.options, stamp: stamp, count: k)
        }
      }
      e += 1
    }
    guard sharedCount > 0 else { return k }
    let candidates = k
    var i = 0
    while i < candidates {
      if fanout[i].shared && !fanout[i].done {
        // The group: every later candidate with the same "$share/group/filter".
        let group = subscriptions.filter(Int(fanout[i].subscription))
        var best = i
        var j = i
        while j < candidates {
          if fanout[j].shared && !fanout[j].done
            && subscriptions.filter(Int(fanout[j].subscription)).bytesEqual(group)
          {
            fanout[j].done = true
            if betterMember(fanout[j], than: fanout[best]) { best = j }
          }
          j += 1
        }
        let chosen = Int(fanout[best].subscription)
        subscriptions.entries[chosen].lastTurn = stamp
        // A copy of its own: a member that also matches through its own subscriptions (or
        // through another group) gets one copy for each (§4.8.2).
        let options = subscriptions.entries[chosen].options
        fanout[k] = FanOut(session: fanout[best].session, subscription: UInt32(chosen), qos: options.qos)
        k += 1
      }
      i += 1
    }
    return k
  }

  func betterMember(_ a: FanOut, than b: FanOut) -> Bool {
    let aOnline = sessions[Int(a.session)].state == .online
    let bOnline = sessions[Int(b.session)].state == .online
    if aOnline != bOnline { return aOnline }
    let ta = subscriptions.entries[Int(a.subscription)].lastTurn
    let tb = subscriptions.entries[Int(b.subscription)].lastTurn
    return ta < tb
  }

  func addRecipient(
    _ session: UInt32, _ subscription: UInt32, _ options: SubscriptionOptions, stamp: UInt32, count k: Int
  ) -> Int {
    let si = Int(session)
    if sessions[si].deliveryStamp == stamp {
      let idx = Int(sessions[si].fanoutIndex)
      fanout[idx].qos = max(fanout[idx].qos, options.qos)
      fanout[idx].retainAsPublished = fanout[idx].retainAsPublished || options.retainAsPublished
      return k
    }
    sessions[si].deliveryStamp = stamp
    sessions[si].fanoutIndex = UInt32(k)
    fanout[k] = FanOut(
      session: session, subscription: subscription, qos: options.qos,
      retainAsPublished: options.retainAsPublished)
    return k + 1
  }

  /// Retained messages matching a new subscription, with the retain flag set [MQTT-3.3.1-9].
  func deliverRetained(_ session: UInt32, filter: UnsafeRawBufferPointer, qos: QoS, now: UInt64) {
    var i = 0
    while i < retained.count {
      let m = retained.at(i)
      if store.expired(m, now: now) {
        retained.remove(i, in: store)  // [MQTT-3.3.2-5] an expired retained message is gone
        stats.messagesExpired &+= 1
        stats.retainedCount = retained.count
        continue
      }
      let topic = store.topic(m, scratch: topicScratch)
      if Topic.matches(filter: filter, name: topic) && mayRead(session, topic) {
        enqueue(session, m, qos: min(store[m].qos, qos), retain: true, now: now)
      }
      i += 1
    }
  }

  // MARK: queues

  /// Queues a reference to `m` for a session and sends what its window allows. A session's
  /// own QoS 1/2 messages may exceed max_queued_messages (see `publish`).
  func enqueue(_ session: UInt32, _ m: UInt32, qos: QoS, retain: Bool, ownMessage: Bool = false, now: UInt64) {
    let si = Int(session)
    let online = sessions[si].state == .online
    if qos == .atMostOnce {
      if !online && !limits.queueQoS0 { return }  // QoS 0 is not kept for offline sessions
      if online && sessions[si].pending.isEmpty {
        // Nothing waits before it: straight into the send queue, or dropped when that is full.
        let s = Int(sessions[si].connection)
        if tooLargeForClient(s, session, m, qos: .atMostOnce, now: now) {
          stats.messagesTooLargeForClient &+= 1  // [MQTT-3.1.2-25] discarded for this client
        } else if !sendPublish(s, session, m, qos: .atMostOnce, retain: retain, dup: false, packetID: 0, now: now) {
          stats.messagesDroppedQueueFull &+= 1
        }
        return
      }
    }
    let queueRoom = sessions[si].pendingCount < UInt32(limits.queuedMessagesMax) || (ownMessage && qos != .atMostOnce)
    guard queueRoom, let e = entries.take() else {
      stats.messagesDroppedQueueFull &+= 1  // QoS 0, or a will or retained message: counted
      return
    }
    entries[e].message = m
    entries[e].qos = qos
    entries[e].retain = retain
    store.retain(m)
    entries.append(e, to: &sessions[si].pending)
    sessions[si].pendingCount += 1
    stats.messagesQueued += 1
    if online { pump(session, now: now) }
  }

  /// Sends what the session's connection can take: first in-flight messages not sent on this
  /// connection yet (a resumed session: PUBLISH with DUP, or PUBREL), then queued messages
  /// while the in-flight window (max_inflight_messages, or the client's smaller Receive
  /// Maximum [MQTT-3.3.4-7]) and the send queue have room. Never closes a connection.
  func pump(_ session: UInt32, now: UInt64) {
    guard session != sessionNone else { return }
    let si = Int(session)
    guard sessions[si].state == .online else { return }
    let s = Int(sessions[si].connection)
    guard connections[s].state == .connected else { return }
    var e = sessions[si].inflight.head
    while e != entryNone {
      let entry = entries[e]
      if entry.unsent {
        if entry.state == .awaitingPubcomp {
          guard fits(s, Encode.ackSize) else { return }
          sendAck(s, .pubrel, entry.packetID)  // [MQTT-4.4.0-1]
        } else {
          guard sendPublish(
            s, session, entry.message, qos: entry.qos, retain: entry.retain, dup: true, packetID: entry.packetID,
            now: now)
          else { return }  // [MQTT-3.3.1-1] DUP on a redelivery
        }
        entries[e].unsent = false
      }
      e = entry.next
    }
    let window = min(limits.inflightMax, Int(connections[s].receiveMaximum))
    while sessions[si].pending.head != entryNone {
      let e = sessions[si].pending.head
      let entry = entries[e]
      let m = entry.message
      if store.expired(m, now: now) {
        stats.messagesExpired &+= 1  // [MQTT-3.3.2-5]
        dropPendingHead(si)
        continue
      }
      if entry.qos != .atMostOnce && Int(sessions[si].inflightCount) >= window { return }
      if tooLargeForClient(s, session, m, qos: entry.qos, now: now) {
        stats.messagesTooLargeForClient &+= 1  // [MQTT-3.1.2-25] discarded for this client
        dropPendingHead(si)
        continue
      }
      let packetID = entry.qos == .atMostOnce ? 0 : nextPacketID(session)
      guard sendPublish(s, session, m, qos: entry.qos, retain: entry.retain, dup: false, packetID: packetID, now: now)
      else { return }
      _ = entries.popHead(&sessions[si].pending)
      sessions[si].pendingCount -= 1
      stats.messagesQueued -= 1
      if entry.qos == .atMostOnce {
        store.release(m)
        entries.give(e)
      } else {
        entries[e].packetID = packetID
        entries[e].state = entry.qos == .atLeastOnce ? .awaitingPuback : .awaitingPubrec
        entries.append(e, to: &sessions[si].inflight)
        sessions[si].inflightCount += 1
      }
    }
  }

  func dropPendingHead(_ si: Int) {
    guard let e = entries.popHead(&sessions[si].pending) else { return }
    discard(e)
    sessions[si].pendingCount -= 1
    stats.messagesQueued -= 1
  }

  /// Frees an unlinked queue entry and its message reference (none after PUBREC).
  func discard(_ e: UInt32) {
    if entries[e].message != messageNone { store.release(entries[e].message) }
    entries.give(e)
  }

  /// A packet identifier not used by the session's in-flight messages [MQTT-2.3.1-2].
  func nextPacketID(_ session: UInt32) -> UInt16 {
    let si = Int(session)
    while true {
      sessions[si].nextPacketID &+= 1
      if sessions[si].nextPacketID == 0 { sessions[si].nextPacketID = 1 }
      let id = sessions[si].nextPacketID
      if findInflight(session, id) == nil { return id }
    }
  }

  func findInflight(_ session: UInt32, _ packetID: UInt16) -> (UInt32, UInt32)? {
    var prev = entryNone
    var e = sessions[Int(session)].inflight.head
    while e != entryNone {
      if entries[e].packetID == packetID { return (e, prev) }
      prev = e
      e = entries[e].next
    }
    return nil
  }

  /// The end of an outgoing QoS 1/2 flow: the entry and its message reference go.
  func finishInflight(_ session: UInt32, _ e: UInt32, after prev: UInt32, now: UInt64) {
    let si = Int(session)
    entries.unlink(e, after: prev, from: &sessions[si].inflight)
    discard(e)
    sessions[si].inflightCount -= 1
    stats.messagesStored = store.count
    pump(session, now: now)
  }

  // MARK: encoding

  /// Subscription identifiers of the session's subscriptions matching the message's topic
  /// (MQTT 5: one delivery carries all of them [MQTT-3.3.4-3]); at most 8 are sent.
  func subscriptionIdentifiers(_ session: UInt32, _ m: UInt32, into ids: inout [8 of UInt32]) -> Int {
    var n = 0
    var topic: UnsafeRawBufferPointer? = nil
    var e = sessions[Int(session)].subscriptionHead
    while e != subscriptionNone {
      let sub = subscriptions.entries[Int(e)]
      if sub.identifier != 0 && n < 8 {
        if topic == nil { topic = store.topic(m, scratch: encodeScratch) }
        if Topic.matches(filter: subscriptions.matchFilter(Int(e)), name: topic!) {
          var seen = false
          var j = 0
          while j < n {
            if ids[j] == sub.identifier { seen = true }
            j += 1
          }
          if !seen {
            ids[n] = sub.identifier
            n += 1
          }
        }
      }
      e = sub.next
    }
    return n
  }

  struct PublishShape {
    var remaining = 0
    var propertiesCount = 0
    var expiry: UInt32? = nil
    var ids: [8 of UInt32] = .init(repeating: 0)
    var idCount = 0
  }

  func shape(_ s: Int, _ session: UInt32, _ m: UInt32, qos: QoS, now: UInt64) -> PublishShape {
    var p = PublishShape()
    let h = store[m]
    p.remaining = 2 + Int(h.topicCount) + (qos == .atMostOnce ? 0 : 2) + store.payloadCount(m)
    if connections[s].version == .v5 {
      p.propertiesCount = Int(h.propertiesCount)
      p.expiry = store.secondsLeft(m, now: now)  // [MQTT-3.3.2-6] the time left
      if p.expiry != nil { p.propertiesCount += 5 }
      p.idCount = subscriptionIdentifiers(session, m, into: &p.ids)
      var j = 0
      while j < p.idCount {
        p.propertiesCount += 1 + VariableByteInteger.size(Int(p.ids[j]))
        j += 1
      }
      p.remaining += VariableByteInteger.size(p.propertiesCount) + p.propertiesCount
    }
    return p
  }

  /// Whether the PUBLISH would exceed the client's MQTT 5 Maximum Packet Size.
  func tooLargeForClient(_ s: Int, _ session: UInt32, _ m: UInt32, qos: QoS, now: UInt64) -> Bool {
    let max = connections[s].maximumPacketSize
    guard max != 0 else { return false }
    return UInt32(Encode.totalSize(remaining: shape(s, session, m, qos: qos, now: now).remaining)) > max
  }

  /// Encodes a stored message into the connection's send queue; false when it does not fit.
  func sendPublish(
    _ s: Int, _ session: UInt32, _ m: UInt32, qos: QoS, retain: Bool, dup: Bool, packetID: UInt16, now: UInt64
  ) -> Bool {
    let p = shape(s, session, m, qos: qos, now: now)
    let size = Encode.totalSize(remaining: p.remaining)
    guard fits(s, size) else { return false }
    let v5 = connections[s].version == .v5
    append(s, size: size) { sink in
      let flags = (dup ? 0x08 : 0) | qos.rawValue << 1 | (retain ? 0x01 : 0)
      Encode.fixedHeader(.publish, flags: flags, remaining: p.remaining, into: &sink)
      sink.writeUInt16(store[m].topicCount)
      store.writeTopic(m, into: &sink)
      if qos != .atMostOnce { sink.writeUInt16(packetID) }
      if v5 {
        sink.writeVariableByteInteger(p.propertiesCount)
        store.writeProperties(m, into: &sink)
        if let expiry = p.expiry {
          sink.write(PropertyID.messageExpiryInterval.rawValue)
          sink.writeUInt32(expiry)
        }
        var j = 0
        while j < p.idCount {
          sink.write(PropertyID.subscriptionIdentifier.rawValue)
          sink.writeVariableByteInteger(Int(p.ids[j]))
          j += 1
        }
      }
      store.writePayload(m, into: &sink)
    }
    stats.messagesSent &+= 1
    return true
  }
}
