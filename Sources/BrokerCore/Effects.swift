// The effect loop: how whatever drives the core (Platform's EventLoop, the tests' FakeNetwork and
// the simulator) applies what the core asks for after events. One implementation, so the order
// and the rules live in one place:
//   1. flushes (`nextFlush`): write the connection's queued output, unless the connection is
//      waiting to become writable (then the writable event will write it);
//   2. closes (`nextClose`): one last non-blocking write of what is queued, then the socket is
//      gone; the core releases the slot and every buffer right after;
//   3. read interest (`nextInterest`): the connection's `wantsRead` changed (paused or resumed).
// The driver provides the sink. It is generic (no existential), so each driver gets its own
// specialized copy at compile time: in the embedded build the calls are direct.

/// What a driver of the core does with each effect (see the file header).
public protocol EffectSink {
  /// True while the connection waits for its socket to become writable (EPOLLOUT armed): a
  /// flush effect is then left to the writable event.
  func waitsForWritable(_ id: ConnectionID) -> Bool
  /// Write the connection's queued output now (`gatherOutput` / `wrote`).
  func flush(_ id: ConnectionID)
  /// The connection is closing for `reason`: one last non-blocking write of what is queued,
  /// then close the socket. The core releases the slot when this returns.
  func close(_ id: ConnectionID, reason: CloseReason)
  /// Read interest is now `wantsRead`.
  func interestChanged(_ id: ConnectionID, wantsRead: Bool)
}

extension Broker {
  /// Applies every pending effect to `sink`, in the order of the file header; returns the
  /// number of connections closed.
  @inlinable
  @discardableResult
  public func applyEffects<Sink: EffectSink>(to sink: Sink) -> Int {
    while let id = nextFlush() {
      if !sink.waitsForWritable(id) { sink.flush(id) }
    }
    var closed = 0
    while let id = nextClose() {
      // nextClose returns closing connections only (checkInvariants holds the core to it).
      sink.close(id, reason: closeReason(id) ?? .ioError)
      release(id)
      closed += 1
    }
    while let id = nextInterest() {
      sink.interestChanged(id, wantsRead: wantsRead(id))
    }
    return closed
  }
}
