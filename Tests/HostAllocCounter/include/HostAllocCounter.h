// Host-only allocation counter for tests. Linked into the test executable, this file's
// malloc family takes precedence over libc's (executable symbol interposition), so every
// allocation in the process -- Swift runtime included -- is counted, per thread (Swift
// Testing runs tests in parallel). Never linked into the product.
#ifndef MIDGE_HOST_ALLOC_COUNTER_H
#define MIDGE_HOST_ALLOC_COUNTER_H
#include <stdint.h>

/// Allocations (malloc, calloc, realloc, memalign, aligned_alloc, posix_memalign) made by
/// the calling thread since it started.
uint64_t host_alloc_count_this_thread(void);

#endif
