// Checks that the host allocation counter is live in this test process, so that tests which
// assert "0 allocations" cannot pass because counting is off. Method: allocate on purpose and
// require the per-thread counter to move.
import HostAllocCounter
import Testing

@Test("the allocation counter sees allocations on this thread")
func allocationCounterIsLive() {
  let before = host_alloc_count_this_thread()
  let p = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 8)
  let after = host_alloc_count_this_thread()
  p.deallocate()
  #expect(after > before)
}
