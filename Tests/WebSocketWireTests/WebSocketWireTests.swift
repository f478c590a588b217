// RFC 6455 framing and handshake parsing, without sockets: masked client frames split at every
// offset, several frames in one read, continuation frames with a ping between them, and every
// refusal (unmasked, text, reserved bits and opcodes, oversize, non-minimal lengths).
import HostAllocCounter
import Testing
import WebSocketWire

/// A masked client frame (§5.2, §5.3).
func clientFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D],
                 masked: Bool = true) -> [UInt8] {
  var f: [UInt8] = [(fin ? 0x80 : 0) | opcode]
  let m: UInt8 = masked ? 0x80 : 0
  if payload.count < 126 {
    f.append(m | UInt8(payload.count))
  } else if payload.count < 65536 {
    f += [m | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
  } else {
    f.append(m | 127)
    for i in 0..<8 { f.append(UInt8(truncatingIfNeeded: UInt64(payload.count) >> UInt64(56 - 8 * i))) }
  }
  if masked {
    f += mask
    for (i, b) in payload.enumerated() { f.append(b ^ mask[i % 4]) }
  } else {
    f += payload
  }
  return f
}

/// Feeds `bytes` in pieces cut at `cuts`; returns the payload and the events.
func feed(_ d: inout Deframer, _ bytes: [UInt8], cuts: [Int], limit: Int = 1 << 20) -> ([UInt8], [Deframer.Event]) {
  var out: [UInt8] = []
  var events: [Deframer.Event] = []
  var start = 0
  for end in cuts + [bytes.count] where end >= start {
    var piece = Array(bytes[start..<end])
    start = end
    if piece.isEmpty { continue }
    let n = piece.count
    let (payload, event) = piece.withUnsafeMutableBytes { d.deframe($0.baseAddress!, count: n, limit: limit) }
    out += piece[0..<payload]
    if event != .none { events.append(event) }
  }
  return (out, events)
}

@Test("binary frames split at every offset and merged: the MQTT bytes come out whole, in order")
func splitAndMerged() {
  let packets: [[UInt8]] = [[0x10, 0x0C] + Array(0..<12), [0xC0, 0x00], [0x30, 0x05, 0, 1, 0x74, 0x68, 0x69]]
  let stream = packets.flatMap { clientFrame(2, $0) }
  let expected = packets.flatMap { $0 }
  for cut in 0...stream.count {
    for cut2 in cut...stream.count {
      var d = Deframer()
      let (out, events) = feed(&d, stream, cuts: [cut, cut2])
      #expect(out == expected && events.isEmpty, "cuts \(cut), \(cut2)")
    }
  }
}

@Test("continuation frames with a ping between them; the pong payload is the ping's (§5.4, §5.5.2)")
func continuationAndPing() {
  let mqtt: [UInt8] = [0x30, 0x07, 0, 1, 0x74, 0x61, 0x62, 0x63, 0x64]
  let stream = clientFrame(2, Array(mqtt[0..<3]), fin: false) + clientFrame(9, [1, 2, 3]) + clientFrame(10, [9, 9])
    + clientFrame(0, Array(mqtt[3..<6]), fin: false) + clientFrame(0, Array(mqtt[6...]))
  for cut in 0...stream.count {
    var d = Deframer()
    let (out, events) = feed(&d, stream, cuts: [cut])
    #expect(out == mqtt && events.isEmpty)
    var pong = [UInt8](repeating: 0, count: 125)
    let n = pong.withUnsafeMutableBytes { d.takePong(into: $0.baseAddress!) }
    #expect(Array(pong[0..<n]) == [1, 2, 3])
    #expect(!d.pongPending)
  }
}

@Test("long payloads unmask word by word from any mask phase: split at many offsets")
func longPayloads() {
  var payload: [UInt8] = []
  var x: UInt32 = 12345
  for _ in 0..<1000 {
    x = x &* 1_103_515_245 &+ 12345
    payload.append(UInt8(truncatingIfNeeded: x >> 16))
  }
  let stream = clientFrame(2, payload, mask: [0x01, 0x80, 0xFE, 0x7F]) + clientFrame(2, Array(payload[0..<37]))
  for cut in [1, 2, 5, 8, 9, 10, 11, 12, 13, 17, 100, 503, 1004, 1007, 1010] {
    var d = Deframer()
    let (out, events) = feed(&d, stream, cuts: [cut, cut + 3])
    #expect(out == payload + Array(payload[0..<37]) && events.isEmpty, "cut \(cut)")
  }
}

@Test("two pings before the pong leaves: the latest is answered (§5.5.3); a pong payload is dropped")
func twoPings() {
  let stream = clientFrame(9, [1, 1, 1, 1, 1]) + clientFrame(10, [7, 7, 7]) + clientFrame(9, [2, 2])
  for cut in 0...stream.count {
    var d = Deframer()
    let (out, events) = feed(&d, stream, cuts: [cut])
    #expect(out.isEmpty && events.isEmpty)
    var pong = [UInt8](repeating: 0, count: 125)
    let n = pong.withUnsafeMutableBytes { d.takePong(into: $0.baseAddress!) }
    #expect(Array(pong[0..<n]) == [2, 2], "cut \(cut)")
  }
}

@Test("close frames: the status code is reported for the echo (§5.5.1); bad codes fail with 1002")
func closeFrames() {
  var d = Deframer()
  #expect(feed(&d, clientFrame(8, [0x03, 0xE8, 0x62, 0x79, 0x65]), cuts: []).1 == [.close(1000)])
  d = Deframer()
  #expect(feed(&d, clientFrame(8, []), cuts: []).1 == [.close(nil)])
  d = Deframer()
  #expect(feed(&d, clientFrame(8, [0x03]), cuts: []).1 == [.fail(.protocolError)])
  d = Deframer()
  #expect(feed(&d, clientFrame(8, [0x03, 0xED]), cuts: []).1 == [.fail(.protocolError)])  // 1005 is never sent
}

@Test("refusals: unmasked (§5.1), text (1003), reserved bits and opcodes, bad fragmentation, oversize (1009)")
func refusals() {
  func first(_ bytes: [UInt8], limit: Int = 1 << 20) -> Deframer.Event? {
    var d = Deframer()
    return feed(&d, bytes, cuts: [], limit: limit).1.first
  }
  #expect(first(clientFrame(2, [1, 2], masked: false)) == .fail(.protocolError))
  #expect(first(clientFrame(1, [0x41])) == .fail(.unsupportedData))
  #expect(first([0xC2] + clientFrame(2, [1]).dropFirst()) == .fail(.protocolError))  // RSV1
  #expect(first(clientFrame(3, [1])) == .fail(.protocolError))
  #expect(first(clientFrame(0xB, [1])) == .fail(.protocolError))
  #expect(first(clientFrame(0, [1])) == .fail(.protocolError))  // continuation of nothing
  #expect(first(clientFrame(2, [1], fin: false) + clientFrame(2, [1])) == .fail(.protocolError))
  #expect(first(clientFrame(9, [1], fin: false)) == .fail(.protocolError))  // fragmented control frame
  #expect(first(clientFrame(9, [UInt8](repeating: 0, count: 126))) == .fail(.protocolError))
  #expect(first(clientFrame(2, [UInt8](repeating: 0, count: 300)), limit: 256) == .fail(.tooBig))
  // A message over the bound across continuation frames.
  #expect(first(clientFrame(2, [UInt8](repeating: 0, count: 200), fin: false) + clientFrame(0, [UInt8](repeating: 0, count: 100)),
                limit: 256) == .fail(.tooBig))
  // A 16-bit length that fits 7 bits is not minimal (§5.2).
  #expect(first([0x82, 0xFE, 0x00, 0x05, 0, 0, 0, 0, 1, 2, 3, 4, 5]) == .fail(.protocolError))
}

