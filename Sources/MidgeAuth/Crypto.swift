// The hashes behind mosquitto_passwd entries, passed in rather than written here: the
// executable hands over mbedTLS's (CTLS: ctls_sha512_pair, ctls_pbkdf2_sha512), the same
// SHA-512 the TLS code links anyway. MidgeAuth stays pure (it imports no C): these are plain
// C function pointers, which Embedded Swift stores without any runtime support.

public struct PasswordCrypto: Sendable {
  /// SHA-512(a || b): 64 bytes into `out` ($6$ entries).
  public typealias SHA512Pair = @convention(c) (
    _ a: UnsafeRawPointer?, _ aCount: Int, _ b: UnsafeRawPointer?, _ bCount: Int, _ out: UnsafeMutableRawPointer?
  ) -> Void
  /// PBKDF2-HMAC-SHA512 (RFC 8018) with a 64-byte key: into `out` ($7$ entries).
  public typealias PBKDF2 = @convention(c) (
    _ password: UnsafeRawPointer?, _ passwordCount: Int, _ salt: UnsafeRawPointer?, _ saltCount: Int,
    _ iterations: UInt32, _ out: UnsafeMutableRawPointer?
  ) -> Void

  public let sha512: SHA512Pair
  public let pbkdf2: PBKDF2

  public init(sha512: SHA512Pair, pbkdf2: PBKDF2) {
    self.sha512 = sha512
    self.pbkdf2 = pbkdf2
  }

  /// The digest and derived-key size of both.
  public static let hashBytes = 64

  func sha512(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
    precondition(out.count >= PasswordCrypto.hashBytes)
    sha512(a.baseAddress, a.count, b.baseAddress, b.count, out.baseAddress)
  }

  func pbkdf2(
    password: UnsafeRawBufferPointer, salt: UnsafeRawBufferPointer, iterations: Int,
    into out: UnsafeMutableRawBufferPointer
  ) {
    // UInt32(exactly:), not `<= Int(UInt32.max)`: that conversion traps where Int is 32 bits (armv7).
    guard out.count >= PasswordCrypto.hashBytes, iterations >= 1, let count = UInt32(exactly: iterations) else {
      preconditionFailure("pbkdf2: output under 64 bytes or iterations outside 1...UInt32.max")
    }
    pbkdf2(password.baseAddress, password.count, salt.baseAddress, salt.count, count, out.baseAddress)
  }
}

/// Equality of two byte strings in time that depends only on their lengths.
public func constantTimeEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
  var diff: UInt8 = a.count == b.count ? 0 : 1
  let n = min(a.count, b.count)
  var i = 0
  while i < n {
    diff |= a[i] ^ b[i]
    i += 1
  }
  return diff == 0
}
