// Server-to-client topic aliases (MQTT 5 §3.3.2.3.4). A client that sends Topic Alias Maximum
// N > 0 in CONNECT lets the server replace a topic name by a number 1...N: the first PUBLISH
// carries the name and the alias, later ones an empty name and the alias alone. midge uses up to
// min(N, max_topic_alias_broker) aliases per connection [MQTT-3.2.2-17] [MQTT-3.3.2-8]; the
// mapping belongs to the connection, not the session, and ends with it [MQTT-3.3.2-7].
//
// State: `outboundAliases` holds, per connection slot, max_topic_alias_broker message ids (plan
// line "outbound topic aliases", 4 bytes each); each names a topic-only stored message (one
// message chunk and header) that keeps the alias's topic. Aliases are given to topics of at most
// one message chunk (128 bytes), so that a topic is compared in place without a copy; longer
// topics are sent by name. A new alias takes a chunk from the message store only while the
// store is above its reserved last quarter (Broker.poolReserveDivisor); otherwise the topic is
// sent by name, so aliases never take memory that queued messages need.
//
// Replacement: slots are taken in order 1, 2, ... N, then round robin: the next new topic
// re-binds the oldest alias (the spec allows a PUBLISH with a name and an existing alias to
// replace the mapping, §3.3.2.3.4). Round robin is O(1) and needs no recency bookkeeping on hits.
//
// Cost: a connection without aliases pays one comparison of `outboundAliasMax` per PUBLISH.
// With aliases, a delivery compares the topic's length with each alias's, and the bytes of
// those of equal length.
import Bounded
import MQTTWire

/// What one PUBLISH carries: an alias (0: none), and whether the topic name goes with it.
/// `binding` is the stored topic copy a new alias will name (messageNone: none).
struct AliasChoice {
  var alias: UInt16 = 0
  var sendsTopic = true
  var binding: UInt32 = messageNone
}

extension Broker {
  /// The alias for message `m` on connection `s` (which allows aliases): an existing one, or a
  /// new binding (its topic copy already stored), or none.
  func chooseAlias(_ s: Int, _ m: UInt32) -> AliasChoice {
    let max = Int(connections[s].outboundAliasMax)
    let base = s * limits.topicAliasBrokerMax
    let count = Int(store[m].topicCount)
    // Topics longer than one message chunk are sent by name (see the file header).
    guard count > 0, count <= store.pool.chunkBytes else { return AliasChoice() }
    let topic = store.topic(m, scratch: encodeScratch)
    var k = 0
    while k < max {
      let a = outboundAliases[base + k]
      if a == messageNone { break }  // slots fill in order: the rest are empty
      if Int(store[a].topicCount) == count && store.topicEquals(a, topic) {
        return AliasChoice(alias: UInt16(k + 1), sendsTopic: false)
      }
      k += 1
    }
    // A new binding, only while the store is above its reserved last quarter.
    guard store.freeChunks > store.pool.count / Broker.poolReserveDivisor else { return AliasChoice() }
    guard let copy = store.store(
      topic: topic, properties: nil, payload: UnsafeRawBufferPointer(start: nil, count: 0),
      qos: .atMostOnce, retain: false, expiresAt: 0, publisher: sessionNone)
    else { return AliasChoice() }
    return AliasChoice(alias: connections[s].outboundAliasNext + 1, sendsTopic: true, binding: copy)
  }

  /// The PUBLISH carrying `choice` was queued: a new binding replaces the slot's old one.
  @inline(__always)
  func commitAlias(_ s: Int, _ choice: AliasChoice) {
    guard choice.binding != messageNone else { return }
    let a = s * limits.topicAliasBrokerMax + Int(choice.alias) - 1
    if outboundAliases[a] != messageNone { store.release(outboundAliases[a]) }
    outboundAliases[a] = choice.binding
    let next = connections[s].outboundAliasNext + 1
    connections[s].outboundAliasNext = next == connections[s].outboundAliasMax ? 0 : next
  }

  /// The PUBLISH was not queued: a new binding's topic copy goes back to the store.
  @inline(__always)
  func abandonAlias(_ choice: AliasChoice) {
    if choice.binding != messageNone { store.release(choice.binding) }
  }

  /// At close: every alias of the connection ends [MQTT-3.3.2-7].
  func releaseOutboundAliases(_ s: Int) {
    guard connections[s].outboundAliasMax > 0 else { return }
    var a = s * limits.topicAliasBrokerMax
    while a < (s + 1) * limits.topicAliasBrokerMax {
      if outboundAliases[a] != messageNone { store.release(outboundAliases[a]) }
      outboundAliases[a] = messageNone
      a += 1
    }
    connections[s].outboundAliasMax = 0
    connections[s].outboundAliasNext = 0
  }
}
