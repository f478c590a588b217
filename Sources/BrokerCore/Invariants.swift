// The core's bookkeeping invariants, checked from outside between events (the tests'
// simulator calls `checkInvariants()` after every step). Nil means consistent; otherwise the
// first violation found, in words. For tests and debug builds only: it allocates one mark
// per pooled chunk and walks every slot, chunk and subscription entry (O(pools + slots)).
//
// What holds whenever the core is not inside a call:
//  - chunks: every receive chunk, send chunk and large packet buffer is either on its pool's
//    free list or held by exactly one connection (its receive buffer or its output queue);
//    nothing is held twice and nothing is lost, so free counts + held chunks == pool counts;
//  - slots: no slot at or beyond slotHighWater is in use; the free-slot ring holds exactly
//    the free slots; admittedCount counts the open slots that are not refusals (and is at
//    most max_connections); stats.connectionsOpen / clientsConnected match the slot states;
//    a free slot holds no buffer, subscription or QoS 2 identifier;
//  - reading: readPaused exactly when waiting for a receive chunk or a large buffer, and a
//    waiting connection is in the matching waiter ring (so a returned buffer wakes it); nobody
//    waits for a large buffer while one is free (a returned one goes to a waiter at once);
//  - subscriptions: `count` equals the entries with an owner, every owned entry belongs to a
//    session in use and is on that session's list, the free list holds the rest, and
//    stats.subscriptionsActive equals `count`;
//  - sessions: an online session and its connection name each other; an offline one has no
//    connection; free sessions are on the free list; stats.sessionsOffline counts the
//    offline ones; only sessions in use hold QoS 2 identifiers, none twice;
//  - queues: every queue entry is free or on exactly one list of one session, the lists'
//    counts match, pending entries are `.pending` and in-flight ones are not;
//  - messages: each stored message's reference count equals the references held by queue
//    entries, the retained index, wills and topic aliases; message chunks are free or held
//    by exactly one message;
//  - timers: an awaiting or keep-alive connection has a deadline;
//  - fresh elements: every pool hands out its never-used elements in order ([fresh, count) or
//    [highWater, count)) and the arena reads as zero, so each such element, its links and
//    its per-slot arrays (topic aliases, QoS 2 ids) are still all zero bytes; no list, index
//    or free list names one. Released elements are on their pool's free list.
// Not compiled into the product (Embedded) binary.
#if !hasFeature(Embedded)
import Bounded

/// Whether the bytes of `count` values from `base` are all zero (an element never handed out).
func untouched<T>(_ base: UnsafePointer<T>, count: Int = 1) -> Bool {
  let raw = UnsafeRawBufferPointer(start: UnsafeRawPointer(base), count: count * MemoryLayout<T>.stride)
  return raw.allSatisfy { $0 == 0 }
}

extension UnsafeMutableBufferPointer {
  /// Whether elements [from, count) are all zero bytes.
  func untouched(from: Int) -> Bool {
    from >= count || BrokerCore.untouched(UnsafePointer(baseAddress! + from), count: count - from)
  }
}

extension Broker {
  func checkInvariants() -> String? {
    if let problem = checkFresh() { return problem }
    if let problem = checkSlots() { return problem }
    if let problem = checkChunks() { return problem }
    if let problem = checkSubscriptions() { return problem }
    if let problem = checkSessionIndex() { return problem }
    if let problem = checkSessions() { return problem }
    if let problem = checkMessages() { return problem }
    return nil
  }

  /// What was never handed out is still zero (see the file header).
  private func checkFresh() -> String? {
    if slotHighWater > connections.count { return "slotHighWater \(slotHighWater) beyond the slots" }
    if !connections.untouched(from: slotHighWater) { return "a slot beyond slotHighWater was written" }
    if !aliases.untouched(from: slotHighWater * limits.topicAliasMax) {
      return "a topic alias of a slot beyond slotHighWater was written"
    }
    if !outboundAliases.untouched(from: slotHighWater * limits.topicAliasBrokerMax) {
      return "an outbound topic alias of a slot beyond slotHighWater was written"
    }
    if sessionHighWater > sessions.count { return "sessionHighWater \(sessionHighWater) beyond the sessions" }
    if !sessions.untouched(from: sessionHighWater) { return "a session beyond sessionHighWater was written" }
    if !qos2IDs.untouched(from: sessionHighWater * limits.inflightMax) {
      return "a QoS 2 id of a session beyond sessionHighWater was written"
    }
    if Int(entries.fresh) > entries.count || !entries.entries.untouched(from: Int(entries.fresh)) {
      return "a queue entry beyond the fresh index \(entries.fresh) was written"
    }
    if Int(store.fresh) > store.headers.count || !store.headers.untouched(from: Int(store.fresh)) {
      return "a message header beyond the fresh index \(store.fresh) was written"
    }
    let table = subscriptions
    if table.highWater > table.entries.count || !table.entries.untouched(from: table.highWater) {
      return "a subscription entry beyond highWater \(table.highWater) was written"
    }
    if table.longFresh > table.longFree.count || table.longReleased > table.longFresh {
      return "long filter slots: \(table.longReleased) released, \(table.longFresh) used of \(table.longFree.count)"
    }
    for (pool, name) in [(receivePool, "receive"), (sendPool, "send"), (largePool, "large"), (store.pool, "message")] {
      if !pool.freshUntouched() { return "\(name) pool: a chunk link beyond the fresh index \(pool.fresh) was written" }
    }
    return nil
  }

