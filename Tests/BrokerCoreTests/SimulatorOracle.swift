// Method: what the simulator's clients saw, and the judgement over it at the end of a run.
// The log holds facts that clients observed on their own side of the wire (what they sent,
// when an acknowledgement came back, what they received, when the broker closed their
// connection and with which reason), each stamped with a global event number, so that
// "before" and "after" mean the order in which things happened in the simulation. The oracle
// never looks inside the broker: it derives from those facts what the broker had to deliver
// and what it must never deliver, and compares.
//
// Vocabulary:
//  - a message is one PUBLISH as its publisher first sent it (resends with DUP are
//    transmissions of the same message), or a will, which the broker publishes when the
//    connection that carried it closes without DISCONNECT; every payload starts with a tag
//    and the message number, so a received copy names its message (except the empty
//    retained publishes that clear a topic: their copies are anonymous and only checked for
//    a matching subscription);
//  - a subscription record is one (client, filter) from SUBSCRIBE until UNSUBSCRIBE or the end
//    of its session. `activeSince` is the SUBACK (the broker had processed it), `endedAt` the
//    first moment it may have stopped (UNSUBSCRIBE sent, connection of a clean session closed,
//    persistent session lost), `goneAt` the moment it certainly stopped (UNSUBACK, close);
//  - the end is the moment after the network drained and before the final clean-up; a
//    record with no `endedAt` then "survived".
import MQTTWire

/// What the simulator exercises and what the oracle checks. Without any of them the clients
/// speak MQTT 3.1.1 with clean sessions, publish at QoS 0/1/2 (the broker acknowledges
/// inbound QoS 1/2) and expect every delivery at QoS 0.
struct SimFeatures: OptionSet, CustomStringConvertible {
  let rawValue: Int
  /// Deliveries at min(published QoS, granted QoS), with acknowledgements and redelivery.
  static let outboundQoS = SimFeatures(rawValue: 1 << 0)
  /// Clean Session 0 (3.1.1) / Session Expiry (5.0): sessions outlive connections.
  static let persistentSessions = SimFeatures(rawValue: 1 << 1)
  /// Retained messages, and empty retained publishes that clear them.
  static let retained = SimFeatures(rawValue: 1 << 2)
  /// Will messages.
  static let wills = SimFeatures(rawValue: 1 << 3)
  /// MQTT 5.0 clients besides 3.1.1 ones.
  static let mqtt5 = SimFeatures(rawValue: 1 << 4)

  static let all: SimFeatures = [.outboundQoS, .persistentSessions, .retained, .wills, .mqtt5]
  static let names: [(SimFeatures, String)] = [
    (.outboundQoS, "outboundQoS"), (.persistentSessions, "persistentSessions"), (.retained, "retained"),
    (.wills, "wills"), (.mqtt5, "mqtt5"),
  ]

  var description: String {
    let on = SimFeatures.names.filter { contains($0.0) }.map(\.1)
    return on.isEmpty ? "none" : on.joined(separator: ",")
  }

  /// "all", "none", or names separated by commas.
  init?(parsing text: String) {
    if text == "all" {
      self = .all
      return
    }
    self = []
    if text == "none" || text.isEmpty { return }
    for part in text.split(separator: ",") {
      guard let f = SimFeatures.names.first(where: { $0.1 == String(part) }) else { return nil }
      insert(f.0)
    }
  }

  init(rawValue: Int) { self.rawValue = rawValue }
}

/// Topic names and filters come from small fixed pools, so that matches are frequent and the
/// match relation is computed once (by the naive model matcher of RandomizedTests).
enum SimTopics {
  static let topics = ["a", "a/b", "a/c", "b", "a/b/c", "x/y/c", "b/b", "$s/a", "w/1", "w/2"]
  static let filters = ["#", "a/#", "a/+", "a/b", "+/b", "+/+/c", "+", "b", "$s/#", "x/#", "a/b/c", "w/+"]
  /// matches[filter][topic]
  static let matches: [[Bool]] = filters.map { f in topics.map { t in modelMatches(filter: f, topic: t) } }
}

