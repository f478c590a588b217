// Configuration: the board profile's defaults, then the config file (mosquitto.conf syntax),
// then the command line. Pure: the executable reads files and hands their bytes in. Works on
// bytes, never on String comparison (Embedded Swift would need Unicode tables for that).
// Every error names its origin and line ("FILE:LINE: message"); an unknown key is an error.
import BrokerCore
import MidgeText

extension LogLevel {
  /// The `log_type` value naming this level.
  var configName: StaticString {
    switch self {
    case .error: return "error"
    case .warning: return "warning"
    case .notice: return "notice"
    case .information: return "information"
    case .subscribe: return "subscribe"
    case .unsubscribe: return "unsubscribe"
    case .debug: return "debug"
    }
  }
}

public struct ListenerConfig {
  public var port: UInt16
  /// Address literal as bytes, NUL-terminated for C; nil means every IPv4 interface.
  public var address: [UInt8]?
  public var origin: String
  /// TLS options of this listener (mosquitto's per-listener cafile, certfile, ...).
  public var tls = TLSConfig()
  /// `protocol websockets`: MQTT over WebSockets (RFC 6455); with TLS options, wss.
  public var websockets = false
  /// `http_dir DIR` (WebSocket listeners): plain HTTP GETs are answered with DIR's files.
  public var httpDir: String?

  public init(port: UInt16, address: [UInt8]?, origin: String) {
    self.port = port
    self.address = address
    self.origin = origin
  }

  /// Listeners on 127.0.0.1 or ::1 admit anonymous clients unless configured otherwise; any
  /// other address (other 127/8 addresses included: a host may route or forward them, and
  /// tests bind 127.0.0.2 to stand for a network address) requires `allow_anonymous true`, as
  /// Mosquitto 2.x without a listener admits anonymous clients on its local-only default.
  public var isLoopback: Bool {
    guard let a = address else { return false }
    return Config.eq(a, "127.0.0.1\0") || Config.eq(a, "::1\0")
  }

  /// The address for messages ("0.0.0.0" when bound to all interfaces).
  public var addressText: String {
    guard let a = address else { return "0.0.0.0" }
    return Message(bytes: Array(a.prefix(while: { $0 != 0 }))).string
  }
}

public enum Action: Equatable {
  case run, help, helpConfig, version, plan
}

public struct Settings {
  public var action = Action.run
  public var limits = Limits()
  public var listeners: [ListenerConfig] = []
  /// nil: decided per listener (loopback admits anonymous clients).
  public var allowAnonymous: Bool?
  /// `password_file`: a mosquitto_passwd file ($6$ and $7$ entries).
  public var passwordFile: String?
  /// `auth_max_iterations`: the largest $7$ iteration count accepted at load time.
  public var authMaxIterations = 10_000
  /// `acl_file`: a mosquitto acl_file (sizes: limits.aclRulesMax, limits.authFileBytesMax).
  public var aclFile: String?
  /// `psk_file`: `identity:hexkey` lines for the listeners with a `psk_hint` (and where it was set).
  public var pskFile: String?
  public var pskFileOrigin = ""
  public var configPath: String?
  public var portOverride: UInt16?
  /// `--memory`: applied after the config file.
  public var memoryOverride: Int?
  public var verbose = false
  /// log_dest, log_type, connection_messages, log_timestamp, log_timestamp_format.
  public var log = LogSettings()
  /// `pid_file`: the process id is written there at startup, and the file removed at exit.
  public var pidFile: String?
  /// `persistence`: midge keeps nothing on disk yet; `true` is accepted with a startup warning
  /// (a stock mosquitto.conf has it), never silently. Also `persistence_location`.
  public var persistence = false
  public var persistenceLocation: String?
  /// `shutdown_flush_timeout`: seconds queued output is flushed for when stopping.
  public var shutdownFlushSeconds = 2
  /// `websockets_headers_size`: the bytes of one WebSocket handshake buffer (the HTTP request
  /// with its headers must fit); `max_websockets_handshakes`: handshake buffers, i.e. HTTP
  /// requests being read at once on the WebSocket listeners.
  public var websocketsHeadersBytes = 4096
  public var websocketsHandshakesMax = 8
  /// Lines accepted but not fully honoured, "FILE:LINE: text", logged as warnings at startup.
  public var warnings: [String] = []

