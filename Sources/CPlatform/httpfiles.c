// http_dir (WebSocket listeners): opening files below one directory, and sending them. No
// allocation after startup: the containment check reads /proc/self/fd/N (readlink) into a
// stack buffer instead of calling realpath(3), which may allocate.
#define _GNU_SOURCE
#include "CPlatform.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

int cp_http_dir_open(const char *path, char *real, size_t cap) {
    char *r = realpath(path, NULL);  // startup only: allocates
    if (r == NULL) return -errno;
    size_t n = strlen(r);
    if (n + 1 > cap) {
        free(r);
        return -ENAMETOOLONG;
    }
    memcpy(real, r, n + 1);
    free(r);
    int fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
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
    char link[32];
    char where[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, where, sizeof where - 1);
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
