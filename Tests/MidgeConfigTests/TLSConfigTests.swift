// Method: TLS options through Config.parse (per listener, errors with FILE:LINE), the
// cross-option checks of Config.checkTLS, cipher names to IANA numbers, and psk_file parsing.
import Testing

@testable import BrokerCore
@testable import MidgeConfig

func tlsCheckError(_ text: String) -> String? {
  do throws(ConfigError) {
    let s = try parsed(text)
    try Config.checkTLS(s)
    return nil
  } catch {
    return error.message
  }
}

@Suite("TLS configuration")
struct TLSConfigTests {
  @Test("options apply to the last listener; max_tls_* are global")
  func perListener() throws {
    let s = try parsed(
      """
      listener 1883
      listener 8883 127.0.0.1
      certfile /c.pem
      keyfile /k.pem
      cafile /ca.pem
      require_certificate true
      use_identity_as_username true
      ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305
      tls_version tlsv1.2
      max_tls_sessions 7
      max_tls_handshakes 3
      """)
    #expect(s.listeners.count == 2)
    #expect(!s.listeners[0].tls.isEnabled)
    let t = s.listeners[1].tls
    #expect(t.isEnabled && t.certfile == "/c.pem" && t.keyfile == "/k.pem" && t.cafile == "/ca.pem")
    #expect(t.requireCertificate && t.useIdentityAsUsername)
    #expect(t.ciphers == [0xC02B, 0xCCA8])
    #expect(t.origin == "test.conf:3")
    #expect(s.limits.tlsSessionsMax == 7 && s.limits.tlsHandshakesMax == 3)
    #expect(s.hasTLSListener)
    #expect(tlsCheckError("listener 8883\ncertfile /c\nkeyfile /k\ncafile /a\nrequire_certificate true") == nil)
  }

  @Test(
    "errors name the file and line",
    arguments: [
      ("certfile /c", "test.conf:1: 'certfile' must follow a 'listener' line (TLS options are per listener)"),
      ("listener 8883\ntls_version tlsv1.3",
       "test.conf:2: 'tls_version tlsv1.3' is not supported: midge's TLS (mbedTLS 2.28) is TLS 1.2 only"),
      ("listener 8883\ntls_version tlsv1", "test.conf:2: invalid value 'tlsv1' for 'tls_version' (midge supports tlsv1.2 only)"),
      ("listener 8883\nrequire_certificate yes", "test.conf:2: invalid value 'yes' for 'require_certificate' (true or false)"),
      ("listener 8883\nmax_tls_handshakes 0", "test.conf:2: invalid value '0' for 'max_tls_handshakes' (1..4096)"),
    ])
  func errors(text: String, message: String) {
    #expect(parseError(text) == message)
  }

  @Test("unknown cipher names are errors; DEFAULT means every suite built in")
  func ciphers() throws {
    #expect(parseError("listener 8883\nciphers AES128-SHA")?.hasPrefix("test.conf:2: unknown or unsupported cipher 'AES128-SHA'") == true)
    let s = try parsed("listener 8883\nciphers DEFAULT")
    #expect(s.listeners[0].tls.ciphers.count == Config.cipherSuites.count)
  }

  @Test(
    "cross-option checks",
    arguments: [
      ("listener 8883\ncertfile /c", "test.conf:2: listener 8883: 'certfile' and 'keyfile' must be given together"),
      ("listener 8883\ncafile /a", "test.conf:2: listener 8883: TLS options without 'certfile'/'keyfile' or 'psk_hint'"),
      ("listener 8883\ncertfile /c\nkeyfile /k\nrequire_certificate true",
       "test.conf:2: listener 8883: 'require_certificate true' needs 'cafile' or 'capath'"),
      ("listener 8883\ncertfile /c\nkeyfile /k\nuse_identity_as_username true",
       "test.conf:2: listener 8883: 'use_identity_as_username true' needs 'require_certificate true'"),
      ("listener 8883\npsk_hint h", "test.conf:2: listener 8883: 'psk_hint' needs a 'psk_file'"),
    ])
  func checks(text: String, message: String) {
    #expect(tlsCheckError(text) == message)
  }

  @Test("psk_file: identity:hexkey, comments, errors with line numbers")
  func pskFile() throws {
    let entries = try Config.parsePSKFile(bytes("# c\n\nid-1:00ff\r\nid:2:ABCD\n"), origin: "psk")
    #expect(entries.count == 2)
    #expect(entries[0].0 == bytes("id-1") && entries[0].1 == [0x00, 0xFF])
    #expect(entries[1].0 == bytes("id:2") && entries[1].1 == [0xAB, 0xCD])
    func error(_ text: String) -> String? {
      do throws(ConfigError) {
        _ = try Config.parsePSKFile(bytes(text), origin: "psk")
        return nil
      } catch {
        return error.message
      }
    }
    #expect(error("a:00\nnocolon\n") == "psk:2: expected identity:hexkey")
    #expect(error("a:0g") == "psk:1: the key is not hexadecimal")
    #expect(error("a:abc") == "psk:1: the key must be 2 to 128 hex digits, an even number")
    #expect(error("a:00\na:11") == "psk:2: identity 'a' appears twice")
  }
}
