// Process-level services for the executable: the board profile compiled in, files, listeners,
// output, limits and the allocation guard. They wrap CPlatform and CAllocHook so that only
// this layer touches C. Startup-time helpers: these may allocate; the event loop uses none
// of them.
import Bounded
import CAllocHook
import CPlatform
import MidgeText

/// An errno from a failed system call, with a short description for messages.
public struct SystemError: Error {
  public let errno: Int32
  public init(errno: Int32) { self.errno = errno }
  public var description: Message { "\(cString: cp_error_name(errno))" }
  /// The listener address was neither an IPv4 nor an IPv6 literal.
  public var isInvalidAddress: Bool { errno == CP_EINVAL }
  /// A file was larger than the buffer it was read into.
  public var isFileTooLarge: Bool { errno == CP_EFBIG }
  public var isNotFound: Bool { errno == CP_ENOENT }
}

public enum System {
  /// Ignore SIGPIPE, unbuffered stdout. First thing in main.
  public static func setUpProcess() { cp_process_setup() }

  /// SIGINT and SIGTERM end the event loop (EventLoop.run returns).
  public static func installStopHandlers() { cp_install_stop_handlers() }

  public static var boardName: String { Message(bytes: bytes(midge_board_name())).string }

  /// The board profile's `default` lines (mosquitto.conf syntax), compiled into the binary.
  public static var boardDefaults: [UInt8] { bytes(midge_board_defaults()) }

  /// The file's bytes, at most `limit`.
  /// The buffer is not zeroed first: only the pages the file's bytes land on become resident
  /// (a 1 MiB limit kept by a short certificate would otherwise stay in RSS).
  public static func readFile(_ path: String, limit: Int) throws(SystemError) -> [UInt8] {
    let c = Message.cString(path)
    var n = 0
    let buffer = [UInt8](unsafeUninitializedCapacity: limit) { b, count in
      n = c.withUnsafeBytes { cp_read_file($0.baseAddress!.assumingMemoryBound(to: CChar.self), b.baseAddress, limit) }
      count = max(n, 0)
    }
    guard n >= 0 else { throw SystemError(errno: Int32(-n)) }
    return buffer
  }

  /// Paths of the `*.conf` files in `dir`, sorted by name (at most 256; startup only: allocates).
  public static func configFiles(in dir: String) throws(SystemError) -> [String] {
    try files(in: dir, endingIn: ".conf", nil, max: 256, bufferBytes: 1 << 16)
  }

  /// Paths `dir/NAME` of the files in `dir` whose names end in one of the suffixes, sorted by
  /// bytes (not starting with "."); more than `max` or longer than `bufferBytes` in all:
  /// EFBIG. Startup only: allocates.
  static func files(
    in dir: String, endingIn suffix1: StaticString, _ suffix2: StaticString?, max: Int, bufferBytes cap: Int
  ) throws(SystemError) -> [String] {
    var buffer = [UInt8](repeating: 0, count: cap)
    let n = buffer.withUnsafeMutableBytes { raw in
      let s1 = UnsafeRawPointer(suffix1.utf8Start).assumingMemoryBound(to: CChar.self)
      let s2 = suffix2.map { UnsafeRawPointer($0.utf8Start).assumingMemoryBound(to: CChar.self) }
      return withCPath(dir) { cp_list_files($0, s1, s2, max, raw.baseAddress, cap) }
    }
    guard n >= 0 else { throw SystemError(errno: Int32(-n)) }
    var paths: [String] = []
    var start = 0
    for i in 0..<n where buffer[i] == 0 {
      paths.append(("\(dir)/\(Array(buffer[start..<i]))" as Message).string)
      start = i + 1
    }
    return paths
  }

  /// Tells the service manager (systemd's $NOTIFY_SOCKET) `state`; nothing when it is unset.
  @discardableResult
  public static func notifyServiceManager(_ state: StaticString) -> Int32 {
    // A StaticString literal's bytes are NUL-terminated.
    cp_notify(UnsafeRawPointer(state.utf8Start).assumingMemoryBound(to: CChar.self))
  }

  /// Reads at most `buffer.count` bytes of the file at `path` into `buffer` (allocates nothing).
  /// Returns the byte count; a file that fills the buffer may be longer (callers size it +1).
  public static func readFile(_ path: String, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
    try readFile(cPath: Message.cString(path), into: buffer)
  }

  /// As `readFile(_:into:)` with a NUL-terminated path kept from startup (for reloads).
  public static func readFile(cPath: [UInt8], into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
    precondition(cPath.last == 0, "path not NUL-terminated")
    let n = cPath.withUnsafeBytes { p in
      cp_read_file(p.baseAddress!.assumingMemoryBound(to: CChar.self), buffer.baseAddress, buffer.count)
    }
    guard n >= 0 else { throw SystemError(errno: Int32(-n)) }
    return Int(n)
  }

  // MARK: midge passwd (a command-line mode: these allocate)

