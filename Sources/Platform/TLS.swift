// TLS through mbedTLS 2.28 (Sources/CTLS is the only code that includes its headers).
//
// Memory: mbedTLS allocates only from one pool carved from the arena ("TLS heap" lines of the
// plan): the listeners' keys and certificates (measured at startup by loading them once into a
// scratch pool), plus max_tls_sessions x what a session keeps after its handshake, plus
// max_tls_handshakes x what a handshake needs on top. The session records themselves
// (mbedtls_ssl_context and midge's state) are a plan line of their own. Admission is by count:
// a TLS client that finds every session slot or every handshake slot in use is closed at once
// and counted; the others are unaffected. mbedTLS's own allocation failure (not expected within
// these bounds) fails that one handshake or connection.
//
// I/O: the handshake runs non-blocking inside the epoll loop (WANT_READ / WANT_WRITE map to
// read and write interest); it is bounded by connect_timeout, the same deadline that bounds
// CONNECT. Decrypted bytes that mbedTLS holds back (a record larger than the receive buffer
// offered) are invisible to epoll: such sessions are kept on a pending list served every turn.
// A write that mbedTLS could not finish (WANT_WRITE) is retried with the same length.
import BrokerCore
import Bounded
import CPlatform
import CTLS
import MidgeText

/// Measured pool use (README, "TLS"): see `midge --plan` and the shutdown log line. The figures
/// are per pointer width because mbedTLS's structures and the pool's block headers scale with it.
public enum TLSMemory {
  /// Pool bytes one session keeps after its handshake: the record buffers (IN 16 KiB +
  /// overhead, OUT 4 KiB + overhead), the transform (keys, cipher contexts) and the session.
  /// Measured (pool statistics, blocks with their headers): 21,856-22,376 bytes on x86_64 and
  /// 21,552-21,904 on armv7 over ECDSA, RSA-2048, mutual TLS and PSK; AES-256-GCM adds ~1.2 KB
  /// over ChaCha20-Poly1305; the first RSA handshake adds ~2 KB of blinding values that the
  /// server key keeps (once, not per session).
  public static let sessionResidentBytes = MemoryLayout<Int>.size == 8 ? 24_576 : 23_552
  /// Extra pool bytes a handshake needs while it runs (ECDHE, the signature, a client's
  /// certificate chain being parsed and verified). Measured: x86_64 10.6 KB (ECDSA), 11.7 KB
  /// (RSA-2048), 16.1 KB (mutual TLS, one client certificate); armv7 7.0, 8.6, 10.1 KB.
  public static let handshakeExtraBytes = MemoryLayout<Int>.size == 8 ? 20_480 : 14_336
  /// Slack for pool fragmentation: 1/16 of the session and handshake share. Certificates and
  /// keys: two copies (SIGHUP loads the new files beside the old ones), each the measured size
  /// plus 1/4 headroom for a larger new certificate; a reload that would exceed both is refused.
  static func heapBytes(configBytes: Int, sessions: Int, handshakes: Int) -> (Int, Int, Int) {
    let config = round64(configBytes + configBytes / 4)
    let session = round64(sessionResidentBytes + sessionResidentBytes / 16)
    let handshake = round64(handshakeExtraBytes + handshakeExtraBytes / 16)
    return (config, session, min(handshakes, sessions) > 0 ? handshake : 0)
  }
  static func round64(_ n: Int) -> Int { (n + 63) / 64 * 64 }
  /// The buffer a reload reads each certificate, key and CA file into: twice the largest file
  /// read at startup (at least 4 KiB), plus its NUL. A larger new file is refused on reload.
  public static func reloadBufferBytes(_ files: [TLSListenerFiles]) -> Int {
    var largest = 0
    for f in files {
      largest = max(largest, f.certificate.count, f.key.count)
      for a in f.authorities { largest = max(largest, a.count) }
    }
    return round64(max(4096, 2 * largest) + 1)
  }
  /// One session record: the C session (mbedtls_ssl_context ...) plus midge's state and list links.
  public static var recordBytes: Int {
    round64(Int(ctls_session_size())) + MemoryLayout<TLSState>.stride + 8
  }
}

