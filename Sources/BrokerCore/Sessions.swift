// Sessions: the MQTT state that outlives a network connection (§4.1). A connected client's
// session is bound to its connection slot; a persistent session whose client disconnected
// stays here, offline, with its subscriptions, its queue and its in-flight messages, until
// the client returns or the session expires. Sessions are fixed slots (`max_sessions`).
//
// Each session has two lists of queue entries (a shared, fixed pool): `inflight` holds the
// QoS 1/2 messages sent and not yet acknowledged, oldest first; `pending` holds messages
// waiting to be sent, in arrival order. Entries refer to stored messages; they never hold
// payload bytes.
import Bounded
import MQTTWire

let sessionNone: UInt32 = .max
let entryNone: UInt32 = .max
let slotNone: UInt32 = .max

enum SessionState: UInt8 {
  case free = 0
  /// Bound to a connected client.
  case online
  /// Persistent session of a disconnected client.
  case offline
}

struct EntryList {
  var head: UInt32 = entryNone
  var tail: UInt32 = entryNone
  var isEmpty: Bool { head == entryNone }
}

struct Session {
  var state: SessionState = .free
  var version: ProtocolVersion = .v311
  var clientIDCount: UInt16 = 0
  /// The user name it connected with (plan line "session user names"), when kept.
  var hasUsername = false
  var usernameCount: UInt16 = 0
  var nextPacketID: UInt16 = 0
  var inflightCount: UInt16 = 0
  /// Its inbound QoS 2 ids held in the shared spill table (beyond max_inflight_messages).
  var qos2Spilled: UInt16 = 0
  /// Connection slot while online.
  var connection: UInt32 = slotNone
  var subscriptionHead: UInt32 = subscriptionNone
  /// Session Expiry Interval in seconds; UInt32.max never expires, 0 ends at disconnect.
  var expiryInterval: UInt32 = 0
  /// The will message, or messageNone.
  var will: UInt32 = messageNone
  var willDelay: UInt32 = 0
  /// Message Expiry Interval of the will (applies from publication); 0 = none.
  var willExpiry: UInt32 = 0
  var pendingCount: UInt32 = 0
  var inflight = EntryList()
  var pending = EntryList()
  /// The publish sequence this session was last matched in (one delivery per publish).
  var deliveryStamp: UInt32 = 0
  /// Its position in the fan-out scratch for that publish.
  var fanoutIndex: UInt32 = 0
  /// Some in-flight entries are `unsent` (marked when the connection went): `pump` walks the
  /// in-flight list only then, not for every message.
  var resending = false
  /// When messages dropped for it were last logged (seconds on the core's clock, +1; 0 = never):
  /// one log line per session per minute at most.
  var dropLoggedAt: UInt32 = 0
  /// Messages this session missed (DropReason), for its log line and the simulator's oracle.
  var droppedCount: UInt32 = 0
  /// Offline: when the session ends (ms; 0 = never).
  var expiresAt: UInt64 = 0
  /// Offline with a delayed will: when the will is published (ms; 0 = no will pending).
  var willAt: UInt64 = 0
}

enum EntryState: UInt8 {
  case pending = 0
  case awaitingPuback
  case awaitingPubrec
  /// PUBREL sent; the message itself is released.
  case awaitingPubcomp
}

/// One message reference in a session's queue or in-flight window. 16 bytes.
struct QueueEntry {
  var message: UInt32 = messageNone
  var next: UInt32 = entryNone
  var packetID: UInt16 = 0
  var qos: QoS = .atMostOnce
  var state: EntryState = .pending
  var retain = false
  /// In the in-flight window but not (re)sent on the current connection: sent with DUP when
  /// the session resumes [MQTT-4.4.0-1].
  var unsent = false
}

/// A fixed pool of queue entries: the released ones on a free list (reused first), then the
/// fresh ones [fresh, count), never used and never touched (they read as zero).
struct EntryPool {
  let entries: UnsafeMutableBufferPointer<QueueEntry>
  var freeHead: UInt32 = entryNone
  private(set) var fresh: UInt32 = 0
  private(set) var freeCount: Int
  var count: Int { entries.count }

  init(_ entries: UnsafeMutableBufferPointer<QueueEntry>) {
    precondition(UInt64(entries.count) < UInt64(entryNone), "entry pool shape")
    self.entries = entries
    freeCount = entries.count
  }

  mutating func take() -> UInt32? {
    let e: UInt32
    if freeHead != entryNone {
      e = freeHead
      freeHead = entries[Int(e)].next
    } else if Int(fresh) < entries.count {
      e = fresh
      fresh += 1
    } else {
      return nil
    }
    entries[Int(e)] = QueueEntry()
    freeCount -= 1
    return e
  }

  mutating func give(_ e: UInt32) {
    precondition(e < fresh, "queue entry never handed out")
    entries[Int(e)] = QueueEntry(message: messageNone, next: freeHead)
    freeHead = e
    freeCount += 1
  }

  subscript(_ e: UInt32) -> QueueEntry {
    get { entries[Int(e)] }
    nonmutating set { entries[Int(e)] = newValue }
  }

  func append(_ e: UInt32, to list: inout EntryList) {
    entries[Int(e)].next = entryNone
    if list.tail == entryNone { list.head = e } else { entries[Int(list.tail)].next = e }
    list.tail = e
  }

  func popHead(_ list: inout EntryList) -> UInt32? {
    guard list.head != entryNone else { return nil }
    let e = list.head
    list.head = entries[Int(e)].next
    if list.head == entryNone { list.tail = entryNone }
    entries[Int(e)].next = entryNone
    return e
  }

  /// Unlinks `e`, whose predecessor is `prev` (entryNone for the head).
  func unlink(_ e: UInt32, after prev: UInt32, from list: inout EntryList) {
    let after = entries[Int(e)].next
    if prev == entryNone { list.head = after } else { entries[Int(prev)].next = after }
    if list.tail == e { list.tail = prev }
    entries[Int(e)].next = entryNone
  }
}

/// One recipient of a message being routed: the session, the QoS it gets (the highest of its
/// matching subscriptions [MQTT-3.3.4-2]), whether the retain flag is kept, and whether it
/// takes the message (`publish` decides: `drop`). 12 bytes.
struct FanOut {
  var session: UInt32 = sessionNone
  /// The subscription entry (shared subscriptions: the group member chosen).
  var subscription: UInt32 = subscriptionNone
  var qos: QoS = .atMostOnce
  var flags: UInt8 = 0
  /// Why this recipient does not get the message; nil: it does.
  var drop: DropReason? = nil

  init(
    session: UInt32 = sessionNone, subscription: UInt32 = subscriptionNone, qos: QoS = .atMostOnce,
    retainAsPublished: Bool = false, shared: Bool = false
  ) {
    self.session = session
    self.subscription = subscription
    self.qos = qos
    self.retainAsPublished = retainAsPublished
    self.shared = shared
  }

  var retainAsPublished: Bool {
    get { flags & 1 != 0 }
    set { flags = newValue ? flags | 1 : flags & ~1 }
  }
  var shared: Bool {
    get { flags & 2 != 0 }
    set { flags = newValue ? flags | 2 : flags & ~2 }
  }
  /// Shared entries already resolved into a recipient (or skipped).
  var done: Bool {
    get { flags & 4 != 0 }
    set { flags = newValue ? flags | 4 : flags & ~4 }
  }
}
