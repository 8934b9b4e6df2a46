/*
 * BearSSL glue: trust anchors from PEM, a reduced TLS 1.2 client profile, and
 * BearSSL's error codes in words.
 *
 * Implementation notes.  Anchors own their bytes: the decoders hand out
 * pointers into their own contexts, so each anchor's DN and key are copied into
 * one allocation.  The client profile is built by hand instead of
 * br_ssl_client_init_full() so that only ECDHE with AEAD suites and TLS 1.2 are
 * offered (smaller binary, nothing weak to negotiate down to); certificate
 * signatures may use SHA-224..SHA-512 (not SHA-1 or MD5).  Entropy: 32 bytes
 * from getrandom() are injected before the first reset, so the engine is
 * seeded even where BearSSL 0.6's own seeder (RDRAND or /dev/urandom) finds
 * nothing, as in a scratch container without /dev; BearSSL still mixes its
 * own seed in when it can.
 */
#include "io/tls.h"

#include <arpa/inet.h>
#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/mem.h"
#include "base/str.h"
#include "io/pem_key.h"

/* ---- errors in words ---------------------------------------------------------- */

#define ALERTS(X) \
	X(0, "close notify") X(10, "unexpected message") X(20, "bad record mac") \
	X(21, "decryption failed") X(22, "record overflow") X(30, "decompression failure") \
	X(40, "handshake failure") X(41, "no certificate") X(42, "bad certificate") \
	X(43, "unsupported certificate") X(44, "certificate revoked") \
	X(45, "certificate expired") X(46, "certificate unknown") X(47, "illegal parameter") \
	X(48, "unknown certificate authority") X(49, "access denied") X(50, "decode error") \
	X(51, "decrypt error") X(60, "export restriction") X(70, "protocol version") \
	X(71, "insufficient security") X(80, "internal error") \
	X(86, "inappropriate fallback") X(90, "user canceled") X(100, "no renegotiation") \
	X(109, "missing extension") X(110, "unsupported extension") \
	X(111, "certificate unobtainable") X(112, "unrecognized name") \
	X(113, "bad certificate status response") X(114, "bad certificate hash value") \
	X(115, "unknown PSK identity") X(116, "certificate required") \
	X(120, "no application protocol")

static const char *alert_string(int alert, bool received)
{
#define RECV(n, s) case n: return "remote error: " s;
#define SENT(n, s) case n: return "local error: " s;
	if (received) {
		switch (alert) { ALERTS(RECV) }
		return "remote error: unknown alert";
	}
	switch (alert) { ALERTS(SENT) }
	return "local error: unknown alert";
#undef RECV
#undef SENT
}

