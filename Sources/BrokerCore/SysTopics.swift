// $SYS statistics: every `sys_interval` seconds the core publishes its counters as retained
// messages under $SYS/broker/ (Mosquitto's names where Mosquitto has the counter, midge's own
// under $SYS/broker/midge/ for its limits). Payloads are decimal text, built on the stack.
// Leading wildcards never match $SYS topics [MQTT-4.7.2-1]: subscribe to "$SYS/#".
import Bounded
import MQTTWire

extension Broker {
  func publishSys(now: UInt64) {
    guard limits.sysIntervalSeconds > 0, now >= nextSysMs else { return }
    if startMs == nil { startMs = now }
    nextSysMs = now + UInt64(limits.sysIntervalSeconds) * 1000
    let st = stats
    sys("$SYS/broker/uptime", (now - (startMs ?? now)) / 1000, suffix: " seconds", now: now)
    sys("$SYS/broker/clients/connected", UInt64(st.clientsConnected), now: now)
    sys("$SYS/broker/clients/maximum", UInt64(st.clientsMaximum), now: now)
    sys("$SYS/broker/clients/disconnected", UInt64(st.sessionsOffline), now: now)
    sys("$SYS/broker/clients/total", UInt64(st.clientsConnected + st.sessionsOffline), now: now)
    sys("$SYS/broker/messages/received", st.messagesReceived, now: now)
    sys("$SYS/broker/messages/sent", st.messagesSent, now: now)
    sys("$SYS/broker/messages/stored", UInt64(store.count), now: now)
    sys("$SYS/broker/retained messages/count", UInt64(retained.count), now: now)
    sys("$SYS/broker/subscriptions/count", UInt64(subscriptions.count), now: now)
    sys("$SYS/broker/bytes/received", st.bytesReceived, now: now)
    sys("$SYS/broker/bytes/sent", st.bytesSent, now: now)
    sys("$SYS/broker/midge/connections/refused_full", st.connectionsRefusedFull, now: now)
    sys("$SYS/broker/midge/connections/dropped_full", st.connectionsDroppedFull, now: now)
    sys("$SYS/broker/midge/connections/refused_sessions", st.connectionsRefusedSessions, now: now)
    sys("$SYS/broker/midge/connections/refused_store", st.connectionsRefusedStore, now: now)
    sys("$SYS/broker/midge/subscriptions/refused", st.subscriptionsRefused, now: now)
    sys("$SYS/broker/midge/messages/dropped_queue_full", st.messagesDroppedQueueFull, now: now)
    sys("$SYS/broker/midge/messages/rejected_quota", st.messagesRejectedQuota, now: now)
    sys("$SYS/broker/midge/messages/expired", st.messagesExpired, now: now)
    sys("$SYS/broker/midge/messages/too_large_for_client", st.messagesTooLargeForClient, now: now)
    sys("$SYS/broker/midge/messages/queued", UInt64(st.messagesQueued), now: now)
    sys("$SYS/broker/midge/retained/refused", st.retainedRefused, now: now)
    sys("$SYS/broker/midge/publishers/paused", st.publisherPauses, now: now)
    sys("$SYS/broker/midge/reads/paused", st.readPauses, now: now)
    sys("$SYS/broker/midge/wills/published", st.willsPublished, now: now)
    sys("$SYS/broker/midge/sessions/expired", st.sessionsExpired, now: now)
    sys("$SYS/broker/midge/pools/message_chunks_free", UInt64(store.freeChunks), now: now)
    sys("$SYS/broker/midge/pools/queue_entries_free", UInt64(entries.freeCount), now: now)
    sys("$SYS/broker/midge/pools/send_chunks_free", UInt64(sendPool.freeCount), now: now)
    sys("$SYS/broker/midge/pools/receive_chunks_free", UInt64(receivePool.freeCount), now: now)
  }

  private func sys(_ topic: StaticString, _ value: UInt64, suffix: StaticString = "", now: UInt64) {
    var digits: [32 of UInt8] = .init(repeating: 0)
    withUnsafeMutableBytes(of: &digits) { raw in
      // Decimal digits right-aligned in the first 20 bytes, then the suffix.
      var v = value
      var start = 20
      repeat {
        start -= 1
        raw[start] = 0x30 + UInt8(v % 10)
        v /= 10
      } while v > 0
      var end = 20
      let s = suffix.utf8Start
      var i = 0
      while i < suffix.utf8CodeUnitCount && end < raw.count {
        raw[end] = s[i]
        end += 1
        i += 1
      }
      let payload = UnsafeRawBufferPointer(rebasing: raw[start..<end])
      let name = UnsafeRawBufferPointer(start: topic.utf8Start, count: topic.utf8CodeUnitCount)
      _ = publish(
        topic: name, properties: nil, payload: payload, qos: .atMostOnce, retain: true, expiresAt: 0,
        publisher: sessionNone, rejectable: false, now: now)
    }
  }
}
