// Stored messages. A PUBLISH that has to outlive its receive buffer (queued for a subscriber,
// in flight at QoS 1/2, retained, or a will) is copied once into a chain of small chunks and
// shared by reference: every subscriber's queue entry, the retained index and the sessions'
// wills hold a reference, and the last release returns the chunks. Fan-out never copies a
// payload per subscriber; the only per-subscriber copy is the encoding into its send queue.
//
// Layout of a message's bytes: topic, forwarded MQTT 5 properties (records as received, minus
// the ones the broker rewrites), payload.
import Bounded
import MQTTWire

let messageNone: UInt32 = .max
/// The message being routed, not stored: read in place from the publisher's receive buffer
/// (see `MessageStore.setTransient`).
let messageTransient: UInt32 = .max - 1

struct StoredMessage {
  var data = ChunkQueue()
  var refs: UInt32 = 0
  var nextFree: UInt32 = messageNone
  /// When the message expires on the core's clock (ms); 0 = never.
  var expiresAt: UInt64 = 0
  /// The publishing session (No Local), or sessionNone.
  var publisher: UInt32 = sessionNone
  var propertiesCount: UInt32 = 0
  var topicCount: UInt16 = 0
  var qos: QoS = .atMostOnce
  var retain = false
}

/// Properties the broker never forwards as received: Topic Alias (per connection), Message
/// Expiry Interval (rewritten with the time left), Subscription Identifier (per subscriber),
/// Will Delay Interval (a will property only).
let propertiesRewritten: UInt64 =
  PropertyID.topicAlias.bit | PropertyID.messageExpiryInterval.bit | PropertyID.subscriptionIdentifier.bit
  | PropertyID.willDelayInterval.bit

final class MessageStore {
  let headers: UnsafeMutableBufferPointer<StoredMessage>
  let pool: ChunkPool
  /// Released headers (linked through `nextFree`), reused first.
  var freeHead: UInt32 = messageNone
  /// Headers [fresh, headers.count) were never used: untouched, they read as zero.
  private(set) var fresh: UInt32 = 0
  private(set) var count = 0
  /// The transient message: a QoS 0 PUBLISH that no recipient has to keep (every one gets it
  /// straight into its send queue) is encoded from the receive buffer, not copied in here.
  var transient = StoredMessage()
  var transientTopic = UnsafeRawBufferPointer(start: nil, count: 0)
  var transientProperties: Properties? = nil
  var transientPayload = UnsafeRawBufferPointer(start: nil, count: 0)

  init(headers: UnsafeMutableBufferPointer<StoredMessage>, data: UnsafeMutableRawPointer,
       links: UnsafeMutableBufferPointer<UInt32>, chunkBytes: Int) {
    self.headers = headers
    pool = ChunkPool(data: data, links: links, chunkBytes: chunkBytes)
  }

  var freeChunks: Int { pool.freeCount }

  static func byteCount(topic: Int, properties: Properties?, payload: Int) -> Int {
    topic + (properties?.byteCount(excluding: propertiesRewritten) ?? 0) + payload
  }

  func canStore(_ bytes: Int) -> Bool {
    (freeHead != messageNone || Int(fresh) < headers.count) && pool.freeCount >= pool.chunksFor(bytes)
  }

  /// Stores a message with one reference; nil when the store is full.
  func store(
    topic: UnsafeRawBufferPointer, properties: Properties?, payload: UnsafeRawBufferPointer, qos: QoS,
    retain: Bool, expiresAt: UInt64, publisher: UInt32
  ) -> UInt32? {
    let propertiesCount = properties?.byteCount(excluding: propertiesRewritten) ?? 0
    guard canStore(topic.count + propertiesCount + payload.count) else { return nil }
    let m: UInt32
    if freeHead != messageNone {
      m = freeHead
      freeHead = headers[Int(m)].nextFree
    } else {
      m = fresh
      fresh += 1
    }
    let i = Int(m)
    headers[i] = StoredMessage()
    headers[i].refs = 1
    headers[i].expiresAt = expiresAt
    headers[i].publisher = publisher
    headers[i].propertiesCount = UInt32(propertiesCount)
    headers[i].topicCount = UInt16(topic.count)
    headers[i].qos = qos
    headers[i].retain = retain
    withUnsafeMutablePointer(to: &headers[i].data) { q in
      var sink = OutputSink(pool: pool, queue: q)
      sink.write(topic)
      properties?.write(excluding: propertiesRewritten, into: &sink)
      sink.write(payload)
    }
    count += 1
    return m
  }

  /// Makes `messageTransient` name these bytes until `clearTransient` (while one PUBLISH is
  /// routed; the bytes stay valid that long).
  func setTransient(
    topic: UnsafeRawBufferPointer, properties: Properties?, payload: UnsafeRawBufferPointer, qos: QoS,
    expiresAt: UInt64, publisher: UInt32
  ) -> UInt32 {
    let propertiesCount = properties?.byteCount(excluding: propertiesRewritten) ?? 0
    transient = StoredMessage()
    transient.data.count = topic.count + propertiesCount + payload.count
    transient.expiresAt = expiresAt
    transient.publisher = publisher
    transient.propertiesCount = UInt32(propertiesCount)
    transient.topicCount = UInt16(topic.count)
    transient.qos = qos
    transientTopic = topic
    transientProperties = properties
    transientPayload = payload
    return messageTransient
  }

  func clearTransient() {
    transient = StoredMessage()
    transientTopic = UnsafeRawBufferPointer(start: nil, count: 0)
    transientProperties = nil
    transientPayload = UnsafeRawBufferPointer(start: nil, count: 0)
  }

  func retain(_ m: UInt32) {
    headers[Int(m)].refs += 1
  }

