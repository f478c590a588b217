// include_dir is handled where it stands, through the reader the executable supplies
// (the parser reads no files); without a reader it is an error with file:line.
import Testing

@testable import BrokerCore
@testable import MidgeConfig

@Suite("include_dir")
struct IncludeDirTests {
  @Test("the reader is called in place: later lines override the included files, included override earlier")
  func inPlace() throws {
    var s = Settings()
    var dirs: [String] = []
    try Config.parse(
      bytes("max_connections 10\ninclude_dir /etc/midge/conf.d\nmax_sessions 30\n"), origin: "main.conf", into: &s
    ) { (dir: String, s: inout Settings) throws(ConfigError) in
      dirs.append(dir)
      #expect(s.limits.connectionsMax == 10)  // the line before has been applied
      try Config.parse(bytes("max_connections 20\nmax_sessions 40\n"), origin: "\(dir)/a.conf", into: &s)
    }
    #expect(dirs == ["/etc/midge/conf.d"])
    #expect(s.limits.connectionsMax == 20)
    #expect(s.limits.sessionsMax == 30)
  }

  @Test("an included file's error keeps its own file:line")
  func includedError() {
    var s = Settings()
    var message = ""
    do throws(ConfigError) {
      try Config.parse(bytes("\ninclude_dir d\n"), origin: "main.conf", into: &s) {
        (dir: String, s: inout Settings) throws(ConfigError) in
        try Config.parse(bytes("max_sessions 3\nbogus 1\n"), origin: "d/x.conf", into: &s)
      }
    } catch {
      message = error.message
    }
    #expect(message.hasPrefix("d/x.conf:2: ") && message.contains("bogus"), "\(message)")
  }

  @Test("without a reader (board defaults, included files) include_dir is refused with file:line")
  func noReader() {
    #expect(parseError("max_sessions 3\ninclude_dir /tmp\n", origin: "d/x.conf")
      == "d/x.conf:2: 'include_dir' is not allowed here")
    #expect(parseError("include_dir\n")?.hasPrefix("test.conf:1: 'include_dir' takes exactly one value") == true)
  }
}