const char *tls_error_string(int e)
{
	if (e >= BR_ERR_SEND_FATAL_ALERT && e < BR_ERR_SEND_FATAL_ALERT + 256)
		return alert_string(e - BR_ERR_SEND_FATAL_ALERT, false);
	if (e >= BR_ERR_RECV_FATAL_ALERT && e < BR_ERR_RECV_FATAL_ALERT + 256)
		return alert_string(e - BR_ERR_RECV_FATAL_ALERT, true);
	switch (e) {
	case BR_ERR_OK: return "no error";
	case BR_ERR_BAD_PARAM: return "invalid TLS engine parameter";
	case BR_ERR_BAD_STATE: return "TLS engine in wrong state";
	case BR_ERR_UNSUPPORTED_VERSION: return "server does not support TLS 1.2";
	case BR_ERR_BAD_VERSION: return "protocol version mismatch in TLS record";
	case BR_ERR_BAD_LENGTH: return "TLS record with invalid length";
	case BR_ERR_TOO_LARGE: return "TLS record too large";
	case BR_ERR_BAD_MAC: return "TLS record failed integrity check (bad MAC)";
	case BR_ERR_NO_RANDOM: return "no entropy source for TLS";
	case BR_ERR_UNKNOWN_TYPE: return "TLS record of unknown type";
	case BR_ERR_UNEXPECTED: return "unexpected TLS message";
	case BR_ERR_BAD_CCS: return "malformed ChangeCipherSpec";
	case BR_ERR_BAD_ALERT: return "malformed TLS alert";
	case BR_ERR_BAD_HANDSHAKE: return "malformed TLS handshake message";
	case BR_ERR_OVERSIZED_ID: return "TLS session ID too long";
	case BR_ERR_BAD_CIPHER_SUITE: return "server chose a cipher suite we did not offer (no common cipher suite)";
	case BR_ERR_BAD_COMPRESSION: return "server chose an unsupported compression";
	case BR_ERR_BAD_FRAGLEN: return "server chose an unsupported maximum fragment length";
	case BR_ERR_BAD_SECRENEG: return "secure renegotiation failed";
	case BR_ERR_EXTRA_EXTENSION: return "server sent an unexpected TLS extension";
	case BR_ERR_BAD_SNI: return "malformed server name indication";
	case BR_ERR_BAD_HELLO_DONE: return "malformed ServerHelloDone";
	case BR_ERR_LIMIT_EXCEEDED: return "TLS protocol limit exceeded";
	case BR_ERR_BAD_FINISHED: return "TLS Finished message mismatch";
	case BR_ERR_RESUME_MISMATCH: return "TLS session resumption mismatch";
	case BR_ERR_INVALID_ALGORITHM: return "unsupported TLS algorithm";
	case BR_ERR_BAD_SIGNATURE: return "invalid TLS handshake signature";
	case BR_ERR_WRONG_KEY_USAGE: return "server key not usable for the chosen key exchange";
	case BR_ERR_NO_CLIENT_AUTH: return "server requires a client certificate";
	case BR_ERR_IO: return "TLS I/O error";
	case BR_ERR_X509_INVALID_VALUE: return "malformed certificate (invalid value)";
	case BR_ERR_X509_TRUNCATED: return "malformed certificate (truncated)";
	case BR_ERR_X509_EMPTY_CHAIN: return "server sent no certificate";
	case BR_ERR_X509_INNER_TRUNC: return "malformed certificate (inner element truncated)";
	case BR_ERR_X509_BAD_TAG_CLASS: return "malformed certificate (bad tag class)";
	case BR_ERR_X509_BAD_TAG_VALUE: return "malformed certificate (bad tag value)";
	case BR_ERR_X509_INDEFINITE_LENGTH: return "malformed certificate (indefinite length)";
	case BR_ERR_X509_EXTRA_ELEMENT: return "malformed certificate (extra element)";
	case BR_ERR_X509_UNEXPECTED: return "malformed certificate (unexpected element)";
	case BR_ERR_X509_NOT_CONSTRUCTED: return "malformed certificate (expected constructed element)";
	case BR_ERR_X509_NOT_PRIMITIVE: return "malformed certificate (expected primitive element)";
	case BR_ERR_X509_PARTIAL_BYTE: return "malformed certificate (partial byte in bit string)";
	case BR_ERR_X509_BAD_BOOLEAN: return "malformed certificate (bad boolean)";
	case BR_ERR_X509_OVERFLOW: return "malformed certificate (value overflow)";
	case BR_ERR_X509_BAD_DN: return "malformed certificate (bad distinguished name)";
	case BR_ERR_X509_BAD_TIME: return "malformed certificate (bad validity time)";
	case BR_ERR_X509_UNSUPPORTED: return "certificate uses an unsupported feature";
	case BR_ERR_X509_LIMIT_EXCEEDED: return "certificate exceeds a decoder limit";
	case BR_ERR_X509_WRONG_KEY_TYPE: return "certificate key type does not match its use";
	case BR_ERR_X509_BAD_SIGNATURE: return "certificate has an invalid signature";
	case BR_ERR_X509_TIME_UNKNOWN: return "current time unknown: cannot check certificate validity";
	case BR_ERR_X509_EXPIRED: return "certificate expired or not yet valid";
	case BR_ERR_X509_DN_MISMATCH: return "certificate chain broken (issuer name mismatch)";
	case BR_ERR_X509_BAD_SERVER_NAME: return "certificate name mismatch";
	case BR_ERR_X509_CRITICAL_EXTENSION: return "certificate has an unsupported critical extension";
	case BR_ERR_X509_NOT_CA: return "certificate issuer is not a CA";
	case BR_ERR_X509_FORBIDDEN_KEY_USAGE: return "certificate key usage forbids this use";
	case BR_ERR_X509_WEAK_PUBLIC_KEY: return "certificate key too weak";
	case BR_ERR_X509_NOT_TRUSTED: return "certificate signed by unknown authority";
	}
	return "unknown TLS error";
}

/* ---- trust anchors --------------------------------------------------------------- */