/// The bytes of one listener's key material, read at startup.
public struct TLSListenerFiles {
  public var certificate: [UInt8] = []
  public var key: [UInt8] = []
  /// CA certificates (cafile, then every file of capath).
  public var authorities: [[UInt8]] = []
  /// psk_file entries: identity, key bytes.
  public var psk: [([UInt8], [UInt8])] = []
  public var requireCertificate = false
  public var identityAsUsername = false
  public var ciphers: [Int] = []
  /// For messages: "certfile 'X', keyfile 'Y'".
  public var names: Message = "certfile/keyfile"
  /// For reloads: the listener's port and its files' NUL-terminated paths (cafile, then the
  /// capath files found at startup).
  public var port = 0
  public var certificatePath: [UInt8] = []
  public var keyPath: [UInt8] = []
  public var authorityPaths: [[UInt8]] = []
  public init() {}
}

public struct TLSError: Error {
  public let message: Message
  /// Which of the listeners' files failed (index into the array given), or -1.
  public var listener = -1
}

public enum TLSFiles {
  /// The `*.pem` and `*.crt` files of a capath directory, sorted by name (startup only).
  public static func certificates(in dir: String) throws(SystemError) -> [String] {
    try System.files(in: dir, endingIn: ".pem", ".crt", max: 1024, bufferBytes: 1 << 14)
  }
}

/// One TLS listener's configuration inside the pool: two sets (certificates, key, CA and
/// mbedtls_ssl_config), the one new handshakes use and a spare that SIGHUP loads into.
public final class TLSListener {
  let sets: (OpaquePointer, OpaquePointer)
  var active = 0
  /// Pool bytes each set's contents take (measured when loaded).
  var setBytes = (0, 0)
  let port: Int
  let certificatePath: [UInt8]
  let keyPath: [UInt8]
  let authorityPaths: [[UInt8]]
  let suites: [Int32]
  let requireCertificate: Bool
  let identityAsUsername: Bool

  init(sets: (OpaquePointer, OpaquePointer), files f: TLSListenerFiles, bytes: Int) {
    self.sets = sets
    setBytes = (bytes, 0)
    port = f.port
    certificatePath = f.certificatePath
    keyPath = f.keyPath
    authorityPaths = f.authorityPaths
    suites = f.ciphers.map { Int32($0) } + [0]
    requireCertificate = f.requireCertificate
    identityAsUsername = f.identityAsUsername
  }

  /// The set new sessions start on.
  var handle: OpaquePointer { active == 0 ? sets.0 : sets.1 }
  var spare: OpaquePointer { active == 0 ? sets.1 : sets.0 }

