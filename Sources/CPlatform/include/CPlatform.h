// CPlatform: the only C midge's Swift code sees. Thin, typed wrappers over the syscalls the
// platform layer needs, written so that they import the same way on glibc and musl, on the
// host and on the embedded triples (no variadic calls, no packed structs, no macros that
// import differently per libc). Every call returns -errno on failure instead of setting errno.
#ifndef MIDGE_CPLATFORM_H
#define MIDGE_CPLATFORM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

// Board profile compiled into this binary (see boards/*.conf and the Makefile).
const char *midge_board_name(void);
const char *midge_board_defaults(void);

// Process setup: ignore SIGPIPE, make stdout unbuffered (trap messages are not lost).
void cp_process_setup(void);
// Installs handlers for SIGINT and SIGTERM that set a flag read by cp_stop_requested().
void cp_install_stop_handlers(void);
int cp_stop_requested(void);
// 1 once after each SIGHUP (its handler is installed with the stop handlers), else 0.
int cp_take_hangup(void);

// Writes all of buf to fd 1 or 2 (retries on EINTR and short writes; best effort).
void cp_write_all(int fd, const void *buf, size_t len);

// Monotonic clock in milliseconds; wall clock in seconds since 1970 (log lines only).
uint64_t cp_monotonic_ms(void);
int64_t cp_unix_seconds(void);

// Raises the soft limit on open files to at least `wanted` (up to the hard limit).
// Returns the resulting soft limit.
long cp_raise_nofile(long wanted);

// The memory arena: `len` bytes of private anonymous memory (mmap). The kernel guarantees it
// reads as zero and backs a page only when it is first touched. Returns 0 and sets *out, or
// -errno.
int cp_map_zeroed(size_t len, void **out);

// memory_lock: faults in and locks [addr, addr + len) into RAM (mlock). Returns 0 or -errno.
int cp_lock_memory(void *addr, size_t len);

// The soft RLIMIT_MEMLOCK in bytes, or -1 when unlimited.
long long cp_memlock_limit(void);

// Reads at most cap bytes of the file at path into buf. Returns the byte count, or -errno.
// Returns -EFBIG when the file is larger than cap.
long cp_read_file(const char *path, void *buf, size_t cap);

// `midge passwd` (a command-line mode, not the broker):
// Fills buf with n bytes from getrandom(2). Returns 0 or -errno.
int cp_random(void *buf, size_t n);
// Reads one line from stdin into buf, without its "\n" (and "\r"). When stdin is a terminal,
// `prompt` is written to stderr first and echo is off while reading. Returns the length, -errno,
// -EFBIG when the line is longer than cap, or CP_END_OF_INPUT at end of input before any byte.
enum { CP_END_OF_INPUT = -100000 };
long cp_read_secret_line(const char *prompt, void *buf, size_t cap);
// 1 when stdin is a terminal.
int cp_stdin_is_tty(void);
// Replaces the file at path with len bytes of buf: written to "path.tmp" (mode 0600), synced,
// then renamed over path. Returns 0 or -errno.
int cp_replace_file(const char *path, const void *buf, size_t len);

// TCP listener on address (IPv4 or IPv6 literal; NULL or "" means all IPv4 interfaces).
// Non-blocking, SO_REUSEADDR, close-on-exec. Returns the fd or -errno (-EINVAL: bad address).
int cp_listen_tcp(const char *address, uint16_t port, int backlog);
// Accepts one connection: non-blocking, close-on-exec, TCP_NODELAY on, and SO_SNDBUF /
// SO_RCVBUF set to send_buffer / receive_buffer when those are > 0. Returns fd or -errno.
int cp_accept(int listen_fd, int send_buffer, int receive_buffer);
int cp_close(int fd);
// Ends the sending side (shutdown(SHUT_WR)): queued bytes go out, then FIN. 0 or -errno.
int cp_shutdown_write(int fd);

// Reading and writing. Both return the byte count or -errno (never -EINTR: retried).
long cp_read(int fd, void *buf, size_t len);
// iov points to count pairs {base, length} laid out exactly like struct iovec.
long cp_writev(int fd, const void *iov, int count);

// epoll. Events are reported through two parallel arrays (epoll_event is packed on x86_64).
enum { CP_EV_IN = 1, CP_EV_OUT = 4, CP_EV_ERR = 8, CP_EV_HUP = 16, CP_EV_RDHUP = 0x2000 };
int cp_epoll_create(void);
int cp_epoll_add(int ep, int fd, uint32_t events, uint64_t token);
int cp_epoll_modify(int ep, int fd, uint32_t events, uint64_t token);
int cp_epoll_delete(int ep, int fd);
int cp_epoll_wait(int ep, uint32_t *events, uint64_t *tokens, int capacity, int timeout_ms);

