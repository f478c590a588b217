// The memory plan: every consumer of memory is a named line (count x bytes each), laid out
// back to back in one block that is allocated once at startup. The same plan is printed by
// `midge --plan` and carved by the broker, so what is printed is what is reserved.
//
// Usage: build a plan with `reserve` calls (no memory is touched), check `totalBytes`
// against the budget, then the platform maps the block (`Arena(plan, zeroed:)`) and
// `arena.bind(reservation)` hands out typed buffers that read as zero. Nothing grows afterwards.

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
///
/// The block reads as zero before anyone writes to it, and the pools rely on that: they
/// initialise an element when they first hand it out, and arrays whose empty state is all
/// zero bits are not written at all. So a page of the block is touched (and resident) only
/// once something in it is used: RSS right after start is what the broker uses, not the
/// budget. The product gets such a block from the platform (an anonymous mapping: zero pages,
/// backed on first touch); Bounded imports no C, so it cannot map memory itself.
public final class Arena {
  public static let alignment = 64
  public let base: UnsafeMutableRawPointer
  public let byteCount: Int

  /// Bytes the plan's block takes (what `init(_:zeroed:)` must be given).
  public static func byteCount(_ plan: MemoryPlan) -> Int {
    precondition(plan.totalBytes <= Int64(Int.max), "plan larger than the address space")
    return max(Int(plan.totalBytes), Arena.alignment)
  }

  /// A block the caller guarantees to read as zero (fresh anonymous pages), aligned to
  /// `alignment`, `byteCount(plan)` bytes long. It is never written here.
  public init(_ plan: MemoryPlan, zeroed block: UnsafeMutableRawPointer) {
    precondition(Int(bitPattern: block) % Arena.alignment == 0, "arena block not aligned")
    byteCount = Arena.byteCount(plan)
    base = block
  }

  /// Allocates the block and zeroes it (tests and tools: every page becomes resident at
  /// once; the product maps its block instead, see `init(_:zeroed:)`).
  public init(_ plan: MemoryPlan) {
    byteCount = Arena.byteCount(plan)
    base = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: Arena.alignment)
    base.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
  }

  /// Typed view of a reservation. The memory reads as zero until its owner writes it.
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