  /// Parses a listener's key material into the pool (startup only).
  static func load(_ f: TLSListenerFiles) throws(TLSError) -> TLSListener {
    guard let l = ctls_listener_new(), let second = ctls_listener_new() else {
      throw TLSError(message: "TLS heap too small for the listener")
    }
    let before = Int(ctls_heap_used())
    func check(_ rc: Int32, _ what: Message) throws(TLSError) {
      if rc != 0 { throw TLSError(message: "\(what): \(cString: ctls_error_text(rc))") }
    }
    for ca in f.authorities {
      try check(ca.withUnsafeBufferPointer { ctls_listener_add_ca(l, $0.baseAddress, $0.count) }, "cafile/capath")
    }
    if !f.certificate.isEmpty {
      let rc = f.certificate.withUnsafeBufferPointer { c in
        f.key.withUnsafeBufferPointer { k in ctls_listener_set_cert(l, c.baseAddress, c.count, k.baseAddress, k.count) }
      }
      try check(rc, f.names)
    }
    var pskBytes = 0  // the PSK table stays when the set is cleared: not part of the set's bytes
    if !f.psk.isEmpty {
      let start = Int(ctls_heap_used())
      try check(ctls_listener_reserve_psk(l, f.psk.count), "psk_file")
      pskBytes = Int(ctls_heap_used()) - start
      for (identity, key) in f.psk {
        let rc = identity.withUnsafeBufferPointer { i in
          key.withUnsafeBufferPointer { k in ctls_listener_add_psk(l, i.baseAddress, i.count, k.baseAddress, k.count) }
        }
        try check(rc, "psk_file")
      }
    }
    var suites: [Int32] = f.ciphers.map { Int32($0) }
    suites.append(0)
    let rc = suites.withUnsafeBufferPointer {
      ctls_listener_finish(l, $0.baseAddress, f.requireCertificate ? 1 : 0, f.identityAsUsername ? 1 : 0)
    }
    try check(rc, "TLS configuration")
    ctls_listener_share_psk(second, l)
    return TLSListener(sets: (l, second), files: f, bytes: Int(ctls_heap_used()) - before - pskBytes)
  }

  /// Pool bytes the listeners keep once loaded: loads them into a scratch pool and measures.
  /// (They are loaded for good into the arena's pool by `TLSSessions.init`.)
  public static func measure(_ files: [TLSListenerFiles]) throws(TLSError) -> Int {
    var input = 0
    for f in files {
      input += f.certificate.count + f.key.count + f.psk.count * 200
      for a in f.authorities { input += a.count }
    }
    let scratchBytes = 4 * input + (256 << 10)
    let scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchBytes, alignment: 64)
    defer { scratch.deallocate() }  // nothing uses the pool again before TLSSessions.init
    ctls_heap_init(scratch, scratchBytes)
    for (k, f) in files.enumerated() {
      do throws(TLSError) {
        _ = try load(f)
      } catch {
        throw TLSError(message: error.message, listener: k)
      }
    }
    return Int(ctls_heap_used())
  }
}

struct TLSState {
  var owner: UInt64 = 0
  /// Bytes handed to the last ctls_write that answered WANT_WRITE (retry with exactly these).
  var pendingWrite: Int32 = 0
  var handshaking = false
  var onPendingList = false
}

/// The pool of TLS session slots and the handshake cap.
public final class TLSSessions {
  let count: Int
  let handshakesMax: Int
  let blobStride: Int
  let blobs: UnsafeMutableRawPointer
  let states: UnsafeMutablePointer<TLSState>
  let freeList: UnsafeMutablePointer<Int32>
  let pendingList: UnsafeMutablePointer<Int32>
  var freeCount: Int
  var pendingCount = 0
  var handshakes = 0
  let heapBase: UnsafeMutableRawPointer
  let heapBytes: Int
  public private(set) var listeners: [TLSListener] = []
  /// The plan's "TLS heap: certs, keys" line (both copies) and what the sets take of it now.
  let configBudget: Int
  var configUsed = 0
  /// Where a reload reads each file (plan line "TLS reload file buffer").
  let reloadBuffer: UnsafeMutableRawBufferPointer

  /// The plan lines TLS needs: session records, then the pool (certificates, sessions,
  /// handshakes) as three adjacent lines, then the reload file buffer. Empty when no listener speaks TLS.
  public static func planLines(configBytes: Int, sessions: Int, handshakes: Int, reloadBufferBytes: Int) -> [PlatformLine] {
    guard sessions > 0 else { return [] }
    let (config, session, handshake) = TLSMemory.heapBytes(
      configBytes: configBytes, sessions: sessions, handshakes: handshakes)
    return [
      PlatformLine("TLS session records", count: sessions, bytesEach: TLSMemory.recordBytes),
      PlatformLine("TLS heap: certs, keys", count: 2, bytesEach: config),
      PlatformLine("TLS heap: sessions", count: sessions, bytesEach: session),
      PlatformLine("TLS heap: handshakes", count: min(handshakes, sessions), bytesEach: handshake),
      PlatformLine("TLS reload file buffer", count: 1, bytesEach: reloadBufferBytes),
    ]
  }

