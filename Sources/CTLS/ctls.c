// mbedTLS glue for midge: pool, RNG, listener configuration, non-blocking server sessions whose
// BIO callbacks use the socket fd kept in the session record. See include/CTLS.h.
#include "CTLS.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mbedtls/base64.h"
#include "mbedtls/ctr_drbg.h"
#include "mbedtls/memory_buffer_alloc.h"
#include "mbedtls/net_sockets.h"
#include "mbedtls/oid.h"
#include "mbedtls/pk.h"
#include "mbedtls/platform.h"
#include "mbedtls/sha1.h"
#include "mbedtls/platform_util.h"
#include "mbedtls/sha512.h"
#include "mbedtls/ssl.h"
#include "mbedtls/ssl_ciphersuites.h"
#include "mbedtls/x509_crt.h"

typedef struct {
  uint8_t identity_len, key_len;
  uint8_t identity[CTLS_IDENTITY_MAX];
  uint8_t key[CTLS_PSK_MAX];
} psk_entry;

struct ctls_listener {
  mbedtls_ssl_config conf;
  mbedtls_x509_crt cert;
  mbedtls_pk_context key;
  mbedtls_x509_crt ca;
  int has_cert, has_ca, identity_from_cert;
  psk_entry *psk;
  size_t psk_count, psk_capacity;
  int suites[CTLS_SUITES_MAX + 1];
  long sessions;  // sessions whose mbedtls_ssl_context points at conf (they keep this set alive)
};

typedef struct {
  mbedtls_ssl_context ssl;  // first: callbacks get the ssl pointer and find the record from it
  struct ctls_listener *listener;
  int fd;
  uint16_t identity_len;
  uint8_t identity[CTLS_IDENTITY_MAX];
} session;

static mbedtls_ctr_drbg_context drbg;

// --- pool and RNG ---

void ctls_heap_init(void *buf, size_t len) {
  mbedtls_memory_buffer_alloc_init(buf, len);
  // mbedTLS zeroes the whole pool (memset) and writes one block header at its start. The pool
  // is anonymous memory (midge's arena is a private mapping): hand the zeroed pages after the
  // header back to the kernel, they read as zero again, so the pool costs RAM only as TLS
  // sessions use it. Locked pages (memory_lock) refuse this (EINVAL) and stay resident.
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t start = ((uintptr_t)buf + 1024 + page - 1) & ~(page - 1);
  uintptr_t end = ((uintptr_t)buf + len) & ~(page - 1);
  if (end > start) (void)madvise((void *)start, end - start, MADV_DONTNEED);
}

size_t ctls_heap_header_bytes(void) { return 8 * sizeof(size_t); }  // memory_header, MEMORY_DEBUG, no backtrace

size_t ctls_heap_used(void) {
  size_t used = 0, blocks = 0;
  mbedtls_memory_buffer_alloc_cur_get(&used, &blocks);
  return used + blocks * ctls_heap_header_bytes();
}

size_t ctls_heap_peak(void) {
  size_t used = 0, blocks = 0;
  mbedtls_memory_buffer_alloc_max_get(&used, &blocks);
  return used + blocks * ctls_heap_header_bytes();
}

void ctls_heap_reset_peak(void) { mbedtls_memory_buffer_alloc_max_reset(); }

static int entropy(void *ctx, unsigned char *out, size_t len) {
  (void)ctx;
  while (len > 0) {
    ssize_t n = getrandom(out, len, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
    }
    out += n;
    len -= (size_t)n;
  }
  return 0;
}

int ctls_rng_init(void) {
  mbedtls_ctr_drbg_init(&drbg);
  static const unsigned char personal[] = "midge";
  return mbedtls_ctr_drbg_seed(&drbg, entropy, NULL, personal, sizeof personal - 1);
}

// Startup errors (certificate, key, CA files) in words, without MBEDTLS_ERROR_C: its full table
// and the snprintf it needs cost ~40 KB. A short table covers what a user's files can trigger;
// every message ends with the code, so an error outside the table still names itself.
typedef struct {
  int16_t code;  // the positive value of MBEDTLS_ERR_*
  const char *text;
} error_name;

