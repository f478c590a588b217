/* midge's MQTT load generator: one process, one thread, one epoll loop, many connections.
 *
 * Publishers and subscribers are raw MQTT 3.1.1 or 5.0 clients on 127.0.0.1. Every payload
 * carries its publisher's id, a sequence number, a send timestamp and a checksum of those;
 * the bytes after the 16-byte header are a pattern fixed per publisher. Every subscriber
 * checks every message: loss (expected minus received), duplicates (a sequence number seen
 * again), order (a sequence number past the next expected one), corruption (bad checksum,
 * pattern, length, topic or QoS). Latency is the receive time minus the payload's timestamp
 * (same clock, same process), in a histogram of 1 us buckets up to 1 s.
 *
 * Topologies: p2p (N pairs, publisher i -> subscriber i), fanin (N publishers -> 1
 * subscriber of bench/<run>/+), fanout (1 publisher -> N subscribers). QoS 1/2 publishers
 * keep at most --inflight messages unacknowledged. Every publisher also keeps at most
 * --window deliveries outstanding end to end (sent x recipients - received), so the broker's
 * queues stay bounded and a lost message is a broker fault, not an overflow we caused.
 * --rate paces all publishers together (latency runs); --count bounds messages per
 * publisher; --duration bounds the publishing time. After publishing, the run drains until
 * every message has arrived or nothing arrived for --drain seconds.
 * --storm N opens N connections (--concurrency at a time): CONNECT, CONNACK, DISCONNECT.
 *
 * Output: "phase start" and "phase end" lines around the measured phase (the driver samples
 * the broker's CPU there), then one JSON line. Exit 0 when every check passed, 1 otherwise,
 * 2 on a usage or setup error. Builds with: gcc -O2 -o loadgen loadgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum { ROLE_PUB = 1, ROLE_SUB = 2, ROLE_STORM = 3 };
enum { ST_CONNECTING = 0, ST_WAIT_CONNACK, ST_WAIT_SUBACK, ST_READY, ST_DONE };

typedef struct {
  int fd, role, index, state;
  uint32_t events;
  unsigned char *in;
  size_t in_len, in_cap;
  unsigned char *out;
  size_t out_off, out_len, out_cap;
  int want_out;
  /* publishers */
  uint64_t sent, acked, delivered;
  uint16_t next_id;
  int inflight;
  unsigned char *ids; /* per packet id: 0 free, 1 awaiting PUBACK/PUBREC, 2 awaiting PUBCOMP */
  unsigned char *payload;
  int fan; /* recipients per message */
  /* subscribers */
  uint64_t received;
} conn_t;

static struct {
  const char *host;
  int port, version, qos, pubs, subs, inflight, payload, storm, concurrency, quiet;
  const char *topology;
  uint64_t count, window;
  double duration, rate, drain, timeout;
} opt = {"127.0.0.1", 1883, 4, 0, 1, 1, 32, 64, 0, 32, 0, "p2p", 0, 2000, 5.0, 0, 3.0, 60.0};

static int ep;
static conn_t *conns;
static int nconns;
static char run_tag[32];
static uint32_t *next_seq; /* [sub * pubs + pub] */
static uint64_t *got;      /* [sub * pubs + pub] unique in-order-or-gap receipts */
static struct {
  uint64_t dup, order, corrupt, nack, proto, closed;
} err;
static uint32_t *hist; /* 1 us buckets, [1000000] = overflow */
static uint64_t hist_n, lat_max_ns;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void usage(void) {
  fprintf(stderr,
          "usage: loadgen [--host H] [--port P] [--mqtt 4|5] [--topology p2p|fanin|fanout]\n"
          "  [--pubs N] [--subs N] [--qos 0|1|2] [--inflight N] [--window N] [--payload BYTES]\n"
          "  [--count N] [--duration S] [--rate MSG_PER_S] [--drain S] [--timeout S]\n"
          "  | --storm N [--concurrency C]\n");
  exit(2);
}

/* ---- MQTT encoding ---- */

static size_t put_varint(unsigned char *p, size_t n) {
  size_t i = 0;
  do {
    unsigned char b = n % 128;
    n /= 128;
    p[i++] = b | (n ? 0x80 : 0);
  } while (n);
  return i;
}

static size_t varint_len(size_t n) { return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4; }

