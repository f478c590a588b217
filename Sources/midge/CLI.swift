// Command-line driver: builds Settings, prints help/version/plan, starts the broker.
import Bounded
import BrokerCore
import MidgeAuth
import MidgeConfig
import MidgeText
import Platform

enum CLI {
  static func main(_ args: [[UInt8]]) -> Int32 {
    if let first = args.first, Config.eq(first, "passwd") { return Passwd.main(Array(args.dropFirst())) }
    var settings = Settings()
    let board = System.boardName
    do throws(ConfigError) {
      var cli = Settings()
      try Config.parseArguments(args, into: &cli)
      if cli.action == .help || cli.action == .helpConfig || cli.action == .version { settings.action = cli.action }
      if settings.action == .run {
        try Config.parse(System.boardDefaults, origin: ("board profile \(board)" as Message).string, into: &settings)
      }
      settings.action = cli.action
      settings.verbose = cli.verbose
      settings.portOverride = cli.portOverride
      settings.configPath = cli.configPath
      if settings.action == .help {
        out("\(Config.usage)")
        return 0
      }
      if settings.action == .helpConfig {
        out(Config.keyListing())
        return 0
      }
      if settings.action == .version {
        out("midge \(version) (board \(board), MQTT 3.1, 3.1.1 and 5.0)\n")
        return 0
      }
      if let path = cli.configPath { try readConfig(path, into: &settings) }
      if let bytes = cli.memoryOverride { settings.limits.memoryBudgetBytes = bytes }
      try Config.checkTLS(settings)
      try settings.checkWebSockets()
    } catch {
      fail(error.text)
      return 2
    }
    // TLS: the listeners' key material is read and measured now, so that the plan holds it.
    var tls = TLSStartup()
    if settings.hasTLSListener {
      guard let t = loadTLS(settings) else { return 1 }
      tls = t
    }
    let plan: BrokerPlan
    do throws(PlanError) {
      plan = try BrokerPlan.make(
        settings.limits, socketBytesPerConnection: EventLoop.socketBytesPerConnection,
        loopBufferBytes: EventLoop.loopBufferBytes,
        platform: TLSSessions.planLines(
          configBytes: tls.configBytes, sessions: tls.sessions, handshakes: settings.limits.tlsHandshakesMax,
          reloadBufferBytes: TLSMemory.reloadBufferBytes(tls.files))
          + (settings.hasWebSocketListener
            ? WebSockets.planLines(
              slots: settings.limits.slotCount, handshakes: settings.websocketsHandshakesMax,
              headersBytes: settings.websocketsHeadersBytes) : []))
    } catch {
      if error.neededBytes > 0 {
        fail("memory plan does not fit: budget \(error.budgetBytes) bytes, at least \(error.neededBytes) needed;"
          + " raise memory_budget or shrink \(error.message)")
      } else {
        fail(Config.describe(error))
      }
      return 1
    }
    if settings.action == .plan {
      printPlan(plan, board: board)
      return 0
    }
    return run(settings, plan, tls)
  }

  /// What startup learnt about TLS before the plan: each TLS listener's files, read.
  struct TLSStartup {
    var files: [TLSListenerFiles] = []
    var configBytes = 0
    var sessions = 0
  }

  /// Reads every TLS listener's cafile/capath/certfile/keyfile and the psk_file, and measures
  /// what they take in the TLS heap. Errors name the listener's first TLS option (FILE:LINE).
  static func loadTLS(_ settings: Settings) -> TLSStartup? {
    var result = TLSStartup()
    result.sessions = settings.limits.tlsSessionsMax
    guard let psk = readPSKFile(settings) else { return nil }
    let tlsListeners = settings.listeners.filter { $0.tls.isEnabled }
    for l in tlsListeners {
      let t = l.tls
      func read(_ path: String, _ key: String) -> [UInt8]? {
        do throws(SystemError) {
          return try System.readFile(path, limit: 1 << 20) + [0]  // PEM is parsed NUL-terminated
        } catch {
          fail("\(t.origin): listener \(l.port): cannot read \(key) '\(path)': \(error.description)")
          return nil
        }
      }
      var f = TLSListenerFiles()
      if let c = t.certfile, let k = t.keyfile {
        guard let cert = read(c, "certfile"), let key = read(k, "keyfile") else { return nil }
        f.certificate = cert
        f.key = key
        f.names = "certfile '\(c)', keyfile '\(k)'"
        f.certificatePath = Message.cString(c)
        f.keyPath = Message.cString(k)
      }
      if let c = t.cafile {
        guard let ca = read(c, "cafile") else { return nil }
        f.authorities.append(ca)
        f.authorityPaths.append(Message.cString(c))
      }
      if let dir = t.capath {
        do throws(SystemError) {
          for path in try TLSFiles.certificates(in: dir) {
            guard let ca = read(path, "capath file") else { return nil }
            f.authorities.append(ca)
            f.authorityPaths.append(Message.cString(path))
          }
        } catch {
          fail("\(t.origin): listener \(l.port): cannot read capath '\(dir)': \(error.description)")
          return nil
        }
      }
      if t.pskHint != nil { f.psk = psk }
      f.port = Int(l.port)
      f.requireCertificate = t.requireCertificate
      f.identityAsUsername = t.useIdentityAsUsername
      f.ciphers = t.ciphers
      result.files.append(f)
    }
    if result.sessions == 0 {
      fail("\(tlsListeners[0].tls.origin): a TLS listener needs max_tls_sessions of at least 1")
      return nil
    }
    do throws(TLSError) {
      result.configBytes = try TLSListener.measure(result.files)
    } catch {
      let l = tlsListeners[max(0, error.listener)]
      fail("\(l.tls.origin): listener \(l.port): \(error.message)")
      return nil
    }
    return result
  }