static const error_name high_errors[] = {
    {0x1080, "PEM - No PEM header or footer found"},
    {0x1100, "PEM - PEM string is not as expected"},
    {0x1200, "PEM - RSA IV is not in hex-format"},
    {0x1280, "PEM - Unsupported key encryption algorithm"},
    {0x1300, "PEM - Private key password can't be empty"},
    {0x1380, "PEM - Given private key password does not allow for correct decryption"},
    {0x1400, "PEM - Unavailable feature, e.g. hashing/encryption combination"},
    {0x2080, "X509 - Unavailable feature, e.g. RSA hashing/encryption combination"},
    {0x2100, "X509 - Requested OID is unknown"},
    {0x2180, "X509 - The CRT/CRL/CSR format is invalid, e.g. different type expected"},
    {0x2200, "X509 - The CRT/CRL/CSR version element is invalid"},
    {0x2280, "X509 - The serial tag or value is invalid"},
    {0x2300, "X509 - The algorithm tag or value is invalid"},
    {0x2380, "X509 - The name tag or value is invalid"},
    {0x2400, "X509 - The date tag or value is invalid"},
    {0x2480, "X509 - The signature tag or value invalid"},
    {0x2500, "X509 - The extension tag or value is invalid"},
    {0x2580, "X509 - CRT/CRL/CSR has an unsupported version number"},
    {0x2600, "X509 - Signature algorithm (oid) is unsupported"},
    {0x2680, "X509 - Signature algorithms do not match"},
    {0x2780, "X509 - Format not recognized as DER or PEM"},
    {0x2880, "X509 - Allocation of memory failed"},
    {0x3D00, "PK - Invalid key tag or value"},
    {0x3D80, "PK - Unsupported key version"},
    {0x3C80, "PK - Key algorithm is unsupported (only RSA and EC are supported)"},
    {0x3C00, "PK - Private key password can't be empty"},
    {0x3B80, "PK - Given private key password does not allow for correct decryption"},
    {0x3B00, "PK - The pubkey tag or value is invalid (only RSA and EC are supported)"},
    {0x3A00, "PK - Elliptic curve is unsupported (only NIST curves are supported)"},
    {0x3980, "PK - Unavailable feature, e.g. RSA disabled for RSA key"},
    {0x3F00, "PK - Type mismatch, eg attempt to encrypt with an ECDSA key"},
    {0x3F80, "PK - Memory allocation failed"},
    {0x4200, "RSA - Key failed to pass the validity check of the library"},
    {0x4C80, "ECP - Invalid private or public key"},
    {0x4E80, "ECP - The requested feature is not available, for example, the requested curve is not supported"},
    {0x7F00, "SSL - Memory allocation failed"},
    {0x5E80, "SSL - Invalid value in SSL config"},
};

static const error_name low_errors[] = {
    {0x0010, "BIGNUM - Memory allocation failed"},
    {0x0034, "CTR_DRBG - The entropy source failed"},
    {0x0060, "ASN1 - Out of data when parsing an ASN1 data structure"},
    {0x0062, "ASN1 - ASN1 tag was of an unexpected value"},
    {0x0064, "ASN1 - Error when trying to determine the length or invalid length"},
    {0x0066, "ASN1 - Actual length differs from expected length"},
    {0x0068, "ASN1 - Data is invalid"},
    {0x002C, "BASE64 - Invalid character in input"},
};

static const char *error_lookup(const error_name *table, size_t n, int code) {
  for (size_t i = 0; i < n; i++)
    if (table[i].code == code) return table[i].text;
  return NULL;
}

static char *append(char *at, const char *end, const char *s) {
  while (*s && at < end) *at++ = *s++;
  return at;
}

