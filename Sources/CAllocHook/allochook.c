// See include/CAllocHook.h. Single-threaded like the broker: plain counters suffice.
#include "CAllocHook.h"

#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

extern void *__real_malloc(size_t) __attribute__((weak));
extern void *__real_calloc(size_t, size_t) __attribute__((weak));
extern void *__real_realloc(void *, size_t) __attribute__((weak));
extern void __real_free(void *) __attribute__((weak));
extern int __real_posix_memalign(void **, size_t, size_t) __attribute__((weak));
extern void *__real_aligned_alloc(size_t, size_t) __attribute__((weak));
extern void *__real_memalign(size_t, size_t) __attribute__((weak));

static uint64_t startup_allocations;
static uint64_t sealed_allocations;
static int sealed;
static int trap_when_sealed;

static void note_allocation(void) {
  if (!sealed) {
    startup_allocations++;
    return;
  }
  sealed_allocations++;
  if (trap_when_sealed) {
    static const char msg[] = "midge: allocation after startup (MIDGE_ALLOC_TRAP)\n";
    (void)!write(2, msg, sizeof msg - 1);
    __builtin_trap();
  }
}

void *__wrap_malloc(size_t n) {
  note_allocation();
  return __real_malloc(n);
}

void *__wrap_calloc(size_t count, size_t n) {
  note_allocation();
  return __real_calloc(count, n);
}

void *__wrap_realloc(void *p, size_t n) {
  note_allocation();
  return __real_realloc(p, n);
}

void __wrap_free(void *p) { __real_free(p); }

int __wrap_posix_memalign(void **out, size_t alignment, size_t n) {
  note_allocation();
  return __real_posix_memalign(out, alignment, n);
}

void *__wrap_aligned_alloc(size_t alignment, size_t n) {
  note_allocation();
  return __real_aligned_alloc(alignment, n);
}

void *__wrap_memalign(size_t alignment, size_t n) {
  note_allocation();
  return __real_memalign(alignment, n);
}

int allochook_enabled(void) { return __real_malloc != 0; }

void allochook_seal(void) {
  const char *t = getenv("MIDGE_ALLOC_TRAP");
  trap_when_sealed = t != NULL && t[0] == '1';
  sealed = 1;
}

void allochook_unseal(void) {
  sealed = 0;
  trap_when_sealed = 0;
}

uint64_t allochook_startup_allocations(void) { return startup_allocations; }
uint64_t allochook_sealed_allocations(void) { return sealed_allocations; }