static unsigned char *out_reserve(conn_t *c, size_t n) {
  if (c->out_off > 0 && c->out_len + n > c->out_cap) {
    memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
    c->out_len -= c->out_off;
    c->out_off = 0;
  }
  if (c->out_len + n > c->out_cap) return NULL;
  unsigned char *p = c->out + c->out_len;
  c->out_len += n;
  return p;
}

static size_t out_free(conn_t *c) { return c->out_cap - (c->out_len - c->out_off); }

static void queue_connect(conn_t *c) {
  char id[64];
  int idn = snprintf(id, sizeof id, "lg-%s-%c%d", run_tag, c->role == ROLE_PUB ? 'p' : 's', c->index);
  size_t body = 10 + (opt.version == 5 ? 1 : 0) + 2 + idn;
  unsigned char *p = out_reserve(c, 1 + varint_len(body) + body);
  *p++ = 0x10;
  p += put_varint(p, body);
  memcpy(p, "\0\4MQTT", 6);
  p += 6;
  *p++ = opt.version;
  *p++ = 0x02; /* clean session / clean start */
  *p++ = 0;
  *p++ = 0; /* keep alive 0 */
  if (opt.version == 5) *p++ = 0;
  *p++ = idn >> 8;
  *p++ = idn & 0xff;
  memcpy(p, id, idn);
}

static int topic_for_pub(int pub, char *buf) {
  if (!strcmp(opt.topology, "fanout")) return sprintf(buf, "bench/%s/all", run_tag);
  return sprintf(buf, "bench/%s/%d", run_tag, pub);
}

static int filter_for_sub(int sub, char *buf) {
  if (!strcmp(opt.topology, "fanin")) return sprintf(buf, "bench/%s/+", run_tag);
  if (!strcmp(opt.topology, "fanout")) return sprintf(buf, "bench/%s/all", run_tag);
  return sprintf(buf, "bench/%s/%d", run_tag, sub);
}

static int sub_expects(int sub, int pub) {
  if (!strcmp(opt.topology, "p2p")) return sub == pub;
  return 1;
}

static void queue_subscribe(conn_t *c) {
  char f[96];
  int fn = filter_for_sub(c->index, f);
  size_t body = 2 + (opt.version == 5 ? 1 : 0) + 2 + fn + 1;
  unsigned char *p = out_reserve(c, 1 + varint_len(body) + body);
  *p++ = 0x82;
  p += put_varint(p, body);
  *p++ = 0;
  *p++ = 1;
  if (opt.version == 5) *p++ = 0;
  *p++ = fn >> 8;
  *p++ = fn & 0xff;
  memcpy(p, f, fn);
  p += fn;
  *p = opt.qos;
}

static void queue_ack(conn_t *c, unsigned char type, uint16_t id) {
  unsigned char *p = out_reserve(c, 4);
  if (!p) {
    err.proto++; /* cannot happen: parsing stops while the output has no room */
    return;
  }
  p[0] = type;
  p[1] = 2;
  p[2] = id >> 8;
  p[3] = id & 0xff;
}

/* ---- payload ---- */

static uint16_t header_sum(const unsigned char *h) {
  uint32_t x = 0x811c9dc5u;
  for (int i = 0; i < 14; i++) x = (x ^ h[i]) * 16777619u;
  return (uint16_t)(x ^ (x >> 16));
}

static void fill_pattern(unsigned char *p, int pub, int len) {
  for (int k = 16; k < len; k++) p[k] = (unsigned char)(pub * 131 + k * 7 + 13);
}

static int queue_publish(conn_t *c, uint64_t ts) {
  char topic[96];
  int tn = topic_for_pub(c->index, topic);
  size_t body = 2 + tn + (opt.qos ? 2 : 0) + (opt.version == 5 ? 1 : 0) + opt.payload;
  size_t total = 1 + varint_len(body) + body;
  if (out_free(c) < total) return 0;
  uint16_t id = 0;
  if (opt.qos) {
    if (c->inflight >= opt.inflight) return 0;
    do {
      c->next_id = c->next_id == 65535 ? 1 : c->next_id + 1;
    } while (c->ids[c->next_id]);
    id = c->next_id;
    c->ids[id] = 1;
    c->inflight++;
  }
  unsigned char *p = out_reserve(c, total);
  *p++ = 0x30 | (opt.qos << 1);
  p += put_varint(p, body);
  *p++ = tn >> 8;
  *p++ = tn & 0xff;
  memcpy(p, topic, tn);
  p += tn;
  if (opt.qos) {
    *p++ = id >> 8;
    *p++ = id & 0xff;
  }
  if (opt.version == 5) *p++ = 0;
  uint32_t seq = (uint32_t)c->sent;
  unsigned char *h = c->payload;
  h[0] = c->index & 0xff;
  h[1] = c->index >> 8;
  memcpy(h + 2, &seq, 4);
  memcpy(h + 6, &ts, 8);
  uint16_t s = header_sum(h);
  memcpy(h + 14, &s, 2);
  memcpy(p, h, opt.payload);
  c->sent++;
  return 1;
}

