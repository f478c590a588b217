// The memory plan: every consumer of memory is a named line (count x bytes each), laid out
// back to back in one block that is allocated once at startup. The same plan is printed by
// `midge --plan` and carved by the broker, so what is printed is what is reserved.
//
// Usage: build a plan with `reserve` calls (no memory is touched), check `totalBytes`
// against the budget, then `Arena(plan)` allocates the block and `arena.bind(reservation)`
// hands out typed, uninitialised buffers. Nothing grows afterwards.

public struct MemoryPlan {
  public struct Line {
    public let name: StaticString
    public let count: Int
    public let bytesEach: Int
    /// 64-bit so that a plan too large for a 32-bit board is reported, not trapped.
    public var totalBytes: Int64 { Int64(count) * Int64(bytesEach) }
  }

  public private(set) var lines: [Line] = []
  /// 64-bit for the same reason; callers compare it against the budget before allocating.
  public private(set) var totalBytes: Int64 = 0

  public init() {}

  /// Reserves `count` values of T (stride-sized, cache-line aligned block).
  /// (Inlined: only the stride differs per T; the line itself is added out of line.)
  @inline(__always)
  public mutating func reserve<T>(_ name: StaticString, _ type: T.Type, count: Int) -> Reservation<T> {
    Reservation(offset: addLine(name, count: count, bytesEach: MemoryLayout<T>.stride), count: count)
  }

  /// Reserves `count` blocks of `bytesEach` raw bytes (I/O buffers, strings).
  public mutating func reserveBytes(_ name: StaticString, count: Int, bytesEach: Int) -> ByteReservation {
    ByteReservation(offset: addLine(name, count: count, bytesEach: bytesEach), count: count, bytesEach: bytesEach)
  }

  /// One out-of-line body for every reservation (the plan has ~40 call sites; inlining the
  /// array append into each cost kilobytes of code in BrokerPlan.make).
  @inline(never)
  private mutating func addLine(_ name: StaticString, count: Int, bytesEach: Int) -> Int {
    let offset = place(bytes: Int64(count) * Int64(bytesEach))
    lines.append(Line(name: name, count: count, bytesEach: bytesEach))
    return offset
  }

  /// Offsets are only used once the whole plan fits the budget (an Int), so truncating them
  /// here for a plan that does not fit is harmless: such a plan is refused, never carved.
  private mutating func place(bytes: Int64) -> Int {
    precondition(bytes >= 0, "negative reservation")
    let a = Int64(Arena.alignment)
    let offset = (totalBytes + a - 1) / a * a
    totalBytes = offset + bytes
    return Int(truncatingIfNeeded: offset)
  }
}

public struct Reservation<T> {
  public let offset: Int
  public let count: Int
  /// Nothing reserved, and no line in the plan (a consumer that is switched off).
  public static var none: Reservation<T> { Reservation(offset: 0, count: 0) }
}

public struct ByteReservation {
  public let offset: Int
  public let count: Int
  public let bytesEach: Int
  /// Nothing reserved, and no line in the plan (a consumer that is switched off).
  public static func none(bytesEach: Int) -> ByteReservation {
    ByteReservation(offset: 0, count: 0, bytesEach: bytesEach)
  }
}

/// The one block of memory behind a plan. Allocated at startup and never freed: the broker
/// lives as long as the process.
public final class Arena {
  public static let alignment = 64
  public let base: UnsafeMutableRawPointer
  public let byteCount: Int

  public init(_ plan: MemoryPlan) {
    precondition(plan.totalBytes <= Int64(Int.max), "plan larger than the address space")
    byteCount = max(Int(plan.totalBytes), Arena.alignment)
    base = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: Arena.alignment)
  }

  /// Typed view of a reservation. The memory is uninitialised: the owner initialises it.
  public func bind<T>(_ r: Reservation<T>) -> UnsafeMutableBufferPointer<T> {
    precondition(r.offset + r.count * MemoryLayout<T>.stride <= byteCount, "reservation outside arena")
    let p = (base + r.offset).bindMemory(to: T.self, capacity: r.count)
    return UnsafeMutableBufferPointer(start: p, count: r.count)
  }

  public func bind(_ r: ByteReservation) -> UnsafeMutableRawPointer {
    precondition(r.offset + r.count * r.bytesEach <= byteCount, "reservation outside arena")
    return base + r.offset
  }
}
