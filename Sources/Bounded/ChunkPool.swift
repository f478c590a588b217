// Fixed-size byte chunks shared by all connections, and FIFO byte queues built from them.
// A connection that has nothing to send holds no chunk, so idle connections cost nothing
// here; a busy one holds only what is queued for it.
//
// Memory: count x chunkBytes of data + count x 4 bytes of links (the `next` array).
// Invariant: every chunk is either free or in exactly one queue (or held as a receive buffer
// by exactly one connection); `freeCount` counts the free ones. Free chunks are the released
// ones (a list through `next`, reused first, so that reuse lands on resident memory) and the
// fresh ones, [fresh, count), never handed out: nothing of those is touched, links included,
// so a pool costs no resident memory until it is used (the arena reads as zero).

public let chunkNone: UInt32 = .max

public final class ChunkPool {
  public let chunkBytes: Int
  public let count: Int
  @usableFromInline let data: UnsafeMutableRawPointer
  @usableFromInline let next: UnsafeMutablePointer<UInt32>
  /// The released chunks, most recent first.
  @usableFromInline var freeHead: UInt32 = chunkNone
  /// Chunks [fresh, count) have never been handed out.
  public private(set) var fresh: UInt32 = 0
  public private(set) var freeCount: Int

  /// `data` holds count x chunkBytes bytes, `links` count entries; neither is touched here,
  /// so untouched pages stay unmapped until first use.
  public init(data: UnsafeMutableRawPointer, links: UnsafeMutableBufferPointer<UInt32>, chunkBytes: Int) {
    precondition(chunkBytes > 0 && UInt64(links.count) < UInt64(chunkNone), "chunk pool shape")
    self.chunkBytes = chunkBytes
    self.count = links.count
    self.data = data
    self.next = links.baseAddress ?? UnsafeMutablePointer(bitPattern: 0x10)!
    freeCount = links.count
  }

  public func take() -> UInt32? {
    let c: UInt32
    if freeHead != chunkNone {
      c = freeHead
      freeHead = next[Int(c)]
    } else if Int(fresh) < count {
      c = fresh
      fresh += 1
    } else {
      return nil
    }
    next[Int(c)] = chunkNone
    freeCount -= 1
    return c
  }

  public func give(_ c: UInt32) {
    precondition(c < fresh, "chunk index out of range or never handed out")
    next[Int(c)] = freeHead
    freeHead = c
    freeCount += 1
  }

  @inlinable
  public func bytes(_ c: UInt32) -> UnsafeMutableRawPointer {
    data + Int(c) * chunkBytes
  }

  // MARK: queues

  /// Bytes that can still be appended to `q` without running out of chunks.
  public func room(_ q: ChunkQueue) -> Int {
    (q.tail == chunkNone ? 0 : chunkBytes - Int(q.tailEnd)) + freeCount * chunkBytes
  }

  /// Appends bytes; the caller checked `room` first (a programmer error otherwise).
  public func append(_ q: inout ChunkQueue, _ bytes: UnsafeRawBufferPointer) {
    var src = bytes.baseAddress
    var left = bytes.count
    while left > 0 {
      if q.tail == chunkNone || Int(q.tailEnd) == chunkBytes {
        guard let c = take() else { preconditionFailure("append beyond room") }
        if q.tail == chunkNone {
          q.head = c
          q.headStart = 0
        } else {
          next[Int(q.tail)] = c
        }
        q.tail = c
        q.tailEnd = 0
      }
      let n = min(left, chunkBytes - Int(q.tailEnd))
      (self.bytes(q.tail) + Int(q.tailEnd)).copyMemory(from: src!, byteCount: n)
      q.tailEnd += UInt32(n)
      q.count += n
      left -= n
      src = src! + n
    }
  }

  public func append(_ q: inout ChunkQueue, _ byte: UInt8) {
    withUnsafeBytes(of: byte) { append(&q, $0) }
  }

