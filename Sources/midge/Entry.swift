// midge's entry point. SwiftPM links executables with `--defsym main=midge_main`, so this
// function is `main` in host and Embedded builds alike (Embedded Swift has no CommandLine).
// Startup order: board defaults -> config file -> command line -> memory plan (refuse when it
// does not fit) -> listeners (refuse when a port is taken) -> one arena -> broker -> loop.
// Every startup failure is one line on stderr and exit status 1 (2 for usage errors).
import Platform

let version: StaticString = "0.1.0"

@_cdecl("midge_main")
func midgeMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
  System.setUpProcess()
  var args: [[UInt8]] = []
  var i = 1
  while i < Int(argc) {
    if let p = argv?[i] { args.append(System.bytes(p)) }
    i += 1
  }
  return CLI.main(args)
}