  /// Carves the records and the pool (the lines of `planLines`, in `plan.platform` from
  /// `first`), seeds the RNG and loads the listeners' key material into the pool.
  public init(
    plan: BrokerPlan, first: Int, arena: Arena, sessions: Int, handshakes: Int, listeners files: [TLSListenerFiles]
  ) throws(TLSError) {
    count = sessions
    handshakesMax = handshakes
    blobStride = TLSMemory.round64(Int(ctls_session_size()))
    let records = arena.bind(plan.platform[first])
    blobs = records
    let statesBase = records + count * blobStride
    states = statesBase.bindMemory(to: TLSState.self, capacity: count)
    states.initialize(repeating: TLSState(), count: count)
    let lists = statesBase + count * MemoryLayout<TLSState>.stride
    freeList = lists.bindMemory(to: Int32.self, capacity: 2 * count)
    pendingList = freeList + count
    for i in 0..<count { freeList[i] = Int32(count - 1 - i) }
    freeCount = count
    let config = plan.platform[first + 1]
    let last = plan.platform[first + 3]
    heapBase = arena.bind(config)
    heapBytes = (last.offset + last.count * last.bytesEach) - config.offset
    configBudget = config.count * config.bytesEach
    let reload = plan.platform[first + 4]
    reloadBuffer = UnsafeMutableRawBufferPointer(start: arena.bind(reload), count: reload.bytesEach)
    ctls_heap_init(heapBase, heapBytes)
    let rc = ctls_rng_init()
    if rc != 0 { throw TLSError(message: "TLS random generator: \(cString: ctls_error_text(rc))") }
    for f in files { listeners.append(try TLSListener.load(f)) }
    configUsed = heapUsed
    ctls_heap_reset_peak()
  }

  public var heapUsed: Int { Int(ctls_heap_used()) }
  public var heapPeak: Int { Int(ctls_heap_peak()) }
  public var heapSize: Int { heapBytes }

  func blob(_ i: Int32) -> UnsafeMutableRawPointer { blobs + Int(i) * blobStride }

  /// A session slot for a new TLS connection, or why there is none.
  func start(fd: Int32, listener: TLSListener, owner: UInt64) -> (Int32, TLSEvent?) {
    guard freeCount > 0 else { return (-1, .refusedSessions) }
    guard handshakes < handshakesMax else { return (-1, .refusedHandshakes) }
    freeCount -= 1
    let i = freeList[freeCount]
    if ctls_session_start(blob(i), listener.handle, fd) != 0 {
      freeList[freeCount] = i
      freeCount += 1
      return (-1, .handshakeFailed)  // the pool could not hold the record buffers
    }
    handshakes += 1
    states[Int(i)] = TLSState(owner: owner, pendingWrite: 0, handshaking: true, onPendingList: false)
    return (i, nil)
  }

  func handshakeDone(_ i: Int32) {
    states[Int(i)].handshaking = false
    handshakes -= 1
  }

  func end(_ i: Int32, notify: Bool) {
    if states[Int(i)].handshaking { handshakes -= 1 }
    if states[Int(i)].onPendingList {
      // Out of the pending list (short: sessions whose bytes wait for a free receive buffer).
      var k = 0
      while k < pendingCount && pendingList[k] != i { k += 1 }
      if k < pendingCount {
        pendingCount -= 1
        pendingList[k] = pendingList[pendingCount]
      }
    }
    ctls_session_end(blob(i), notify ? 1 : 0)
    states[Int(i)] = TLSState()
    freeList[freeCount] = i
    freeCount += 1
  }

