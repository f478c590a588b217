// The one table of config keys: `ConfigKey.all`. Keys that set a limit are BrokerCore's
// `LimitKey` rows (their ranges are also what `Limits.verify` checks); keys that set other
// settings are `SettingKey` rows here; the rest (`OtherKey`: listeners, files, words from a
// list, TLS) are parsed by their own code and listed here for `--help-config` and the README
// check (Tests/MidgeConfigTests/KeyTableTests.swift). Switches, not closures: Embedded Swift.
import BrokerCore
import MidgeText

/// A config key stored in `Settings` outside `Limits`, with a count, size or flag value.
public enum SettingKey: UInt8, CaseIterable, Sendable {
  case allowAnonymous, authMaxIterations, shutdownFlushTimeout, websocketsHeadersSize, maxWebsocketsHandshakes
  case websocketsLogLevel, persistence, autosaveInterval, autosaveOnChanges, connectionMessages, logTimestamp

  public var spec: KeySpec {
    switch self {
    case .allowAnonymous:
      return KeySpec("allow_anonymous", .flag, 0, 1, "clients without credentials (default: loopback only)")
    case .authMaxIterations:
      return KeySpec("auth_max_iterations", .count, 1, 10_000_000, "largest $7$ iteration count loaded")
    case .shutdownFlushTimeout:
      return KeySpec("shutdown_flush_timeout", .count, 0, 3600, "seconds output is flushed when stopping")
    case .websocketsHeadersSize:
      return KeySpec(
        "websockets_headers_size", .size, 512, 65536, keeps: "0", "one WebSocket handshake (HTTP request) buffer")
    case .maxWebsocketsHandshakes:
      return KeySpec("max_websockets_handshakes", .count, 1, 4096, "WebSocket handshakes read at once")
    case .websocketsLogLevel:
      return KeySpec("websockets_log_level", .count, 0, 65535, "libwebsockets' log mask: accepted, ignored")
    case .persistence:
      return KeySpec("persistence", .flag, 0, 1, "nothing is persisted yet: true starts with a warning")
    case .autosaveInterval:
      return KeySpec("autosave_interval", .count, 0, Int(Int32.max), "accepted, unused until persistence exists")
    case .autosaveOnChanges:
      return KeySpec("autosave_on_changes", .flag, 0, 1, "accepted, unused until persistence exists")
    case .connectionMessages:
      return KeySpec("connection_messages", .flag, 0, 1, "log connections and disconnections")
    case .logTimestamp:
      return KeySpec("log_timestamp", .flag, 0, 1, "start each log line with the time")
    }
  }

  /// The value in `s` (flags: 0 or 1); nil when there is none (decided elsewhere, or ignored).
  public func value(in s: Settings) -> Int? {
    switch self {
    case .allowAnonymous: return s.allowAnonymous.map { $0 ? 1 : 0 }
    case .authMaxIterations: return s.authMaxIterations
    case .shutdownFlushTimeout: return s.shutdownFlushSeconds
    case .websocketsHeadersSize: return s.websocketsHeadersBytes
    case .maxWebsocketsHandshakes: return s.websocketsHandshakesMax
    case .websocketsLogLevel, .autosaveInterval, .autosaveOnChanges: return nil
    case .persistence: return s.persistence ? 1 : 0
    case .connectionMessages: return s.log.connectionMessages ? 1 : 0
    case .logTimestamp: return s.log.timestamp ? 1 : 0
    }
  }

  func set(_ v: Int, in s: inout Settings) {
    switch self {
    case .allowAnonymous: s.allowAnonymous = v != 0
    case .authMaxIterations: s.authMaxIterations = v
    case .shutdownFlushTimeout: s.shutdownFlushSeconds = v
    case .websocketsHeadersSize: s.websocketsHeadersBytes = v
    case .maxWebsocketsHandshakes: s.websocketsHandshakesMax = v
    case .websocketsLogLevel, .autosaveInterval, .autosaveOnChanges: break  // checked, ignored
    case .persistence:
      s.persistence = v != 0
      if s.persistence {
        s.warnings.append(
          """
          persistence true: midge does not persist anything yet; sessions, retained and queued messages \
          are kept in memory only and are LOST when midge stops
          """)
      }
    case .connectionMessages: s.log.connectionMessages = v != 0
    case .logTimestamp: s.log.timestamp = v != 0
    }
  }
}