/// One message: a PUBLISH as first sent, or a will.
final class SimMessage {
  let number: Int
  let publisher: Int
  let isWill: Bool
  let topic: Int  // index in SimTopics.topics
  let qos: QoS
  let retain: Bool
  let payload: [UInt8]
  /// First transmission (wills: when the broker closed the connection and published it).
  var sentAt: Int
  /// Connection of the first transmission (wills: the connection that carried the will).
  let connection: Int
  var transmissions = 1
  /// PUBACK / PUBREC with a success code received (wills: published).
  var acknowledgedAt: Int?
  /// PUBACK / PUBREC with an error code (MQTT 5): the broker refused it.
  var refused = false
  /// Earliest moment the client knew that the broker had processed some transmission.
  var processedAt: Int?
  /// The last transmission: when it was sent, when it was known processed, and when its
  /// connection closed (after which it cannot be processed any more).
  var lastSentAt: Int
  var lastProcessedAt: Int?
  var lastConnection: Int
  /// Wills, decided when the connection closed: whether the broker had to publish it (true;
  /// it then counts as acknowledged and processed at the close), may have (nil: taken over,
  /// or closed before the CONNACK arrived) or must not (false: clean DISCONNECT, refused).
  var willDue: Bool? = nil
  /// Wills: the connection closed and willDue is not false.
  var willPublished = false

  init(
    number: Int, publisher: Int, isWill: Bool, topic: Int, qos: QoS, retain: Bool, payload: [UInt8], sentAt: Int,
    connection: Int
  ) {
    self.number = number
    self.publisher = publisher
    self.isWill = isWill
    self.topic = topic
    self.qos = qos
    self.retain = retain
    self.payload = payload
    self.sentAt = sentAt
    self.connection = connection
    self.lastSentAt = sentAt
    self.lastConnection = connection
  }

  var label: String { "\(isWill ? "will" : "message") #\(number) (\(SimTopics.topics[topic]), QoS \(qos.rawValue))" }
}

/// A copy of a message as a client received it.
struct SimReceipt {
  let client: Int
  let connection: Int
  let event: Int
  let number: Int?  // nil for an empty payload
  let topic: Int
  let qos: QoS
  let dup: Bool
  let retain: Bool
}

final class SimSubscription {
  let client: Int
  let filter: Int  // index in SimTopics.filters
  let sentAt: Int
  /// Session it belongs to: a connection serial for clean sessions, a session number otherwise.
  let session: Int
  var activeSince: Int?
  /// Lowest QoS granted while active.
  var granted: QoS = .exactlyOnce
  var endedAt: Int?
  var goneAt: Int?
  /// Ended by a SUBACK failure code (not by UNSUBSCRIBE or the end of its session).
  var refused = false

  init(client: Int, filter: Int, sentAt: Int, session: Int) {
    self.client = client
    self.filter = filter
    self.sentAt = sentAt
    self.session = session
  }

  func end(possibly: Int, certainly: Int) {
    if endedAt == nil { endedAt = possibly }
    if goneAt == nil { goneAt = certainly }
  }
}

final class SimConnection {
  let serial: Int
  let client: Int
  let openedAt: Int
  var connackAt: Int?
  var closedAt: Int?
  var closeReason: CloseReasonName?
  var sentDisconnect = false
  /// CONNACK with a refusal code received.
  var refused = false
  /// Its session outlives it (Clean Session 0 / a Session Expiry), and which session it is.
  var persists = false
  var session = 0
  var will: SimMessage?
  /// Requests answered on this connection: when sent, when the answer arrived (in order).
  var answers: [(sentAt: Int, answeredAt: Int)] = []

  init(serial: Int, client: Int, openedAt: Int) {
    self.serial = serial
    self.client = client
    self.openedAt = openedAt
  }
}

/// The broker's close reason as the oracle stores it (BrokerCore.CloseReason, by name).
typealias CloseReasonName = String

