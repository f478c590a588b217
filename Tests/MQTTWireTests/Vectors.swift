// Here's how it works: this file is the one table of wire vectors that the other tests run.
// Every vector is a complete, hand-written byte string with each field commented, a name, the
// spec rule it exercises (`[MQTT-x.y.z-n]` for normative statements, `§x.y` for sections
// without a numbered rule; MQTT 3.1.1 for the 3.1.1 vectors, MQTT 5.0 for those named "v5 ..."),
// the protocol version of the connection it is decoded on (`version:`, stated by every vector;
// a CONNECT sets its own level), and what the codec must make of it:
//   - `.packet(...)`: the decoded fields, compared after copying them out of the buffer;
//   - `.error(e, .header(failsAfter: n))`: Frame.detect must throw `e` once it has seen the
//     first n bytes, from the fixed header alone, and answer "need more" before that (so these
//     vectors usually end where the header does: the body never has to arrive);
//   - `.error(e, .body)`: Frame.detect finds a complete frame of exactly these bytes and
//     Packet.decode throws `e`.
// MQTT 5 expectations include reason codes and property blocks (`Props`: the raw bytes and the
// list of (identifier, value) pairs they must parse to). The vectors are exercised by
// Verifier.swift (whole, byte by byte, split, concatenated, at an offset, re-encoded), seed
// FuzzishTests.swift and are decoded allocation-free by AllocationTests.swift. `v5KnownGaps`
// holds single-packet rules a review found the codec did not enforce; it does now. The
// tests at the end check the table itself: unique names, a spec tag on every vector, every
// decode error produced somewhere (the MQTT 5 ones by an MQTT 5 vector), every packet type
// decoded in 3.1.1 and in MQTT 5 form.

import Testing

@testable import MQTTWire

struct Vector: Sendable, Identifiable, CustomTestStringConvertible {
  enum Stage: Sendable, Equatable {
    /// Frame.detect throws once it has seen this many bytes (and not before).
    case header(failsAfter: Int)
    /// Frame.detect succeeds on the whole vector; Packet.decode throws.
    case body
  }
  enum Expected: Sendable {
    case packet(Decoded)
    case error(DecodeError, Stage)
  }

  /// No limit beyond the largest frame a four-byte remaining length can describe.
  static let noLimit = 1 + 4 + VariableByteInteger.max

  let name: String
  let spec: String
  let bytes: [UInt8]
  let expected: Expected
  let maxPacketBytes: Int
  let version: ProtocolVersion

  init(
    _ name: String, _ spec: String, _ bytes: [UInt8], _ expected: Expected,
    max: Int = Vector.noLimit, version: ProtocolVersion
  ) {
    self.name = name
    self.spec = spec
    self.bytes = bytes
    self.expected = expected
    self.maxPacketBytes = max
    self.version = version
  }

  var id: String { name }
  var testDescription: String { "\(spec) \(name) [\(version)]" }
  var isValid: Bool { if case .packet = expected { true } else { false } }
}

