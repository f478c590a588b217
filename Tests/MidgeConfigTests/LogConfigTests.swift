// Method: the logging keys parsed as Mosquitto reads them. log_dest and log_type lines add up,
// the first one replacing the default; `none` clears; unsupported destinations and levels are
// errors with file:line (nothing silently ignored).
import Testing

@testable import BrokerCore
@testable import MidgeConfig

@Suite("logging keys")
struct LogConfigTests {
  @Test("defaults: stderr; error, warning, notice, information; connection messages; unix time")
  func defaults() throws {
    let s = try parsed("")
    #expect(s.log.destinations == LogSettings.stderr)
    #expect(s.log.types == 0x0F)
    #expect(s.log.connectionMessages)
    #expect(s.log.timestamp)
    #expect(s.log.timestampFormat == nil)
    #expect(s.log.filePath == nil)
  }

  @Test("several log_dest lines add up; the first replaces stderr")
  func destinations() throws {
    let s = try parsed("log_dest file /var/log/midge.log\nlog_dest syslog\nlog_dest stdout\n")
    #expect(s.log.destinations == LogSettings.file | LogSettings.syslog | LogSettings.stdout)
    #expect(s.log.filePath == "/var/log/midge.log")
    let none = try parsed("log_dest stderr\nlog_dest none\n")
    #expect(none.log.destinations == 0)
  }

  @Test("log_type lines add up; all and none")
  func types() throws {
    let s = try parsed("log_type error\nlog_type subscribe\nlog_type unsubscribe\n")
    #expect(s.log.types == LogLevel.error.rawValue | LogLevel.subscribe.rawValue | LogLevel.unsubscribe.rawValue)
    #expect(try parsed("log_type all\n").log.types == LogLevel.allMask)
    #expect(try parsed("log_type all\nlog_type none\n").log.types == 0)
    #expect(try parsed("log_type debug\n").log.types == LogLevel.debug.rawValue)
  }

  @Test("connection_messages, log_timestamp, log_timestamp_format (spaces kept)")
  func flags() throws {
    let s = try parsed("connection_messages false\nlog_timestamp false\nlog_timestamp_format %Y-%m-%d %H:%M:%S\n")
    #expect(!s.log.connectionMessages)
    #expect(!s.log.timestamp)
    #expect(s.log.timestampFormat == "%Y-%m-%d %H:%M:%S")
  }

  @Test("errors name the file and line")
  func errors() {
    #expect(parseError("\nlog_dest topic\n")?.hasPrefix("test.conf:2: 'log_dest topic' is not supported") == true)
    #expect(parseError("log_dest file\n")?.hasPrefix("test.conf:1: 'log_dest file' takes exactly one PATH") == true)
    #expect(parseError("log_dest file a\nlog_dest file b\n")?.hasPrefix("test.conf:2: 'log_dest file' given twice") == true)
    #expect(parseError("log_dest file a\nlog_dest file a\n") == nil, "the same file again is no conflict")
    #expect(parseError("log_dest bogus\n")?.contains("invalid value 'bogus' for 'log_dest'") == true)
    #expect(parseError("log_type chatty\n")?.contains("invalid value 'chatty' for 'log_type'") == true)
    #expect(parseError("log_type websockets\n") == nil, "accepted: WebSocket lines log at debug level")
    #expect(parseError("connection_messages yes\n")?.contains("true or false") == true)
    #expect(parseError("log_timestamp_format %Y-%m-%d %Z\n")?.contains("'%Z' is not supported (midge writes UTC") == true)
    #expect(parseError("log_timestamp_format 100%\n")?.contains("is not supported") == true)
    #expect(parseError("log_timestamp_format %F %T %s %z %%\n") == nil)
    let long = String(repeating: "%Y", count: 40)
    #expect(parseError("log_timestamp_format \(long)\n")?.contains("longer than 63 bytes") == true)
  }
}