@Test("de-framing allocates nothing")
func noAllocation() {
  let stream = clientFrame(2, [UInt8](repeating: 7, count: 1000)) + clientFrame(9, [1])
  let n = stream.count
  var first = stream
  var second = stream
  var d = Deframer()
  _ = first.withUnsafeMutableBytes { d.deframe($0.baseAddress!, count: n, limit: 1 << 20) }  // warm-up
  var e = Deframer()
  let count = second.withUnsafeMutableBytes { b -> UInt in
    let before = host_alloc_count_this_thread()
    _ = e.deframe(b.baseAddress!, count: n, limit: 1 << 20)
    return UInt(host_alloc_count_this_thread() - before)
  }
  #expect(count == 0)
  #expect(e.pongPending)
}

@Test("server headers use the fewest length bytes (§5.2)")
func serverHeaders() {
  var h = [UInt8](repeating: 0, count: 10)
  #expect(h.withUnsafeMutableBytes { WebSocketFrame.writeHeader(.binary, length: 125, into: $0.baseAddress!) } == 2)
  #expect(h[0] == 0x82 && h[1] == 125)
  #expect(h.withUnsafeMutableBytes { WebSocketFrame.writeHeader(.binary, length: 126, into: $0.baseAddress!) } == 4)
  #expect(Array(h[0..<4]) == [0x82, 126, 0, 126])
  #expect(h.withUnsafeMutableBytes { WebSocketFrame.writeHeader(.binary, length: 70000, into: $0.baseAddress!) } == 10)
  #expect(Array(h[0..<10]) == [0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70])
}

