// swift-tools-version:6.0
// One manifest, two build modes. `swift build` / `swift test` build ordinary Swift on the
// host. `make board BOARD=...` builds the product with a Swift SDK from toolchain/ that adds
// -enable-experimental-feature Embedded, -wmo and -Osize: the manifest carries no embedded
// flags. Layers (dependencies point down only):
//   midge (executable) -> Platform -> BrokerCore -> Bounded, MQTTWire, MidgeAuth -> MidgeText
//   WebSocketWire (pure: RFC 6455 framing and the opening handshake) is used by Platform only.
//   MidgeText (pure): Message, the one out-of-line builder of text for people (errors, log lines).
//   MidgeAuth (pure: password and ACL files; BrokerCore checks CONNECT against its password table;
//   the hash functions are passed in: Platform's System.passwordCrypto, mbedTLS through CTLS).
//   MidgeConfig (pure) is used by midge; the C targets CPlatform and CAllocHook only by
//   Platform (midge links the allocation wrappers but calls no C itself).
//   CMbedTLS is Debian's mbedTLS 2.28 source package, fetched by toolchain/fetch-mbedtls.sh into
//   third_party/ (gitignored; `make deps` runs it), compiled with our own configuration header
//   Sources/CTLS/config/midge_mbedtls_config.h; only CTLS (C) includes its headers.
import PackageDescription

// Both C targets that see mbedTLS headers are compiled with the same configuration. No unwind
// tables: nothing unwinds through C here, and they cost ~25 KB of .eh_frame.
let mbedtlsConfig: [CSetting] = [
  .define("MBEDTLS_CONFIG_FILE", to: "\"midge_mbedtls_config.h\""),
  .unsafeFlags(["-fno-asynchronous-unwind-tables", "-fno-unwind-tables"]),
]

// The product's allocation guard (Sources/CAllocHook): every malloc-family call goes through
// counting wrappers, so a test can prove that nothing is allocated after startup.
let wrapAllocations = ["malloc", "calloc", "realloc", "free", "posix_memalign", "aligned_alloc", "memalign"]
  .flatMap { ["-Xlinker", "--wrap=\($0)"] }

let package = Package(
  name: "midge",
  products: [
    .executable(name: "midge", targets: ["midge"])
  ],
  targets: [
    .target(name: "CPlatform"),
    .target(name: "CAllocHook"),
    // Everest: HACL*'s X25519 for ECDHE (MBEDTLS_ECDH_VARIANT_EVEREST_ENABLED), the three files
    // of its CMake list (the joined one includes the 64- or 32-bit arithmetic).
    .target(
      name: "CMbedTLS", path: "third_party/mbedtls",
      sources: ["library", "everest/everest.c", "everest/x25519.c", "everest/Hacl_Curve25519_joined.c"],
      publicHeadersPath: "include",
      cSettings: mbedtlsConfig + [
        .headerSearchPath("../../Sources/CTLS/config"), .headerSearchPath("library"),
        .headerSearchPath("include/everest"), .headerSearchPath("include/everest/kremlib"), .unsafeFlags(["-w"]),
      ]),
    .target(name: "CTLS", dependencies: ["CMbedTLS"], cSettings: mbedtlsConfig + [.headerSearchPath("config")]),
    .target(name: "MidgeText"),
    .target(name: "MQTTWire"),
    .target(name: "WebSocketWire"),
    .target(name: "Bounded"),
    .target(name: "MidgeAuth", dependencies: ["MidgeText"]),
    .target(name: "BrokerCore", dependencies: ["MQTTWire", "Bounded", "MidgeAuth", "MidgeText"]),
    .target(name: "MidgeConfig", dependencies: ["BrokerCore", "MidgeText"]),
    .target(name: "Platform", dependencies: ["BrokerCore", "MidgeText", "CPlatform", "CAllocHook", "CTLS", "WebSocketWire"]),
    .executableTarget(
      name: "midge", dependencies: ["Platform", "MidgeConfig", "BrokerCore", "MidgeAuth", "MidgeText"],
      linkerSettings: [.unsafeFlags(wrapAllocations)]),
    // Counts malloc-family calls per thread in the test process (host only, never shipped).
    .target(name: "HostAllocCounter", path: "Tests/HostAllocCounter"),
    .testTarget(name: "MQTTWireTests", dependencies: ["MQTTWire", "HostAllocCounter"]),
    .testTarget(name: "BrokerCoreTests", dependencies: ["BrokerCore", "MQTTWire", "Bounded", "CTLS", "HostAllocCounter"]),
    .testTarget(name: "MidgeConfigTests", dependencies: ["MidgeConfig", "BrokerCore"]),
    .testTarget(name: "MidgeAuthTests", dependencies: ["MidgeAuth", "CTLS", "HostAllocCounter"]),
    .testTarget(name: "MidgeTextTests", dependencies: ["MidgeText"]),
    .testTarget(name: "WebSocketWireTests", dependencies: ["WebSocketWire", "HostAllocCounter"]),
    // Tidy: function length, line width, spec tags, stale words (reads the sources as text).
    .testTarget(name: "TidyTests", exclude: ["allowlist.txt"]),
  ],
  swiftLanguageModes: [.v6]
)
