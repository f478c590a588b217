// http_dir (WebSocket listeners): opening files below one directory, and sending them. No
// allocation: resolved paths are read from /proc/self/fd/N (readlink) into caller or stack
// buffers instead of calling realpath(3), which may allocate.
#define _GNU_SOURCE
#include "CPlatform.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

// "/proc/self/fd/N" for fd into buf (no snprintf: printf would pull ~20 KB of musl in).
static void fd_link(int fd, char buf[32]) {
    static const char prefix[] = "/proc/self/fd/";
    memcpy(buf, prefix, sizeof prefix - 1);
    char digits[12];
    int n = 0;
    unsigned v = (unsigned)fd;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    size_t at = sizeof prefix - 1;
    while (n > 0) buf[at++] = digits[--n];
    buf[at] = 0;
}

// The resolved path of an open fd (symbolic links followed), NUL-terminated; its length or -errno.
static long fd_path(int fd, char *where, size_t cap) {
    char link[32];
    fd_link(fd, link);
    ssize_t n = readlink(link, where, cap - 1);
    if (n < 0) return -errno;
    if ((size_t)n >= cap - 1) return -ENAMETOOLONG;
    where[n] = 0;
    return (long)n;
}

int cp_http_dir_open(const char *path, char *real, size_t cap) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    long n = fd_path(fd, real, cap);
    if (n < 0) {
        close(fd);
        return (int)n;
    }
    return fd;
}

int cp_http_file_open(int dir, const char *root, const char *relative, int64_t *size) {
    int fd = openat(dir, relative, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -ENOENT;
    }
    // Where the file really is (symbolic links resolved): it must lie below the root.
    char where[PATH_MAX];
    long n = fd_path(fd, where, sizeof where);
    size_t rootLength = strlen(root);
    if (n <= 0 || (size_t)n <= rootLength || memcmp(where, root, rootLength) != 0 ||
        (where[rootLength] != '/' && !(rootLength == 1 && root[0] == '/'))) {
        close(fd);
        return -EACCES;
    }
    *size = (int64_t)st.st_size;
    return fd;
}

long cp_sendfile(int out, int in, int64_t *offset, size_t count) {
    for (;;) {
        off_t o = (off_t)*offset;
        ssize_t n = sendfile(out, in, &o, count);
        if (n >= 0) {
            *offset = (int64_t)o;
            return (long)n;
        }
        if (errno != EINTR) return -errno;
    }
}

long cp_pread(int fd, void *buf, size_t count, int64_t offset) {
    for (;;) {
        ssize_t n = pread(fd, buf, count, (off_t)offset);
        if (n >= 0) return (long)n;
        if (errno != EINTR) return -errno;
    }
}