const char *ctls_error_text(int err) {
  static char text[224];
  char *at = text, *end = text + sizeof text - 1;
  int code = err < 0 ? -err : err;
  const char *high = error_lookup(high_errors, sizeof high_errors / sizeof *high_errors, code & 0xFF80);
  const char *low = error_lookup(low_errors, sizeof low_errors / sizeof *low_errors, code & 0x007F);
  if (high) at = append(at, end, high);
  if (high && low) at = append(at, end, ": ");
  if (low) at = append(at, end, low);
  at = append(at, end, high || low ? " (mbedTLS error -0x" : "mbedTLS error -0x");
  char hex[5];
  for (int i = 3; i >= 0; i--) hex[3 - i] = "0123456789abcdef"[(code >> (4 * i)) & 0xF];
  hex[4] = 0;
  at = append(at, end, hex);
  if (high || low) at = append(at, end, ")");
  *at = 0;
  return text;
}

// --- listener configuration ---

ctls_listener *ctls_listener_new(void) {
  ctls_listener *l = mbedtls_calloc(1, sizeof *l);
  if (!l) return NULL;
  mbedtls_ssl_config_init(&l->conf);
  mbedtls_x509_crt_init(&l->cert);
  mbedtls_x509_crt_init(&l->ca);
  mbedtls_pk_init(&l->key);
  return l;
}

void ctls_listener_clear(ctls_listener *l) {
  mbedtls_ssl_config_free(&l->conf);
  mbedtls_x509_crt_free(&l->cert);
  mbedtls_x509_crt_free(&l->ca);
  mbedtls_pk_free(&l->key);
  mbedtls_ssl_config_init(&l->conf);
  mbedtls_x509_crt_init(&l->cert);
  mbedtls_x509_crt_init(&l->ca);
  mbedtls_pk_init(&l->key);
  l->has_cert = l->has_ca = 0;
}

void ctls_listener_share_psk(ctls_listener *to, const ctls_listener *from) {
  to->psk = from->psk;
  to->psk_count = from->psk_count;
  to->psk_capacity = from->psk_capacity;
}

long ctls_listener_sessions(const ctls_listener *l) { return l->sessions; }

int ctls_listener_add_cert(ctls_listener *l, const uint8_t *cert, size_t len) {
  int rc = mbedtls_x509_crt_parse(&l->cert, cert, len);
  if (rc > 0) rc = MBEDTLS_ERR_X509_CERT_UNKNOWN_FORMAT;
  return rc;
}

int ctls_listener_add_key(ctls_listener *l, const uint8_t *key, size_t len) {
  int rc = mbedtls_pk_parse_key(&l->key, key, len, NULL, 0);
  if (rc != 0) return rc;
  if (mbedtls_pk_check_pair(&l->cert.pk, &l->key) != 0) return CTLS_KEY_MISMATCH;
  l->has_cert = 1;
  return 0;
}

int ctls_listener_add_ca(ctls_listener *l, const uint8_t *pem, size_t len) {
  int rc = mbedtls_x509_crt_parse(&l->ca, pem, len);
  if (rc > 0) rc = MBEDTLS_ERR_X509_CERT_UNKNOWN_FORMAT;  // some certificates did not parse
  if (rc == 0) l->has_ca = 1;
  return rc;
}

int ctls_listener_set_cert(ctls_listener *l, const uint8_t *cert, size_t cert_len, const uint8_t *key,
                           size_t key_len) {
  int rc = mbedtls_x509_crt_parse(&l->cert, cert, cert_len);
  if (rc > 0) rc = MBEDTLS_ERR_X509_CERT_UNKNOWN_FORMAT;
  if (rc != 0) return rc;
  rc = mbedtls_pk_parse_key(&l->key, key, key_len, NULL, 0);
  if (rc != 0) return rc;
  rc = mbedtls_pk_check_pair(&l->cert.pk, &l->key);
  if (rc != 0) return rc;
  l->has_cert = 1;
  return 0;
}

int ctls_listener_reserve_psk(ctls_listener *l, size_t count) {
  if (count == 0) return 0;
  l->psk = mbedtls_calloc(count, sizeof(psk_entry));
  if (!l->psk) return CTLS_ALLOC_FAILED;
  l->psk_capacity = count;
  return 0;
}

