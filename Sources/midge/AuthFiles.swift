// The auth files (password_file, acl_file) in their regions of the memory plan, and their
// reload on SIGHUP. Each file has two text regions and two table regions (plan lines
// "password file text" / "password entries", "acl file text" / "acl rules"): the table in
// use points into one pair; a load reads the file into the other pair, parses it there, and
// only when both succeed hands the new table to the broker, so a bad file on reload leaves
// the old table in force. Reading and parsing allocate nothing (the paths are kept as
// NUL-terminated bytes from startup; reload errors are logged through Log, not String).
import Bounded
import BrokerCore
import MidgeAuth
import MidgeConfig
import MidgeText
import Platform

/// Why an auth file was not loaded.
enum AuthLoadError: Error {
  case read(Int32)  // errno
  case tooLarge
  case parse(AuthFileError)
}

/// Two regions for one file: `current` holds the text the broker's table points into.
struct AuthRegions<Entry> {
  let texts: [UnsafeMutableRawBufferPointer]
  let tables: [UnsafeMutableBufferPointer<Entry>]
  var current = 1  // the first load goes into region 0

  init(_ plan: BrokerPlan, _ arena: Arena, text: ByteReservation, table: Reservation<Entry>, empty: Entry) {
    let base = arena.bind(text)
    texts = [0, 1].map { UnsafeMutableRawBufferPointer(start: base + $0 * text.bytesEach, count: text.bytesEach) }
    let all = arena.bind(table)
    all.initialize(repeating: empty)
    let half = table.count / 2
    tables = [0, 1].map { UnsafeMutableBufferPointer(rebasing: all[($0 * half)..<(($0 + 1) * half)]) }
  }

  var spare: Int { 1 - current }

  /// Reads the file into the spare text region; the bytes read.
  func read(_ path: [UInt8]) throws(AuthLoadError) -> UnsafeRawBufferPointer {
    let text = texts[spare]
    let n: Int
    do throws(SystemError) {
      n = try System.readFile(cPath: path, into: text)
    } catch {
      throw error.isFileTooLarge ? .tooLarge : .read(error.errno)
    }
    // The region is max_auth_file_bytes + 1: a file that fills it is too long.
    guard n < text.count else { throw .tooLarge }
    return UnsafeRawBufferPointer(rebasing: text[0..<n])
  }
}

final class AuthFiles: Reloadable {
  let broker: Broker
  let limits: Limits
  let iterationsMax: Int
  let passwordPath: [UInt8]?
  let aclPath: [UInt8]?
  var passwordRegions: AuthRegions<PasswordEntry>?
  var aclRegions: AuthRegions<AclRecord>?

  init(settings: Settings, plan: BrokerPlan, arena: Arena, broker: Broker) {
    self.broker = broker
    limits = settings.limits
    iterationsMax = settings.authMaxIterations
    passwordPath = settings.passwordFile.map { Message.cString($0) }
    aclPath = settings.aclFile.map { Message.cString($0) }
    if passwordPath != nil {
      passwordRegions = AuthRegions(
        plan, arena, text: plan.passwordText, table: plan.passwordEntries, empty: PasswordEntry())
    }
    if aclPath != nil {
      aclRegions = AuthRegions(plan, arena, text: plan.aclText, table: plan.aclRecords, empty: AclRecord())
    }
  }

  var hasFiles: Bool { passwordPath != nil || aclPath != nil }

  func loadPasswords() throws(AuthLoadError) -> Int {
    guard let path = passwordPath, var r = passwordRegions else { return 0 }
    let text = try r.read(path)
    let table: PasswordTable
    do throws(AuthFileError) {
      table = try PasswordTable.parse(
        text, into: r.tables[r.spare], iterationsMax: iterationsMax, crypto: System.passwordCrypto)
    } catch {
      throw .parse(error)
    }
    r.current = r.spare
    passwordRegions = r
    broker.passwords = table
    return table.entries.count
  }

