// Method: the keys of Debian's stock /etc/mosquitto/mosquitto.conf parse: pid_file is kept,
// `persistence false` is silent, `persistence true` is accepted with a warning that names the
// file and line (midge does not persist yet: never pretended, never silent).
import Testing

@testable import BrokerCore
@testable import MidgeConfig

@Suite("mosquitto.conf keys")
struct MosquittoConfTests {
  @Test("Debian's default file parses; persistence true warns with file:line")
  func debianDefault() throws {
    let s = try parsed(
      """
      # Place your local configuration in /etc/mosquitto/conf.d/

      pid_file /run/mosquitto/mosquitto.pid

      persistence true
      persistence_location /var/lib/mosquitto/

      log_dest file /var/log/mosquitto/mosquitto.log
      """, origin: "/etc/mosquitto/mosquitto.conf")
    #expect(s.pidFile == "/run/mosquitto/mosquitto.pid")
    #expect(s.persistence)
    #expect(s.persistenceLocation == "/var/lib/mosquitto/")
    #expect(s.log.destinations == LogSettings.file)
    #expect(s.log.filePath == "/var/log/mosquitto/mosquitto.log")
    #expect(s.warnings.count == 1)
    #expect(s.warnings.first?.hasPrefix("/etc/mosquitto/mosquitto.conf:5: persistence true: ") == true)
    #expect(s.warnings.first?.contains("LOST when midge stops") == true)
  }

  @Test("persistence false and the autosave keys are accepted without a warning; bad values are errors")
  func persistenceKeys() throws {
    let s = try parsed("persistence false\nautosave_interval 1800\nautosave_on_changes false\npersistence_file m.db\n")
    #expect(!s.persistence)
    #expect(s.warnings.isEmpty)
    #expect(parseError("persistence maybe\n")?.hasPrefix("test.conf:1: invalid value 'maybe'") == true)
    #expect(parseError("\nautosave_interval soon\n")?.hasPrefix("test.conf:2: invalid value 'soon'") == true)
    #expect(parseError("pid_file\n")?.contains("exactly one value") == true)
  }

  @Test("shutdown_flush_timeout: default 2 s, 0 to 3600")
  func shutdownFlush() throws {
    #expect(try parsed("").shutdownFlushSeconds == 2)
    #expect(try parsed("shutdown_flush_timeout 0\n").shutdownFlushSeconds == 0)
    #expect(parseError("shutdown_flush_timeout 3601\n")?.contains("(0..3600)") == true)
  }
}
