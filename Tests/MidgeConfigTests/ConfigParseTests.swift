// Method: Config.parse is a pure function from bytes to Settings. Each test feeds a small
// config text (as the executable would after reading the file) and checks either every
// resulting field or the exact error text, which must start with "ORIGIN:LINE: ". Sizes are
// checked through Config.parseSize directly and through the keys that use it.
import Testing

@testable import BrokerCore
@testable import MidgeConfig

/// Parses `text` into fresh Settings (or into `s`), as the executable does for a file.
func parse(_ text: String, origin: String = "test.conf", into s: inout Settings) throws(ConfigError) {
  try Config.parse(Array(text.utf8), origin: origin, into: &s)
}

func parsed(_ text: String, origin: String = "test.conf") throws(ConfigError) -> Settings {
  var s = Settings()
  try parse(text, origin: origin, into: &s)
  return s
}

/// The error message Config.parse throws for `text`, or nil when it parses.
func parseError(_ text: String, origin: String = "test.conf") -> String? {
  do throws(ConfigError) {
    _ = try parsed(text, origin: origin)
    return nil
  } catch {
    return error.message
  }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite("Config.parse")
struct ConfigParseTests {
  @Test("memory_lock true|false, false by default")
  func memoryLock() throws {
    #expect(try parsed("").limits.memoryLock == false)
    #expect(try parsed("memory_lock true\n").limits.memoryLock == true)
    #expect(try parsed("memory_lock true\nmemory_lock false\n").limits.memoryLock == false)
    #expect(parseError("memory_lock yes\n") == "test.conf:1: invalid value 'yes' for 'memory_lock' (true or false)")
  }

  @Test("a file with every key sets every field")
  func everyKey() throws {
    let s = try parsed(
      """
      # midge test configuration
      listener 1883 127.0.0.1
      listener 8883
      listener 1884 ::1
      allow_anonymous true
      memory_budget 8MiB
      max_connections 300
      max_subscriptions 5000
      max_packet_size 65536
      max_topic_length 128
      max_client_id_length 64
      max_queued_bytes 256KiB
      large_packet_buffers 3
      io_chunk_size 2048
      max_keepalive 600
      connect_timeout 5
      max_inflight_messages 7
      socket_send_buffer 32KiB
      socket_receive_buffer 16384

      """)
    var expected = Limits()
    expected.memoryBudgetBytes = 8 << 20
    expected.connectionsMax = 300
    expected.subscriptionsMax = 5000
    expected.packetBytesMax = 65536
    expected.topicBytesMax = 128
    expected.clientIDBytesMax = 64
    expected.queuedBytesMax = 256 << 10
    expected.largeBuffersMax = 3
    expected.chunkBytes = 2048
    expected.keepAliveMaxSeconds = 600
    expected.connectTimeoutSeconds = 5
    expected.inflightMax = 7
    expected.socketSendBufferBytes = 32 << 10
    expected.socketReceiveBufferBytes = 16384
    #expect(s.limits == expected)
    #expect(s.allowAnonymous == true)
    #expect(s.listeners.map(\.port) == [1883, 8883, 1884])
    #expect(s.listeners.map(\.address) == [bytes("127.0.0.1") + [0], nil, bytes("::1") + [0]])
    #expect(s.listeners.map(\.origin) == ["test.conf", "test.conf", "test.conf"])
    #expect(s.listeners.map(\.addressText) == ["127.0.0.1", "0.0.0.0", "::1"])
    #expect(s.action == .run)
    #expect(s.configPath == nil)
    #expect(s.portOverride == nil)
    #expect(s.verbose == false)
  }

  @Test("session, queue, retained and MQTT 5 keys (Mosquitto names where Mosquitto has one)")
  func sessionKeys() throws {
    let s = try parsed(
      """
      max_sessions 3000
      max_queued_messages 50
      queue_qos0_messages true
      queue_full_action pause
      max_retained_messages 77
      max_retained_bytes 64KiB
      retain_available false
      max_topic_alias 5
      persistent_client_expiration 2d
      """)
    #expect(s.limits.sessionsMax == 3000)
    #expect(s.limits.queuedMessagesMax == 50)
    #expect(s.limits.queueQoS0)
    #expect(s.limits.queueFullAction == .pausePublisher)
    #expect(s.limits.retainedMessagesMax == 77)
    #expect(s.limits.retainedBytesMax == 64 << 10)
    #expect(!s.limits.retainAvailable)
    #expect(s.limits.topicAliasMax == 5)
    #expect(s.limits.persistentExpirySeconds == 2 * 86400)
    #expect(try parsed("max_queued_messages 0").limits.queuedMessagesMax == Limits().queuedMessagesMax)
    for (text, seconds) in [("3600", 3600), ("1h", 3600), ("1w", 604_800), ("1m", 2_592_000), ("1y", 31_536_000)] {
      #expect(try parsed("persistent_client_expiration \(text)").limits.persistentExpirySeconds == seconds)
    }
    #expect(parseError("persistent_client_expiration 1x") == "test.conf:1: invalid duration '1x' for 'persistent_client_expiration' (e.g. 3600, 1h, 2d, 1w, 1m, 1y)")
    #expect(parseError("queue_full_action drop") == "test.conf:1: invalid value 'drop' for 'queue_full_action' (drop_newest, drop_oldest, reject_publish or pause_publisher)")
    #expect(parseError("retain_available yes") == "test.conf:1: invalid value 'yes' for 'retain_available' (true or false)")
    #expect(!Limits().spillsBeyondReceiveMaximum, "the protocol's rule by default")
    #expect(try parsed("receive_maximum_exceeded spill").limits.spillsBeyondReceiveMaximum)
    #expect(try !parsed("receive_maximum_exceeded disconnect").limits.spillsBeyondReceiveMaximum)
    #expect(parseError("receive_maximum_exceeded 0x97") == "test.conf:1: invalid value '0x97' for 'receive_maximum_exceeded' (disconnect or spill)")
  }

  @Test("an empty text changes nothing")
  func empty() throws {
    let s = try parsed("")
    #expect(s.limits == Limits())
    #expect(s.listeners.isEmpty)
    #expect(s.allowAnonymous == nil)
  }

  @Test("comments, blank lines, tabs, CRLF and a last line without newline")
  func layout() throws {
    let s = try parsed(
      "# comment\n\n   \n\t# indented comment\r\nmax_connections\t\t77   # trailing comment\r\n"
        + "  max_subscriptions   99  \n#\n" + "connect_timeout 3")
    #expect(s.limits.connectionsMax == 77)
    #expect(s.limits.subscriptionsMax == 99)
    #expect(s.limits.connectTimeoutSeconds == 3)
    // '#' starts a comment only at the start of a word: "99#..." is one (invalid) value.
    #expect(parseError("max_subscriptions 99#x") == "test.conf:1: invalid value '99#x' for 'max_subscriptions' (1..10000000)")
    #expect(try parsed("max_subscriptions 99 #x").limits.subscriptionsMax == 99)
  }

  @Test("later lines override earlier ones; listeners accumulate")
  func overrides() throws {
    var s = Settings()
    try parse("max_connections 10\nlistener 1000\n", origin: "a.conf", into: &s)
    try parse("max_connections 20\nlistener 2000\n", origin: "b.conf", into: &s)
    #expect(s.limits.connectionsMax == 20)
    #expect(s.listeners.map(\.port) == [1000, 2000])
    #expect(s.listeners.map(\.origin) == ["a.conf", "b.conf"])
  }

  @Test("auth keys: password_file and acl_file switch their plan regions on; sizes go to the limits")
  func authKeys() throws {
    let s = try parsed(
      "password_file /etc/p\nacl_file /etc/a\nmax_acl_rules 7\nmax_username_length 9\nmax_password_entries 3\n"
        + "max_auth_file_bytes 2KiB\nauth_max_iterations 500\n")
    #expect(s.passwordFile == "/etc/p")
    #expect(s.aclFile == "/etc/a")
    #expect(s.limits.usesPasswordFile && s.limits.usesAclFile && !s.limits.usesIdentities)
    #expect(s.limits.aclRulesMax == 7)
    #expect(s.limits.usernameBytesMax == 9)
    #expect(s.limits.passwordEntriesMax == 3)
    #expect(s.limits.authFileBytesMax == 2048)
    #expect(s.authMaxIterations == 500)
    #expect(!Settings().limits.usesPasswordFile && !Settings().limits.usesAclFile)
    #expect(parseError("max_acl_rules 0") == "test.conf:1: invalid value '0' for 'max_acl_rules' (1..1000000)")
    #expect(parseError("max_username_length 65536")
      == "test.conf:1: invalid value '65536' for 'max_username_length' (1..65535)")
    #expect(parseError("acl_file") == "test.conf:1: 'acl_file' takes exactly one value")
  }

  @Test("max_connections -1 (Mosquitto's unlimited) keeps the current bound")
  func maxConnectionsUnlimited() throws {
    var s = Settings()
    try parse("max_connections 42\nmax_connections -1\n", into: &s)
    #expect(s.limits.connectionsMax == 42)
    #expect(parseError("max_connections -2") == "test.conf:1: invalid value '-2' for 'max_connections' (1..1000000)")
    #expect(parseError("max_connections -1 2") == "test.conf:1: 'max_connections' takes exactly one value")
  }

  @Test(
    "errors name origin and line: 'ORIGIN:LINE: message'",
    arguments: [
      ("max_connections 1\nbogus_key 1\n", "my.conf:2: unknown key 'bogus_key'"),
      ("# c\n\nper_listener_settings true", "my.conf:3: 'per_listener_settings' is not supported yet"),
      ("MAX_CONNECTIONS 10", "my.conf:1: unknown key 'MAX_CONNECTIONS'"),
      ("max_connections lots", "my.conf:1: invalid value 'lots' for 'max_connections' (1..1000000)"),
      ("max_connections 0", "my.conf:1: invalid value '0' for 'max_connections' (1..1000000)"),
      ("max_connections 1000001", "my.conf:1: invalid value '1000001' for 'max_connections' (1..1000000)"),
      ("\n\nmax_connections", "my.conf:3: 'max_connections' takes exactly one value"),
      ("max_keepalive 10 20", "my.conf:1: 'max_keepalive' takes exactly one value"),
      ("max_keepalive 65536", "my.conf:1: invalid value '65536' for 'max_keepalive' (1..65535)"),
      ("max_client_id_length 22", "my.conf:1: invalid value '22' for 'max_client_id_length' (23..65535)"),
      ("max_topic_length 15", "my.conf:1: invalid value '15' for 'max_topic_length' (16..65535)"),
      ("max_packet_size 63", "my.conf:1: invalid value '63' for 'max_packet_size' (64..268435460)"),
      ("large_packet_buffers 0", "my.conf:1: invalid value '0' for 'large_packet_buffers' (1..65536)"),
      ("connect_timeout 3601", "my.conf:1: invalid value '3601' for 'connect_timeout' (1..3600)"),
      ("max_inflight_messages 0", "my.conf:1: invalid value '0' for 'max_inflight_messages' (1..65535)"),
      ("socket_send_buffer 17MiB",
       "my.conf:1: invalid size '17MiB' for 'socket_send_buffer' (0..16777216 bytes; suffixes KiB, MiB, GiB)"),
      ("max_subscriptions +5", "my.conf:1: invalid value '+5' for 'max_subscriptions' (1..10000000)"),
      ("listener", "my.conf:1: 'listener' takes PORT [ADDRESS]"),
      ("listener 1883 127.0.0.1 extra", "my.conf:1: 'listener' takes PORT [ADDRESS]"),
      ("listener 0", "my.conf:1: invalid port '0' for 'listener' (1-65535)"),
      ("listener 65536", "my.conf:1: invalid port '65536' for 'listener' (1-65535)"),
      ("listener http", "my.conf:1: invalid port 'http' for 'listener' (1-65535)"),
      ("allow_anonymous yes", "my.conf:1: invalid value 'yes' for 'allow_anonymous' (true or false)"),
      ("allow_anonymous", "my.conf:1: 'allow_anonymous' takes exactly one value"),
      ("memory_budget 16QiB", "my.conf:1: invalid size '16QiB' for 'memory_budget' (65536..\(Config.budgetMax) bytes; suffixes KiB, MiB, GiB)"),
      ("memory_budget 63KiB", "my.conf:1: invalid size '63KiB' for 'memory_budget' (65536..\(Config.budgetMax) bytes; suffixes KiB, MiB, GiB)"),
      ("io_chunk_size 128", "my.conf:1: invalid size '128' for 'io_chunk_size' (256..65536 bytes; suffixes KiB, MiB, GiB)"),
      ("io_chunk_size 65537", "my.conf:1: invalid size '65537' for 'io_chunk_size' (256..65536 bytes; suffixes KiB, MiB, GiB)"),
      ("max_queued_bytes 1023", "my.conf:1: invalid size '1023' for 'max_queued_bytes' (1024..1073741824 bytes; suffixes KiB, MiB, GiB)"),
      ("max_queued_bytes 2GiB", "my.conf:1: invalid size '2GiB' for 'max_queued_bytes' (1024..1073741824 bytes; suffixes KiB, MiB, GiB)"),
    ])
  func errors(text: String, message: String) {
    #expect(parseError(text, origin: "my.conf") == message)
  }

  @Test("an error stops at the failing line: earlier lines were applied, later ones not")
  func errorStops() {
    var s = Settings()
    do throws(ConfigError) {
      try parse("max_connections 5\nnope 1\nmax_subscriptions 7\n", into: &s)
      Issue.record("expected an error")
    } catch {
      #expect(error.message == "test.conf:2: unknown key 'nope'")
    }
    #expect(s.limits.connectionsMax == 5)
    #expect(s.limits.subscriptionsMax == Limits().subscriptionsMax)
  }

  @Test("listener address literals, ports at the bounds")
  func listeners() throws {
    let s = try parsed("listener 1\nlistener 65535 0.0.0.0\nlistener 1883 fe80::1\nlistener 01883\n")
    #expect(s.listeners.map(\.port) == [1, 65535, 1883, 1883])
    #expect(s.listeners[1].address == bytes("0.0.0.0") + [0])
    #expect(s.listeners[2].addressText == "fe80::1")
  }

  @Test("size keys accept every suffix")
  func sizeKeys() throws {
    let s = try parsed("memory_budget 1G\nmax_queued_bytes 3M\nio_chunk_size 1KiB\n")
    #expect(s.limits.memoryBudgetBytes == 1 << 30)
    #expect(s.limits.queuedBytesMax == 3 << 20)
    #expect(s.limits.chunkBytes == 1024)
    #expect(try parsed("memory_budget 65536B").limits.memoryBudgetBytes == 65536)
    #expect(try parsed("memory_budget 64KB").limits.memoryBudgetBytes == 65536)
  }
}

