// Method: one well-behaved MQTT client of the simulator. It encodes its packets with
// MQTTWire's `Encode` and parses what the broker writes with `Frame.detect` / `Packet.decode`,
// keeps the client side of its session (packet identifiers, QoS 1/2 messages in flight,
// inbound QoS 2 identifiers awaiting PUBREL) and logs what it observes to the SimLog. It
// checks the broker's answers as it goes (a CONNACK first, acknowledgements only for what is
// in flight, SUBACK codes, copies it may receive at all) and reports the first violation
// through `sim.fail`. On reconnecting to a resumed session it resends its unacknowledged
// PUBLISHes with DUP and its PUBRELs, in order [MQTT-4.4.0-1].
import Bounded
import Testing

@testable import BrokerCore
@testable import MQTTWire

final class SimClient {
  unowned let sim: Simulation
  let index: Int
  let name: String
  let version: ProtocolVersion
  /// Connects with Clean Session 0 (3.1.1) / a Session Expiry (5.0) when sessions persist.
  let persistent: Bool
  /// MQTT 5 Session Expiry Interval of a persistent client, seconds (0xFFFFFFFF: never).
  let sessionExpiry: UInt32
  var keepAlive: UInt16
  /// Reads the retained messages at the end (logs them to `log.retainedAtEnd`).
  var collectsRetained = false

  enum Phase { case offline, connecting, connected }
  private(set) var phase = Phase.offline
  private(set) var socket: SimSocket?
  private(set) var connection: SimConnection?
  /// Stalled: does not read its socket until this step.
  var stalledUntil = 0
  /// Silent: neither reads nor sends (a dead peer) until the broker closes the connection.
  var silent = false
  private(set) var lastSendMs: UInt64 = 0

  private var inbox: [UInt8] = []
  private var sendSeq = 0
  /// When each packet of this connection was sent (event), by send sequence.
  private var sentEvents: [Int: Int] = [:]
  private var connectSentMs: UInt64 = 0
  private var connectClean = true
  private var sessionPersists = false
  private var pendingPings: [Int] = []
  private var pendingSubscribes:
    [UInt16: (seq: Int, sentAt: Int, entries: [(filter: Int, qos: QoS, record: SimSubscription)])] = [:]
  private var pendingUnsubscribes: [UInt16: (seq: Int, records: [SimSubscription])] = [:]
  /// QoS 0 PUBLISHes on this connection not yet known to be processed.
  private var unconfirmed: [(seq: Int, message: SimMessage)] = []
  private var serverReceiveMaximum = 65535
  private var serverMaximumQoS = QoS.exactlyOnce
  private var serverRetainAvailable = true

  // The client side of the session.
  struct Outgoing {
    var id: UInt16
    var message: SimMessage
    /// PUBREC received and PUBREL sent (QoS 2).
    var released = false
    /// Send sequence of the packet awaiting an answer (PUBLISH or PUBREL).
    var seq: Int
  }
  private(set) var outgoing: [Outgoing] = []
  private var incomingQoS2: Set<UInt16> = []
  private var nextID: UInt16 = 1
  /// Subscription records not known to be gone, by filter.
  private(set) var live: [Int: SimSubscription] = [:]
  private var session = 0
  /// What the client knows of its session at the broker: none; a persistent one in use; a
  /// clean one in use (it ends with its connection); a persistent one whose connection
  /// closed between `from` and `to` (ms; MQTT 5 expiry counts from there); or not known
  /// (a CONNECT whose answer never came may or may not have been processed).
  private enum BrokerSession {
    case none, alive, transient
    case closed(from: UInt64, to: UInt64)
    case unknown
  }
  private var brokerSession = BrokerSession.none

  /// Outgoing QoS 1/2 window: below the broker's max_inflight_messages (20), so a well-behaved
  /// client is never disconnected for it.
  static let window = 10
  /// The window of a 3.1.1 client that pipelines beyond the broker's (it cannot learn it): its
  /// further unreleased QoS 2 ids go to the broker's shared spill table.
  static let pipeliningWindow = 40
  /// This client's outgoing QoS 1/2 window.
  let window: Int
  /// Packet identifiers cycle through a small range so that they are reused often.
  static let idRange: UInt16 = 300

  init(
    sim: Simulation, index: Int, version: ProtocolVersion, persistent: Bool, sessionExpiry: UInt32, keepAlive: UInt16,
    pipelines: Bool = false
  ) {
    precondition(!pipelines || version != .v5, "an MQTT 5 client keeps the Receive Maximum")
    self.window = pipelines ? SimClient.pipeliningWindow : SimClient.window
    self.sim = sim
    self.index = index
    self.name = "c\(index)"
    self.version = version
    self.persistent = persistent
    self.sessionExpiry = sessionExpiry
    self.keepAlive = keepAlive
  }