  func loadAcl() throws(AuthLoadError) -> Int {
    guard let path = aclPath, var r = aclRegions else { return 0 }
    let text = try r.read(path)
    let table: AclTable
    do throws(AuthFileError) {
      table = try AclTable.parse(text, into: r.tables[r.spare])
    } catch {
      throw .parse(error)
    }
    r.current = r.spare
    aclRegions = r
    broker.acl = table
    return table.records.count
  }

  /// Startup: both files, or the first error as "FILE:LINE: message" (this allocates).
  func loadAtStartup() -> Message? {
    if let path = passwordPath, let r = passwordRegions {
      do throws(AuthLoadError) { _ = try loadPasswords() } catch {
        return describe(error, "password_file", path, r.texts[r.spare])
      }
    }
    if let path = aclPath, let r = aclRegions {
      do throws(AuthLoadError) { _ = try loadAcl() } catch {
        return describe(error, "acl_file", path, r.texts[r.spare])
      }
    }
    return nil
  }

  func describe(
    _ error: AuthLoadError, _ key: StaticString, _ path: [UInt8], _ text: UnsafeMutableRawBufferPointer
  ) -> Message {
    let file = Array(path.dropLast())
    switch error {
    case .read(let errno):
      return "cannot read \(key) '\(file)': \(SystemError(errno: errno).description)"
    case .tooLarge:
      return "\(file): \(key) is larger than max_auth_file_bytes (\(limits.authFileBytesMax) bytes)"
    case .parse(let e):
      let message: Message = "\(file):\(e.line): \(e.message)"
      guard e.subjectCount > 0 else { return message }
      let subject = Array(UnsafeRawBufferPointer(rebasing: text[e.subjectStart..<e.subjectStart + e.subjectCount]))
      return message + " '\(subject)'"
    }
  }

  /// SIGHUP: each file again; a file that fails keeps its old table (logged with file:line).
  func reload() {
    if let path = passwordPath, let r = passwordRegions {
      do throws(AuthLoadError) {
        let n = try loadPasswords()
        log(path, "password_file", "reloaded: ", n, " users")
      } catch {
        logFailure(error, "password_file", path, r.texts[r.spare])
      }
    }
    if let path = aclPath, let r = aclRegions {
      do throws(AuthLoadError) {
        let n = try loadAcl()
        log(path, "acl_file", "reloaded: ", n, " rules")
      } catch {
        logFailure(error, "acl_file", path, r.texts[r.spare])
      }
    }
  }

  func log(_ path: [UInt8], _ key: StaticString, _ what: StaticString, _ n: Int, _ unit: StaticString) {
    path.withUnsafeBytes { p in
      Log.line(.notice) {
        $0.add("SIGHUP: ")
        $0.add(key)
        $0.add(" ")
        $0.add(UnsafeRawBufferPointer(rebasing: p.dropLast()))
        $0.add(" ")
        $0.add(what)
        $0.add(n)
        $0.add(unit)
      }
    }
  }

  /// "SIGHUP: FILE:LINE: message 'subject'; the old KEY stays in force".
  func logFailure(_ error: AuthLoadError, _ key: StaticString, _ path: [UInt8], _ text: UnsafeMutableRawBufferPointer) {
    path.withUnsafeBytes { p in
      Log.line(.error) { l in
        l.add("SIGHUP: ")
        switch error {
        case .read(let errno):
          l.add("cannot read ")
          l.add(key)
          l.add(" ")
          l.add(UnsafeRawBufferPointer(rebasing: p.dropLast()))
          l.add(": ")
          l.add(errorName: errno)
        case .tooLarge:
          l.add(UnsafeRawBufferPointer(rebasing: p.dropLast()))
          l.add(": larger than max_auth_file_bytes")
        case .parse(let e):
          l.add(UnsafeRawBufferPointer(rebasing: p.dropLast()))
          l.add(":")
          l.add(e.line)
          l.add(": ")
          l.add(e.message)
          if e.subjectCount > 0 {
            l.add(" '")
            l.add(UnsafeRawBufferPointer(rebasing: text[e.subjectStart..<e.subjectStart + e.subjectCount]))
            l.add("'")
          }
        }
        l.add("; the old ")
        l.add(key)
        l.add(" stays in force")
      }
    }
  }
}