/// Everything observed in one run.
final class SimLog {
  private(set) var event = 0
  var messages: [SimMessage] = []
  var receipts: [SimReceipt] = []
  private(set) var subscriptions: [SimSubscription] = []
  /// The same records, by client.
  private(set) var subscriptionsOf: [Int: [SimSubscription]] = [:]
  var connections: [SimConnection] = []
  /// Set once the network drained, before the final clean-up.
  var endEvent: Int?
  /// Receipts of the fresh subscriber that reads the retained messages at the end.
  var retainedAtEnd: [SimReceipt] = []

  func add(_ r: SimSubscription) {
    subscriptions.append(r)
    subscriptionsOf[r.client, default: []].append(r)
  }

  func tick() -> Int {
    event += 1
    return event
  }

  func newMessage(
    publisher: Int, isWill: Bool, topic: Int, qos: QoS, retain: Bool, bodyBytes: Int, empty: Bool, connection: Int
  ) -> SimMessage {
    let number = messages.count
    let payload = empty ? [] : SimLog.payload(number: number, will: isWill, bodyBytes: bodyBytes)
    let m = SimMessage(
      number: number, publisher: publisher, isWill: isWill, topic: topic, qos: qos, retain: retain, payload: payload,
      sentAt: event, connection: connection)
    messages.append(m)
    return m
  }

  /// Tag ('m' or 'w'), the message number (4 bytes), then bytes derived from the number, so
  /// that a copy names its message and a corrupted copy is noticed.
  static func payload(number: Int, will: Bool, bodyBytes: Int) -> [UInt8] {
    var p: [UInt8] = [will ? 0x77 : 0x6D]
    for shift in [24, 16, 8, 0] { p.append(UInt8(truncatingIfNeeded: number >> shift)) }
    for i in 0..<bodyBytes { p.append(UInt8(truncatingIfNeeded: number &* 31 &+ i &* 7)) }
    return p
  }

  /// The message number a payload names, or nil when it names none.
  static func number(of payload: [UInt8]) -> Int? {
    guard payload.count >= 5, payload[0] == 0x6D || payload[0] == 0x77 else { return nil }
    return Int(payload[1]) << 24 | Int(payload[2]) << 16 | Int(payload[3]) << 8 | Int(payload[4])
  }
}

/// The end-of-run judgement. Returns the first violation found, or nil.
final class SimOracle {
  let log: SimLog
  let features: SimFeatures
  /// Events right after the broker counted a QoS 0 message dropped for a full queue (delivery
  /// of a message routed meanwhile may legitimately be incomplete). Ascending.
  let dropEvents: [Int]
  /// How many (message, client) deliveries were owed, by check (for the trace).
  private(set) var owedAtLeastOnce = 0
  private(set) var owedComplete = 0

  /// Retained messages the broker counted as not kept (full stores).
  let retainedRefused: UInt64

  /// Per client: events right after a drop was counted for its session (ascending).
  let clientDropEvents: [Int: [Int]]

  init(
    log: SimLog, features: SimFeatures, dropEvents: [Int], clientDropEvents: [Int: [Int]] = [:],
    retainedRefused: UInt64 = 0
  ) {
    self.log = log
    self.features = features
    self.dropEvents = dropEvents
    self.clientDropEvents = clientDropEvents
    self.retainedRefused = retainedRefused
  }

  /// Whether the broker dropped a QoS 0 message in (after, upTo].
  func dropped(after: Int, upTo: Int) -> Bool {
    var lo = 0
    var hi = dropEvents.count
    while lo < hi {
      let mid = (lo + hi) / 2
      if dropEvents[mid] <= after { lo = mid + 1 } else { hi = mid }
    }
    return lo < dropEvents.count && dropEvents[lo] <= upTo
  }

  /// Whether the broker counted a drop for this client's session in (after, upTo].
  func dropped(for client: Int, after: Int, upTo: Int) -> Bool {
    (clientDropEvents[client] ?? []).contains { $0 > after && $0 <= upTo }
  }