  func markPending(_ i: Int32) {
    guard !states[Int(i)].onPendingList, pendingCount < count else { return }
    states[Int(i)].onPendingList = true
    pendingList[pendingCount] = i
    pendingCount += 1
  }
}

/// Why a SIGHUP left a listener's certificates as they were.
enum TLSReloadError: Error {
  case busy(Int)  // sessions still use the spare set (loaded two reloads ago)
  case read([UInt8], Int32)  // path, errno
  case tooLarge([UInt8])  // larger than the reload file buffer
  case parse([UInt8], Int32)  // path, mbedTLS error
  case configuration(Int32)  // mbedtls_ssl_config, mbedTLS error
  case heapFull(Int)  // bytes the new set took beyond the certs, keys line
}

/// SIGHUP: each TLS listener's cafile/capath files/certfile/keyfile are parsed into its spare
/// set; on success new handshakes use it, while sessions established before keep the old set
/// (it is cleared only by a later reload, once no session uses it). Allocates nothing: the
/// files go through `reloadBuffer`, mbedTLS takes its memory from the pool.
extension TLSSessions: Reloadable {
  public func reload() {
    for l in listeners {
      do throws(TLSReloadError) {
        try reload(l)
        Log.line(.notice) { line in
          line.add("SIGHUP: TLS listener ")
          line.add(l.port)
          line.add(": certificates reloaded (TLS heap: certs, keys ")
          line.add(configUsed)
          line.add(" of ")
          line.add(configBudget)
          line.add(" bytes)")
        }
      } catch {
        logFailure(l, error)
      }
    }
  }

  func reload(_ l: TLSListener) throws(TLSReloadError) {
    let spare = l.spare
    let busy = Int(ctls_listener_sessions(spare))
    if busy > 0 { throw .busy(busy) }
    configUsed -= l.active == 0 ? l.setBytes.1 : l.setBytes.0
    ctls_listener_clear(spare)
    if l.active == 0 { l.setBytes.1 = 0 } else { l.setBytes.0 = 0 }
    let before = heapUsed
    do throws(TLSReloadError) {
      for path in l.authorityPaths {
        let n = try read(path)
        let rc = ctls_listener_add_ca(spare, reloadBuffer.baseAddress!.assumingMemoryBound(to: UInt8.self), n)
        if rc != 0 { throw .parse(path, rc) }
      }
      if !l.certificatePath.isEmpty {
        var n = try read(l.certificatePath)
        var rc = ctls_listener_add_cert(spare, reloadBuffer.baseAddress!.assumingMemoryBound(to: UInt8.self), n)
        if rc != 0 { throw .parse(l.certificatePath, rc) }
        n = try read(l.keyPath)
        rc = ctls_listener_add_key(spare, reloadBuffer.baseAddress!.assumingMemoryBound(to: UInt8.self), n)
        // The key text is in the pool now (parsed); the buffer held a private key: wipe it.
        reloadBuffer.initializeMemory(as: UInt8.self, repeating: 0)
        if rc != 0 { throw .parse(l.keyPath, rc) }
      }
      let rc = l.suites.withUnsafeBufferPointer {
        ctls_listener_finish(spare, $0.baseAddress, l.requireCertificate ? 1 : 0, l.identityAsUsername ? 1 : 0)
      }
      if rc != 0 { throw .configuration(rc) }
    } catch {
      ctls_listener_clear(spare)
      throw error
    }
    let bytes = heapUsed - before
    if configUsed + bytes > configBudget {
      ctls_listener_clear(spare)
      throw .heapFull(configUsed + bytes - configBudget)
    }
    configUsed += bytes
    if l.active == 0 { l.setBytes.1 = bytes } else { l.setBytes.0 = bytes }
    l.active = 1 - l.active
  }