  public init() {}

  /// Listeners to open: the config's, plus `-p PORT` on 127.0.0.1, or 127.0.0.1:1883 when
  /// nothing was configured.
  public var effectiveListeners: [ListenerConfig] {
    var result = listeners
    if let p = portOverride {
      result.append(ListenerConfig(port: p, address: [UInt8](utf8: "127.0.0.1\0"), origin: "-p"))
    } else if result.isEmpty {
      result.append(ListenerConfig(port: 1883, address: [UInt8](utf8: "127.0.0.1\0"), origin: "default"))
    }
    return result
  }

  /// Whether any listener speaks MQTT over WebSockets (the plan then reserves their lines).
  public var hasWebSocketListener: Bool { listeners.contains { $0.websockets } }

  /// Checks made once the whole configuration is read: `http_dir` only on WebSocket listeners.
  public func checkWebSockets() throws(ConfigError) {
    for l in listeners where l.httpDir != nil && !l.websockets {
      throw ConfigError("\(l.origin): listener \(l.port): 'http_dir' needs 'protocol websockets' on that listener")
    }
  }

  /// As Mosquitto 2.x: with a password_file, anonymous clients need `allow_anonymous true`.
  public func anonymousAllowed(_ l: ListenerConfig) -> Bool { allowAnonymous ?? (l.isLoopback && passwordFile == nil) }
}

/// Logging as Mosquitto configures it: `log_dest` and `log_type` lines add up (the first one
/// replaces the default), `none` clears.
public struct LogSettings {
  public static let stderr: UInt8 = 1, stdout: UInt8 = 2, syslog: UInt8 = 4, file: UInt8 = 8
  /// Destinations (bits above, the platform's CP_LOG_*); Mosquitto's default is stderr.
  public var destinations: UInt8 = LogSettings.stderr
  public var filePath: String?
  /// Levels logged (LogLevel bits); Mosquitto's default is error, warning, notice, information.
  public var types: UInt8 = LogLevel.defaultMask
  public var connectionMessages = true
  public var timestamp = true
  /// strftime format of the time prefix; nil: seconds since 1970.
  public var timestampFormat: String?
  var destinationsSet = false
  var typesSet = false
  public init() {}
}

public struct ConfigError: Error {
  public let text: Message
  public var message: String { text.string }
  public init(_ text: Message) { self.text = text }
}

public enum Config {
  public static let usage: StaticString = """
    Usage: midge [-c FILE] [-p PORT] [--memory SIZE] [-v]
           midge --plan [-c FILE] [--memory SIZE]
           midge passwd [-c] [-b] [-D] FILE USER [PASSWORD]   (see midge passwd --help)
           midge --help | --help-config | --version

    An MQTT broker (3.1, 3.1.1 and 5.0) with a fixed memory budget.

      -c, --config-file FILE  read configuration FILE (mosquitto.conf syntax)
      -p, --port PORT         listen on 127.0.0.1:PORT (default 127.0.0.1:1883)
          --memory SIZE       memory budget, e.g. 16MiB (overrides memory_budget)
          --plan              print the memory plan and exit
      -v, --verbose           log everything (log_type all)
      -h, --help              print this help and exit
          --help-config       list the configuration keys (range, default) and exit
          --version           print the version and board and exit

    """