  /// Reads and parses one config file; `include_dir` is allowed only where `include` is given.
  static func readConfig(
    _ path: String, into settings: inout Settings, include: Config.IncludeReader? = readIncludeDir
  ) throws(ConfigError) {
    let text: [UInt8]
    do throws(SystemError) {
      text = try System.readFile(path, limit: 1 << 20)
    } catch {
      throw ConfigError("cannot read config file '\(path)': \(error.description)")
    }
    try Config.parse(text, origin: path, into: &settings, include: include)
  }

  /// `include_dir DIR`: every `*.conf` in DIR, in byte order of their names (as Mosquitto).
  static func readIncludeDir(_ dir: String, into settings: inout Settings) throws(ConfigError) {
    let paths: [String]
    do throws(SystemError) {
      paths = try System.configFiles(in: dir)
    } catch {
      throw ConfigError("cannot read include_dir '\(dir)': \(error.description)")
    }
    for path in paths {
      try readConfig(path, into: &settings, include: nil)  // no include_dir inside: no cycles
    }
  }

  static func run(_ settings: Settings, _ plan: BrokerPlan, _ tlsStartup: TLSStartup) -> Int32 {
    let wanted = settings.limits.slotCount + EventLoop.lingerSlots + settings.effectiveListeners.count + 16
    let nofile = System.raiseOpenFileLimit(wanted)
    guard configureLog(settings) else { return 1 }
    for warning in settings.warnings { Log.text(.warning, "\(warning)") }
    if let path = settings.pidFile {
      do throws(SystemError) {
        try System.writePidFile(path)
      } catch {
        fail("cannot write pid_file '\(path)': \(error.description)")
        return 1
      }
    }
    // Every exit from here on, a failed start included, removes the pid file.
    defer { removePidFile(settings) }
    // Before the first listener opens: a SIGTERM as soon as the port answers is a clean stop.
    System.installStopHandlers()
    guard let arena = mapArena(settings, plan) else { return 1 }
    guard var sockets = openListeners(settings) else { return 1 }
    let broker = Broker(plan: plan, arena: arena)
    broker.versionText = version
    // password_file and acl_file, into their regions of the plan (errors: FILE:LINE).
    let auth = AuthFiles(settings: settings, plan: plan, arena: arena, broker: broker)
    if let message = auth.loadAtStartup() {
      fail(message)
      return 1
    }
    var tls: TLSSessions? = nil
    if !tlsStartup.files.isEmpty {
      guard let t = startTLS(settings, plan, arena, tlsStartup, &sockets) else { return 1 }
      tls = t
    }
    // WebSockets: their lines follow TLS's in the plan.
    let tlsLines = tlsStartup.sessions > 0 ? 5 : 0  // TLSSessions.planLines
    let webSockets = settings.hasWebSocketListener
      ? WebSockets(plan: plan, first: tlsLines, arena: arena, packetBytesMax: settings.limits.packetBytesMax) : nil
    let loop: EventLoop
    do throws(PlatformError) {
      loop = try EventLoop(
        broker: broker, plan: plan, arena: arena, listeners: sockets, verbose: settings.verbose, tls: tls,
        webSockets: webSockets)
    } catch {
      fail("\(error.operation): \(SystemError(errno: error.errno).description)")
      return 1
    }
    loop.connectionMessages = settings.log.connectionMessages
    loop.shutdownFlushMs = UInt64(settings.shutdownFlushSeconds) * 1000
    if auth.hasFiles { loop.reloadables.append(auth) }
    if let tls { loop.reloadables.append(tls) }
    logListeners(settings, sockets)
    if nofile >= 0 && nofile < wanted {
      Log.text(.warning, "open file limit \(nofile) is below max_connections + listeners")
    }
    Log.text(.information, "memory plan \(plan.memory.totalBytes) of \(settings.limits.memoryBudgetBytes) bytes reserved")
    // Startup ends here: from now on the broker allocates nothing (counted; see CAllocHook).
    AllocationGuard.seal()
    System.notifyServiceManager("READY=1")  // systemd Type=notify: listeners are open
    loop.run()
    System.notifyServiceManager("STOPPING=1")
    logStop(tls, tlsStartup)
    return 0
  }