  private func checkSlots() -> String? {
    var free = connections.count - slotHighWater  // never used
    var open = 0
    var connected = 0
    var admitted = 0
    var s = 0
    while s < slotHighWater {
      let c = connections[s]
      if c.state != .free && s >= slotHighWater {
        return "slot \(s) is in use at or beyond slotHighWater \(slotHighWater)"
      }
      switch c.state {
      case .free:
        free += 1
        if c.receiveBuffer != .none || c.output.count != 0 || c.output.head != chunkNone {
          return "free slot \(s) holds a buffer"
        }
        if c.session != sessionNone { return "free slot \(s) holds a session" }
        if !c.flags.subtracting(.ringMembership).isEmpty { return "free slot \(s) has flags \(c.flags.rawValue)" }
      case .awaitingConnect, .connected, .closing:
        open += 1
        if c.state == .connected { connected += 1 }
        if !c.flags.contains(.refusing) { admitted += 1 }
      }
      if c.state != .connected && c.session != sessionNone {
        return "slot \(s) (state \(c.state.rawValue)) holds session \(c.session)"
      }
      if c.state == .connected {
        guard c.session != sessionNone, sessions[c.session].state == .online,
          sessions[c.session].connection == UInt32(s)
        else { return "connected slot \(s) and its session \(c.session) do not name each other" }
      }
      if (c.state == .awaitingConnect || (c.state == .connected && c.keepAliveMs > 0)) && c.deadline == 0 {
        return "slot \(s) (state \(c.state.rawValue)) has no deadline"
      }
      let waiting =
        c.flags.contains(.waitingChunk) || c.flags.contains(.waitingLarge) || c.flags.contains(.waitingQueue)
      if c.flags.contains(.readPaused) != waiting {
        return "slot \(s): readPaused \(c.flags.contains(.readPaused)) but waiting \(waiting)"
      }
      if c.flags.contains(.waitingChunk) && !c.flags.contains(.inChunkRing) {
        return "slot \(s) waits for a receive chunk but is not in the waiter ring"
      }
      if c.flags.contains(.waitingLarge) && !c.flags.contains(.inLargeRing) {
        return "slot \(s) waits for a large buffer but is not in the waiter ring"
      }
      if c.flags.contains(.waitingLarge) && largePool.freeCount > 0 {
        return "slot \(s) waits for a large buffer while \(largePool.freeCount) are free (not woken)"
      }
      switch c.receiveBuffer {
      case .none:
        if c.receiveUsed != 0 { return "slot \(s) has \(c.receiveUsed) bytes received without a buffer" }
      case .chunk:
        if Int(c.receiveUsed) > limits.chunkBytes { return "slot \(s) overfilled its receive chunk" }
      case .large:
        if Int(c.receiveUsed) > limits.packetBytesMax { return "slot \(s) overfilled its large buffer" }
      }
      s += 1
    }
    if freeSlots.count + connections.count - slotHighWater != free {
      let fresh = connections.count - slotHighWater
      return "free-slot ring holds \(freeSlots.count) (+ \(fresh) never used), but \(free) slots are free"
    }
    if admittedCount != admitted { return "admittedCount \(admittedCount), but \(admitted) open slots are admitted" }
    if admittedCount > limits.connectionsMax {
      return "admittedCount \(admittedCount) exceeds max_connections \(limits.connectionsMax)"
    }
    if stats.connectionsOpen != open {
      return "stats.connectionsOpen \(stats.connectionsOpen), but \(open) slots are open"
    }
    if stats.clientsConnected != connected {
      return "stats.clientsConnected \(stats.clientsConnected), but \(connected) slots are connected"
    }
    return nil
  }

