// Client events: what the core reports for the connection log (Mosquitto's "New client
// connected ..." lines, subscribe/unsubscribe lines). The core does no I/O: it calls the
// platform's `Broker.clientEvents` handler synchronously, while the connection's state (client
// identifier, protocol version) can still be read, and the handler decides what to log. The
// handler is set once at startup; a call allocates nothing (the byte views borrow the packet).
import MQTTWire

/// Log levels, Mosquitto's `log_type` names, as the bits of a mask (config and platform share them).
public enum LogLevel: UInt8, CaseIterable, Sendable {
  case error = 1
  case warning = 2
  case notice = 4
  case information = 8
  case subscribe = 16
  case unsubscribe = 32
  case debug = 64

  public static let allMask: UInt8 = 0x7F
  /// Mosquitto's default: error, warning, notice and information.
  public static let defaultMask: UInt8 = 1 | 2 | 4 | 8
}

public enum ClientEvent {
  /// CONNECT accepted (CONNACK 0 queued). `username` is nil when the client sent none.
  case connected(keepAliveSeconds: UInt16, cleanStart: Bool, username: UnsafeRawBufferPointer?)
  /// CONNECT refused with this CONNACK code (3.1.1 return code or MQTT 5 reason code); the
  /// connection closes next (no `.closed` follows). `clientID` is the one the CONNECT gave
  /// (empty when it gave none or could not be decoded).
  case refused(code: UInt8, clientID: UnsafeRawBufferPointer)
  /// The connection closes. `wasConnected`: its CONNECT had been accepted (the client
  /// identifier is still readable during the call); otherwise it closed before CONNECT.
  case closed(CloseReason, wasConnected: Bool)
  /// One SUBSCRIBE entry granted at this QoS, or one UNSUBSCRIBE filter.
  case subscribed(filter: UnsafeRawBufferPointer, qos: UInt8)
  case unsubscribed(filter: UnsafeRawBufferPointer)
  /// Messages for this session are being dropped (README "Queue limits"); reported once a
  /// minute per session at most. The session may be offline: the ConnectionID names no slot.
  case messagesDropped(clientID: UnsafeRawBufferPointer, reason: DropReason)
}

extension Broker {
  /// The client identifier of a connected client (empty before its CONNECT is accepted).
  public func clientIdentifier(_ id: ConnectionID) -> UnsafeRawBufferPointer {
    guard let s = live(id), connections[s].session != sessionNone else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    return clientID(connections[s].session)
  }

  /// The connection in `slot`, unless the slot is free (the platform walks its socket table).
  public func connection(at slot: Int) -> ConnectionID? {
    guard slot < connections.count, connections[slot].state != .free else { return nil }
    return id(slot)
  }

  /// The protocol level of the connection's CONNECT: 3 (MQTT 3.1), 4 (3.1.1) or 5.
  public func protocolLevel(_ id: ConnectionID) -> UInt8 {
    guard let s = live(id) else { return 0 }
    return connections[s].version.rawValue
  }

  func report(_ s: Int, _ event: ClientEvent) {
    clientEvents?(id(s), event)
  }
}