static void on_message(conn_t *c, const unsigned char *topic, size_t tn, int qos, const unsigned char *pl,
                       size_t n, uint64_t now) {
  c->received++;
  if (qos != opt.qos || n != (size_t)opt.payload || n < 16) {
    err.corrupt++;
    return;
  }
  int pub = pl[0] | (pl[1] << 8);
  uint32_t seq;
  uint64_t ts;
  uint16_t s;
  memcpy(&seq, pl + 2, 4);
  memcpy(&ts, pl + 6, 8);
  memcpy(&s, pl + 14, 2);
  if (pub >= opt.pubs || s != header_sum(pl) || !sub_expects(c->index, pub)) {
    err.corrupt++;
    return;
  }
  char want[96];
  int wn = topic_for_pub(pub, want);
  if ((size_t)wn != tn || memcmp(want, topic, tn)) {
    err.corrupt++;
    return;
  }
  conn_t *p = &conns[pub];
  if (n > 16 && memcmp(pl + 16, p->payload + 16, n - 16)) {
    err.corrupt++;
    return;
  }
  size_t k = (size_t)c->index * opt.pubs + pub;
  if (seq == next_seq[k]) {
    next_seq[k]++;
    got[k]++;
    p->delivered++;
  } else if (seq > next_seq[k]) {
    err.order++;
    next_seq[k] = seq + 1;
    got[k]++;
    p->delivered++;
  } else {
    err.dup++;
  }
  uint64_t lat = now > ts ? now - ts : 0;
  uint64_t us = lat / 1000;
  hist[us < 1000000 ? us : 1000000]++;
  hist_n++;
  if (lat > lat_max_ns) lat_max_ns = lat;
}

/* ---- connections ---- */

static void set_events(conn_t *c) {
  uint32_t ev = 0;
  if (c->state == ST_CONNECTING || c->want_out) ev |= EPOLLOUT;
  if (c->state != ST_CONNECTING && c->in_len < c->in_cap && out_free(c) >= 64) ev |= EPOLLIN;
  if (ev != c->events) {
    struct epoll_event e = {.events = ev, .data.u32 = (uint32_t)(c - conns)};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e) < 0) die("epoll_ctl");
    c->events = ev;
  }
}

static void open_conn(conn_t *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) die("socket");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(opt.port)};
  inet_pton(AF_INET, opt.host, &a.sin_addr);
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) die("connect");
  c->state = ST_CONNECTING;
  c->in_len = c->out_off = c->out_len = 0;
  c->want_out = 0;
  c->events = EPOLLOUT;
  struct epoll_event e = {.events = EPOLLOUT, .data.u32 = (uint32_t)(c - conns)};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e) < 0) die("epoll_ctl add");
  queue_connect(c);
}

static void close_conn(conn_t *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->state = ST_DONE;
}

static int flush(conn_t *c) {
  while (c->out_len > c->out_off) {
    ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
    if (n > 0) {
      c->out_off += n;
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      c->want_out = 1;
      set_events(c);
      return 0;
    }
    err.closed++;
    close_conn(c);
    return -1;
  }
  c->out_off = c->out_len = 0;
  c->want_out = 0;
  set_events(c);
  return 0;
}

static int storm_done;