  var log: SimLog { sim.log }
  var features: SimFeatures { sim.features }
  var isStalled: Bool { stalledUntil > sim.step }
  var inFlight: Int { outgoing.count }
  var hasPendingRequests: Bool {
    !pendingPings.isEmpty || !pendingSubscribes.isEmpty || !pendingUnsubscribes.isEmpty || !outgoing.isEmpty
  }

  func fail(_ what: String) { sim.fail("client \(name): \(what)") }

  // MARK: actions

  /// Opens a connection and sends CONNECT. Returns false when the broker has no slot at all.
  /// `endSession`: a clean connection whose session ends with it (MQTT 5: no expiry).
  @discardableResult
  func connect(clean: Bool, will: (topic: Int, qos: QoS, retain: Bool)?, endSession: Bool = false) -> Bool {
    guard phase == .offline else { return false }
    guard let s = sim.net.open(owner: index) else { return false }
    let event = log.tick()
    let c = SimConnection(serial: s.serial, client: index, openedAt: event)
    precondition(log.connections.count == s.serial, "connection serials are log indices")
    log.connections.append(c)
    socket = s
    connection = c
    phase = .connecting
    inbox = []
    sendSeq = 0
    sentEvents = [:]
    connectClean = clean
    sessionPersists =
      !endSession && features.contains(.persistentSessions) && persistent
      && (version == .v5 ? sessionExpiry > 0 : !clean)
    c.persists = sessionPersists
    connectSentMs = sim.net.now
    serverReceiveMaximum = 65535
    serverMaximumQoS = .exactlyOnce
    serverRetainAvailable = true
    if clean {
      // The broker discards the old session when it processes this CONNECT.
      for r in live.values where r.endedAt == nil { r.endedAt = event }
    }
    var willBytes: (topic: [UInt8], payload: [UInt8], qos: QoS, retain: Bool)?
    if let w = will {
      let m = log.newMessage(
        publisher: index, isWill: true, topic: w.topic, qos: w.qos, retain: w.retain, bodyBytes: sim.rng.below(30),
        empty: false, connection: s.serial)
      c.will = m
      willBytes = (Array(SimTopics.topics[w.topic].utf8), m.payload, w.qos, w.retain)
    }
    var properties: [UInt8]?
    if version == .v5 {
      properties = []
      if sessionPersists {
        properties! += [PropertyID.sessionExpiryInterval.rawValue] + bigEndian(sessionExpiry)
      }
    }
    send(
      SimWire.connect(
        version: version, clientID: Array(name.utf8), clean: clean, keepAlive: keepAlive, will: willBytes,
        properties: properties))
    return true
  }

  func publish(topic: Int, qos requested: QoS, retain requestedRetain: Bool, empty: Bool, bodyBytes: Int) {
    guard phase == .connected else { return }
    let qos = min(requested, serverMaximumQoS)
    let retain = requestedRetain && serverRetainAvailable
    if qos != .atMostOnce && outgoing.count >= min(window, serverReceiveMaximum) { return }
    guard let s = socket else { return }
    _ = log.tick()
    let m = log.newMessage(
      publisher: index, isWill: false, topic: topic, qos: qos, retain: retain, bodyBytes: bodyBytes,
      empty: empty && retain, connection: s.serial)
    let id = qos == .atMostOnce ? 0 : allocateID()
    let seq = send(
      SimWire.publish(
        version: version, topic: SimTopics.topics[topic], payload: m.payload, qos: qos,
        retain: retain, dup: false, id: id))
    if qos == .atMostOnce {
      unconfirmed.append((seq, m))
    } else {
      outgoing.append(Outgoing(id: id, message: m, seq: seq))
    }
  }

  func subscribe(_ entries: [(filter: Int, qos: QoS)]) {
    guard phase == .connected, !entries.isEmpty else { return }
    let event = log.tick()
    var pending: [(filter: Int, qos: QoS, record: SimSubscription)] = []
    for e in entries {
      let record: SimSubscription
      if let r = live[e.filter], r.endedAt == nil {
        record = r  // the same filter again replaces the subscription without a gap [MQTT-3.8.4-3]
        // From the moment the broker may process it, a lower QoS may apply.
        if r.activeSince != nil { r.granted = min(r.granted, e.qos) }
      } else {
        record = SimSubscription(client: index, filter: e.filter, sentAt: event, session: session)
        log.add(record)
        live[e.filter] = record
      }
      pending.append((e.filter, e.qos, record))
    }
    let id = allocateID()
    let seq = send(
      SimWire.subscribe(version: version, id: id, entries.map { (SimTopics.filters[$0.filter], $0.qos) }))
    pendingSubscribes[id] = (seq, event, pending)
  }

