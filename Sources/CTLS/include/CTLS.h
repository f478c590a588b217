// CTLS: the only code that includes mbedTLS headers (Sources/CTLS/ctls.c). Swift sees opaque
// records and plain integers, so the Swift side never depends on mbedTLS struct layouts.
// Memory: ctls_heap_init hands mbedTLS one region (from midge's arena) and every later
// mbedTLS allocation comes from it; a session record (ctls_session_size bytes) lives in the
// arena too. Nothing here calls libc malloc. Single-threaded: call from the event loop only.
#ifndef MIDGE_CTLS_H
#define MIDGE_CTLS_H

#include <stddef.h>
#include <stdint.h>

// Results besides byte counts: what mbedTLS asks for next, and "closed by the peer".
enum { CTLS_WANT_READ = -0x6900, CTLS_WANT_WRITE = -0x6880, CTLS_PEER_CLOSED = -0x7880,
       CTLS_ALLOC_FAILED = -0x7F00, CTLS_KEY_MISMATCH = -0x10001 /* outside mbedTLS's codes */, CTLS_IDENTITY_MAX = 128, CTLS_PSK_MAX = 64, CTLS_SUITES_MAX = 16 };

// The pool: every mbedTLS allocation after this call comes from buf[0..<len]. Call once.
void ctls_heap_init(void *buf, size_t len);
// Bytes in use now (payload plus block headers), the peak since start or the last reset, and
// the block header size (for sizing).
size_t ctls_heap_used(void);
size_t ctls_heap_peak(void);
void ctls_heap_reset_peak(void);
size_t ctls_heap_header_bytes(void);
// Seeds the one CTR_DRBG from getrandom(2). 0 or an mbedTLS error.
int ctls_rng_init(void);
// mbedTLS's text for an error code (static buffer: startup messages only).
const char *ctls_error_text(int err);

// A listener's configuration (allocated from the pool at startup, never freed).
typedef struct ctls_listener ctls_listener;
ctls_listener *ctls_listener_new(void);
// Reload (SIGHUP): frees the set's certificates, key, CA and mbedtls_ssl_config back to the pool
// and makes it empty (the PSK table is kept: it is shared, see below). Only when no session uses it.
void ctls_listener_clear(ctls_listener *l);
// The PSK table of `from` (not copied: both sets read the same entries; psk_file is not reloaded).
void ctls_listener_share_psk(ctls_listener *to, const ctls_listener *from);
// Sessions started on this set and not yet ended.
long ctls_listener_sessions(const ctls_listener *l);
// The certificate chain, then the key (checked against the leaf: CTLS_KEY_MISMATCH if it is not
// the leaf's key): PEM (NUL-terminated) or DER.
int ctls_listener_add_cert(ctls_listener *l, const uint8_t *cert, size_t len);
int ctls_listener_add_key(ctls_listener *l, const uint8_t *key, size_t len);
// PEM or DER bytes. Each returns 0 or an mbedTLS error.
int ctls_listener_add_ca(ctls_listener *l, const uint8_t *pem, size_t len);
int ctls_listener_set_cert(ctls_listener *l, const uint8_t *cert, size_t cert_len, const uint8_t *key,
                           size_t key_len);
// Room for `count` PSK entries, then each entry (identity up to CTLS_IDENTITY_MAX bytes, key up
// to CTLS_PSK_MAX bytes). 0, or CTLS_ALLOC_FAILED / -1 (too long or table full).
int ctls_listener_reserve_psk(ctls_listener *l, size_t count);
int ctls_listener_add_psk(ctls_listener *l, const uint8_t *identity, size_t identity_len, const uint8_t *key,
                          size_t key_len);
// IANA cipher suite numbers (0-terminated list, at most CTLS_SUITES_MAX); NULL: every suite built in.
// require: client certificate required (verified against the CA); identity: keep the client
// certificate's subject CN as the session identity.
int ctls_listener_finish(ctls_listener *l, const int *suites, int require_cert, int identity_from_cert);

// One TLS session record: ctls_session_size() bytes of caller memory (the arena).
size_t ctls_session_size(void);
// Starts a server session on fd (allocates its record buffers from the pool). 0 or error; on
// error nothing needs to be ended.
int ctls_session_start(void *session, ctls_listener *l, int fd);
// Advances the handshake: 0 done, CTLS_WANT_READ / CTLS_WANT_WRITE, or an error.
int ctls_handshake(void *session);
// Decrypted application bytes: a count > 0, CTLS_PEER_CLOSED, CTLS_WANT_READ/WRITE, or an error.
long ctls_read(void *session, void *buf, size_t len);
// Encrypts and sends at most one record's worth of buf: a count > 0, CTLS_WANT_READ/WRITE
// (call again with the same bytes and length), or an error.
long ctls_write(void *session, const void *buf, size_t len);
// Largest `len` one ctls_write takes.
size_t ctls_max_write(void);
// 1 when decrypted bytes are waiting inside mbedTLS (epoll cannot see them).
int ctls_pending(void *session);
// Best-effort close_notify (non-blocking), then frees the session's pool memory.
void ctls_session_end(void *session, int notify);
// The authenticated identity: the client certificate's CN or the PSK identity; NULL if none.
const uint8_t *ctls_identity(void *session, size_t *len);
// The negotiated cipher suite's name (for logs), or "".
const char *ctls_suite_name(void *session, size_t *len);

// WebSocket (RFC 6455 §4.2.2): Sec-WebSocket-Accept for a Sec-WebSocket-Key, base64 of the
// SHA-1 of key + the protocol's GUID: 28 bytes into out (no NUL). 0, or -1 on failure.
enum { CTLS_WEBSOCKET_ACCEPT_LEN = 28 };
int ctls_websocket_accept(const uint8_t *key, size_t len, uint8_t *out);

// Password hashing for mosquitto_passwd entries, on mbedTLS's SHA-512 (no allocation). The
// executable hands these to MidgeAuth as function pointers (MidgeAuth imports no C).
// $6$: SHA-512(a || b), 64 bytes into out.
void ctls_sha512_pair(const void *a, size_t alen, const void *b, size_t blen, void *out);
// $7$: PBKDF2-HMAC-SHA512 (RFC 8018) with a 64-byte key (one block), into out.
void ctls_pbkdf2_sha512(const void *password, size_t plen, const void *salt, size_t slen, uint32_t iterations,
                        void *out);

#endif