/// A deterministic, non-UTF-8-clean payload pattern for the long vectors.
func filler(_ n: Int) -> [UInt8] {
  [UInt8](unsafeUninitializedCapacity: n) { buf, count in
    for i in 0..<n { buf[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
    count = n
  }
}

private func bad(_ e: DecodeError, after n: Int) -> Vector.Expected {
  .error(e, .header(failsAfter: n))
}
private func bad(_ e: DecodeError) -> Vector.Expected { .error(e, .body) }
private func ok(_ d: Decoded) -> Vector.Expected { .packet(d) }

enum Vectors {
  static let all: [Vector] = valid + malformed

  // MARK: - Valid

  static let valid: [Vector] = connect + others + boundaries + v5Valid

  static let connect: [Vector] = [
    Vector(
      "CONNECT 3.1.1, clean session, client id \"c1\"", "[MQTT-3.1.3-3]",
      [
        0x10,  // CONNECT, flags 0
        0x0E,  // remaining length 14
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4 (3.1.1)
        0x02,  // connect flags: clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x02,  // client id length 2
        0x63, 0x31,  // "c1"
      ],
      ok(.connect(.init(level: 4, clean: true, keepAlive: 60, clientID: "c1"))), version: .v311),
    Vector(
      "CONNECT with empty client id", "[MQTT-3.1.3-6]",
      [
        0x10,  // CONNECT
        0x0C,  // remaining length 12
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x02,  // connect flags: clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x00,  // client id length 0
      ],
      ok(.connect(.init(level: 4, clean: true, keepAlive: 60, clientID: ""))), version: .v311),
    Vector(
      "CONNECT persistent session, keep alive 0", "§3.1.2.4 §3.1.2.10",
      [
        0x10,  // CONNECT
        0x11,  // remaining length 17
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x00,  // connect flags: none (clean session 0)
        0x00, 0x00,  // keep alive 0 (off)
        0x00, 0x05,  // client id length 5
        0x73, 0x75, 0x62, 0x2D, 0x31,  // "sub-1"
      ],
      ok(.connect(.init(level: 4, clean: false, keepAlive: 0, clientID: "sub-1"))), version: .v311),
    Vector(
      "CONNECT with retained QoS 1 will", "[MQTT-3.1.2-9]",
      [
        0x10,  // CONNECT
        0x17,  // remaining length 23
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x2E,  // connect flags: will retain 0x20 | will QoS 1 0x08 | will 0x04 | clean 0x02
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
        0x00, 0x03,  // will topic length 3
        0x77, 0x2F, 0x74,  // "w/t"
        0x00, 0x03,  // will message length 3
        0x62, 0x79, 0x65,  // "bye"
      ],
      ok(
        .connect(
          .init(
            level: 4, clean: true, keepAlive: 60, clientID: "c",
            will: .init(topic: "w/t", payload: "bye", qos: 1, retain: true)))), version: .v311),
    Vector(
      "CONNECT with QoS 2 will and empty will message", "[MQTT-3.1.2-14]",
      [
        0x10,  // CONNECT
        0x12,  // remaining length 18
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x16,  // connect flags: will QoS 2 0x10 | will 0x04 | clean 0x02
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
        0x00, 0x01,  // will topic length 1
        0x61,  // "a"
        0x00, 0x00,  // will message length 0
      ],
      ok(
        .connect(
          .init(
            level: 4, clean: true, keepAlive: 60, clientID: "c",
            will: .init(topic: "a", payload: "", qos: 2, retain: false)))), version: .v311),
    Vector(
      "CONNECT with user name only", "[MQTT-3.1.2-19]",
      [
        0x10,  // CONNECT
        0x10,  // remaining length 16
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x82,  // connect flags: user name 0x80 | clean 0x02
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
        0x00, 0x01,  // user name length 1
        0x75,  // "u"
      ],
      ok(.connect(.init(level: 4, clean: true, keepAlive: 60, clientID: "c", username: "u"))),
      version: .v311),
    Vector(
      "CONNECT with user name and binary password", "[MQTT-3.1.2-21]",
      [
        0x10,  // CONNECT
        0x18,  // remaining length 24
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0xC2,  // connect flags: user name 0x80 | password 0x40 | clean 0x02
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
        0x00, 0x04,  // user name length 4
        0x75, 0x73, 0x65, 0x72,  // "user"
        0x00, 0x03,  // password length 3
        0x00, 0xFF, 0x80,  // password: binary data, not UTF-8 (§3.1.3.5)
      ],
      ok(
        .connect(
          .init(
            level: 4, clean: true, keepAlive: 60, clientID: "c", username: "user",
            password: Blob([0x00, 0xFF, 0x80])))), version: .v311),
    Vector(
      "CONNECT with will, user name and password in payload order", "[MQTT-3.1.3-1]",
      [
        0x10,  // CONNECT
        0x1E,  // remaining length 30
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0xD4,  // connect flags: user name 0x80 | password 0x40 | will QoS 2 0x10 | will 0x04
        0x01, 0x2C,  // keep alive 300 s
        0x00, 0x02,  // client id length 2
        0x69, 0x64,  // "id"
        0x00, 0x04,  // will topic length 4
        0x73, 0x74, 0x2F, 0x78,  // "st/x"
        0x00, 0x02,  // will message length 2
        0x00, 0x01,  // will message: binary
        0x00, 0x01,  // user name length 1
        0x75,  // "u"
        0x00, 0x01,  // password length 1
        0x70,  // "p"
      ],
      ok(
        .connect(
          .init(
            level: 4, clean: false, keepAlive: 300, clientID: "id",
            will: .init(topic: "st/x", payload: Blob([0x00, 0x01]), qos: 2, retain: false),
            username: "u", password: "p"))), version: .v311),
    Vector(
      "CONNECT MQTT 3.1 (MQIsdp, level 3)", "§3.1.2.1 (MQTT 3.1)",
      [
        0x10,  // CONNECT
        0x11,  // remaining length 17
        0x00, 0x06,  // protocol name length 6
        0x4D, 0x51, 0x49, 0x73, 0x64, 0x70,  // "MQIsdp"
        0x03,  // protocol level 3 (3.1)
        0x02,  // connect flags: clean session
        0x00, 0x0A,  // keep alive 10 s
        0x00, 0x03,  // client id length 3
        0x76, 0x33, 0x31,  // "v31"
      ],
      ok(.connect(.init(level: 3, clean: true, keepAlive: 10, clientID: "v31"))), version: .v311),
    Vector(
      "CONNECT MQTT 3.1 with user name and password", "§3.1.2.1 (MQTT 3.1)",
      [
        0x10,  // CONNECT
        0x15,  // remaining length 21
        0x00, 0x06,  // protocol name length 6
        0x4D, 0x51, 0x49, 0x73, 0x64, 0x70,  // "MQIsdp"
        0x03,  // protocol level 3
        0xC2,  // connect flags: user name | password | clean session
        0x00, 0x0A,  // keep alive 10 s
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
        0x00, 0x01,  // user name length 1
        0x75,  // "u"
        0x00, 0x01,  // password length 1
        0x70,  // "p"
      ],
      ok(
        .connect(
          .init(level: 3, clean: true, keepAlive: 10, clientID: "c", username: "u", password: "p"))),
      version: .v311
    ),
    Vector(
      "CONNECT multi-byte UTF-8 client id with U+FEFF, max keep alive", "[MQTT-1.5.3-3]",
      [
        0x10,  // CONNECT
        0x18,  // remaining length 24
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x02,  // connect flags: clean session
        0xFF, 0xFF,  // keep alive 65535 s
        0x00, 0x0C,  // client id length 12
        0xEF, 0xBB, 0xBF,  // U+FEFF zero width no-break space (kept, not stripped)
        0xC3, 0xA9,  // U+00E9 "é"
        0xE2, 0x82, 0xAC,  // U+20AC "€"
        0xF0, 0x9F, 0x98, 0x80,  // U+1F600
      ],
      ok(
        .connect(
          .init(
            level: 4, clean: true, keepAlive: 0xFFFF,
            clientID: Blob([0xEF, 0xBB, 0xBF, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80])
          ))), version: .v311),
  ]

  static let others: [Vector] = [
    // CONNACK
    Vector(
      "CONNACK accepted", "§3.2",
      [
        0x20,  // CONNACK
        0x02,  // remaining length 2
        0x00,  // acknowledge flags: session present 0
        0x00,  // return code 0: accepted
      ],
      ok(.connack(sessionPresent: false, returnCode: 0)), version: .v311),
    Vector(
      "CONNACK session present", "[MQTT-3.2.2-2]",
      [
        0x20,  // CONNACK
        0x02,  // remaining length 2
        0x01,  // acknowledge flags: session present 1
        0x00,  // return code 0: accepted
      ],
      ok(.connack(sessionPresent: true, returnCode: 0)), version: .v311),
    Vector(
      "CONNACK refused, not authorized", "§3.2.2.3",
      [
        0x20,  // CONNACK
        0x02,  // remaining length 2
        0x00,  // acknowledge flags: session present 0
        0x05,  // return code 5: not authorized
      ],
      ok(.connack(sessionPresent: false, returnCode: 5)), version: .v311),

    // PUBLISH
    Vector(
      "PUBLISH QoS 0", "[MQTT-3.3.2-1]",
      [
        0x30,  // PUBLISH, QoS 0
        0x07,  // remaining length 7
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x68, 0x69,  // payload "hi"
      ],
      ok(.publish(.init(topic: "a/b", payload: "hi", qos: 0))), version: .v311),
    Vector(
      "PUBLISH QoS 0 retained", "[MQTT-3.3.1-5]",
      [
        0x31,  // PUBLISH, QoS 0, retain
        0x07,  // remaining length 7
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x68, 0x69,  // payload "hi"
      ],
      ok(.publish(.init(topic: "a/b", payload: "hi", qos: 0, retain: true))), version: .v311),
    Vector(
      "PUBLISH QoS 0 with empty payload", "§3.3.3",
      [
        0x30,  // PUBLISH, QoS 0
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
      ],
      ok(.publish(.init(topic: "a/b", payload: "", qos: 0))), version: .v311),
    Vector(
      "PUBLISH QoS 1", "[MQTT-2.3.1-1]",
      [
        0x32,  // PUBLISH, QoS 1
        0x09,  // remaining length 9
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x00, 0x01,  // packet id 1
        0x68, 0x69,  // payload "hi"
      ],
      ok(.publish(.init(topic: "a/b", payload: "hi", qos: 1, id: 1))), version: .v311),
    Vector(
      "PUBLISH QoS 1 DUP (redelivery)", "[MQTT-3.3.1-1]",
      [
        0x3A,  // PUBLISH, DUP, QoS 1
        0x09,  // remaining length 9
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x12, 0x34,  // packet id 0x1234
        0x68, 0x69,  // payload "hi"
      ],
      ok(.publish(.init(topic: "a/b", payload: "hi", qos: 1, dup: true, id: 0x1234))),
      version: .v311),
    Vector(
      "PUBLISH QoS 2", "[MQTT-2.3.1-1]",
      [
        0x34,  // PUBLISH, QoS 2
        0x09,  // remaining length 9
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0xFF, 0xFF,  // packet id 65535
        0x68, 0x69,  // payload "hi"
      ],
      ok(.publish(.init(topic: "a/b", payload: "hi", qos: 2, id: 0xFFFF))), version: .v311),
    Vector(
      "PUBLISH QoS 2 DUP retained", "§3.3.1",
      [
        0x3D,  // PUBLISH, DUP, QoS 2, retain
        0x08,  // remaining length 8
        0x00, 0x01,  // topic length 1
        0x78,  // "x"
        0x00, 0x02,  // packet id 2
        0x01, 0x02, 0x03,  // payload
      ],
      ok(
        .publish(
          .init(topic: "x", payload: Blob([1, 2, 3]), qos: 2, retain: true, dup: true, id: 2))),
      version: .v311),
    Vector(
      "PUBLISH topic \"/\" with non-UTF-8 binary payload", "§3.3.3",
      [
        0x30,  // PUBLISH, QoS 0
        0x0A,  // remaining length 10
        0x00, 0x01,  // topic length 1
        0x2F,  // "/"
        0x00, 0xFF, 0xC0, 0x80, 0xED, 0xA0, 0x80,  // payload: NUL, bad UTF-8: never checked
      ],
      ok(
        .publish(
          .init(topic: "/", payload: Blob([0x00, 0xFF, 0xC0, 0x80, 0xED, 0xA0, 0x80]), qos: 0))),
      version: .v311),
    Vector(
      "PUBLISH multi-byte UTF-8 topic name", "[MQTT-3.3.2-1]",
      [
        0x30,  // PUBLISH, QoS 0
        0x0A,  // remaining length 10
        0x00, 0x08,  // topic length 8
        0x74, 0x2F,  // "t/"
        0xC3, 0xA9,  // "é"
        0x2F,  // "/"
        0xE2, 0x82, 0xAC,  // "€"
      ],
      ok(
        .publish(
          .init(topic: Blob([0x74, 0x2F, 0xC3, 0xA9, 0x2F, 0xE2, 0x82, 0xAC]), payload: "", qos: 0))
      ), version: .v311),
    Vector(
      "PUBLISH $SYS topic name", "§4.7.2",
      [
        0x30,  // PUBLISH, QoS 0
        0x08,  // remaining length 8
        0x00, 0x06,  // topic length 6
        0x24, 0x53, 0x59, 0x53, 0x2F, 0x78,  // "$SYS/x"
      ],
      ok(.publish(.init(topic: "$SYS/x", payload: "", qos: 0))), version: .v311),
    Vector(
      "PUBLISH exactly at maxPacketBytes", "§2.2.3",
      [
        0x30,  // PUBLISH, QoS 0
        0x07,  // remaining length 7 (total 9 = maxPacketBytes)
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x68, 0x69,  // payload "hi"
      ],
      ok(.publish(.init(topic: "a/b", payload: "hi", qos: 0))), max: 9, version: .v311),

    // PUBACK, PUBREC, PUBREL, PUBCOMP
    Vector(
      "PUBACK", "§3.4",
      [
        0x40,  // PUBACK
        0x02,  // remaining length 2
        0x00, 0x01,  // packet id 1
      ],
      ok(.puback(1)), version: .v311),
    Vector(
      "PUBREC", "§3.5",
      [
        0x50,  // PUBREC
        0x02,  // remaining length 2
        0x12, 0x34,  // packet id 0x1234
      ],
      ok(.pubrec(0x1234)), version: .v311),
    Vector(
      "PUBREL", "[MQTT-3.6.1-1]",
      [
        0x62,  // PUBREL, flags 0010
        0x02,  // remaining length 2
        0xFF, 0xFF,  // packet id 65535
      ],
      ok(.pubrel(0xFFFF)), version: .v311),
    Vector(
      "PUBCOMP", "§3.7",
      [
        0x70,  // PUBCOMP
        0x02,  // remaining length 2
        0x00, 0x07,  // packet id 7
      ],
      ok(.pubcomp(7)), version: .v311),

    // SUBSCRIBE, SUBACK
    Vector(
      "SUBSCRIBE with five filters", "[MQTT-3.8.1-1]",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x23,  // remaining length 35
        0x00, 0x0A,  // packet id 10
        0x00, 0x03,  // filter length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x00,  // requested QoS 0
        0x00, 0x03,  // filter length 3
        0x63, 0x2F, 0x2B,  // "c/+"
        0x01,  // requested QoS 1
        0x00, 0x01,  // filter length 1
        0x23,  // "#"
        0x02,  // requested QoS 2
        0x00, 0x05,  // filter length 5
        0x2B, 0x2F, 0x78, 0x2F, 0x23,  // "+/x/#"
        0x01,  // requested QoS 1
        0x00, 0x06,  // filter length 6
        0x24, 0x53, 0x59, 0x53, 0x2F, 0x23,  // "$SYS/#"
        0x00,  // requested QoS 0
      ],
      ok(
        .subscribe(
          id: 10,
          [.init("a/b", 0), .init("c/+", 1), .init("#", 2), .init("+/x/#", 1), .init("$SYS/#", 0)])),
      version: .v311
    ),
    Vector(
      "SUBSCRIBE one filter \"/\", packet id 65535", "[MQTT-3.8.3-1]",
      [
        0x82,  // SUBSCRIBE
        0x06,  // remaining length 6
        0xFF, 0xFF,  // packet id 65535
        0x00, 0x01,  // filter length 1
        0x2F,  // "/"
        0x00,  // requested QoS 0
      ],
      ok(.subscribe(id: 0xFFFF, [.init("/", 0)])), version: .v311),
    Vector(
      "SUBACK with every return code", "[MQTT-3.9.3-2]",
      [
        0x90,  // SUBACK
        0x06,  // remaining length 6
        0x00, 0x0A,  // packet id 10
        0x00,  // granted QoS 0
        0x01,  // granted QoS 1
        0x02,  // granted QoS 2
        0x80,  // failure
      ],
      ok(.suback(id: 10, codes: [0, 1, 2, 0x80])), version: .v311),

    // UNSUBSCRIBE, UNSUBACK
    Vector(
      "UNSUBSCRIBE with three filters", "[MQTT-3.10.1-1]",
      [
        0xA2,  // UNSUBSCRIBE, flags 0010
        0x0F,  // remaining length 15
        0x00, 0x0B,  // packet id 11
        0x00, 0x03,  // filter length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x00, 0x03,  // filter length 3
        0x63, 0x2F, 0x23,  // "c/#"
        0x00, 0x01,  // filter length 1
        0x2B,  // "+"
      ],
      ok(.unsubscribe(id: 11, ["a/b", "c/#", "+"])), version: .v311),
    Vector(
      "UNSUBACK", "§3.11",
      [
        0xB0,  // UNSUBACK
        0x02,  // remaining length 2
        0x00, 0x0B,  // packet id 11
      ],
      ok(.unsuback(11)), version: .v311),

    // PINGREQ, PINGRESP, DISCONNECT
    Vector(
      "PINGREQ", "§3.12",
      [
        0xC0,  // PINGREQ
        0x00,  // remaining length 0
      ],
      ok(.pingreq), version: .v311),
    Vector(
      "PINGRESP", "§3.13",
      [
        0xD0,  // PINGRESP
        0x00,  // remaining length 0
      ],
      ok(.pingresp), version: .v311),
    Vector(
      "DISCONNECT", "[MQTT-3.14.1-1]",
      [
        0xE0,  // DISCONNECT
        0x00,  // remaining length 0
      ],
      ok(.disconnect()), version: .v311),
  ]

  /// PUBLISH QoS 0 to topic "t" with `remaining - 3` filler payload bytes.
  private static func sized(_ remaining: Int, _ header: [UInt8], _ name: String) -> Vector {
    let payload = filler(remaining - 3)
    return Vector(
      name, "§2.2.3 Table 2.4",
      [0x30] + header  // PUBLISH, QoS 0; remaining length as commented at the call site
        + [
          0x00, 0x01,  // topic length 1
          0x74,  // "t"
        ] + payload,  // filler payload, remaining - 3 bytes
      ok(.publish(.init(topic: "t", payload: Blob(payload), qos: 0))), version: .v311)
  }

  // Remaining length value, its encoding in the fixed header (Table 2.4), and the name.
  static let boundaries: [Vector] = [
    sized(127, [0x7F], "remaining length 127 (1 byte, largest)"),
    sized(128, [0x80, 0x01], "remaining length 128 (2 bytes, smallest)"),
    sized(16_383, [0xFF, 0x7F], "remaining length 16383 (2 bytes, largest)"),
    sized(16_384, [0x80, 0x80, 0x01], "remaining length 16384 (3 bytes, smallest)"),
    sized(2_097_151, [0xFF, 0xFF, 0x7F], "remaining length 2097151 (3 bytes, largest)"),
    sized(2_097_152, [0x80, 0x80, 0x80, 0x01], "remaining length 2097152 (4 bytes, smallest)"),
  ]

  // MARK: - Malformed

  static let malformed: [Vector] = header + connectErrors + otherErrors + v5Malformed

  /// Errors Frame.detect must find from the fixed header alone.
  static let header: [Vector] = [
    Vector(
      "reserved packet type 0", "§2.2.1 Table 2.1",
      [
        0x00,  // type 0: reserved
        0x00,  // remaining length 0
      ],
      bad(.reservedPacketType, after: 1), version: .v311),
    Vector(
      "AUTH (type 15) before MQTT 5", "§2.2.1 Table 2.1",
      [
        0xF0,  // type 15: reserved in 3.1.1, AUTH in MQTT 5
        0x00,  // remaining length 0
      ],
      bad(.reservedPacketType, after: 1), version: .v311),
    Vector(
      "AUTH (type 15) on an MQTT 3.1 connection", "§2.2.1 Table 2.1",
      [
        0xF0,  // type 15
        0x00,  // remaining length 0
      ],
      bad(.reservedPacketType, after: 1), version: .v31),
    Vector(
      "CONNECT with flags 0001", "[MQTT-2.2.2-2]",
      [
        0x11,  // CONNECT, reserved flags must be 0000
        0x0E,  // remaining length 14
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x02,  // connect flags: clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x02,  // client id length 2
        0x63, 0x31,  // "c1"
      ],
      bad(.invalidFixedHeaderFlags, after: 1), version: .v311),
    Vector(
      "CONNACK with flags 1000", "[MQTT-2.2.2-2]",
      [
        0x28,  // CONNACK, reserved flags must be 0000
        0x02,  // remaining length 2
        0x00, 0x00,  // flags, return code
      ],
      bad(.invalidFixedHeaderFlags, after: 1), version: .v311),
    Vector(
      "PUBACK with flags 0010", "[MQTT-2.2.2-2]",
      [
        0x42,  // PUBACK, reserved flags must be 0000
        0x02,  // remaining length 2
        0x00, 0x01,  // packet id 1
      ],
      bad(.invalidFixedHeaderFlags, after: 1), version: .v311),
    Vector(
      "PUBREC with flags 0001", "[MQTT-2.2.2-2]",
      [
        0x51,  // PUBREC, reserved flags must be 0000
        0x02,  // remaining length 2
        0x00, 0x01,  // packet id 1
      ],
      bad(.invalidFixedHeaderFlags, after: 1), version: .v311),
    Vector(
      "PUBREL with flags 0000", "[MQTT-3.6.1-1]",
      [
        0x60,  // PUBREL, flags must be 0010
        0x02,  // remaining length 2
        0x00, 0x01,  // packet id 1
      ],
      bad(.invalidFixedHeaderFlags, after: 1), version: .v311),
    Vector(
      "PUBREL with flags 0011", "[MQTT-3.6.1-1]",
      [
        0x63,  // PUBREL, flags must be 0010
        0x02,  // remaining length 2
        0x00, 0x01,  // packet id 1
      ],
      bad(.invalidFixedHeaderFlags, after: 1), version: .v311),
    Vector(
      "PUBCOMP with flags 1111", "[MQTT-2.2.2-2]",
      [
        0x7F,  // PUBCOMP, reserved flags must be 0000
        0x02,  // remaining length 2
        0x00, 0x01,  // packet id 1
      ],
      bad(.invalidFixedHeaderFlags, after: 1), version: .v311),
    Vector(
      "SUBSCRIBE with flags 0000", "[MQTT-3.8.1-1]",
      [
        0x80,  // SUBSCRIBE, flags must be 0010
        0x06,  // remaining length 6
        0x00, 0x01,  // packet id 1
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x00,  // requested QoS 0
      ],
      bad(.invalidFixedHeaderFlags, after: 1), version: .v311),
    Vector(
      "SUBSCRIBE with flags 1010", "[MQTT-3.8.1-1]",
      [
        0x8A,  // SUBSCRIBE, flags must be 0010
        0x06,  // remaining length 6
        0x00, 0x01,  // packet id 1
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x00,  // requested QoS 0
      ],
      bad(.invalidFixedHeaderFlags, after: 1), version: .v311),
    Vector(
      "SUBACK with flags 0010", "[MQTT-2.2.2-2]",
      [
        0x92,  // SUBACK, reserved flags must be 0000
        0x03,  // remaining length 3
        0x00, 0x01,  // packet id 1
        0x00,  // granted QoS 0
      ],
      bad(.invalidFixedHeaderFlags, after: 1), version: .v311),
    Vector(
      "UNSUBSCRIBE with flags 0000", "[MQTT-3.10.1-1]",
      [
        0xA0,  // UNSUBSCRIBE, flags must be 0010
        0x05,  // remaining length 5
        0x00, 0x01,  // packet id 1
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
      ],
      bad(.invalidFixedHeaderFlags, after: 1), version: .v311),
    Vector(
      "UNSUBSCRIBE with flags 0011", "[MQTT-3.10.1-1]",
      [
        0xA3,  // UNSUBSCRIBE, flags must be 0010
        0x05,  // remaining length 5
        0x00, 0x01,  // packet id 1
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
      ],
      bad(.invalidFixedHeaderFlags, after: 1), version: .v311),
    Vector(
      "UNSUBACK with flags 0100", "[MQTT-2.2.2-2]",
      [
        0xB4,  // UNSUBACK, reserved flags must be 0000
        0x02,  // remaining length 2
        0x00, 0x01,  // packet id 1
      ],
      bad(.invalidFixedHeaderFlags, after: 1), version: .v311),
    Vector(
      "PINGREQ with flags 0010", "[MQTT-2.2.2-2]",
      [
        0xC2,  // PINGREQ, reserved flags must be 0000
        0x00,  // remaining length 0
      ],
      bad(.invalidFixedHeaderFlags, after: 1), version: .v311),
    Vector(
      "PINGRESP with flags 1000", "[MQTT-2.2.2-2]",
      [
        0xD8,  // PINGRESP, reserved flags must be 0000
        0x00,  // remaining length 0
      ],
      bad(.invalidFixedHeaderFlags, after: 1), version: .v311),
    Vector(
      "DISCONNECT with flags 0100", "[MQTT-3.14.1-1]",
      [
        0xE4,  // DISCONNECT, reserved flags must be 0000
        0x00,  // remaining length 0
      ],
      bad(.invalidFixedHeaderFlags, after: 1), version: .v311),
    Vector(
      "PUBLISH QoS 3", "[MQTT-3.3.1-4]",
      [
        0x36,  // PUBLISH, QoS bits 11
        0x09,  // remaining length 9
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x00, 0x01,  // packet id 1
        0x68, 0x69,  // payload "hi"
      ],
      bad(.invalidQoS, after: 1), version: .v311),
    Vector(
      "PUBLISH QoS 3 with DUP and retain", "[MQTT-3.3.1-4]",
      [
        0x3F,  // PUBLISH, DUP, QoS bits 11, retain
        0x09,  // remaining length 9
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x00, 0x01,  // packet id 1
        0x68, 0x69,  // payload "hi"
      ],
      bad(.invalidQoS, after: 1), version: .v311),
    Vector(
      "remaining length of 5 bytes", "[MQTT-1.5.5-1 / §2.2.3]",
      [
        0x30,  // PUBLISH
        0xFF, 0xFF, 0xFF, 0xFF,  // remaining length: fourth byte still has the continuation bit
        0x7F,  // a fifth length byte (never needed: the error is known after the fourth)
      ],
      bad(.malformedVariableByteInteger, after: 5), version: .v311),
    Vector(
      "remaining length of 5 bytes encoding 0", "[MQTT-1.5.5-1 / §2.2.3]",
      [
        0xC0,  // PINGREQ
        0x80, 0x80, 0x80, 0x80,  // remaining length: four continuation bytes
        0x00,  // fifth length byte
      ],
      bad(.malformedVariableByteInteger, after: 5), version: .v311),
    Vector(
      "PUBLISH larger than maxPacketBytes, header only", "§2.2.3",
      [
        0x30,  // PUBLISH
        0xFF, 0x7F,  // remaining length 16383: 16386 bytes > 1024; the body never arrives
      ],
      bad(.packetTooLarge, after: 3), max: 1024, version: .v311),
    Vector(
      "PUBLISH of 256 MB announced, header only", "§2.2.3",
      [
        0x30,  // PUBLISH
        0xFF, 0xFF, 0xFF, 0x7F,  // remaining length 268435455 (the largest)
      ],
      bad(.packetTooLarge, after: 5), max: 1 << 20, version: .v311),
    Vector(
      "PUBLISH one byte over maxPacketBytes", "§2.2.3",
      [
        0x30,  // PUBLISH, QoS 0
        0x07,  // remaining length 7 (total 9 > maxPacketBytes 8)
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x68, 0x69,  // payload "hi"
      ],
      bad(.packetTooLarge, after: 2), max: 8, version: .v311),
  ]

  static let connectErrors: [Vector] = [
    Vector(
      "CONNECT with remaining length 0", "§3.1.2",
      [
        0x10,  // CONNECT
        0x00,  // remaining length 0
      ],
      bad(.truncated), version: .v311),
    Vector(
      "CONNECT protocol name cut short", "§3.1.2.1",
      [
        0x10,  // CONNECT
        0x04,  // remaining length 4
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51,  // "MQ" and the packet ends
      ],
      bad(.truncated), version: .v311),
    Vector(
      "CONNECT without protocol level", "§3.1.2.2",
      [
        0x10,  // CONNECT
        0x06,  // remaining length 6
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
      ],
      bad(.truncated), version: .v311),
    Vector(
      "CONNECT without keep alive", "§3.1.2.10",
      [
        0x10,  // CONNECT
        0x08,  // remaining length 8
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x02,  // connect flags: clean session
      ],
      bad(.truncated), version: .v311),
    Vector(
      "CONNECT without client id", "[MQTT-3.1.3-3]",
      [
        0x10,  // CONNECT
        0x0A,  // remaining length 10
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x02,  // connect flags: clean session
        0x00, 0x3C,  // keep alive 60 s
      ],
      bad(.truncated), version: .v311),
    Vector(
      "CONNECT client id longer than the packet", "[MQTT-3.1.3-3]",
      [
        0x10,  // CONNECT
        0x0D,  // remaining length 13
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x02,  // connect flags: clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x05,  // client id length 5
        0x61,  // "a" and the packet ends
      ],
      bad(.truncated), version: .v311),
    Vector(
      "CONNECT will flag without will topic", "[MQTT-3.1.2-9]",
      [
        0x10,  // CONNECT
        0x0D,  // remaining length 13
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x06,  // connect flags: will | clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x01,  // client id length 1
        0x63,  // "c" and no will topic
      ],
      bad(.truncated), version: .v311),
    Vector(
      "CONNECT will topic without will message", "[MQTT-3.1.2-9]",
      [
        0x10,  // CONNECT
        0x10,  // remaining length 16
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x06,  // connect flags: will | clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
        0x00, 0x01,  // will topic length 1
        0x61,  // "a" and no will message
      ],
      bad(.truncated), version: .v311),
    Vector(
      "CONNECT user name flag without user name", "[MQTT-3.1.2-19]",
      [
        0x10,  // CONNECT
        0x0D,  // remaining length 13
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x82,  // connect flags: user name | clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x01,  // client id length 1
        0x63,  // "c" and no user name
      ],
      bad(.truncated), version: .v311),
    Vector(
      "CONNECT password flag without password", "[MQTT-3.1.2-21]",
      [
        0x10,  // CONNECT
        0x10,  // remaining length 16
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0xC2,  // connect flags: user name | password | clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
        0x00, 0x01,  // user name length 1
        0x75,  // "u" and no password
      ],
      bad(.truncated), version: .v311),
    Vector(
      "CONNECT user name present with user name flag 0", "[MQTT-3.1.2-18]",
      [
        0x10,  // CONNECT
        0x10,  // remaining length 16
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x02,  // connect flags: clean session only
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
        0x00, 0x01,  // a user name length 1 the flags did not announce
        0x75,  // "u"
      ],
      bad(.trailingBytes), version: .v311),
    Vector(
      "CONNECT will fields present with will flag 0", "[MQTT-3.1.2-11]",
      [
        0x10,  // CONNECT
        0x13,  // remaining length 19
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x02,  // connect flags: clean session only
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
        0x00, 0x01,  // unannounced will topic length 1
        0x61,  // "a"
        0x00, 0x01,  // unannounced will message length 1
        0x62,  // "b"
      ],
      bad(.trailingBytes), version: .v311),
    Vector(
      "CONNECT password present with password flag 0", "[MQTT-3.1.2-20]",
      [
        0x10,  // CONNECT
        0x13,  // remaining length 19
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x82,  // connect flags: user name | clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
        0x00, 0x01,  // user name length 1
        0x75,  // "u"
        0x00, 0x01,  // unannounced password length 1
        0x70,  // "p"
      ],
      bad(.trailingBytes), version: .v311),
    Vector(
      "CONNECT with a trailing byte after the client id", "§3.1.3",
      [
        0x10,  // CONNECT
        0x0F,  // remaining length 15
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x02,  // connect flags: clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x02,  // client id length 2
        0x63, 0x31,  // "c1"
        0x00,  // one byte too many
      ],
      bad(.trailingBytes), version: .v311),
    Vector(
      "CONNECT protocol name \"MQTS\"", "[MQTT-3.1.2-1]",
      [
        0x10,  // CONNECT
        0x0E,  // remaining length 14
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x53,  // "MQTS"
        0x04,  // protocol level 4
        0x02,  // connect flags: clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x02,  // client id length 2
        0x63, 0x31,  // "c1"
      ],
      bad(.invalidProtocolName), version: .v311),
    Vector(
      "CONNECT protocol name \"mqtt\" (case matters)", "[MQTT-3.1.2-1]",
      [
        0x10,  // CONNECT
        0x0E,  // remaining length 14
        0x00, 0x04,  // protocol name length 4
        0x6D, 0x71, 0x74, 0x74,  // "mqtt"
        0x04,  // protocol level 4
        0x02,  // connect flags: clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x02,  // client id length 2
        0x63, 0x31,  // "c1"
      ],
      bad(.invalidProtocolName), version: .v311),
    Vector(
      "CONNECT empty protocol name", "[MQTT-3.1.2-1]",
      [
        0x10,  // CONNECT
        0x09,  // remaining length 9
        0x00, 0x00,  // protocol name length 0
        0x04,  // protocol level 4
        0x02,  // connect flags: clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
      ],
      bad(.invalidProtocolName), version: .v311),
    Vector(
      "CONNECT protocol name \"MQIsd\"", "[MQTT-3.1.2-1]",
      [
        0x10,  // CONNECT
        0x0E,  // remaining length 14
        0x00, 0x05,  // protocol name length 5
        0x4D, 0x51, 0x49, 0x73, 0x64,  // "MQIsd"
        0x03,  // protocol level 3
        0x02,  // connect flags: clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
      ],
      bad(.invalidProtocolName), version: .v311),
    Vector(
      "CONNECT \"MQTT\" at level 3", "[MQTT-3.1.2-2]",
      [
        0x10,  // CONNECT
        0x0E,  // remaining length 14
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x03,  // protocol level 3: only valid with "MQIsdp"
        0x02,  // connect flags: clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x02,  // client id length 2
        0x63, 0x31,  // "c1"
      ],
      bad(.unsupportedProtocolLevel(3)), version: .v311),
    Vector(
      "CONNECT \"MQIsdp\" at level 4", "[MQTT-3.1.2-2]",
      [
        0x10,  // CONNECT
        0x10,  // remaining length 16
        0x00, 0x06,  // protocol name length 6
        0x4D, 0x51, 0x49, 0x73, 0x64, 0x70,  // "MQIsdp"
        0x04,  // protocol level 4: only valid with "MQTT"
        0x02,  // connect flags: clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x02,  // client id length 2
        0x63, 0x31,  // "c1"
      ],
      bad(.unsupportedProtocolLevel(4)), version: .v311),
    Vector(
      "CONNECT \"MQIsdp\" at level 5", "[MQTT-3.1.2-2]",
      [
        0x10,  // CONNECT
        0x10,  // remaining length 16
        0x00, 0x06,  // protocol name length 6
        0x4D, 0x51, 0x49, 0x73, 0x64, 0x70,  // "MQIsdp"
        0x05,  // protocol level 5: only valid with "MQTT"
        0x02,  // connect flags: clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00,  // (a property length 0, if this were MQTT 5)
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
      ],
      bad(.unsupportedProtocolLevel(5)), version: .v311),
    Vector(
      "CONNECT level 6", "[MQTT-3.1.2-2]",
      [
        0x10,  // CONNECT
        0x0E,  // remaining length 14
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x06,  // protocol level 6
        0x02,  // connect flags: clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x02,  // client id length 2
        0x63, 0x31,  // "c1"
      ],
      bad(.unsupportedProtocolLevel(6)), version: .v311),
    Vector(
      "CONNECT level 7", "[MQTT-3.1.2-2]",
      [
        0x10,  // CONNECT
        0x0E,  // remaining length 14
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x07,  // protocol level 7
        0x02,  // connect flags: clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x02,  // client id length 2
        0x63, 0x31,  // "c1"
      ],
      bad(.unsupportedProtocolLevel(7)), version: .v311),
    Vector(
      "CONNECT level 0", "[MQTT-3.1.2-2]",
      [
        0x10,  // CONNECT
        0x0E,  // remaining length 14
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x00,  // protocol level 0
        0x02,  // connect flags: clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x02,  // client id length 2
        0x63, 0x31,  // "c1"
      ],
      bad(.unsupportedProtocolLevel(0)), version: .v311),
    Vector(
      "CONNECT reserved connect flag set", "[MQTT-3.1.2-3]",
      [
        0x10,  // CONNECT
        0x0E,  // remaining length 14
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x03,  // connect flags: clean session | reserved bit 0
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x02,  // client id length 2
        0x63, 0x31,  // "c1"
      ],
      bad(.connectReservedFlag), version: .v311),
    Vector(
      "CONNECT will QoS 1 without will flag", "[MQTT-3.1.2-13]",
      [
        0x10,  // CONNECT
        0x0E,  // remaining length 14
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x0A,  // connect flags: will QoS 1 | clean session, no will flag
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x02,  // client id length 2
        0x63, 0x31,  // "c1"
      ],
      bad(.invalidWillFlags), version: .v311),
    Vector(
      "CONNECT will QoS 2 without will flag", "[MQTT-3.1.2-13]",
      [
        0x10,  // CONNECT
        0x0E,  // remaining length 14
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x12,  // connect flags: will QoS 2 | clean session, no will flag
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x02,  // client id length 2
        0x63, 0x31,  // "c1"
      ],
      bad(.invalidWillFlags), version: .v311),
    Vector(
      "CONNECT will retain without will flag", "[MQTT-3.1.2-15]",
      [
        0x10,  // CONNECT
        0x0E,  // remaining length 14
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x22,  // connect flags: will retain | clean session, no will flag
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x02,  // client id length 2
        0x63, 0x31,  // "c1"
      ],
      bad(.invalidWillFlags), version: .v311),
    Vector(
      "CONNECT will QoS 3", "[MQTT-3.1.2-14]",
      [
        0x10,  // CONNECT
        0x13,  // remaining length 19
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x1E,  // connect flags: will QoS 3 (0x18) | will | clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
        0x00, 0x01,  // will topic length 1
        0x61,  // "a"
        0x00, 0x01,  // will message length 1
        0x62,  // "b"
      ],
      bad(.invalidWillFlags), version: .v311),
    Vector(
      "CONNECT password without user name", "[MQTT-3.1.2-22]",
      [
        0x10,  // CONNECT
        0x10,  // remaining length 16
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x42,  // connect flags: password | clean session, no user name
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
        0x00, 0x01,  // password length 1
        0x70,  // "p"
      ],
      bad(.passwordWithoutUsername), version: .v311),
    Vector(
      "CONNECT client id with overlong NUL (C0 80)", "[MQTT-3.1.3-4]",
      [
        0x10,  // CONNECT
        0x0E,  // remaining length 14
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x02,  // connect flags: clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x02,  // client id length 2
        0xC0, 0x80,  // overlong encoding of U+0000
      ],
      bad(.invalidUTF8), version: .v311),
    Vector(
      "CONNECT client id containing U+0000", "[MQTT-1.5.3-2]",
      [
        0x10,  // CONNECT
        0x0F,  // remaining length 15
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x02,  // connect flags: clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x03,  // client id length 3
        0x61, 0x00, 0x62,  // "a", U+0000, "b"
      ],
      bad(.nullCharacter), version: .v311),
    Vector(
      "CONNECT will topic with wildcard", "[MQTT-4.7.1-1]",
      [
        0x10,  // CONNECT
        0x14,  // remaining length 20
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x06,  // connect flags: will | clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
        0x00, 0x03,  // will topic length 3
        0x61, 0x2F, 0x23,  // "a/#": a filter, not a topic name
        0x00, 0x00,  // will message length 0
      ],
      bad(.wildcardInTopicName), version: .v311),
    Vector(
      "CONNECT empty will topic", "[MQTT-4.7.3-1]",
      [
        0x10,  // CONNECT
        0x11,  // remaining length 17
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x06,  // connect flags: will | clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
        0x00, 0x00,  // will topic length 0
        0x00, 0x00,  // will message length 0
      ],
      bad(.emptyTopic), version: .v311),
    Vector(
      "CONNECT will topic with surrogate U+D800", "[MQTT-3.1.3-10]",
      [
        0x10,  // CONNECT
        0x14,  // remaining length 20
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x06,  // connect flags: will | clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
        0x00, 0x03,  // will topic length 3
        0xED, 0xA0, 0x80,  // U+D800 (a UTF-16 surrogate)
        0x00, 0x00,  // will message length 0
      ],
      bad(.invalidUTF8), version: .v311),
    Vector(
      "CONNECT user name with byte F5", "[MQTT-3.1.3-11]",
      [
        0x10,  // CONNECT
        0x13,  // remaining length 19
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x04,  // protocol level 4
        0x82,  // connect flags: user name | clean session
        0x00, 0x3C,  // keep alive 60 s
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
        0x00, 0x04,  // user name length 4
        0xF5, 0x80, 0x80, 0x80,  // lead byte F5: would be above U+10FFFF
      ],
      bad(.invalidUTF8), version: .v311),
  ]

  static let otherErrors: [Vector] = [
    // CONNACK
    Vector(
      "CONNACK reserved acknowledge flag bits", "§3.2.2.1",
      [
        0x20,  // CONNACK
        0x02,  // remaining length 2
        0x02,  // acknowledge flags: bit 1 is reserved
        0x00,  // return code 0
      ],
      bad(.invalidFixedHeaderFlags), version: .v311),
    Vector(
      "CONNACK without return code", "§3.2.2",
      [
        0x20,  // CONNACK
        0x01,  // remaining length 1
        0x00,  // acknowledge flags and the packet ends
      ],
      bad(.truncated), version: .v311),
    Vector(
      "CONNACK with a trailing byte", "§3.2.2",
      [
        0x20,  // CONNACK
        0x03,  // remaining length 3
        0x00, 0x00,  // acknowledge flags, return code
        0x00,  // one byte too many
      ],
      bad(.trailingBytes), version: .v311),

    // PUBLISH
    Vector(
      "PUBLISH with remaining length 0", "[MQTT-3.3.2-1]",
      [
        0x30,  // PUBLISH
        0x00,  // remaining length 0: no topic length
      ],
      bad(.truncated), version: .v311),
    Vector(
      "PUBLISH topic length cut in half", "[MQTT-3.3.2-1]",
      [
        0x30,  // PUBLISH
        0x01,  // remaining length 1
        0x00,  // first byte of the topic length
      ],
      bad(.truncated), version: .v311),
    Vector(
      "PUBLISH topic longer than the packet", "[MQTT-3.3.2-1]",
      [
        0x30,  // PUBLISH
        0x03,  // remaining length 3
        0x00, 0x05,  // topic length 5
        0x61,  // "a" and the packet ends
      ],
      bad(.truncated), version: .v311),
    Vector(
      "PUBLISH QoS 1 without packet id", "[MQTT-2.3.1-1]",
      [
        0x32,  // PUBLISH, QoS 1
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b" and the packet ends
      ],
      bad(.truncated), version: .v311),
    Vector(
      "PUBLISH QoS 1 with half a packet id", "[MQTT-2.3.1-1]",
      [
        0x32,  // PUBLISH, QoS 1
        0x06,  // remaining length 6
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x00,  // first byte of the packet id
      ],
      bad(.truncated), version: .v311),
    Vector(
      "PUBLISH QoS 1 with packet id 0", "[MQTT-2.3.1-1]",
      [
        0x32,  // PUBLISH, QoS 1
        0x07,  // remaining length 7
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x00, 0x00,  // packet id 0
      ],
      bad(.zeroPacketIdentifier), version: .v311),
    Vector(
      "PUBLISH QoS 2 with packet id 0", "[MQTT-2.3.1-1]",
      [
        0x34,  // PUBLISH, QoS 2
        0x09,  // remaining length 9
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x00, 0x00,  // packet id 0
        0x68, 0x69,  // payload "hi"
      ],
      bad(.zeroPacketIdentifier), version: .v311),
    Vector(
      "PUBLISH QoS 0 with DUP", "[MQTT-3.3.1-2]",
      [
        0x38,  // PUBLISH, DUP, QoS 0
        0x07,  // remaining length 7
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x68, 0x69,  // payload "hi"
      ],
      bad(.invalidFixedHeaderFlags), version: .v311),
    Vector(
      "PUBLISH QoS 0 with DUP and retain", "[MQTT-3.3.1-2]",
      [
        0x39,  // PUBLISH, DUP, QoS 0, retain
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
      ],
      bad(.invalidFixedHeaderFlags), version: .v311),
    Vector(
      "PUBLISH topic name \"a/+\"", "[MQTT-3.3.2-2]",
      [
        0x30,  // PUBLISH
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x2B,  // "a/+"
      ],
      bad(.wildcardInTopicName), version: .v311),
    Vector(
      "PUBLISH topic name \"#\"", "[MQTT-3.3.2-2]",
      [
        0x32,  // PUBLISH, QoS 1
        0x05,  // remaining length 5
        0x00, 0x01,  // topic length 1
        0x23,  // "#"
        0x00, 0x01,  // packet id 1
      ],
      bad(.wildcardInTopicName), version: .v311),
    Vector(
      "PUBLISH topic name \"a+b\"", "[MQTT-4.7.1-1]",
      [
        0x30,  // PUBLISH
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0x61, 0x2B, 0x62,  // "a+b"
      ],
      bad(.wildcardInTopicName), version: .v311),
    Vector(
      "PUBLISH empty topic name", "[MQTT-4.7.3-1]",
      [
        0x30,  // PUBLISH
        0x04,  // remaining length 4
        0x00, 0x00,  // topic length 0
        0x68, 0x69,  // payload "hi"
      ],
      bad(.emptyTopic), version: .v311),
    Vector(
      "PUBLISH QoS 1 empty topic name", "[MQTT-4.7.3-1]",
      [
        0x32,  // PUBLISH, QoS 1
        0x04,  // remaining length 4
        0x00, 0x00,  // topic length 0
        0x00, 0x01,  // packet id 1
      ],
      bad(.emptyTopic), version: .v311),
    Vector(
      "PUBLISH topic with overlong \"/\" (C0 AF)", "[MQTT-1.5.3-1]",
      [
        0x30,  // PUBLISH
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0x61,  // "a"
        0xC0, 0xAF,  // overlong 2-byte "/"
      ],
      bad(.invalidUTF8), version: .v311),
    Vector(
      "PUBLISH topic with overlong 3-byte form (E0 80 AF)", "[MQTT-1.5.3-1]",
      [
        0x30,  // PUBLISH
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0xE0, 0x80, 0xAF,  // overlong 3-byte "/"
      ],
      bad(.invalidUTF8), version: .v311),
    Vector(
      "PUBLISH topic with overlong 4-byte form (F0 80 80 AF)", "[MQTT-1.5.3-1]",
      [
        0x30,  // PUBLISH
        0x06,  // remaining length 6
        0x00, 0x04,  // topic length 4
        0xF0, 0x80, 0x80, 0xAF,  // overlong 4-byte "/"
      ],
      bad(.invalidUTF8), version: .v311),
    Vector(
      "PUBLISH topic with surrogate U+D800 (ED A0 80)", "[MQTT-1.5.3-1]",
      [
        0x30,  // PUBLISH
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0xED, 0xA0, 0x80,  // U+D800
      ],
      bad(.invalidUTF8), version: .v311),
    Vector(
      "PUBLISH topic with surrogate U+DFFF (ED BF BF)", "[MQTT-1.5.3-1]",
      [
        0x30,  // PUBLISH
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0xED, 0xBF, 0xBF,  // U+DFFF
      ],
      bad(.invalidUTF8), version: .v311),
    Vector(
      "PUBLISH topic with U+110000 (F4 90 80 80)", "[MQTT-1.5.3-1]",
      [
        0x30,  // PUBLISH
        0x06,  // remaining length 6
        0x00, 0x04,  // topic length 4
        0xF4, 0x90, 0x80, 0x80,  // above U+10FFFF
      ],
      bad(.invalidUTF8), version: .v311),
    Vector(
      "PUBLISH topic with byte FF", "[MQTT-1.5.3-1]",
      [
        0x30,  // PUBLISH
        0x04,  // remaining length 4
        0x00, 0x02,  // topic length 2
        0x61, 0xFF,  // "a", FF (never valid in UTF-8)
      ],
      bad(.invalidUTF8), version: .v311),
    Vector(
      "PUBLISH topic ending inside a 3-byte sequence", "[MQTT-1.5.3-1]",
      [
        0x30,  // PUBLISH
        0x06,  // remaining length 6
        0x00, 0x03,  // topic length 3
        0x61, 0xE2, 0x82,  // "a", then "€" without its last byte
        0xAC,  // payload: the missing byte is outside the string
      ],
      bad(.invalidUTF8), version: .v311),
    Vector(
      "PUBLISH topic ending inside a 2-byte sequence", "[MQTT-1.5.3-1]",
      [
        0x30,  // PUBLISH
        0x04,  // remaining length 4
        0x00, 0x02,  // topic length 2
        0x61, 0xC3,  // "a", then the lead byte of "é"
      ],
      bad(.invalidUTF8), version: .v311),
    Vector(
      "PUBLISH topic with a lone continuation byte", "[MQTT-1.5.3-1]",
      [
        0x30,  // PUBLISH
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0x61, 0x80, 0x62,  // "a", continuation byte 80, "b"
      ],
      bad(.invalidUTF8), version: .v311),
    Vector(
      "PUBLISH topic containing U+0000", "[MQTT-4.7.3-2]",
      [
        0x30,  // PUBLISH
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0x61, 0x00, 0x62,  // "a", U+0000, "b"
      ],
      bad(.nullCharacter), version: .v311),

    // PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK
    Vector(
      "PUBACK with packet id 0", "[MQTT-2.3.1-1]",
      [
        0x40,  // PUBACK
        0x02,  // remaining length 2
        0x00, 0x00,  // packet id 0
      ],
      bad(.zeroPacketIdentifier), version: .v311),
    Vector(
      "PUBREC with packet id 0", "[MQTT-2.3.1-1]",
      [
        0x50,  // PUBREC
        0x02,  // remaining length 2
        0x00, 0x00,  // packet id 0
      ],
      bad(.zeroPacketIdentifier), version: .v311),
    Vector(
      "PUBREL with packet id 0", "[MQTT-2.3.1-1]",
      [
        0x62,  // PUBREL
        0x02,  // remaining length 2
        0x00, 0x00,  // packet id 0
      ],
      bad(.zeroPacketIdentifier), version: .v311),
    Vector(
      "PUBCOMP with packet id 0", "[MQTT-2.3.1-1]",
      [
        0x70,  // PUBCOMP
        0x02,  // remaining length 2
        0x00, 0x00,  // packet id 0
      ],
      bad(.zeroPacketIdentifier), version: .v311),
    Vector(
      "UNSUBACK with packet id 0", "[MQTT-2.3.1-1]",
      [
        0xB0,  // UNSUBACK
        0x02,  // remaining length 2
        0x00, 0x00,  // packet id 0
      ],
      bad(.zeroPacketIdentifier), version: .v311),
    Vector(
      "PUBACK with remaining length 0", "§3.4.2",
      [
        0x40,  // PUBACK
        0x00,  // remaining length 0: no packet id
      ],
      bad(.truncated), version: .v311),
    Vector(
      "PUBACK with half a packet id", "§3.4.2",
      [
        0x40,  // PUBACK
        0x01,  // remaining length 1
        0x00,  // first byte of the packet id
      ],
      bad(.truncated), version: .v311),
    Vector(
      "UNSUBACK with half a packet id", "§3.11.2",
      [
        0xB0,  // UNSUBACK
        0x01,  // remaining length 1
        0x00,  // first byte of the packet id
      ],
      bad(.truncated), version: .v311),
    Vector(
      "PUBACK with a trailing byte", "§3.4.3",
      [
        0x40,  // PUBACK
        0x03,  // remaining length 3
        0x00, 0x01,  // packet id 1
        0x00,  // one byte too many
      ],
      bad(.trailingBytes), version: .v311),
    Vector(
      "PUBREL with a trailing byte", "§3.6.3",
      [
        0x62,  // PUBREL
        0x03,  // remaining length 3
        0x00, 0x01,  // packet id 1
        0x00,  // one byte too many
      ],
      bad(.trailingBytes), version: .v311),

    // SUBSCRIBE
    Vector(
      "SUBSCRIBE with remaining length 0", "[MQTT-2.3.1-1]",
      [
        0x82,  // SUBSCRIBE
        0x00,  // remaining length 0: no packet id
      ],
      bad(.truncated), version: .v311),
    Vector(
      "SUBSCRIBE with packet id 0", "[MQTT-2.3.1-1]",
      [
        0x82,  // SUBSCRIBE
        0x06,  // remaining length 6
        0x00, 0x00,  // packet id 0
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x00,  // requested QoS 0
      ],
      bad(.zeroPacketIdentifier), version: .v311),
    Vector(
      "SUBSCRIBE without filters", "[MQTT-3.8.3-3]",
      [
        0x82,  // SUBSCRIBE
        0x02,  // remaining length 2
        0x00, 0x01,  // packet id 1 and no payload
      ],
      bad(.noTopicFilters), version: .v311),
    Vector(
      "SUBSCRIBE filter without requested QoS", "[MQTT-3.8.3-3]",
      [
        0x82,  // SUBSCRIBE
        0x05,  // remaining length 5
        0x00, 0x01,  // packet id 1
        0x00, 0x01,  // filter length 1
        0x61,  // "a" and no options byte
      ],
      bad(.truncated), version: .v311),
    Vector(
      "SUBSCRIBE filter longer than the packet", "[MQTT-3.8.3-1]",
      [
        0x82,  // SUBSCRIBE
        0x05,  // remaining length 5
        0x00, 0x01,  // packet id 1
        0x00, 0x04,  // filter length 4
        0x61,  // "a" and the packet ends
      ],
      bad(.truncated), version: .v311),
    Vector(
      "SUBSCRIBE filter \"a/#/b\"", "[MQTT-4.7.1-2]",
      [
        0x82,  // SUBSCRIBE
        0x0A,  // remaining length 10
        0x00, 0x01,  // packet id 1
        0x00, 0x05,  // filter length 5
        0x61, 0x2F, 0x23, 0x2F, 0x62,  // "a/#/b": "#" not last
        0x00,  // requested QoS 0
      ],
      bad(.invalidTopicFilter), version: .v311),
    Vector(
      "SUBSCRIBE filter \"a#\"", "[MQTT-4.7.1-2]",
      [
        0x82,  // SUBSCRIBE
        0x07,  // remaining length 7
        0x00, 0x01,  // packet id 1
        0x00, 0x02,  // filter length 2
        0x61, 0x23,  // "a#": "#" not alone in its level
        0x00,  // requested QoS 0
      ],
      bad(.invalidTopicFilter), version: .v311),
    Vector(
      "SUBSCRIBE filter \"+a\"", "[MQTT-4.7.1-3]",
      [
        0x82,  // SUBSCRIBE
        0x07,  // remaining length 7
        0x00, 0x01,  // packet id 1
        0x00, 0x02,  // filter length 2
        0x2B, 0x61,  // "+a": "+" not alone in its level
        0x00,  // requested QoS 0
      ],
      bad(.invalidTopicFilter), version: .v311),
    Vector(
      "SUBSCRIBE filter \"a/b+\"", "[MQTT-4.7.1-3]",
      [
        0x82,  // SUBSCRIBE
        0x09,  // remaining length 9
        0x00, 0x01,  // packet id 1
        0x00, 0x04,  // filter length 4
        0x61, 0x2F, 0x62, 0x2B,  // "a/b+"
        0x00,  // requested QoS 0
      ],
      bad(.invalidTopicFilter), version: .v311),
    Vector(
      "SUBSCRIBE empty filter", "[MQTT-4.7.3-1]",
      [
        0x82,  // SUBSCRIBE
        0x05,  // remaining length 5
        0x00, 0x01,  // packet id 1
        0x00, 0x00,  // filter length 0
        0x00,  // requested QoS 0
      ],
      bad(.invalidTopicFilter), version: .v311),
    Vector(
      "SUBSCRIBE requested QoS 3", "[MQTT-3.8.3-4]",
      [
        0x82,  // SUBSCRIBE
        0x06,  // remaining length 6
        0x00, 0x01,  // packet id 1
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x03,  // requested QoS 3
      ],
      bad(.invalidSubscriptionOptions), version: .v311),
    Vector(
      "SUBSCRIBE options reserved bit 2", "[MQTT-3.8.3-4]",
      [
        0x82,  // SUBSCRIBE
        0x06,  // remaining length 6
        0x00, 0x01,  // packet id 1
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x04,  // reserved bit 2 (MQTT 5 "no local")
      ],
      bad(.invalidSubscriptionOptions), version: .v311),
    Vector(
      "SUBSCRIBE options reserved bit 7", "[MQTT-3.8.3-4]",
      [
        0x82,  // SUBSCRIBE
        0x06,  // remaining length 6
        0x00, 0x01,  // packet id 1
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x81,  // requested QoS 1 with reserved bit 7
      ],
      bad(.invalidSubscriptionOptions), version: .v311),
    Vector(
      "SUBSCRIBE second filter invalid", "[MQTT-4.7.1-2]",
      [
        0x82,  // SUBSCRIBE
        0x0B,  // remaining length 11
        0x00, 0x01,  // packet id 1
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x00,  // requested QoS 0
        0x00, 0x02,  // filter length 2
        0x62, 0x23,  // "b#"
        0x01,  // requested QoS 1
      ],
      bad(.invalidTopicFilter), version: .v311),
    Vector(
      "SUBSCRIBE second entry QoS 3", "[MQTT-3.8.3-4]",
      [
        0x82,  // SUBSCRIBE
        0x0A,  // remaining length 10
        0x00, 0x01,  // packet id 1
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x02,  // requested QoS 2
        0x00, 0x01,  // filter length 1
        0x62,  // "b"
        0x03,  // requested QoS 3
      ],
      bad(.invalidSubscriptionOptions), version: .v311),
    Vector(
      "SUBSCRIBE filter with invalid continuation (C3 28)", "[MQTT-3.8.3-1]",
      [
        0x82,  // SUBSCRIBE
        0x07,  // remaining length 7
        0x00, 0x01,  // packet id 1
        0x00, 0x02,  // filter length 2
        0xC3, 0x28,  // lead byte, then "(" instead of a continuation byte
        0x00,  // requested QoS 0
      ],
      bad(.invalidUTF8), version: .v311),
    Vector(
      "SUBSCRIBE filter containing U+0000", "[MQTT-4.7.3-2]",
      [
        0x82,  // SUBSCRIBE
        0x07,  // remaining length 7
        0x00, 0x01,  // packet id 1
        0x00, 0x02,  // filter length 2
        0x23, 0x00,  // "#", U+0000
        0x00,  // requested QoS 0
      ],
      bad(.nullCharacter), version: .v311),

    // SUBACK
    Vector(
      "SUBACK return code 3", "[MQTT-3.9.3-2]",
      [
        0x90,  // SUBACK
        0x03,  // remaining length 3
        0x00, 0x01,  // packet id 1
        0x03,  // return code 3: reserved
      ],
      bad(.invalidSubscriptionOptions), version: .v311),
    Vector(
      "SUBACK return code 0x81", "[MQTT-3.9.3-2]",
      [
        0x90,  // SUBACK
        0x04,  // remaining length 4
        0x00, 0x01,  // packet id 1
        0x00,  // granted QoS 0
        0x81,  // return code 0x81: reserved
      ],
      bad(.invalidSubscriptionOptions), version: .v311),
    Vector(
      "SUBACK with packet id 0", "[MQTT-2.3.1-1]",
      [
        0x90,  // SUBACK
        0x03,  // remaining length 3
        0x00, 0x00,  // packet id 0
        0x00,  // granted QoS 0
      ],
      bad(.zeroPacketIdentifier), version: .v311),
    Vector(
      "SUBACK with half a packet id", "§3.9.2",
      [
        0x90,  // SUBACK
        0x01,  // remaining length 1
        0x00,  // first byte of the packet id
      ],
      bad(.truncated), version: .v311),

    // UNSUBSCRIBE
    Vector(
      "UNSUBSCRIBE with packet id 0", "[MQTT-2.3.1-1]",
      [
        0xA2,  // UNSUBSCRIBE
        0x05,  // remaining length 5
        0x00, 0x00,  // packet id 0
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
      ],
      bad(.zeroPacketIdentifier), version: .v311),
    Vector(
      "UNSUBSCRIBE without filters", "[MQTT-3.10.3-2]",
      [
        0xA2,  // UNSUBSCRIBE
        0x02,  // remaining length 2
        0x00, 0x01,  // packet id 1 and no payload
      ],
      bad(.noTopicFilters), version: .v311),
    Vector(
      "UNSUBSCRIBE filter \"a/#/b\"", "[MQTT-4.7.1-2]",
      [
        0xA2,  // UNSUBSCRIBE
        0x09,  // remaining length 9
        0x00, 0x01,  // packet id 1
        0x00, 0x05,  // filter length 5
        0x61, 0x2F, 0x23, 0x2F, 0x62,  // "a/#/b"
      ],
      bad(.invalidTopicFilter), version: .v311),
    Vector(
      "UNSUBSCRIBE empty filter", "[MQTT-4.7.3-1]",
      [
        0xA2,  // UNSUBSCRIBE
        0x04,  // remaining length 4
        0x00, 0x01,  // packet id 1
        0x00, 0x00,  // filter length 0
      ],
      bad(.invalidTopicFilter), version: .v311),
    Vector(
      "UNSUBSCRIBE filter longer than the packet", "[MQTT-3.10.3-1]",
      [
        0xA2,  // UNSUBSCRIBE
        0x05,  // remaining length 5
        0x00, 0x01,  // packet id 1
        0x00, 0x05,  // filter length 5
        0x61,  // "a" and the packet ends
      ],
      bad(.truncated), version: .v311),
    Vector(
      "UNSUBSCRIBE second filter cut short", "[MQTT-3.10.3-1]",
      [
        0xA2,  // UNSUBSCRIBE
        0x06,  // remaining length 6
        0x00, 0x01,  // packet id 1
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x00,  // first byte of the next filter length
      ],
      bad(.truncated), version: .v311),
    Vector(
      "UNSUBSCRIBE filter with a lone continuation byte", "[MQTT-3.10.3-1]",
      [
        0xA2,  // UNSUBSCRIBE
        0x05,  // remaining length 5
        0x00, 0x01,  // packet id 1
        0x00, 0x01,  // filter length 1
        0xBF,  // continuation byte without a lead byte
      ],
      bad(.invalidUTF8), version: .v311),

    // PINGREQ, PINGRESP, DISCONNECT
    Vector(
      "PINGREQ with a body", "§3.12",
      [
        0xC0,  // PINGREQ
        0x01,  // remaining length 1
        0x00,  // a body PINGREQ does not have
      ],
      bad(.trailingBytes), version: .v311),
    Vector(
      "PINGRESP with a body", "§3.13",
      [
        0xD0,  // PINGRESP
        0x01,  // remaining length 1
        0x00,  // a body PINGRESP does not have
      ],
      bad(.trailingBytes), version: .v311),
    Vector(
      "DISCONNECT with a body", "§3.14",
      [
        0xE0,  // DISCONNECT
        0x01,  // remaining length 1
        0x00,  // MQTT 5 would read a reason code here; 3.1.1 has no body
      ],
      bad(.trailingBytes), version: .v311),
  ]
}

// MARK: - MQTT 5.0

// Spec references below are to MQTT Version 5.0 (OASIS Standard, 7 March 2019): normative
// statements as [MQTT-x.y.z-n], other sections as §x.y.z. Every vector states the protocol
// version it is decoded with; CONNECT vectors carry their own level, the others are decoded
// on a connection of that version.

/// A property list as a vector expects it (see `Props`).
private func props(_ list: Prop...) -> Props { Props(list) }

extension Vectors {
  static let v5Valid: [Vector] = v5Connect + v5Others

  static let v5Connect: [Vector] = [
    Vector(
      "v5 CONNECT with an empty property block", "§3.1.2.11.1",
      [
        0x10,  // CONNECT
        0x0F,  // remaining length 15
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x05,  // protocol level 5
        0x02,  // connect flags: clean start
        0x00, 0x3C,  // keep alive 60 s
        0x00,  // property length 0
        0x00, 0x02,  // client id length 2
        0x63, 0x31,  // "c1"
      ],
      ok(.connect(.init(level: 5, clean: true, keepAlive: 60, properties: .empty, clientID: "c1"))),
      version: .v5),
    Vector(
      "v5 CONNECT with every CONNECT property, user property repeated", "§3.1.2.11 [MQTT-3.1.2-2]",
      [
        0x10,  // CONNECT
        0x3E,  // remaining length 62
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x05,  // protocol level 5
        0x02,  // connect flags: clean start
        0x00, 0x3C,  // keep alive 60 s
        0x2F,  // property length 47
        0x11, 0x00, 0x00, 0x0E, 0x10,  // Session Expiry Interval 3600 s
        0x21, 0x00, 0x14,  // Receive Maximum 20
        0x27, 0x00, 0x01, 0x00, 0x00,  // Maximum Packet Size 65536
        0x22, 0x00, 0x0A,  // Topic Alias Maximum 10
        0x19, 0x01,  // Request Response Information 1
        0x17, 0x00,  // Request Problem Information 0
        0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x31,  // User Property "a" = "1"
        0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x32,  // User Property "a" = "2" (same key again)
        0x15, 0x00, 0x05, 0x53, 0x43, 0x52, 0x41, 0x4D,  // Authentication Method "SCRAM"
        0x16, 0x00, 0x02, 0x01, 0x02,  // Authentication Data 01 02
        0x00, 0x02,  // client id length 2
        0x63, 0x35,  // "c5"
      ],
      ok(
        .connect(
          .init(
            level: 5, clean: true, keepAlive: 60,
            properties: props(
              .u32(.sessionExpiryInterval, 3600), .u16(.receiveMaximum, 20),
              .u32(.maximumPacketSize, 65536),
              .u16(.topicAliasMaximum, 10), .byte(.requestResponseInformation, 1),
              .byte(.requestProblemInformation, 0), .user("a", "1"), .user("a", "2"),
              .str(.authenticationMethod, "SCRAM"), .bin(.authenticationData, Blob([1, 2]))),
            clientID: "c5"))), version: .v5),
    Vector(
      "v5 CONNECT with every will property, user name and password", "[MQTT-3.1.3-1] §3.1.3.2",
      [
        0x10,  // CONNECT
        0x4A,  // remaining length 74
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x05,  // protocol level 5
        // connect flags: user name 0x80 | password 0x40 | will retain 0x20 | will QoS 1 0x08
        // | will 0x04 | clean start 0x02
        0xEE,
        0x00, 0x3C,  // keep alive 60 s
        0x00,  // property length 0
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
        0x2B,  // will property length 43
        0x18, 0x00, 0x00, 0x00, 0x1E,  // Will Delay Interval 30 s
        0x01, 0x01,  // Payload Format Indicator 1 (UTF-8)
        0x02, 0x00, 0x00, 0x00, 0x3C,  // Message Expiry Interval 60 s
        0x03, 0x00, 0x0A,  // Content Type, length 10
        0x74, 0x65, 0x78, 0x74, 0x2F, 0x70, 0x6C, 0x61, 0x69, 0x6E,  // "text/plain"
        0x08, 0x00, 0x03, 0x72, 0x2F, 0x31,  // Response Topic "r/1"
        0x09, 0x00, 0x02, 0xC0, 0xFF,  // Correlation Data C0 FF (binary, not UTF-8)
        0x26, 0x00, 0x01, 0x6B, 0x00, 0x01, 0x76,  // User Property "k" = "v"
        0x00, 0x03,  // will topic length 3
        0x77, 0x2F, 0x74,  // "w/t"
        0x00, 0x03,  // will payload length 3
        0x62, 0x79, 0x65,  // "bye"
        0x00, 0x01,  // user name length 1
        0x75,  // "u"
        0x00, 0x01,  // password length 1
        0x70,  // "p"
      ],
      ok(
        .connect(
          .init(
            level: 5, clean: true, keepAlive: 60, properties: .empty, clientID: "c",
            will: .init(
              topic: "w/t", payload: "bye", qos: 1, retain: true,
              properties: props(
                .u32(.willDelayInterval, 30), .byte(.payloadFormatIndicator, 1),
                .u32(.messageExpiryInterval, 60),
                .str(.contentType, "text/plain"), .str(.responseTopic, "r/1"),
                .bin(.correlationData, Blob([0xC0, 0xFF])), .user("k", "v"))),
            username: "u", password: "p"))), version: .v5),
    Vector(
      "v5 CONNECT with a password and no user name", "§3.1.2.9 [MQTT-3.1.2-19]",
      [
        0x10,  // CONNECT
        0x12,  // remaining length 18
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x05,  // protocol level 5
        0x42,  // connect flags: password 0x40 | clean start 0x02 (no user name: legal in MQTT 5)
        0x00, 0x3C,  // keep alive 60 s
        0x00,  // property length 0
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
        0x00, 0x02,  // password length 2
        0x70, 0x77,  // "pw"
      ],
      ok(
        .connect(
          .init(
            level: 5, clean: true, keepAlive: 60, properties: .empty, clientID: "c", password: "pw")
        )),
      version: .v5),
  ]

  static let v5Others: [Vector] = [
    // CONNACK
    Vector(
      "v5 CONNACK success with an empty property block", "§3.2.2.3.1",
      [
        0x20,  // CONNACK
        0x03,  // remaining length 3
        0x00,  // acknowledge flags: session present 0
        0x00,  // reason code 0x00 Success
        0x00,  // property length 0
      ],
      ok(.connack(sessionPresent: false, returnCode: 0, properties: .empty)), version: .v5),
    Vector(
      "v5 CONNACK with every CONNACK property", "§3.2.2.3 [MQTT-3.2.2-3]",
      [
        0x20,  // CONNACK
        0x51,  // remaining length 81
        0x01,  // acknowledge flags: session present 1
        0x00,  // reason code 0x00 Success
        0x4E,  // property length 78
        0x11, 0xFF, 0xFF, 0xFF, 0xFF,  // Session Expiry Interval 0xFFFFFFFF (never expires)
        0x21, 0x00, 0x64,  // Receive Maximum 100
        0x24, 0x01,  // Maximum QoS 1
        0x25, 0x00,  // Retain Available 0
        0x27, 0x00, 0x10, 0x00, 0x00,  // Maximum Packet Size 1048576
        0x12, 0x00, 0x06,  // Assigned Client Identifier, length 6
        0x61, 0x75, 0x74, 0x6F, 0x2D, 0x31,  // "auto-1"
        0x22, 0x00, 0x10,  // Topic Alias Maximum 16
        0x1F, 0x00, 0x02, 0x6F, 0x6B,  // Reason String "ok"
        0x26, 0x00, 0x01, 0x73, 0x00, 0x01, 0x31,  // User Property "s" = "1"
        0x28, 0x01,  // Wildcard Subscription Available 1
        0x29, 0x01,  // Subscription Identifiers Available 1
        0x2A, 0x00,  // Shared Subscription Available 0
        0x13, 0x00, 0x1E,  // Server Keep Alive 30 s
        0x1A, 0x00, 0x05, 0x72, 0x65, 0x73, 0x70, 0x2F,  // Response Information "resp/"
        0x1C, 0x00, 0x05, 0x6F, 0x74, 0x68, 0x65, 0x72,  // Server Reference "other"
        0x15, 0x00, 0x05, 0x53, 0x43, 0x52, 0x41, 0x4D,  // Authentication Method "SCRAM"
        0x16, 0x00, 0x01, 0xAA,  // Authentication Data AA
      ],
      ok(
        .connack(
          sessionPresent: true, returnCode: 0,
          properties: props(
            .u32(.sessionExpiryInterval, 0xFFFF_FFFF), .u16(.receiveMaximum, 100),
            .byte(.maximumQoS, 1),
            .byte(.retainAvailable, 0), .u32(.maximumPacketSize, 1_048_576),
            .str(.assignedClientIdentifier, "auto-1"), .u16(.topicAliasMaximum, 16),
            .str(.reasonString, "ok"),
            .user("s", "1"), .byte(.wildcardSubscriptionAvailable, 1),
            .byte(.subscriptionIdentifierAvailable, 1), .byte(.sharedSubscriptionAvailable, 0),
            .u16(.serverKeepAlive, 30), .str(.responseInformation, "resp/"),
            .str(.serverReference, "other"),
            .str(.authenticationMethod, "SCRAM"), .bin(.authenticationData, Blob([0xAA]))))),
      version: .v5),
    Vector(
      "v5 CONNACK 0x87 Not authorized with a reason string", "§3.2.2.2 [MQTT-3.2.2-6]",
      [
        0x20,  // CONNACK
        0x0C,  // remaining length 12
        0x00,  // acknowledge flags: session present 0
        0x87,  // reason code 0x87 Not authorized
        0x09,  // property length 9
        0x1F, 0x00, 0x06, 0x64, 0x65, 0x6E, 0x69, 0x65, 0x64,  // Reason String "denied"
      ],
      ok(
        .connack(
          sessionPresent: false, returnCode: 0x87, properties: props(.str(.reasonString, "denied")))
      ),
      version: .v5),

    // PUBLISH
    Vector(
      "v5 PUBLISH QoS 0 with an empty property block", "§3.3.2.3.1",
      [
        0x30,  // PUBLISH, QoS 0
        0x08,  // remaining length 8
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x00,  // property length 0
        0x68, 0x69,  // payload "hi"
      ],
      ok(.publish(.init(topic: "a/b", payload: "hi", qos: 0, properties: .empty))), version: .v5),
    Vector(
      "v5 PUBLISH QoS 1 with every PUBLISH property", "§3.3.2.3 [MQTT-3.3.4-4] [MQTT-3.3.2-18]",
      [
        0x32,  // PUBLISH, QoS 1
        0x40,  // remaining length 64
        0x00, 0x03,  // topic length 3
        0x74, 0x2F, 0x31,  // "t/1"
        0x00, 0x0A,  // packet id 10
        0x36,  // property length 54
        0x01, 0x01,  // Payload Format Indicator 1 (UTF-8)
        0x02, 0x00, 0x00, 0x0E, 0x10,  // Message Expiry Interval 3600 s
        0x23, 0x00, 0x01,  // Topic Alias 1
        0x08, 0x00, 0x04, 0x72, 0x65, 0x2F, 0x31,  // Response Topic "re/1"
        0x09, 0x00, 0x03, 0x01, 0x02, 0x03,  // Correlation Data 01 02 03
        0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x31,  // User Property "a" = "1"
        0x26, 0x00, 0x01, 0x62, 0x00, 0x01, 0x32,  // User Property "b" = "2" (order kept)
        0x0B, 0x01,  // Subscription Identifier 1
        0x0B, 0xC8, 0x01,  // Subscription Identifier 200 (two bytes)
        0x0B, 0xFF, 0xFF, 0xFF, 0x7F,  // Subscription Identifier 268435455 (the largest)
        0x03, 0x00, 0x04, 0x6A, 0x73, 0x6F, 0x6E,  // Content Type "json"
        0x7B, 0x7D,  // payload "{}"
      ],
      ok(
        .publish(
          .init(
            topic: "t/1", payload: "{}", qos: 1, id: 10,
            properties: props(
              .byte(.payloadFormatIndicator, 1), .u32(.messageExpiryInterval, 3600),
              .u16(.topicAlias, 1),
              .str(.responseTopic, "re/1"), .bin(.correlationData, Blob([1, 2, 3])),
              .user("a", "1"),
              .user("b", "2"), .vbi(.subscriptionIdentifier, 1), .vbi(.subscriptionIdentifier, 200),
              .vbi(.subscriptionIdentifier, 268_435_455), .str(.contentType, "json"))))),
      version: .v5),
    Vector(
      "v5 PUBLISH with a Topic Alias and an empty topic name", "§3.3.2.1 §3.3.2.3.4",
      [
        0x30,  // PUBLISH, QoS 0
        0x07,  // remaining length 7
        0x00, 0x00,  // topic length 0: the Topic Alias stands for the topic
        0x03,  // property length 3
        0x23, 0x00, 0x05,  // Topic Alias 5
        0x78,  // payload "x"
      ],
      ok(.publish(.init(topic: "", payload: "x", qos: 0, properties: props(.u16(.topicAlias, 5))))),
      version: .v5),
    Vector(
      "v5 PUBLISH QoS 2 DUP retained, topic and Topic Alias together", "§3.3.2.3.4",
      [
        0x3D,  // PUBLISH, DUP, QoS 2, retain
        0x0B,  // remaining length 11
        0x00, 0x01,  // topic length 1
        0x78,  // "x"
        0xFF, 0xFF,  // packet id 65535
        0x03,  // property length 3
        0x23, 0xFF, 0xFF,  // Topic Alias 65535
        0x00, 0xFF,  // payload 00 FF (binary)
      ],
      ok(
        .publish(
          .init(
            topic: "x", payload: Blob([0x00, 0xFF]), qos: 2, retain: true, dup: true, id: 0xFFFF,
            properties: props(.u16(.topicAlias, 0xFFFF))))), version: .v5),
    Vector(
      "v5 PUBLISH with a 136-byte property block (two-byte property length)", "§2.2.2.1 §1.5.5",
      [
        0x30,  // PUBLISH, QoS 0
        0x8D, 0x01,  // remaining length 141
        0x00, 0x01,  // topic length 1
        0x74,  // "t"
        0x88, 0x01,  // property length 136 in two bytes
        0x26,  // User Property
        0x00, 0x01, 0x6B,  // key "k"
        0x00, 0x82,  // value length 130
      ] + Array(repeating: 0x76, count: 130),  // value: 130 times "v"; no payload
      ok(
        .publish(
          .init(
            topic: "t", payload: "", qos: 0,
            properties: props(.user("k", Blob(Array(repeating: 0x76, count: 130))))))), version: .v5
    ),

    // PUBACK, PUBREC, PUBREL, PUBCOMP: three forms each (§3.4.2.1)
    Vector(
      "v5 PUBACK remaining length 2 (reason and properties omitted)", "§3.4.2.1",
      [
        0x40,  // PUBACK
        0x02,  // remaining length 2: reason code 0x00 Success, no properties
        0x00, 0x01,  // packet id 1
      ],
      ok(.puback(1)), version: .v5),
    Vector(
      "v5 PUBACK remaining length 3, reason 0x10 No matching subscribers",
      "[MQTT-3.4.2-1] §3.4.2.1",
      [
        0x40,  // PUBACK
        0x03,  // remaining length 3: reason code only
        0x00, 0x02,  // packet id 2
        0x10,  // reason code 0x10 No matching subscribers
      ],
      ok(.puback(2, reason: 0x10)), version: .v5),
    Vector(
      "v5 PUBACK remaining length 4, reason 0x00 and an empty property block", "§3.4.2.2.1",
      [
        0x40,  // PUBACK
        0x04,  // remaining length 4
        0x00, 0x03,  // packet id 3
        0x00,  // reason code 0x00 Success
        0x00,  // property length 0
      ],
      ok(.puback(3, reason: 0, properties: .empty)), version: .v5),
    Vector(
      "v5 PUBACK 0x80 with reason string and user property", "§3.4.2.2",
      [
        0x40,  // PUBACK
        0x12,  // remaining length 18
        0x00, 0x04,  // packet id 4
        0x80,  // reason code 0x80 Unspecified error
        0x0E,  // property length 14
        0x1F, 0x00, 0x04, 0x66, 0x61, 0x69, 0x6C,  // Reason String "fail"
        0x26, 0x00, 0x01, 0x6B, 0x00, 0x01, 0x76,  // User Property "k" = "v"
      ],
      ok(.puback(4, reason: 0x80, properties: props(.str(.reasonString, "fail"), .user("k", "v")))),
      version: .v5),
    Vector(
      "v5 PUBREC remaining length 3, reason 0x91 Packet Identifier in use", "[MQTT-3.5.2-1]",
      [
        0x50,  // PUBREC
        0x03,  // remaining length 3
        0x00, 0x05,  // packet id 5
        0x91,  // reason code 0x91 Packet Identifier in use
      ],
      ok(.pubrec(5, reason: 0x91)), version: .v5),
    Vector(
      "v5 PUBREC 0x97 Quota exceeded with a reason string", "§3.5.2.2",
      [
        0x50,  // PUBREC
        0x0C,  // remaining length 12
        0x00, 0x06,  // packet id 6
        0x97,  // reason code 0x97 Quota exceeded
        0x08,  // property length 8
        0x1F, 0x00, 0x05, 0x71, 0x75, 0x6F, 0x74, 0x61,  // Reason String "quota"
      ],
      ok(.pubrec(6, reason: 0x97, properties: props(.str(.reasonString, "quota")))), version: .v5),
    Vector(
      "v5 PUBREL remaining length 3, reason 0x92 Packet Identifier not found", "[MQTT-3.6.2-1]",
      [
        0x62,  // PUBREL, flags 0010
        0x03,  // remaining length 3
        0x00, 0x07,  // packet id 7
        0x92,  // reason code 0x92 Packet Identifier not found
      ],
      ok(.pubrel(7, reason: 0x92)), version: .v5),
    Vector(
      "v5 PUBREL remaining length 4 with an empty property block", "§3.6.2.2.1",
      [
        0x62,  // PUBREL, flags 0010
        0x04,  // remaining length 4
        0x00, 0x08,  // packet id 8
        0x00,  // reason code 0x00 Success
        0x00,  // property length 0
      ],
      ok(.pubrel(8, reason: 0, properties: .empty)), version: .v5),
    Vector(
      "v5 PUBCOMP remaining length 2", "§3.7.2.1",
      [
        0x70,  // PUBCOMP
        0x02,  // remaining length 2: reason code 0x00 Success, no properties
        0x00, 0x09,  // packet id 9
      ],
      ok(.pubcomp(9)), version: .v5),
    Vector(
      "v5 PUBCOMP with a user property with an empty value", "§3.7.2.2.3 §1.5.7",
      [
        0x70,  // PUBCOMP
        0x0A,  // remaining length 10
        0x00, 0x0A,  // packet id 10
        0x00,  // reason code 0x00 Success
        0x06,  // property length 6
        0x26, 0x00, 0x01, 0x61, 0x00, 0x00,  // User Property "a" = ""
      ],
      ok(.pubcomp(10, reason: 0, properties: props(.user("a", "")))), version: .v5),

    // SUBSCRIBE, SUBACK
    Vector(
      "v5 SUBSCRIBE with subscription options and a Subscription Identifier", "§3.8.3.1 §3.8.2.1.2",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x1C,  // remaining length 28
        0x00, 0x0C,  // packet id 12
        0x09,  // property length 9
        0x0B, 0x2A,  // Subscription Identifier 42
        0x26, 0x00, 0x01, 0x75, 0x00, 0x01, 0x78,  // User Property "u" = "x"
        0x00, 0x03,  // filter length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x2D,  // options: Retain Handling 2 0x20 | Retain As Published 0x08 | No Local 0x04 | QoS 1
        0x00, 0x03,  // filter length 3
        0x63, 0x2F, 0x23,  // "c/#"
        0x12,  // options: Retain Handling 1 0x10 | QoS 2
        0x00, 0x01,  // filter length 1
        0x64,  // "d"
        0x00,  // options: all 0
      ],
      ok(
        .subscribe(
          id: 12, properties: props(.vbi(.subscriptionIdentifier, 42), .user("u", "x")),
          [.init("a/b", 1, noLocal: true, rap: true, rh: 2), .init("c/#", 2, rh: 1), .init("d", 0)])
      ),
      version: .v5),
    Vector(
      "v5 SUBSCRIBE to shared subscriptions $share/{ShareName}/{filter}",
      "[MQTT-4.8.2-1] [MQTT-4.8.2-2]",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x21,  // remaining length 33
        0x00, 0x0D,  // packet id 13
        0x00,  // property length 0
        0x00, 0x0E,  // filter length 14
        0x24, 0x73, 0x68, 0x61, 0x72, 0x65, 0x2F,  // "$share/"
        0x67, 0x72, 0x70, 0x2F, 0x73, 0x2F, 0x2B,  // "grp/s/+"
        0x01,  // options: QoS 1
        0x00, 0x0A,  // filter length 10
        0x24, 0x73, 0x68, 0x61, 0x72, 0x65, 0x2F,  // "$share/"
        0x67, 0x2F, 0x23,  // "g/#"
        0x2A,  // options: Retain Handling 2 | Retain As Published | QoS 2
      ],
      ok(
        .subscribe(
          id: 13, properties: .empty,
          [.init("$share/grp/s/+", 1), .init("$share/g/#", 2, rap: true, rh: 2)])),
      version: .v5),
    Vector(
      "v5 SUBSCRIBE \"$share\" and \"$shared/a\" are ordinary filters (No Local allowed)", "§4.8.2",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x18,  // remaining length 24
        0x00, 0x0E,  // packet id 14
        0x00,  // property length 0
        0x00, 0x06,  // filter length 6
        0x24, 0x73, 0x68, 0x61, 0x72, 0x65,  // "$share" (no "/": not a shared subscription)
        0x04,  // options: No Local | QoS 0
        0x00, 0x09,  // filter length 9
        0x24, 0x73, 0x68, 0x61, 0x72, 0x65, 0x64, 0x2F, 0x61,  // "$shared/a"
        0x04,  // options: No Local | QoS 0
      ],
      ok(
        .subscribe(
          id: 14, properties: .empty,
          [.init("$share", 0, noLocal: true), .init("$shared/a", 0, noLocal: true)])),
      version: .v5),
    Vector(
      "v5 SUBACK with every SUBACK reason code", "[MQTT-3.9.3-2] §3.9.3",
      [
        0x90,  // SUBACK
        0x0F,  // remaining length 15
        0x00, 0x0C,  // packet id 12
        0x00,  // property length 0
        0x00,  // 0x00 Granted QoS 0
        0x01,  // 0x01 Granted QoS 1
        0x02,  // 0x02 Granted QoS 2
        0x80,  // 0x80 Unspecified error
        0x83,  // 0x83 Implementation specific error
        0x87,  // 0x87 Not authorized
        0x8F,  // 0x8F Topic Filter invalid
        0x91,  // 0x91 Packet Identifier in use
        0x97,  // 0x97 Quota exceeded
        0x9E,  // 0x9E Shared Subscriptions not supported
        0xA1,  // 0xA1 Subscription Identifiers not supported
        0xA2,  // 0xA2 Wildcard Subscriptions not supported
      ],
      ok(
        .suback(
          id: 12, properties: .empty,
          codes: [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2])),
      version: .v5),
    Vector(
      "v5 SUBACK with a reason string", "§3.9.2.1.2",
      [
        0x90,  // SUBACK
        0x0A,  // remaining length 10
        0x00, 0x0D,  // packet id 13
        0x06,  // property length 6
        0x1F, 0x00, 0x03, 0x62, 0x61, 0x64,  // Reason String "bad"
        0x8F,  // 0x8F Topic Filter invalid
      ],
      ok(.suback(id: 13, properties: props(.str(.reasonString, "bad")), codes: [0x8F])),
      version: .v5),

    // UNSUBSCRIBE, UNSUBACK
    Vector(
      "v5 UNSUBSCRIBE with a user property and a shared filter", "§3.10.2.1 §3.10.3",
      [
        0xA2,  // UNSUBSCRIBE, flags 0010
        0x1B,  // remaining length 27
        0x00, 0x0F,  // packet id 15
        0x07,  // property length 7
        0x26, 0x00, 0x01, 0x6B, 0x00, 0x01, 0x76,  // User Property "k" = "v"
        0x00, 0x03,  // filter length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x00, 0x0A,  // filter length 10
        0x24, 0x73, 0x68, 0x61, 0x72, 0x65, 0x2F, 0x67, 0x2F, 0x78,  // "$share/g/x"
      ],
      ok(.unsubscribe(id: 15, properties: props(.user("k", "v")), ["a/b", "$share/g/x"])),
      version: .v5),
    Vector(
      "v5 UNSUBACK with every UNSUBACK reason code", "[MQTT-3.11.3-2] §3.11.3",
      [
        0xB0,  // UNSUBACK
        0x0A,  // remaining length 10
        0x00, 0x0F,  // packet id 15
        0x00,  // property length 0
        0x00,  // 0x00 Success
        0x11,  // 0x11 No subscription existed
        0x80,  // 0x80 Unspecified error
        0x83,  // 0x83 Implementation specific error
        0x87,  // 0x87 Not authorized
        0x8F,  // 0x8F Topic Filter invalid
        0x91,  // 0x91 Packet Identifier in use
      ],
      ok(.unsuback(15, properties: .empty, codes: [0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91])),
      version: .v5),
    Vector(
      "v5 UNSUBACK with a reason string", "§3.11.2.1.2",
      [
        0xB0,  // UNSUBACK
        0x09,  // remaining length 9
        0x00, 0x10,  // packet id 16
        0x05,  // property length 5
        0x1F, 0x00, 0x02, 0x6E, 0x6F,  // Reason String "no"
        0x11,  // 0x11 No subscription existed
      ],
      ok(.unsuback(16, properties: props(.str(.reasonString, "no")), codes: [0x11])), version: .v5),

    // PINGREQ, PINGRESP: the same in MQTT 5
    Vector(
      "v5 PINGREQ", "§3.12",
      [
        0xC0,  // PINGREQ
        0x00,  // remaining length 0
      ],
      ok(.pingreq), version: .v5),
    Vector(
      "v5 PINGRESP", "§3.13",
      [
        0xD0,  // PINGRESP
        0x00,  // remaining length 0
      ],
      ok(.pingresp), version: .v5),

    // DISCONNECT
    Vector(
      "v5 DISCONNECT remaining length 0 (normal disconnection)", "§3.14.2.1",
      [
        0xE0,  // DISCONNECT
        0x00,  // remaining length 0: reason code 0x00, no properties
      ],
      ok(.disconnect()), version: .v5),
    Vector(
      "v5 DISCONNECT remaining length 1, 0x04 Disconnect with Will Message",
      "[MQTT-3.14.2-1] §3.14.2.1",
      [
        0xE0,  // DISCONNECT
        0x01,  // remaining length 1: reason code only
        0x04,  // reason code 0x04 Disconnect with Will Message
      ],
      ok(.disconnect(reason: 0x04)), version: .v5),
    Vector(
      "v5 DISCONNECT remaining length 2 with an empty property block", "§3.14.2.2.1",
      [
        0xE0,  // DISCONNECT
        0x02,  // remaining length 2
        0x00,  // reason code 0x00 Normal disconnection
        0x00,  // property length 0
      ],
      ok(.disconnect(reason: 0, properties: .empty)), version: .v5),
    Vector(
      "v5 DISCONNECT 0x9C with every DISCONNECT property", "§3.14.2.2",
      [
        0xE0,  // DISCONNECT
        0x1E,  // remaining length 30
        0x9C,  // reason code 0x9C Use another server
        0x1C,  // property length 28
        0x11, 0x00, 0x00, 0x00, 0x00,  // Session Expiry Interval 0
        0x1F, 0x00, 0x06, 0x6D, 0x6F, 0x76, 0x69, 0x6E, 0x67,  // Reason String "moving"
        0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x62,  // User Property "a" = "b"
        0x1C, 0x00, 0x04, 0x73, 0x72, 0x76, 0x32,  // Server Reference "srv2"
      ],
      ok(
        .disconnect(
          reason: 0x9C,
          properties: props(
            .u32(.sessionExpiryInterval, 0), .str(.reasonString, "moving"), .user("a", "b"),
            .str(.serverReference, "srv2")))), version: .v5),

    // AUTH
    Vector(
      "v5 AUTH remaining length 0 (reason and properties omitted)", "§3.15.2.1",
      [
        0xF0,  // AUTH
        0x00,  // remaining length 0: reason code 0x00 Success, no properties
      ],
      ok(.auth()), version: .v5),
    Vector(
      "v5 AUTH 0x18 Continue authentication with every AUTH property", "[MQTT-3.15.2-1] §3.15.2.2",
      [
        0xF0,  // AUTH
        0x1E,  // remaining length 30
        0x18,  // reason code 0x18 Continue authentication
        0x1C,  // property length 28
        0x15, 0x00, 0x05, 0x53, 0x43, 0x52, 0x41, 0x4D,  // Authentication Method "SCRAM"
        0x16, 0x00, 0x03, 0x01, 0x02, 0x03,  // Authentication Data 01 02 03
        0x1F, 0x00, 0x04, 0x6E, 0x65, 0x78, 0x74,  // Reason String "next"
        0x26, 0x00, 0x01, 0x6B, 0x00, 0x01, 0x76,  // User Property "k" = "v"
      ],
      ok(
        .auth(
          reason: 0x18,
          properties: props(
            .str(.authenticationMethod, "SCRAM"), .bin(.authenticationData, Blob([1, 2, 3])),
            .str(.reasonString, "next"), .user("k", "v")))), version: .v5),
    Vector(
      "v5 AUTH 0x19 Re-authenticate with an Authentication Method", "§3.15.2.1",
      [
        0xF0,  // AUTH
        0x0A,  // remaining length 10
        0x19,  // reason code 0x19 Re-authenticate
        0x08,  // property length 8
        0x15, 0x00, 0x05, 0x53, 0x43, 0x52, 0x41, 0x4D,  // Authentication Method "SCRAM"
      ],
      ok(.auth(reason: 0x19, properties: props(.str(.authenticationMethod, "SCRAM")))), version: .v5
    ),
  ]
}