  func unsubscribe(_ filters: [Int]) {
    guard phase == .connected, !filters.isEmpty else { return }
    let event = log.tick()
    var records: [SimSubscription] = []
    for f in filters {
      if let r = live[f], r.endedAt == nil {
        r.endedAt = event
        records.append(r)
      }
    }
    let id = allocateID()
    let seq = send(SimWire.unsubscribe(version: version, id: id, filters.map { SimTopics.filters[$0] }))
    pendingUnsubscribes[id] = (seq, records)
  }

  func ping() {
    guard phase != .offline, socket != nil else { return }
    let seq = send(SimWire.empty(.pingreq))
    pendingPings.append(seq)
  }

  /// Keep alive: a PINGREQ when nothing was sent for half the keep alive. [MQTT-3.1.2-23]
  func keepAliveTick() {
    guard phase != .offline, keepAlive > 0, !silent, socket != nil else { return }
    if sim.net.now >= lastSendMs + UInt64(keepAlive) * 500 { ping() }
  }

  /// DISCONNECT, then the client closes its socket.
  func disconnect() {
    guard phase != .offline, let s = socket, let c = connection else { return }
    _ = log.tick()
    send(SimWire.disconnect(version: version))
    c.sentDisconnect = true
    sim.net.closeByClient(s)
    closedBeforeConnack()
    lost()
  }

  /// The client closes its socket without DISCONNECT (EOF after what it sent).
  func closeWithoutDisconnect() {
    guard phase != .offline, let s = socket else { return }
    _ = log.tick()
    sim.net.closeByClient(s)
    closedBeforeConnack()
    lost()
  }

  /// The client closes a connection whose CONNACK it has not read: the broker may have
  /// resumed the session with it (and closes it later), or discarded it for a clean start,
  /// so what it has is not known.
  private func closedBeforeConnack() {
    guard phase == .connecting && features.contains(.persistentSessions) else { return }
    brokerSession = .unknown
    let event = log.tick()
    for r in live.values where r.endedAt == nil { r.endedAt = event }  // no longer counted on
  }

  /// The connection is reset: the broker sees an error at once; unread bytes are lost.
  func reset() {
    guard phase != .offline, let s = socket else { return }
    _ = log.tick()
    sim.net.reset(s)
    closedBeforeConnack()
    lost()
  }

  /// The client forgets its connection without closing it (a NAT rebinding, a client that
  /// timed out on its side) and connects again; the broker takes the old one over.
  func abandonAndReconnect(clean: Bool, will: (topic: Int, qos: QoS, retain: Bool)?) {
    guard phase == .connected, let s = socket else { return }
    _ = log.tick()
    sim.net.abandon(s)
    lost()
    connect(clean: clean, will: will)
  }

  // MARK: the connection

  @discardableResult
  private func send(_ bytes: [UInt8]) -> Int {
    sendSeq += 1
    sentEvents[sendSeq] = log.tick()
    lastSendMs = sim.net.now
    if let s = socket { sim.net.send(s, bytes) }
    return sendSeq
  }

  private func allocateID() -> UInt16 {
    var tries = 0
    while true {
      let id = nextID
      nextID = nextID >= SimClient.idRange ? 1 : nextID + 1
      let used =
        outgoing.contains { $0.id == id } || pendingSubscribes[id] != nil || pendingUnsubscribes[id] != nil
      if !used { return id }
      tries += 1
      precondition(tries <= Int(SimClient.idRange), "no free packet identifier")
    }
  }

  /// The client no longer uses its connection (it closed it, or noticed the broker did).
  func lost() {
    phase = .offline
    socket = nil
    inbox = []
    pendingPings = []
    pendingSubscribes = [:]
    pendingUnsubscribes = [:]
    unconfirmed = []
    sentEvents = [:]
    silent = false
    stalledUntil = 0
    if !sessionPersists {
      outgoing = []
      incomingQoS2 = []
    }
  }

