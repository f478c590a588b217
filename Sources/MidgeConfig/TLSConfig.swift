// TLS options (mosquitto.conf names, per listener as in Mosquitto): they apply to the last
// `listener` line above them. A listener is a TLS listener when it has a `certfile` or a
// `psk_hint`. Pure: file names are kept here, the executable reads the files at startup.
import BrokerCore
import MidgeText

public struct TLSConfig {
  public var cafile: String?
  public var capath: String?
  public var certfile: String?
  public var keyfile: String?
  public var requireCertificate = false
  public var useIdentityAsUsername = false
  /// `psk_hint`: enables TLS-PSK on this listener (mbedTLS 2.28 sends no hint to the client).
  public var pskHint: [UInt8]?
  /// `ciphers`: IANA numbers of the suites allowed, in order; empty = every suite built in.
  public var ciphers: [Int] = []
  /// "FILE:LINE" of the first TLS option, for errors found after parsing.
  public var origin = ""

  public init() {}

  public var isEnabled: Bool { certfile != nil || keyfile != nil || pskHint != nil }
}

extension Config {
  /// The cipher suites built into midge's mbedTLS, by their OpenSSL/Mosquitto names (TLS 1.2).
  public static let cipherSuites: [(name: StaticString, iana: Int)] = [
    ("ECDHE-ECDSA-AES128-GCM-SHA256", 0xC02B), ("ECDHE-ECDSA-AES256-GCM-SHA384", 0xC02C),
    ("ECDHE-RSA-AES128-GCM-SHA256", 0xC02F), ("ECDHE-RSA-AES256-GCM-SHA384", 0xC030),
    ("ECDHE-ECDSA-CHACHA20-POLY1305", 0xCCA9), ("ECDHE-RSA-CHACHA20-POLY1305", 0xCCA8),
    ("PSK-AES128-GCM-SHA256", 0x00A8), ("PSK-AES256-GCM-SHA384", 0x00A9),
    ("PSK-CHACHA20-POLY1305", 0xCCAB), ("ECDHE-PSK-CHACHA20-POLY1305", 0xCCAC),
  ]

  /// Handles the TLS keys; false when `w[0]` is not one of them.
  static func applyTLS(_ w: [[UInt8]], origin: String, line: Int, into s: inout Settings) throws(ConfigError) -> Bool {
    let key = w[0]
    let perListener: [StaticString] = [
      "cafile", "capath", "certfile", "keyfile", "require_certificate", "use_identity_as_username", "psk_hint",
      "tls_version", "ciphers",
    ]
    var isListenerKey = false
    for k in perListener where eq(key, k) { isListenerKey = true }
    if eq(key, "psk_file") {
      s.pskFile = text(try single(w))
      s.pskFileOrigin = ("\(origin):\(line)" as Message).string
      return true
    }
    guard isListenerKey else { return false }
    let v = try single(w)
    guard !s.listeners.isEmpty else {
      throw ConfigError("'\(key)' must follow a 'listener' line (TLS options are per listener)")
    }
    var t = s.listeners[s.listeners.count - 1].tls
    if t.origin.isEmpty { t.origin = ("\(origin):\(line)" as Message).string }
    func flag() throws(ConfigError) -> Bool {
      if eq(v, "true") { return true }
      if eq(v, "false") { return false }
      throw ConfigError("invalid value '\(v)' for '\(key)' (true or false)")
    }
    if eq(key, "cafile") {
      t.cafile = text(v)
    } else if eq(key, "capath") {
      t.capath = text(v)
    } else if eq(key, "certfile") {
      t.certfile = text(v)
    } else if eq(key, "keyfile") {
      t.keyfile = text(v)
    } else if eq(key, "require_certificate") {
      t.requireCertificate = try flag()
    } else if eq(key, "use_identity_as_username") {
      t.useIdentityAsUsername = try flag()
      // The CN becomes the connection's identity (Broker.setIdentity): reserve identities.
      if t.useIdentityAsUsername { s.limits.usesIdentities = true }
    } else if eq(key, "psk_hint") {
      t.pskHint = v
      s.limits.usesIdentities = true  // the PSK identity is the user name
    } else if eq(key, "tls_version") {
      if eq(v, "tlsv1.3") {
        throw ConfigError("'tls_version tlsv1.3' is not supported: midge's TLS (mbedTLS 2.28) is TLS 1.2 only")
      }
      guard eq(v, "tlsv1.2") else {
        throw ConfigError("invalid value '\(v)' for 'tls_version' (midge supports tlsv1.2 only)")
      }
    } else if eq(key, "ciphers") {
      t.ciphers = try parseCiphers(v)
    }
    s.listeners[s.listeners.count - 1].tls = t
    return true
  }

