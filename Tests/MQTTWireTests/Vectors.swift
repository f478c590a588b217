// Here's how it works: this file is the one table of wire vectors that the other tests run.
// Every vector is a complete, hand-written byte string with each field commented, a name, the
// spec rule it exercises (`[MQTT-x.y.z-n]` for normative statements of MQTT 3.1.1, `§x.y` for
// sections without a numbered rule), and what the codec must make of it:
//   - `.packet(...)`: the decoded fields, compared after copying them out of the buffer;
//   - `.error(e, .header(failsAfter: n))`: Frame.detect must throw `e` once it has seen the
//     first n bytes, from the fixed header alone, and answer "need more" before that (so these
//     vectors usually end where the header does: the body never has to arrive);
//   - `.error(e, .body)`: Frame.detect finds a complete frame of exactly these bytes and
//     Packet.decode throws `e`.
// The vectors are exercised by Verifier.swift (whole, byte by byte, split, concatenated, at an
// offset, re-encoded) and seed FuzzishTests.swift. The tests at the end check the table
// itself: unique names, a spec tag on every vector, every decode error produced somewhere.

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
    max: Int = Vector.noLimit, version: ProtocolVersion = .v311
  ) {
    self.name = name
    self.spec = spec
    self.bytes = bytes
    self.expected = expected
    self.maxPacketBytes = max
    self.version = version
  }

  var id: String { name }
  var testDescription: String { "\(spec) \(name)" }
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

  static let valid: [Vector] = connect + others + boundaries

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
      ok(.connect(.init(level: 4, clean: true, keepAlive: 60, clientID: "c1")))),
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
      ok(.connect(.init(level: 4, clean: true, keepAlive: 60, clientID: "")))),
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
      ok(.connect(.init(level: 4, clean: false, keepAlive: 0, clientID: "sub-1")))),
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
            will: .init(topic: "w/t", payload: "bye", qos: 1, retain: true))))),
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
            will: .init(topic: "a", payload: "", qos: 2, retain: false))))),
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
      ok(.connect(.init(level: 4, clean: true, keepAlive: 60, clientID: "c", username: "u")))),
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
            password: Blob([0x00, 0xFF, 0x80]))))),
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
            username: "u", password: "p")))),
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
      ok(.connect(.init(level: 3, clean: true, keepAlive: 10, clientID: "v31")))),
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
          .init(level: 3, clean: true, keepAlive: 10, clientID: "c", username: "u", password: "p")))
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
          )))),
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
      ok(.connack(sessionPresent: false, returnCode: 0))),
    Vector(
      "CONNACK session present", "[MQTT-3.2.2-2]",
      [
        0x20,  // CONNACK
        0x02,  // remaining length 2
        0x01,  // acknowledge flags: session present 1
        0x00,  // return code 0: accepted
      ],
      ok(.connack(sessionPresent: true, returnCode: 0))),
    Vector(
      "CONNACK refused, not authorized", "§3.2.2.3",
      [
        0x20,  // CONNACK
        0x02,  // remaining length 2
        0x00,  // acknowledge flags: session present 0
        0x05,  // return code 5: not authorized
      ],
      ok(.connack(sessionPresent: false, returnCode: 5))),

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
      ok(.publish(.init(topic: "a/b", payload: "hi", qos: 0)))),
    Vector(
      "PUBLISH QoS 0 retained", "[MQTT-3.3.1-5]",
      [
        0x31,  // PUBLISH, QoS 0, retain
        0x07,  // remaining length 7
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x68, 0x69,  // payload "hi"
      ],
      ok(.publish(.init(topic: "a/b", payload: "hi", qos: 0, retain: true)))),
    Vector(
      "PUBLISH QoS 0 with empty payload", "§3.3.3",
      [
        0x30,  // PUBLISH, QoS 0
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
      ],
      ok(.publish(.init(topic: "a/b", payload: "", qos: 0)))),
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
      ok(.publish(.init(topic: "a/b", payload: "hi", qos: 1, id: 1)))),
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
      ok(.publish(.init(topic: "a/b", payload: "hi", qos: 1, dup: true, id: 0x1234)))),
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
      ok(.publish(.init(topic: "a/b", payload: "hi", qos: 2, id: 0xFFFF)))),
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
          .init(topic: "x", payload: Blob([1, 2, 3]), qos: 2, retain: true, dup: true, id: 2)))),
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
          .init(topic: "/", payload: Blob([0x00, 0xFF, 0xC0, 0x80, 0xED, 0xA0, 0x80]), qos: 0)))),
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
      )),
    Vector(
      "PUBLISH $SYS topic name", "§4.7.2",
      [
        0x30,  // PUBLISH, QoS 0
        0x08,  // remaining length 8
        0x00, 0x06,  // topic length 6
        0x24, 0x53, 0x59, 0x53, 0x2F, 0x78,  // "$SYS/x"
      ],
      ok(.publish(.init(topic: "$SYS/x", payload: "", qos: 0)))),
    Vector(
      "PUBLISH exactly at maxPacketBytes", "§2.2.3",
      [
        0x30,  // PUBLISH, QoS 0
        0x07,  // remaining length 7 (total 9 = maxPacketBytes)
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x68, 0x69,  // payload "hi"
      ],
      ok(.publish(.init(topic: "a/b", payload: "hi", qos: 0))), max: 9),

    // PUBACK, PUBREC, PUBREL, PUBCOMP
    Vector(
      "PUBACK", "§3.4",
      [
        0x40,  // PUBACK
        0x02,  // remaining length 2
        0x00, 0x01,  // packet id 1
      ],
      ok(.puback(1))),
    Vector(
      "PUBREC", "§3.5",
      [
        0x50,  // PUBREC
        0x02,  // remaining length 2
        0x12, 0x34,  // packet id 0x1234
      ],
      ok(.pubrec(0x1234))),
    Vector(
      "PUBREL", "[MQTT-3.6.1-1]",
      [
        0x62,  // PUBREL, flags 0010
        0x02,  // remaining length 2
        0xFF, 0xFF,  // packet id 65535
      ],
      ok(.pubrel(0xFFFF))),
    Vector(
      "PUBCOMP", "§3.7",
      [
        0x70,  // PUBCOMP
        0x02,  // remaining length 2
        0x00, 0x07,  // packet id 7
      ],
      ok(.pubcomp(7))),

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
          [.init("a/b", 0), .init("c/+", 1), .init("#", 2), .init("+/x/#", 1), .init("$SYS/#", 0)]))
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
      ok(.subscribe(id: 0xFFFF, [.init("/", 0)]))),
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
      ok(.suback(id: 10, codes: [0, 1, 2, 0x80]))),

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
      ok(.unsubscribe(id: 11, ["a/b", "c/#", "+"]))),
    Vector(
      "UNSUBACK", "§3.11",
      [
        0xB0,  // UNSUBACK
        0x02,  // remaining length 2
        0x00, 0x0B,  // packet id 11
      ],
      ok(.unsuback(11))),

    // PINGREQ, PINGRESP, DISCONNECT
    Vector(
      "PINGREQ", "§3.12",
      [
        0xC0,  // PINGREQ
        0x00,  // remaining length 0
      ],
      ok(.pingreq)),
    Vector(
      "PINGRESP", "§3.13",
      [
        0xD0,  // PINGRESP
        0x00,  // remaining length 0
      ],
      ok(.pingresp)),
    Vector(
      "DISCONNECT", "[MQTT-3.14.1-1]",
      [
        0xE0,  // DISCONNECT
        0x00,  // remaining length 0
      ],
      ok(.disconnect)),
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
      ok(.publish(.init(topic: "t", payload: Blob(payload), qos: 0))))
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

  static let malformed: [Vector] = header + connectErrors + otherErrors

  /// Errors Frame.detect must find from the fixed header alone.
  static let header: [Vector] = [
    Vector(
      "reserved packet type 0", "§2.2.1 Table 2.1",
      [
        0x00,  // type 0: reserved
        0x00,  // remaining length 0
      ],
      bad(.reservedPacketType, after: 1)),
    Vector(
      "AUTH (type 15) before MQTT 5", "§2.2.1 Table 2.1",
      [
        0xF0,  // type 15: reserved in 3.1.1, AUTH in MQTT 5
        0x00,  // remaining length 0
      ],
      bad(.reservedPacketType, after: 1)),
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
      bad(.invalidFixedHeaderFlags, after: 1)),
    Vector(
      "CONNACK with flags 1000", "[MQTT-2.2.2-2]",
      [
        0x28,  // CONNACK, reserved flags must be 0000
        0x02,  // remaining length 2
        0x00, 0x00,  // flags, return code
      ],
      bad(.invalidFixedHeaderFlags, after: 1)),
    Vector(
      "PUBACK with flags 0010", "[MQTT-2.2.2-2]",
      [
        0x42,  // PUBACK, reserved flags must be 0000
        0x02,  // remaining length 2
        0x00, 0x01,  // packet id 1
      ],
      bad(.invalidFixedHeaderFlags, after: 1)),
    Vector(
      "PUBREC with flags 0001", "[MQTT-2.2.2-2]",
      [
        0x51,  // PUBREC, reserved flags must be 0000
        0x02,  // remaining length 2
        0x00, 0x01,  // packet id 1
      ],
      bad(.invalidFixedHeaderFlags, after: 1)),
    Vector(
      "PUBREL with flags 0000", "[MQTT-3.6.1-1]",
      [
        0x60,  // PUBREL, flags must be 0010
        0x02,  // remaining length 2
        0x00, 0x01,  // packet id 1
      ],
      bad(.invalidFixedHeaderFlags, after: 1)),
    Vector(
      "PUBREL with flags 0011", "[MQTT-3.6.1-1]",
      [
        0x63,  // PUBREL, flags must be 0010
        0x02,  // remaining length 2
        0x00, 0x01,  // packet id 1
      ],
      bad(.invalidFixedHeaderFlags, after: 1)),
    Vector(
      "PUBCOMP with flags 1111", "[MQTT-2.2.2-2]",
      [
        0x7F,  // PUBCOMP, reserved flags must be 0000
        0x02,  // remaining length 2
        0x00, 0x01,  // packet id 1
      ],
      bad(.invalidFixedHeaderFlags, after: 1)),
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
      bad(.invalidFixedHeaderFlags, after: 1)),
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
      bad(.invalidFixedHeaderFlags, after: 1)),
    Vector(
      "SUBACK with flags 0010", "[MQTT-2.2.2-2]",
      [
        0x92,  // SUBACK, reserved flags must be 0000
        0x03,  // remaining length 3
        0x00, 0x01,  // packet id 1
        0x00,  // granted QoS 0
      ],
      bad(.invalidFixedHeaderFlags, after: 1)),
    Vector(
      "UNSUBSCRIBE with flags 0000", "[MQTT-3.10.1-1]",
      [
        0xA0,  // UNSUBSCRIBE, flags must be 0010
        0x05,  // remaining length 5
        0x00, 0x01,  // packet id 1
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
      ],
      bad(.invalidFixedHeaderFlags, after: 1)),
    Vector(
      "UNSUBSCRIBE with flags 0011", "[MQTT-3.10.1-1]",
      [
        0xA3,  // UNSUBSCRIBE, flags must be 0010
        0x05,  // remaining length 5
        0x00, 0x01,  // packet id 1
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
      ],
      bad(.invalidFixedHeaderFlags, after: 1)),
    Vector(
      "UNSUBACK with flags 0100", "[MQTT-2.2.2-2]",
      [
        0xB4,  // UNSUBACK, reserved flags must be 0000
        0x02,  // remaining length 2
        0x00, 0x01,  // packet id 1
      ],
      bad(.invalidFixedHeaderFlags, after: 1)),
    Vector(
      "PINGREQ with flags 0010", "[MQTT-2.2.2-2]",
      [
        0xC2,  // PINGREQ, reserved flags must be 0000
        0x00,  // remaining length 0
      ],
      bad(.invalidFixedHeaderFlags, after: 1)),
    Vector(
      "PINGRESP with flags 1000", "[MQTT-2.2.2-2]",
      [
        0xD8,  // PINGRESP, reserved flags must be 0000
        0x00,  // remaining length 0
      ],
      bad(.invalidFixedHeaderFlags, after: 1)),
    Vector(
      "DISCONNECT with flags 0100", "[MQTT-3.14.1-1]",
      [
        0xE4,  // DISCONNECT, reserved flags must be 0000
        0x00,  // remaining length 0
      ],
      bad(.invalidFixedHeaderFlags, after: 1)),
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
      bad(.invalidQoS, after: 1)),
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
      bad(.invalidQoS, after: 1)),
    Vector(
      "remaining length of 5 bytes", "[MQTT-1.5.5-1 / §2.2.3]",
      [
        0x30,  // PUBLISH
        0xFF, 0xFF, 0xFF, 0xFF,  // remaining length: fourth byte still has the continuation bit
        0x7F,  // a fifth length byte (never needed: the error is known after the fourth)
      ],
      bad(.malformedVariableByteInteger, after: 5)),
    Vector(
      "remaining length of 5 bytes encoding 0", "[MQTT-1.5.5-1 / §2.2.3]",
      [
        0xC0,  // PINGREQ
        0x80, 0x80, 0x80, 0x80,  // remaining length: four continuation bytes
        0x00,  // fifth length byte
      ],
      bad(.malformedVariableByteInteger, after: 5)),
    Vector(
      "PUBLISH larger than maxPacketBytes, header only", "§2.2.3",
      [
        0x30,  // PUBLISH
        0xFF, 0x7F,  // remaining length 16383: 16386 bytes > 1024; the body never arrives
      ],
      bad(.packetTooLarge, after: 3), max: 1024),
    Vector(
      "PUBLISH of 256 MB announced, header only", "§2.2.3",
      [
        0x30,  // PUBLISH
        0xFF, 0xFF, 0xFF, 0x7F,  // remaining length 268435455 (the largest)
      ],
      bad(.packetTooLarge, after: 5), max: 1 << 20),
    Vector(
      "PUBLISH one byte over maxPacketBytes", "§2.2.3",
      [
        0x30,  // PUBLISH, QoS 0
        0x07,  // remaining length 7 (total 9 > maxPacketBytes 8)
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x68, 0x69,  // payload "hi"
      ],
      bad(.packetTooLarge, after: 2), max: 8),
  ]

  static let connectErrors: [Vector] = [
    Vector(
      "CONNECT with remaining length 0", "§3.1.2",
      [
        0x10,  // CONNECT
        0x00,  // remaining length 0
      ],
      bad(.truncated)),
    Vector(
      "CONNECT protocol name cut short", "§3.1.2.1",
      [
        0x10,  // CONNECT
        0x04,  // remaining length 4
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51,  // "MQ" and the packet ends
      ],
      bad(.truncated)),
    Vector(
      "CONNECT without protocol level", "§3.1.2.2",
      [
        0x10,  // CONNECT
        0x06,  // remaining length 6
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
      ],
      bad(.truncated)),
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
      bad(.truncated)),
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
      bad(.truncated)),
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
      bad(.truncated)),
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
      bad(.truncated)),
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
      bad(.truncated)),
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
      bad(.truncated)),
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
      bad(.truncated)),
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
      bad(.trailingBytes)),
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
      bad(.trailingBytes)),
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
      bad(.trailingBytes)),
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
      bad(.trailingBytes)),
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
      bad(.invalidProtocolName)),
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
      bad(.invalidProtocolName)),
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
      bad(.invalidProtocolName)),
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
      bad(.invalidProtocolName)),
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
      bad(.unsupportedProtocolLevel(3))),
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
      bad(.unsupportedProtocolLevel(4))),
    Vector(
      "CONNECT MQTT 5 (level 5, with properties)", "[MQTT-3.1.2-2]",
      [
        0x10,  // CONNECT
        0x0F,  // remaining length 15
        0x00, 0x04,  // protocol name length 4
        0x4D, 0x51, 0x54, 0x54,  // "MQTT"
        0x05,  // protocol level 5
        0x02,  // connect flags: clean start
        0x00, 0x3C,  // keep alive 60 s
        0x00,  // property length 0 (MQTT 5 only)
        0x00, 0x02,  // client id length 2
        0x63, 0x31,  // "c1"
      ],
      bad(.unsupportedProtocolLevel(5))),
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
      bad(.unsupportedProtocolLevel(6))),
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
      bad(.unsupportedProtocolLevel(7))),
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
      bad(.unsupportedProtocolLevel(0))),
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
      bad(.connectReservedFlag)),
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
      bad(.invalidWillFlags)),
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
      bad(.invalidWillFlags)),
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
      bad(.invalidWillFlags)),
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
      bad(.invalidWillFlags)),
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
      bad(.passwordWithoutUsername)),
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
      bad(.invalidUTF8)),
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
      bad(.nullCharacter)),
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
      bad(.wildcardInTopicName)),
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
      bad(.emptyTopic)),
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
      bad(.invalidUTF8)),
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
      bad(.invalidUTF8)),
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
      bad(.invalidFixedHeaderFlags)),
    Vector(
      "CONNACK without return code", "§3.2.2",
      [
        0x20,  // CONNACK
        0x01,  // remaining length 1
        0x00,  // acknowledge flags and the packet ends
      ],
      bad(.truncated)),
    Vector(
      "CONNACK with a trailing byte", "§3.2.2",
      [
        0x20,  // CONNACK
        0x03,  // remaining length 3
        0x00, 0x00,  // acknowledge flags, return code
        0x00,  // one byte too many
      ],
      bad(.trailingBytes)),

    // PUBLISH
    Vector(
      "PUBLISH with remaining length 0", "[MQTT-3.3.2-1]",
      [
        0x30,  // PUBLISH
        0x00,  // remaining length 0: no topic length
      ],
      bad(.truncated)),
    Vector(
      "PUBLISH topic length cut in half", "[MQTT-3.3.2-1]",
      [
        0x30,  // PUBLISH
        0x01,  // remaining length 1
        0x00,  // first byte of the topic length
      ],
      bad(.truncated)),
    Vector(
      "PUBLISH topic longer than the packet", "[MQTT-3.3.2-1]",
      [
        0x30,  // PUBLISH
        0x03,  // remaining length 3
        0x00, 0x05,  // topic length 5
        0x61,  // "a" and the packet ends
      ],
      bad(.truncated)),
    Vector(
      "PUBLISH QoS 1 without packet id", "[MQTT-2.3.1-1]",
      [
        0x32,  // PUBLISH, QoS 1
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b" and the packet ends
      ],
      bad(.truncated)),
    Vector(
      "PUBLISH QoS 1 with half a packet id", "[MQTT-2.3.1-1]",
      [
        0x32,  // PUBLISH, QoS 1
        0x06,  // remaining length 6
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x00,  // first byte of the packet id
      ],
      bad(.truncated)),
    Vector(
      "PUBLISH QoS 1 with packet id 0", "[MQTT-2.3.1-1]",
      [
        0x32,  // PUBLISH, QoS 1
        0x07,  // remaining length 7
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x00, 0x00,  // packet id 0
      ],
      bad(.zeroPacketIdentifier)),
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
      bad(.zeroPacketIdentifier)),
    Vector(
      "PUBLISH QoS 0 with DUP", "[MQTT-3.3.1-2]",
      [
        0x38,  // PUBLISH, DUP, QoS 0
        0x07,  // remaining length 7
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
        0x68, 0x69,  // payload "hi"
      ],
      bad(.invalidFixedHeaderFlags)),
    Vector(
      "PUBLISH QoS 0 with DUP and retain", "[MQTT-3.3.1-2]",
      [
        0x39,  // PUBLISH, DUP, QoS 0, retain
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x62,  // "a/b"
      ],
      bad(.invalidFixedHeaderFlags)),
    Vector(
      "PUBLISH topic name \"a/+\"", "[MQTT-3.3.2-2]",
      [
        0x30,  // PUBLISH
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0x61, 0x2F, 0x2B,  // "a/+"
      ],
      bad(.wildcardInTopicName)),
    Vector(
      "PUBLISH topic name \"#\"", "[MQTT-3.3.2-2]",
      [
        0x32,  // PUBLISH, QoS 1
        0x05,  // remaining length 5
        0x00, 0x01,  // topic length 1
        0x23,  // "#"
        0x00, 0x01,  // packet id 1
      ],
      bad(.wildcardInTopicName)),
    Vector(
      "PUBLISH topic name \"a+b\"", "[MQTT-4.7.1-1]",
      [
        0x30,  // PUBLISH
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0x61, 0x2B, 0x62,  // "a+b"
      ],
      bad(.wildcardInTopicName)),
    Vector(
      "PUBLISH empty topic name", "[MQTT-4.7.3-1]",
      [
        0x30,  // PUBLISH
        0x04,  // remaining length 4
        0x00, 0x00,  // topic length 0
        0x68, 0x69,  // payload "hi"
      ],
      bad(.emptyTopic)),
    Vector(
      "PUBLISH QoS 1 empty topic name", "[MQTT-4.7.3-1]",
      [
        0x32,  // PUBLISH, QoS 1
        0x04,  // remaining length 4
        0x00, 0x00,  // topic length 0
        0x00, 0x01,  // packet id 1
      ],
      bad(.emptyTopic)),
    Vector(
      "PUBLISH topic with overlong \"/\" (C0 AF)", "[MQTT-1.5.3-1]",
      [
        0x30,  // PUBLISH
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0x61,  // "a"
        0xC0, 0xAF,  // overlong 2-byte "/"
      ],
      bad(.invalidUTF8)),
    Vector(
      "PUBLISH topic with overlong 3-byte form (E0 80 AF)", "[MQTT-1.5.3-1]",
      [
        0x30,  // PUBLISH
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0xE0, 0x80, 0xAF,  // overlong 3-byte "/"
      ],
      bad(.invalidUTF8)),
    Vector(
      "PUBLISH topic with overlong 4-byte form (F0 80 80 AF)", "[MQTT-1.5.3-1]",
      [
        0x30,  // PUBLISH
        0x06,  // remaining length 6
        0x00, 0x04,  // topic length 4
        0xF0, 0x80, 0x80, 0xAF,  // overlong 4-byte "/"
      ],
      bad(.invalidUTF8)),
    Vector(
      "PUBLISH topic with surrogate U+D800 (ED A0 80)", "[MQTT-1.5.3-1]",
      [
        0x30,  // PUBLISH
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0xED, 0xA0, 0x80,  // U+D800
      ],
      bad(.invalidUTF8)),
    Vector(
      "PUBLISH topic with surrogate U+DFFF (ED BF BF)", "[MQTT-1.5.3-1]",
      [
        0x30,  // PUBLISH
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0xED, 0xBF, 0xBF,  // U+DFFF
      ],
      bad(.invalidUTF8)),
    Vector(
      "PUBLISH topic with U+110000 (F4 90 80 80)", "[MQTT-1.5.3-1]",
      [
        0x30,  // PUBLISH
        0x06,  // remaining length 6
        0x00, 0x04,  // topic length 4
        0xF4, 0x90, 0x80, 0x80,  // above U+10FFFF
      ],
      bad(.invalidUTF8)),
    Vector(
      "PUBLISH topic with byte FF", "[MQTT-1.5.3-1]",
      [
        0x30,  // PUBLISH
        0x04,  // remaining length 4
        0x00, 0x02,  // topic length 2
        0x61, 0xFF,  // "a", FF (never valid in UTF-8)
      ],
      bad(.invalidUTF8)),
    Vector(
      "PUBLISH topic ending inside a 3-byte sequence", "[MQTT-1.5.3-1]",
      [
        0x30,  // PUBLISH
        0x06,  // remaining length 6
        0x00, 0x03,  // topic length 3
        0x61, 0xE2, 0x82,  // "a", then "€" without its last byte
        0xAC,  // payload: the missing byte is outside the string
      ],
      bad(.invalidUTF8)),
    Vector(
      "PUBLISH topic ending inside a 2-byte sequence", "[MQTT-1.5.3-1]",
      [
        0x30,  // PUBLISH
        0x04,  // remaining length 4
        0x00, 0x02,  // topic length 2
        0x61, 0xC3,  // "a", then the lead byte of "é"
      ],
      bad(.invalidUTF8)),
    Vector(
      "PUBLISH topic with a lone continuation byte", "[MQTT-1.5.3-1]",
      [
        0x30,  // PUBLISH
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0x61, 0x80, 0x62,  // "a", continuation byte 80, "b"
      ],
      bad(.invalidUTF8)),
    Vector(
      "PUBLISH topic containing U+0000", "[MQTT-4.7.3-2]",
      [
        0x30,  // PUBLISH
        0x05,  // remaining length 5
        0x00, 0x03,  // topic length 3
        0x61, 0x00, 0x62,  // "a", U+0000, "b"
      ],
      bad(.nullCharacter)),

    // PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK
    Vector(
      "PUBACK with packet id 0", "[MQTT-2.3.1-1]",
      [
        0x40,  // PUBACK
        0x02,  // remaining length 2
        0x00, 0x00,  // packet id 0
      ],
      bad(.zeroPacketIdentifier)),
    Vector(
      "PUBREC with packet id 0", "[MQTT-2.3.1-1]",
      [
        0x50,  // PUBREC
        0x02,  // remaining length 2
        0x00, 0x00,  // packet id 0
      ],
      bad(.zeroPacketIdentifier)),
    Vector(
      "PUBREL with packet id 0", "[MQTT-2.3.1-1]",
      [
        0x62,  // PUBREL
        0x02,  // remaining length 2
        0x00, 0x00,  // packet id 0
      ],
      bad(.zeroPacketIdentifier)),
    Vector(
      "PUBCOMP with packet id 0", "[MQTT-2.3.1-1]",
      [
        0x70,  // PUBCOMP
        0x02,  // remaining length 2
        0x00, 0x00,  // packet id 0
      ],
      bad(.zeroPacketIdentifier)),
    Vector(
      "UNSUBACK with packet id 0", "[MQTT-2.3.1-1]",
      [
        0xB0,  // UNSUBACK
        0x02,  // remaining length 2
        0x00, 0x00,  // packet id 0
      ],
      bad(.zeroPacketIdentifier)),
    Vector(
      "PUBACK with remaining length 0", "§3.4.2",
      [
        0x40,  // PUBACK
        0x00,  // remaining length 0: no packet id
      ],
      bad(.truncated)),
    Vector(
      "PUBACK with half a packet id", "§3.4.2",
      [
        0x40,  // PUBACK
        0x01,  // remaining length 1
        0x00,  // first byte of the packet id
      ],
      bad(.truncated)),
    Vector(
      "UNSUBACK with half a packet id", "§3.11.2",
      [
        0xB0,  // UNSUBACK
        0x01,  // remaining length 1
        0x00,  // first byte of the packet id
      ],
      bad(.truncated)),
    Vector(
      "PUBACK with a trailing byte", "§3.4.3",
      [
        0x40,  // PUBACK
        0x03,  // remaining length 3
        0x00, 0x01,  // packet id 1
        0x00,  // one byte too many
      ],
      bad(.trailingBytes)),
    Vector(
      "PUBREL with a trailing byte", "§3.6.3",
      [
        0x62,  // PUBREL
        0x03,  // remaining length 3
        0x00, 0x01,  // packet id 1
        0x00,  // one byte too many
      ],
      bad(.trailingBytes)),

    // SUBSCRIBE
    Vector(
      "SUBSCRIBE with remaining length 0", "[MQTT-2.3.1-1]",
      [
        0x82,  // SUBSCRIBE
        0x00,  // remaining length 0: no packet id
      ],
      bad(.truncated)),
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
      bad(.zeroPacketIdentifier)),
    Vector(
      "SUBSCRIBE without filters", "[MQTT-3.8.3-3]",
      [
        0x82,  // SUBSCRIBE
        0x02,  // remaining length 2
        0x00, 0x01,  // packet id 1 and no payload
      ],
      bad(.noTopicFilters)),
    Vector(
      "SUBSCRIBE filter without requested QoS", "[MQTT-3.8.3-3]",
      [
        0x82,  // SUBSCRIBE
        0x05,  // remaining length 5
        0x00, 0x01,  // packet id 1
        0x00, 0x01,  // filter length 1
        0x61,  // "a" and no options byte
      ],
      bad(.truncated)),
    Vector(
      "SUBSCRIBE filter longer than the packet", "[MQTT-3.8.3-1]",
      [
        0x82,  // SUBSCRIBE
        0x05,  // remaining length 5
        0x00, 0x01,  // packet id 1
        0x00, 0x04,  // filter length 4
        0x61,  // "a" and the packet ends
      ],
      bad(.truncated)),
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
      bad(.invalidTopicFilter)),
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
      bad(.invalidTopicFilter)),
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
      bad(.invalidTopicFilter)),
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
      bad(.invalidTopicFilter)),
    Vector(
      "SUBSCRIBE empty filter", "[MQTT-4.7.3-1]",
      [
        0x82,  // SUBSCRIBE
        0x05,  // remaining length 5
        0x00, 0x01,  // packet id 1
        0x00, 0x00,  // filter length 0
        0x00,  // requested QoS 0
      ],
      bad(.emptyTopic)),
    Vector(
      "SUBSCRIBE requested QoS 3", "[MQTT-3-8.3-4]",
      [
        0x82,  // SUBSCRIBE
        0x06,  // remaining length 6
        0x00, 0x01,  // packet id 1
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x03,  // requested QoS 3
      ],
      bad(.invalidSubscriptionOptions)),
    Vector(
      "SUBSCRIBE options reserved bit 2", "[MQTT-3-8.3-4]",
      [
        0x82,  // SUBSCRIBE
        0x06,  // remaining length 6
        0x00, 0x01,  // packet id 1
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x04,  // reserved bit 2 (MQTT 5 "no local")
      ],
      bad(.invalidSubscriptionOptions)),
    Vector(
      "SUBSCRIBE options reserved bit 7", "[MQTT-3-8.3-4]",
      [
        0x82,  // SUBSCRIBE
        0x06,  // remaining length 6
        0x00, 0x01,  // packet id 1
        0x00, 0x01,  // filter length 1
        0x61,  // "a"
        0x81,  // requested QoS 1 with reserved bit 7
      ],
      bad(.invalidSubscriptionOptions)),
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
      bad(.invalidTopicFilter)),
    Vector(
      "SUBSCRIBE second entry QoS 3", "[MQTT-3-8.3-4]",
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
      bad(.invalidSubscriptionOptions)),
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
      bad(.invalidUTF8)),
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
      bad(.nullCharacter)),

    // SUBACK
    Vector(
      "SUBACK return code 3", "[MQTT-3.9.3-2]",
      [
        0x90,  // SUBACK
        0x03,  // remaining length 3
        0x00, 0x01,  // packet id 1
        0x03,  // return code 3: reserved
      ],
      bad(.invalidSubscriptionOptions)),
    Vector(
      "SUBACK return code 0x81", "[MQTT-3.9.3-2]",
      [
        0x90,  // SUBACK
        0x04,  // remaining length 4
        0x00, 0x01,  // packet id 1
        0x00,  // granted QoS 0
        0x81,  // return code 0x81: reserved
      ],
      bad(.invalidSubscriptionOptions)),
    Vector(
      "SUBACK with packet id 0", "[MQTT-2.3.1-1]",
      [
        0x90,  // SUBACK
        0x03,  // remaining length 3
        0x00, 0x00,  // packet id 0
        0x00,  // granted QoS 0
      ],
      bad(.zeroPacketIdentifier)),
    Vector(
      "SUBACK with half a packet id", "§3.9.2",
      [
        0x90,  // SUBACK
        0x01,  // remaining length 1
        0x00,  // first byte of the packet id
      ],
      bad(.truncated)),

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
      bad(.zeroPacketIdentifier)),
    Vector(
      "UNSUBSCRIBE without filters", "[MQTT-3.10.3-2]",
      [
        0xA2,  // UNSUBSCRIBE
        0x02,  // remaining length 2
        0x00, 0x01,  // packet id 1 and no payload
      ],
      bad(.noTopicFilters)),
    Vector(
      "UNSUBSCRIBE filter \"a/#/b\"", "[MQTT-4.7.1-2]",
      [
        0xA2,  // UNSUBSCRIBE
        0x09,  // remaining length 9
        0x00, 0x01,  // packet id 1
        0x00, 0x05,  // filter length 5
        0x61, 0x2F, 0x23, 0x2F, 0x62,  // "a/#/b"
      ],
      bad(.invalidTopicFilter)),
    Vector(
      "UNSUBSCRIBE empty filter", "[MQTT-4.7.3-1]",
      [
        0xA2,  // UNSUBSCRIBE
        0x04,  // remaining length 4
        0x00, 0x01,  // packet id 1
        0x00, 0x00,  // filter length 0
      ],
      bad(.emptyTopic)),
    Vector(
      "UNSUBSCRIBE filter longer than the packet", "[MQTT-3.10.3-1]",
      [
        0xA2,  // UNSUBSCRIBE
        0x05,  // remaining length 5
        0x00, 0x01,  // packet id 1
        0x00, 0x05,  // filter length 5
        0x61,  // "a" and the packet ends
      ],
      bad(.truncated)),
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
      bad(.truncated)),
    Vector(
      "UNSUBSCRIBE filter with a lone continuation byte", "[MQTT-3.10.3-1]",
      [
        0xA2,  // UNSUBSCRIBE
        0x05,  // remaining length 5
        0x00, 0x01,  // packet id 1
        0x00, 0x01,  // filter length 1
        0xBF,  // continuation byte without a lead byte
      ],
      bad(.invalidUTF8)),

    // PINGREQ, PINGRESP, DISCONNECT
    Vector(
      "PINGREQ with a body", "§3.12",
      [
        0xC0,  // PINGREQ
        0x01,  // remaining length 1
        0x00,  // a body PINGREQ does not have
      ],
      bad(.trailingBytes)),
    Vector(
      "PINGRESP with a body", "§3.13",
      [
        0xD0,  // PINGRESP
        0x01,  // remaining length 1
        0x00,  // a body PINGRESP does not have
      ],
      bad(.trailingBytes)),
    Vector(
      "DISCONNECT with a body", "§3.14",
      [
        0xE0,  // DISCONNECT
        0x01,  // remaining length 1
        0x00,  // MQTT 5 would read a reason code here; 3.1.1 has no body
      ],
      bad(.trailingBytes)),

    // AUTH
    Vector(
      "AUTH on an MQTT 5 connection (not decoded yet)", "§2.2.1 Table 2.1",
      [
        0xF0,  // AUTH
        0x00,  // remaining length 0
      ],
      bad(.reservedPacketType), version: .v5),
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

  @Test("every decode error the codec can raise is produced by some vector")
  func everyErrorCovered() {
    // serverOnlyPacket is for the broker core (which side may send what); the codec decodes
    // both directions and never raises it.
    let wanted: [DecodeError] = [
      .malformedVariableByteInteger, .packetTooLarge, .reservedPacketType,
      .invalidFixedHeaderFlags, .invalidQoS, .truncated, .trailingBytes, .invalidUTF8,
      .nullCharacter, .invalidProtocolName, .unsupportedProtocolLevel(5), .connectReservedFlag,
      .invalidWillFlags, .passwordWithoutUsername, .zeroPacketIdentifier, .wildcardInTopicName,
      .emptyTopic, .invalidTopicFilter, .noTopicFilters, .invalidSubscriptionOptions,
    ]
    let produced = Vectors.malformed.compactMap { v -> DecodeError? in
      if case .error(let e, _) = v.expected { return e }
      return nil
    }
    for e in wanted { #expect(produced.contains(e), "no vector produces \(e)") }
  }

  @Test("every packet type has a valid vector")
  func everyTypeCovered() {
    var types = Set<UInt8>()
    for v in Vectors.valid { if case .packet(let d) = v.expected { types.insert(d.type.rawValue) } }
    #expect(types == Set(1...14))
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
