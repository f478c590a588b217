// The log sink: where finished log lines go. Configured once at startup (files opened, the
// syslog socket created), then used without allocation: every line is assembled in a fixed
// stack buffer and written with one write(2) per destination, or sent as one datagram to
// syslog. See include/CPlatform.h for the contract.
#define _GNU_SOURCE
#include "CPlatform.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static unsigned log_destinations = CP_LOG_STDERR;
static unsigned log_types = 0x0F;  // error, warning, notice, information
static int log_timestamp = 1;
static char log_time_format[64];  // "" = seconds since 1970 (Mosquitto's default)
static int log_file_fd = -1;
static int syslog_fd = -1;
static struct sockaddr_un syslog_address;
static socklen_t syslog_address_len;
static uint64_t log_write_errors;

// Connects the syslog datagram socket (again, after the daemon restarted). Allocates nothing.
static void syslog_connect(void) {
  if (syslog_fd < 0) syslog_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (syslog_fd >= 0 && connect(syslog_fd, (struct sockaddr *)&syslog_address, syslog_address_len) < 0) {
    close(syslog_fd);
    syslog_fd = -1;
  }
}

int cp_log_configure(unsigned destinations, unsigned types, int timestamp, const char *time_format,
                     const char *file_path) {
  if ((destinations & CP_LOG_FILE) && file_path != NULL) {
    int fd = open(file_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return -errno;
    if (log_file_fd >= 0) close(log_file_fd);
    log_file_fd = fd;
  }
  log_time_format[0] = 0;
  if (time_format != NULL) {
    size_t n = strlen(time_format);
    if (n >= sizeof log_time_format) return -EINVAL;
    memcpy(log_time_format, time_format, n + 1);
  }
  if (destinations & CP_LOG_SYSLOG) {
    const char *path = getenv("MIDGE_SYSLOG_SOCKET");  // tests only; see README "Logging"
    if (path == NULL || path[0] == 0) path = "/dev/log";
    size_t n = strlen(path);
    if (n >= sizeof syslog_address.sun_path) return -EINVAL;
    memset(&syslog_address, 0, sizeof syslog_address);
    syslog_address.sun_family = AF_UNIX;
    memcpy(syslog_address.sun_path, path, n);
    syslog_address_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    syslog_connect();  // not reachable now: retried with each line (counted as write errors)
  }
  log_destinations = destinations;
  log_types = types;
  log_timestamp = timestamp;
  return 0;
}

int cp_log_wants(unsigned level) { return (log_types & level) != 0 && log_destinations != 0; }

uint64_t cp_log_write_errors(void) { return log_write_errors; }

static size_t put_decimal(char *p, int64_t v) {
  char digits[24];
  size_t n = 0;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do { digits[n++] = (char)('0' + u % 10); u /= 10; } while (u > 0);
  size_t k = 0;
  if (v < 0) p[k++] = '-';
  while (n > 0) p[k++] = digits[--n];
  return k;
}

static size_t put(char *p, const char *s) {
  size_t n = strlen(s);
  memcpy(p, s, n);
  return n;
}

static size_t put_padded(char *p, int64_t v, int width) {
  char digits[24];
  size_t n = put_decimal(digits, v);
  size_t k = 0;
  while ((int)(n + k) < width) p[k++] = '0';
  memcpy(p + k, digits, n);
  return k + n;
}

// log_timestamp_format: the UTC time `t` by a small strftime subset (%Y %m %d %H %M %S %F %T %s
// %z %%; MidgeConfig refuses anything else). No libc time code: no time zone files, no printf.
// Days to a civil date: the proleptic Gregorian calendar in 400-year eras.
static size_t format_time(char *out, size_t cap, const char *fmt, int64_t t) {
  int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
  int64_t secs = t - days * 86400;
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;                                    // [0, 146096]
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);             // [0, 365]
  int64_t mp = (5 * doy + 2) / 153;                                  // [0, 11], March first
  int64_t day = doy - (153 * mp + 2) / 5 + 1;
  int64_t month = mp < 10 ? mp + 3 : mp - 9;
  int64_t year = yoe + era * 400 + (month <= 2);
  size_t k = 0;
  for (const char *f = fmt; *f != 0 && k + 24 < cap; f++) {
    if (*f != '%' || f[1] == 0) { out[k++] = *f; continue; }
    switch (*++f) {
      case 'Y': k += put_padded(out + k, year, 4); break;
      case 'm': k += put_padded(out + k, month, 2); break;
      case 'd': k += put_padded(out + k, day, 2); break;
      case 'H': k += put_padded(out + k, secs / 3600, 2); break;
      case 'M': k += put_padded(out + k, secs / 60 % 60, 2); break;
      case 'S': k += put_padded(out + k, secs % 60, 2); break;
      case 'F':
        k += put_padded(out + k, year, 4); out[k++] = '-';
        k += put_padded(out + k, month, 2); out[k++] = '-';
        k += put_padded(out + k, day, 2);
        break;
      case 'T':
        k += put_padded(out + k, secs / 3600, 2); out[k++] = ':';
        k += put_padded(out + k, secs / 60 % 60, 2); out[k++] = ':';
        k += put_padded(out + k, secs % 60, 2);
        break;
      case 's': k += put_decimal(out + k, t); break;
      case 'z': memcpy(out + k, "+0000", 5); k += 5; break;
      default: out[k++] = *f; break;  // '%%', and what the config parser already refused
    }
  }
  return k;
}