extension Vectors {
  static let v5Malformed: [Vector] = v5Header + v5PropertyErrors + v5PacketErrors + v5KnownGaps

  /// MQTT 5 errors found from the fixed header alone.
  static let v5Header: [Vector] = [
    Vector(
      "v5 PINGREQ remaining length 0x80 0x00 (0 in two bytes)", "[MQTT-1.5.5-1]",
      [
        0xC0,  // PINGREQ
        0x80, 0x00,  // remaining length 0, not in the minimum number of bytes
      ],
      bad(.malformedVariableByteInteger, after: 3), version: .v5),
    Vector(
      "v5 PUBACK remaining length 0x82 0x00 (2 in two bytes)", "[MQTT-1.5.5-1]",
      [
        0x40,  // PUBACK
        0x82, 0x00,  // remaining length 2, not in the minimum number of bytes
        0x00, 0x01,  // packet id 1 (never looked at)
      ],
      bad(.malformedVariableByteInteger, after: 3), version: .v5),
    Vector(
      "v5 PUBLISH remaining length 0xFF 0x80 0x00 (127 in three bytes)", "[MQTT-1.5.5-1]",
      [
        0x30,  // PUBLISH
        0xFF, 0x80, 0x00,  // remaining length 127 in three bytes
      ],
      bad(.malformedVariableByteInteger, after: 4), version: .v5),
    Vector(
      "AUTH with an MQTT 5 body on a 3.1.1 connection",
      "§2.1.2 Table 2-1 (3.1.1: type 15 reserved)",
      [
        0xF0,  // type 15: AUTH in MQTT 5, reserved in 3.1.1
        0x02,  // remaining length 2
        0x18,  // reason code 0x18 Continue authentication
        0x00,  // property length 0
      ],
      bad(.reservedPacketType, after: 1), version: .v311),
    Vector(
      "v5 AUTH with flags 0001", "[MQTT-3.15.1-1]",
      [
        0xF1,  // AUTH, reserved flags must be 0000
        0x00,  // remaining length 0
      ],
      bad(.invalidFixedHeaderFlags, after: 1), version: .v5),
  ]

