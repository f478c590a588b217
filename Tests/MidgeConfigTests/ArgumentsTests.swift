// Method: Config.parseArguments over argv arrays (without the program name), checking the
// resulting Settings field by field or the exact usage error; then the two derived policies,
// Settings.effectiveListeners and Settings.anonymousAllowed, over hand-built Settings.
import Testing

@testable import BrokerCore
@testable import MidgeConfig

func arguments(_ args: [String]) throws(ConfigError) -> Settings {
  var s = Settings()
  try Config.parseArguments(args.map { Array($0.utf8) }, into: &s)
  return s
}

func argumentError(_ args: [String]) -> String? {
  do throws(ConfigError) {
    _ = try arguments(args)
    return nil
  } catch {
    return error.message
  }
}

@Suite("Config.parseArguments")
struct ArgumentsTests {
  @Test("no arguments: run with the defaults")
  func none() throws {
    let s = try arguments([])
    #expect(s.action == .run)
    #expect(s.configPath == nil)
    #expect(s.portOverride == nil)
    #expect(s.verbose == false)
    #expect(s.limits == Limits())
  }

  @Test("-c/--config-file, -p/--port, --memory, -v/--verbose")
  func options() throws {
    let s = try arguments(["-c", "/etc/midge.conf", "-p", "1884", "--memory", "8MiB", "-v"])
    #expect(s.configPath == "/etc/midge.conf")
    #expect(s.portOverride == 1884)
    #expect(s.memoryOverride == 8 << 20)
    #expect(s.verbose)
    #expect(s.action == .run)
    let l = try arguments(["--config-file", "a b.conf", "--port", "65535", "--verbose", "--memory", "65536"])
    #expect(l.configPath == "a b.conf")
    #expect(l.portOverride == 65535)
    #expect(l.verbose)
    #expect(l.memoryOverride == 65536)
    // The last occurrence wins.
    #expect(try arguments(["-p", "1", "-p", "2"]).portOverride == 2)
  }

  @Test("--plan, --help/-h, --version select the action")
  func actions() throws {
    #expect(try arguments(["--plan"]).action == .plan)
    #expect(try arguments(["--help"]).action == .help)
    #expect(try arguments(["-h"]).action == .help)
    #expect(try arguments(["--version"]).action == .version)
    let p = try arguments(["--plan", "-c", "x.conf", "--memory", "2MiB"])
    #expect(p.action == .plan)
    #expect(p.configPath == "x.conf")
    #expect(p.memoryOverride == 2 << 20)
  }

  @Test(
    "usage errors",
    arguments: [
      (["--bogus"], "unknown option '--bogus' (see midge --help)"),
      (["-x"], "unknown option '-x' (see midge --help)"),
      (["-c", "a.conf", "extra"], "unknown option 'extra' (see midge --help)"),
      (["-V"], "unknown option '-V' (see midge --help)"),
      (["-c"], "option '-c' needs a value (see midge --help)"),
      (["--config-file"], "option '--config-file' needs a value (see midge --help)"),
      (["-v", "-p"], "option '-p' needs a value (see midge --help)"),
      (["--memory"], "option '--memory' needs a value (see midge --help)"),
      (["-p", "0"], "invalid port '0' for -p (1-65535)"),
      (["-p", "65536"], "invalid port '65536' for -p (1-65535)"),
      (["--port", "mqtt"], "invalid port 'mqtt' for -p (1-65535)"),
      (["--memory", "lots"], "invalid size 'lots' for --memory (65536..\(Config.budgetMax) bytes, e.g. 16MiB)"),
      (["--memory", "16 MiB"], "invalid size '16 MiB' for --memory (65536..\(Config.budgetMax) bytes, e.g. 16MiB)"),
    ])
  func errors(args: [String], message: String) {
    #expect(argumentError(args) == message)
  }

  @Test("an option value that looks like an option is taken as the value")
  func valueLikeOption() throws {
    #expect(try arguments(["-c", "-v"]).configPath == "-v")
    #expect(try arguments(["-c", "-v"]).verbose == false)
  }
}

@Suite("Listeners and anonymous access")
struct ListenerPolicyTests {
  func listener(_ port: UInt16, _ address: String?) -> ListenerConfig {
    ListenerConfig(port: port, address: address.map { Array($0.utf8) + [0] }, origin: "test")
  }

  @Test("no listener configured: 127.0.0.1:1883")
  func defaultListener() {
    let l = Settings().effectiveListeners
    #expect(l.count == 1)
    #expect(l.first?.port == 1883)
    #expect(l.first?.addressText == "127.0.0.1")
    #expect(l.first?.address == Array("127.0.0.1".utf8) + [0])
    #expect(l.first?.origin == "default")
    #expect(l.first?.isLoopback == true)
  }

  @Test("-p PORT listens on 127.0.0.1:PORT instead of the default")
  func portOverride() throws {
    let s = try arguments(["-p", "1884"])
    #expect(s.effectiveListeners.map(\.port) == [1884])
    #expect(s.effectiveListeners.map(\.addressText) == ["127.0.0.1"])
    #expect(s.effectiveListeners.map(\.origin) == ["-p"])
  }

  @Test("configured listeners replace the default; -p adds one on 127.0.0.1")
  func configured() throws {
    var s = try parsed("listener 8883 0.0.0.0\nlistener 1883\n")
    #expect(s.effectiveListeners.map(\.port) == [8883, 1883])
    #expect(s.effectiveListeners.map(\.addressText) == ["0.0.0.0", "0.0.0.0"])
    s.portOverride = 1999
    #expect(s.effectiveListeners.map(\.port) == [8883, 1883, 1999])
    #expect(s.effectiveListeners.last?.addressText == "127.0.0.1")
  }

  @Test(
    "anonymous clients: allowed on 127.0.0.1 and ::1 only, unless configured",
    arguments: [
      ("127.0.0.1", true), ("127.1.2.3", false), ("127.0.0.2", false), ("::1", true), (nil, false), ("0.0.0.0", false),
      ("192.168.1.1", false), ("::", false), ("localhost", false), ("1270.0.0.1", false), ("::10", false),
    ] as [(String?, Bool)])
  func anonymousDefault(address: String?, loopback: Bool) {
    let l = listener(1883, address)
    #expect(l.isLoopback == loopback)
    var s = Settings()
    #expect(s.anonymousAllowed(l) == loopback)
    s.allowAnonymous = true
    #expect(s.anonymousAllowed(l) == true, "allow_anonymous true wins")
    s.allowAnonymous = false
    #expect(s.anonymousAllowed(l) == false, "allow_anonymous false wins")
  }

  @Test("allow_anonymous from a config file applies to every listener")
  func anonymousFromConfig() throws {
    let s = try parsed("listener 1883 127.0.0.1\nlistener 1884 0.0.0.0\nallow_anonymous false\n")
    #expect(s.effectiveListeners.map { s.anonymousAllowed($0) } == [false, false])
    let t = try parsed("listener 1883 127.0.0.1\nlistener 1884 0.0.0.0\nallow_anonymous true\n")
    #expect(t.effectiveListeners.map { t.anonymousAllowed($0) } == [true, true])
    let u = try parsed("listener 1883 127.0.0.1\nlistener 1884 0.0.0.0\n")
    #expect(u.effectiveListeners.map { u.anonymousAllowed($0) } == [true, false])
  }
}