/// A config key with its own parsing code (Config.applyOther, applyLog, applyTLS).
public enum OtherKey: UInt8, CaseIterable, Sendable {
  case listener, protocolName, httpDir, includeDir, passwordFile, aclFile, perListenerSettings, pidFile
  case persistenceLocation, persistenceFile, queueFullAction, receiveMaximumExceeded
  case logDest, logType, logTimestampFormat
  case pskFile, cafile, capath, certfile, keyfile, requireCertificate, useIdentityAsUsername, pskHint
  case tlsVersion, ciphers

  /// The row, and the default as text.
  public var spec: (KeySpec, defaultText: StaticString) {
    switch self {
    case .listener: return (KeySpec("listener", .other, "a TCP listener: PORT [ADDRESS]"), "127.0.0.1:1883")
    case .protocolName: return (KeySpec("protocol", .other, "mqtt or websockets, for the last listener"), "mqtt")
    case .httpDir: return (KeySpec("http_dir", .other, "files served over HTTP on a WebSocket listener"), "none")
    case .includeDir: return (KeySpec("include_dir", .other, "read DIR/*.conf here"), "none")
    case .passwordFile: return (KeySpec("password_file", .other, "a mosquitto_passwd file"), "none")
    case .aclFile: return (KeySpec("acl_file", .other, "a mosquitto acl_file"), "none")
    case .perListenerSettings: return (KeySpec("per_listener_settings", .other, "not supported yet"), "false")
    case .pidFile: return (KeySpec("pid_file", .other, "write the process id to PATH"), "none")
    case .persistenceLocation:
      return (KeySpec("persistence_location", .other, "accepted, unused until persistence exists"), "none")
    case .persistenceFile:
      return (KeySpec("persistence_file", .other, "accepted, unused until persistence exists"), "none")
    case .queueFullAction:
      return (
        KeySpec("queue_full_action", .other, "drop_newest, drop_oldest, reject_publish or pause_publisher"),
        "drop_newest"
      )
    case .receiveMaximumExceeded:
      return (KeySpec("receive_maximum_exceeded", .other, "disconnect or spill"), "disconnect")
    case .logDest: return (KeySpec("log_dest", .other, "stderr, stdout, syslog, file PATH or none"), "stderr")
    case .logType: return (KeySpec("log_type", .other, "levels logged; lines add up"), "error..information")
    case .logTimestampFormat:
      return (KeySpec("log_timestamp_format", .other, "strftime subset, UTC"), "none: seconds since 1970")
    case .pskFile: return (KeySpec("psk_file", .other, "identity:hexkey lines for psk_hint listeners"), "none")
    case .cafile: return (KeySpec("cafile", .other, "CA certificates (PEM) for client certificates"), "none")
    case .capath: return (KeySpec("capath", .other, "a directory of CA certificates"), "none")
    case .certfile: return (KeySpec("certfile", .other, "the listener's certificate chain (PEM)"), "none")
    case .keyfile: return (KeySpec("keyfile", .other, "the listener's private key (PEM)"), "none")
    case .requireCertificate:
      return (KeySpec("require_certificate", .other, "clients must present a certificate"), "false")
    case .useIdentityAsUsername:
      return (KeySpec("use_identity_as_username", .other, "the certificate or PSK identity is the user"), "false")
    case .pskHint: return (KeySpec("psk_hint", .other, "enables TLS-PSK on the listener"), "none")
    case .tlsVersion: return (KeySpec("tls_version", .other, "tlsv1.2 (the only version)"), "tlsv1.2")
    case .ciphers: return (KeySpec("ciphers", .other, "OpenSSL cipher names, ':'-separated"), "all built in")
    }
  }
}

