/* LD_PRELOAD shim: counts malloc, calloc, realloc, posix_memalign, aligned_alloc and strdup's
 * underlying malloc calls of any dynamically linked program (used for Mosquitto). The count
 * lives in a file named by ALLOC_COUNT_FILE (8 bytes, a little-endian uint64, mmap'ed shared)
 * so that the benchmark driver reads it at any moment; it never calls the counted functions
 * itself. Single-threaded programs only (plain increment).
 * Build: gcc -O2 -shared -fPIC -o alloccount.so alloccount.c */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static uint64_t fallback;
static volatile uint64_t *counter = &fallback;

__attribute__((constructor)) static void alloccount_init(void) {
  const char *path = getenv("ALLOC_COUNT_FILE");
  if (!path) return;
  int fd = open(path, O_RDWR | O_CREAT, 0644);
  if (fd < 0) return;
  if (ftruncate(fd, 8) == 0) {
    void *p = mmap(NULL, 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED) {
      *(uint64_t *)p = fallback;
      counter = p;
    }
  }
  close(fd);
}

void *malloc(size_t n) {
  (*counter)++;
  return __libc_malloc(n);
}

void *calloc(size_t c, size_t n) {
  (*counter)++;
  return __libc_calloc(c, n);
}

void *realloc(void *p, size_t n) {
  (*counter)++;
  return __libc_realloc(p, n);
}

int posix_memalign(void **out, size_t align, size_t n) {
  (*counter)++;
  void *p = __libc_memalign(align, n);
  if (!p) return 12; /* ENOMEM */
  *out = p;
  return 0;
}

void *aligned_alloc(size_t align, size_t n) {
  (*counter)++;
  return __libc_memalign(align, n);
}

void *memalign(size_t align, size_t n) {
  (*counter)++;
  return __libc_memalign(align, n);
}
