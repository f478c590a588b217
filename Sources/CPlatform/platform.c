// Syscall wrappers for the platform layer. See include/CPlatform.h for the contract.
#define _GNU_SOURCE
#include "CPlatform.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

_Static_assert(EAGAIN == CP_EAGAIN && EADDRINUSE == CP_EADDRINUSE && EACCES == CP_EACCES,
               "errno values differ on this target");
_Static_assert(EADDRNOTAVAIL == CP_EADDRNOTAVAIL && EMFILE == CP_EMFILE && ENFILE == CP_ENFILE,
               "errno values differ on this target");
_Static_assert(ENOENT == CP_ENOENT && EFBIG == CP_EFBIG && EINVAL == CP_EINVAL,
               "errno values differ on this target");
_Static_assert(ECONNRESET == CP_ECONNRESET && EPIPE == CP_EPIPE && ENOBUFS == CP_ENOBUFS,
               "errno values differ on this target");
_Static_assert(EPOLLIN == CP_EV_IN && EPOLLOUT == CP_EV_OUT && EPOLLERR == CP_EV_ERR,
               "epoll values differ on this target");
_Static_assert(EPOLLHUP == CP_EV_HUP && EPOLLRDHUP == CP_EV_RDHUP && ENOMEM == CP_ENOMEM,
               "epoll values differ on this target");

static volatile sig_atomic_t stop_flag;

static volatile sig_atomic_t hangup_flag;

static void on_stop(int sig) { (void)sig; stop_flag = 1; }
static void on_hangup(int sig) { (void)sig; hangup_flag = 1; }

void cp_process_setup(void) {
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, NULL, _IONBF, 0);
}

void cp_install_stop_handlers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = on_hangup;
  sigaction(SIGHUP, &sa, NULL);
}

int cp_take_hangup(void) {
  if (!hangup_flag) return 0;
  hangup_flag = 0;
  return 1;
}

int cp_stop_requested(void) { return stop_flag != 0; }

void cp_write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    len -= (size_t)n;
  }
}

uint64_t cp_monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t cp_unix_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec;
}

long cp_raise_nofile(long wanted) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return -errno;
  if ((long)rl.rlim_cur < wanted) {
    rlim_t target = (rlim_t)wanted;
    if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max) target = rl.rlim_max;
    rl.rlim_cur = target;
    // prlimit on this process: musl's setrlimit synchronises every thread (__synccall, ~2.5 KB);
    // midge has one thread.
    prlimit(0, RLIMIT_NOFILE, &rl, NULL);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return (long)rl.rlim_cur;
}

int cp_map_zeroed(size_t len, void **out) {
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -errno;
  *out = p;
  return 0;
}

int cp_lock_memory(void *addr, size_t len) { return mlock(addr, len) == 0 ? 0 : -errno; }

long long cp_memlock_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY) return -1;
  return (long long)rl.rlim_cur;
}

long cp_read_file(const char *path, void *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  size_t have = 0;
  for (;;) {
    if (have == cap) {
      char probe;
      ssize_t extra = read(fd, &probe, 1);
      close(fd);
      return extra == 0 ? (long)have : -EFBIG;
    }
    ssize_t n = read(fd, (char *)buf + have, cap - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) { int e = errno; close(fd); return -e; }
    if (n == 0) break;
    have += (size_t)n;
  }
  close(fd);
  return (long)have;
}

int cp_listen_tcp(const char *address, uint16_t port, int backlog) {
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  int family = AF_INET;
  if (address == NULL || address[0] == 0) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_ANY);
    len = sizeof *a;
  } else if (strchr(address, ':') != NULL) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    family = AF_INET6;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    if (inet_pton(AF_INET6, address, &a->sin6_addr) != 1) return -EINVAL;
    len = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (inet_pton(AF_INET, address, &a->sin_addr) != 1) return -EINVAL;
    len = sizeof *a;
  }
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, backlog) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