/// One row of the key table.
public enum ConfigKey: Sendable {
  case limit(LimitKey)
  case setting(SettingKey)
  case other(OtherKey)

  /// Every key midge reads from a config file.
  public static var all: [ConfigKey] {
    LimitKey.allCases.map { .limit($0) } + SettingKey.allCases.map { .setting($0) }
      + OtherKey.allCases.map { .other($0) }
  }

  public var spec: KeySpec {
    switch self {
    case .limit(let k): return k.spec
    case .setting(let k): return k.spec
    case .other(let k): return k.spec.0
    }
  }

  /// The key named by a config word.
  public static func named(_ word: [UInt8]) -> ConfigKey? {
    for key in all where Config.eq(word, key.spec.name) { return key }
    return nil
  }

  /// The default, as `--help-config` and the README show it.
  public var defaultText: Message {
    let value: Int?
    switch self {
    case .limit(let k): value = k.value(in: Limits())
    case .setting(let k): value = k.value(in: Settings())
    case .other(let k): return "\(k.spec.defaultText)"
    }
    guard let v = value else { return "none" }
    if spec.kind == .flag { return v != 0 ? "true" : "false" }
    return "\(v)"
  }
}

extension Config {
  /// The value of a count, size, flag or duration key, range-checked; nil when the line gives
  /// the key's `keeps` word (Mosquitto's "unlimited" or "default": midge keeps its default).
  static func value(_ w: [[UInt8]], _ spec: KeySpec) throws(ConfigError) -> Int? {
    let key = w[0]
    guard w.count == 2 else { throw ConfigError("'\(key)' takes exactly one value") }
    let v = w[1]
    if let keeps = spec.keeps, eq(v, keeps) { return nil }
    let (lo, hi) = (spec.lo, spec.hi)
    switch spec.kind {
    case .count, .other:
      guard let n = parseInt(v), n >= lo, n <= hi else {
        throw ConfigError("invalid value '\(v)' for '\(key)' (\(lo)..\(hi))")
      }
      return n
    case .size:
      guard let n = parseSize(v), n >= lo, n <= hi else {
        throw ConfigError("invalid size '\(v)' for '\(key)' (\(lo)..\(hi) bytes; suffixes KiB, MiB, GiB)")
      }
      return n
    case .flag:
      if eq(v, "true") { return 1 }
      if eq(v, "false") { return 0 }
      throw ConfigError("invalid value '\(v)' for '\(key)' (true or false)")
    case .duration:
      guard let n = parseDuration(v), n >= lo, n <= hi else {
        throw ConfigError("invalid duration '\(v)' for '\(key)' (e.g. 3600, 1h, 2d, 1w, 1m, 1y)")
      }
      return n
    }
  }

  /// `midge --help-config`: every key, its kind, range, default and what it does.
  public static func keyListing() -> Message {
    var m: Message = """
      Configuration keys (mosquitto.conf syntax), built-in defaults (the board profile overrides some:
      see midge --plan); README, Configuration, says more.


      """
    for key in ConfigKey.all {
      let s = key.spec
      var row: Message = "  \(s.name)"
      pad(&row, 31)
      switch s.kind {
      case .count: row = row + "N \(s.lo)..\(s.hi)"
      case .size: row = row + "SIZE \(s.lo)..\(s.hi)"
      case .duration: row = row + "DURATION \(s.lo)..\(s.hi)"
      case .flag: row = row + "true|false"
      case .other: row = row + "..."
      }
      pad(&row, 57)
      row = row + "default \(key.defaultText)"
      if let keeps = s.keeps { row = row + " (\(keeps) keeps it)" }
      m = m + row + "\n      \(s.doc)\n"
    }
    return m
  }

  private static func pad(_ m: inout Message, _ column: Int) {
    m.bytes.append(0x20)
    while m.bytes.count < column { m.bytes.append(0x20) }
  }
}