  /// The broker closed (released) a connection of this client.
  func brokerClosed(_ c: SimConnection) {
    guard c.serial == connection?.serial, !c.refused else { return }  // abandoned or refused: no change
    let now = sim.net.now
    if c.connackAt != nil {
      brokerSession = sessionPersists ? .closed(from: now, to: now) : .none
      return
    }
    // Closed before the CONNACK arrived: the CONNECT may or may not have been processed, so
    // the session may have been replaced (e.g. it had expired): the subscriptions the client
    // knew of no longer create duties.
    if sessionPersists {
      let event = log.tick()
      for r in live.values where r.endedAt == nil { r.endedAt = event }
    }
    switch brokerSession {
    case .none: brokerSession = sessionPersists ? .unknown : .none
    case .closed(let from, _): brokerSession = sessionPersists ? .closed(from: from, to: now) : .unknown
    case .alive, .transient, .unknown: brokerSession = .unknown
    }
  }

  /// Reads everything the broker wrote (unless stalled or silent) and answers it.
  func readInput() {
    guard let s = socket, !isStalled, !silent else { return }
    if !s.toClient.isEmpty {
      inbox += s.toClient
      s.toClient = []
      parse()
    }
    if socket === s && s.closedReason != nil && s.toClient.isEmpty {
      lost()  // EOF after the last bytes
    }
  }

  private func parse() {
    var consumed = 0
    var packets: [FromBroker] = []
    var problem: String?
    inbox.withUnsafeBytes { raw in
      while consumed < raw.count {
        let window = UnsafeRawBufferPointer(rebasing: raw[consumed...])
        do {
          guard case .complete(let frame) = try Frame.detect(window, maxPacketBytes: 1 << 20, version: version) else {
            break
          }
          let packet = try Packet.decode(frame, window.slice(0, frame.totalLength), version: version)
          packets.append(FromBroker(packet))
          consumed += frame.totalLength
        } catch {
          problem = "the broker sent bytes that do not decode: \(error)"
          break
        }
      }
    }
    inbox.removeFirst(consumed)
    if let problem {
      fail(problem)
      return
    }
    for p in packets {
      guard sim.failure == nil, socket != nil else { return }
      handle(p)
    }
  }

  private func handle(_ p: FromBroker) {
    if phase == .connecting {
      guard case .connack(let present, let code, let props) = p else {
        fail("the first packet from the broker is \(p), not CONNACK [MQTT-3.2.0-1]")
        return
      }
      handleConnack(present: present, code: code, props: props)
      return
    }
    switch p {
    case .connack:
      fail("a second CONNACK")
    case .publish(let topic, let payload, let qos, let retain, let dup, let id):
      handlePublish(topic: topic, payload: payload, qos: qos, retain: retain, dup: dup, id: id)
    case .puback(let id, let reason):
      guard let i = outgoing.firstIndex(where: { $0.id == id && $0.message.qos == .atLeastOnce }) else {
        fail("PUBACK for packet id \(id), which is not a QoS 1 message in flight")
        return
      }
      let o = outgoing.remove(at: i)
      acknowledged(o.message, reason: reason)
      confirm(upTo: o.seq)
    case .pubrec(let id, let reason):
      guard let i = outgoing.firstIndex(where: { $0.id == id && $0.message.qos == .exactlyOnce }) else {
        fail("PUBREC for packet id \(id), which is not a QoS 2 message in flight")
        return
      }
      let seqBefore = outgoing[i].seq
      if !outgoing[i].released {
        acknowledged(outgoing[i].message, reason: reason)
        if let r = reason, r >= 0x80 {
          outgoing.remove(at: i)  // refused: the flow ends (MQTT 5)
          confirm(upTo: seqBefore)
          return
        }
      }
      outgoing[i].released = true
      outgoing[i].seq = send(SimWire.ack(.pubrel, id))  // [MQTT-4.3.3-1]
      confirm(upTo: seqBefore)
    case .pubcomp(let id):
      guard let i = outgoing.firstIndex(where: { $0.id == id && $0.released }) else {
        fail("PUBCOMP for packet id \(id), which awaits no PUBCOMP")
        return
      }
      let o = outgoing.remove(at: i)
      confirm(upTo: o.seq)
    case .pubrel(let id):
      guard features.contains(.outboundQoS) else {
        fail("PUBREL for packet id \(id), but the broker delivers at QoS 0 only")
        return
      }
      incomingQoS2.remove(id)
      send(SimWire.ack(.pubcomp, id))  // [MQTT-4.3.3-1]
    case .suback(let id, let codes):
      handleSuback(id: id, codes: codes)
    case .unsuback(let id):
      guard let pending = pendingUnsubscribes.removeValue(forKey: id) else {
        fail("UNSUBACK for packet id \(id), which is no UNSUBSCRIBE in flight")
        return
      }
      let event = log.tick()
      for r in pending.records {
        r.goneAt = r.goneAt ?? event
        if live[r.filter] === r { live[r.filter] = nil }
      }
      confirm(upTo: pending.seq)
    case .pingresp:
      guard !pendingPings.isEmpty else {
        fail("PINGRESP without PINGREQ")
        return
      }
      confirm(upTo: pendingPings.removeFirst())
    case .disconnect:
      break  // MQTT 5: the broker closes the connection next
    case .other(let what):
      fail("the broker sent \(what), which a server never sends")
    }
  }