  /// The file into `reloadBuffer`, NUL-terminated (PEM is parsed so); the length with the NUL.
  func read(_ path: [UInt8]) throws(TLSReloadError) -> Int {
    let room = UnsafeMutableRawBufferPointer(rebasing: reloadBuffer[0..<(reloadBuffer.count - 1)])
    let n: Int
    do throws(SystemError) {
      n = try System.readFile(cPath: path, into: room)
    } catch {
      throw error.isFileTooLarge ? .tooLarge(path) : .read(path, error.errno)
    }
    guard n < room.count else { throw .tooLarge(path) }
    reloadBuffer[n] = 0
    return n + 1
  }

  /// "SIGHUP: FILE: <mbedTLS error>; the old certificates stay in force".
  func logFailure(_ l: TLSListener, _ error: TLSReloadError) {
    func add(_ line: inout LogLine, _ path: [UInt8]) {
      path.withUnsafeBytes { line.add(UnsafeRawBufferPointer(rebasing: $0.dropLast())) }
    }
    func add(_ line: inout LogLine, mbedTLS rc: Int32) {
      let text = ctls_error_text(rc)!
      var n = 0
      while text[n] != 0 { n += 1 }
      line.add(UnsafeRawBufferPointer(start: text, count: n))
      line.add(" (")
      addHex(&line, rc)
      line.add(")")
    }
    Log.line(.error) { line in
      line.add("SIGHUP: ")
      switch error {
      case .busy(let n):
        line.add("TLS listener ")
        line.add(l.port)
        line.add(": ")
        line.add(n)
        line.add(" sessions still use the certificates replaced two reloads ago (reload again once they end)")
      case .read(let path, let errno):
        line.add("cannot read ")
        add(&line, path)
        line.add(": ")
        line.add(errorName: errno)
      case .tooLarge(let path):
        add(&line, path)
        line.add(": larger than the TLS reload file buffer (")
        line.add(reloadBuffer.count - 1)
        line.add(" bytes: twice the largest file at startup)")
      case .parse(let path, let rc) where rc == CTLS_KEY_MISMATCH:
        add(&line, path)
        line.add(": not the key of the certificate in ")
        add(&line, l.certificatePath)
      case .parse(let path, let rc):
        add(&line, path)
        line.add(": ")
        add(&line, mbedTLS: rc)
      case .configuration(let rc):
        line.add("TLS listener ")
        line.add(l.port)
        line.add(": ")
        add(&line, mbedTLS: rc)
      case .heapFull(let over):
        line.add("TLS listener ")
        line.add(l.port)
        line.add(": the new certificates need ")
        line.add(over)
        line.add(" bytes more than the TLS heap's certs, keys line holds")
      }
      line.add("; the old certificates stay in force")
    }
  }
}

extension EventLoop {
  /// Accept-time hook: a TLS session for the connection just opened on a TLS listener.
  /// False when it was refused (the connection is then closing, counted).
  func startTLS(_ id: ConnectionID, fd: Int32, listener: TLSListener) {
    guard let tls else { return }
    let (i, refusal) = tls.start(fd: fd, listener: listener, owner: id.token)
    if let refusal {
      broker.countTLS(refusal)
      broker.peerClosed(id, reason: .ioError)
      if verbose {
        Log.line(.notice) { l in
          l.add("connection ")
          l.add(Int(id.slot))
          l.add(refusal == .refusedSessions ? ": TLS refused, max_tls_sessions in use"
            : refusal == .refusedHandshakes ? ": TLS refused, max_tls_handshakes in progress"
            : ": TLS refused, TLS heap full")
        }
      }
      return
    }
    sockets[Int(id.slot)].tls = i
    sockets[Int(id.slot)].transport = .tls
  }

