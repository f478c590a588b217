// Read-only walks over a ChunkPool's links, for consistency checks (the broker core's
// `checkInvariants`, used by the tests' simulator after every step). Each walk is bounded by
// the pool's chunk count, so a corrupted (cyclic) chain ends the walk instead of hanging it.

extension ChunkPool {
  /// Calls `body` for each chunk on the free list, head first. False when the list is not
  /// `freeCount` chunks long or holds an index outside the pool (it was then cut short).
  public func forEachFree(_ body: (UInt32) -> Void) -> Bool {
    var c = freeHead
    var n = 0
    while c != chunkNone {
      guard Int(c) < count, n < count else { return false }
      body(c)
      n += 1
      c = next[Int(c)]
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
}
