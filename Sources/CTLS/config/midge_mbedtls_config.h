/* midge's mbedTLS 2.28 configuration (MBEDTLS_CONFIG_FILE): replaces include/mbedtls/config.h
 * of the fetched Debian source package (toolchain/fetch-mbedtls.sh). The same file configures
 * the host build and every board, so struct layouts always match the compiled library.
 *
 * What is in: a TLS 1.2 server (no client side, no DTLS, no renegotiation, no tickets or
 * session cache), key exchanges ECDHE-ECDSA, ECDHE-RSA, PSK and ECDHE-PSK, ciphers AES-GCM
 * and ChaCha20-Poly1305, RSA and ECDSA certificates (P-256, P-384; X25519 for ECDHE), X.509
 * and PEM parsing with verification for client certificates, SHA-256 and SHA-512.
 * Memory: every mbedTLS allocation comes from one static pool (MEMORY_BUFFER_ALLOC_C) that
 * midge carves from its arena at startup; nothing reaches libc malloc.
 * Entropy: no platform entropy (no /dev/urandom file I/O); midge seeds CTR_DRBG with
 * getrandom(2) itself (Sources/CTLS/ctls.c). */
#ifndef MIDGE_MBEDTLS_CONFIG_H
#define MIDGE_MBEDTLS_CONFIG_H

/* System support */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE          /* certificate validity (expired client certificates) */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY         /* calloc/free through the pool below */
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
#define MBEDTLS_MEMORY_DEBUG            /* pool statistics (current and peak use) */
/* The pool's fatal diagnostics (corruption, then exit) write their format string as it is:
 * a real fprintf would pull musl's printf core and libgcc's long-double code in (~25 KB). */
#include <string.h>
#include <unistd.h>
static inline int midge_mbedtls_fprintf(void *stream, const char *format, ...) {
  (void)stream;
  return (int)write(2, format, strlen(format));
}
#define MBEDTLS_PLATFORM_FPRINTF_MACRO  midge_mbedtls_fprintf
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_DEPRECATED_REMOVED

/* Ciphers and modes */
#define MBEDTLS_AES_C
#define MBEDTLS_AES_ROM_TABLES
#define MBEDTLS_AES_FEWER_TABLES
#define MBEDTLS_AESNI_C                 /* x86_64 only, chosen at run time */
#define MBEDTLS_GCM_C
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_CIPHER_C

/* Public key, curves, hashes */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
/* X25519 through Everest (HACL*'s verified field arithmetic, in mbedTLS's 3rdparty/) instead of
 * the generic bignum Montgomery ladder: ECDHE is most of a handshake (README, "TLS"). */
#define MBEDTLS_ECDH_VARIANT_EVEREST_ENABLED
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_MD_C
#define MBEDTLS_SHA1_C                  /* WebSocket handshake (Sec-WebSocket-Accept) only: TLS keeps SHA-1
                                           out of signatures (no ..._ALLOW_SHA1_IN_KEY_EXCHANGE) */
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA512_C
#define MBEDTLS_SHA256_SMALLER          /* rolled loops: smaller code, a little slower hashing */
#define MBEDTLS_SHA512_SMALLER
#define MBEDTLS_CTR_DRBG_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C            /* ECDSA signatures */
#define MBEDTLS_OID_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_X509_CHECK_KEY_USAGE
#define MBEDTLS_X509_CHECK_EXTENDED_KEY_USAGE
/* No MBEDTLS_ERROR_C: its text table and the snprintf it pulls in cost ~40 KB; ctls.c keeps a
 * short table of the errors a certificate, key or CA file can cause (ctls_error_text). */

/* TLS: 1.2 server only */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_SRV_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_ALL_ALERT_MESSAGES
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_PSK_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_PSK_ENABLED
/* The client's certificate chain is checked during the handshake; midge keeps its subject CN
 * (use_identity_as_username) and mbedTLS keeps only a digest, not the certificate. */
/* #undef MBEDTLS_SSL_KEEP_PEER_CERTIFICATE */

/* Record buffers (2.28 fixes them at compile time). IN stays at the protocol's 16384: OpenSSL
 * and Mosquitto clients send full-size records and do not negotiate max_fragment_length. OUT is
 * what midge sends per record: 4096 bytes (a larger packet goes out as several records). */
#define MBEDTLS_SSL_IN_CONTENT_LEN      16384
#define MBEDTLS_SSL_OUT_CONTENT_LEN     4096
#define MBEDTLS_MPI_MAX_SIZE            512   /* RSA keys up to 4096 bits */
#define MBEDTLS_PSK_MAX_LEN             64    /* psk_file keys up to 64 bytes (128 hex digits) */

#include "mbedtls/check_config.h"
#endif
