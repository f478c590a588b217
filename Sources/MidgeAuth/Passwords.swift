// The password table: a mosquitto_passwd file, parsed in place. The file's bytes stay in a
// region of the memory plan and each entry records offsets into them, so parsing and checking
// allocate nothing (a reload parses into the spare region; see the CLI).
//
// Formats (one `user:hash` per line; '#' lines and blank lines are skipped):
//   $6$SALT$HASH        SHA-512(password || salt), salt and hash base64 (mosquitto <= 1.6)
//   $7$ITER$SALT$HASH   PBKDF2-HMAC-SHA512(password, salt, ITER), 64-byte key (mosquitto 2.0)
//   $argon2id$...       refused: argon2id's default cost (~46 MiB per check) does not fit
// The hash is 64 bytes; a salt is 1 to 64 bytes. ITER is bounded by `auth_max_iterations`
// (checked at load time) so that one CONNECT cannot stall the event loop.
import MidgeText

/// A load error: 1-based line, a message, and optionally the bytes it is about (a user name).
public struct AuthFileError: Error {
  public let line: Int
  public let message: StaticString
  /// Offsets into the file's text of the user name or word the message names (count 0: none).
  public let subjectStart: Int
  public let subjectCount: Int

  public init(line: Int, _ message: StaticString, subjectStart: Int = 0, subjectCount: Int = 0) {
    self.line = line
    self.message = message
    self.subjectStart = subjectStart
    self.subjectCount = subjectCount
  }
}

public struct PasswordEntry {
  public var userStart: UInt32 = 0
  public var userCount: UInt16 = 0
  /// 6 or 7 (the `$N$` of the hash).
  public var kind: UInt8 = 0
  public var iterations: UInt32 = 0
  var saltStart: UInt32 = 0
  var saltCount: UInt16 = 0
  var hashStart: UInt32 = 0
  var hashCount: UInt16 = 0
  public init() {}
}

public struct PasswordTable {
  public let text: UnsafeRawBufferPointer
  public let entries: UnsafeBufferPointer<PasswordEntry>
  /// The hash functions checks use (the executable's: mbedTLS).
  public let crypto: PasswordCrypto
  static let saltBytesMax = 64
  public static let defaultIterations = 101

  /// Parses `text` (which must stay valid as long as the table is used) into `storage`.
  public static func parse(
    _ text: UnsafeRawBufferPointer, into storage: UnsafeMutableBufferPointer<PasswordEntry>, iterationsMax: Int,
    crypto: PasswordCrypto
  ) throws(AuthFileError) -> PasswordTable {
    var count = 0
    var lines = AuthLines(text)
    while let line = lines.next() {
      let lineNumber = line.number
      guard count < storage.count else {
        throw AuthFileError(line: lineNumber, "more users than max_password_entries")
      }
      storage[count] = try parseLine(text, line.start, line.end, line: lineNumber, iterationsMax: iterationsMax)
      let e = storage[count]
      var k = 0
      while k < count {
        if sameUser(text, storage[k], e) {
          throw AuthFileError(
            line: lineNumber, "duplicate user", subjectStart: Int(e.userStart), subjectCount: Int(e.userCount))
        }
        k += 1
      }
      count += 1
    }
    return PasswordTable(text: text, entries: UnsafeBufferPointer(rebasing: storage[0..<count]), crypto: crypto)
  }

  static func sameUser(_ text: UnsafeRawBufferPointer, _ a: PasswordEntry, _ b: PasswordEntry) -> Bool {
    a.userCount == b.userCount
      && UnsafeRawBufferPointer(rebasing: text[Int(a.userStart)..<Int(a.userStart) + Int(a.userCount)])
        .elementsEqual(UnsafeRawBufferPointer(rebasing: text[Int(b.userStart)..<Int(b.userStart) + Int(b.userCount)]))
  }