  private func handleConnack(present: Bool, code: UInt8, props: ConnackProperties) {
    let event = log.tick()
    guard let c = connection else { return }
    if code != 0 {
      // Only a full broker may refuse a well-behaved client: 3 (3.1.1) / 0x89 (5.0) when the
      // connection or session table is full, 3 / 0x97 when the message store cannot hold its
      // will (README, Limits).
      // (The broker counts the last two; a count that grew since this connection opened
      // allows the refusal.)
      let busy = code == 3 || code == 0x89
      let broker = sim.net.broker
      let counted = broker.stats.connectionsRefusedSessions &+ broker.stats.connectionsRefusedStore
      let refusedForRoom = counted != (socket?.refusalsAtOpen ?? counted)
      let tablesFull = (socket?.openedFull ?? false) || (busy && refusedForRoom)
      let storeFull = c.will != nil && (code == 3 || code == 0x97) && refusedForRoom
      if !(busy && tablesFull) && !storeFull {
        fail("CONNACK refused with code \(code) (\(sim.net.openCount) connections open)")
      }
      if present { fail("CONNACK refusal with session present [MQTT-3.2.2-4]") }
      c.refused = true
      return  // the broker closes the connection
    }
    // Session present: what the broker should have. [MQTT-3.2.2-1] [MQTT-3.2.2-2] [MQTT-3.2.2-3]
    var expected: Bool?
    if connectClean || !features.contains(.persistentSessions) || !persistent {
      expected = false
    } else {
      switch brokerSession {
      case .none: expected = false
      case .alive: expected = true
      case .transient, .unknown: expected = nil
      case .closed(let from, let to):
        if version != .v5 || sessionExpiry == 0xFFFF_FFFF {
          expected = true
        } else {
          // Expiry counts from the close; allow a second either side of the boundary.
          let limit = UInt64(sessionExpiry) * 1000
          let margin: UInt64 = 1000
          if sim.net.now - from + margin < limit {
            expected = true
          } else if connectSentMs > to + limit + margin {
            expected = false
          }
        }
      }
    }
    if let expected, expected != present {
      fail(
        "CONNACK session present \(present), expected \(expected) [MQTT-3.2.2-1..3] "
          + "(knew: \(brokerSession), expiry \(sessionExpiry) s, CONNECT sent at \(connectSentMs) ms, now \(sim.net.now) ms)")
      return
    }
    // The broker closed any other connection of this client identifier whose CONNECT it had
    // accepted before. [MQTT-3.1.4-2]
    for o in log.connections where o.client == index && o !== c && o.connackAt != nil && o.closedAt == nil {
      fail(
        "connection \(c.serial) was accepted while connection \(o.serial) of the same client stays open [MQTT-3.1.4-2]")
      return
    }
    phase = .connected
    c.connackAt = event
    serverReceiveMaximum = Int(props.receiveMaximum ?? 65535)
    serverMaximumQoS = props.maximumQoS.flatMap { QoS(rawValue: $0) } ?? .exactlyOnce
    serverRetainAvailable = props.retainAvailable != 0
    if let ka = props.serverKeepAlive { keepAlive = ka }
    if present {
      // Resume: resend what is unacknowledged, in order, PUBLISH with DUP. [MQTT-4.4.0-1]
      for i in outgoing.indices {
        let o = outgoing[i]
        if o.released {
          outgoing[i].seq = send(SimWire.ack(.pubrel, o.id))
        } else {
          let m = o.message
          m.transmissions += 1
          m.lastSentAt = log.tick()
          m.lastProcessedAt = nil
          m.lastConnection = c.serial
          outgoing[i].seq = send(
            SimWire.publish(
              version: version, topic: SimTopics.topics[m.topic], payload: m.payload, qos: m.qos,
              retain: m.retain, dup: true, id: o.id))
        }
      }
    } else {
      // A new session: the old one (if any) is gone, and so is the client's side of it.
      for r in live.values {
        r.end(possibly: event, certainly: event)
      }
      live = [:]
      outgoing = []
      incomingQoS2 = []
      session = sim.newSession()
    }
    brokerSession = sessionPersists ? .alive : .transient
    c.session = session
  }