  /// Parses argv (without the program name). Files are read afterwards by the caller.
  public static func parseArguments(_ args: [[UInt8]], into s: inout Settings) throws(ConfigError) {
    var i = 0
    func value(_ flag: [UInt8]) throws(ConfigError) -> [UInt8] {
      i += 1
      guard i < args.count else { throw ConfigError("option '\(flag)' needs a value (see midge --help)") }
      return args[i]
    }
    while i < args.count {
      let a = args[i]
      if eq(a, "-h") || eq(a, "--help") {
        s.action = .help
      } else if eq(a, "--help-config") {
        s.action = .helpConfig
      } else if eq(a, "--version") {
        s.action = .version
      } else if eq(a, "--plan") {
        s.action = .plan
      } else if eq(a, "-v") || eq(a, "--verbose") {
        s.verbose = true  // log_type all, as Mosquitto's -v
      } else if eq(a, "-c") || eq(a, "--config-file") {
        s.configPath = text(try value(a))
      } else if eq(a, "-p") || eq(a, "--port") {
        let v = try value(a)
        guard let p = parsePort(v) else { throw ConfigError("invalid port '\(v)' for -p (1-65535)") }
        s.portOverride = p
      } else if eq(a, "--memory") {
        let v = try value(a)
        guard let bytes = parseSize(v), bytes >= budgetMin, bytes <= budgetMax else {
          throw ConfigError("invalid size '\(v)' for --memory (\(budgetMin)..\(budgetMax) bytes, e.g. 16MiB)")
        }
        s.memoryOverride = bytes
      } else {
        throw ConfigError("unknown option '\(a)' (see midge --help)")
      }
      i += 1
    }
  }

  /// Reads the `*.conf` files of an `include_dir` and parses each into the settings (the CLI
  /// supplies it: the pure parser reads no files). Arguments: the directory, the settings.
  public typealias IncludeReader = (String, inout Settings) throws(ConfigError) -> Void

  /// Parses configuration text. `origin` names it in errors ("FILE:LINE: ..."). `include_dir`
  /// is handled where it stands, as Mosquitto does, through `include`; without one it is an error.
  public static func parse(
    _ text: UnsafeRawBufferPointer, origin: String, into s: inout Settings, include: IncludeReader? = nil
  ) throws(ConfigError) {
    var lineNumber = 0
    var start = 0
    while start <= text.count {
      var end = start
      while end < text.count && text[end] != 0x0A { end += 1 }
      lineNumber += 1
      if start == text.count { break }
      let words = split(text, start, end)
      if !words.isEmpty {
        if eq(words[0], "include_dir") {
          guard words.count == 2 else {
            throw ConfigError("\(origin):\(lineNumber): 'include_dir' takes exactly one value")
          }
          guard let include else {
            throw ConfigError("\(origin):\(lineNumber): 'include_dir' is not allowed here")
          }
          try include(Config.text(words[1]), &s)  // its files' errors name their own file:line
        } else {
          let warned = s.warnings.count
          do throws(ConfigError) {
            try apply(words, origin: origin, line: lineNumber, into: &s)
          } catch {
            throw ConfigError("\(origin):\(lineNumber): \(error.text)")
          }
          var k = warned
          while k < s.warnings.count {
            s.warnings[k] = ("\(origin):\(lineNumber): \(s.warnings[k])" as Message).string
            k += 1
          }
        }
      }
      start = end + 1
    }
  }

  /// `parse` over an array (board defaults, a file read into memory).
  public static func parse(
    _ text: [UInt8], origin: String, into s: inout Settings, include: IncludeReader? = nil
  ) throws(ConfigError) {
    var failure: ConfigError?
    text.withUnsafeBytes { b in
      do throws(ConfigError) {
        try parse(b, origin: origin, into: &s, include: include)
      } catch {
        failure = error
      }
    }
    if let failure { throw failure }
  }

  static func apply(_ w: [[UInt8]], origin: String, line: Int = 0, into s: inout Settings) throws(ConfigError) {
    guard let key = ConfigKey.named(w[0]) else { throw ConfigError("unknown key '\(w[0])'") }
    switch key {
    case .limit(let k):
      if let v = try value(w, k.spec) { k.set(v, in: &s.limits) }
    case .setting(let k):
      if let v = try value(w, k.spec) { k.set(v, in: &s) }
    case .other(let k):
      try applyOther(k, w, origin: origin, line: line, into: &s)
    }
  }

