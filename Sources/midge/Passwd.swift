// `midge passwd`: creates and updates mosquitto_passwd files with `$7$` entries (PBKDF2-SHA512,
// mosquitto 2.0's default of 101 iterations and a random 12-byte salt from getrandom), which
// both midge and Mosquitto accept. A command-line mode that never starts the broker, so it may
// allocate. The file is rewritten through "FILE.tmp" and a rename (mode 0600); every other line
// (other users, comments) is kept as it was.
//   midge passwd [-c] FILE USER            password from the terminal (twice, echo off), or
//                                          one line of stdin when stdin is not a terminal
//   midge passwd [-c] -b FILE USER PASSWORD
//   midge passwd -D FILE USER              delete USER
// -c creates (or truncates) FILE. Exit status: 0 done, 1 error, 2 usage.
import MidgeAuth
import MidgeConfig
import MidgeText
import Platform

enum Passwd {
  static let usage: StaticString = """
    Usage: midge passwd [-c] FILE USER
           midge passwd [-c] -b FILE USER PASSWORD
           midge passwd -D FILE USER

    Creates or updates USER's entry in the mosquitto_passwd FILE ($7$, PBKDF2-SHA512,
    101 iterations, random 12-byte salt). The password is read from the terminal twice with
    echo off, or once from stdin when stdin is not a terminal.

      -c  create FILE (an existing FILE is overwritten)
      -b  take the password from the command line (it may show in the process list)
      -D  delete USER from FILE

    """
  static let iterations = PasswordTable.defaultIterations  // mosquitto 2.0's default
  static let saltBytes = 12
  static let passwordBytesMax = 65535  // an MQTT password field
  static let fileBytesMax = 64 << 20

  /// USER's `$7$` line for PASSWORD with a fresh salt; nil after printing why not.
  static func newEntry(_ user: [UInt8], _ password: [UInt8]) -> [UInt8]? {
    let salt: [UInt8]
    do throws(SystemError) {
      salt = try System.randomBytes(saltBytes)
    } catch {
      _ = failure("getrandom: \(error.description)")
      return nil
    }
    return password.withUnsafeBytes { p in
      salt.withUnsafeBytes { s in
        PasswordTable.entryLine(user: user, password: p, salt: s, iterations: iterations, crypto: System.passwordCrypto)
      }
    }
  }

  static func main(_ args: [[UInt8]]) -> Int32 {
    var create = false
    var batch = false
    var delete = false
    var rest: [[UInt8]] = []
    for a in args {
      if Config.eq(a, "-c") {
        create = true
      } else if Config.eq(a, "-b") {
        batch = true
      } else if Config.eq(a, "-D") {
        delete = true
      } else if Config.eq(a, "-h") || Config.eq(a, "--help") {
        CLI.out("\(usage)")
        return 0
      } else if a.count > 1 && a[0] == 0x2D && rest.count < (batch ? 2 : 3) {
        // A PASSWORD may start with '-' (it comes last); anything else is an unknown flag.
        return usageError("unknown option '\(a)'")
      } else {
        rest.append(a)
      }
    }
    if delete && (create || batch) { return usageError("-D cannot be combined with -c or -b") }
    guard rest.count == (batch ? 3 : 2) else {
      return usageError(batch ? "-b needs FILE USER PASSWORD" : "expected FILE USER")
    }
    let path = Message(bytes: rest[0]).string
    let user = rest[1]
    if let problem = checkUser(user) { return failure("\(problem)") }

    var lines: [[UInt8]] = []
    if !create {
      do throws(SystemError) {
        let old = try System.readFile(path, limit: fileBytesMax)
        lines = split(old)
      } catch {
        let hint = error.isNotFound && !delete ? " (use -c to create it)" : ""
        return failure("cannot read '\(path)': \(error.description)\(hint)")
      }
    }
    let index = lines.firstIndex { isEntry($0, of: user) }
    if delete {
      guard let index else { return failure("user '\(user)' not found in '\(path)'") }
      lines.remove(at: index)
    } else {
      let password: [UInt8]
      if batch {
        password = rest[2]
      } else {
        guard let p = readPassword() else { return 1 }
        password = p
      }
      guard !password.isEmpty else { return failure("empty password") }
      guard password.count <= passwordBytesMax else { return failure("password longer than 65535 bytes") }
      guard let entry = newEntry(user, password) else { return 1 }
      if let index { lines[index] = entry } else { lines.append(entry) }
    }
    var out: [UInt8] = []
    for line in lines { out += line + [0x0A] }
    do throws(SystemError) {
      try System.replaceFile(path, out)
    } catch {
      return failure("cannot write '\(path)': \(error.description)")
    }
    return 0
  }

  /// Twice from a terminal (they must match), once from stdin otherwise; nil after an error.
  static func readPassword() -> [UInt8]? {
    do throws(SystemError) {
      guard let first = try System.readSecretLine(prompt: "Password: ", limit: passwordBytesMax + 1) else {
        _ = failure("no password on stdin")
        return nil
      }
      guard first.count <= passwordBytesMax else {
        _ = failure("password longer than 65535 bytes")
        return nil
      }
      if System.stdinIsTerminal {
        let again = try System.readSecretLine(prompt: "Reenter password: ", limit: passwordBytesMax + 1)
        guard again == first else {
          _ = failure("passwords do not match")
          return nil
        }
      }
      return first
    } catch {
      _ = failure(error.isFileTooLarge ? "password longer than 65535 bytes" : "reading the password: \(error.description)")
      return nil
    }
  }

  /// A user name mosquitto_passwd and midge agree on: not empty, no ':', no control bytes.
  static func checkUser(_ user: [UInt8]) -> StaticString? {
    if user.isEmpty { return "empty user name" }
    if user.count > 65535 { return "user name longer than 65535 bytes" }
    for b in user where b == 0x3A || b < 0x20 || b == 0x7F {
      return "user name must not contain ':' or control characters"
    }
    return nil
  }

  static func isEntry(_ line: [UInt8], of user: [UInt8]) -> Bool {
    line.count > user.count && line[user.count] == 0x3A && Array(line[0..<user.count]) == user
  }

  /// Lines without their "\n" (a last line without one counts too).
  static func split(_ text: [UInt8]) -> [[UInt8]] {
    var lines: [[UInt8]] = []
    var start = 0
    var i = 0
    while i < text.count {
      if text[i] == 0x0A {
        lines.append(Array(text[start..<i]))
        start = i + 1
      }
      i += 1
    }
    if start < text.count { lines.append(Array(text[start...])) }
    return lines
  }

  static func failure(_ message: Message) -> Int32 {
    CLI.out("midge passwd: \(message)\n", to: .standardError)
    return 1
  }

  static func usageError(_ message: Message) -> Int32 {
    CLI.out("midge passwd: \(message)\n\n\(usage)", to: .standardError)
    return 2
  }
}
