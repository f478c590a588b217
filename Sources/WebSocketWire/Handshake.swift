// The opening handshake (RFC 6455 §4.2) and the plain HTTP requests a WebSocket listener also
// answers (`http_dir`, as Mosquitto does). Pure: parses a request held in a fixed buffer and
// decides the answer; the platform computes Sec-WebSocket-Accept (SHA-1 from mbedTLS) and
// writes the bytes. Every field is a range into the caller's buffer: nothing is copied.

public enum WebSocketSubprotocol: Equatable, Sendable {
  /// No Sec-WebSocket-Protocol header: accepted without one, as Mosquitto 2.0 does.
  case none
  case mqtt
  /// The name MQTT 3.1 clients (and old Paho JavaScript) offer.
  case mqttv31
  /// Only names midge does not speak: Mosquitto 2.0 closes such a connection without an answer.
  case unsupported
}

/// What the request asks, and how midge answers it.
public enum HTTPAnswer: Equatable, Sendable {
  /// 101 Switching Protocols (§4.2.2): the key's range and the subprotocol to confirm.
  case upgrade(key: Range<Int>, WebSocketSubprotocol)
  /// A file of http_dir: the path relative to the directory (no leading "/"); `head`: HEAD.
  case file(path: Range<Int>, head: Bool)
  /// "/" names index.html.
  case index(head: Bool)
  /// 426 Upgrade Required with "Sec-WebSocket-Version: 13" (§4.4).
  case badVersion
  case badRequest  // 400
  case notFound  // 404 (also every path when http_dir is unset)
  case methodNotAllowed  // 405
  case uriTooLong  // 414
  case unsupportedSubprotocol  // the connection is closed without an answer (Mosquitto 2.0)
}

public enum HTTPRequest {
  /// Longest path accepted below http_dir.
  public static let pathBytesMax = 255

  /// The length of the request through its blank line ("\r\n\r\n"), or nil while it is
  /// incomplete. Looks from `from` (bytes before it were searched already) minus 3.
  public static func end(_ b: UnsafeRawBufferPointer, searchedUpTo from: Int = 0) -> Int? {
    var i = max(3, from)
    while i < b.count {
      if b[i] == 0x0A && b[i - 1] == 0x0D && b[i - 2] == 0x0A && b[i - 3] == 0x0D { return i + 1 }
      i += 1
    }
    return nil
  }

  /// Whether the request line alone is already longer than the buffer can take: answered 414
  /// rather than 431 (headers too large).
  public static func hasRequestLine(_ b: UnsafeRawBufferPointer) -> Bool {
    var i = 0
    while i < b.count {
      if b[i] == 0x0A { return true }
      i += 1
    }
    return false
  }

