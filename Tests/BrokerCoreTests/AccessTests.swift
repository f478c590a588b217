// Method: the core's access control and identity hook, driven through FakeNetwork. An
// acl_file table (MidgeAuth.AclTable) and a password table are parsed from text kept alive for
// the test and handed to the broker as the platform does; CONNECTs with user names are built
// byte by byte here. Checked: what each client is answered (CONNACK, PUBACK, SUBACK reason
// codes) and what is delivered; `Broker.setIdentity` (the TLS hook) skips the password check
// and is the user name for ACLs, including %u patterns.
import CTLS
import MQTTWire
import MidgeAuth
import Testing

@testable import BrokerCore

/// The password hashes the executable passes in: mbedTLS through CTLS.
let testCrypto = PasswordCrypto(sha512: ctls_sha512_pair, pbkdf2: ctls_pbkdf2_sha512)

/// Text that outlives the test's broker (tables point into it).
private func keep(_ text: String) -> UnsafeRawBufferPointer {
  let bytes = Array(text.utf8)
  let p = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, bytes.count), alignment: 8)
  p.copyBytes(from: bytes)
  return UnsafeRawBufferPointer(rebasing: p[0..<bytes.count])
}

private func aclTable(_ text: String) throws -> AclTable {
  let storage = UnsafeMutableBufferPointer<AclRecord>.allocate(capacity: 64)
  storage.initialize(repeating: AclRecord())
  return try AclTable.parse(keep(text), into: storage)
}

private func passwordTable(_ users: [(String, String)]) throws -> PasswordTable {
  var text: [UInt8] = []
  for (u, pw) in users {
    let salt: [UInt8] = Array("0123456789ab".utf8)
    let line = Array(pw.utf8).withUnsafeBytes { p in
      salt.withUnsafeBytes { s in PasswordTable.entryLine(user: Array(u.utf8), password: p, salt: s, iterations: 3, crypto: testCrypto) }
    }
    text += line + [0x0A]
  }
  let storage = UnsafeMutableBufferPointer<PasswordEntry>.allocate(capacity: 8)
  storage.initialize(repeating: PasswordEntry())
  return try PasswordTable.parse(keep(String(decoding: text, as: UTF8.self)), into: storage, iterationsMax: 10, crypto: testCrypto)
}

/// CONNECT (MQTT 5 or 3.1.1) with an optional user name and password.
private func connect(_ clientID: String, v5: Bool, user: String? = nil, password: String? = nil) -> [UInt8] {
  var flags: UInt8 = 0x02
  if user != nil { flags |= 0x80 }
  if password != nil { flags |= 0x40 }
  var body = P.string("MQTT") + [v5 ? 5 : 4, flags, 0, 0]
  if v5 { body += [0] }
  body += P.string(clientID)
  if let user { body += P.string(user) }
  if let password { body += P.string(password) }
  return P.packet(0x10, body)
}

private let rules = """
  user alice
  topic readwrite alice/#
  topic read news/#
  user carol
  topic readwrite carol/#
  pattern readwrite id/%u/#
  """

@Suite("Access control and identities")
struct AccessTests {
  func network(identities: Bool = false) throws -> FakeNetwork {
    let net = FakeNetwork(limits { $0.usesAclFile = true; $0.usesIdentities = identities; $0.usernameBytesMax = 8 })
    net.broker.acl = try aclTable(rules)
    return net
  }

  func open(
    _ net: FakeNetwork, _ clientID: String, v5: Bool = true, user: String? = nil, password: String? = nil,
    identity: String? = nil, anonymousAllowed: Bool = true
  ) throws -> (ConnectionID, UInt8) {
    let id = try #require(net.connect(anonymousAllowed: anonymousAllowed))
    if let identity {
      #expect(Array(identity.utf8).withUnsafeBytes { net.broker.setIdentity(id, username: $0) })
    }
    net.send(id, connect(clientID, v5: v5, user: user, password: password))
    let connack = try #require(net.out(id, v5: v5).first { $0.type == 2 })
    return (id, connack.reason)
  }

  @Test("PUBLISH: 0x87 for MQTT 5 QoS 1/2; 3.1.1 acknowledged and dropped; read checked per subscriber")
  func publish() throws {
    let net = try network()
    let (reader, r1) = try open(net, "reader", user: "alice")
    #expect(r1 == 0)
    net.sub(reader, "#", qos: 1, v5: true)
    let (v5, r2) = try open(net, "w5", user: "alice")
    #expect(r2 == 0)
    net.send(v5, C.publish("news/x", "no", v5: true, qos: 1, id: 1))
    net.send(v5, C.publish("news/x", "no", v5: true, qos: 2, id: 2))
    let acks = net.out(v5, v5: true)
    #expect(acks.map(\.type) == [4, 5])
    #expect(acks.map(\.reason) == [0x87, 0x87])
    let (v3, r3) = try open(net, "w3", v5: false, user: "alice")
    #expect(r3 == 0)
    net.send(v3, C.publish("news/x", "no", v5: false, qos: 1, id: 3))
    #expect(net.out(v3, v5: false).map(\.bytes) == [[0x40, 0x02, 0x00, 0x03]])
    net.send(v3, C.publish("carol/x", "not-readable", v5: false, qos: 1, id: 4))  // alice may not write
    net.send(v3, C.publish("alice/x", "yes", v5: false, qos: 1, id: 5))
    _ = net.out(v3, v5: false)
    #expect(net.publishes(reader, v5: true).map(\.text) == ["yes"])
    #expect(net.stats.publishesDenied == 4)
    net.finish()
  }

