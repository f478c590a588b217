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
//    connected slot and is on that slot's list, the free list holds the rest, and
//    stats.subscriptionsActive equals `count`;
//  - QoS 2: only connected slots hold unreleased identifiers, none twice;
//  - timers: an awaiting or keep-alive connection has a deadline.
import Bounded

extension Broker {
  func checkInvariants() -> String? {
    if let problem = checkSlots() { return problem }
    if let problem = checkChunks() { return problem }
    if let problem = checkSubscriptions() { return problem }
    return nil
  }

  private func checkSlots() -> String? {
    var free = 0
    var open = 0
    var connected = 0
    var admitted = 0
    var s = 0
    while s < connections.count {
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
        if c.subscriptionHead != subscriptionNone { return "free slot \(s) holds subscriptions" }
        if !c.flags.subtracting(.ringMembership).isEmpty { return "free slot \(s) has flags \(c.flags.rawValue)" }
      case .awaitingConnect, .connected, .closing:
        open += 1
        if c.state == .connected { connected += 1 }
        if !c.flags.contains(.refusing) { admitted += 1 }
      }
      if c.state != .connected {
        if c.subscriptionHead != subscriptionNone { return "slot \(s) (state \(c.state.rawValue)) holds subscriptions" }
        for v in qos2Slots(s) where v != 0 { return "slot \(s) (state \(c.state.rawValue)) holds QoS 2 id \(v)" }
      } else {
        let ids = qos2Slots(s)
        var i = 0
        while i < ids.count {
          if ids[i] != 0 {
            var j = i + 1
            while j < ids.count {
              if ids[j] == ids[i] { return "slot \(s) remembers QoS 2 id \(ids[i]) twice" }
              j += 1
            }
          }
          i += 1
        }
      }
      if (c.state == .awaitingConnect || (c.state == .connected && c.keepAliveMs > 0)) && c.deadline == 0 {
        return "slot \(s) (state \(c.state.rawValue)) has no deadline"
      }
      let waiting = c.flags.contains(.waitingChunk) || c.flags.contains(.waitingLarge)
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
    if freeSlots.count != free { return "free-slot ring holds \(freeSlots.count), but \(free) slots are free" }
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

  private func checkSubscriptions() -> String? {
    let table = subscriptions
    var owned = 0
    var e = 0
    while e < table.entries.count {
      let entry = table.entries[e]
      if entry.owner != subscriptionNone {
        if e >= table.highWater { return "subscription entry \(e) is owned beyond highWater \(table.highWater)" }
        owned += 1
        let o = Int(entry.owner)
        guard o < connections.count, connections[o].state == .connected else {
          return "subscription entry \(e) is owned by slot \(o), which is not connected"
        }
        if Int(entry.filterCount) > table.filterBytesMax || entry.filterCount == 0 {
          return "subscription entry \(e) has a filter of \(entry.filterCount) bytes"
        }
      }
      e += 1
    }
    if owned != table.count { return "subscription count \(table.count), but \(owned) entries have an owner" }
    if stats.subscriptionsActive != table.count {
      return "stats.subscriptionsActive \(stats.subscriptionsActive), but the table holds \(table.count)"
    }
    // Every owned entry is on its owner's list, exactly once.
    var listed = 0
    var s = 0
    while s < slotHighWater {
      var i = connections[s].subscriptionHead
      var n = 0
      while i != subscriptionNone {
        guard Int(i) < table.entries.count, n < table.entries.count else {
          return "slot \(s): subscription list is corrupt"
        }
        if table.entries[Int(i)].owner != UInt32(s) {
          return "slot \(s): its list holds entry \(i), owned by \(table.entries[Int(i)].owner)"
        }
        n += 1
        i = table.entries[Int(i)].next
      }
      listed += n
      s += 1
    }
    if listed != owned { return "\(listed) subscription entries are listed by slots, \(owned) are owned" }
    // The free list holds every other entry.
    var freeListed = 0
    var i = table.freeHead
    while i != subscriptionNone {
      guard Int(i) < table.entries.count, freeListed < table.entries.count else {
        return "subscription free list is corrupt"
      }
      if table.entries[Int(i)].owner != subscriptionNone { return "subscription entry \(i) is free and owned" }
      freeListed += 1
      i = table.entries[Int(i)].next
    }
    if freeListed + owned != table.entries.count {
      return "subscription free list holds \(freeListed), owned \(owned), of \(table.entries.count) entries"
    }
    return nil
  }
}