  /// Property blocks (§2.2.2): identifiers, where each may appear, how often, lengths, values.
  static let v5PropertyErrors: [Vector] = [
    // Unknown identifiers
    Vector(
      "v5 PUBLISH with unknown property 0x04", "§2.2.2.2",
      [
        0x30,  // PUBLISH, QoS 0
        0x06,  // remaining length 6
        0x00, 0x01,  // topic length 1
        0x74,  // "t"
        0x02,  // property length 2
        0x04, 0x00,  // identifier 0x04: not an MQTT 5 property
      ],
      bad(.malformedProperty), version: .v5),
    Vector(
      "v5 CONNACK with unknown property 0x2B", "§2.2.2.2",
      [
        0x20,  // CONNACK
        0x05,  // remaining length 5
        0x00,  // acknowledge flags
        0x00,  // reason code 0x00 Success
        0x02,  // property length 2
        0x2B, 0x01,  // identifier 0x2B: one past the last defined property
      ],
      bad(.malformedProperty), version: .v5),
    Vector(
      "v5 DISCONNECT with unknown property 0x7F", "§2.2.2.2",
      [
        0xE0,  // DISCONNECT
        0x04,  // remaining length 4
        0x00,  // reason code 0x00 Normal disconnection
        0x02,  // property length 2
        0x7F, 0x00,  // identifier 0x7F: the largest one-byte identifier, undefined
      ],
      bad(.malformedProperty), version: .v5),
    Vector(
      "v5 PUBACK with property identifier 0x00", "§2.2.2.2",
      [
        0x40,  // PUBACK
        0x05,  // remaining length 5
        0x00, 0x01,  // packet id 1
        0x00,  // reason code 0x00 Success
        0x01,  // property length 1
        0x00,  // identifier 0x00: undefined
      ],
      bad(.malformedProperty), version: .v5),
    Vector(
      "v5 PUBLISH with a two-byte property identifier 0x80 0x01", "§2.2.2.2",
      [
        0x30,  // PUBLISH, QoS 0
        0x07,  // remaining length 7
        0x00, 0x01,  // topic length 1
        0x74,  // "t"
        0x03,  // property length 3
        0x80, 0x01,  // identifier 128 as a two-byte variable byte integer: none is defined
        0x00,  // a value byte
      ],
      bad(.malformedProperty), version: .v5),
    Vector(
      "v5 PUBLISH with property identifier 0x81 0x00 (1 in two bytes)", "[MQTT-1.5.5-1] §2.2.2.2",
      [
        0x30,  // PUBLISH, QoS 0
        0x07,  // remaining length 7
        0x00, 0x01,  // topic length 1
        0x74,  // "t"
        0x03,  // property length 3
        0x81, 0x00,  // identifier 1 (Payload Format Indicator), not in the minimum number of bytes
        0x01,  // value 1
      ],
      bad(.malformedVariableByteInteger), version: .v5),

    // Properties not allowed in this packet
    Vector(
      "v5 CONNECT with a Topic Alias", "§2.2.2.2 §3.1.2.11",
      [
        0x10,  // CONNECT
        0x11,  // remaining length 17
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x05,  // protocol level 5
        0x02,  // connect flags: clean start
        0x00, 0x3C,  // keep alive 60 s
        0x03,  // property length 3
        0x23, 0x00, 0x01,  // Topic Alias 1: a PUBLISH property
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
      ],
      bad(.malformedProperty), version: .v5),
    Vector(
      "v5 CONNECT with a Will Delay Interval among the CONNECT properties", "§2.2.2.2 §3.1.2.11",
      [
        0x10,  // CONNECT
        0x13,  // remaining length 19
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x05,  // protocol level 5
        0x02,  // connect flags: clean start
        0x00, 0x3C,  // keep alive 60 s
        0x05,  // property length 5
        0x18, 0x00, 0x00, 0x00, 0x05,  // Will Delay Interval 5: a will property
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
      ],
      bad(.malformedProperty), version: .v5),
    Vector(
      "v5 CONNECT with a Session Expiry Interval among the will properties", "§2.2.2.2 §3.1.3.2",
      [
        0x10,  // CONNECT
        0x19,  // remaining length 25
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x05,  // protocol level 5
        0x06,  // connect flags: will 0x04 | clean start 0x02
        0x00, 0x3C,  // keep alive 60 s
        0x00,  // property length 0
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
        0x05,  // will property length 5
        0x11, 0x00, 0x00, 0x00, 0x01,  // Session Expiry Interval 1: a CONNECT property
        0x00, 0x01,  // will topic length 1
        0x74,  // "t"
        0x00, 0x00,  // will payload length 0
      ],
      bad(.malformedProperty), version: .v5),
    Vector(
      "v5 PUBLISH with a Will Delay Interval", "§2.2.2.2 §3.3.2.3",
      [
        0x30,  // PUBLISH, QoS 0
        0x09,  // remaining length 9
        0x00, 0x01,  // topic length 1
        0x74,  // "t"
        0x05,  // property length 5
        0x18, 0x00, 0x00, 0x00, 0x01,  // Will Delay Interval 1: a will property
      ],
      bad(.malformedProperty), version: .v5),
    Vector(
      "v5 SUBSCRIBE with a Reason String", "§2.2.2.2 §3.8.2.1",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x0B,  // remaining length 11
        0x00, 0x01,  // packet id 1
        0x04,  // property length 4
        0x1F, 0x00, 0x01, 0x78,  // Reason String "x": not a SUBSCRIBE property
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x00,  // options: QoS 0
      ],
      bad(.malformedProperty), version: .v5),
    Vector(
      "v5 UNSUBSCRIBE with a Subscription Identifier", "§2.2.2.2 §3.10.2.1",
      [
        0xA2,  // UNSUBSCRIBE, flags 0010
        0x08,  // remaining length 8
        0x00, 0x01,  // packet id 1
        0x02,  // property length 2
        0x0B, 0x01,  // Subscription Identifier 1: only User Property is allowed here
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
      ],
      bad(.malformedProperty), version: .v5),
    Vector(
      "v5 AUTH with a Topic Alias", "§2.2.2.2 §3.15.2.2",
      [
        0xF0,  // AUTH
        0x05,  // remaining length 5
        0x18,  // reason code 0x18 Continue authentication
        0x03,  // property length 3
        0x23, 0x00, 0x01,  // Topic Alias 1: a PUBLISH property
      ],
      bad(.malformedProperty), version: .v5),
    Vector(
      "v5 PUBACK with a Server Reference", "§2.2.2.2 §3.4.2.2",
      [
        0x40,  // PUBACK
        0x08,  // remaining length 8
        0x00, 0x01,  // packet id 1
        0x00,  // reason code 0x00 Success
        0x04,  // property length 4
        0x1C, 0x00, 0x01, 0x73,  // Server Reference "s": CONNACK and DISCONNECT only
      ],
      bad(.malformedProperty), version: .v5),