  /// The keys with their own syntax (OtherKey).
  static func applyOther(
    _ k: OtherKey, _ w: [[UInt8]], origin: String, line: Int, into s: inout Settings
  ) throws(ConfigError) {
    let key = w[0]
    func one() throws(ConfigError) -> [UInt8] {
      guard w.count == 2 else { throw ConfigError("'\(key)' takes exactly one value") }
      return w[1]
    }
    switch k {
    case .listener:
      guard w.count == 2 || w.count == 3 else { throw ConfigError("'listener' takes PORT [ADDRESS]") }
      guard let port = parsePort(w[1]) else { throw ConfigError("invalid port '\(w[1])' for 'listener' (1-65535)") }
      let address: [UInt8]? = w.count == 3 ? w[2] + [0] : nil
      s.listeners.append(ListenerConfig(port: port, address: address, origin: origin))
    case .protocolName:
      let v = try one()
      guard !s.listeners.isEmpty else { throw ConfigError("'protocol' must follow a 'listener' line") }
      if eq(v, "websockets") {
        s.listeners[s.listeners.count - 1].websockets = true
      } else if eq(v, "mqtt") {
        s.listeners[s.listeners.count - 1].websockets = false
      } else {
        throw ConfigError("invalid value '\(v)' for 'protocol' (mqtt or websockets)")
      }
    case .httpDir:
      let v = try one()
      guard !s.listeners.isEmpty else { throw ConfigError("'http_dir' must follow a 'listener' line") }
      s.listeners[s.listeners.count - 1].httpDir = text(v)
    case .includeDir:
      throw ConfigError("'include_dir' is not allowed here")  // Config.parse reads it where allowed
    case .passwordFile:
      s.passwordFile = text(try one())
      s.limits.usesPasswordFile = true
    case .aclFile:
      s.aclFile = text(try one())
      s.limits.usesAclFile = true
    case .perListenerSettings:
      throw ConfigError("'\(key)' is not supported yet")
    case .pidFile:
      s.pidFile = text(try one())
    case .persistenceLocation:
      s.persistenceLocation = text(try one())  // where persistence will write once it exists
    case .persistenceFile:
      _ = try one()  // only meaningful with persistence, which warns
    case .queueFullAction:
      s.limits.queueFullAction = try queueFullAction(try one())
    case .receiveMaximumExceeded:
      let v = try one()
      if eq(v, "disconnect") {
        s.limits.spillsBeyondReceiveMaximum = false
      } else if eq(v, "spill") {
        s.limits.spillsBeyondReceiveMaximum = true
      } else {
        throw ConfigError("invalid value '\(v)' for 'receive_maximum_exceeded' (disconnect or spill)")
      }
    case .logDest, .logType, .logTimestampFormat:
      try applyLog(w, into: &s.log)
    case .pskFile, .cafile, .capath, .certfile, .keyfile, .requireCertificate, .useIdentityAsUsername, .pskHint,
      .tlsVersion, .ciphers:
      _ = try applyTLS(w, origin: origin, line: line, into: &s)
    }
  }

  /// `queue_full_action`; quota_exceeded and pause: the names before drop_newest became the default.
  static func queueFullAction(_ v: [UInt8]) throws(ConfigError) -> QueueFullAction {
    if eq(v, "drop_newest") { return .dropNewest }
    if eq(v, "drop_oldest") { return .dropOldest }
    if eq(v, "reject_publish") || eq(v, "quota_exceeded") { return .rejectPublish }
    if eq(v, "pause_publisher") || eq(v, "pause") { return .pausePublisher }
    throw ConfigError(
      "invalid value '\(v)' for 'queue_full_action' (drop_newest, drop_oldest, reject_publish or pause_publisher)")
  }

  static func applyLog(_ w: [[UInt8]], into log: inout LogSettings) throws(ConfigError) {
    if eq(w[0], "log_timestamp_format") {
      try applyTimestampFormat(w, into: &log)
    } else if eq(w[0], "log_dest") {
      try applyLogDest(w, into: &log)
    } else {
      try applyLogType(w, into: &log)
    }
  }

