/*
 * TLS 1.2 client on BearSSL: trust anchors from PEM, a client engine with
 * ECDHE + AES-GCM / ChaCha20-Poly1305 and RSA / ECDSA certificates, and
 * BearSSL's errors in words.
 *
 * The engine is sans-I/O (BearSSL's buffer/acknowledge model); io_conn
 * (conn.h) pumps it over a non-blocking socket from the poll loop.  Tests may
 * pump it over memory.
 *
 * Server name rule: the certificate is always checked against a DNS name.  A
 * host given as an IP literal is checked against "kubernetes.default.svc"
 * (every API server certificate carries it; BearSSL cannot match IP SANs), and
 * a NULL or empty name is refused rather than passed on (BearSSL would skip
 * the check).
 */
#ifndef CPLANE_IO_TLS_H
#define CPLANE_IO_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLS_IN_CLUSTER_NAME "kubernetes.default.svc"

/*
 * BearSSL error code (BR_ERR_*, BR_ERR_X509_*, BR_ERR_SEND_FATAL_ALERT +
 * alert, BR_ERR_RECV_FATAL_ALERT + alert) in words, e.g. "certificate signed
 * by unknown authority" for BR_ERR_X509_NOT_TRUSTED, "certificate name
 * mismatch" for BR_ERR_X509_BAD_SERVER_NAME.  Static storage, never NULL,
 * never a bare number (an unknown code gives "unknown TLS error").
 */
const char *tls_error_string(int br_err);

/* ---- trust anchors ---------------------------------------------------------- */

typedef struct tls_anchors tls_anchors;	/* opaque; owns every anchor's bytes */

/* Never NULL (base/mem.h). */
tls_anchors *tls_anchors_new(void);
void tls_anchors_free(tls_anchors *ta);

/*
 * Decodes every "CERTIFICATE" object of a PEM bundle (other object types are
 * skipped) and adds each as a trust anchor (RSA or EC key; CA flag taken from
 * basicConstraints).  Returns the number added (>= 0; 0 when the text has no
 * certificate), or -1 with a reason in err (malformed PEM or certificate,
 * unsupported key type, ENOMEM); on -1 the anchors added before the bad one are
 * kept.  err may be NULL.
 */
int tls_anchors_add_pem(tls_anchors *ta, const void *pem, size_t len, char *err, size_t errsz);

/* Reads a PEM file (at most 4 MiB) and adds it; returns as tls_anchors_add_pem. */
int tls_anchors_load_file(tls_anchors *ta, const char *path, char *err, size_t errsz);

size_t tls_anchors_count(const tls_anchors *ta);

/*
 * Describes anchor i (for logs and tests): key type "RSA" or "EC", key size in
 * bits (RSA modulus; EC curve size), whether it is a CA (else it is trusted
 * directly as the server's own certificate), and its DER-encoded subject DN
 * (valid while ta lives).  Returns 0, or -1 when i is out of range.
 */
int tls_anchors_describe(const tls_anchors *ta, size_t i, const char **key_type, unsigned *bits,
    bool *is_ca, const uint8_t **dn, size_t *dn_len);

/*
 * The anchors as BearSSL's array (const br_x509_trust_anchor *, *n entries),
 * for code that drives BearSSL itself (the server's client-certificate check).
 * Valid until the anchors are added to or freed.
 */
const void *tls_anchors_br(const tls_anchors *ta, size_t *n);

/* ---- client ----------------------------------------------------------------- */

/*
 * The name to verify for a host: host itself for a DNS name, TLS_IN_CLUSTER_NAME
 * for an IPv4/IPv6 literal (with or without brackets).  Never NULL.
 */
const char *tls_verify_name(const char *host);

typedef struct tls_client tls_client;	/* opaque; holds the BearSSL contexts and bidi buffer */

/*
 * A client engine ready to start the handshake for server_name (a DNS name;
 * use tls_verify_name()).  anchors must hold at least one anchor, outlive the
 * client, and not be added to while a client uses them (adding may move the
 * array the engine points into; to reload a CA file, build a new tls_anchors
 * and free the old one once its connections are gone).  Returns NULL with a reason in err (no anchors, empty name,
 * engine reset failure).
 */
tls_client *tls_client_new(const tls_anchors *anchors, const char *server_name,
    char *err, size_t errsz);
void tls_client_free(tls_client *c);

/*
 * Offers application protocols (ALPN), e.g. {"h2"}; the server must choose
 * one of them or the handshake fails.  names must outlive the client.  Call
 * before the handshake starts moving.
 */
void tls_client_set_alpn(tls_client *c, const char *const *names, size_t n);

struct pem_chain;
struct pem_key;
/*
 * Client authentication: presents chain (leaf first) signed with key (RSA or
 * EC; io/pem_key.h) when the server asks for a certificate.  Call before the
 * first byte is pumped; chain and key must outlive c.  Returns 0, or -1 with
 * a reason in err (key of neither type).
 */
int tls_client_set_identity(tls_client *c, const struct pem_chain *chain, const struct pem_key *key,
    char *err, size_t errsz);

/* Engine state bits (BearSSL's BR_SSL_* with friendlier names). */
enum {
	TLS_CLOSED = 1u,	/* engine finished: see tls_client_error() */
	TLS_SENDREC = 2u,	/* records ready to go to the peer */
	TLS_RECVREC = 4u,	/* room for records from the peer */
	TLS_SENDAPP = 8u,	/* room for application data to encrypt */
	TLS_RECVAPP = 16u,	/* decrypted application data ready */
};
unsigned tls_client_state(const tls_client *c);
/* tls_client_state's mapping, for any engine: BearSSL's br_ssl_engine_current_state() bits to the TLS_* above. */
unsigned tls_state_bits(unsigned br_state);

/*
 * Buffer/acknowledge pairs, exactly BearSSL's semantics: *_buf returns a
 * pointer and a length (NULL/0 when not available); *_ack(n) says n bytes
 * were used (n <= that length).  Pointers are valid until the next call on c.
 */
uint8_t *tls_client_sendrec_buf(tls_client *c, size_t *len);	/* to write to the socket */
void tls_client_sendrec_ack(tls_client *c, size_t n);
uint8_t *tls_client_recvrec_buf(tls_client *c, size_t *len);	/* to read from the socket into */
void tls_client_recvrec_ack(tls_client *c, size_t n);
uint8_t *tls_client_sendapp_buf(tls_client *c, size_t *len);	/* to copy plaintext into */
void tls_client_sendapp_ack(tls_client *c, size_t n);
uint8_t *tls_client_recvapp_buf(tls_client *c, size_t *len);	/* plaintext received */
void tls_client_recvapp_ack(tls_client *c, size_t n);

/* Pushes buffered plaintext into records now (force: even a partial record). */
void tls_client_flush(tls_client *c);
/* Starts close_notify; the engine reaches TLS_CLOSED once the peer answers. */
void tls_client_close(tls_client *c);

/* True once the handshake completed (application data may flow both ways). */
bool tls_client_handshake_done(const tls_client *c);

/*
 * BearSSL's last error (0 = none).  TLS_CLOSED with a nonzero error is a
 * failure; TLS_CLOSED with 0 is an orderly close_notify.
 */
int tls_client_error(const tls_client *c);

/* Negotiated suite name, e.g. "ECDHE-ECDSA-AES128-GCM-SHA256" (after handshake), or "". */
const char *tls_client_suite(const tls_client *c);
/* The name of a TLS 1.2 suite we offer or accept (OpenSSL's spelling), or "" for any other. */
const char *tls_suite_name(unsigned suite);

#endif