struct tls_anchors {
	br_x509_trust_anchor *v;
	size_t n, cap;
};

tls_anchors *tls_anchors_new(void)
{
	return xcalloc(1, sizeof(tls_anchors));
}

void tls_anchors_free(tls_anchors *ta)
{
	if (ta == NULL)
		return;
	for (size_t i = 0; i < ta->n; i++)
		free(ta->v[i].dn.data);	/* one block per anchor: DN then key bytes */
	free(ta->v);
	free(ta);
}

size_t tls_anchors_count(const tls_anchors *ta) { return ta->n; }

const void *tls_anchors_br(const tls_anchors *ta, size_t *n)
{
	*n = ta->n;
	return ta->v;
}

int tls_anchors_describe(const tls_anchors *ta, size_t i, const char **key_type, unsigned *bits,
    bool *is_ca, const uint8_t **dn, size_t *dn_len)
{
	const br_x509_trust_anchor *a;

	if (i >= ta->n)
		return -1;
	a = &ta->v[i];
	*is_ca = (a->flags & BR_X509_TA_CA) != 0;
	*dn = a->dn.data;
	*dn_len = a->dn.len;
	if (a->pkey.key_type == BR_KEYTYPE_RSA) {
		const unsigned char *n = a->pkey.key.rsa.n;
		size_t len = a->pkey.key.rsa.nlen;
		unsigned b = 0;

		while (len > 0 && *n == 0)
			n++, len--;
		if (len > 0)
			for (unsigned top = *n; top; top >>= 1)
				b++;
		*key_type = "RSA";
		*bits = len > 0 ? (unsigned)(len - 1) * 8 + b : 0;
	} else {
		*key_type = "EC";
		switch (a->pkey.key.ec.curve) {
		case BR_EC_secp256r1: *bits = 256; break;
		case BR_EC_secp384r1: *bits = 384; break;
		case BR_EC_secp521r1: *bits = 521; break;
		default: *bits = 0; break;
		}
	}
	return 0;
}


/* Where the decoders' output goes; a failed append is remembered, not lost. */
typedef struct sink {
	buf b;
	bool failed;
} sink;

static void append_cb(void *ctx, const void *p, size_t n)
{
	sink *s = ctx;

	if (!s->failed && buf_append(&s->b, p, n) < 0)
		s->failed = true;
}

/* Decodes one DER certificate into a new anchor. */
static int add_der(tls_anchors *ta, const uint8_t *der, size_t len, char *err, size_t errsz)
{
	br_x509_decoder_context dc;
	br_x509_pkey *pk;
	sink dn = {BUF_INIT, false};
	br_x509_trust_anchor a;
	size_t k1, k2, total;
	const void *p1, *p2;
	uint8_t *blk;
	int rc = -1;

	buf_set_limit(&dn.b, 64 * 1024);
	br_x509_decoder_init(&dc, append_cb, &dn);
	br_x509_decoder_push(&dc, der, len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (pk == NULL || dn.failed) {
		int e = br_x509_decoder_last_error(&dc);

		str_errf(err, errsz, "bad certificate in PEM: %s",
		    e ? tls_error_string(e) : "truncated or out of memory");
		goto out;
	}
	memset(&a, 0, sizeof(a));
	a.flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	a.pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		p1 = pk->key.rsa.n, k1 = pk->key.rsa.nlen;
		p2 = pk->key.rsa.e, k2 = pk->key.rsa.elen;
	} else if (pk->key_type == BR_KEYTYPE_EC) {
		p1 = pk->key.ec.q, k1 = pk->key.ec.qlen;
		p2 = NULL, k2 = 0;
	} else {
		str_errf(err, errsz, "%s", "unsupported certificate key type");
		goto out;
	}
	total = buf_len(&dn.b) + k1 + k2;
	if (ta->n == ta->cap) {
		ta->cap = ta->cap ? ta->cap * 2 : 4;
		ta->v = xrealloc(ta->v, ta->cap * sizeof(*ta->v));
	}
	blk = xmalloc(total);	/* a certificate's parts, from a file we read whole (at most 4 MiB) */
	if (buf_len(&dn.b) > 0)
		memcpy(blk, buf_data(&dn.b), buf_len(&dn.b));
	a.dn.data = blk;
	a.dn.len = buf_len(&dn.b);
	memcpy(blk + a.dn.len, p1, k1);
	if (pk->key_type == BR_KEYTYPE_RSA) {
		memcpy(blk + a.dn.len + k1, p2, k2);
		a.pkey.key.rsa.n = blk + a.dn.len;
		a.pkey.key.rsa.nlen = k1;
		a.pkey.key.rsa.e = blk + a.dn.len + k1;
		a.pkey.key.rsa.elen = k2;
	} else {
		a.pkey.key.ec.curve = pk->key.ec.curve;
		a.pkey.key.ec.q = blk + a.dn.len;
		a.pkey.key.ec.qlen = k1;
	}
	ta->v[ta->n++] = a;
	rc = 0;
out:
	buf_free(&dn.b);
	return rc;
}