static const char *level_name(unsigned level) {
  switch (level) {
    case CP_LOG_ERROR: return "error";
    case CP_LOG_WARNING: return "warning";
    case CP_LOG_NOTICE: return "notice";
    case CP_LOG_INFORMATION: return "info";
    case CP_LOG_SUBSCRIBE: return "subscribe";
    case CP_LOG_UNSUBSCRIBE: return "unsubscribe";
    default: return "debug";
  }
}

// syslog severities (RFC 3164 / 5424): 3 error, 4 warning, 5 notice, 6 informational, 7 debug.
static int severity(unsigned level) {
  switch (level) {
    case CP_LOG_ERROR: return 3;
    case CP_LOG_WARNING: return 4;
    case CP_LOG_NOTICE: case CP_LOG_SUBSCRIBE: case CP_LOG_UNSUBSCRIBE: return 5;
    case CP_LOG_INFORMATION: return 6;
    default: return 7;
  }
}

static int write_all(int fd, const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

void cp_log_emit(unsigned level, const void *line, size_t len) {
  if (!cp_log_wants(level)) return;
  char buf[CP_LOG_LINE_MAX + 128];
  if (len > CP_LOG_LINE_MAX) len = CP_LOG_LINE_MAX;
  if (log_destinations & (CP_LOG_STDERR | CP_LOG_STDOUT | CP_LOG_FILE)) {
    // "<time>: <level>: <message>\n"
    size_t k = 0;
    if (log_timestamp) {
      int64_t now = (int64_t)time(NULL);
      k = log_time_format[0] != 0 ? format_time(buf, 96, log_time_format, now) : put_decimal(buf, now);
      k += put(buf + k, ": ");
    }
    k += put(buf + k, level_name(level));
    k += put(buf + k, ": ");
    memcpy(buf + k, line, len);
    k += len;
    buf[k++] = '\n';
    if ((log_destinations & CP_LOG_STDERR) && write_all(2, buf, k) < 0) log_write_errors++;
    if ((log_destinations & CP_LOG_STDOUT) && write_all(1, buf, k) < 0) log_write_errors++;
    if ((log_destinations & CP_LOG_FILE) && (log_file_fd < 0 || write_all(log_file_fd, buf, k) < 0)) {
      log_write_errors++;
    }
  }
  if (log_destinations & CP_LOG_SYSLOG) {
    // RFC 3164 as local syslog daemons take it: "<PRI>midge[PID]: message", facility daemon (3);
    // the daemon adds the time and host.
    size_t k = 0;
    buf[k++] = '<';
    k += put_decimal(buf + k, 3 * 8 + severity(level));
    k += put(buf + k, ">midge[");
    k += put_decimal(buf + k, (int64_t)getpid());
    k += put(buf + k, "]: ");
    memcpy(buf + k, line, len);
    k += len;
    if (syslog_fd < 0) syslog_connect();
    if (syslog_fd < 0 || send(syslog_fd, buf, k, MSG_NOSIGNAL) < 0) {
      if (syslog_fd >= 0 && errno != EAGAIN) {
        close(syslog_fd);  // the daemon restarted: a new socket, one retry, else the line is lost
        syslog_fd = -1;
        syslog_connect();
        if (syslog_fd >= 0 && send(syslog_fd, buf, k, MSG_NOSIGNAL) >= 0) return;
      }
      log_write_errors++;
    }
  }
}

static size_t put_ipv4(char *p, const unsigned char *a) {
  size_t k = 0;
  for (int i = 0; i < 4; i++) {
    if (i > 0) p[k++] = '.';
    k += put_decimal(p + k, a[i]);
  }
  return k;
}

// RFC 5952 text: lowercase hex groups, the longest run of two or more zero groups as "::",
// IPv4-mapped addresses as ::ffff:a.b.c.d. (Own code: musl's inet_ntop pulls in printf.)
static size_t put_ipv6(char *p, const unsigned char *a) {
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (memcmp(a, mapped, 12) == 0) return put(p, "::ffff:") + put_ipv4(p + 7, a + 12);
  unsigned g[8];
  for (int i = 0; i < 8; i++) g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
  int best = -1, bestLen = 1;
  for (int i = 0; i < 8;) {
    int j = i;
    while (j < 8 && g[j] == 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j > i ? j : i + 1;
  }
  size_t k = 0;
  for (int i = 0; i < 8; i++) {
    if (i == best) {
      k += put(p + k, "::");
      i += bestLen - 1;
      continue;
    }
    if (i > 0 && !(best >= 0 && i == best + bestLen)) p[k++] = ':';
    static const char hex[] = "0123456789abcdef";
    int started = 0;
    for (int shift = 12; shift >= 0; shift -= 4) {
      unsigned d = (g[i] >> shift) & 0xF;
      if (d != 0 || started || shift == 0) { p[k++] = hex[d]; started = 1; }
    }
  }
  return k;
}

int cp_peer_address(int fd, char *buf, size_t cap) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (cap < 64 || getpeername(fd, (struct sockaddr *)&ss, &len) < 0) return 0;
  size_t k = 0;
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    buf[k++] = '[';
    k += put_ipv6(buf + k, a->sin6_addr.s6_addr);
    buf[k++] = ']';
    buf[k++] = ':';
    k += put_decimal(buf + k, ntohs(a->sin6_port));
  } else if (ss.ss_family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    k += put_ipv4(buf + k, (const unsigned char *)&a->sin_addr.s_addr);
    buf[k++] = ':';
    k += put_decimal(buf + k, ntohs(a->sin_port));
  } else {
    return 0;
  }
  buf[k] = 0;
  return (int)k;
}