int ctls_listener_add_psk(ctls_listener *l, const uint8_t *identity, size_t identity_len, const uint8_t *key,
                          size_t key_len) {
  if (l->psk_count >= l->psk_capacity || identity_len == 0 || identity_len > CTLS_IDENTITY_MAX || key_len == 0 ||
      key_len > CTLS_PSK_MAX)
    return -1;
  psk_entry *e = &l->psk[l->psk_count++];
  e->identity_len = (uint8_t)identity_len;
  e->key_len = (uint8_t)key_len;
  memcpy(e->identity, identity, identity_len);
  memcpy(e->key, key, key_len);
  return 0;
}

static int find_psk(void *ctx, mbedtls_ssl_context *ssl, const unsigned char *id, size_t len) {
  const ctls_listener *l = ctx;
  session *s = (session *)ssl;
  for (size_t i = 0; i < l->psk_count; i++) {
    const psk_entry *e = &l->psk[i];
    // Compares every entry's length first: the loop does the same work for unknown identities.
    if (e->identity_len != len || memcmp(e->identity, id, len) != 0) continue;
    memcpy(s->identity, id, len);
    s->identity_len = (uint16_t)len;
    return mbedtls_ssl_set_hs_psk(ssl, e->key, e->key_len);
  }
  return -1;  // unknown identity: the handshake fails (alert unknown_psk_identity)
}

// Keeps the leaf certificate's subject CN; refuses a leaf without one (or one too long).
static int keep_cn(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags) {
  session *s = ctx;
  if (depth != 0) return 0;
  for (const mbedtls_x509_name *n = &crt->subject; n; n = n->next) {
    if (n->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
      if (n->val.len == 0 || n->val.len > CTLS_IDENTITY_MAX) break;
      memcpy(s->identity, n->val.p, n->val.len);
      s->identity_len = (uint16_t)n->val.len;
      return 0;
    }
  }
  *flags |= MBEDTLS_X509_BADCERT_OTHER;
  return 0;
}

int ctls_listener_finish(ctls_listener *l, const int *suites, int require_cert, int identity_from_cert) {
  int rc = mbedtls_ssl_config_defaults(&l->conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                       MBEDTLS_SSL_PRESET_DEFAULT);
  if (rc != 0) return rc;
  mbedtls_ssl_conf_rng(&l->conf, mbedtls_ctr_drbg_random, &drbg);
  mbedtls_ssl_conf_min_version(&l->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  // ECDHE: the server's order wins. mbedTLS's default puts secp384r1 first, which makes a
  // handshake several times slower than X25519 or P-256; certificates may use any of the three.
  static const mbedtls_ecp_group_id curves[] = {MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
                                                MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_NONE};
  mbedtls_ssl_conf_curves(&l->conf, curves);
  if (l->has_cert) {
    rc = mbedtls_ssl_conf_own_cert(&l->conf, &l->cert, &l->key);
    if (rc != 0) return rc;
  }
  if (l->has_ca) mbedtls_ssl_conf_ca_chain(&l->conf, &l->ca, NULL);
  mbedtls_ssl_conf_authmode(&l->conf, require_cert ? MBEDTLS_SSL_VERIFY_REQUIRED : MBEDTLS_SSL_VERIFY_NONE);
  if (l->psk_capacity > 0) mbedtls_ssl_conf_psk_cb(&l->conf, find_psk, l);
  l->identity_from_cert = identity_from_cert;
  if (suites && suites[0] != 0) {
    size_t n = 0;
    while (n < CTLS_SUITES_MAX && suites[n] != 0) {
      l->suites[n] = suites[n];
      n++;
    }
    l->suites[n] = 0;
    mbedtls_ssl_conf_ciphersuites(&l->conf, l->suites);
  }
  return 0;
}

// --- sessions ---

static int bio_send(void *ctx, const unsigned char *buf, size_t len) {
  int fd = ((session *)ctx)->fd;
  for (;;) {
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0) return (int)n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_WRITE;
    if (errno == EPIPE || errno == ECONNRESET) return MBEDTLS_ERR_NET_CONN_RESET;
    return MBEDTLS_ERR_NET_SEND_FAILED;
  }
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len) {
  int fd = ((session *)ctx)->fd;
  for (;;) {
    ssize_t n = recv(fd, buf, len, 0);
    if (n > 0) return (int)n;
    if (n == 0) return MBEDTLS_ERR_NET_CONN_RESET;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_READ;
    if (errno == ECONNRESET) return MBEDTLS_ERR_NET_CONN_RESET;
    return MBEDTLS_ERR_NET_RECV_FAILED;
  }
}