  private func handleSuback(id: UInt16, codes: [UInt8]) {
    guard let pending = pendingSubscribes.removeValue(forKey: id) else {
      fail("SUBACK for packet id \(id), which is no SUBSCRIBE in flight")
      return
    }
    guard codes.count == pending.entries.count else {
      fail("SUBACK with \(codes.count) codes for \(pending.entries.count) filters [MQTT-3.9.3-1]")
      return
    }
    let event = log.tick()
    for (e, code) in zip(pending.entries, codes) {
      var r = e.record
      if code >= 0x80 {
        if r.activeSince == nil {
          // Refused (table full): the new subscription never became active.
          r.end(possibly: event, certainly: event)
          r.refused = true
          if live[r.filter] === r { live[r.filter] = nil }
        } else {
          r.endedAt = r.endedAt ?? event  // a refused replacement: no longer counted on
        }
        continue
      }
      guard let granted = QoS(rawValue: code), granted <= e.qos else {
        fail("SUBACK grants \(code) for a request of QoS \(e.qos.rawValue) [MQTT-3.9.3-2]")
        return
      }
      // A broker that delivers at QoS 1/2 grants what is asked, up to its maximum QoS.
      if features.contains(.outboundQoS) && granted < min(e.qos, serverMaximumQoS) {
        fail("SUBACK grants QoS \(granted.rawValue) for a request of QoS \(e.qos.rawValue)")
        return
      }
      if r.goneAt != nil {
        // Its session ended before this (late) SUBACK was read: nothing to record.
        guard r.refused else { continue }
        // An earlier SUBSCRIBE of this filter was refused; this one took effect.
        if let current = live[e.filter], current.goneAt == nil {
          r = current
        } else {
          r = SimSubscription(client: index, filter: e.filter, sentAt: pending.sentAt, session: session)
          log.add(r)
          live[e.filter] = r
        }
      }
      if r.activeSince == nil {
        r.activeSince = event
        r.granted = granted
      } else {
        r.granted = min(r.granted, granted)
      }
    }
    confirm(upTo: pending.seq)
  }

  private func handlePublish(topic: [UInt8], payload: [UInt8], qos: QoS, retain: Bool, dup: Bool, id: UInt16) {
    let event = log.tick()
    let name = String(decoding: topic, as: UTF8.self)
    guard let t = SimTopics.topics.firstIndex(of: name) else {
      fail("PUBLISH to topic \(name), which nobody published to")
      return
    }
    var message: SimMessage?
    if !payload.isEmpty {
      guard let n = SimLog.number(of: payload), n < log.messages.count, log.messages[n].payload == payload else {
        fail("PUBLISH on \(name) with a payload no client sent (\(payload.count) bytes)")
        return
      }
      message = log.messages[n]
      if message!.topic != t {
        fail("\(message!.label) arrived on topic \(name)")
        return
      }
    } else if retain {
      fail("an empty retained message was replayed on \(name) [MQTT-3.3.1-10]")
      return
    }
    if !features.contains(.outboundQoS) && qos != .atMostOnce {
      fail("PUBLISH at QoS \(qos.rawValue), but the broker delivers at QoS 0 only")
      return
    }
    if let m = message, qos > m.qos {
      fail("\(m.label) delivered at QoS \(qos.rawValue), above the published QoS [MQTT-3.8.4-6]")
      return
    }
    if retain && !features.contains(.retained) {
      fail("PUBLISH with RETAIN, but retained messages are off")
      return
    }
    if retain, let m = message, !m.retain {
      fail("\(m.label) replayed as retained, but it was not published with RETAIN")
      return
    }
    // A client only receives what matches one of its subscriptions that may have been active
    // when the message was routed: subscribed before receiving, not gone before it was sent.
    let sentAt = message?.sentAt ?? 0
    let allowed = (log.subscriptionsOf[index] ?? []).contains {
      SimTopics.matches[$0.filter][t] && $0.sentAt < event
        && (retain || ($0.goneAt ?? Int.max) > sentAt)
    }
    if !allowed {
      fail("received \(message?.label ?? "an empty message on \(name)") without a matching subscription")
      return
    }
    var deliver = true
    switch qos {
    case .atMostOnce: break
    case .atLeastOnce: send(SimWire.ack(.puback, id))  // [MQTT-4.3.2-1]
    case .exactlyOnce:
      // A PUBLISH whose id awaits PUBREL is a resend: acknowledged again, not delivered again.
      deliver = incomingQoS2.insert(id).inserted
      send(SimWire.ack(.pubrec, id))
    }
    guard deliver, let c = connection else { return }
    let r = SimReceipt(
      client: index, connection: c.serial, event: event, number: message?.number, topic: t, qos: qos, dup: dup,
      retain: retain)
    if collectsRetained && retain {
      log.retainedAtEnd.append(r)
    } else {
      log.receipts.append(r)
    }
  }

