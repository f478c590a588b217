// pid_file support: written once the listeners are open (startup), removed when midge stops.
import CPlatform

extension System {
  public static func writePidFile(_ path: String) throws(SystemError) {
    let rc = withCPath(path) { cp_pid_file_write($0) }
    guard rc == 0 else { throw SystemError(errno: -rc) }
  }

  public static func removeFile(_ path: String) { _ = withCPath(path) { cp_remove_file($0) } }
}