    // Duplicates
    Vector(
      "v5 CONNECT with two Session Expiry Intervals", "§3.1.2.11.2",
      [
        0x10,  // CONNECT
        0x18,  // remaining length 24
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x05,  // protocol level 5
        0x02,  // connect flags: clean start
        0x00, 0x3C,  // keep alive 60 s
        0x0A,  // property length 10
        0x11, 0x00, 0x00, 0x00, 0x01,  // Session Expiry Interval 1
        0x11, 0x00, 0x00, 0x00, 0x02,  // Session Expiry Interval 2: "more than once"
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
      ],
      bad(.duplicateProperty), version: .v5),
    Vector(
      "v5 SUBSCRIBE with two Subscription Identifiers", "§3.8.2.1.2",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x0B,  // remaining length 11
        0x00, 0x01,  // packet id 1
        0x04,  // property length 4
        0x0B, 0x01,  // Subscription Identifier 1
        0x0B, 0x02,  // Subscription Identifier 2: at most one in a SUBSCRIBE
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x00,  // options: QoS 0
      ],
      bad(.duplicateProperty), version: .v5),
    Vector(
      "v5 PUBLISH with two Topic Aliases", "§3.3.2.3.4",
      [
        0x30,  // PUBLISH, QoS 0
        0x0A,  // remaining length 10
        0x00, 0x01,  // topic length 1
        0x74,  // "t"
        0x06,  // property length 6
        0x23, 0x00, 0x01,  // Topic Alias 1
        0x23, 0x00, 0x02,  // Topic Alias 2
      ],
      bad(.duplicateProperty), version: .v5),
    Vector(
      "v5 PUBACK with two Reason Strings", "§3.4.2.2.2",
      [
        0x40,  // PUBACK
        0x0C,  // remaining length 12
        0x00, 0x01,  // packet id 1
        0x80,  // reason code 0x80 Unspecified error
        0x08,  // property length 8
        0x1F, 0x00, 0x01, 0x61,  // Reason String "a"
        0x1F, 0x00, 0x01, 0x62,  // Reason String "b"
      ],
      bad(.duplicateProperty), version: .v5),
    Vector(
      "v5 CONNACK with two Maximum QoS", "§3.2.2.3.4",
      [
        0x20,  // CONNACK
        0x07,  // remaining length 7
        0x00,  // acknowledge flags
        0x00,  // reason code 0x00 Success
        0x04,  // property length 4
        0x24, 0x00,  // Maximum QoS 0
        0x24, 0x01,  // Maximum QoS 1
      ],
      bad(.duplicateProperty), version: .v5),
    Vector(
      "v5 AUTH with two Authentication Methods", "§3.15.2.2.2",
      [
        0xF0,  // AUTH
        0x0A,  // remaining length 10
        0x18,  // reason code 0x18 Continue authentication
        0x08,  // property length 8
        0x15, 0x00, 0x01, 0x61,  // Authentication Method "a"
        0x15, 0x00, 0x01, 0x62,  // Authentication Method "b"
      ],
      bad(.duplicateProperty), version: .v5),
    Vector(
      "v5 CONNECT with two Payload Format Indicators in the will properties", "§3.1.3.2.2",
      [
        0x10,  // CONNECT
        0x18,  // remaining length 24
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x05,  // protocol level 5
        0x06,  // connect flags: will 0x04 | clean start 0x02
        0x00, 0x3C,  // keep alive 60 s
        0x00,  // property length 0
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
        0x04,  // will property length 4
        0x01, 0x00,  // Payload Format Indicator 0
        0x01, 0x01,  // Payload Format Indicator 1
        0x00, 0x01,  // will topic length 1
        0x74,  // "t"
        0x00, 0x00,  // will payload length 0
      ],
      bad(.duplicateProperty), version: .v5),

    // Lengths
    Vector(
      "v5 PUBLISH property length running past the packet", "§2.2.2.1",
      [
        0x30,  // PUBLISH, QoS 0
        0x06,  // remaining length 6
        0x00, 0x01,  // topic length 1
        0x74,  // "t"
        0x05,  // property length 5, but only 2 bytes follow
        0x23, 0x00,  // the start of a Topic Alias
      ],
      bad(.truncated), version: .v5),
    Vector(
      "v5 CONNACK property length 127 and no properties", "§3.2.2.3.1",
      [
        0x20,  // CONNACK
        0x03,  // remaining length 3
        0x00,  // acknowledge flags
        0x00,  // reason code 0x00 Success
        0x7F,  // property length 127, nothing follows
      ],
      bad(.truncated), version: .v5),
    Vector(
      "v5 PUBACK property length cut inside its variable byte integer", "§2.2.2.1 §1.5.5",
      [
        0x40,  // PUBACK
        0x04,  // remaining length 4
        0x00, 0x01,  // packet id 1
        0x00,  // reason code 0x00 Success
        0x80,  // property length: continuation bit set, and the packet ends
      ],
      bad(.truncated), version: .v5),
    Vector(
      "v5 PUBLISH property length of five bytes", "[MQTT-1.5.5-1] §2.2.2.1",
      [
        0x30,  // PUBLISH, QoS 0
        0x08,  // remaining length 8
        0x00, 0x01,  // topic length 1
        0x74,  // "t"
        0xFF, 0xFF, 0xFF, 0xFF, 0x7F,  // property length: continuation bit on the fourth byte
      ],
      bad(.malformedVariableByteInteger), version: .v5),
    Vector(
      "v5 PUBLISH property length 0x80 0x00 (0 in two bytes)", "[MQTT-1.5.5-1] §2.2.2.1",
      [
        0x30,  // PUBLISH, QoS 0
        0x05,  // remaining length 5
        0x00, 0x01,  // topic length 1
        0x74,  // "t"
        0x80, 0x00,  // property length 0, not in the minimum number of bytes
      ],
      bad(.malformedVariableByteInteger), version: .v5),
    Vector(
      "v5 CONNACK without a property length", "§3.2.2.3.1",
      [
        0x20,  // CONNACK
        0x02,  // remaining length 2: the 3.1.1 form, but MQTT 5 requires the property length
        0x00,  // acknowledge flags
        0x00,  // reason code 0x00 Success
      ],
      bad(.truncated), version: .v5),
    Vector(
      "v5 SUBACK without a property length", "§3.9.2.1.1",
      [
        0x90,  // SUBACK
        0x02,  // remaining length 2
        0x00, 0x01,  // packet id 1, then nothing
      ],
      bad(.truncated), version: .v5),
    Vector(
      "v5 CONNECT without a property length", "§3.1.2.11.1",
      [
        0x10,  // CONNECT
        0x0A,  // remaining length 10
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x05,  // protocol level 5
        0x02,  // connect flags: clean start
        0x00, 0x3C,  // keep alive 60 s, and the packet ends
      ],
      bad(.truncated), version: .v5),

    // Values cut short inside the block
    Vector(
      "v5 CONNECT Receive Maximum with one byte in the block", "§3.1.2.11.3",
      [
        0x10,  // CONNECT
        0x10,  // remaining length 16
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x05,  // protocol level 5
        0x02,  // connect flags: clean start
        0x00, 0x3C,  // keep alive 60 s
        0x02,  // property length 2
        0x21, 0x00,  // Receive Maximum: one of its two bytes; the block ends
        0x00, 0x01,  // client id length 1 (not part of the block)
        0x63,  // "c"
      ],
      bad(.truncated), version: .v5),
    Vector(
      "v5 PUBLISH Content Type longer than the block", "§1.5.4 §3.3.2.3.9",
      [
        0x30,  // PUBLISH, QoS 0
        0x0A,  // remaining length 10
        0x00, 0x01,  // topic length 1
        0x74,  // "t"
        0x04,  // property length 4
        0x03, 0x00, 0x05, 0x61,  // Content Type of length 5, one byte in the block
        0x62, 0x63,  // payload "bc" (not part of the block)
      ],
      bad(.truncated), version: .v5),
    Vector(
      "v5 PUBACK User Property without its value", "§1.5.7 §3.4.2.2.3",
      [
        0x40,  // PUBACK
        0x09,  // remaining length 9
        0x00, 0x01,  // packet id 1
        0x00,  // reason code 0x00 Success
        0x05,  // property length 5
        0x26, 0x00, 0x01, 0x6B,  // User Property, key "k"
        0x00,  // half of the value's length
      ],
      bad(.truncated), version: .v5),
    Vector(
      "v5 SUBSCRIBE Subscription Identifier cut inside its variable byte integer", "§3.8.2.1.2",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x09,  // remaining length 9
        0x00, 0x01,  // packet id 1
        0x02,  // property length 2
        0x0B, 0x80,  // Subscription Identifier: continuation bit set, the block ends
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x00,  // options: QoS 0
      ],
      bad(.truncated), version: .v5),

    // Values out of range
    Vector(
      "v5 CONNECT Receive Maximum 0", "§3.1.2.11.3",
      [
        0x10,  // CONNECT
        0x11,  // remaining length 17
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x05,  // protocol level 5
        0x02,  // connect flags: clean start
        0x00, 0x3C,  // keep alive 60 s
        0x03,  // property length 3
        0x21, 0x00, 0x00,  // Receive Maximum 0: a Protocol Error
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
      ],
      bad(.invalidPropertyValue), version: .v5),
    Vector(
      "v5 CONNACK Receive Maximum 0", "§3.2.2.3.3",
      [
        0x20,  // CONNACK
        0x06,  // remaining length 6
        0x00,  // acknowledge flags
        0x00,  // reason code 0x00 Success
        0x03,  // property length 3
        0x21, 0x00, 0x00,  // Receive Maximum 0
      ],
      bad(.invalidPropertyValue), version: .v5),
    Vector(
      "v5 CONNACK Maximum Packet Size 0", "§3.2.2.3.6",
      [
        0x20,  // CONNACK
        0x08,  // remaining length 8
        0x00,  // acknowledge flags
        0x00,  // reason code 0x00 Success
        0x05,  // property length 5
        0x27, 0x00, 0x00, 0x00, 0x00,  // Maximum Packet Size 0
      ],
      bad(.invalidPropertyValue), version: .v5),
    Vector(
      "v5 CONNECT Maximum Packet Size 0", "§3.1.2.11.4",
      [
        0x10,  // CONNECT
        0x13,  // remaining length 19
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x05,  // protocol level 5
        0x02,  // connect flags: clean start
        0x00, 0x3C,  // keep alive 60 s
        0x05,  // property length 5
        0x27, 0x00, 0x00, 0x00, 0x00,  // Maximum Packet Size 0
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
      ],
      bad(.invalidPropertyValue), version: .v5),
    Vector(
      "v5 PUBLISH Topic Alias 0", "[MQTT-3.3.2-8]",
      [
        0x30,  // PUBLISH, QoS 0
        0x07,  // remaining length 7
        0x00, 0x01,  // topic length 1
        0x74,  // "t"
        0x03,  // property length 3
        0x23, 0x00, 0x00,  // Topic Alias 0
      ],
      bad(.invalidTopicAlias), version: .v5),
    Vector(
      "v5 PUBLISH Payload Format Indicator 2", "§3.3.2.3.2",
      [
        0x30,  // PUBLISH, QoS 0
        0x06,  // remaining length 6
        0x00, 0x01,  // topic length 1
        0x74,  // "t"
        0x02,  // property length 2
        0x01, 0x02,  // Payload Format Indicator 2: only 0 and 1 are defined
      ],
      bad(.invalidPropertyValue), version: .v5),
    Vector(
      "v5 CONNECT Request Problem Information 2", "§3.1.2.11.7",
      [
        0x10,  // CONNECT
        0x10,  // remaining length 16
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x05,  // protocol level 5
        0x02,  // connect flags: clean start
        0x00, 0x3C,  // keep alive 60 s
        0x02,  // property length 2
        0x17, 0x02,  // Request Problem Information 2
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
      ],
      bad(.invalidPropertyValue), version: .v5),
    Vector(
      "v5 CONNECT Request Response Information 2", "§3.1.2.11.6",
      [
        0x10,  // CONNECT
        0x10,  // remaining length 16
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x05,  // protocol level 5
        0x02,  // connect flags: clean start
        0x00, 0x3C,  // keep alive 60 s
        0x02,  // property length 2
        0x19, 0x02,  // Request Response Information 2
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
      ],
      bad(.invalidPropertyValue), version: .v5),
    Vector(
      "v5 SUBSCRIBE Subscription Identifier 0", "§3.8.2.1.2",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x09,  // remaining length 9
        0x00, 0x01,  // packet id 1
        0x02,  // property length 2
        0x0B, 0x00,  // Subscription Identifier 0: a Protocol Error
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x00,  // options: QoS 0
      ],
      bad(.invalidPropertyValue), version: .v5),
    Vector(
      "v5 PUBLISH Subscription Identifier 0", "§3.3.2.3.8",
      [
        0x30,  // PUBLISH, QoS 0
        0x06,  // remaining length 6
        0x00, 0x01,  // topic length 1
        0x74,  // "t"
        0x02,  // property length 2
        0x0B, 0x00,  // Subscription Identifier 0
      ],
      bad(.invalidPropertyValue), version: .v5),
    Vector(
      "v5 SUBSCRIBE Subscription Identifier 0x81 0x00 (1 in two bytes)",
      "[MQTT-1.5.5-1] §3.8.2.1.2",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x0A,  // remaining length 10
        0x00, 0x01,  // packet id 1
        0x03,  // property length 3
        0x0B, 0x81, 0x00,  // Subscription Identifier 1, not in the minimum number of bytes
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x00,  // options: QoS 0
      ],
      bad(.malformedVariableByteInteger), version: .v5),
    Vector(
      "v5 PUBLISH Subscription Identifier of five bytes", "[MQTT-1.5.5-1] §3.3.2.3.8",
      [
        0x30,  // PUBLISH, QoS 0
        0x0A,  // remaining length 10
        0x00, 0x01,  // topic length 1
        0x74,  // "t"
        0x06,  // property length 6
        0x0B, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F,  // Subscription Identifier: five bytes
      ],
      bad(.malformedVariableByteInteger), version: .v5),
    Vector(
      "v5 CONNACK Maximum QoS 2", "§3.2.2.3.4",
      [
        0x20,  // CONNACK
        0x05,  // remaining length 5
        0x00,  // acknowledge flags
        0x00,  // reason code 0x00 Success
        0x02,  // property length 2
        0x24, 0x02,  // Maximum QoS 2: only 0 or 1 may be sent
      ],
      bad(.invalidPropertyValue), version: .v5),
    Vector(
      "v5 CONNACK Retain Available 2", "§3.2.2.3.5",
      [
        0x20,  // CONNACK
        0x05,  // remaining length 5
        0x00,  // acknowledge flags
        0x00,  // reason code 0x00 Success
        0x02,  // property length 2
        0x25, 0x02,  // Retain Available 2
      ],
      bad(.invalidPropertyValue), version: .v5),
    Vector(
      "v5 CONNACK Shared Subscription Available 0xFF", "§3.2.2.3.13",
      [
        0x20,  // CONNACK
        0x05,  // remaining length 5
        0x00,  // acknowledge flags
        0x00,  // reason code 0x00 Success
        0x02,  // property length 2
        0x2A, 0xFF,  // Shared Subscription Available 255
      ],
      bad(.invalidPropertyValue), version: .v5),

    // UTF-8 in string properties [MQTT-1.5.4-1] [MQTT-1.5.4-2] [MQTT-1.5.7-1]
    Vector(
      "v5 PUBLISH Content Type with an overlong encoding", "[MQTT-1.5.4-1] §3.3.2.3.9",
      [
        0x30,  // PUBLISH, QoS 0
        0x09,  // remaining length 9
        0x00, 0x01,  // topic length 1
        0x74,  // "t"
        0x05,  // property length 5
        0x03, 0x00, 0x02, 0xC0, 0x80,  // Content Type: C0 80, an overlong U+0000
      ],
      bad(.invalidUTF8), version: .v5),
    Vector(
      "v5 PUBACK Reason String with U+0000", "[MQTT-1.5.4-2]",
      [
        0x40,  // PUBACK
        0x08,  // remaining length 8
        0x00, 0x01,  // packet id 1
        0x80,  // reason code 0x80 Unspecified error
        0x04,  // property length 4
        0x1F, 0x00, 0x01, 0x00,  // Reason String "\0"
      ],
      bad(.nullCharacter), version: .v5),
    Vector(
      "v5 CONNECT User Property key that is not UTF-8", "[MQTT-1.5.7-1]",
      [
        0x10,  // CONNECT
        0x15,  // remaining length 21
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x05,  // protocol level 5
        0x02,  // connect flags: clean start
        0x00, 0x3C,  // keep alive 60 s
        0x07,  // property length 7
        0x26,  // User Property
        0x00, 0x01, 0xFF,  // key: FF, never valid in UTF-8
        0x00, 0x01, 0x76,  // value "v"
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
      ],
      bad(.invalidUTF8), version: .v5),
    Vector(
      "v5 DISCONNECT User Property value with a surrogate", "[MQTT-1.5.7-1] [MQTT-1.5.4-1]",
      [
        0xE0,  // DISCONNECT
        0x0B,  // remaining length 11
        0x00,  // reason code 0x00 Normal disconnection
        0x09,  // property length 9
        0x26,  // User Property
        0x00, 0x01, 0x6B,  // key "k"
        0x00, 0x03, 0xED, 0xA0, 0x80,  // value: U+D800, a UTF-16 surrogate
      ],
      bad(.invalidUTF8), version: .v5),
    Vector(
      "v5 AUTH Authentication Method with a cut multi-byte sequence", "[MQTT-1.5.4-1] §3.15.2.2.2",
      [
        0xF0,  // AUTH
        0x07,  // remaining length 7
        0x18,  // reason code 0x18 Continue authentication
        0x05,  // property length 5
        0x15, 0x00, 0x02, 0xE2, 0x82,  // Authentication Method: two of the three bytes of "€"
      ],
      bad(.invalidUTF8), version: .v5),
    Vector(
      "v5 CONNECT will Response Topic with U+0000", "[MQTT-1.5.4-2] §3.1.3.2.5",
      [
        0x10,  // CONNECT
        0x18,  // remaining length 24
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x05,  // protocol level 5
        0x06,  // connect flags: will 0x04 | clean start 0x02
        0x00, 0x3C,  // keep alive 60 s
        0x00,  // property length 0
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
        0x04,  // will property length 4
        0x08, 0x00, 0x01, 0x00,  // Response Topic "\0"
        0x00, 0x01,  // will topic length 1
        0x74,  // "t"
        0x00, 0x00,  // will payload length 0
      ],
      bad(.nullCharacter), version: .v5),
  ]

  /// Rules of single MQTT 5 packets outside the property blocks.
  static let v5PacketErrors: [Vector] = [
    // Subscription options (§3.8.3.1)
    Vector(
      "v5 SUBSCRIBE options with reserved bit 6 set", "[MQTT-3.8.3-5]",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x07,  // remaining length 7
        0x00, 0x01,  // packet id 1
        0x00,  // property length 0
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x41,  // options: reserved bit 6 | QoS 1
      ],
      bad(.invalidSubscriptionOptions), version: .v5),
    Vector(
      "v5 SUBSCRIBE options with reserved bit 7 set", "[MQTT-3.8.3-5]",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x07,  // remaining length 7
        0x00, 0x01,  // packet id 1
        0x00,  // property length 0
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x80,  // options: reserved bit 7
      ],
      bad(.invalidSubscriptionOptions), version: .v5),
    Vector(
      "v5 SUBSCRIBE Maximum QoS 3", "§3.8.3.1",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x07,  // remaining length 7
        0x00, 0x01,  // packet id 1
        0x00,  // property length 0
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x03,  // options: QoS 3
      ],
      bad(.invalidRequestedQoS), version: .v5),
    Vector(
      "v5 SUBSCRIBE Retain Handling 3", "§3.8.3.1",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x07,  // remaining length 7
        0x00, 0x01,  // packet id 1
        0x00,  // property length 0
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x30,  // options: Retain Handling 3 | QoS 0
      ],
      bad(.invalidRetainHandling), version: .v5),
    Vector(
      "v5 SUBSCRIBE second entry with Retain Handling 3", "§3.8.3.1",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x0B,  // remaining length 11
        0x00, 0x01,  // packet id 1
        0x00,  // property length 0
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x21,  // options: Retain Handling 2 | QoS 1 (valid)
        0x00, 0x01,  // filter length 1
        0x62,  // "b"
        0x32,  // options: Retain Handling 3 | QoS 2
      ],
      bad(.invalidRetainHandling), version: .v5),
    Vector(
      "v5 SUBSCRIBE No Local on a shared subscription", "[MQTT-3.8.3-4]",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x10,  // remaining length 16
        0x00, 0x01,  // packet id 1
        0x00,  // property length 0
        0x00, 0x0A,  // filter length 10
        0x24, 0x73, 0x68, 0x61, 0x72, 0x65, 0x2F, 0x67, 0x2F, 0x61,  // "$share/g/a"
        0x05,  // options: No Local | QoS 1
      ],
      bad(.sharedSubscriptionNoLocal), version: .v5),
    Vector(
      "v5 SUBSCRIBE without topic filters", "[MQTT-3.8.3-2]",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x03,  // remaining length 3
        0x00, 0x01,  // packet id 1
        0x00,  // property length 0, then no payload
      ],
      bad(.noTopicFilters), version: .v5),
    Vector(
      "v5 UNSUBSCRIBE without topic filters", "[MQTT-3.10.3-2]",
      [
        0xA2,  // UNSUBSCRIBE, flags 0010
        0x03,  // remaining length 3
        0x00, 0x01,  // packet id 1
        0x00,  // property length 0, then no payload
      ],
      bad(.noTopicFilters), version: .v5),

    // Shared subscription syntax (§4.8.2)
    Vector(
      "v5 SUBSCRIBE \"$share/\"", "[MQTT-4.8.2-1]",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x0D,  // remaining length 13
        0x00, 0x01,  // packet id 1
        0x00,  // property length 0
        0x00, 0x07,  // filter length 7
        0x24, 0x73, 0x68, 0x61, 0x72, 0x65, 0x2F,  // "$share/": no ShareName, no filter
        0x00,  // options: QoS 0
      ],
      bad(.invalidSharedSubscription), version: .v5),
    Vector(
      "v5 SUBSCRIBE \"$share/g\"", "[MQTT-4.8.2-2]",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x0E,  // remaining length 14
        0x00, 0x01,  // packet id 1
        0x00,  // property length 0
        0x00, 0x08,  // filter length 8
        0x24, 0x73, 0x68, 0x61, 0x72, 0x65, 0x2F, 0x67,  // "$share/g": no "/" and filter after "g"
        0x00,  // options: QoS 0
      ],
      bad(.invalidSharedSubscription), version: .v5),
    Vector(
      "v5 SUBSCRIBE \"$share//a\"", "[MQTT-4.8.2-1]",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x0F,  // remaining length 15
        0x00, 0x01,  // packet id 1
        0x00,  // property length 0
        0x00, 0x09,  // filter length 9
        0x24, 0x73, 0x68, 0x61, 0x72, 0x65, 0x2F, 0x2F, 0x61,  // "$share//a": empty ShareName
        0x00,  // options: QoS 0
      ],
      bad(.invalidSharedSubscription), version: .v5),
    Vector(
      "v5 SUBSCRIBE \"$share/g+/a\"", "[MQTT-4.8.2-2]",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x11,  // remaining length 17
        0x00, 0x01,  // packet id 1
        0x00,  // property length 0
        0x00, 0x0B,  // filter length 11
        0x24, 0x73, 0x68, 0x61, 0x72, 0x65, 0x2F,  // "$share/"
        0x67, 0x2B, 0x2F, 0x61,  // "g+/a": "+" in the ShareName
        0x00,  // options: QoS 0
      ],
      bad(.invalidSharedSubscription), version: .v5),
    Vector(
      "v5 SUBSCRIBE \"$share/g#/a\"", "[MQTT-4.8.2-2]",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x11,  // remaining length 17
        0x00, 0x01,  // packet id 1
        0x00,  // property length 0
        0x00, 0x0B,  // filter length 11
        0x24, 0x73, 0x68, 0x61, 0x72, 0x65, 0x2F,  // "$share/"
        0x67, 0x23, 0x2F, 0x61,  // "g#/a": "#" in the ShareName
        0x00,  // options: QoS 0
      ],
      bad(.invalidSharedSubscription), version: .v5),
    Vector(
      "v5 SUBSCRIBE \"$share/g/\"", "[MQTT-4.8.2-2] [MQTT-4.7.3-1]",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x0F,  // remaining length 15
        0x00, 0x01,  // packet id 1
        0x00,  // property length 0
        0x00, 0x09,  // filter length 9
        0x24, 0x73, 0x68, 0x61, 0x72, 0x65, 0x2F, 0x67, 0x2F,  // "$share/g/": empty filter
        0x00,  // options: QoS 0
      ],
      bad(.invalidSharedSubscription), version: .v5),
    Vector(
      "v5 SUBSCRIBE \"$share/g/a/#/b\"", "[MQTT-4.8.2-2] [MQTT-4.7.1-1]",
      [
        0x82,  // SUBSCRIBE, flags 0010
        0x14,  // remaining length 20
        0x00, 0x01,  // packet id 1
        0x00,  // property length 0
        0x00, 0x0E,  // filter length 14
        0x24, 0x73, 0x68, 0x61, 0x72, 0x65, 0x2F,  // "$share/"
        0x67, 0x2F, 0x61, 0x2F, 0x23, 0x2F, 0x62,  // "g/a/#/b": "#" not last in the filter
        0x00,  // options: QoS 0
      ],
      bad(.invalidTopicFilter), version: .v5),
    Vector(
      "v5 UNSUBSCRIBE \"$share/g\"", "[MQTT-4.8.2-2]",
      [
        0xA2,  // UNSUBSCRIBE, flags 0010
        0x0D,  // remaining length 13
        0x00, 0x01,  // packet id 1
        0x00,  // property length 0
        0x00, 0x08,  // filter length 8
        0x24, 0x73, 0x68, 0x61, 0x72, 0x65, 0x2F, 0x67,  // "$share/g"
      ],
      bad(.invalidSharedSubscription), version: .v5),

    // Topic names
    Vector(
      "v5 PUBLISH empty topic name without a Topic Alias", "§3.3.2.1",
      [
        0x30,  // PUBLISH, QoS 0
        0x04,  // remaining length 4
        0x00, 0x00,  // topic length 0
        0x00,  // property length 0: no Topic Alias
        0x78,  // payload "x"
      ],
      bad(.missingTopicName), version: .v5),
    Vector(
      "v5 PUBLISH empty topic name with properties but no Topic Alias", "§3.3.2.1",
      [
        0x32,  // PUBLISH, QoS 1
        0x08,  // remaining length 8
        0x00, 0x00,  // topic length 0
        0x00, 0x01,  // packet id 1
        0x02,  // property length 2
        0x01, 0x01,  // Payload Format Indicator 1
        0x78,  // payload "x"
      ],
      bad(.missingTopicName), version: .v5),
    Vector(
      "v5 PUBLISH topic name \"a/+\" with a Topic Alias", "[MQTT-3.3.2-2]",
      [
        0x30,  // PUBLISH, QoS 0
        0x09,  // remaining length 9
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x2B,  // "a/+"
        0x03,  // property length 3
        0x23, 0x00, 0x01,  // Topic Alias 1
      ],
      bad(.wildcardInTopicName), version: .v5),

    // Reason codes not defined for the packet type (§2.4 Table 2-6)
    Vector(
      "v5 PUBACK reason code 0x05", "[MQTT-3.4.2-1]",
      [
        0x40,  // PUBACK
        0x03,  // remaining length 3
        0x00, 0x01,  // packet id 1
        0x05,  // reason code 0x05: not a PUBACK reason code
      ],
      bad(.invalidReasonCode), version: .v5),
    Vector(
      "v5 PUBREC reason code 0x92 (PUBREL/PUBCOMP only)", "[MQTT-3.5.2-1]",
      [
        0x50,  // PUBREC
        0x03,  // remaining length 3
        0x00, 0x01,  // packet id 1
        0x92,  // reason code 0x92 Packet Identifier not found
      ],
      bad(.invalidReasonCode), version: .v5),
    Vector(
      "v5 PUBREL reason code 0x80", "[MQTT-3.6.2-1]",
      [
        0x62,  // PUBREL, flags 0010
        0x03,  // remaining length 3
        0x00, 0x01,  // packet id 1
        0x80,  // reason code 0x80: PUBREL has only 0x00 and 0x92
      ],
      bad(.invalidReasonCode), version: .v5),
    Vector(
      "v5 PUBCOMP reason code 0x10", "[MQTT-3.7.2-1]",
      [
        0x70,  // PUBCOMP
        0x03,  // remaining length 3
        0x00, 0x01,  // packet id 1
        0x10,  // reason code 0x10: PUBACK and PUBREC only
      ],
      bad(.invalidReasonCode), version: .v5),
    Vector(
      "v5 DISCONNECT reason code 0x05", "[MQTT-3.14.2-1]",
      [
        0xE0,  // DISCONNECT
        0x01,  // remaining length 1
        0x05,  // reason code 0x05: not a DISCONNECT reason code
      ],
      bad(.invalidReasonCode), version: .v5),
    Vector(
      "v5 AUTH reason code 0x01", "[MQTT-3.15.2-1]",
      [
        0xF0,  // AUTH
        0x01,  // remaining length 1
        0x01,  // reason code 0x01: AUTH has only 0x00, 0x18 and 0x19
      ],
      bad(.invalidReasonCode), version: .v5),
    Vector(
      "v5 CONNACK reason code 0x01 (a 3.1.1 return code)", "§3.2.2.2",
      [
        0x20,  // CONNACK
        0x03,  // remaining length 3
        0x00,  // acknowledge flags
        0x01,  // 0x01: "unacceptable protocol version" in 3.1.1, undefined in MQTT 5
        0x00,  // property length 0
      ],
      bad(.invalidReasonCode), version: .v5),
    Vector(
      "v5 SUBACK second reason code 0x03", "[MQTT-3.9.3-2]",
      [
        0x90,  // SUBACK
        0x05,  // remaining length 5
        0x00, 0x01,  // packet id 1
        0x00,  // property length 0
        0x00,  // 0x00 Granted QoS 0
        0x03,  // 0x03: not a SUBACK reason code
      ],
      bad(.invalidReasonCode), version: .v5),
    Vector(
      "v5 UNSUBACK reason code 0x01 (SUBACK only)", "[MQTT-3.11.3-2]",
      [
        0xB0,  // UNSUBACK
        0x04,  // remaining length 4
        0x00, 0x01,  // packet id 1
        0x00,  // property length 0
        0x01,  // 0x01 Granted QoS 1: not an UNSUBACK reason code
      ],
      bad(.invalidReasonCode), version: .v5),
    Vector(
      "v5 UNSUBACK without reason codes", "[MQTT-3.11.3-1]",
      [
        0xB0,  // UNSUBACK
        0x03,  // remaining length 3
        0x00, 0x01,  // packet id 1
        0x00,  // property length 0, then no reason code for the filter(s)
      ],
      bad(.truncated), version: .v5),

    // Bytes after the last field
    Vector(
      "v5 PUBACK byte after the properties", "§3.4",
      [
        0x40,  // PUBACK
        0x05,  // remaining length 5
        0x00, 0x01,  // packet id 1
        0x00,  // reason code 0x00 Success
        0x00,  // property length 0
        0xFF,  // a byte PUBACK does not have
      ],
      bad(.trailingBytes), version: .v5),
    Vector(
      "v5 DISCONNECT byte after the properties", "§3.14",
      [
        0xE0,  // DISCONNECT
        0x03,  // remaining length 3
        0x00,  // reason code 0x00 Normal disconnection
        0x00,  // property length 0
        0xFF,  // a byte DISCONNECT does not have
      ],
      bad(.trailingBytes), version: .v5),
    Vector(
      "v5 AUTH byte after the properties", "§3.15",
      [
        0xF0,  // AUTH
        0x03,  // remaining length 3
        0x00,  // reason code 0x00 Success
        0x00,  // property length 0
        0x00,  // a byte AUTH does not have
      ],
      bad(.trailingBytes), version: .v5),
    Vector(
      "v5 CONNACK reserved acknowledge flag bit 1", "[MQTT-3.2.2-1]",
      [
        0x20,  // CONNACK
        0x03,  // remaining length 3
        0x02,  // acknowledge flags: bit 1 is reserved
        0x00,  // reason code 0x00 Success
        0x00,  // property length 0
      ],
      bad(.invalidFixedHeaderFlags), version: .v5),
    Vector(
      "v5 CONNECT will flag without will properties", "[MQTT-3.1.2-9]",
      [
        0x10,  // CONNECT
        0x0E,  // remaining length 14
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x05,  // protocol level 5
        0x06,  // connect flags: will 0x04 | clean start 0x02
        0x00, 0x3C,  // keep alive 60 s
        0x00,  // property length 0
        0x00, 0x01,  // client id length 1
        0x63,  // "c", then no will properties
      ],
      bad(.truncated), version: .v5),
  ]

  /// Single-packet rules of MQTT 5 that a review found the codec did not enforce. The codec
  /// enforces them now; these vectors keep it so.
  static let v5KnownGaps: [Vector] = [
    Vector(
      "v5 PUBLISH Response Topic with a wildcard", "[MQTT-3.3.2-14]",
      [
        0x30,  // PUBLISH, QoS 0
        0x0A,  // remaining length 10
        0x00, 0x01,  // topic length 1
        0x74,  // "t"
        0x06,  // property length 6
        0x08, 0x00, 0x03, 0x72, 0x2F, 0x2B,  // Response Topic "r/+": MUST NOT contain wildcards
      ],
      bad(.wildcardInTopicName), version: .v5),
    Vector(
      "v5 CONNECT Authentication Data without an Authentication Method", "§3.1.2.11.10",
      [
        0x10,  // CONNECT
        0x12,  // remaining length 18
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x05,  // protocol level 5
        0x02,  // connect flags: clean start
        0x00, 0x3C,  // keep alive 60 s
        0x04,  // property length 4
        0x16, 0x00, 0x01, 0xAA,  // Authentication Data AA, and no Authentication Method
        0x00, 0x01,  // client id length 1
        0x63,  // "c"
      ],
      bad(.invalidPropertyValue), version: .v5),
    Vector(
      "v5 CONNECT with a non-minimal remaining length, before the version is known",
      "[MQTT-1.5.5-1]",
      [
        0x10,  // CONNECT
        0x8F, 0x00,  // remaining length 15 in two bytes (the connection still assumes 3.1.1)
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x05,  // protocol level 5: from here on the MQTT 5 rules apply to this packet
        0x02,  // connect flags: clean start
        0x00, 0x3C,  // keep alive 60 s
        0x00,  // property length 0
        0x00, 0x02,  // client id length 2
        0x63, 0x31,  // "c1"
      ],
      bad(.malformedVariableByteInteger), version: .v311),
  ]
}

