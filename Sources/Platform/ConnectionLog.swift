// Connection log lines (log_type notice, subscribe, unsubscribe; `connection_messages`), in
// Mosquitto's wording where Mosquitto has a line, so that existing greps keep working:
//   New connection from 127.0.0.1:40000 on port 1883.
//   New client connected from 127.0.0.1:40000 as c1 (p2, c1, k60, u'alice').
//   Client c1 from 127.0.0.1:40000 (p2) disconnected: keep alive timeout
//   Connection from 127.0.0.1:40000 closed before CONNECT: no CONNECT in time
//   Client c1 from 127.0.0.1:40000 (p5) disconnected: packet too large (1048600 bytes, max_packet_size 1048576)
//   Client c1 from 127.0.0.1:40000 refused (p5): CONNACK 135
//   Client c1 subscribed to a/# (q1)        Client c1 unsubscribed from a/#
// pN is Mosquitto's protocol number (p1 MQTT 3.1, p2 3.1.1, p5 5.0), cN clean start, kN keep
// alive. The core reports the events (BrokerCore/Events.swift); the address is asked of the
// socket when the line is written (getpeername: no allocation, one syscall per line).
import BrokerCore
import CPlatform

extension EventLoop {
  func logAccepted(_ fd: Int32, port: UInt16) {
    guard connectionMessages && Log.wants(.notice) else { return }
    Log.line(.notice) { l in
      l.add("New connection from ")
      EventLoop.addPeer(fd, &l)
      l.add(" on port ")
      l.add(Int(port))
      l.add(".")
    }
  }

  func logClientEvent(_ id: ConnectionID, _ event: ClientEvent) {
    if case .messagesDropped(let clientID, let reason) = event {
      // Mosquitto's wording, with the reason (README "Queue limits").
      Log.line(.notice) { l in
        l.add("Outgoing messages are being dropped for client ")
        l.add(clientID)
        l.add(" (")
        l.add(reason.name)
        l.add(").")
      }
      return
    }
    let s = Int(id.slot)
    guard s < sockets.count else { return }
    let fd = sockets[s].fd
    switch event {
    case .connected(let keepAlive, let cleanStart, let username):
      guard connectionMessages && Log.wants(.notice) else { return }
      Log.line(.notice) { l in
        l.add("New client connected from ")
        EventLoop.addPeer(fd, &l)
        l.add(" as ")
        l.add(broker.clientIdentifier(id))
        l.add(" (p")
        addProtocol(id, &l)
        l.add(cleanStart ? ", c1, k" : ", c0, k")
        l.add(Int(keepAlive))
        if let username {
          l.add(", u'")
          l.add(username)
          l.add("'")
        }
        l.add(").")
      }
    case .refused(let code, let clientID):
      guard connectionMessages && Log.wants(.notice) else { return }
      Log.line(.notice) { l in
        l.add("Client ")
        if clientID.count > 0 {
          l.add(clientID)
          l.add(" ")
        }
        l.add("from ")
        EventLoop.addPeer(fd, &l)
        l.add(" refused (p")
        addProtocol(id, &l)
        l.add("): CONNACK ")
        l.add(Int(code))
      }
    case .closed(let reason, let wasConnected):
      guard connectionMessages && Log.wants(.notice) else { return }
      Log.line(.notice) { l in
        if wasConnected {
          l.add("Client ")
          l.add(broker.clientIdentifier(id))
          l.add(" from ")
          EventLoop.addPeer(fd, &l)
          l.add(" (p")
          addProtocol(id, &l)
          l.add(") disconnected: ")
        } else {
          l.add("Connection from ")
          EventLoop.addPeer(fd, &l)
          l.add(" closed before CONNECT: ")
        }
        l.add(reason.name)
        if reason == .packetTooLarge && broker.tooLargePacketBytes > 0 {
          l.add(" (")
          l.add(broker.tooLargePacketBytes)
          l.add(" bytes, max_packet_size ")
          l.add(broker.limits.packetBytesMax)
          l.add(")")
        }
      }
    case .subscribed(let filter, let qos):
      Log.line(.subscribe) { l in
        l.add("Client ")
        l.add(broker.clientIdentifier(id))
        l.add(" subscribed to ")
        l.add(filter)
        l.add(" (q")
        l.add(Int(qos))
        l.add(")")
      }
    case .unsubscribed(let filter):
      Log.line(.unsubscribe) { l in
        l.add("Client ")
        l.add(broker.clientIdentifier(id))
        l.add(" unsubscribed from ")
        l.add(filter)
      }
    case .messagesDropped:
      break  // logged above
    }
  }

  func addProtocol(_ id: ConnectionID, _ l: inout LogLine) {
    switch broker.protocolLevel(id) {
    case 3: l.add("1")
    case 4: l.add("2")
    default: l.add(Int(broker.protocolLevel(id)))
    }
  }

  static func addPeer(_ fd: Int32, _ l: inout LogLine) {
    var text: [64 of UInt8] = .init(repeating: 0)
    withUnsafeMutableBytes(of: &text) { raw in
      let n = fd >= 0 ? cp_peer_address(fd, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count) : 0
      if n > 0 {
        l.add(UnsafeRawBufferPointer(rebasing: raw[0..<Int(n)]))
      } else {
        l.add("unknown")
      }
    }
  }
}