  @Test("SUBSCRIBE: 0x87 (5) / 0x80 (3.1.1) where nothing grants read")
  func subscribe() throws {
    let net = try network()
    let (c5, _) = try open(net, "s5", user: "alice")
    net.send(c5, C.subscribe(1, [("carol/#", 1), ("news/+", 1), ("$share/g/carol/x", 0)], v5: true))
    #expect(net.out(c5, v5: true).first?.codes == [0x87, 1, 0x87])
    let (c3, _) = try open(net, "s3", v5: false, user: "alice")
    net.send(c3, C.subscribe(1, [("carol/#", 1), ("alice/x", 1)], v5: false))
    #expect(net.out(c3, v5: false).first?.codes == [0x80, 1])
    #expect(net.stats.subscriptionsDenied == 3)
    net.finish()
  }

  @Test("an identity skips the password check and is the user name for ACLs and %u")
  func identity() throws {
    let net = try network(identities: true)
    net.broker.passwords = try passwordTable([("bob", "right")])
    // Without an identity: a wrong password is refused (0x86).
    let (_, refused) = try open(net, "x", user: "bob", password: "wrong")
    #expect(refused == 0x86)
    // With identity carol: the CONNECT's bob/wrong is not checked, carol's rules apply.
    let (c, ok) = try open(net, "dev", user: "bob", password: "wrong", identity: "carol", anonymousAllowed: false)
    #expect(ok == 0)
    net.send(c, C.publish("carol/a", "1", v5: true, qos: 1, id: 1))
    net.send(c, C.publish("id/carol/b", "2", v5: true, qos: 1, id: 2))  // pattern with %u = carol
    net.send(c, C.publish("id/bob/b", "3", v5: true, qos: 1, id: 3))
    net.send(c, C.publish("alice/a", "4", v5: true, qos: 1, id: 4))
    #expect(net.out(c, v5: true).map(\.reason) == [0, 0, 0x87, 0x87])
    // An anonymous CONNECT on a listener that refuses anonymous clients is admitted with an identity.
    let (_, anonymous) = try open(net, "anon", identity: "carol", anonymousAllowed: false)
    #expect(anonymous == 0)
    net.finish()
  }

  @Test("setIdentity: refused when not reserved, after CONNECT, or longer than max_username_length")
  func identityRefusals() throws {
    let plain = try network(identities: false)
    let a = try #require(plain.connect())
    #expect(!Array("carol".utf8).withUnsafeBytes { plain.broker.setIdentity(a, username: $0) })
    plain.finish()
    let net = try network(identities: true)
    let b = try #require(net.connect())
    #expect(!Array("ninechars".utf8).withUnsafeBytes { net.broker.setIdentity(b, username: $0) })
    let (c, _) = try open(net, "c", user: "alice")
    #expect(!Array("carol".utf8).withUnsafeBytes { net.broker.setIdentity(c, username: $0) })
    net.finish()
  }

  @Test("with an acl_file a user name longer than max_username_length is refused (5 / 0x87)")
  func longUserName() throws {
    let net = try network()
    let (_, r5) = try open(net, "l5", user: "ninechars")
    #expect(r5 == 0x87)
    let (_, r3) = try open(net, "l3", v5: false, user: "ninechars")
    #expect(r3 == 5)
    net.finish()
  }

  @Test("a will the client may not write is not published; a will it may write is")
  func wills() throws {
    let net = try network()
    let (reader, _) = try open(net, "reader", user: "alice")
    net.sub(reader, "#", qos: 0, v5: true)
    for (client, topic) in [("w1", "news/will"), ("w2", "alice/will")] {
      let id = try #require(net.connect())
      var bytes = C.connect(client, v5: false, will: WillSpec(topic, topic))
      bytes[1] += UInt8(2 + 5)
      bytes[9] |= 0x80  // user name flag; the name goes last
      bytes += P.string("alice")
      net.send(id, bytes)
      #expect(net.out(id, v5: false).first?.reason == 0)
      net.hangUp(id)
    }
    #expect(net.publishes(reader, v5: true).map(\.text) == ["alice/will"])
    #expect(net.stats.willsDenied == 1)
    net.finish()
  }
}