  func release(_ m: UInt32) {
    let i = Int(m)
    precondition(headers[i].refs > 0, "release of a free message")
    headers[i].refs -= 1
    guard headers[i].refs == 0 else { return }
    withUnsafeMutablePointer(to: &headers[i].data) { pool.release(&$0.pointee) }
    headers[i].nextFree = freeHead
    freeHead = m
    count -= 1
  }

  subscript(_ m: UInt32) -> StoredMessage { m == messageTransient ? transient : headers[Int(m)] }

  func payloadCount(_ m: UInt32) -> Int {
    let h = self[m]
    return h.data.count - Int(h.topicCount) - Int(h.propertiesCount)
  }

  func expired(_ m: UInt32, now: UInt64) -> Bool {
    let at = self[m].expiresAt
    return at != 0 && now >= at
  }

  /// Seconds left before expiry, rounded up, for the forwarded Message Expiry Interval.
  func secondsLeft(_ m: UInt32, now: UInt64) -> UInt32? {
    let at = self[m].expiresAt
    guard at != 0 else { return nil }
    return at > now ? UInt32((at - now + 999) / 1000) : 0
  }

  func write<S: ByteSink>(_ m: UInt32, from: Int, count: Int, into s: inout S) {
    pool.forEachPiece(headers[Int(m)].data, from: from, count: count) { s.write($0) }
  }

  func writeTopic<S: ByteSink>(_ m: UInt32, into s: inout S) {
    if m == messageTransient { return s.write(transientTopic) }
    write(m, from: 0, count: Int(headers[Int(m)].topicCount), into: &s)
  }

  func writeProperties<S: ByteSink>(_ m: UInt32, into s: inout S) {
    if m == messageTransient {
      transientProperties?.write(excluding: propertiesRewritten, into: &s)
      return
    }
    let h = headers[Int(m)]
    write(m, from: Int(h.topicCount), count: Int(h.propertiesCount), into: &s)
  }

  func writePayload<S: ByteSink>(_ m: UInt32, into s: inout S) {
    if m == messageTransient { return s.write(transientPayload) }
    let h = headers[Int(m)]
    let start = Int(h.topicCount) + Int(h.propertiesCount)
    write(m, from: start, count: h.data.count - start, into: &s)
  }

  /// The topic as one contiguous buffer: in place when it fits the first chunk, else copied
  /// into `scratch` (which holds any topic: 65535 bytes, or max_packet_size when smaller).
  func topic(_ m: UInt32, scratch: UnsafeMutableRawBufferPointer) -> UnsafeRawBufferPointer {
    if m == messageTransient { return transientTopic }
    let h = headers[Int(m)]
    let n = Int(h.topicCount)
    if n <= pool.chunkBytes - Int(h.data.headStart) && h.data.head != chunkNone {
      return UnsafeRawBufferPointer(start: pool.bytes(h.data.head) + Int(h.data.headStart), count: n)
    }
    var sink = BufferSink(scratch)
    writeTopic(m, into: &sink)
    precondition(!sink.overflowed, "topic scratch smaller than a topic")
    return sink.written
  }

  func topicEquals(_ m: UInt32, _ topic: UnsafeRawBufferPointer) -> Bool {
    let h = headers[Int(m)]
    guard Int(h.topicCount) == topic.count else { return false }
    var offset = 0
    var equal = true
    pool.forEachPiece(h.data, from: 0, count: topic.count) { piece in
      if equal && !piece.bytesEqual(topic.slice(offset, piece.count)) { equal = false }
      offset += piece.count
    }
    return equal
  }
}

/// The retained messages: an index of stored messages, one per topic, bounded in count
/// (`max_retained_messages`) and stored bytes (`max_retained_bytes`). Lookups scan the index.
struct RetainedStore {
  let index: UnsafeMutableBufferPointer<UInt32>
  let bytesMax: Int
  private(set) var count = 0
  private(set) var bytes = 0

  init(index: UnsafeMutableBufferPointer<UInt32>, bytesMax: Int) {
    self.index = index
    self.bytesMax = bytesMax
  }

  func at(_ i: Int) -> UInt32 { index[i] }

  func find(_ topic: UnsafeRawBufferPointer, in store: MessageStore) -> Int? {
    var i = 0
    while i < count {
      if store.topicEquals(index[i], topic) { return i }
      i += 1
    }
    return nil
  }

  /// Whether `m` could replace or join the index.
  func fits(_ topic: UnsafeRawBufferPointer, bytes n: Int, in store: MessageStore) -> Bool {
    if let i = find(topic, in: store) {
      return bytes - store[index[i]].data.count + n <= bytesMax
    }
    return count < index.count && bytes + n <= bytesMax
  }

  /// Retains `m` (taking a reference) in place of the topic's previous message.
  mutating func set(_ topic: UnsafeRawBufferPointer, _ m: UInt32, in store: MessageStore) -> Bool {
    let n = store[m].data.count
    guard fits(topic, bytes: n, in: store) else { return false }
    store.retain(m)
    if let i = find(topic, in: store) {
      bytes -= store[index[i]].data.count
      store.release(index[i])
      index[i] = m
    } else {
      index[count] = m
      count += 1
    }
    bytes += n
    return true
  }

  /// Clears the topic's retained message (an empty retained payload) [MQTT-3.3.1-6].
  mutating func clear(_ topic: UnsafeRawBufferPointer, in store: MessageStore) {
    guard let i = find(topic, in: store) else { return }
    remove(i, in: store)
  }

  mutating func remove(_ i: Int, in store: MessageStore) {
    bytes -= store[index[i]].data.count
    store.release(index[i])
    count -= 1
    index[i] = index[count]
  }
}