  /// Parses a complete request (`b` ends with its blank line) and decides the answer.
  public static func answer(_ b: UnsafeRawBufferPointer, httpDir: Bool) -> HTTPAnswer {
    // Request line: METHOD SP TARGET SP HTTP/1.x CRLF (RFC 9112 §3).
    var i = 0
    while i < b.count && b[i] != 0x20 { i += 1 }
    let method = 0..<i
    i += 1
    let targetStart = i
    while i < b.count && b[i] != 0x20 && b[i] != 0x0D { i += 1 }
    let target = targetStart..<i
    guard i < b.count, b[i] == 0x20 else { return .badRequest }
    i += 1
    let versionStart = i
    while i < b.count && b[i] != 0x0D { i += 1 }
    let httpVersion = versionStart..<i
    guard matches(b, httpVersion, "HTTP/1.1") || matches(b, httpVersion, "HTTP/1.0") else { return .badRequest }
    i += 2
    let get = matches(b, method, "GET")
    let head = matches(b, method, "HEAD")
    guard target.count > 0, b[target.lowerBound] == 0x2F else { return .badRequest }  // origin-form only
    // Headers.
    var upgrade = false
    var connectionUpgrade = false
    var version: Int? = nil
    var key: Range<Int>? = nil
    var protocolSeen = false
    var subprotocol = WebSocketSubprotocol.unsupported
    while i + 1 < b.count && !(b[i] == 0x0D && b[i + 1] == 0x0A) {
      let nameStart = i
      while i < b.count && b[i] != 0x3A && b[i] != 0x0D { i += 1 }
      guard i < b.count, b[i] == 0x3A else { return .badRequest }
      let name = nameStart..<i
      i += 1
      while i < b.count && (b[i] == 0x20 || b[i] == 0x09) { i += 1 }
      let valueStart = i
      while i < b.count && b[i] != 0x0D { i += 1 }
      var valueEnd = i
      while valueEnd > valueStart && (b[valueEnd - 1] == 0x20 || b[valueEnd - 1] == 0x09) { valueEnd -= 1 }
      let value = valueStart..<valueEnd
      guard i + 1 < b.count, b[i + 1] == 0x0A else { return .badRequest }
      i += 2
      if equalsFolded(b, name, "upgrade") {
        upgrade = hasToken(b, value, "websocket")
      } else if equalsFolded(b, name, "connection") {
        connectionUpgrade = hasToken(b, value, "upgrade")
      } else if equalsFolded(b, name, "sec-websocket-version") {
        version = decimal(b, value)
      } else if equalsFolded(b, name, "sec-websocket-key") {
        key = value
      } else if equalsFolded(b, name, "sec-websocket-protocol") {
        protocolSeen = true
        // The first name midge speaks, in the client's order of preference (§4.2.2 /subprotocol/).
        if subprotocol == .unsupported { subprotocol = firstKnown(b, value) }
      }
    }
    if !upgrade {
      if !get && !head { return .methodNotAllowed }
      guard httpDir else { return .notFound }
      return path(b, target, head: head)
    }
    // §4.2.1: a GET, HTTP/1.1, Upgrade: websocket, Connection: Upgrade, a 16-byte key, version 13.
    guard get, matches(b, versionStart..<(versionStart + 8), "HTTP/1.1"), connectionUpgrade else { return .badRequest }
    guard let key, isKey(b, key) else { return .badRequest }
    guard version == 13 else { return .badVersion }
    if !protocolSeen { return .upgrade(key: key, .none) }
    if subprotocol == .unsupported { return .unsupportedSubprotocol }
    return .upgrade(key: key, subprotocol)
  }

  /// The file a GET names, relative to http_dir: the query is dropped; only letters, digits and
  /// `-._~/` are accepted (no percent-encoding, no empty or dot-leading segment: `..` and hidden
  /// files cannot be named); "/" is index.html.
  static func path(_ b: UnsafeRawBufferPointer, _ target: Range<Int>, head: Bool) -> HTTPAnswer {
    var end = target.lowerBound
    while end < target.upperBound && b[end] != 0x3F && b[end] != 0x23 { end += 1 }  // '?', '#'
    let path = (target.lowerBound + 1)..<end
    if path.isEmpty { return .index(head: head) }
    if path.count > pathBytesMax { return .uriTooLong }
    var segmentStart = true
    for i in path {
      let c = b[i]
      if c == 0x2F {
        if segmentStart { return .notFound }  // "//"
        segmentStart = true
        continue
      }
      if segmentStart && c == 0x2E { return .notFound }  // "..", ".hidden"
      segmentStart = false
      let ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D
        || c == 0x2E || c == 0x5F || c == 0x7E
      if !ok { return .notFound }
    }
    if segmentStart { return .notFound }  // a trailing "/": directories are not listed
    return .file(path: path, head: head)
  }