  private func checkChunks() -> String? {
    // Owner per chunk: 0 = nobody yet, 1 = the free list, 2 + slot = a connection.
    var rx = [Int](repeating: 0, count: receivePool.count)
    var tx = [Int](repeating: 0, count: sendPool.count)
    var large = [Int](repeating: 0, count: largePool.count)
    var problem: String?

    func mark(_ marks: inout [Int], _ c: UInt32, _ owner: Int, _ pool: String) {
      guard problem == nil else { return }
      guard Int(c) < marks.count else {
        problem = "\(pool) chunk index \(c) is outside the pool"
        return
      }
      if marks[Int(c)] != 0 {
        problem = "\(pool) chunk \(c) is held by \(ownerName(marks[Int(c)])) and by \(ownerName(owner))"
        return
      }
      marks[Int(c)] = owner
    }
    if !receivePool.forEachFree({ mark(&rx, $0, 1, "receive") }) { return "receive pool free list is inconsistent" }
    if !sendPool.forEachFree({ mark(&tx, $0, 1, "send") }) { return "send pool free list is inconsistent" }
    if !largePool.forEachFree({ mark(&large, $0, 1, "large") }) { return "large pool free list is inconsistent" }
    if let problem { return problem }

    var s = 0
    while s < slotHighWater {
      let c = connections[s]
      switch c.receiveBuffer {
      case .none: break
      case .chunk: mark(&rx, c.receiveIndex, 2 + s, "receive")
      case .large: mark(&large, c.receiveIndex, 2 + s, "large")
      }
      if !sendPool.forEachChunk(of: c.output, { mark(&tx, $0, 2 + s, "send") }) {
        return "slot \(s): output queue is inconsistent (\(c.output.count) bytes)"
      }
      if let problem { return problem }
      s += 1
    }
    for (marks, pool) in [(rx, "receive"), (tx, "send"), (large, "large")] {
      if let lost = marks.firstIndex(of: 0) {
        let held = marks.filter { $0 >= 2 }.count
        let freeCount = marks.filter { $0 == 1 }.count
        return "\(pool) chunk \(lost) is neither free nor held (\(freeCount) free + \(held) held of \(marks.count))"
      }
    }
    return nil
  }

  private func ownerName(_ owner: Int) -> String { owner == 1 ? "the free list" : "slot \(owner - 2)" }

  /// The session index holds exactly the sessions in use, each in its client identifier's bucket.
  private func checkSessionIndex() -> String? {
    var indexed = 0
    var b = 0
    while b < sessionBuckets.count {
      var i = sessionBuckets[b] == 0 ? sessionNone : sessionBuckets[b] - 1
      while i != sessionNone {
        guard Int(i) < sessionHighWater, indexed < sessions.count else { return "session index runs past its sessions" }
        if sessions[Int(i)].state == .free { return "free session \(i) is in the session index" }
        if sessionBucket(clientID(i)) != b { return "session \(i) is in the wrong session index bucket" }
        indexed += 1
        i = sessionLinks[Int(i)]
      }
      b += 1
    }
    var used = 0
    var s = 0
    while s < sessionHighWater {
      if sessions[s].state != .free {
        used += 1
        if findSession(clientID(UInt32(s))) != UInt32(s) { return "session \(s) is not found by its client identifier" }
      }
      s += 1
    }
    return indexed == used ? nil : "session index holds \(indexed) sessions, \(used) are in use"
  }