static void parse(conn_t *c, uint64_t now) {
  size_t off = 0;
  while (c->state != ST_DONE) {
    if (out_free(c) < 64) break; /* room for the acks this packet may need */
    size_t avail = c->in_len - off, len = 0, mul = 1, i = 1;
    if (avail < 2) break;
    const unsigned char *b = c->in + off;
    for (;;) {
      if (i >= avail) goto incomplete;
      len += (b[i] & 127) * mul;
      mul *= 128;
      if (!(b[i++] & 128)) break;
      if (i > 4) {
        err.proto++;
        close_conn(c);
        return;
      }
    }
    if (avail < i + len) {
      if (i + len > c->in_cap) {
        err.proto++;
        close_conn(c);
        return;
      }
      break;
    }
    const unsigned char *v = b + i;
    unsigned type = b[0] >> 4;
    uint16_t id = len >= 2 ? (v[0] << 8) | v[1] : 0;
    switch (type) {
    case 2: /* CONNACK */
      if (len < 2 || v[1] != 0) {
        err.nack++;
        close_conn(c);
        return;
      }
      if (c->role == ROLE_STORM) {
        unsigned char *d = out_reserve(c, 2); /* DISCONNECT */
        d[0] = 0xE0;
        d[1] = 0;
        flush(c);
        close_conn(c);
        storm_done++;
        return;
      }
      c->state = c->role == ROLE_SUB ? ST_WAIT_SUBACK : ST_READY;
      if (c->role == ROLE_SUB) queue_subscribe(c);
      break;
    case 9: { /* SUBACK */
      size_t rc = opt.version == 5 ? 2 + 1 + (len > 2 ? v[2] : 0) : 2;
      if (rc >= len || v[rc] >= 0x80) err.nack++;
      c->state = ST_READY;
      break;
    }
    case 3: { /* PUBLISH */
      int qos = (b[0] >> 1) & 3;
      if (len < 2) goto bad;
      size_t tn = (v[0] << 8) | v[1], p = 2 + tn;
      uint16_t pid = 0;
      if (qos) {
        if (p + 2 > len) goto bad;
        pid = (v[p] << 8) | v[p + 1];
        p += 2;
      }
      if (opt.version == 5) {
        size_t pl = 0, m = 1;
        do {
          if (p >= len) goto bad;
          pl += (v[p] & 127) * m;
          m *= 128;
        } while (v[p++] & 128);
        p += pl;
      }
      if (p > len) goto bad;
      on_message(c, v + 2, tn, qos, v + p, len - p, now);
      if (qos == 1) queue_ack(c, 0x40, pid);
      if (qos == 2) queue_ack(c, 0x50, pid);
      break;
    }
    case 6: /* PUBREL (to a subscriber) */
      queue_ack(c, 0x70, id);
      break;
    case 4:   /* PUBACK */
    case 5:   /* PUBREC */
    case 7: { /* PUBCOMP */
      if (c->role != ROLE_PUB || len < 2) goto bad;
      unsigned want = type == 7 ? 2 : 1;
      if (c->ids[id] != want || (type == 4 && opt.qos != 1) || (type == 5 && opt.qos != 2)) goto bad;
      if (len > 2 && v[2] >= 0x80) err.nack++;
      if (type == 5) {
        c->ids[id] = 2;
        queue_ack(c, 0x62, id);
      } else {
        c->ids[id] = 0;
        c->inflight--;
        c->acked++;
      }
      break;
    }
    case 14: /* DISCONNECT from the broker */
      err.closed++;
      close_conn(c);
      return;
    default:
    bad:
      err.proto++;
      close_conn(c);
      return;
    }
    off += i + len;
  }
incomplete:
  if (off) {
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
  }
}

static void on_readable(conn_t *c, uint64_t now) {
  for (int reads = 0; reads < 4 && c->state != ST_DONE && c->in_len < c->in_cap; reads++) {
    ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (n > 0) {
      c->in_len += n;
      parse(c, now);
      if (c->state == ST_DONE) return;
      if ((size_t)n < c->in_cap) break;
      continue;
    }
    if (n < 0 && errno == EAGAIN) break;
    err.closed++;
    close_conn(c);
    return;
  }
  if (c->state != ST_DONE && c->out_len > c->out_off && !c->want_out) flush(c);
  if (c->state != ST_DONE) set_events(c);
}

static void on_event(conn_t *c, uint32_t ev, uint64_t now) {
  if (c->state == ST_DONE) return;
  if (c->state == ST_CONNECTING) {
    int e = 0;
    socklen_t el = sizeof e;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el);
    if (e) {
      errno = e;
      die("connect");
    }
    c->state = ST_WAIT_CONNACK;
    c->want_out = 1;
  }
  if (ev & EPOLLOUT) {
    if (flush(c) < 0) return;
    parse(c, now); /* output room may unblock parsing */
  }
  if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c, now);
}