func answer(_ text: String, httpDir: Bool = true) -> (HTTPAnswer, [UInt8]) {
  let bytes = Array(text.utf8)
  return (bytes.withUnsafeBytes { HTTPRequest.answer($0, httpDir: httpDir) }, bytes)
}

let upgradeHead = "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
  + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

@Test("the opening handshake (§4.2.1): subprotocols mqtt and mqttv3.1, none, unknown, bad version")
func handshake() {
  let (a, bytes) = answer(upgradeHead + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: foo, mqtt\r\n\r\n")
  guard case .upgrade(let key, let sub) = a else {
    Issue.record("no upgrade: \(a)")
    return
  }
  #expect(String(decoding: bytes[key], as: UTF8.self) == "dGhlIHNhbXBsZSBub25jZQ==")
  #expect(sub == .mqtt)
  if case .upgrade(_, let s) = answer(upgradeHead + "sec-websocket-version: 13\r\nSec-WebSocket-Protocol: mqttv3.1\r\n\r\n").0 {
    #expect(s == .mqttv31)
  } else {
    Issue.record("mqttv3.1 refused")
  }
  if case .upgrade(_, let s) = answer(upgradeHead + "Sec-WebSocket-Version: 13\r\n\r\n").0 { #expect(s == .none) } else {
    Issue.record("no subprotocol refused")
  }
  #expect(answer(upgradeHead + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: foo\r\n\r\n").0 == .unsupportedSubprotocol)
  #expect(answer(upgradeHead + "Sec-WebSocket-Version: 8\r\n\r\n").0 == .badVersion)
  #expect(answer(upgradeHead + "\r\n").0 == .badVersion)
  #expect(answer("GET /mqtt HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n").0
    == .badRequest)  // no key
  #expect(answer("POST /mqtt HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n").0 == .badRequest)
}

@Test("plain GETs: files below http_dir only, no traversal, types; without http_dir 404")
func plainRequests() {
  func pathOf(_ a: HTTPAnswer, _ bytes: [UInt8]) -> String? {
    if case .file(let p, _) = a { return String(decoding: bytes[p], as: UTF8.self) }
    return nil
  }
  let (a, b) = answer("GET /js/app.js?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
  #expect(pathOf(a, b) == "js/app.js")
  #expect(answer("GET / HTTP/1.0\r\n\r\n").0 == .index(head: false))
  #expect(answer("HEAD / HTTP/1.1\r\n\r\n").0 == .index(head: true))
  #expect(answer("GET /../etc/passwd HTTP/1.1\r\n\r\n").0 == .notFound)
  #expect(answer("GET /a/../../b HTTP/1.1\r\n\r\n").0 == .notFound)
  #expect(answer("GET /%2e%2e/b HTTP/1.1\r\n\r\n").0 == .notFound)
  #expect(answer("GET /.htpasswd HTTP/1.1\r\n\r\n").0 == .notFound)
  #expect(answer("GET /dir/ HTTP/1.1\r\n\r\n").0 == .notFound)
  #expect(answer("GET /a HTTP/1.1\r\n\r\n", httpDir: false).0 == .notFound)
  #expect(answer("DELETE /a HTTP/1.1\r\n\r\n").0 == .methodNotAllowed)
  #expect(answer("GET /" + String(repeating: "a", count: 300) + " HTTP/1.1\r\n\r\n").0 == .uriTooLong)
  #expect(answer("GET a HTTP/1.1\r\n\r\n").0 == .badRequest)
  #expect(answer("GET /a HTTP/2\r\n\r\n").0 == .badRequest)
  let types: [(String, String)] = [("i.html", "text/html; charset=utf-8"), ("a.js", "text/javascript; charset=utf-8"),
    ("s.css", "text/css; charset=utf-8"), ("d.json", "application/json"), ("p.png", "image/png"),
    ("v.svg", "image/svg+xml"), ("f.ico", "image/x-icon"), ("r.txt", "text/plain; charset=utf-8"),
    ("x.bin", "application/octet-stream"), ("noext", "application/octet-stream")]
  for (name, type) in types {
    let bytes = Array(name.utf8)
    let t = bytes.withUnsafeBytes { HTTPRequest.contentType($0, 0..<bytes.count) }
    #expect(t.description == type, "\(name)")
  }
}

@Test("the end of a request is found wherever the blank line is split")
func requestEnd() {
  let bytes = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
  for n in 0..<bytes.count {
    #expect(bytes[0..<n].withUnsafeBytes { HTTPRequest.end($0) } == nil)
  }
  #expect(bytes.withUnsafeBytes { HTTPRequest.end($0, searchedUpTo: 20) } == bytes.count)
}