  static func parseLine(
    _ t: UnsafeRawBufferPointer, _ start: Int, _ end: Int, line: Int, iterationsMax: Int
  ) throws(AuthFileError) -> PasswordEntry {
    var colon = start
    while colon < end && t[colon] != 0x3A { colon += 1 }
    guard colon < end, colon > start else { throw AuthFileError(line: line, "expected USER:HASH") }
    guard colon - start <= 65535 else { throw AuthFileError(line: line, "user name too long") }
    var e = PasswordEntry()
    e.userStart = UInt32(start)
    e.userCount = UInt16(colon - start)
    func fail(_ m: StaticString) -> AuthFileError {
      AuthFileError(line: line, m, subjectStart: start, subjectCount: colon - start)
    }
    if matches(t, colon + 1, "$argon2id$") {  // six fields: checked before the field count
      throw fail("$argon2id$ hashes are not supported (about 46 MiB per check); re-create with midge passwd, user")
    }
    // Fields of the hash, split at '$': "", kind, [iterations,] salt, hash.
    var fields: [5 of Int] = .init(repeating: 0)  // start offsets
    var ends: [5 of Int] = .init(repeating: 0)
    var n = 0
    var i = colon + 1
    var fieldStart = i
    while i <= end {
      if i == end || t[i] == 0x24 {
        guard n < 5 else { throw fail("malformed password hash for user") }
        fields[n] = fieldStart
        ends[n] = i
        n += 1
        fieldStart = i + 1
      }
      i += 1
    }
    guard n >= 3, ends[0] == fields[0] else { throw fail("not a mosquitto_passwd hash ($6$ or $7$) for user") }
    let kindCount = ends[1] - fields[1]
    if kindCount == 8 && matches(t, fields[1], "argon2id") {
      throw fail("$argon2id$ hashes are not supported (about 46 MiB per check); re-create with midge passwd, user")
    }
    guard kindCount == 1, t[fields[1]] == 0x36 || t[fields[1]] == 0x37 else {
      throw fail("unsupported password hash type (only $6$ and $7$) for user")
    }
    e.kind = t[fields[1]] - 0x30
    var next = 2
    if e.kind == 7 {
      guard n == 5 else { throw fail("malformed $7$ hash ($7$ITERATIONS$SALT$HASH) for user") }
      guard let v = iterations(t, fields[2], ends[2]) else { throw fail("invalid iteration count for user") }
      guard v <= iterationsMax else { throw fail("iteration count above auth_max_iterations for user") }
      e.iterations = UInt32(v)
      next = 3
    } else {
      guard n == 4 else { throw fail("malformed $6$ hash ($6$SALT$HASH) for user") }
    }
    var scratch: [96 of UInt8] = .init(repeating: 0)
    let saltText = UnsafeRawBufferPointer(rebasing: t[fields[next]..<ends[next]])
    let hashText = UnsafeRawBufferPointer(rebasing: t[fields[next + 1]..<ends[next + 1]])
    let saltCount = withUnsafeMutableBytes(of: &scratch) { Base64.decode(saltText, into: $0) }
    guard let saltCount, saltCount >= 1, saltCount <= saltBytesMax else { throw fail("invalid salt for user") }
    let hashCount = withUnsafeMutableBytes(of: &scratch) { Base64.decode(hashText, into: $0) }
    guard hashCount == PasswordCrypto.hashBytes else { throw fail("invalid hash (not 64 bytes of base64) for user") }
    e.saltStart = UInt32(fields[next])
    e.saltCount = UInt16(ends[next] - fields[next])
    e.hashStart = UInt32(fields[next + 1])
    e.hashCount = UInt16(ends[next + 1] - fields[next + 1])
    return e
  }