  private func checkSubscriptions() -> String? {
    let table = subscriptions
    var owned = 0
    var ownedLong = 0
    var longMarks = [Bool](repeating: false, count: table.longFresh)
    var e = 0
    while e < table.highWater {
      let entry = table.entries[e]
      if entry.owner != subscriptionNone {
        owned += 1
        if entry.longSlot != longNone {
          guard Int(entry.longSlot) < table.longFresh, !longMarks[Int(entry.longSlot)] else {
            return "subscription entry \(e) holds long slot \(entry.longSlot): never handed out or held twice"
          }
          longMarks[Int(entry.longSlot)] = true
          ownedLong += 1
        }
        let o = Int(entry.owner)
        guard o < sessions.count, sessions[o].state != .free else {
          return "subscription entry \(e) is owned by session \(o), which is free"
        }
        if Int(entry.filterCount) > table.filterBytesMax || entry.filterCount == 0 {
          return "subscription entry \(e) has a filter of \(entry.filterCount) bytes"
        }
      }
      e += 1
    }
    if owned != table.count { return "subscription count \(table.count), but \(owned) entries have an owner" }
    var r = 0
    while r < table.longReleased {
      let slot = Int(table.longFree[r])
      guard slot < table.longFresh, !longMarks[slot] else {
        return "released long slot \(slot) is held or listed twice"
      }
      longMarks[slot] = true
      r += 1
    }
    if ownedLong + table.longReleased != table.longFresh {
      return "long slots: \(ownedLong) held + \(table.longReleased) released != \(table.longFresh) handed out"
    }
    // The match index (hash buckets and the wildcard/shared list) holds every owned entry once,
    // in the list its filter belongs to, with consistent back links.
    var indexed = 0
    func walk(_ head: UInt32, bucket: Int?) -> String? {
      var prev = subscriptionNone
      var i = head
      while i != subscriptionNone {
        guard Int(i) < table.highWater, indexed < table.count else { return "match index runs past its entries" }
        let entry = table.entries[Int(i)]
        if entry.owner == subscriptionNone { return "free subscription entry \(i) is in the match index" }
        if entry.matchPrev != prev { return "subscription entry \(i) has a wrong back link in the match index" }
        if let b = bucket, entry.scanned || table.bucket(table.matchFilter(Int(i))) != b {
          return "subscription entry \(i) is in the wrong hash bucket"
        }
        if bucket == nil && !entry.scanned { return "exact subscription entry \(i) is in the wildcard list" }
        indexed += 1
        prev = i
        i = entry.matchNext
      }
      return nil
    }
    var b = 0
    while b < table.buckets.count {
      if table.buckets[b] != 0, let problem = walk(table.buckets[b] - 1, bucket: b) { return problem }
      b += 1
    }
    if let problem = walk(table.scanHead, bucket: nil) { return problem }
    if indexed != table.count { return "match index holds \(indexed) entries, the table \(table.count)" }
    if stats.subscriptionsActive != table.count {
      return "stats.subscriptionsActive \(stats.subscriptionsActive), but the table holds \(table.count)"
    }
    // Every owned entry is on its owner's list, exactly once.
    var listed = 0
    var s = 0
    while s < sessionHighWater {
      var i = sessions[s].subscriptionHead
      var n = 0
      while i != subscriptionNone {
        guard Int(i) < table.highWater, n < table.entries.count else {
          return "session \(s): subscription list is corrupt"
        }
        if table.entries[Int(i)].owner != UInt32(s) {
          return "session \(s): its list holds entry \(i), owned by \(table.entries[Int(i)].owner)"
        }
        n += 1
        i = table.entries[Int(i)].next
      }
      listed += n
      s += 1
    }
    if listed != owned { return "\(listed) subscription entries are listed by sessions, \(owned) are owned" }
    // The free list holds every other entry.
    var freeListed = 0
    var i = table.freeHead
    while i != subscriptionNone {
      guard Int(i) < table.highWater, freeListed < table.entries.count else {
        return "subscription free list is corrupt"
      }
      if table.entries[Int(i)].owner != subscriptionNone { return "subscription entry \(i) is free and owned" }
      freeListed += 1
      i = table.entries[Int(i)].next
    }
    if freeListed + owned != table.highWater {
      return "subscription free list holds \(freeListed), owned \(owned), of \(table.highWater) entries used"
    }
    return nil
  }
}

