// The password hashes MidgeAuth checks CONNECT credentials with: mbedTLS's SHA-512 (through
// CTLS), handed to the pure layer as C function pointers (MidgeAuth imports no C).
import CTLS
import MidgeAuth

extension System {
  public static let passwordCrypto = PasswordCrypto(sha512: ctls_sha512_pair, pbkdf2: ctls_pbkdf2_sha512)
}