// errno values the Swift side compares against.
enum { CP_EAGAIN = 11, CP_EADDRINUSE = 98, CP_EACCES = 13, CP_EADDRNOTAVAIL = 99,
       CP_EMFILE = 24, CP_ENFILE = 23, CP_ENOENT = 2, CP_EFBIG = 27, CP_EINVAL = 22,
       CP_ECONNRESET = 104, CP_EPIPE = 32, CP_ENOBUFS = 105, CP_ENOMEM = 12 };
// strerror for the few errnos above, as a constant string (no locale, no allocation).
const char *cp_error_name(int err);

// Sends `state` ("READY=1", "STOPPING=1", ...) to the service manager's $NOTIFY_SOCKET (a unix
// datagram socket; a leading '@' names the abstract namespace). 0 when NOTIFY_SOCKET is unset,
// 1 when sent, -errno on failure.
int cp_notify(const char *state);
// The names in directory `path` (not starting with ".") that end in suffix1 or suffix2 (either
// may be NULL), sorted by bytes, each NUL-terminated, into buf; returns the bytes used or -errno
// (-EFBIG: more than max_files names or buf too small). Allocates (opendir, strdup): startup only.
long cp_list_files(const char *path, const char *suffix1, const char *suffix2, size_t max_files,
                   char *buf, size_t cap);

// http_dir (httpfiles.c). Startup: opens path as a directory and writes its resolved path
// (from /proc/self/fd) into real (cap bytes); returns the fd or -errno.
int cp_http_dir_open(const char *path, char *real, size_t cap);
// Opens `relative` below the directory fd `dir` whose resolved path is `root`: a regular file
// whose resolved path (symbolic links followed) lies below root. Returns the fd and its size,
// -EACCES when it resolves outside root, -ENOENT when it is not a regular file, or -errno.
int cp_http_file_open(int dir, const char *root, const char *relative, int64_t *size);
// sendfile(2) from in at *offset (advanced) to out: bytes sent or -errno (-EAGAIN).
long cp_sendfile(int out, int in, int64_t *offset, size_t count);
// pread(2): bytes read or -errno.
long cp_pread(int fd, void *buf, size_t count, int64_t offset);

// Logging (log.c). Destinations and levels are bits; the level bits are BrokerCore's LogLevel.
enum { CP_LOG_STDERR = 1, CP_LOG_STDOUT = 2, CP_LOG_SYSLOG = 4, CP_LOG_FILE = 8 };
enum { CP_LOG_ERROR = 1, CP_LOG_WARNING = 2, CP_LOG_NOTICE = 4, CP_LOG_INFORMATION = 8,
       CP_LOG_SUBSCRIBE = 16, CP_LOG_UNSUBSCRIBE = 32, CP_LOG_DEBUG = 64 };
// Longest message text kept (longer ones are cut).
enum { CP_LOG_LINE_MAX = 480 };
// Startup: opens file_path (O_APPEND) when destinations has CP_LOG_FILE, creates the syslog
// socket ($MIDGE_SYSLOG_SOCKET, for tests, else /dev/log; an unreachable daemon is retried per
// line). time_format: the time prefix's format, a strftime subset in UTC (%Y %m %d %H %M %S %F %T
// %s %z %%; NULL: seconds since 1970). Returns 0
// or -errno (the file cannot be opened; -EINVAL: format or socket path too long).
int cp_log_configure(unsigned destinations, unsigned types, int timestamp, const char *time_format,
                     const char *file_path);
// Whether lines of this level are logged anywhere.
int cp_log_wants(unsigned level);
// Writes one message (no newline) at `level` to every destination: "<time>: <level>: message"
// to stderr, stdout and the file, "<PRI>midge[PID]: message" to syslog. Never allocates; a
// failed write is counted (cp_log_write_errors), never fatal.
void cp_log_emit(unsigned level, const void *line, size_t len);
uint64_t cp_log_write_errors(void);
// The peer of a connected socket as "ADDRESS:PORT" ("[ADDRESS]:PORT" for IPv6), NUL-terminated,
// into buf (cap >= 64). Returns the length, or 0 when unknown. No allocation.
int cp_peer_address(int fd, char *buf, size_t cap);

// pid_file (pidfile.c): writes the process id and a newline to path, replacing it; 0 or -errno.
int cp_pid_file_write(const char *path);
// unlink(2); 0 or -errno.
int cp_remove_file(const char *path);

#endif