  private func acknowledged(_ m: SimMessage, reason: UInt8?) {
    let event = log.tick()
    if let r = reason, r >= 0x80 {
      if m.acknowledgedAt == nil { m.refused = true }
      return
    }
    m.acknowledgedAt = m.acknowledgedAt ?? event
    m.processedAt = m.processedAt ?? event
    m.lastProcessedAt = event
  }

  /// An answer to the request sent as `seq` arrived: the broker processed everything sent
  /// before it on this connection (it handles a connection's packets in order), and wrote
  /// everything it queued for this connection before the answer.
  private func confirm(upTo seq: Int) {
    let event = log.tick()
    if let sent = sentEvents.removeValue(forKey: seq) { connection?.answers.append((sent, event)) }
    while let first = unconfirmed.first, first.seq < seq {
      // A QoS 0 PUBLISH sent before the request was processed before it.
      first.message.processedAt = first.message.processedAt ?? event
      first.message.lastProcessedAt = event
      unconfirmed.removeFirst()
    }
  }
}

private func bigEndian(_ v: UInt32) -> [UInt8] {
  [
    UInt8(truncatingIfNeeded: v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8),
    UInt8(truncatingIfNeeded: v),
  ]
}

/// MQTT 5 CONNACK properties a client must honour.
struct ConnackProperties {
  var receiveMaximum: UInt16?
  var maximumQoS: UInt8?
  var retainAvailable: UInt8?
  var serverKeepAlive: UInt16?
}

/// A packet from the broker, decoded and copied out of the borrowed buffer.
enum FromBroker: CustomStringConvertible {
  case connack(sessionPresent: Bool, code: UInt8, properties: ConnackProperties)
  case publish(topic: [UInt8], payload: [UInt8], qos: QoS, retain: Bool, dup: Bool, id: UInt16)
  case puback(UInt16, reason: UInt8?)
  case pubrec(UInt16, reason: UInt8?)
  case pubrel(UInt16)
  case pubcomp(UInt16)
  case suback(UInt16, codes: [UInt8])
  case unsuback(UInt16)
  case pingresp
  case disconnect(reason: UInt8?)
  case other(String)

  init(_ p: Packet) {
    switch p {
    case .connack(let a):
      var props = ConnackProperties()
      if let pr = a.properties {
        props.receiveMaximum = pr.uint16(.receiveMaximum)
        props.maximumQoS = pr.byte(.maximumQoS)
        props.retainAvailable = pr.byte(.retainAvailable)
        props.serverKeepAlive = pr.uint16(.serverKeepAlive)
      }
      self = .connack(sessionPresent: a.sessionPresent, code: a.reasonCode, properties: props)
    case .publish(let x):
      self = .publish(
        topic: Array(x.topic), payload: Array(x.payload), qos: x.qos, retain: x.retain, dup: x.duplicate,
        id: x.packetID)
    case .puback(let a): self = .puback(a.packetID, reason: a.reasonCode)
    case .pubrec(let a): self = .pubrec(a.packetID, reason: a.reasonCode)
    case .pubrel(let a): self = .pubrel(a.packetID)
    case .pubcomp(let a): self = .pubcomp(a.packetID)
    case .suback(let a): self = .suback(a.packetID, codes: Array(a.reasonCodes))
    case .unsuback(let a): self = .unsuback(a.packetID)
    case .pingresp: self = .pingresp
    case .disconnect(let d): self = .disconnect(reason: d.reasonCode)
    case .connect: self = .other("CONNECT")
    case .subscribe: self = .other("SUBSCRIBE")
    case .unsubscribe: self = .other("UNSUBSCRIBE")
    case .pingreq: self = .other("PINGREQ")
    case .auth: self = .other("AUTH")
    }
  }