int cp_accept(int listen_fd, int send_buffer, int receive_buffer) {
  for (;;) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0 && errno == EINTR) continue;
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (send_buffer > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer);
    if (receive_buffer > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    return fd;
  }
}

int cp_close(int fd) { return close(fd) < 0 ? -errno : 0; }

int cp_shutdown_write(int fd) { return shutdown(fd, SHUT_WR) < 0 ? -errno : 0; }

long cp_read(int fd, void *buf, size_t len) {
  for (;;) {
    ssize_t n = read(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    return n < 0 ? -errno : (long)n;
  }
}

_Static_assert(sizeof(struct iovec) == 2 * sizeof(void *), "iovec layout");

long cp_writev(int fd, const void *iov, int count) {
  for (;;) {
    ssize_t n = writev(fd, (const struct iovec *)iov, count);
    if (n < 0 && errno == EINTR) continue;
    return n < 0 ? -errno : (long)n;
  }
}

int cp_epoll_create(void) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  return ep < 0 ? -errno : ep;
}

static int epoll_change(int ep, int op, int fd, uint32_t events, uint64_t token) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = events;
  ev.data.u64 = token;
  return epoll_ctl(ep, op, fd, &ev) < 0 ? -errno : 0;
}

int cp_epoll_add(int ep, int fd, uint32_t events, uint64_t token) {
  return epoll_change(ep, EPOLL_CTL_ADD, fd, events, token);
}

int cp_epoll_modify(int ep, int fd, uint32_t events, uint64_t token) {
  return epoll_change(ep, EPOLL_CTL_MOD, fd, events, token);
}

int cp_epoll_delete(int ep, int fd) {
  return epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
}

enum { CP_EPOLL_BATCH = 256 };

int cp_epoll_wait(int ep, uint32_t *events, uint64_t *tokens, int capacity, int timeout_ms) {
  struct epoll_event batch[CP_EPOLL_BATCH];
  if (capacity > CP_EPOLL_BATCH) capacity = CP_EPOLL_BATCH;
  for (;;) {
    int n = epoll_wait(ep, batch, capacity, timeout_ms);
    if (n < 0 && errno == EINTR) return 0;  // a signal: the caller checks its stop flag
    if (n < 0) return -errno;
    for (int i = 0; i < n; i++) {
      events[i] = batch[i].events;
      tokens[i] = batch[i].data.u64;
    }
    return n;
  }
}

const char *cp_error_name(int err) {
  switch (err) {
    case EADDRINUSE: return "address already in use";
    case EADDRNOTAVAIL: return "address not available on this machine";
    case EACCES: return "permission denied";
    case EMFILE: return "too many open files (process limit)";
    case ENFILE: return "too many open files (system limit)";
    case ENOENT: return "no such file or directory";
    case EFBIG: return "file too large";
    case EINVAL: return "invalid argument";
    case ECONNRESET: return "connection reset by peer";
    case EPIPE: return "broken pipe";
    case ENOBUFS: return "no buffer space available";
    case ENOMEM: return "out of memory";
    case EAGAIN: return "resource temporarily unavailable";
    default: return "system error";
  }
}

#ifndef __GLIBC__
// musl 1.2.3 has no arc4random_buf; the Swift stdlib's hashing seed needs it.
#include <sys/random.h>
void arc4random_buf(void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t n = getrandom(p, len, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) { memset(p, 0, len); return; }
    p += n;
    len -= (size_t)n;
  }
}
#endif

// --- service manager readiness (sd_notify protocol, without libsystemd) ---

int cp_notify(const char *state) {
  const char *path = getenv("NOTIFY_SOCKET");
  if (path == NULL || path[0] == 0) return 0;
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  size_t n = strlen(path);
  if ((path[0] != '/' && path[0] != '@') || n >= sizeof sa.sun_path) return -EINVAL;
  memcpy(sa.sun_path, path, n);
  if (path[0] == '@') sa.sun_path[0] = 0;  // abstract namespace
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  ssize_t rc = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
                      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
  int err = rc < 0 ? errno : 0;
  close(fd);
  return err ? -err : 1;
}