  func check() -> String? {
    if let p = checkCopies() { return p }
    if let p = checkGuaranteedDelivery() { return p }
    if let p = checkCompleteWhenNothingDropped() { return p }
    if let p = checkOrder() { return p }
    if features.contains(.wills), let p = checkWills() { return p }
    if features.contains(.retained), let p = checkRetainedAtEnd(retainedRefused: retainedRefused) { return p }
    return nil
  }

  var end: Int { log.endEvent ?? Int.max }

  /// Receipts of normal deliveries (not retained replays), per message and client.
  func copies() -> [Int: [Int: [SimReceipt]]] {
    var byMessage: [Int: [Int: [SimReceipt]]] = [:]
    for r in log.receipts where !r.retain {
      guard let n = r.number else { continue }
      byMessage[n, default: [:]][r.client, default: []].append(r)
    }
    return byMessage
  }

  /// How often a client may receive one message: each route of a message gives at most one
  /// first delivery; a copy at QoS 1 or 2 may be repeated while unacknowledged, and a repeat
  /// carries DUP [MQTT-3.3.1-1]. The broker routes a QoS 0 or QoS 2 message once (QoS 2: it remembers the
  /// packet identifier until PUBREL [MQTT-4.3.3-2]) and a QoS 1 message once per transmission.
  /// So: QoS 0 at most once, QoS 2 never more than once (at QoS 2 or 0), QoS 1 at least once.
  func checkCopies() -> String? {
    // Sorted, so that a failing seed reports the same violation in every process.
    for (n, byClient) in copies().sorted(by: { $0.key < $1.key }) {
      let m = log.messages[n]
      let routes = m.qos == .atLeastOnce ? m.transmissions : 1
      for (client, rs) in byClient.sorted(by: { $0.key < $1.key }) {
        // A DUP copy is a retransmission of an unacknowledged one (QoS 1, or QoS 2 before
        // PUBREC after a reconnect [MQTT-4.4.0-1]): the client recognises it by its packet id.
        let first = rs.filter { !($0.qos != .atMostOnce && $0.dup) }
        if first.count > routes {
          let how = rs.map { "QoS \($0.qos.rawValue)\($0.dup ? " DUP" : "")" }.joined(separator: ", ")
          return "\(m.label) reached client \(client) \(rs.count) times (\(how)); its publisher sent it "
            + "\(m.transmissions) time(s), so at most \(routes) copies without DUP [§4.3.1] [§4.3.3]"
        }
        for r in rs where r.event < m.sentAt {
          return "\(m.label) reached client \(client) before it was published"
        }
      }
    }
    return nil
  }

  /// Records of `client` that make delivery of `m` a duty: matching filter, SUBACK before the
  /// message was sent, not ended before the end (the subscription and its session lasted).
  func survivingRecords(_ client: Int, for m: SimMessage) -> [SimSubscription] {
    (log.subscriptionsOf[client] ?? []).filter {
      SimTopics.matches[$0.filter][m.topic] && ($0.activeSince ?? Int.max) < m.sentAt
        && ($0.endedAt ?? Int.max) > end
    }
  }

  var clients: [Int] { Array(Set(log.connections.map(\.client))).filter { $0 >= 0 }.sorted() }