  var description: String {
    switch self {
    case .connack(let p, let c, _): return "CONNACK(present \(p), code \(c))"
    case .publish(let t, let p, let q, _, _, let id):
      return "PUBLISH(\(String(decoding: t, as: UTF8.self)), QoS \(q.rawValue), id \(id), \(p.count) bytes)"
    case .puback(let id, _): return "PUBACK(\(id))"
    case .pubrec(let id, _): return "PUBREC(\(id))"
    case .pubrel(let id): return "PUBREL(\(id))"
    case .pubcomp(let id): return "PUBCOMP(\(id))"
    case .suback(let id, let codes): return "SUBACK(\(id), \(codes))"
    case .unsuback(let id): return "UNSUBACK(\(id))"
    case .pingresp: return "PINGRESP"
    case .disconnect(let r): return "DISCONNECT(\(r.map { "\($0)" } ?? "-"))"
    case .other(let s): return s
    }
  }
}

/// Client packets, encoded with MQTTWire's Encode into owned bytes.
enum SimWire {
  struct Sink: ByteSink {
    var bytes: [UInt8] = []
    mutating func write(_ byte: UInt8) { bytes.append(byte) }
    mutating func write(_ b: UnsafeRawBufferPointer) { bytes.append(contentsOf: b) }
  }

  /// Borrowed views of several byte arrays at once (the codec's structs hold views).
  static func withViews<R>(_ parts: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) -> R) -> R {
    let all: [UInt8] = parts.flatMap { $0 } + [0]  // never empty: the base address is never nil
    return all.withUnsafeBytes { raw in
      var views: [UnsafeRawBufferPointer] = []
      var offset = 0
      for p in parts {
        views.append(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + p.count)]))
        offset += p.count
      }
      return body(views)
    }
  }

  static func connect(
    version: ProtocolVersion, clientID: [UInt8], clean: Bool, keepAlive: UInt16,
    will: (topic: [UInt8], payload: [UInt8], qos: QoS, retain: Bool)?, properties: [UInt8]?
  ) -> [UInt8] {
    withViews([clientID, will?.topic ?? [], will?.payload ?? [], properties ?? []]) { v in
      let v5 = version == .v5
      let props: Properties? = v5 ? Properties(unchecked: v[3]) : nil
      let w = will.map {
        Connect.Will(
          properties: v5 ? Properties.empty : nil, topic: v[1], payload: v[2], qos: $0.qos, retain: $0.retain)
      }
      let c = Connect(
        version: version, cleanSession: clean, keepAliveSeconds: keepAlive, properties: props, clientID: v[0],
        will: w, username: nil, password: nil)
      var s = Sink()
      Encode.connect(c, into: &s)
      return s.bytes
    }
  }

  static func publish(
    version: ProtocolVersion, topic: String, payload: [UInt8], qos: QoS, retain: Bool, dup: Bool, id: UInt16
  ) -> [UInt8] {
    withViews([Array(topic.utf8), payload]) { v in
      var s = Sink()
      Encode.publishHeader(
        topic: v[0], payloadCount: payload.count, qos: qos, retain: retain, duplicate: dup, packetID: id,
        properties: version == .v5 ? Properties.empty : nil, into: &s)
      s.write(v[1])
      return s.bytes
    }
  }

  static func subscribe(version: ProtocolVersion, id: UInt16, _ entries: [(String, QoS)]) -> [UInt8] {
    var raw = Sink()
    for (f, q) in entries {
      withViews([Array(f.utf8)]) { raw.writeBinary($0[0]) }
      raw.write(q.rawValue)
    }
    return withViews([raw.bytes]) { v in
      let sub = Subscribe(
        packetID: id, properties: version == .v5 ? Properties.empty : nil, entries: SubscribeEntries(raw: v[0]))
      var s = Sink()
      Encode.subscribe(sub, into: &s)
      return s.bytes
    }
  }

  static func unsubscribe(version: ProtocolVersion, id: UInt16, _ filters: [String]) -> [UInt8] {
    var raw = Sink()
    for f in filters { withViews([Array(f.utf8)]) { raw.writeBinary($0[0]) } }
    return withViews([raw.bytes]) { v in
      let u = Unsubscribe(
        packetID: id, properties: version == .v5 ? Properties.empty : nil, filters: TopicFilterList(raw: v[0]))
      var s = Sink()
      Encode.unsubscribe(u, into: &s)
      return s.bytes
    }
  }

  static func ack(_ type: PacketType, _ id: UInt16) -> [UInt8] {
    var s = Sink()
    Encode.ack(type, packetID: id, into: &s)
    return s.bytes
  }

  static func empty(_ type: PacketType) -> [UInt8] {
    var s = Sink()
    Encode.empty(type, into: &s)
    return s.bytes
  }

  static func disconnect(version: ProtocolVersion) -> [UInt8] {
    var s = Sink()
    Encode.reasonPacket(.disconnect, reasonCode: nil, properties: Properties?.none, into: &s)
    return s.bytes
  }
}