// MARK: - The table itself

@Suite("Vector table")
struct VectorTableTests {
  @Test("names are unique")
  func uniqueNames() {
    var seen = Set<String>()
    for v in Vectors.all {
      #expect(seen.insert(v.name).inserted, "duplicate vector name \(v.name)")
    }
  }

  @Test("every vector carries a spec tag")
  func specTags() {
    for v in Vectors.all {
      let tagged = v.spec.contains("[MQTT-") || v.spec.contains("§")
      #expect(tagged, "\(v.name) has no spec reference")
    }
  }

  /// Where each DecodeError comes from. The switch is exhaustive on purpose: a new error case
  /// does not compile until it is classified here.
  enum Origin { case vector, brokerCore, payloadFormatCheck }
  static func origin(_ e: DecodeError) -> Origin {
    switch e {
    case .malformedVariableByteInteger, .packetTooLarge, .reservedPacketType,
      .invalidFixedHeaderFlags,
      .invalidQoS, .truncated, .trailingBytes, .invalidUTF8, .nullCharacter, .invalidProtocolName,
      .unsupportedProtocolLevel, .connectReservedFlag, .invalidWillFlags, .passwordWithoutUsername,
      .zeroPacketIdentifier, .wildcardInTopicName, .emptyTopic, .invalidTopicFilter,
      .noTopicFilters,
      .invalidSubscriptionOptions, .malformedProperty, .duplicateProperty, .invalidPropertyValue,
      .invalidReasonCode, .invalidRetainHandling, .invalidRequestedQoS, .sharedSubscriptionNoLocal,
      .invalidSharedSubscription,
      .missingTopicName, .invalidTopicAlias:
      return .vector
    // Which side may send what is the broker core's business; the codec decodes both directions.
    case .serverOnlyPacket: return .brokerCore
    // Raised by Publish.validatePayloadFormat, not by decoding (see PayloadFormatTests).
    case .payloadFormatInvalid: return .payloadFormatCheck
    }
  }

