// Allocation guard for the product binary. midge links with
// -Xlinker --wrap=malloc,calloc,realloc,free,posix_memalign,aligned_alloc,memalign, so every
// malloc-family call in the static binary (Swift runtime, C shims and libc's own internal
// calls included) goes through this file. Startup allocates freely; `allochook_seal()` marks
// the end of startup, after which every allocation is counted -- and, with MIDGE_ALLOC_TRAP=1
// in the environment, traps on the spot. A correct midge counts 0 after sealing.
#ifndef MIDGE_CALLOCHOOK_H
#define MIDGE_CALLOCHOOK_H
#include <stdint.h>

/// Whether the wrappers are linked in (false in a build without --wrap).
int allochook_enabled(void);
/// Ends startup: from now on allocations are counted as "after startup" (and trap when
/// MIDGE_ALLOC_TRAP=1 is set).
void allochook_seal(void);
/// Stops counting and trapping (shutdown messages may allocate again).
void allochook_unseal(void);
uint64_t allochook_startup_allocations(void);
uint64_t allochook_sealed_allocations(void);

#endif
