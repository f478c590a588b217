// Access control: the acl_file's table (MidgeAuth.AclTable) applied to a session, and the
// identity a transport (TLS) can give a connection before its CONNECT. Nothing here
// allocates: the table points into a region of the plan, the client identifier and user name
// are the session's own bytes, and matching expands %c / %u on the fly.
//
// Where the checks are (README, "Authentication and access control"):
//   PUBLISH   write; denied: MQTT 5 QoS 1/2 PUBACK/PUBREC 0x87; MQTT 3.1.1 and QoS 0 dropped,
//             acknowledged as usual (as Mosquitto does; 3.1.1 has no way to say "refused")
//   SUBSCRIBE read (AclTable.allowsSubscribe); denied: SUBACK 0x87 (5) / 0x80 (3.1.1)
//   delivery  read, per subscriber, when a message is routed (queued for an online or offline
//             session) and for each retained message at subscribe time
//   will      write, when the will is published (rules in force then, as Mosquitto)
// $SYS and other '$' topics match only rules that start with '$' (the matcher's rule), so
// $SYS is readable only where a rule grants it. Messages the broker publishes itself ($SYS)
// are not checked for write.
import MQTTWire
import MidgeAuth

extension Broker {
  /// The session's user name (the identity, or the CONNECT's), nil when it has none.
  func username(_ session: UInt32) -> UnsafeRawBufferPointer? {
    let i = Int(session)
    guard limits.keepsUsernames, sessions[i].hasUsername else { return nil }
    return UnsafeRawBufferPointer(
      start: usernames + i * limits.usernameBytesMax, count: Int(sessions[i].usernameCount))
  }

  /// Keeps the user name a session connected with (checked against max_username_length).
  func setUsername(_ session: UInt32, _ name: UnsafeRawBufferPointer?) {
    let i = Int(session)
    guard limits.keepsUsernames else { return }
    guard let name else {
      sessions[i].hasUsername = false
      sessions[i].usernameCount = 0
      return
    }
    precondition(name.count <= limits.usernameBytesMax, "user name checked at CONNECT")
    if name.count > 0 {
      (usernames + i * limits.usernameBytesMax).copyMemory(from: name.baseAddress!, byteCount: name.count)
    }
    sessions[i].hasUsername = true
    sessions[i].usernameCount = UInt16(name.count)
  }

  /// Whether the session may publish to `topic`. Broker messages (no session) always may.
  func mayWrite(_ session: UInt32, _ topic: UnsafeRawBufferPointer) -> Bool {
    guard let table = acl, session != sessionNone else { return true }
    return table.allows(.write, topic: topic, client: clientID(session), user: username(session))
  }

  /// Whether the session may receive a message published to `topic`.
  func mayRead(_ session: UInt32, _ topic: UnsafeRawBufferPointer) -> Bool {
    guard let table = acl else { return true }
    return table.allows(.read, topic: topic, client: clientID(session), user: username(session))
  }

  /// Whether the session may subscribe to `filter` (a shared subscription's inner filter).
  func maySubscribe(_ session: UInt32, _ filter: UnsafeRawBufferPointer) -> Bool {
    guard let table = acl else { return true }
    return table.allowsSubscribe(filter, client: clientID(session), user: username(session))
  }

  // MARK: identities

  /// Gives a connection an authenticated identity before its CONNECT is processed (a TLS
  /// client certificate's name, a PSK identity): its CONNECT then skips the password check,
  /// and the identity is its user name for ACLs (%u) in place of the CONNECT's. False when
  /// identities are not reserved (`Limits.usesIdentities`), the connection is not waiting for
  /// CONNECT, or the name is longer than max_username_length.
  public func setIdentity(_ id: ConnectionID, username: UnsafeRawBufferPointer) -> Bool {
    guard limits.usesIdentities, let s = live(id), connections[s].state == .awaitingConnect,
      username.count <= limits.usernameBytesMax
    else { return false }
    if username.count > 0 {
      (identities + s * limits.usernameBytesMax).copyMemory(from: username.baseAddress!, byteCount: username.count)
    }
    connections[s].identityCount = UInt16(username.count)
    connections[s].flags.insert(.identified)
    return true
  }

  /// The identity given to a connection, nil when none.
  func identity(_ s: Int) -> UnsafeRawBufferPointer? {
    guard connections[s].flags.contains(.identified) else { return nil }
    return UnsafeRawBufferPointer(
      start: identities + s * limits.usernameBytesMax, count: Int(connections[s].identityCount))
  }
}