@Suite("Config.parseSize")
struct ParseSizeTests {
  @Test(
    "sizes with binary suffixes",
    arguments: [
      ("0", 0), ("4096", 4096), ("1B", 1), ("512B", 512),
      ("1k", 1024), ("1K", 1024), ("1KB", 1024), ("64KiB", 65536),
      ("1M", 1 << 20), ("2MB", 2 << 20), ("16MiB", 16 << 20),
      ("1G", 1 << 30), ("1GB", 1 << 30), ("1GiB", 1 << 30), ("1024GiB", 1 << 40),
      ("000012K", 12 << 10), ("1099511627776", 1 << 40),
    ] as [(String, Int)])
  func valid(text: String, value: Int) {
    #expect(Config.parseSize(bytes(text)) == value)
  }

  @Test(
    "invalid sizes are nil (more than 1 TiB before the suffix is refused)",
    arguments: [
      "", "K", "MiB", "-1", "+1", "1.5M", "1 M", "1m", "1g", "1kib", "1Kib", "1KIB", "1TiB", "1T", "1MiBs",
      "0x10", "1e6", "16 ", " 16", "1000000000000000", "1099511627777", "999999999999999",
    ])
  func invalid(text: String) {
    #expect(Config.parseSize(bytes(text)) == nil)
  }

  @Test(
    "sizes whose byte count overflows 64 bits are nil, not wrapped",
    arguments: ["17179869184G", "8589934592G", "9223372036G", "1099511627775G", "999999999999999G"])
  func overflow(text: String) {
    // BUG (Config.swift parseSize): `n << shift` wraps silently before the range check, so
    // "17179869184G" (2^64 bytes) parses as 0 and "8589934592G" (2^63) as Int64.min.
    let v = Config.parseSize(bytes(text))
    #expect(v == nil, "\(text) parsed as \(v.map(String.init) ?? "nil")")
  }

  @Test("parseInt: decimal digits only, at most 15")
  func parseInt() {
    #expect(Config.parseInt(bytes("0")) == 0)
    #expect(Config.parseInt(bytes("123456789012345")) == 123_456_789_012_345)
    #expect(Config.parseInt(bytes("1234567890123456")) == nil)
    #expect(Config.parseInt(bytes("")) == nil)
    #expect(Config.parseInt(bytes("-1")) == nil)
    #expect(Config.parseInt(bytes("1_000")) == nil)
  }
}