static int loop_once(int timeout_ms, uint64_t now_hint) {
  struct epoll_event evs[256];
  int n = epoll_wait(ep, evs, 256, timeout_ms);
  if (n < 0 && errno != EINTR) die("epoll_wait");
  uint64_t now = n > 0 ? now_ns() : now_hint;
  for (int i = 0; i < n; i++) on_event(&conns[evs[i].data.u32], evs[i].events, now);
  return n;
}

static double cpu_seconds(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

static conn_t *alloc_conns(int n) {
  conn_t *c = calloc(n, sizeof *c);
  if (!c) die("calloc");
  return c;
}

static void buffers(conn_t *c, size_t in, size_t out) {
  c->in_cap = in;
  c->out_cap = out;
  c->in = malloc(in);
  c->out = malloc(out);
  if (!c->in || !c->out) die("malloc");
}

static int run_storm(void) {
  nconns = opt.concurrency;
  conns = alloc_conns(nconns);
  for (int i = 0; i < nconns; i++) {
    conns[i].role = ROLE_STORM;
    conns[i].index = i;
    conns[i].fd = -1;
    conns[i].state = ST_DONE;
    buffers(&conns[i], 256, 256);
  }
  printf("phase start\n");
  fflush(stdout);
  double cpu0 = cpu_seconds();
  uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)(opt.timeout * 1e9);
  int started = 0;
  while (storm_done < opt.storm) {
    for (int i = 0; i < nconns && started < opt.storm; i++)
      if (conns[i].state == ST_DONE) {
        conns[i].index = started++;
        open_conn(&conns[i]);
      }
    loop_once(10, 0);
    if (now_ns() > deadline) break;
  }
  uint64_t t1 = now_ns();
  double cpu = cpu_seconds() - cpu0;
  printf("phase end\n");
  double el = (t1 - t0) / 1e9;
  int ok = storm_done == opt.storm && !err.nack && !err.proto && !err.closed;
  printf("{\"mode\":\"storm\",\"connections\":%d,\"completed\":%d,\"elapsed_s\":%.4f,\"conn_per_s\":%.1f,"
         "\"refused\":%llu,\"errors\":%llu,\"loadgen_cpu_s\":%.4f,\"ok\":%s}\n",
         opt.storm, storm_done, el, storm_done / el, (unsigned long long)err.nack,
         (unsigned long long)(err.proto + err.closed), cpu, ok ? "true" : "false");
  return ok ? 0 : 1;
}