  /// The last lines: TLS heap use, allocations after startup (none expected), log errors.
  static func logStop(_ tls: TLSSessions?, _ tlsStartup: TLSStartup) {
    let after = AllocationGuard.sealedAllocations
    AllocationGuard.unseal()
    if let tls {
      Log.text(.information, "TLS heap: \(tls.heapSize) bytes, \(tlsStartup.configBytes) for certificates and keys, "
        + "peak \(tls.heapPeak) in use, \(tls.heapUsed) at exit")
    }
    if AllocationGuard.isEnabled {
      let startup = AllocationGuard.startupAllocations
      Log.text(.notice, "allocations: \(startup) at startup, \(after) after startup")
    }
    if Log.writeErrors > 0 { Log.text(.warning, "\(Log.writeErrors) log lines could not be written") }
    Log.text(.notice, "midge stopped")
  }

  /// psk_file's identities and keys (none without one); nil after printing why it failed.
  static func readPSKFile(_ settings: Settings) -> [([UInt8], [UInt8])]? {
    guard let path = settings.pskFile else { return [] }
    do throws(ConfigError) {
      let text: [UInt8]
      do throws(SystemError) {
        text = try System.readFile(path, limit: settings.limits.authFileBytesMax)
      } catch {
        throw ConfigError("\(settings.pskFileOrigin): cannot read psk_file '\(path)': \(error.description)")
      }
      return try Config.parsePSKFile(text, origin: path)
    } catch {
      fail(error.text)
      return nil
    }
  }

  static func removePidFile(_ settings: Settings) {
    if let path = settings.pidFile { System.removeFile(path) }
  }

  /// Opens the log destinations (log_dest file: an error when the file cannot be opened).
  static func configureLog(_ settings: Settings) -> Bool {
    let log = settings.log
    let file = log.destinations & LogSettings.file != 0 ? log.filePath : nil
    let rc = Log.configure(
      destinations: log.destinations, types: settings.verbose ? LogLevel.allMask : log.types,
      timestamp: log.timestamp, timeFormat: log.timestampFormat, filePath: file)
    guard rc == 0 else {
      fail("cannot open log file '\(file ?? "")': \(SystemError(errno: rc).description)")
      return false
    }
    return true
  }

  static func printPlan(_ plan: BrokerPlan, board: String) {
    let budget = plan.limits.memoryBudgetBytes
    out("midge memory plan (board \(board)): budget \(budget) bytes\n")
    out(pad("consumer", 24, left: true) + pad("count", 10) + pad("bytes each", 12) + pad("total bytes", 14) + "\n")
    for line in plan.memory.lines {
      out(pad("\(line.name)", 24, left: true) + pad("\(line.count)", 10) + pad("\(line.bytesEach)", 12)
        + pad("\(line.totalBytes)", 14) + "\n")
    }
    let total = plan.memory.totalBytes
    let percent = total * 1000 / Int64(budget)
    out(pad("total (with alignment)", 46, left: true) + pad("\(total)", 14)
      + "  (\(percent / 10).\(percent % 10)% of budget)\n")
    let l = plan.limits
    if l.memoryLock {
      out("memory_lock true: all \(total) bytes are faulted in and locked in RAM at startup "
        + "(needs RLIMIT_MEMLOCK >= \(total))\n")
    } else {
      out("memory_lock false: pages become resident as they are first used (RSS grows with load)\n")
    }
    if l.socketSendBufferBytes > 0 && l.socketReceiveBufferBytes > 0 {
      // Linux doubles the value set, for its own bookkeeping (socket(7)).
      let each = 2 * (l.socketSendBufferBytes + l.socketReceiveBufferBytes)
      out("kernel socket buffers, outside the budget: \(l.slotCount) x \(each) = "
        + "\(Int64(l.slotCount) * Int64(each)) bytes at most (socket_send_buffer, socket_receive_buffer)\n")
    } else {
      out("kernel socket buffers, outside the budget: kernel defaults (set socket_send_buffer and "
        + "socket_receive_buffer to bound them)\n")
    }
  }

