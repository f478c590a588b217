// Read-only walks over a ChunkPool's links, for consistency checks (the broker core's
// `checkInvariants`, used by the tests' simulator after every step). Each walk is bounded by
// the pool's chunk count, so a corrupted (cyclic) chain ends the walk instead of hanging it.

extension ChunkPool {
  /// Calls `body` for each free chunk: the released ones (the list, head first), then the
  /// fresh ones [fresh, count). False when the list runs past the chunks handed out (`fresh`),
  /// is cyclic, or the free chunks are not `freeCount` (it was then cut short).
  public func forEachFree(_ body: (UInt32) -> Void) -> Bool {
    guard Int(fresh) <= count else { return false }
    var c = freeHead
    var n = 0
    while c != chunkNone {
      guard c < fresh, n < count else { return false }
      body(c)
      n += 1
      c = next[Int(c)]
    }
    var f = Int(fresh)
    while f < count {
      body(UInt32(f))
      n += 1
      f += 1
    }
    return n == freeCount
  }

  /// Calls `body` for each chunk of `q`, head to tail. False when the chain does not reach
  /// `q.tail`, runs past the pool, or its chunk count disagrees with the queue's byte count
  /// (head offset + bytes + unused tail space must be a whole number of chunks).
  public func forEachChunk(of q: ChunkQueue, _ body: (UInt32) -> Void) -> Bool {
    if q.head == chunkNone {
      return q.tail == chunkNone && q.count == 0
    }
    var c = q.head
    var n = 0
    while true {
      guard Int(c) < count, n < count else { return false }
      body(c)
      n += 1
      if c == q.tail { break }
      c = next[Int(c)]
      if c == chunkNone { return false }
    }
    let span = Int(q.headStart) + q.count + (chunkBytes - Int(q.tailEnd))
    return q.count > 0 && span == n * chunkBytes
  }

  /// Whether the links of the chunks never handed out, [fresh, count), are still zero.
  public func freshUntouched() -> Bool {
    var f = Int(fresh)
    while f < count {
      if next[f] != 0 { return false }
      f += 1
    }
    return true
  }
}
