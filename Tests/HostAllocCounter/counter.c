// See include/HostAllocCounter.h. Forwards to glibc's internal entry points.
#include "HostAllocCounter.h"

#include <errno.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static __thread uint64_t allocations __attribute__((tls_model("initial-exec")));

uint64_t host_alloc_count_this_thread(void) { return allocations; }

void *malloc(size_t n) {
  allocations++;
  return __libc_malloc(n);
}

void *calloc(size_t count, size_t n) {
  allocations++;
  return __libc_calloc(count, n);
}

void *realloc(void *p, size_t n) {
  allocations++;
  return __libc_realloc(p, n);
}

void free(void *p) { __libc_free(p); }

void *memalign(size_t alignment, size_t n) {
  allocations++;
  return __libc_memalign(alignment, n);
}

void *aligned_alloc(size_t alignment, size_t n) {
  allocations++;
  return __libc_memalign(alignment, n);
}

int posix_memalign(void **out, size_t alignment, size_t n) {
  allocations++;
  void *p = __libc_memalign(alignment, n);
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}
