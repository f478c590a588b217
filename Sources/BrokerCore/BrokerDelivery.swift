// Routing and delivery: matching a message against the subscriptions, the quota checks that
// decide whether it is accepted, the retained store, each session's queue and in-flight
// window, and the encoding of a stored message for one subscriber.
import Bounded
import MQTTWire

enum PublishOutcome {
  case done
  /// A recipient's queue is full and queue_full_action holds the publisher (reject_publish,
  /// pause_publisher; QoS 1/2 only): nothing was delivered.
  case full
  /// The message could not be stored at all (the message store, or the queue entries for the
  /// recipients that have room): nothing was delivered (QoS 1/2 only).
  case poolFull
  /// A new retained topic does not fit the retained store and the publisher can be told
  /// (MQTT 5, QoS 1/2): nothing was delivered.
  case retainedFull
}

extension Broker {
  /// The last quarter of each shared pool (queue entries, message chunks, send chunks) serves
  /// only recipients with short queues (README "Queue limits"), so that stalled or offline
  /// sessions cannot take what healthy ones need.
  static let poolReserveDivisor = 4

  /// Routes one message to every matching session. `stored` is the message when it is already
  /// in the store (a will); otherwise it is stored here once if anyone needs it.
  /// `rejectable`: the publisher can be answered "not accepted" or paused; otherwise (wills)
  /// what fits is delivered. Each recipient is admitted on its own (`admission`): one that
  /// cannot take the message misses it (counted) and the others get it.
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
    let holds = rejectable && qos != .atMostOnce && limits.queueFullAction.holdsPublisher
    guard let (entriesNeeded, keeps) = admit(k, qos: qos, publisher: publisher, holds: holds) else { return .full }
    // Stored only when someone keeps it: retained, or a recipient that queues it (QoS 1/2,
    // a queue already waiting, an offline session). Otherwise it is sent from the receive
    // buffer (QoS 0 fast path: no copy into the store).
    let needsStore = stored == messageNone && (keeps || retains)
    if rejectable && qos != .atMostOnce
      && (entriesNeeded > entries.freeCount || (needsStore && !store.canStore(bytes)))
    {
      return .poolFull  // not even one copy fits: the publisher meets the limit
    }
    var m = stored
    if needsStore {
      m =
        store.store(
          topic: topic, properties: properties, payload: payload, qos: qos, retain: retains,
          expiresAt: expiresAt, publisher: publisher) ?? messageNone
    } else if m != messageNone {
      store.retain(m)
    } else if k > 0 {
      m = store.setTransient(
        topic: topic, properties: properties, payload: payload, qos: qos, expiresAt: expiresAt, publisher: publisher)
    }
    if clearsRetained {
      retained.clear(topic, in: store)
    } else if retains {
      // Not retained when the store had no room (QoS 0 only gets here then): counted.
      if m == messageNone || !retained.set(topic, m, in: store) { stats.retainedRefused &+= 1 }
    }
    stats.retainedCount = retained.count
    deliver(k, m, qos: qos, retain: retain, publisher: publisher, now: now)
    if m == messageTransient {
      store.clearTransient()
    } else if m != messageNone {
      store.release(m)
    }
    stats.messagesStored = store.count
    return .done
  }

  /// Decides for each recipient in the fan-out scratch whether it takes the message
  /// (`FanOut.drop`). Returns the queue entries the admitted ones need and whether any of
  /// them keeps the message (it must be stored); nil when a full queue holds the publisher.
  func admit(_ k: Int, qos: QoS, publisher: UInt32, holds: Bool) -> (entries: Int, keeps: Bool)? {
    var entriesNeeded = 0
    var keeps = false
    var i = 0
    while i < k {
      let session = fanout[i].session
      let q = min(fanout[i].qos, qos)
      // A recipient that does not keep the message gets it straight into its send queue.
      if !fanout[i].shared && keepsMessage(session, qos: q) {
        let drop = admission(session, qos: q, ownMessage: session == publisher)
        if drop == .queueFull && holds { return nil }
        fanout[i].drop = drop
        if drop == nil {
          keeps = true
          entriesNeeded += 1
        }
      }
      i += 1
    }
    return (entriesNeeded, keeps)
  }

  /// Whether a recipient that keeps the message (`keepsMessage`) takes it at `qos`, or why not.
  func admission(_ session: UInt32, qos: QoS, ownMessage: Bool) -> DropReason? {
    // Fair share: while the pools are low, a session that holds its share of the reserve,
    // queued or unacknowledged in flight, does not keep up and gets no more of it.
    if sharedPoolsLow && heldEntries(session) >= fairShareEntries { return .fairShare }
    let full = queueIsFull(session, qos: qos, ownMessage: ownMessage)
    return full && limits.queueFullAction != .dropOldest ? .queueFull : nil  // drop_oldest: `enqueue` evicts
  }

  /// Whether the session's queue holds max_queued_messages. A session's own QoS 1/2 messages
  /// are exempt: its queue drains only when the acknowledgements behind this very PUBLISH are
  /// read.
  func queueIsFull(_ session: UInt32, qos: QoS, ownMessage: Bool) -> Bool {
    sessions[Int(session)].pendingCount >= UInt32(limits.queuedMessagesMax) && !(ownMessage && qos != .atMostOnce)
  }

  /// While the pools are low, the entries one session may hold: the reserved quarter divided
  /// among the sessions in use (connections count as sessions), and at least one window
  /// (max_inflight_messages), so that a client that keeps up is never cut.
  var fairShareEntries: Int {
    let sessionsInUse = max(1, stats.connectionsOpen + stats.sessionsOffline)
    return max(limits.inflightMax, entries.count / Broker.poolReserveDivisor / sessionsInUse)
  }

  /// The queue entries a session holds: waiting, and sent but not yet acknowledged.
  func heldEntries(_ session: UInt32) -> Int {
    Int(sessions[Int(session)].pendingCount) + Int(sessions[Int(session)].inflightCount)
  }

  /// Whether the queue entries or the message store are in their reserved last quarter.
  var sharedPoolsLow: Bool {
    entries.freeCount < entries.count / Broker.poolReserveDivisor
      || store.freeChunks < store.pool.count / Broker.poolReserveDivisor
  }

  /// Hands the message to every admitted recipient; counts the others.
  func deliver(_ k: Int, _ m: UInt32, qos: QoS, retain: Bool, publisher: UInt32, now: UInt64) {
    var i = 0
    while i < k {
      let f = fanout[i]
      if !f.shared {
        if let reason = f.drop {
          countDrop(f.session, reason)
        } else if m == messageNone {
          countDrop(f.session, .storeFull)
        } else {
          let rap = f.retainAsPublished && retain  // [MQTT-3.3.1-12] [MQTT-3.3.1-13]
          enqueue(f.session, m, qos: min(f.qos, qos), retain: rap, ownMessage: f.session == publisher, now: now)  // [MQTT-3.8.4-8]
        }
      }
      i += 1
    }
  }

  /// Counts a message one recipient misses and logs it, once a minute per session at most.
  func countDrop(_ session: UInt32, _ reason: DropReason) {
    stats.countDrop(reason)
    let si = Int(session)
    sessions[si].droppedCount &+= 1
    let second = UInt32(truncatingIfNeeded: clock / 1000) &+ 1
    let last = sessions[si].dropLoggedAt
    guard last == 0 || second &- last >= 60 else { return }
    sessions[si].dropLoggedAt = second
    clientEvents?(ConnectionID(slot: .max, generation: 0), .messagesDropped(clientID: clientID(session), reason: reason))
  }

  /// Whether delivering at `qos` to this session would queue the message (so it must be
  /// stored) rather than encode it into the send queue at once (see `enqueue`).
  func keepsMessage(_ session: UInt32, qos: QoS) -> Bool {
    if qos != .atMostOnce { return true }
    let si = Int(session)
    return sessions[si].state == .online ? !sessions[si].pending.isEmpty : limits.queueQoS0
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
    var sharedCount = 0
    subscriptions.forEachMatch(topic) { e in
      let sub = subscriptions.entries[e]
      guard mayRead(sub.owner, topic) else { return }  // acl_file: read, per subscriber
      if sub.shared {
        fanout[k] = FanOut(session: sub.owner, subscription: UInt32(e), qos: sub.options.qos, shared: true)
        k += 1
        sharedCount += 1
      } else if !(sub.options.noLocal && sub.owner == publisher) {  // [MQTT-3.8.3-3]
        k = addRecipient(sub.owner, UInt32(e), sub.options, stamp: stamp, count: k)
      }
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
  /// own QoS 1/2 messages may exceed max_queued_messages (see `admission`).
  func enqueue(_ session: UInt32, _ m: UInt32, qos: QoS, retain: Bool, ownMessage: Bool = false, now: UInt64) {
    precondition(m != messageTransient || !keepsMessage(session, qos: qos), "a transient message queued")
    let si = Int(session)
    let online = sessions[si].state == .online
    if qos == .atMostOnce {
      if !online && !limits.queueQoS0 { return }  // QoS 0 is not kept for offline sessions
      if online && sessions[si].pending.isEmpty {
        // Nothing waits before it: straight into the send queue, or dropped when that is full.
        let s = Int(sessions[si].connection)
        if tooLargeForClient(s, session, m, qos: .atMostOnce, now: now) {
          stats.messagesTooLargeForClient &+= 1  // [MQTT-3.1.2-25] discarded for this client
        } else if let reason = sendPublish(
          s, session, m, qos: .atMostOnce, retain: retain, dup: false, packetID: 0, now: now)
        {
          countDrop(session, reason)
        }
        return
      }
    }
    if queueIsFull(session, qos: qos, ownMessage: ownMessage) {
      // Full (wills and retained deliveries get here; `admission` stopped the others): drop
      // the newest, or with drop_oldest the oldest waiting.
      countDrop(session, .queueFull)
      guard limits.queueFullAction == .dropOldest && !sessions[si].pending.isEmpty else { return }
      dropPendingHead(si)
    }
    guard let e = entries.take() else {
      countDrop(session, .storeFull)
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
    var e = sessions[si].resending ? sessions[si].inflight.head : entryNone
    while e != entryNone {
      let entry = entries[e]
      if entry.unsent {
        if entry.state == .awaitingPubcomp {
          guard fits(s, Encode.ackSize) else { return }
          sendAck(s, .pubrel, entry.packetID)  // [MQTT-4.4.0-1]
        } else {
          guard sendPublish(
            s, session, entry.message, qos: entry.qos, retain: entry.retain, dup: true, packetID: entry.packetID,
            now: now) == nil
          else { return }  // [MQTT-3.3.1-1] DUP on a redelivery
        }
        entries[e].unsent = false
      }
      e = entry.next
      if e == entryNone { sessions[si].resending = false }  // every one sent again
    }
    let window = min(limits.inflightOutgoingMax, Int(connections[s].receiveMaximum))
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
      var packetID: UInt16 = 0
      if entry.qos != .atMostOnce {
        guard let next = nextPacketID(session) else { return }  // waits like a full window
        packetID = next
      }
      guard sendPublish(s, session, m, qos: entry.qos, retain: entry.retain, dup: false, packetID: packetID, now: now)
        == nil
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

  /// A packet identifier not used by the session's in-flight messages [MQTT-2.3.1-2], or nil
  /// while the next one would come round to the oldest in flight. Identifiers are taken in
  /// order and the in-flight list keeps that order, so every one in flight lies on the walk
  /// from the head's identifier to the tail's, within one lap: the next is free when it lies
  /// beyond the tail on that walk. O(1), where a scan of the list cost O(window) per message.
  func nextPacketID(_ session: UInt32) -> UInt16? {
    let si = Int(session)
    let id = sessions[si].nextPacketID == 65535 ? 1 : sessions[si].nextPacketID + 1
    let head = sessions[si].inflight.head
    if head != entryNone {
      let first = entries[head].packetID
      let last = entries[sessions[si].inflight.tail].packetID
      func walk(_ a: UInt16, _ b: UInt16) -> Int { (Int(b) - Int(a) + 65535) % 65535 }
      guard id != first && walk(first, id) > walk(first, last) else { return nil }
    }
    sessions[si].nextPacketID = id
    return id
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

  @inline(__always)
  func shape(
    _ s: Int, _ session: UInt32, _ m: UInt32, qos: QoS, now: UInt64, alias: AliasChoice = AliasChoice()
  ) -> PublishShape {
    var p = PublishShape()
    let h = store[m]
    let topicCount = alias.sendsTopic ? Int(h.topicCount) : 0
    p.remaining = 2 + topicCount + (qos == .atMostOnce ? 0 : 2) + store.payloadCount(m)
    if connections[s].version == .v5 {
      p.propertiesCount = Int(h.propertiesCount) + (alias.alias != 0 ? 3 : 0)  // Topic Alias
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
    // Sent by name, without an alias: a first alias adds 3 bytes, and a later one saves more.
    return UInt32(Encode.totalSize(remaining: shape(s, session, m, qos: qos, now: now).remaining)) > max
  }

  /// Room in the send queue for a delivery: within max_queued_bytes and the free send chunks,
  /// and while the send chunks are in their reserved last quarter only for a connection
  /// whose send queue is short (an eighth of max_queued_bytes). Control packets use `fits`.
  func deliveryRoom(_ s: Int, _ size: Int) -> DropReason? {
    guard fits(s, size) else { return .sendQueue }
    let low = sendPool.freeCount < sendPool.count / Broker.poolReserveDivisor
    return low && connections[s].output.count >= limits.queuedBytesMax / 8 ? .fairShare : nil
  }

  /// Encodes a stored message into the connection's send queue; nil when it was queued, else
  /// why it was not (`deliveryRoom`).
  func sendPublish(
    _ s: Int, _ session: UInt32, _ m: UInt32, qos: QoS, retain: Bool, dup: Bool, packetID: UInt16, now: UInt64
  ) -> DropReason? {
    // MQTT 5 topic aliases (BrokerAliases.swift). The body is inlined twice, so that a client
    // without aliases runs it with the constant "no alias" folded away.
    if connections[s].outboundAliasMax > 0 {
      let alias = chooseAlias(s, m)
      return sendPublish(s, session, m, qos: qos, retain: retain, dup: dup, packetID: packetID, now: now, alias: alias)
    }
    return sendPublish(
      s, session, m, qos: qos, retain: retain, dup: dup, packetID: packetID, now: now, alias: AliasChoice())
  }

  @inline(__always)
  func sendPublish(
    _ s: Int, _ session: UInt32, _ m: UInt32, qos: QoS, retain: Bool, dup: Bool, packetID: UInt16, now: UInt64,
    alias: AliasChoice
  ) -> DropReason? {
    let p = shape(s, session, m, qos: qos, now: now, alias: alias)
    let size = Encode.totalSize(remaining: p.remaining)
    if let full = deliveryRoom(s, size) {
      abandonAlias(alias)
      return full
    }
    let v5 = connections[s].version == .v5
    append(s, size: size) { sink in
      let flags = (dup ? 0x08 : 0) | qos.rawValue << 1 | (retain ? 0x01 : 0)
      Encode.fixedHeader(.publish, flags: flags, remaining: p.remaining, into: &sink)
      if alias.sendsTopic {
        sink.writeUInt16(store[m].topicCount)
        store.writeTopic(m, into: &sink)
      } else {
        sink.writeUInt16(0)  // an empty topic name with the alias [MQTT-3.3.2-8]
      }
      if qos != .atMostOnce { sink.writeUInt16(packetID) }
      if v5 {
        sink.writeVariableByteInteger(p.propertiesCount)
        if alias.alias != 0 {
          sink.write(PropertyID.topicAlias.rawValue)
          sink.writeUInt16(alias.alias)
        }
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
    commitAlias(s, alias)
    stats.messagesSent &+= 1
    return nil
  }
}