  /// Opens every listener (and its http_dir); nil after printing why one failed.
  /// The arena: zero pages, resident as the broker uses them; all of it with memory_lock
  /// (mapped before the listeners open: a client that connects finds it in place). Nil after
  /// printing why not.
  static func mapArena(_ settings: Settings, _ plan: BrokerPlan) -> Arena? {
    let arena: Arena
    do throws(SystemError) {
      arena = try System.mapArena(plan.memory)
    } catch {
      fail("cannot map the memory plan's \(plan.memory.totalBytes) bytes: \(error.description)")
      return nil
    }
    guard settings.limits.memoryLock else { return arena }
    do throws(SystemError) {
      try System.lockArena(arena)
    } catch {
      var limit: Message = "unlimited"
      if let bytes = System.memoryLockLimit { limit = "\(bytes) bytes" }
      fail("memory_lock: the kernel cannot lock the arena's \(arena.byteCount) bytes in RAM "
        + "(mlock: \(error.description); RLIMIT_MEMLOCK is \(limit)): raise the limit to at least "
        + "\(arena.byteCount) bytes (ulimit -l, systemd LimitMEMLOCK=) or set memory_lock false")
      return nil
    }
    return arena
  }

  static func openListeners(_ settings: Settings) -> [ListenerSocket]? {
    var sockets: [ListenerSocket] = []
    for l in settings.effectiveListeners {
      do throws(SystemError) {
        let fd = try System.listen(address: l.address, port: l.port)
        var dir: HTTPDirectory? = nil
        if let path = l.httpDir {
          do throws(SystemError) {
            dir = try HTTPDirectory(path: path)
          } catch {
            fail("\(l.origin): listener \(l.port): cannot open http_dir '\(path)': \(error.description)")
            return nil
          }
        }
        sockets.append(
          ListenerSocket(
            fd: fd, anonymousAllowed: settings.anonymousAllowed(l), port: l.port, websockets: l.websockets,
            httpDirectory: dir))
      } catch {
        let reason = error.isInvalidAddress ? "not an IPv4 or IPv6 address" : error.description
        fail("\(l.origin): listener \(l.addressText) port \(l.port): \(reason)")
        return nil
      }
    }
    return sockets
  }

  /// The TLS sessions, and each TLS listener's socket given its configuration; nil after
  /// printing why they could not be set up.
  static func startTLS(
    _ settings: Settings, _ plan: BrokerPlan, _ arena: Arena, _ tlsStartup: TLSStartup,
    _ sockets: inout [ListenerSocket]
  ) -> TLSSessions? {
    do throws(TLSError) {
      let t = try TLSSessions(
        plan: plan, first: 0, arena: arena, sessions: tlsStartup.sessions,
        handshakes: settings.limits.tlsHandshakesMax, listeners: tlsStartup.files)
      var k = 0
      for (i, l) in settings.effectiveListeners.enumerated() where l.tls.isEnabled {
        let s = sockets[i]
        sockets[i] = ListenerSocket(
          fd: s.fd, anonymousAllowed: s.anonymousAllowed, tls: t.listeners[k], port: s.port, websockets: s.websockets,
          httpDirectory: s.httpDirectory)
        k += 1
      }
      return t
    } catch {
      fail("TLS: \(error.message)")
      return nil
    }
  }

  static func logListeners(_ settings: Settings, _ sockets: [ListenerSocket]) {
    for (l, s) in zip(settings.effectiveListeners, sockets) {
      let anonymous = s.anonymousAllowed ? "anonymous clients allowed" : "anonymous clients refused"
      let kind: Message = l.websockets ? (l.tls.isEnabled ? "WebSockets over TLS, " : "WebSockets, ")
        : l.tls.isEnabled ? "TLS, " : ""
      Log.text(.notice, "midge \(version) listening on \(l.addressText):\(l.port) (\(kind)\(anonymous))")
    }
  }

  // MARK: small helpers (startup only: these allocate)

  static func pad(_ m: Message, _ width: Int, left: Bool = false) -> Message {
    let n = m.bytes.count
    guard n < width else { return m + " " }
    let fill = Message(bytes: [UInt8](repeating: 0x20, count: width - n))
    return left ? m + fill : fill + m
  }


  static func out(_ m: Message, to stream: System.Stream = .standardOutput) { System.write(m, to: stream) }

  static func fail(_ message: Message) { out("midge: \(message)\n", to: .standardError) }
}
