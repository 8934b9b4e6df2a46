/*
 * TLS 1.2 server on BearSSL for the gRPC port: a certificate chain and key
 * (src/io/pem_key.h) reloaded when their files change, optional client
 * certificates (mTLS), ALPN "h2" required, ECDHE with AES-GCM or
 * ChaCha20-Poly1305.
 *
 * Two objects.  A tls_server_config is the worker's: the files, the pair in
 * use and the counters.  A tls_server is one connection's engine, sans-I/O
 * with BearSSL's buffer/acknowledge pairs (as tls_client in tls.h); the
 * socket pump is io_tls_stream (tls_stream.h).  A connection keeps the pair
 * it started its handshake with until it ends, however often the files
 * rotate: pairs are reference-counted.
 *
 * ALPN: the client must offer "h2".  Offering only other protocols is refused
 * by BearSSL with the no_application_protocol alert; a ClientHello offering
 * none gets the same alert from us before BearSSL sees it (one we cannot
 * read whole is left to BearSSL, and our policy hook refuses it with
 * handshake_failure).
 *
 * Rotation (tls_server_config_check): at most every check_interval_ms the
 * files are stat()ed (following symlinks, so the kubelet's "..data" swap
 * counts); when the identity (device, inode, size, mtime) of any changed,
 * all are read again.  A set that does not load, or whose key is not the
 * certificate's, is reported and the pair in use stays.
 */
#ifndef CPLANE_IO_TLS_SERVER_H
#define CPLANE_IO_TLS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLS_SERVER_CHECK_INTERVAL_MS 10000

/* How handshakes ended, for metrics. */
enum tls_hs_result {
	TLS_HS_OK,
	TLS_HS_NO_ALPN,		/* no or no common application protocol */
	TLS_HS_CLIENT_CERT,	/* client certificate missing or not trusted (mTLS) */
	TLS_HS_PROTOCOL,	/* any other TLS failure: not TLS, no common suite, bad records */
	TLS_HS_ABORTED,		/* the peer went away before finishing */
	TLS_HS__COUNT
};
/* "ok", "no_alpn", "client_cert", "protocol", "aborted". */
const char *tls_hs_result_name(enum tls_hs_result r);

typedef struct tls_server_stats {
	uint64_t handshakes[TLS_HS__COUNT];
	uint64_t conns_open;		/* tls_server objects alive */
	uint64_t reloads;		/* pairs loaded after the first */
	uint64_t reload_failures;
} tls_server_stats;

typedef struct tls_server_config tls_server_config;	/* opaque */

typedef struct tls_server_files {
	const char *cert_file;		/* PEM chain, leaf first; required */
	const char *key_file;		/* PEM key (RSA or EC); required */
	const char *client_ca_file;	/* PEM bundle; non-NULL and non-empty = mTLS */
	int64_t check_interval_ms;	/* 0 = TLS_SERVER_CHECK_INTERVAL_MS */
} tls_server_files;

/*
 * Loads the files now.  Returns NULL with a reason in err ("path: reason")
 * when they do not make a usable server identity.  now is the loop's clock;
 * the first check is due check_interval_ms later.
 */
tls_server_config *tls_server_config_new(const tls_server_files *files, int64_t now, char *err, size_t errsz);
/* Releases the config; connections alive keep their pair until freed. */
void tls_server_config_free(tls_server_config *cfg);

/*
 * Rotation check (cheap when not due).  Returns 0 (not due, or nothing
 * changed), 1 (a new pair is in use), or -1 (the files changed and the new
 * set failed: err says why; the old pair stays, and the same files are not
 * tried again until they change again).
 */
int tls_server_config_check(tls_server_config *cfg, int64_t now, char *err, size_t errsz);

/* Describes the pair in use, e.g. "EC P-256, 2 certificates" (for logs). */
const char *tls_server_config_describe(const tls_server_config *cfg, char *out, size_t outsz);

const tls_server_stats *tls_server_config_stats(const tls_server_config *cfg);

/* ---- one connection ----------------------------------------------------------- */

typedef struct tls_server tls_server;	/* opaque */

/* A server engine with the config's current pair, ready for a ClientHello.  NULL with a
 * reason when BearSSL cannot reset the engine. */
tls_server *tls_server_new(tls_server_config *cfg, char *err, size_t errsz);
/* Counts the handshake as aborted if it never ended; NULL is ignored. */
void tls_server_free(tls_server *s);

/* State bits: TLS_CLOSED, TLS_SENDREC, ... of tls.h. */
unsigned tls_server_state(tls_server *s);

/* Buffer/acknowledge pairs with BearSSL's semantics (see tls.h). */
uint8_t *tls_server_sendrec_buf(tls_server *s, size_t *len);
void tls_server_sendrec_ack(tls_server *s, size_t n);
uint8_t *tls_server_recvrec_buf(tls_server *s, size_t *len);
void tls_server_recvrec_ack(tls_server *s, size_t n);
uint8_t *tls_server_sendapp_buf(tls_server *s, size_t *len);
void tls_server_sendapp_ack(tls_server *s, size_t n);
uint8_t *tls_server_recvapp_buf(tls_server *s, size_t *len);
void tls_server_recvapp_ack(tls_server *s, size_t n);
void tls_server_flush(tls_server *s);
void tls_server_close(tls_server *s);

bool tls_server_handshake_done(const tls_server *s);
/* BearSSL's last error; TLS_CLOSED with 0 is an orderly close. */
int tls_server_error(const tls_server *s);
/* The negotiated suite name ("" before the handshake ends) and ALPN protocol ("h2" or ""). */
const char *tls_server_suite(const tls_server *s);
const char *tls_server_protocol(const tls_server *s);

#endif