  /// Fills `slices` with the queued bytes in order; returns how many slices were used.
  public func gather(_ q: ChunkQueue, into slices: UnsafeMutablePointer<IOSlice>, capacity: Int) -> Int {
    var c = q.head
    var used = 0
    var start = Int(q.headStart)
    while c != chunkNone && used < capacity {
      let end = c == q.tail ? Int(q.tailEnd) : chunkBytes
      if end > start {
        slices[used] = IOSlice(base: UnsafeRawPointer(bytes(c) + start), count: end - start)
        used += 1
      }
      start = 0
      c = next[Int(c)]
    }
    return used
  }

  /// Calls `body` with the contiguous pieces of bytes [from, from + count) of `q`, in order
  /// (random access to a stored message without copying it out first).
  public func forEachPiece(_ q: ChunkQueue, from: Int, count: Int, _ body: (UnsafeRawBufferPointer) -> Void) {
    precondition(from >= 0 && count >= 0 && from + count <= q.count, "range outside the queue")
    var c = q.head
    var skip = from + Int(q.headStart)
    var left = count
    while left > 0 {
      let end = c == q.tail ? Int(q.tailEnd) : chunkBytes
      if skip < end {
        let n = min(left, end - skip)
        body(UnsafeRawBufferPointer(start: bytes(c) + skip, count: n))
        left -= n
        skip = 0
      } else {
        skip -= end
      }
      c = next[Int(c)]
    }
  }

  /// Chunks needed to append `bytes` to an empty queue.
  public func chunksFor(_ bytes: Int) -> Int { (bytes + chunkBytes - 1) / chunkBytes }

  /// Drops the first `n` queued bytes and returns emptied chunks to the pool.
  public func consume(_ q: inout ChunkQueue, _ n: Int) {
    precondition(n >= 0 && n <= q.count, "consume more than queued")
    var left = n
    q.count -= n
    while left > 0 {
      let end = q.head == q.tail ? Int(q.tailEnd) : chunkBytes
      let available = end - Int(q.headStart)
      if left < available {
        q.headStart += UInt32(left)
        return
      }
      left -= available
      let done = q.head
      if done == q.tail {
        q = ChunkQueue()
      } else {
        q.head = next[Int(done)]
        q.headStart = 0
      }
      give(done)
    }
    if q.count == 0 && q.head != chunkNone {
      let only = q.head
      precondition(only == q.tail, "empty queue with several chunks")
      q = ChunkQueue()
      give(only)
    }
  }

  /// Returns every chunk of `q` to the pool.
  public func release(_ q: inout ChunkQueue) {
    var c = q.head
    while c != chunkNone {
      let after = c == q.tail ? chunkNone : next[Int(c)]
      give(c)
      c = after
    }
    q = ChunkQueue()
  }
}

/// A FIFO of bytes in chunks of one pool. 20 bytes; empty queues hold no chunk.
public struct ChunkQueue {
  public var head: UInt32 = chunkNone
  public var tail: UInt32 = chunkNone
  public var headStart: UInt32 = 0
  public var tailEnd: UInt32 = 0
  public var count: Int = 0
  public init() {}
}

/// One contiguous piece of output, laid out like `struct iovec` (base pointer, length).
public struct IOSlice {
  public var base: UnsafeRawPointer?
  public var count: Int
  public init(base: UnsafeRawPointer?, count: Int) {
    self.base = base
    self.count = count
  }
}

/// A bounded FIFO of slot indices (waiters, pending effects). Capacity fixed at startup.
public struct IndexRing {
  let storage: UnsafeMutableBufferPointer<UInt32>
  var head = 0
  public private(set) var count = 0

  public init(storage: UnsafeMutableBufferPointer<UInt32>) { self.storage = storage }

  public var isEmpty: Bool { count == 0 }
  public var capacity: Int { storage.count }

  /// Returns false when full (the caller's capacity relation is then wrong or it drops).
  public mutating func push(_ v: UInt32) -> Bool {
    guard count < storage.count else { return false }
    storage[(head + count) % storage.count] = v
    count += 1
    return true
  }

  public mutating func pop() -> UInt32? {
    guard count > 0 else { return nil }
    let v = storage[head]
    head = (head + 1) % storage.count
    count -= 1
    return v
  }

  /// Takes the most recently pushed value instead (the ring used as a stack).
  public mutating func popNewest() -> UInt32? {
    guard count > 0 else { return nil }
    count -= 1
    return storage[(head + count) % storage.count]
  }
}