  @Test("every decode error the codec can raise is produced by some vector")
  func everyErrorCovered() {
    let wanted: [DecodeError] = [
      .malformedVariableByteInteger, .packetTooLarge, .reservedPacketType,
      .invalidFixedHeaderFlags, .invalidQoS, .truncated, .trailingBytes, .invalidUTF8,
      .nullCharacter, .invalidProtocolName, .unsupportedProtocolLevel(5), .connectReservedFlag,
      .invalidWillFlags, .passwordWithoutUsername, .zeroPacketIdentifier, .wildcardInTopicName,
      .emptyTopic, .invalidTopicFilter, .noTopicFilters, .invalidSubscriptionOptions,
      // MQTT 5
      .malformedProperty, .duplicateProperty, .invalidPropertyValue, .invalidReasonCode,
      .invalidRetainHandling, .invalidRequestedQoS, .sharedSubscriptionNoLocal,
      .invalidSharedSubscription, .missingTopicName, .invalidTopicAlias,
    ]
    for e in wanted { #expect(Self.origin(e) == .vector, "\(e) is not raised by decoding") }
    let produced = Vectors.malformed.compactMap { v -> DecodeError? in
      if case .error(let e, _) = v.expected { return e }
      return nil
    }
    for e in wanted { #expect(produced.contains(e), "no vector produces \(e)") }
    for e in produced { #expect(Self.origin(e) == .vector, "a vector expects \(e)") }
    // Every MQTT 5 error is also produced by a vector decoded as MQTT 5.
    let v5Produced = Vectors.malformed.filter { $0.version == .v5 }.compactMap {
      v -> DecodeError? in
      if case .error(let e, _) = v.expected { return e }
      return nil
    }
    for e in wanted.suffix(10) { #expect(v5Produced.contains(e), "no MQTT 5 vector produces \(e)") }
  }

  @Test("every packet type has a valid vector, in 3.1.1 and in MQTT 5")
  func everyTypeCovered() {
    var types: [ProtocolVersion: Set<UInt8>] = [:]
    for v in Vectors.valid {
      if case .packet(let d) = v.expected { types[v.version, default: []].insert(d.type.rawValue) }
    }
    #expect(types[.v311] == Set(1...14))
    #expect(types[.v5] == Set(1...15))
  }

  @Test("MQTT 5 vectors are named \"v5 ...\" and decoded as MQTT 5 (except the pre-CONNECT case)")
  func v5Naming() {
    for v in Vectors.all where v.name.hasPrefix("v5 ") {
      #expect(v.version == .v5 || v.name.contains("before the version is known"), "\(v.name)")
    }
    for v in Vectors.v5Valid + Vectors.v5Malformed {
      #expect(v.name.hasPrefix("v5 ") || v.name.hasPrefix("AUTH "), "\(v.name)")
    }
  }

  @Test("the remaining-length boundaries use the header lengths of Table 2.4")
  func boundaryHeaderLengths() {
    let expected: [(remaining: Int, headerBytes: [UInt8])] = [
      (127, [0x7F]), (128, [0x80, 0x01]), (16_383, [0xFF, 0x7F]), (16_384, [0x80, 0x80, 0x01]),
      (2_097_151, [0xFF, 0xFF, 0x7F]), (2_097_152, [0x80, 0x80, 0x80, 0x01]),
    ]
    #expect(Vectors.boundaries.count == expected.count)
    for (v, e) in zip(Vectors.boundaries, expected) {
      #expect(Array(v.bytes[1...e.headerBytes.count]) == e.headerBytes, "\(v.name)")
      #expect(v.bytes.count == 1 + e.headerBytes.count + e.remaining, "\(v.name)")
      #expect(remainingLengthBytes(e.remaining) == e.headerBytes, "\(v.name)")
    }
  }
}
