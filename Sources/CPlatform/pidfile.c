// pid_file: the process id as decimal text and a newline, written at startup, removed at exit.
#define _GNU_SOURCE
#include "CPlatform.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int cp_pid_file_write(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -errno;
  char digits[24], text[24];
  long pid = (long)getpid();
  size_t n = 0, k = 0;
  do { digits[n++] = (char)('0' + pid % 10); pid /= 10; } while (pid > 0);
  while (n > 0) text[k++] = digits[--n];
  text[k++] = '\n';
  ssize_t written = write(fd, text, k);
  int e = errno;
  close(fd);
  if (written != (ssize_t)k) return written < 0 ? -e : -EIO;
  return 0;
}

int cp_remove_file(const char *path) { return unlink(path) == 0 ? 0 : -errno; }