/* PEM decoding state across pushes. */
typedef struct pem_state {
	br_pem_decoder_context pc;
	tls_anchors *ta;
	sink der;
	bool in_obj, in_cert;
	int added;
	char *err;
	size_t errsz;
} pem_state;

/* Pushes [p, p+len) through the decoder, acting on each event; 0 or -1. */
static int pem_push(pem_state *st, const uint8_t *p, size_t len)
{
	while (len > 0) {
		size_t n = br_pem_decoder_push(&st->pc, p, len);
		const char *name;

		p += n;
		len -= n;
		switch (br_pem_decoder_event(&st->pc)) {
		case BR_PEM_BEGIN_OBJ:
			name = br_pem_decoder_name(&st->pc);
			st->in_obj = true;
			st->in_cert = strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "X509 CERTIFICATE") == 0;
			buf_reset(&st->der.b);
			st->der.failed = false;
			br_pem_decoder_setdest(&st->pc, st->in_cert ? append_cb : NULL, &st->der);
			break;
		case BR_PEM_END_OBJ:
			if (st->in_cert) {
				if (st->der.failed) {
					str_errf(st->err, st->errsz, "%s", "certificate in PEM too large or out of memory");
					return -1;
				}
				if (buf_len(&st->der.b) == 0) {
					str_errf(st->err, st->errsz, "%s", "bad certificate in PEM: empty");
					return -1;
				}
				if (add_der(st->ta, buf_data(&st->der.b), buf_len(&st->der.b), st->err, st->errsz) < 0)
					return -1;
				st->added++;
			}
			st->in_obj = st->in_cert = false;
			break;
		case BR_PEM_ERROR:
			str_errf(st->err, st->errsz, "%s", "malformed PEM (bad base64 or framing)");
			return -1;
		default:
			break;
		}
	}
	return 0;
}

int tls_anchors_add_pem(tls_anchors *ta, const void *pem, size_t len, char *err, size_t errsz)
{
	const uint8_t *p = pem, *end = p + len;
	pem_state st;
	int rc = -1;

	memset(&st, 0, sizeof(st));
	br_pem_decoder_init(&st.pc);
	st.ta = ta;
	st.err = err;
	st.errsz = errsz;
	buf_init(&st.der.b);
	buf_set_limit(&st.der.b, 1024 * 1024);
	/* BearSSL's decoder does not take CR: bundles written with CRLF line ends
	 * are fed without their CRs */
	while (p < end) {
		const uint8_t *cr = memchr(p, '\r', (size_t)(end - p));
		const uint8_t *stop = cr ? cr : end;

		if (pem_push(&st, p, (size_t)(stop - p)) < 0)
			goto out;
		p = cr ? cr + 1 : end;
	}
	/* an object's end is reported only after the newline that follows
	 * "-----END ...-----": one more newline covers a file without it */
	if (pem_push(&st, (const uint8_t *)"\n", 1) < 0)
		goto out;
	if (st.in_obj) {
		str_errf(err, errsz, "%s", "malformed PEM (object not terminated)");
		goto out;
	}
	rc = st.added;
out:
	buf_free(&st.der.b);
	return rc;
}