  /// With outbound QoS: an acknowledged QoS 1/2 message (or a published QoS 1/2 will) reaches
  /// every client whose matching subscription, granted at QoS >= 1, was active before the
  /// message was sent and lasted with its session to the end: at least once, and exactly once
  /// when both the message and the subscription are QoS 2. [§4.3.2] [§4.3.3]
  func checkGuaranteedDelivery() -> String? {
    guard features.contains(.outboundQoS) else { return nil }
    let byMessage = copies()
    for m in log.messages where m.qos != .atMostOnce && m.acknowledgedAt != nil && m.sentAt < end && !m.payload.isEmpty
    {
      for client in clients {
        let records = survivingRecords(client, for: m).filter { $0.granted != .atMostOnce }
        guard let best = records.map(\.granted).max() else { continue }
        let got = byMessage[m.number]?[client] ?? []
        // A will has no publisher to hold back: the broker drops a copy for a full queue and
        // counts it (checked: a drop was counted in the step that published it).
        if m.isWill && got.isEmpty && dropped(after: m.sentAt - 1, upTo: m.sentAt + 1_000_000) { continue }
        // Isolation: a client misses an acknowledged message only when a drop was counted for
        // its own session while the message was routed (queue full, fair share of a low pool);
        // never because of another session's limit (README "Queue limits").
        if got.isEmpty && dropped(for: client, after: m.sentAt - 1, upTo: m.processedAt ?? end) { continue }
        owedAtLeastOnce += 1
        if got.isEmpty {
          return "\(m.label) (from client \(m.publisher)), acknowledged to its publisher, never reached client \(client) "
            + "(subscribed to \(records.map { SimTopics.filters[$0.filter] }) at QoS \(best.rawValue) "
            + "before it was sent, "
            + "session lasted to the end)"
        }
        if m.qos == .exactlyOnce && best == .exactlyOnce && got.count != 1 {
          return "\(m.label) reached client \(client) \(got.count) times; QoS 2 to a QoS 2 subscription is exactly once"
        }
      }
    }
    return nil
  }

  /// Delivery at QoS 0 is complete unless the broker counted a drop for a full queue while
  /// the message was routed (between its sending and the answer that proved it processed).
  /// A connection's output is one ordered stream, so: when a message
  /// was processed (its publisher had an answer after sending it) while a subscriber's
  /// connection was up and subscribed to a matching filter (SUBACK before the message was
  /// sent, no UNSUBSCRIBE until after it was known processed), the copy is in that
  /// connection's stream before the answer to any request the subscriber sent after that
  /// moment. So it must have arrived before that answer. (With outbound QoS the broker may hold
  /// QoS 1/2 copies back behind its in-flight window; then only connections that stayed up to
  /// the end are judged, and only copies delivered at QoS 0.)
  func checkCompleteWhenNothingDropped() -> String? {
    let byMessage = copies()
    let held = features.contains(.outboundQoS)
    for m in log.messages where !m.refused && !m.payload.isEmpty {
      guard let processed = m.processedAt, m.sentAt < end, !dropped(after: m.sentAt, upTo: processed) else { continue }
      for c in log.connections where c.client >= 0 && (c.connackAt ?? Int.max) < m.sentAt {
        guard (c.closedAt ?? Int.max) > processed else { continue }
        let records = (log.subscriptionsOf[c.client] ?? []).filter {
          SimTopics.matches[$0.filter][m.topic] && ($0.activeSince ?? Int.max) < m.sentAt
            && ($0.endedAt ?? Int.max) > processed
        }
        guard !records.isEmpty else { continue }
        let deadline: Int
        if held {
          // Copies at QoS 0 only, on a connection and subscription that lasted to the end.
          let qos0 = m.qos == .atMostOnce || records.allSatisfy { $0.granted == .atMostOnce }
          guard qos0, (c.closedAt ?? Int.max) > end, records.contains(where: { ($0.endedAt ?? Int.max) > end }) else {
            continue
          }
          deadline = end
        } else {
          guard let answer = c.answers.first(where: { $0.sentAt > processed }) else { continue }
          deadline = answer.answeredAt
        }
        owedComplete += 1
        let got = (byMessage[m.number]?[c.client] ?? []).contains { $0.connection == c.serial && $0.event < deadline }
        if !got {
          return "\(m.label), processed by the broker, never reached client \(c.client) on connection \(c.serial), "
            + "subscribed to \(records.map { SimTopics.filters[$0.filter] }) since before it was sent; "
            + "a later answer on "
            + "that connection arrived without it (no message was dropped for a full queue meanwhile)"
        }
      }
    }
    return nil
  }