  /// `log_timestamp_format FORMAT...`
  static func applyTimestampFormat(_ w: [[UInt8]], into log: inout LogSettings) throws(ConfigError) {
    // The rest of the line, spaces included, as Mosquitto reads it.
    guard w.count >= 2 else { throw ConfigError("'log_timestamp_format' takes a format") }
    var format: [UInt8] = w[1]
    for word in w.dropFirst(2) { format += [0x20] + word }
    guard format.count < 64 else { throw ConfigError("'log_timestamp_format' is longer than 63 bytes") }
    var i = 0
    while i < format.count {
      if format[i] == 0x25 {  // '%': the subset the platform formats, in UTC
        let c = i + 1 < format.count ? format[i + 1] : 0
        guard [UInt8](utf8: "YmdHMSFTsz%").contains(c) else {
          let after: [UInt8] = c == 0 ? [] : [c]
          throw ConfigError(
            "'log_timestamp_format': '%\(after)' is not supported (midge writes UTC with %Y %m %d %H %M %S %F %T %s "
              + "%z %%)")
        }
        i += 1
      }
      i += 1
    }
    log.timestampFormat = text(format)
  }

  /// `log_dest stderr|stdout|syslog|file PATH|none`
  static func applyLogDest(_ w: [[UInt8]], into log: inout LogSettings) throws(ConfigError) {
    guard w.count >= 2 else { throw ConfigError("'log_dest' takes stderr, stdout, syslog, file PATH or none") }
    if !log.destinationsSet {
      log.destinations = 0
      log.destinationsSet = true
    }
    let v = w[1]
    if eq(v, "file") {
      guard w.count == 3 else { throw ConfigError("'log_dest file' takes exactly one PATH") }
      if let path = log.filePath, Message.utf8(path) != w[2] {  // bytes: no Unicode tables embedded
        throw ConfigError("'log_dest file' given twice, with another file (midge writes one log file: '\(path)')")
      }
      log.destinations |= LogSettings.file
      log.filePath = text(w[2])
      return
    }
    guard w.count == 2 else { throw ConfigError("'log_dest \(v)' takes no further value") }
    if eq(v, "stderr") {
      log.destinations |= LogSettings.stderr
    } else if eq(v, "stdout") {
      log.destinations |= LogSettings.stdout
    } else if eq(v, "syslog") {
      log.destinations |= LogSettings.syslog
    } else if eq(v, "none") {
      log.destinations = 0
      log.filePath = nil
    } else if eq(v, "topic") || eq(v, "dlt") || eq(v, "android") {
      throw ConfigError("'log_dest \(v)' is not supported (stderr, stdout, syslog, file PATH or none)")
    } else {
      throw ConfigError("invalid value '\(v)' for 'log_dest' (stderr, stdout, syslog, file PATH or none)")
    }
  }

  /// `log_type LEVEL`
  static func applyLogType(_ w: [[UInt8]], into log: inout LogSettings) throws(ConfigError) {
    guard w.count == 2 else { throw ConfigError("'log_type' takes exactly one value (see README, Logging)") }
    if !log.typesSet {
      log.types = 0
      log.typesSet = true
    }
    let v = w[1]
    if eq(v, "all") {
      log.types = LogLevel.allMask
    } else if eq(v, "none") {
      log.types = 0
    } else if eq(v, "websockets") {
      log.types |= LogLevel.debug.rawValue  // WebSocket handshakes and closes are logged at debug level
    } else {
      var found = false
      for level in LogLevel.allCases where eq(v, level.configName) {
        log.types |= level.rawValue
        found = true
      }
      guard found else {
        throw ConfigError(
          "invalid value '\(v)' for 'log_type' (error, warning, notice, information, subscribe, unsubscribe, debug, "
            + "all or none)")
      }
    }
  }