size_t ctls_session_size(void) { return sizeof(session); }

int ctls_session_start(void *p, ctls_listener *l, int fd) {
  session *s = p;
  memset(s, 0, sizeof *s);
  s->listener = l;
  s->fd = fd;
  mbedtls_ssl_init(&s->ssl);
  int rc = mbedtls_ssl_setup(&s->ssl, &l->conf);
  if (rc != 0) {
    mbedtls_ssl_free(&s->ssl);
    return rc;
  }
  if (l->identity_from_cert) mbedtls_ssl_set_verify(&s->ssl, keep_cn, s);
  mbedtls_ssl_set_bio(&s->ssl, s, bio_send, bio_recv, NULL);
  l->sessions++;
  return 0;
}

int ctls_handshake(void *p) { return mbedtls_ssl_handshake(&((session *)p)->ssl); }

long ctls_read(void *p, void *buf, size_t len) {
  int n = mbedtls_ssl_read(&((session *)p)->ssl, buf, len);
  if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || n == MBEDTLS_ERR_NET_CONN_RESET) return CTLS_PEER_CLOSED;
  return n;
}

long ctls_write(void *p, const void *buf, size_t len) {
  if (len > MBEDTLS_SSL_OUT_CONTENT_LEN) len = MBEDTLS_SSL_OUT_CONTENT_LEN;
  int n = mbedtls_ssl_write(&((session *)p)->ssl, buf, len);
  if (n == MBEDTLS_ERR_NET_CONN_RESET) return CTLS_PEER_CLOSED;
  return n;
}

size_t ctls_max_write(void) { return MBEDTLS_SSL_OUT_CONTENT_LEN; }

int ctls_pending(void *p) {
  session *s = p;
  return mbedtls_ssl_get_bytes_avail(&s->ssl) > 0 || mbedtls_ssl_check_pending(&s->ssl) != 0;
}

void ctls_session_end(void *p, int notify) {
  session *s = p;
  if (notify && s->ssl.state == MBEDTLS_SSL_HANDSHAKE_OVER) (void)mbedtls_ssl_close_notify(&s->ssl);
  mbedtls_ssl_free(&s->ssl);
  if (s->listener) s->listener->sessions--;
  s->listener = NULL;
  s->fd = -1;
  s->identity_len = 0;
}

const uint8_t *ctls_identity(void *p, size_t *len) {
  session *s = p;
  *len = s->identity_len;
  return s->identity_len ? s->identity : NULL;
}

const char *ctls_suite_name(void *p, size_t *len) {
  const char *name = mbedtls_ssl_get_ciphersuite(&((session *)p)->ssl);
  if (!name) name = "";
  *len = strlen(name);
  return name;
}