  /// The Content-Type for a file name, by its extension (a fixed set, else octet-stream).
  public static func contentType(_ b: UnsafeRawBufferPointer, _ path: Range<Int>) -> StaticString {
    var dot = path.upperBound
    while dot > path.lowerBound && b[dot - 1] != 0x2E && b[dot - 1] != 0x2F { dot -= 1 }
    guard dot > path.lowerBound, b[dot - 1] == 0x2E else { return "application/octet-stream" }
    let ext = dot..<path.upperBound
    if equalsFolded(b, ext, "html") || equalsFolded(b, ext, "htm") { return "text/html; charset=utf-8" }
    if equalsFolded(b, ext, "js") { return "text/javascript; charset=utf-8" }
    if equalsFolded(b, ext, "css") { return "text/css; charset=utf-8" }
    if equalsFolded(b, ext, "json") { return "application/json" }
    if equalsFolded(b, ext, "png") { return "image/png" }
    if equalsFolded(b, ext, "svg") { return "image/svg+xml" }
    if equalsFolded(b, ext, "ico") { return "image/x-icon" }
    if equalsFolded(b, ext, "txt") { return "text/plain; charset=utf-8" }
    return "application/octet-stream"
  }

  // MARK: helpers

  static func matches(_ b: UnsafeRawBufferPointer, _ r: Range<Int>, _ s: StaticString) -> Bool {
    guard r.upperBound <= b.count, r.count == s.utf8CodeUnitCount else { return false }
    var k = 0
    while k < r.count {
      if b[r.lowerBound + k] != s.utf8Start[k] { return false }
      k += 1
    }
    return true
  }

  /// ASCII case-insensitive equality with a lower-case literal (header names, §4.2.1).
  static func equalsFolded(_ b: UnsafeRawBufferPointer, _ r: Range<Int>, _ s: StaticString) -> Bool {
    guard r.count == s.utf8CodeUnitCount else { return false }
    var k = 0
    while k < r.count {
      var c = b[r.lowerBound + k]
      if c >= 0x41 && c <= 0x5A { c += 0x20 }
      if c != s.utf8Start[k] { return false }
      k += 1
    }
    return true
  }

  /// Whether a comma-separated header value holds `token` (case-insensitive).
  static func hasToken(_ b: UnsafeRawBufferPointer, _ value: Range<Int>, _ token: StaticString) -> Bool {
    var found = false
    forEachToken(b, value) { r in if equalsFolded(b, r, token) { found = true } }
    return found
  }

  static func firstKnown(_ b: UnsafeRawBufferPointer, _ value: Range<Int>) -> WebSocketSubprotocol {
    var result = WebSocketSubprotocol.unsupported
    forEachToken(b, value) { r in
      guard result == .unsupported else { return }
      if matches(b, r, "mqtt") { result = .mqtt } else if matches(b, r, "mqttv3.1") { result = .mqttv31 }
    }
    return result
  }

  static func forEachToken(_ b: UnsafeRawBufferPointer, _ value: Range<Int>, _ body: (Range<Int>) -> Void) {
    var i = value.lowerBound
    while i < value.upperBound {
      while i < value.upperBound && (b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x2C) { i += 1 }
      let start = i
      while i < value.upperBound && b[i] != 0x2C { i += 1 }
      var end = i
      while end > start && (b[end - 1] == 0x20 || b[end - 1] == 0x09) { end -= 1 }
      if end > start { body(start..<end) }
    }
  }

  static func decimal(_ b: UnsafeRawBufferPointer, _ r: Range<Int>) -> Int? {
    guard r.count > 0, r.count <= 5 else { return nil }
    var n = 0
    for i in r {
      guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
      n = n * 10 + Int(b[i] - 0x30)
    }
    return n
  }

  /// §4.2.1 item 5: the base64 encoding of 16 bytes: 22 base64 digits and "==".
  static func isKey(_ b: UnsafeRawBufferPointer, _ r: Range<Int>) -> Bool {
    guard r.count == 24, b[r.upperBound - 1] == 0x3D, b[r.upperBound - 2] == 0x3D else { return false }
    for i in r.lowerBound..<(r.upperBound - 2) {
      let c = b[i]
      let ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2B
        || c == 0x2F
      if !ok { return false }
    }
    return true
  }
}
