// The product's malloc on musl boards: a small startup heap that replaces musl's mallocng
// (~8 KB of code in a binary that stops allocating once startup ends). Host builds (glibc)
// keep their libc's malloc.
//
// Every block carries a 16-byte header just before the pointer handed out: the size class
// (or, for a block mapped on its own, its mapped length) and the distance back to the start
// of the block (non-zero only for over-aligned requests). Blocks of up to 64 KiB come in
// power-of-two classes cut from 256 KiB mmap chunks, and a freed block goes onto its class's
// free list for the next request of that class. Larger blocks (the memory arena, the TLS heap)
// are mapped on their own and unmapped when freed. Single-threaded, like the broker. The
// allocation counting and MIDGE_ALLOC_TRAP stay in allochook.c: --wrap sends every call
// there first.
#if defined(__linux__) && !defined(__GLIBC__)
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

enum {
  HEADER = 16,                    // keeps every pointer 16-byte aligned (max_align_t)
  MIN_SHIFT = 5,                  // smallest block: 32 bytes, header included
  CLASSES = 12,                   // 32 B .. 64 KiB
  CHUNK = 256 << 10,              // what the small classes are cut from
};

struct header {
  size_t size;    // a class index (< CLASSES) or the length of the block's own mapping
  size_t offset;  // from the block's start to the pointer handed out
};

static void *free_lists[CLASSES];
static char *chunk_next;
static char *chunk_end;

static struct header *header_of(void *p) { return (struct header *)((char *)p - HEADER); }

static void *map(size_t n) {
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

// A block of at least `need` bytes; `*size` receives what free() needs to give it back.
static char *block(size_t need, size_t *size) {
  unsigned k = 0;
  while (k < CLASSES && ((size_t)1 << (MIN_SHIFT + k)) < need) k++;
  if (k == CLASSES) {
    size_t length = (need + 4095) & ~(size_t)4095;
    if (length < need) return NULL;
    *size = length;
    return map(length);
  }
  *size = k;
  void **head = free_lists[k];
  if (head) {
    free_lists[k] = *head;
    return (char *)head;
  }
  size_t bytes = (size_t)1 << (MIN_SHIFT + k);
  if ((size_t)(chunk_end - chunk_next) < bytes) {
    char *c = map(CHUNK);
    if (!c) return NULL;
    chunk_next = c;
    chunk_end = c + CHUNK;
  }
  char *b = chunk_next;
  chunk_next += bytes;
  return b;
}

// `alignment`: a power of two, at least HEADER.
static void *allocate(size_t n, size_t alignment) {
  size_t need = n + alignment;
  if (need < n) return NULL;
  size_t size;
  char *base = block(need, &size);
  if (!base) {
    errno = ENOMEM;
    return NULL;
  }
  char *p = (char *)(((uintptr_t)base + HEADER + alignment - 1) & ~(uintptr_t)(alignment - 1));
  struct header *h = header_of(p);
  h->size = size;
  h->offset = (size_t)(p - base);
  return p;
}

static size_t usable(void *p) {
  struct header *h = header_of(p);
  size_t bytes = h->size < CLASSES ? (size_t)1 << (MIN_SHIFT + h->size) : h->size;
  return bytes - h->offset;
}

void free(void *p) {
  if (!p) return;
  struct header *h = header_of(p);
  char *base = (char *)p - h->offset;
  if (h->size < CLASSES) {
    *(void **)base = free_lists[h->size];
    free_lists[h->size] = base;
  } else {
    munmap(base, h->size);
  }
}

void *malloc(size_t n) { return allocate(n, HEADER); }

void *calloc(size_t count, size_t n) {
  if (n && count > SIZE_MAX / n) {
    errno = ENOMEM;
    return NULL;
  }
  void *p = allocate(count * n, HEADER);
  if (p) memset(p, 0, count * n);
  return p;
}

void *realloc(void *p, size_t n) {
  if (!p) return allocate(n, HEADER);
  size_t old = usable(p);
  if (n <= old) return p;
  void *q = allocate(n, HEADER);
  if (q) {
    memcpy(q, p, old);
    free(p);
  }
  return q;
}

static int bad_alignment(size_t a) { return a == 0 || (a & (a - 1)) != 0; }

void *aligned_alloc(size_t alignment, size_t n) {
  if (bad_alignment(alignment)) {
    errno = EINVAL;
    return NULL;
  }
  return allocate(n, alignment < HEADER ? HEADER : alignment);
}

void *memalign(size_t alignment, size_t n) { return aligned_alloc(alignment, n); }

int posix_memalign(void **out, size_t alignment, size_t n) {
  if (bad_alignment(alignment) || alignment % sizeof(void *) != 0) return EINVAL;
  void *p = allocate(n, alignment < HEADER ? HEADER : alignment);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

size_t malloc_usable_size(void *p) { return p ? usable(p) : 0; }
#endif
