// The fuzzer's seed corpus comes from this file's vector table. Here's how it works: every
// vector (valid and malformed) becomes one corpus entry, its first byte selecting the protocol
// version exactly as Fuzz/WireFuzz.swift reads it. The test checks the mapping in memory; with
// MIDGE_FUZZ_CORPUS=<dir> set (`make fuzz` does) it also writes the entries there.
import Foundation
import MQTTWire
import Testing

enum FuzzCorpus {
  /// The selector byte Fuzz/WireFuzz.swift maps back to `version` (no packet-size limit).
  static func selector(_ version: ProtocolVersion) -> UInt8 {
    switch version {
    case .v31: return 0
    case .v311: return 1
    case .v5: return 2
    }
  }

  static var entries: [(name: String, bytes: [UInt8])] {
    Vectors.all.enumerated().map { i, v in
      let safe = String(v.name.map { $0.isLetter || $0.isNumber ? $0 : "-" })
      return (String(format: "%03d-", i) + safe, [selector(v.version)] + v.bytes)
    }
  }
}

@Test("every vector becomes a fuzz seed with its version selector")
func fuzzCorpus() throws {
  let entries = FuzzCorpus.entries
  #expect(entries.count == Vectors.all.count)
  for (entry, vector) in zip(entries, Vectors.all) {
    #expect(Array(entry.bytes.dropFirst()) == vector.bytes)
    let decodedVersion: ProtocolVersion = [.v31, .v311, .v5, .v5][Int(entry.bytes[0] & 0x03)]
    #expect(decodedVersion == vector.version, "\(vector.name)")
  }
  if let dir = ProcessInfo.processInfo.environment["MIDGE_FUZZ_CORPUS"] {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for e in entries {
      try Data(e.bytes).write(to: URL(fileURLWithPath: dir).appendingPathComponent(e.name))
    }
  }
}