extension Broker {
  fileprivate func checkSessions() -> String? {
    var offline = 0
    var freeCount = 0
    var queued = 0
    // Entries handed out at least once; the fresh ones were checked untouched.
    var entryOwner = [Int](repeating: -1, count: Int(entries.fresh))
    var i = 0
    while i < sessionHighWater {
      let x = sessions[i]
      switch x.state {
      case .free:
        freeCount += 1
        if x.subscriptionHead != subscriptionNone || !x.pending.isEmpty || !x.inflight.isEmpty || x.will != messageNone {
          return "free session \(i) holds state"
        }
        for v in qos2Slots(UInt32(i)) where v != 0 { return "free session \(i) holds QoS 2 id \(v)" }
      case .online:
        let c = Int(x.connection)
        guard c < connections.count, connections[c].session == UInt32(i), connections[c].state == .connected else {
          return "online session \(i) and connection \(x.connection) do not name each other"
        }
        if x.willAt != 0 { return "online session \(i) has a will timer" }
      case .offline:
        if x.connection != slotNone { return "offline session \(i) names connection \(x.connection)" }
        offline += 1
      }
      let ids = qos2Slots(UInt32(i))
      var a = 0
      while a < ids.count {
        if ids[a] != 0 {
          var b = a + 1
          while b < ids.count {
            if ids[b] == ids[a] { return "session \(i) remembers QoS 2 id \(ids[a]) twice" }
            b += 1
          }
        }
        a += 1
      }
      // Its queue lists.
      for (list, isPending) in [(x.pending, true), (x.inflight, false)] {
        var e = list.head
        var n = 0
        var last = entryNone
        while e != entryNone {
          guard Int(e) < entryOwner.count, n <= entryOwner.count else { return "session \(i): a queue list is corrupt" }
          if entryOwner[Int(e)] != -1 { return "queue entry \(e) is on two lists" }
          entryOwner[Int(e)] = i
          let entry = entries[e]
          if isPending != (entry.state == .pending) { return "session \(i): entry \(e) in the wrong list (state \(entry.state))" }
          if entry.state != .awaitingPubcomp && entry.message == messageNone { return "entry \(e) has no message" }
          if entry.unsent && !x.resending { return "session \(i): entry \(e) waits to be sent again unseen by pump" }
          n += 1
          last = e
          e = entry.next
        }
        if list.tail != last { return "session \(i): list tail \(list.tail), last entry \(last)" }
        if isPending {
          if Int(x.pendingCount) != n { return "session \(i): pendingCount \(x.pendingCount), \(n) listed" }
          queued += n
        } else if Int(x.inflightCount) != n {
          return "session \(i): inflightCount \(x.inflightCount), \(n) listed"
        }
      }
      i += 1
    }
    if offline != stats.sessionsOffline { return "stats.sessionsOffline \(stats.sessionsOffline), \(offline) offline" }
    if queued != stats.messagesQueued { return "stats.messagesQueued \(stats.messagesQueued), \(queued) pending entries" }
    var listedFree = 0
    var f = sessionFreeHead
    while f != sessionNone {
      guard Int(f) < sessionHighWater, listedFree <= sessions.count, sessions[f].state == .free else {
        return "session free list is corrupt at \(f)"
      }
      listedFree += 1
      f = sessions[f].connection
    }
    if listedFree != freeCount { return "session free list holds \(listedFree), \(freeCount) sessions are free" }
    var freeEntries = 0
    var e = entries.freeHead
    while e != entryNone {
      guard Int(e) < entryOwner.count, entryOwner[Int(e)] == -1 else { return "queue entry \(e) is free and listed" }
      entryOwner[Int(e)] = -2
      freeEntries += 1
      e = entries[e].next
    }
    if freeEntries + entries.count - Int(entries.fresh) != entries.freeCount {
      let fresh = entries.count - Int(entries.fresh)
      return "entry free list holds \(freeEntries) (+ \(fresh) never used), freeCount \(entries.freeCount)"
    }
    if let lost = entryOwner.firstIndex(of: -1) { return "queue entry \(lost) is neither free nor listed" }
    return nil
  }

  fileprivate func checkMessages() -> String? {
    // Headers handed out at least once; a reference to a fresh one is counted as held by
    // nobody (so it fails below).
    var refs = [UInt32](repeating: 0, count: Int(store.fresh))
    var stray = 0
    func count(_ m: UInt32) {
      guard m != messageNone else { return }
      if Int(m) < refs.count { refs[Int(m)] += 1 } else { stray += 1 }
    }
    for e in 0..<Int(entries.fresh) { count(entries.entries[e].message) }
    var r = 0
    while r < retained.count {
      count(retained.at(r))
      r += 1
    }
    for x in 0..<sessionHighWater where sessions[x].state != .free { count(sessions[x].will) }
    for a in 0..<(slotHighWater * limits.topicAliasMax) { count(aliases[a]) }
    for a in 0..<(slotHighWater * limits.topicAliasBrokerMax) { count(outboundAliases[a]) }
    if stray > 0 { return "\(stray) references to message headers never handed out" }
    var stored = 0
    var chunks = 0
    for m in 0..<Int(store.fresh) {
      let h = store.headers[m]
      if h.refs != refs[m] { return "message \(m): \(h.refs) references counted, \(refs[m]) held" }
      if h.refs > 0 {
        stored += 1
        chunks += (h.data.count + BrokerPlan.messageChunkBytes - 1) / BrokerPlan.messageChunkBytes
      }
    }
    if stored != store.count { return "message store count \(store.count), \(stored) messages referenced" }
    if chunks + store.freeChunks != store.pool.count {
      return "message chunks: \(chunks) held + \(store.freeChunks) free != \(store.pool.count)"
    }
    return nil
  }
}
#endif