  /// A colon-separated list of OpenSSL suite names (DEFAULT, HIGH and ALL: every built-in suite).
  static func parseCiphers(_ v: [UInt8]) throws(ConfigError) -> [Int] {
    var result: [Int] = []
    var start = 0
    while start <= v.count {
      var end = start
      while end < v.count && v[end] != 0x3A { end += 1 }
      let name = Array(v[start..<end])
      if eq(name, "DEFAULT") || eq(name, "HIGH") || eq(name, "ALL") {
        for c in cipherSuites where !result.contains(c.iana) { result.append(c.iana) }
      } else {
        var found = false
        for c in cipherSuites where eq(name, c.name) {
          found = true
          if !result.contains(c.iana) { result.append(c.iana) }
        }
        guard found else {
          throw ConfigError(
            "unknown or unsupported cipher '\(name)' in 'ciphers' (supported: ECDHE-ECDSA-/ECDHE-RSA- AES128-GCM-SHA256,"
              + " AES256-GCM-SHA384, CHACHA20-POLY1305; PSK-AES128-GCM-SHA256, PSK-AES256-GCM-SHA384,"
              + " PSK-CHACHA20-POLY1305, ECDHE-PSK-CHACHA20-POLY1305; DEFAULT)")
        }
      }
      start = end + 1
    }
    return result
  }

  /// Relations between TLS options, checked once the whole configuration is read. Errors name
  /// the file and line of the listener's first TLS option.
  public static func checkTLS(_ s: Settings) throws(ConfigError) {
    for l in s.listeners where l.tls.isEnabled || !l.tls.origin.isEmpty {
      let t = l.tls
      let at = t.origin
      if (t.certfile == nil) != (t.keyfile == nil) {
        throw ConfigError("\(at): listener \(l.port): 'certfile' and 'keyfile' must be given together")
      }
      if !t.isEnabled {
        throw ConfigError("\(at): listener \(l.port): TLS options without 'certfile'/'keyfile' or 'psk_hint'")
      }
      if t.requireCertificate && t.cafile == nil && t.capath == nil {
        throw ConfigError("\(at): listener \(l.port): 'require_certificate true' needs 'cafile' or 'capath'")
      }
      if t.requireCertificate && t.certfile == nil {
        throw ConfigError("\(at): listener \(l.port): 'require_certificate true' needs 'certfile' and 'keyfile'")
      }
      if t.useIdentityAsUsername && !t.requireCertificate {
        throw ConfigError("\(at): listener \(l.port): 'use_identity_as_username true' needs 'require_certificate true'")
      }
      if t.pskHint != nil && s.pskFile == nil {
        throw ConfigError("\(at): listener \(l.port): 'psk_hint' needs a 'psk_file'")
      }
    }
  }

  static func single(_ w: [[UInt8]]) throws(ConfigError) -> [UInt8] {
    guard w.count == 2 else { throw ConfigError("'\(w[0])' takes exactly one value") }
    return w[1]
  }
}

extension Settings {
  /// Whether any listener speaks TLS (then TLS memory is reserved).
  public var hasTLSListener: Bool {
    for l in listeners where l.tls.isEnabled { return true }
    return false
  }
}

extension Config {
  /// A psk_file (Mosquitto's format): `identity:hexkey` lines, '#' comments, blank lines ignored.
  /// Identities up to 128 bytes, keys 1..64 bytes (2..128 hex digits). Errors: "FILE:LINE: ...".
  public static func parsePSKFile(_ file: [UInt8], origin: String) throws(ConfigError) -> [([UInt8], [UInt8])] {
    var entries: [([UInt8], [UInt8])] = []
    var line = 0
    var start = 0
    while start < file.count {
      var end = start
      while end < file.count && file[end] != 0x0A { end += 1 }
      line += 1
      var bytes = Array(file[start..<end])
      start = end + 1
      while let last = bytes.last, last == 0x0D || last == 0x20 || last == 0x09 { bytes.removeLast() }
      if bytes.isEmpty || bytes[0] == 0x23 { continue }
      guard let colon = bytes.lastIndex(of: 0x3A), colon > 0 else {
        throw ConfigError("\(origin):\(line): expected identity:hexkey")
      }
      let identity = Array(bytes[0..<colon])
      let hex = Array(bytes[(colon + 1)...])
      guard identity.count <= 128 else { throw ConfigError("\(origin):\(line): identity longer than 128 bytes") }
      guard hex.count >= 2, hex.count <= 128, hex.count % 2 == 0 else {
        throw ConfigError("\(origin):\(line): the key must be 2 to 128 hex digits, an even number")
      }
      var key: [UInt8] = []
      var i = 0
      while i < hex.count {
        guard let hi = hexValue(hex[i]), let lo = hexValue(hex[i + 1]) else {
          throw ConfigError("\(origin):\(line): the key is not hexadecimal")
        }
        key.append(hi << 4 | lo)
        i += 2
      }
      for e in entries where e.0 == identity {
        throw ConfigError("\(origin):\(line): identity '\(identity)' appears twice")
      }
      entries.append((identity, key))
    }
    return entries
  }

  static func hexValue(_ b: UInt8) -> UInt8? {
    switch b {
    case 0x30...0x39: return b - 0x30
    case 0x41...0x46: return b - 0x41 + 10
    case 0x61...0x66: return b - 0x61 + 10
    default: return nil
    }
  }
}