  /// Mosquitto's durations: a number with an optional unit, h(ours), d(ays), w(eeks),
  /// m(onths of 30 days) or y(ears of 365 days); no unit means seconds.
  public static func parseDuration(_ a: [UInt8]) -> Int? {
    guard let last = a.last else { return nil }
    let units: [(UInt8, Int)] = [(0x68, 3600), (0x64, 86400), (0x77, 604_800), (0x6D, 2_592_000), (0x79, 31_536_000)]
    for (letter, seconds) in units where last == letter {
      guard let n = parseInt(Array(a.dropLast())), n > 0, n <= Int(Int32.max) / seconds else { return nil }
      return n * seconds
    }
    guard let n = parseInt(a), n >= 0, n <= Int(Int32.max) else { return nil }
    return n
  }

  /// A PlanError as one line: the consumer, the relation, or the key and its range.
  public static func describe(_ e: PlanError) -> Message {
    guard let key = e.key else { return "\(e.message)" }
    return "\(key.spec.name) must be \(key.spec.lo)..\(key.spec.hi)\(key.rangeNote)"
  }

  public static let budgetMin = Limits.budgetMin
  public static let budgetMax = Limits.budgetMax

  // MARK: lexical helpers

  /// Whitespace-separated words of one line; '#' starts a comment at the start of a word.
  static func split(_ t: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> [[UInt8]] {
    var words: [[UInt8]] = []
    var i = start
    while i < end {
      while i < end && (t[i] == 0x20 || t[i] == 0x09 || t[i] == 0x0D) { i += 1 }
      if i >= end || t[i] == 0x23 { break }
      var word: [UInt8] = []
      while i < end && t[i] != 0x20 && t[i] != 0x09 && t[i] != 0x0D {
        word.append(t[i])
        i += 1
      }
      words.append(word)
    }
    return words
  }

  @inline(never)  // ~100 call sites: one copy, not one each
  public static func eq(_ a: [UInt8], _ lit: StaticString) -> Bool {
    guard a.count == lit.utf8CodeUnitCount else { return false }
    var i = 0
    while i < a.count {
      if a[i] != lit.utf8Start[i] { return false }
      i += 1
    }
    return true
  }

  @inline(never)
  public static func text(_ a: [UInt8]) -> String { Message(bytes: a).string }

  /// A decimal integer that fits this platform's Int (32-bit on armv7).
  public static func parseInt(_ a: [UInt8]) -> Int? {
    guard let n = parseInt64(a), n <= Int64(Int.max) else { return nil }
    return Int(n)
  }

  static func parseInt64(_ a: [UInt8]) -> Int64? {
    guard !a.isEmpty, a.count <= 15 else { return nil }
    var n: Int64 = 0
    for b in a {
      guard b >= 0x30 && b <= 0x39 else { return nil }
      n = n * 10 + Int64(b - 0x30)
    }
    return n
  }

  static func parsePort(_ a: [UInt8]) -> UInt16? {
    guard let n = parseInt(a), n >= 1, n <= 65535 else { return nil }
    return UInt16(n)
  }

  /// "4096", "64KiB", "16MiB", "1GiB" (also k/K/KB, M/MB, G/GB: all binary multiples).
  public static func parseSize(_ a: [UInt8]) -> Int? {
    var digits = 0
    while digits < a.count && a[digits] >= 0x30 && a[digits] <= 0x39 { digits += 1 }
    guard digits > 0, let n = parseInt64(Array(a[0..<digits])) else { return nil }
    let unit = Array(a[digits...])
    let shift: Int
    if unit.isEmpty || eq(unit, "B") {
      shift = 0
    } else if eq(unit, "k") || eq(unit, "K") || eq(unit, "KB") || eq(unit, "KiB") {
      shift = 10
    } else if eq(unit, "M") || eq(unit, "MB") || eq(unit, "MiB") {
      shift = 20
    } else if eq(unit, "G") || eq(unit, "GB") || eq(unit, "GiB") {
      shift = 30
    } else {
      return nil
    }
    guard n <= Int64(1) << 40, n <= Int64(Int.max) >> Int64(shift) else { return nil }
    return Int(n << Int64(shift))
  }
}
