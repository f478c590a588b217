// Connection slots. One fixed slot per possible network connection, reused through a
// generation counter so that a stale event for a reused slot is recognised and ignored.
// A slot holds no buffers of its own: receive and send bytes live in pooled chunks while
// there are any (see ChunkPool), so an idle connection costs the slot (64 bytes),
// its session and its subscriptions.
import Bounded
import MQTTWire

public struct ConnectionID: Equatable, Sendable {
  public let slot: UInt32
  public let generation: UInt32

  public init(slot: UInt32, generation: UInt32) {
    self.slot = slot
    self.generation = generation
  }

  /// Generations are 31-bit so that poller tokens with the top bit set can name listeners.
  public static let generationMask: UInt32 = 0x7FFF_FFFF

  /// A 64-bit token for poller registrations (slot in the low half).
  public var token: UInt64 { UInt64(generation) << 32 | UInt64(slot) }
  public init(token: UInt64) {
    self.init(slot: UInt32(truncatingIfNeeded: token), generation: UInt32(truncatingIfNeeded: token >> 32))
  }
}

enum ConnectionState: UInt8 {
  case free = 0
  /// Accepted; waiting for CONNECT until the connect deadline.
  case awaitingConnect
  /// CONNECT accepted; the MQTT session is live.
  case connected
  /// Closing: no more input is processed or output queued; the platform closes the socket
  /// after one last flush and then releases the slot.
  case closing
}

enum ReceiveBuffer: UInt8 {
  case none = 0
  case chunk  // one receive chunk (frames up to io_chunk_size)
  case large  // one large packet buffer (a frame larger than a chunk)
}

/// Two kinds of flags. Ring membership says that the slot has an entry in one of the
/// bounded rings; it outlives the connection (a released slot's entry stays in the ring
/// until popped), so that a reused slot is never pushed twice and a ring of one entry per
/// slot cannot overflow. The others describe the current connection and reset with it.
struct ConnectionFlags: OptionSet {
  let rawValue: UInt16
  static let queuedForFlush = ConnectionFlags(rawValue: 1 << 0)
  static let queuedForInterest = ConnectionFlags(rawValue: 1 << 1)
  static let inChunkRing = ConnectionFlags(rawValue: 1 << 2)
  static let inLargeRing = ConnectionFlags(rawValue: 1 << 3)
  static let ringMembership: ConnectionFlags = [.queuedForFlush, .queuedForInterest, .inChunkRing, .inLargeRing]
  /// Reading is paused until a receive buffer is free.
  static let readPaused = ConnectionFlags(rawValue: 1 << 4)
  /// Waiting for a receive chunk (or, with `waitingLarge`, a large packet buffer).
  static let waitingChunk = ConnectionFlags(rawValue: 1 << 5)
  static let waitingLarge = ConnectionFlags(rawValue: 1 << 6)
  static let anonymousAllowed = ConnectionFlags(rawValue: 1 << 7)
  /// Opened while max_connections clients were admitted: its CONNECT is refused.
  static let refusing = ConnectionFlags(rawValue: 1 << 8)
  /// Reading is paused because a PUBLISH could not be queued for a subscriber (back-pressure);
  /// the core retries it on its timer.
  static let waitingQueue = ConnectionFlags(rawValue: 1 << 9)
  /// MQTT 5 DISCONNECT 0x04: publish the will although the client disconnected.
  static let willOnDisconnect = ConnectionFlags(rawValue: 1 << 11)
  /// The transport gave the connection an identity (Broker.setIdentity).
  static let identified = ConnectionFlags(rawValue: 1 << 12)
}

struct Connection {
  var generation: UInt32 = 0
  var state: ConnectionState = .free
  var version: ProtocolVersion = .v311
  var flags: ConnectionFlags = []
  var receiveBuffer: ReceiveBuffer = .none
  var closeReason: CloseReason = .peerClosed
  /// MQTT 5 Receive Maximum of the client (65535 when not given).
  var receiveMaximum: UInt16 = 65535
  /// 1.5 x the keep alive in milliseconds; 0 when keep alive is off.
  var keepAliveMs: UInt32 = 0
  /// Connect or keep-alive deadline in milliseconds; 0 when none.
  var deadline: UInt64 = 0
  var receiveIndex: UInt32 = chunkNone
  var receiveUsed: UInt32 = 0
  /// The session bound to this connection once CONNECT is accepted.
  var session: UInt32 = sessionNone
  /// MQTT 5 Maximum Packet Size of the client; 0 = no limit beyond the protocol's.
  var maximumPacketSize: UInt32 = 0
  /// Length of the identity in the plan's "connection identities" (with `.identified`).
  var identityCount: UInt16 = 0
  /// MQTT 5 server-to-client topic aliases: how many midge may use on this connection
  /// (min of max_topic_alias_broker and the client's Topic Alias Maximum; 0 = none) and the
  /// slot the next new topic takes (round robin).
  var outboundAliasMax: UInt16 = 0
  var outboundAliasNext: UInt16 = 0
  var output = ChunkQueue()
}