// --- directory listing (include_dir; startup only) ---

// Insertion sort by bytes (directory listings, startup only): smaller than libc's qsort.
static void sort_names(char **names, size_t count) {
  for (size_t i = 1; i < count; i++) {
    char *name = names[i];
    size_t j = i;
    for (; j > 0 && strcmp(names[j - 1], name) > 0; j--) names[j] = names[j - 1];
    names[j] = name;
  }
}

static int has_suffix(const char *name, size_t n, const char *suffix) {
  size_t k = suffix ? strlen(suffix) : 0;
  return k > 0 && n > k && strcmp(name + n - k, suffix) == 0;
}

long cp_list_files(const char *path, const char *suffix1, const char *suffix2, size_t max_files,
                   char *buf, size_t cap) {
  DIR *d = opendir(path);
  if (d == NULL) return -errno;
  char **names = malloc((max_files ? max_files : 1) * sizeof *names);
  if (names == NULL) {
    closedir(d);
    return -ENOMEM;
  }
  size_t count = 0;
  long rc = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    if (e->d_name[0] == '.' || !(has_suffix(e->d_name, n, suffix1) || has_suffix(e->d_name, n, suffix2))) continue;
    if (count == max_files || (names[count] = strdup(e->d_name)) == NULL) { rc = -EFBIG; break; }
    count++;
  }
  closedir(d);
  sort_names(names, count);  // byte order, as Mosquitto
  size_t used = 0;
  for (size_t i = 0; i < count; i++) {
    size_t n = strlen(names[i]) + 1;
    if (rc == 0 && used + n > cap) rc = -EFBIG;
    if (rc == 0) memcpy(buf + used, names[i], n);
    used += n;
    free(names[i]);
  }
  free(names);
  return rc < 0 ? rc : (long)used;
}

// --- midge passwd ---------------------------------------------------------------------

int cp_random(void *buf, size_t n) {
  size_t have = 0;
  while (have < n) {
    ssize_t r = getrandom((char *)buf + have, n - have, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -errno;
    have += (size_t)r;
  }
  return 0;
}

int cp_stdin_is_tty(void) { return isatty(0); }

long cp_read_secret_line(const char *prompt, void *buf, size_t cap) {
  struct termios saved, quiet;
  int tty = isatty(0) && tcgetattr(0, &saved) == 0;
  if (tty) {
    // Echo off before the prompt, and TCSANOW (not TCSAFLUSH): what is typed after the prompt
    // appears must not be discarded.
    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL;
    tcsetattr(0, TCSANOW, &quiet);
    cp_write_all(2, prompt, strlen(prompt));
  }
  size_t have = 0;
  long rc = 0;
  int any = 0;
  for (;;) {
    char c;
    ssize_t n = read(0, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) { rc = -errno; break; }
    if (n == 0) { if (!any) rc = CP_END_OF_INPUT; break; }
    any = 1;
    if (c == '\n') break;
    if (have == cap) { rc = -EFBIG; continue; }  // read on to the end of the line
    ((char *)buf)[have++] = c;
  }
  if (tty) tcsetattr(0, TCSANOW, &saved);
  if (rc < 0) return rc;
  if (have > 0 && ((char *)buf)[have - 1] == '\r') have--;
  return (long)have;
}

int cp_replace_file(const char *path, const void *buf, size_t len) {
  char tmp[4096];
  size_t n = strlen(path);
  if (n + 5 > sizeof tmp) return -ENAMETOOLONG;
  memcpy(tmp, path, n);
  memcpy(tmp + n, ".tmp", 5);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -errno;
  size_t done = 0;
  while (done < len) {
    ssize_t w = write(fd, (const char *)buf + done, len - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) { int e = errno; close(fd); unlink(tmp); return -e; }
    done += (size_t)w;
  }
  if (fsync(fd) != 0 || close(fd) != 0) { int e = errno; unlink(tmp); return -e; }
  if (rename(tmp, path) != 0) { int e = errno; unlink(tmp); return -e; }
  return 0;
}