int tls_anchors_load_file(tls_anchors *ta, const char *path, char *err, size_t errsz)
{
	buf b = BUF_INIT;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;
	char why[256];

	if (fd < 0) {
		str_errf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf_set_limit(&b, 4u << 20);
	for (;;) {
		ssize_t n;

		if (buf_reserve(&b, 16384) < 0) {
			str_errf(err, errsz, "%s: file too large (over 4 MiB) or out of memory", path);
			goto out;
		}
		n = read(fd, buf_tail(&b), buf_tail_room(&b));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			str_errf(err, errsz, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		buf_commit(&b, (size_t)n);
	}
	rc = tls_anchors_add_pem(ta, buf_data(&b), buf_len(&b), why, sizeof(why));
	if (rc < 0)
		str_errf(err, errsz, "%s: %s", path, why);
out:
	close(fd);
	buf_free(&b);
	return rc;
}

/* ---- client --------------------------------------------------------------------- */

const char *tls_verify_name(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;
	char tmp[64];
	size_t n = host ? strlen(host) : 0;

	if (n == 0)
		return TLS_IN_CLUSTER_NAME;
	if (host[0] == '[' && n >= 2 && n - 2 < sizeof(tmp)) {
		memcpy(tmp, host + 1, n - 2);
		tmp[n - 2] = '\0';
		if (host[n - 1] == ']' && inet_pton(AF_INET6, tmp, &a6) == 1)
			return TLS_IN_CLUSTER_NAME;
	}
	if (inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1)
		return TLS_IN_CLUSTER_NAME;
	return host;
}

struct tls_client {
	br_ssl_client_context sc;
	br_x509_minimal_context xc;
	bool hs_done;
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

static const uint16_t suites[] = {
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
};

tls_client *tls_client_new(const tls_anchors *anchors, const char *server_name,
    char *err, size_t errsz)
{
	static const struct { int id; const br_hash_class *vt; } hashes[] = {
		{br_sha224_ID, &br_sha224_vtable}, {br_sha256_ID, &br_sha256_vtable},
		{br_sha384_ID, &br_sha384_vtable}, {br_sha512_ID, &br_sha512_vtable},
	};
	br_ssl_engine_context *eng;
	unsigned char seed[32];
	tls_client *c;

	if (anchors == NULL || anchors->n == 0) {
		str_errf(err, errsz, "%s", "tls: no trust anchors (empty CA bundle)");
		return NULL;
	}
	if (server_name == NULL || server_name[0] == '\0') {
		/* BearSSL would skip the name check altogether */
		str_errf(err, errsz, "%s", "tls: no server name to verify");
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	eng = &c->sc.eng;
	br_ssl_client_zero(&c->sc);
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(eng, suites, sizeof(suites) / sizeof(suites[0]));
	br_x509_minimal_init(&c->xc, &br_sha256_vtable, anchors->v, anchors->n);
	br_ssl_engine_set_default_rsavrfy(eng);
	br_ssl_engine_set_default_ecdsa(eng);
	br_ssl_engine_set_default_ec(eng);
	br_x509_minimal_set_rsa(&c->xc, br_ssl_engine_get_rsavrfy(eng));
	br_x509_minimal_set_ecdsa(&c->xc, br_ssl_engine_get_ec(eng), br_ssl_engine_get_ecdsa(eng));
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
		br_ssl_engine_set_hash(eng, hashes[i].id, hashes[i].vt);
		br_x509_minimal_set_hash(&c->xc, hashes[i].id, hashes[i].vt);
	}
	br_ssl_engine_set_x509(eng, &c->xc.vtable);
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
	br_ssl_engine_set_default_aes_gcm(eng);
	br_ssl_engine_set_default_chapol(eng);
	br_ssl_engine_set_buffer(eng, c->iobuf, sizeof(c->iobuf), 1);
	if (getrandom(seed, sizeof(seed), 0) == (ssize_t)sizeof(seed))
		br_ssl_engine_inject_entropy(eng, seed, sizeof(seed));
	if (!br_ssl_client_reset(&c->sc, server_name, 0)) {
		str_errf(err, errsz, "tls: %s", tls_error_string(br_ssl_engine_last_error(eng)));
		free(c);
		return NULL;
	}
	return c;
}

int tls_client_set_identity(tls_client *c, const pem_chain *chain, const pem_key *key, char *err, size_t errsz)
{
	const br_x509_certificate *certs = pem_chain_certs(chain);
	size_t n = pem_chain_len(chain);

	/* BearSSL signs CertificateVerify with these when the server sends CertificateRequest. */
	if (pem_key_rsa(key)) {
		br_ssl_client_set_single_rsa(&c->sc, certs, n, pem_key_rsa(key), br_rsa_pkcs1_sign_get_default());
		return 0;
	}
	if (pem_key_ec(key)) {
		br_ssl_client_set_single_ec(&c->sc, certs, n, pem_key_ec(key), BR_KEYTYPE_SIGN,
		    (unsigned)pem_chain_issuer_key_type(chain), br_ec_get_default(), br_ecdsa_sign_asn1_get_default());
		return 0;
	}
	str_errf(err, errsz, "%s", "tls: client key is neither RSA nor EC");
	return -1;
}

void tls_client_free(tls_client *c)
{
	free(c);
}

void tls_client_set_alpn(tls_client *c, const char *const *names, size_t n)
{
	char name[sizeof(c->sc.eng.server_name)];

	br_ssl_engine_set_protocol_names(&c->sc.eng, (const char **)(uintptr_t)names, n);
	br_ssl_engine_add_flags(&c->sc.eng, BR_OPT_FAIL_ON_ALPN_MISMATCH);
	/* the ClientHello was composed at reset: compose it again with ALPN in it */
	memcpy(name, c->sc.eng.server_name, sizeof(name));
	br_ssl_client_reset(&c->sc, name, 0);
}

unsigned tls_client_state(const tls_client *c)
{
	return tls_state_bits(br_ssl_engine_current_state(&c->sc.eng));
}

unsigned tls_state_bits(unsigned st)
{
	unsigned r = 0;

	if (st & BR_SSL_CLOSED)
		r |= TLS_CLOSED;
	if (st & BR_SSL_SENDREC)
		r |= TLS_SENDREC;
	if (st & BR_SSL_RECVREC)
		r |= TLS_RECVREC;
	if (st & BR_SSL_SENDAPP)
		r |= TLS_SENDAPP;
	if (st & BR_SSL_RECVAPP)
		r |= TLS_RECVAPP;
	return r;
}

static void note_progress(tls_client *c)
{
	/* application data only flows once the handshake is over */
	if (!c->hs_done && (br_ssl_engine_current_state(&c->sc.eng) & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)))
		c->hs_done = true;
}

uint8_t *tls_client_sendrec_buf(tls_client *c, size_t *len) { return br_ssl_engine_sendrec_buf(&c->sc.eng, len); }
uint8_t *tls_client_recvrec_buf(tls_client *c, size_t *len) { return br_ssl_engine_recvrec_buf(&c->sc.eng, len); }
uint8_t *tls_client_sendapp_buf(tls_client *c, size_t *len) { return br_ssl_engine_sendapp_buf(&c->sc.eng, len); }
uint8_t *tls_client_recvapp_buf(tls_client *c, size_t *len) { return br_ssl_engine_recvapp_buf(&c->sc.eng, len); }

void tls_client_sendrec_ack(tls_client *c, size_t n) { br_ssl_engine_sendrec_ack(&c->sc.eng, n); note_progress(c); }
void tls_client_recvrec_ack(tls_client *c, size_t n) { br_ssl_engine_recvrec_ack(&c->sc.eng, n); note_progress(c); }
void tls_client_sendapp_ack(tls_client *c, size_t n) { br_ssl_engine_sendapp_ack(&c->sc.eng, n); }
void tls_client_recvapp_ack(tls_client *c, size_t n) { br_ssl_engine_recvapp_ack(&c->sc.eng, n); }

void tls_client_flush(tls_client *c) { br_ssl_engine_flush(&c->sc.eng, 0); }
void tls_client_close(tls_client *c) { br_ssl_engine_close(&c->sc.eng); }

bool tls_client_handshake_done(const tls_client *c)
{
	return c->hs_done ||
	    (br_ssl_engine_current_state(&c->sc.eng) & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)) != 0;
}

int tls_client_error(const tls_client *c)
{
	return br_ssl_engine_last_error(&c->sc.eng);
}

const char *tls_client_suite(const tls_client *c)
{
	return tls_client_handshake_done(c) ? tls_suite_name(c->sc.eng.session.cipher_suite) : "";
}

const char *tls_suite_name(unsigned suite)
{
	switch (suite) {
	case BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: return "ECDHE-ECDSA-AES128-GCM-SHA256";
	case BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: return "ECDHE-RSA-AES128-GCM-SHA256";
	case BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: return "ECDHE-ECDSA-AES256-GCM-SHA384";
	case BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: return "ECDHE-RSA-AES256-GCM-SHA384";
	case BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: return "ECDHE-ECDSA-CHACHA20-POLY1305";
	case BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: return "ECDHE-RSA-CHACHA20-POLY1305";
	}
	return "";
}