  /// A $7$ iteration count: 1 to 9 decimal digits, at least 1.
  static func iterations(_ t: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int? {
    guard end > start, end - start <= 9 else { return nil }
    var v = 0
    var k = start
    while k < end {
      guard t[k] >= 0x30 && t[k] <= 0x39 else { return nil }
      v = v * 10 + Int(t[k] - 0x30)
      k += 1
    }
    return v >= 1 ? v : nil
  }

  static func matches(_ t: UnsafeRawBufferPointer, _ at: Int, _ lit: StaticString) -> Bool {
    var i = 0
    while i < lit.utf8CodeUnitCount {
      if at + i >= t.count || t[at + i] != lit.utf8Start[i] { return false }
      i += 1
    }
    return true
  }

  public func user(_ e: PasswordEntry) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(rebasing: text[Int(e.userStart)..<Int(e.userStart) + Int(e.userCount)])
  }

  public func find(_ user: UnsafeRawBufferPointer) -> PasswordEntry? {
    for e in entries where Int(e.userCount) == user.count && self.user(e).elementsEqual(user) { return e }
    return nil
  }

  /// Whether `password` is the user's. An unknown user costs as much as a known one: the
  /// password is hashed against the first entry's parameters and then refused.
  public func verify(user: UnsafeRawBufferPointer, password: UnsafeRawBufferPointer?) -> Bool {
    let found = find(user)
    guard let e = found ?? entries.first else {
      // An empty file: hash anyway, at mosquitto's default cost.
      var out: [64 of UInt8] = .init(repeating: 0)
      let pw = password ?? UnsafeRawBufferPointer(start: nil, count: 0)
      withUnsafeMutableBytes(of: &out) { o in
        crypto.pbkdf2(password: pw, salt: pw, iterations: PasswordTable.defaultIterations, into: o)
      }
      return false
    }
    let ok = check(e, password ?? UnsafeRawBufferPointer(start: nil, count: 0))
    return ok && found != nil && password != nil
  }

  func check(_ e: PasswordEntry, _ password: UnsafeRawBufferPointer) -> Bool {
    var salt: [96 of UInt8] = .init(repeating: 0)
    var expected: [96 of UInt8] = .init(repeating: 0)
    var actual: [64 of UInt8] = .init(repeating: 0)
    let saltText = UnsafeRawBufferPointer(rebasing: text[Int(e.saltStart)..<Int(e.saltStart) + Int(e.saltCount)])
    let hashText = UnsafeRawBufferPointer(rebasing: text[Int(e.hashStart)..<Int(e.hashStart) + Int(e.hashCount)])
    let saltCount = withUnsafeMutableBytes(of: &salt) { Base64.decode(saltText, into: $0) } ?? 0
    let hashCount = withUnsafeMutableBytes(of: &expected) { Base64.decode(hashText, into: $0) } ?? 0
    return withUnsafeBytes(of: &salt) { saltAll in
      let s = UnsafeRawBufferPointer(rebasing: saltAll[0..<saltCount])
      return withUnsafeMutableBytes(of: &actual) { out in
        if e.kind == 7 {
          crypto.pbkdf2(password: password, salt: s, iterations: Int(e.iterations), into: out)
        } else {
          crypto.sha512(password, s, into: out)
        }
        return withUnsafeBytes(of: &expected) { exp in
          constantTimeEqual(UnsafeRawBufferPointer(out), UnsafeRawBufferPointer(rebasing: exp[0..<hashCount]))
        }
      }
    }
  }

  /// A `$7$` line for `midge passwd` (startup-time tool: allocates).
  public static func entryLine(
    user: [UInt8], password: UnsafeRawBufferPointer, salt: UnsafeRawBufferPointer, iterations: Int,
    crypto: PasswordCrypto
  ) -> [UInt8] {
    var key: [64 of UInt8] = .init(repeating: 0)
    withUnsafeMutableBytes(of: &key) { crypto.pbkdf2(password: password, salt: salt, iterations: iterations, into: $0) }
    var line = user
    line.append(0x3A)
    line.append("$7$")
    line.appendDecimal(negative: false, UInt64(iterations))
    line.append(0x24)
    line += Base64.encode(salt)
    line.append(0x24)
    line += withUnsafeBytes(of: &key) { Base64.encode($0) }
    return line
  }
}