static uint64_t percentile(double q) {
  if (!hist_n) return 0;
  uint64_t want = (uint64_t)(q * (hist_n - 1)) + 1, acc = 0;
  for (int i = 0; i <= 1000000; i++) {
    acc += hist[i];
    if (acc >= want) return i;
  }
  return 1000000;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name, assign)                                                                          \
  if (!strcmp(a, name)) {                                                                          \
    if (!v) usage();                                                                               \
    assign;                                                                                        \
    i++;                                                                                           \
    continue;                                                                                      \
  }
    OPT("--host", opt.host = v)
    OPT("--port", opt.port = atoi(v))
    OPT("--mqtt", opt.version = atoi(v))
    OPT("--topology", opt.topology = v)
    OPT("--pubs", opt.pubs = atoi(v))
    OPT("--subs", opt.subs = atoi(v))
    OPT("--qos", opt.qos = atoi(v))
    OPT("--inflight", opt.inflight = atoi(v))
    OPT("--window", opt.window = strtoull(v, 0, 10))
    OPT("--payload", opt.payload = atoi(v))
    OPT("--count", opt.count = strtoull(v, 0, 10))
    OPT("--duration", opt.duration = atof(v))
    OPT("--rate", opt.rate = atof(v))
    OPT("--drain", opt.drain = atof(v))
    OPT("--timeout", opt.timeout = atof(v))
    OPT("--storm", opt.storm = atoi(v))
    OPT("--concurrency", opt.concurrency = atoi(v))
    usage();
  }
  if ((opt.version != 4 && opt.version != 5) || opt.qos < 0 || opt.qos > 2 || opt.payload < 16 ||
      opt.payload > 1 << 20 || opt.inflight < 1 || opt.inflight > 60000 || opt.pubs < 1 || opt.subs < 1 ||
      opt.pubs > 65535)
    usage();
  if (!strcmp(opt.topology, "p2p")) opt.subs = opt.pubs;
  else if (!strcmp(opt.topology, "fanin")) opt.subs = 1;
  else if (!strcmp(opt.topology, "fanout")) opt.pubs = 1;
  else usage();
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  snprintf(run_tag, sizeof run_tag, "%d-%llx", (int)getpid(), (unsigned long long)(now_ns() & 0xffffff));
  ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  if (opt.storm > 0) return run_storm();

  /* Publishers are conns[0, pubs), subscribers conns[pubs, pubs + subs). */
  nconns = opt.pubs + opt.subs;
  conns = alloc_conns(nconns);
  hist = calloc(1000001, sizeof *hist);
  next_seq = calloc((size_t)opt.subs * opt.pubs, sizeof *next_seq);
  got = calloc((size_t)opt.subs * opt.pubs, sizeof *got);
  if (!hist || !next_seq || !got) die("calloc");
  size_t big = 4 * ((size_t)opt.payload + 128);
  for (int i = 0; i < nconns; i++) {
    conn_t *c = &conns[i];
    c->fd = -1;
    if (i < opt.pubs) {
      c->role = ROLE_PUB;
      c->index = i;
      buffers(c, 16384, big > 65536 ? big : 65536);
      c->ids = calloc(65536, 1);
      c->payload = malloc(opt.payload);
      if (!c->ids || !c->payload) die("malloc");
      fill_pattern(c->payload, i, opt.payload);
      c->fan = 0;
      for (int s = 0; s < opt.subs; s++) c->fan += sub_expects(s, i);
    } else {
      c->role = ROLE_SUB;
      c->index = i - opt.pubs;
      buffers(c, big > 32768 ? big : 32768, 16384);
    }
  }
  /* Setup: subscribers first (64 handshakes at a time), then publishers. */
  uint64_t setup_deadline = now_ns() + (uint64_t)(opt.timeout * 1e9);
  for (int phase = 0; phase < 2; phase++) {
    int first = phase == 0 ? opt.pubs : 0, last = phase == 0 ? nconns : opt.pubs, opened = first;
    for (;;) {
      int pending = 0, ready = 0;
      for (int i = first; i < opened; i++) {
        if (conns[i].state == ST_READY) ready++;
        else if (conns[i].state != ST_DONE) pending++;
        else {
          fprintf(stderr, "loadgen: connection %d failed during setup\n", i);
          return 2;
        }
      }
      if (ready == last - first) break;
      while (opened < last && pending < 64) {
        open_conn(&conns[opened++]);
        pending++;
      }
      loop_once(10, 0);
      if (now_ns() > setup_deadline) {
        fprintf(stderr, "loadgen: setup timed out (%d of %d ready)\n", ready, last - first);
        return 2;
      }
    }
  }
  if (err.nack) {
    fprintf(stderr, "loadgen: a subscription was refused\n");
    return 2;
  }

  printf("phase start\n");
  fflush(stdout);
  double cpu0 = cpu_seconds();
  uint64_t t0 = now_ns(), pub_end = t0 + (uint64_t)(opt.duration * 1e9), last_rx = t0, t_last_progress = t0;
  uint64_t hard_end = t0 + (uint64_t)(opt.timeout * 1e9);
  uint64_t interval = opt.rate > 0 ? (uint64_t)(1e9 / opt.rate) : 0, next_send = t0;
  int rr = 0;
  uint64_t prev_total = 0;
  for (;;) {
    uint64_t now = now_ns();
    int publishing = now < pub_end && now < hard_end;
    int can_send = 0, more = 0;
    if (publishing) {
      for (int j = 0; j < opt.pubs; j++) {
        conn_t *c = &conns[j];
        if (c->state != ST_READY || (opt.count && c->sent >= opt.count)) continue;
        can_send = 1;
      }
      if (!can_send) publishing = 0;
    }
    if (publishing) {
      if (interval) {
        /* Paced: one message at a time, publishers in turn, at the fixed total rate. */
        int sent_any = 1;
        while (next_send <= now && sent_any) {
          sent_any = 0;
          for (int tries = 0; tries < opt.pubs && !sent_any; tries++) {
            conn_t *c = &conns[rr];
            rr = (rr + 1) % opt.pubs;
            if (c->state != ST_READY || (opt.count && c->sent >= opt.count)) continue;
            if (c->sent * c->fan - c->delivered >= opt.window) continue;
            if (queue_publish(c, now)) sent_any = 1;
          }
          if (sent_any) next_send += interval;
          else break;
        }
        if (now > next_send + 100000000ull) next_send = now; /* fell behind 100 ms: do not burst */
      } else {
        for (int j = 0; j < opt.pubs; j++) {
          conn_t *c = &conns[j];
          if (c->state != ST_READY) continue;
          int k = 0;
          for (; k < 256; k++) {
            if (opt.count && c->sent >= opt.count) break;
            if (c->sent * c->fan - c->delivered >= opt.window) break;
            if (!queue_publish(c, now)) break;
          }
          if (k == 256) more = 1; /* stopped by the batch bound only: go on without waiting */
        }
      }
      for (int j = 0; j < opt.pubs; j++) {
        conn_t *c = &conns[j];
        if (c->state != ST_DONE && c->out_len > c->out_off && !c->want_out) flush(c);
      }
    }
    uint64_t expected = 0, delivered = 0;
    for (int j = 0; j < opt.pubs; j++) {
      expected += conns[j].sent * conns[j].fan;
      delivered += conns[j].delivered;
    }
    if (delivered != prev_total) {
      prev_total = delivered;
      last_rx = t_last_progress = now;
    }
    if (!publishing) {
      int acks_done = 1;
      for (int j = 0; j < opt.pubs; j++)
        if (conns[j].state != ST_DONE && conns[j].inflight) acks_done = 0;
      if (delivered >= expected && acks_done) break;
      if (now - t_last_progress > (uint64_t)(opt.drain * 1e9) || now > hard_end + 5000000000ull) break;
    }
    /* Block in epoll while every publisher waits for acks, deliveries or socket room. */
    int timeout = 10;
    if (publishing && interval) timeout = next_send > now ? (int)((next_send - now) / 1000000) : 0;
    else if (more) timeout = 0;
    loop_once(timeout, now);
  }
  double cpu = cpu_seconds() - cpu0;
  printf("phase end\n");
  uint64_t expected = 0, received = 0, sent = 0, acked = 0, rx_all = 0;
  for (int j = 0; j < opt.pubs; j++) {
    sent += conns[j].sent;
    acked += conns[j].acked;
    for (int s = 0; s < opt.subs; s++)
      if (sub_expects(s, j)) expected += conns[j].sent;
  }
  for (size_t k = 0; k < (size_t)opt.subs * opt.pubs; k++) received += got[k];
  for (int s = 0; s < opt.subs; s++) rx_all += conns[opt.pubs + s].received;
  uint64_t lost = expected > received ? expected - received : 0;
  double el = (last_rx - t0) / 1e9;
  if (el <= 0) el = 1e-9;
  int ok = !lost && !err.dup && !err.order && !err.corrupt && !err.nack && !err.proto && !err.closed &&
           (opt.qos == 0 || acked == sent);
  printf("{\"mode\":\"%s\",\"mqtt\":%d,\"qos\":%d,\"pubs\":%d,\"subs\":%d,\"payload\":%d,\"sent\":%llu,"
         "\"expected\":%llu,\"received\":%llu,\"lost\":%llu,\"dup\":%llu,\"order\":%llu,\"corrupt\":%llu,"
         "\"refused\":%llu,\"protocol_errors\":%llu,\"closed\":%llu,\"unacked\":%llu,\"elapsed_s\":%.4f,"
         "\"msg_per_s\":%.1f,\"lat_p50_us\":%llu,\"lat_p99_us\":%llu,\"lat_p999_us\":%llu,"
         "\"lat_max_us\":%llu,\"loadgen_cpu_s\":%.4f,\"ok\":%s}\n",
         opt.topology, opt.version, opt.qos, opt.pubs, opt.subs, opt.payload, (unsigned long long)sent,
         (unsigned long long)expected, (unsigned long long)received, (unsigned long long)lost,
         (unsigned long long)err.dup, (unsigned long long)err.order, (unsigned long long)err.corrupt,
         (unsigned long long)err.nack, (unsigned long long)err.proto, (unsigned long long)err.closed,
         (unsigned long long)(opt.qos ? sent - acked : 0), el, received / el, (unsigned long long)percentile(0.5),
         (unsigned long long)percentile(0.99), (unsigned long long)percentile(0.999),
         (unsigned long long)(lat_max_ns / 1000), cpu, ok ? "true" : "false");
  (void)rx_all;
  return ok ? 0 : 1;
}