// RFC 6455 §4.2.2 item 5.4: base64(SHA-1(key + GUID)), 28 characters. No allocation.
int ctls_websocket_accept(const uint8_t *key, size_t len, uint8_t out[CTLS_WEBSOCKET_ACCEPT_LEN]) {
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    mbedtls_sha1_context sha;
    unsigned char digest[20];
    unsigned char text[CTLS_WEBSOCKET_ACCEPT_LEN + 1];
    size_t n = 0;
    mbedtls_sha1_init(&sha);
    int rc = mbedtls_sha1_starts_ret(&sha);
    if (rc == 0) rc = mbedtls_sha1_update_ret(&sha, key, len);
    if (rc == 0) rc = mbedtls_sha1_update_ret(&sha, (const unsigned char *)guid, sizeof guid - 1);
    if (rc == 0) rc = mbedtls_sha1_finish_ret(&sha, digest);
    mbedtls_sha1_free(&sha);
    if (rc == 0) rc = mbedtls_base64_encode(text, sizeof text, &n, digest, sizeof digest);
    if (rc != 0 || n != CTLS_WEBSOCKET_ACCEPT_LEN) return -1;
    memcpy(out, text, CTLS_WEBSOCKET_ACCEPT_LEN);
    return 0;
}

// --- password hashing (MidgeAuth's $6$ and $7$ entries) ---

void ctls_sha512_pair(const void *a, size_t alen, const void *b, size_t blen, void *out) {
  mbedtls_sha512_context c;
  mbedtls_sha512_init(&c);
  mbedtls_sha512_starts_ret(&c, 0);
  mbedtls_sha512_update_ret(&c, a, alen);
  mbedtls_sha512_update_ret(&c, b, blen);
  mbedtls_sha512_finish_ret(&c, out);
  mbedtls_sha512_free(&c);
}

// HMAC-SHA512 (RFC 2104) of msg || tail with the key's inner and outer pads already hashed
// (inner, outer): two compression calls for a short message.
static void hmac_sha512(const mbedtls_sha512_context *inner, const mbedtls_sha512_context *outer,
                        const void *msg, size_t len, const void *tail, size_t tlen, unsigned char out[64]) {
  mbedtls_sha512_context c;
  mbedtls_sha512_init(&c);
  mbedtls_sha512_clone(&c, inner);
  mbedtls_sha512_update_ret(&c, msg, len);
  mbedtls_sha512_update_ret(&c, tail, tlen);
  mbedtls_sha512_finish_ret(&c, out);
  mbedtls_sha512_clone(&c, outer);
  mbedtls_sha512_update_ret(&c, out, 64);
  mbedtls_sha512_finish_ret(&c, out);
  mbedtls_sha512_free(&c);
}

void ctls_pbkdf2_sha512(const void *password, size_t plen, const void *salt, size_t slen, uint32_t iterations,
                        void *out) {
  unsigned char key[128] = {0}, pad[128], u[64];
  static const unsigned char block1[4] = {0, 0, 0, 1};
  mbedtls_sha512_context inner, outer;
  if (plen > sizeof key) {
    ctls_sha512_pair(password, plen, NULL, 0, key);  // a long key is hashed first (RFC 2104)
  } else if (plen > 0) {
    memcpy(key, password, plen);
  }
  mbedtls_sha512_init(&inner);
  mbedtls_sha512_init(&outer);
  for (int i = 0; i < 128; i++) pad[i] = key[i] ^ 0x36;
  mbedtls_sha512_starts_ret(&inner, 0);
  mbedtls_sha512_update_ret(&inner, pad, sizeof pad);
  for (int i = 0; i < 128; i++) pad[i] = key[i] ^ 0x5c;
  mbedtls_sha512_starts_ret(&outer, 0);
  mbedtls_sha512_update_ret(&outer, pad, sizeof pad);
  // U1 = HMAC(P, S || INT(1)); the 64-byte key is T1 = U1 ^ U2 ^ ... ^ Uc.
  unsigned char *t = out;
  hmac_sha512(&inner, &outer, salt, slen, block1, sizeof block1, u);
  memcpy(t, u, 64);
  for (uint32_t n = 1; n < iterations; n++) {
    hmac_sha512(&inner, &outer, u, 64, NULL, 0, u);
    for (int i = 0; i < 64; i++) t[i] ^= u[i];
  }
  mbedtls_sha512_free(&inner);
  mbedtls_sha512_free(&outer);
  mbedtls_platform_zeroize(key, sizeof key);
  mbedtls_platform_zeroize(pad, sizeof pad);
}