  /// [MQTT-4.6.0-5] [MQTT-4.6.0-6]: on one connection of a subscriber, messages of one
  /// publisher connection to one topic at one QoS arrive in the order they were sent (first
  /// deliveries only: DUP redeliveries and messages the publisher resent are left out).
  func checkOrder() -> String? {
    struct Key: Hashable {
      let subscriberConnection: Int
      let publisherConnection: Int
      let topic: Int
      let qos: UInt8
      let deliveredQoS: UInt8
    }
    var last: [Key: Int] = [:]
    for r in log.receipts where !r.retain && !r.dup {
      guard let n = r.number else { continue }
      let m = log.messages[n]
      guard !m.isWill, m.transmissions == 1 else { continue }
      let key = Key(
        subscriberConnection: r.connection, publisherConnection: m.connection, topic: m.topic, qos: m.qos.rawValue,
        deliveredQoS: r.qos.rawValue)
      if let previous = last[key], previous > n {
        return "client \(r.client) received \(m.label) after message #\(previous) of the same publisher "
          + "connection and topic, which was sent later [MQTT-4.6.0-5]"
      }
      last[key] = n
    }
    return nil
  }

  /// Wills: published when the connection closed without DISCONNECT (reset, silence, broker
  /// closed it), never after a clean DISCONNECT or a refused CONNECT, never before the close.
  /// [MQTT-3.1.2-8] [MQTT-3.1.2-10] [MQTT-3.14.4-3]. The duty to deliver a will that was due
  /// is checked with the messages (a due will counts as acknowledged at the close).
  func checkWills() -> String? {
    let byMessage = copies()
    for m in log.messages where m.isWill {
      for (_, rs) in (byMessage[m.number] ?? [:]).sorted(by: { $0.key < $1.key }) {
        for r in rs {
          if m.willDue == false {
            return "\(m.label) reached client \(r.client) although its connection ended with a clean "
              + "DISCONNECT or was never accepted [MQTT-3.14.4-3]"
          }
          if !m.willPublished || r.event < m.sentAt {
            return "\(m.label) reached client \(r.client) while its connection was still open"
          }
        }
      }
    }
    return nil
  }

  /// Retained messages: the fresh subscriber at the end sees, per topic, the last retained
  /// publish (or none when the last one was empty). "Last" is in the broker's processing
  /// order, which the clients only know within bounds: a publish p is surely overwritten by
  /// q when q was certainly processed and first sent after p's last possible processing.
  /// [MQTT-3.3.1-5] [MQTT-3.3.1-10] [MQTT-3.3.1-11]
  func checkRetainedAtEnd(retainedRefused: UInt64) -> String? {
    var seen: [Int: [SimReceipt]] = [:]
    for r in log.retainedAtEnd { seen[r.topic, default: []].append(r) }
    for t in SimTopics.topics.indices {
      let candidates = log.messages.filter {
        $0.topic == t && $0.retain && !$0.refused && (!$0.isWill || $0.willPublished) && $0.sentAt < end
      }
      func latest(_ p: SimMessage) -> Int {
        if p.isWill { return p.sentAt }
        if let at = p.lastProcessedAt { return at }
        return log.connections[p.lastConnection].closedAt ?? Int.max
      }
      func certain(_ p: SimMessage) -> Bool { p.processedAt != nil }
      let live = candidates.filter { p in
        !candidates.contains { q in q !== p && certain(q) && q.sentAt > latest(p) }
      }
      var allowed = Set(live.map { $0.payload.isEmpty ? -1 : $0.number })
      if !candidates.contains(where: certain) { allowed.insert(-1) }
      // A retained message the broker could not keep (retained store or message store full,
      // counted as retainedRefused) leaves the topic as it was: any candidate, or none.
      if retainedRefused > 0 {
        allowed.insert(-1)
        for p in candidates { allowed.insert(p.payload.isEmpty ? -1 : p.number) }
      }
      let got = seen[t] ?? []
      if got.count > 1 {
        return "the fresh subscriber received \(got.count) retained messages for \(SimTopics.topics[t])"
      }
      let value = got.first.map { $0.number ?? -2 } ?? -1
      if !allowed.contains(value) {
        let names = allowed.sorted().map { $0 == -1 ? "none" : "#\($0)" }
        return "retained message for \(SimTopics.topics[t]) at the end is \(value == -1 ? "none" : "#\(value)"), "
          + "expected one of \(names)"
      }
    }
    return nil
  }
}