  /// Runs the handshake; true once it is complete (application data may follow).
  func advanceHandshake(_ id: ConnectionID, _ i: Int32) -> Bool {
    guard let tls else { return false }
    let rc = ctls_handshake(tls.blob(i))
    if rc == 0 {
      tls.handshakeDone(i)
      broker.countTLS(.handshakeDone)
      var n = 0
      if let name = ctls_identity(tls.blob(i), &n),
        !broker.setIdentity(id, username: UnsafeRawBufferPointer(start: name, count: n))
      {
        // Longer than max_username_length (or identities not reserved): refused like a failed handshake.
        broker.countTLS(.handshakeFailed)
        broker.peerClosed(id, reason: .protocolError)
        if verbose {
          Log.line(.notice) { l in
            l.add("connection ")
            l.add(Int(id.slot))
            l.add(": TLS identity longer than max_username_length, refused")
          }
        }
        return false
      }
      setInterest(id, out: false)
      if verbose {
        Log.line(.debug) { l in
          l.add("connection ")
          l.add(Int(id.slot))
          l.add(": TLS ")
          var length = 0
          let name = ctls_suite_name(tls.blob(i), &length)
          l.add(UnsafeRawBufferPointer(start: name, count: length))
          l.add(", TLS heap in use ")
          l.add(tls.heapUsed)
          l.add(", peak ")
          l.add(tls.heapPeak)
        }
      }
      return true
    }
    if rc == CTLS_WANT_READ || rc == CTLS_WANT_WRITE {
      setInterest(id, out: rc == CTLS_WANT_WRITE)
      return false
    }
    broker.countTLS(.handshakeFailed)
    broker.peerClosed(id, reason: .protocolError)
    if verbose {
      Log.line(.notice) { l in
        l.add("connection ")
        l.add(Int(id.slot))
        l.add(": TLS handshake failed: mbedTLS error ")
        addHex(&l, rc)
      }
    }
    return false
  }

  /// Serves the sessions whose decrypted bytes epoll cannot see (once per turn, bounded).
  func serveTLSPending(now: UInt64) {
    guard let tls, tls.pendingCount > 0 else { return }
    var kept = 0
    var k = 0
    let n = tls.pendingCount
    while k < n {
      let i = tls.pendingList[k]
      k += 1
      let owner = tls.states[Int(i)].owner
      tls.states[Int(i)].onPendingList = false
      let id = ConnectionID(token: owner)
      if broker.wantsRead(id) && broker.readBuffer(id).count > 0 { read(id, now: now) }
      if tls.states[Int(i)].owner == owner && !tls.states[Int(i)].onPendingList && ctls_pending(tls.blob(i)) != 0 {
        tls.states[Int(i)].onPendingList = true
        tls.pendingList[kept] = i
        kept += 1
      }
    }
    // Entries added by read() above were appended after n; keep them too.
    var j = n
    while j < tls.pendingCount {
      tls.pendingList[kept] = tls.pendingList[j]
      kept += 1
      j += 1
    }
    tls.pendingCount = kept
  }

  /// Whether a pending session can be read now (then the loop must not sleep).
  var tlsReadyPending: Bool {
    guard let tls, tls.pendingCount > 0 else { return false }
    for k in 0..<tls.pendingCount {
      let owner = tls.states[Int(tls.pendingList[k])].owner
      if owner != 0 && broker.wantsRead(ConnectionID(token: owner)) { return true }
    }
    return false
  }
}

/// "-0x7780": mbedTLS error codes as its documentation writes them (no allocation).
func addHex(_ l: inout LogLine, _ code: Int32) {
  var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
  withUnsafeMutableBytes(of: &digits) { d in
    var v = code.magnitude
    var n = 0
    repeat {
      let x = UInt8(v & 0xF)
      d[10 - n] = x < 10 ? 0x30 + x : 0x61 + x - 10
      v >>= 4
      n += 1
    } while v > 0
    while n < 4 {
      d[10 - n] = 0x30
      n += 1
    }
    d[10 - n] = 0x78  // x
    d[9 - n] = 0x30
    n += 2
    if code < 0 {
      d[10 - n] = 0x2D
      n += 1
    }
    l.add(UnsafeRawBufferPointer(rebasing: d[(11 - n)...]))
  }
}