  /// `n` bytes from getrandom(2).
  public static func randomBytes(_ n: Int) throws(SystemError) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: n)
    let rc = bytes.withUnsafeMutableBytes { cp_random($0.baseAddress, n) }
    guard rc == 0 else { throw SystemError(errno: -rc) }
    return bytes
  }

  public static var stdinIsTerminal: Bool { cp_stdin_is_tty() != 0 }

  /// One line from stdin (echo off and `prompt` on stderr when stdin is a terminal); nil at
  /// the end of input.
  public static func readSecretLine(prompt: StaticString, limit: Int) throws(SystemError) -> [UInt8]? {
    var buffer = [UInt8](repeating: 0, count: limit)
    let n = buffer.withUnsafeMutableBytes { b in
      cp_read_secret_line(UnsafeRawPointer(prompt.utf8Start).assumingMemoryBound(to: CChar.self), b.baseAddress, limit)
    }
    if n == Int(CP_END_OF_INPUT) { return nil }
    guard n >= 0 else { throw SystemError(errno: Int32(-n)) }
    buffer.removeLast(limit - n)
    return buffer
  }

  /// Replaces the file at `path` (through "path.tmp", mode 0600, then rename).
  public static func replaceFile(_ path: String, _ bytes: [UInt8]) throws(SystemError) {
    let rc = bytes.withUnsafeBytes { b in withCPath(path) { cp_replace_file($0, b.baseAddress, b.count) } }
    guard rc == 0 else { throw SystemError(errno: -rc) }
  }

  /// A listening TCP socket on `address` (NUL-terminated literal; nil: all IPv4 interfaces).
  public static func listen(address: [UInt8]?, port: UInt16, backlog: Int32 = 128) throws(SystemError) -> Int32 {
    let fd: Int32
    if let address {
      fd = address.withUnsafeBufferPointer { p in
        p.withMemoryRebound(to: CChar.self) { cp_listen_tcp($0.baseAddress, port, backlog) }
      }
    } else {
      fd = cp_listen_tcp(nil, port, backlog)
    }
    guard fd >= 0 else { throw SystemError(errno: -fd) }
    return fd
  }

  /// Raises the open-file soft limit towards `wanted`; returns the limit in force.
  /// The plan's arena in an anonymous mapping: zero pages that become resident only when the
  /// broker first touches them (see Arena). Not malloc: the C heap stays small.
  public static func mapArena(_ plan: MemoryPlan) throws(SystemError) -> Arena {
    var block: UnsafeMutableRawPointer? = nil
    let r = cp_map_zeroed(Arena.byteCount(plan), &block)
    guard r == 0, let block else { throw SystemError(errno: -r) }
    return Arena(plan, zeroed: block)
  }

  /// memory_lock: faults in every page of the arena and locks it into RAM (mlock).
  public static func lockArena(_ arena: Arena) throws(SystemError) {
    let r = cp_lock_memory(arena.base, arena.byteCount)
    guard r == 0 else { throw SystemError(errno: -r) }
  }

  /// The soft RLIMIT_MEMLOCK in bytes; nil when unlimited.
  public static var memoryLockLimit: Int64? {
    let l = cp_memlock_limit()
    return l < 0 ? nil : Int64(l)
  }

  public static func raiseOpenFileLimit(_ wanted: Int) -> Int { Int(cp_raise_nofile(wanted)) }

  public static var unixSeconds: Int64 { cp_unix_seconds() }

  public enum Stream: Int32 { case standardOutput = 1, standardError = 2 }

  public static func write(_ m: Message, to stream: Stream) {
    m.bytes.withUnsafeBytes { cp_write_all(stream.rawValue, $0.baseAddress, $0.count) }
  }

  /// `body` with `path` as a NUL-terminated C string (startup only: allocates).
  static func withCPath<R>(_ path: String, _ body: (UnsafePointer<CChar>) -> R) -> R {
    Message.cString(path).withUnsafeBytes { body($0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
  }

  /// The bytes of a C string (argv, board values), without going through String.
  public static func bytes(_ p: UnsafePointer<CChar>) -> [UInt8] {
    var result: [UInt8] = []
    var q = p
    while q.pointee != 0 {
      result.append(UInt8(bitPattern: q.pointee))
      q += 1
    }
    return result
  }
}

/// The product's proof that nothing is allocated after startup (see Sources/CAllocHook).
public enum AllocationGuard {
  /// Whether the counts mean anything: the wrappers are linked in and the binary is the
  /// static Embedded build. A host build links the wrappers too, but there the Swift runtime
  /// allocates inside libswiftCore.so, out of --wrap's reach.
  public static var isEnabled: Bool {
    #if hasFeature(Embedded)
      return allochook_enabled() != 0
    #else
      return false
    #endif
  }
  /// Ends startup: later allocations are counted, and trap with MIDGE_ALLOC_TRAP=1.
  public static func seal() { allochook_seal() }
  public static func unseal() { allochook_unseal() }
  public static var startupAllocations: UInt64 { allochook_startup_allocations() }
  public static var sealedAllocations: UInt64 { allochook_sealed_allocations() }
}
