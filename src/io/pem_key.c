/*
 * Implementation notes.  One PEM walker feeds both readers: each object's
 * base64 body is decoded into a bounded buf and handed over whole, so the
 * key and X.509 decoders see complete DER.  BearSSL's decoders point into
 * their own contexts, so a key's components are copied into one allocation
 * owned by the pem_key (wiped on free), and a chain's certificates into one
 * block after the array.  BearSSL's skey decoder recognises PKCS#1, SEC1 and
 * PKCS#8 by their DER shape, so the PEM label only decides what is a key.
 */
#include "io/pem_key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/str.h"
#include "io/tls.h"

/* One decoded object may be this large (a certificate or a key). */
#define MAX_OBJECT (1u << 20)


int pem_read_file(const char *path, size_t max, buf *out, char *err, size_t errsz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t start = buf_len(out);
	int rc = -1;

	if (fd < 0) {
		str_errf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		ssize_t n;

		if (buf_len(out) - start >= max || buf_reserve(out, 16384) < 0) {
			str_errf(err, errsz, "%s: file too large or out of memory", path);
			goto out;
		}
		n = read(fd, buf_tail(out), buf_tail_room(out));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			str_errf(err, errsz, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		buf_commit(out, (size_t)n);
	}
	if (buf_len(out) - start > max) {
		str_errf(err, errsz, "%s: file too large", path);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

/* ---- the PEM walker ------------------------------------------------------------ */

/* Called once per complete object; returns 0 to go on, 1 to stop early, -1 to fail. */
typedef int (*object_fn)(void *ctx, const char *name, const uint8_t *der, size_t len);

typedef struct walk {
	br_pem_decoder_context pc;
	buf der;
	bool der_failed, in_obj;
	char name[128];
	object_fn fn;
	void *ctx;
	int stop;	/* 0 going, 1 stopped early, -1 failed */
	char *err;
	size_t errsz;
} walk;

static void der_cb(void *ctx, const void *p, size_t n)
{
	walk *w = ctx;

	if (!w->der_failed && buf_append(&w->der, p, n) < 0)
		w->der_failed = true;
}

static void walk_push(walk *w, const uint8_t *p, size_t len)
{
	while (len > 0 && w->stop == 0) {
		size_t n = br_pem_decoder_push(&w->pc, p, len);

		p += n;
		len -= n;
		switch (br_pem_decoder_event(&w->pc)) {
		case BR_PEM_BEGIN_OBJ:
			snprintf(w->name, sizeof(w->name), "%s", br_pem_decoder_name(&w->pc));
			w->in_obj = true;
			buf_reset(&w->der);
			w->der_failed = false;
			br_pem_decoder_setdest(&w->pc, der_cb, w);
			break;
		case BR_PEM_END_OBJ:
			w->in_obj = false;
			if (w->der_failed) {
				str_errf(w->err, w->errsz, "PEM object \"%s\" too large or out of memory", w->name);
				w->stop = -1;
				break;
			}
			w->stop = w->fn(w->ctx, w->name, buf_data(&w->der), buf_len(&w->der));
			break;
		case BR_PEM_ERROR:
			str_errf(w->err, w->errsz, "%s", "malformed PEM (bad base64 or framing)");
			w->stop = -1;
			break;
		default:
			break;
		}
	}
}

/* Walks every object of the text; returns 0 (ran to the end or stopped early) or -1. */
static int pem_walk(const void *pem, size_t len, object_fn fn, void *ctx, char *err, size_t errsz)
{
	const uint8_t *p = pem, *end = p + len;
	walk w;
	int rc;

	memset(&w, 0, sizeof(w));
	br_pem_decoder_init(&w.pc);
	buf_init(&w.der);
	buf_set_limit(&w.der, MAX_OBJECT);
	w.fn = fn;
	w.ctx = ctx;
	w.err = err;
	w.errsz = errsz;
	/* BearSSL's decoder does not take CR: CRLF text is fed without its CRs */
	while (p < end && w.stop == 0) {
		const uint8_t *cr = memchr(p, '\r', (size_t)(end - p));
		const uint8_t *stop = cr ? cr : end;

		walk_push(&w, p, (size_t)(stop - p));
		p = cr ? cr + 1 : end;
	}
	/* an object's end is reported after the newline that follows its END
	 * line: one more newline covers a file without it */
	if (w.stop == 0)
		walk_push(&w, (const uint8_t *)"\n", 1);
	if (w.stop == 0 && w.in_obj) {
		str_errf(err, errsz, "%s", "malformed PEM (object not terminated)");
		w.stop = -1;
	}
	rc = w.stop < 0 ? -1 : 0;
	/* the DER of a key passed through here */
	if (w.der.base != NULL)
		explicit_bzero(w.der.base, w.der.cap);
	buf_free(&w.der);
	explicit_bzero(&w.pc, sizeof(w.pc));
	return rc;
}

/* ---- private keys ----------------------------------------------------------------- */

struct pem_key {
	int type;
	br_rsa_private_key rsa;
	br_ec_private_key ec;
	size_t len;		/* bytes at mem */
	uint8_t mem[];
};

typedef struct key_ctx {
	pem_key *key;
	bool encrypted;
	char *err;
	size_t errsz;
} key_ctx;

static pem_key *key_alloc(size_t len)
{
	pem_key *k = xcalloc(1, sizeof(*k) + len);

	k->len = len;
	return k;
}

static int key_object(void *ctx, const char *name, const uint8_t *der, size_t len)
{
	key_ctx *kc = ctx;
	br_skey_decoder_context dc;
	int rc = -1;

	if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0) {
		kc->encrypted = true;
		return 0;
	}
	if (strcmp(name, "RSA PRIVATE KEY") != 0 && strcmp(name, "EC PRIVATE KEY") != 0 &&
	    strcmp(name, "PRIVATE KEY") != 0)
		return 0;
	br_skey_decoder_init(&dc);
	br_skey_decoder_push(&dc, der, len);
	if (br_skey_decoder_last_error(&dc) != 0) {
		str_errf(kc->err, kc->errsz, "bad private key in PEM (%s): not an RSA or EC key (P-256, P-384, P-521)", name);
		goto out;
	}
	if (br_skey_decoder_key_type(&dc) == BR_KEYTYPE_RSA) {
		const br_rsa_private_key *s = br_skey_decoder_get_rsa(&dc);
		size_t total = s->plen + s->qlen + s->dplen + s->dqlen + s->iqlen;
		pem_key *k = key_alloc(total);
		uint8_t *m = k->mem;

		k->type = BR_KEYTYPE_RSA;
		k->rsa.n_bitlen = s->n_bitlen;
#define COPY(f) do { memcpy(m, s->f, s->f##len); k->rsa.f = m; k->rsa.f##len = s->f##len; m += s->f##len; } while (0)
		COPY(p);
		COPY(q);
		COPY(dp);
		COPY(dq);
		COPY(iq);
#undef COPY
		kc->key = k;
	} else if (br_skey_decoder_key_type(&dc) == BR_KEYTYPE_EC) {
		const br_ec_private_key *s = br_skey_decoder_get_ec(&dc);
		pem_key *k;

		if (s->curve != BR_EC_secp256r1 && s->curve != BR_EC_secp384r1 && s->curve != BR_EC_secp521r1) {
			str_errf(kc->err, kc->errsz, "%s", "EC private key on an unsupported curve (want P-256, P-384 or P-521)");
			goto out;
		}
		k = key_alloc(s->xlen);
		k->type = BR_KEYTYPE_EC;
		k->ec.curve = s->curve;
		memcpy(k->mem, s->x, s->xlen);
		k->ec.x = k->mem;
		k->ec.xlen = s->xlen;
		kc->key = k;
	} else {
		str_errf(kc->err, kc->errsz, "%s", "unsupported private key type");
		goto out;
	}
	rc = 1;	/* the first key is the one */
out:
	explicit_bzero(&dc, sizeof(dc));
	return rc;
}

pem_key *pem_key_parse(const void *pem, size_t len, char *err, size_t errsz)
{
	key_ctx kc = {NULL, false, err, errsz};

	if (pem_walk(pem, len, key_object, &kc, err, errsz) < 0) {
		pem_key_free(kc.key);
		return NULL;
	}
	if (kc.key == NULL)
		str_errf(err, errsz, "%s", kc.encrypted ? "encrypted private keys are not supported" :
		    "no private key in PEM (want RSA PRIVATE KEY, EC PRIVATE KEY or PRIVATE KEY)");
	return kc.key;
}

pem_key *pem_key_load_file(const char *path, char *err, size_t errsz)
{
	buf b = BUF_INIT;
	pem_key *k = NULL;
	char why[256];

	if (pem_read_file(path, PEM_MAX_FILE, &b, err, errsz) == 0) {
		k = pem_key_parse(buf_data(&b), buf_len(&b), why, sizeof(why));
		if (k == NULL)
			str_errf(err, errsz, "%s: %s", path, why);
	}
	if (b.base != NULL)
		explicit_bzero(b.base, b.cap);
	buf_free(&b);
	return k;
}

void pem_key_free(pem_key *k)
{
	if (k == NULL)
		return;
	explicit_bzero(k, sizeof(*k) + k->len);
	free(k);
}

int pem_key_type(const pem_key *k) { return k->type; }

unsigned pem_key_bits(const pem_key *k)
{
	if (k->type == BR_KEYTYPE_RSA)
		return k->rsa.n_bitlen;
	switch (k->ec.curve) {
	case BR_EC_secp256r1: return 256;
	case BR_EC_secp384r1: return 384;
	default: return 521;
	}
}

const br_rsa_private_key *pem_key_rsa(const pem_key *k) { return k->type == BR_KEYTYPE_RSA ? &k->rsa : NULL; }
const br_ec_private_key *pem_key_ec(const pem_key *k) { return k->type == BR_KEYTYPE_EC ? &k->ec : NULL; }

/* ---- certificate chains --------------------------------------------------------------- */

struct pem_chain {
	br_x509_certificate *certs;
	size_t n, cap;
	int key_type, issuer_key_type;
	/* the leaf's public key, for pem_chain_matches_key */
	uint8_t *pub1, *pub2;	/* RSA n and e, or EC point */
	size_t pub1_len, pub2_len;
	int curve;
};

typedef struct chain_ctx {
	pem_chain *c;
	char *err;
	size_t errsz;
} chain_ctx;

static int chain_object(void *ctx, const char *name, const uint8_t *der, size_t len)
{
	chain_ctx *cc = ctx;
	pem_chain *c = cc->c;
	uint8_t *copy;

	if (strcmp(name, "CERTIFICATE") != 0 && strcmp(name, "X509 CERTIFICATE") != 0)
		return 0;
	if (len == 0) {
		str_errf(cc->err, cc->errsz, "%s", "bad certificate in PEM: empty");
		return -1;
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 4;
		c->certs = xrealloc(c->certs, c->cap * sizeof(*c->certs));
	}
	copy = xmalloc(len);
	memcpy(copy, der, len);
	c->certs[c->n].data = copy;
	c->certs[c->n].data_len = len;
	c->n++;
	return 0;
}

static void discard(void *ctx, const void *p, size_t n)
{
	(void)ctx, (void)p, (void)n;
}

/* Decodes the leaf: its key (kept for the match check) and its issuer's key type. */
static int decode_leaf(pem_chain *c, char *err, size_t errsz)
{
	br_x509_decoder_context dc;
	const br_x509_pkey *pk;

	br_x509_decoder_init(&dc, discard, NULL);
	br_x509_decoder_push(&dc, c->certs[0].data, c->certs[0].data_len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (pk == NULL) {
		int e = br_x509_decoder_last_error(&dc);

		str_errf(err, errsz, "bad certificate in PEM: %s", e ? tls_error_string(e) : "truncated");
		return -1;
	}
	c->key_type = pk->key_type;
	c->issuer_key_type = br_x509_decoder_get_signer_key_type(&dc);
	if (pk->key_type == BR_KEYTYPE_RSA) {
		c->pub1_len = pk->key.rsa.nlen;
		c->pub2_len = pk->key.rsa.elen;
		c->pub1 = xmalloc(c->pub1_len + c->pub2_len + 1);
		memcpy(c->pub1, pk->key.rsa.n, c->pub1_len);
		c->pub2 = c->pub1 + c->pub1_len;
		memcpy(c->pub2, pk->key.rsa.e, c->pub2_len);
	} else if (pk->key_type == BR_KEYTYPE_EC) {
		c->curve = pk->key.ec.curve;
		c->pub1_len = pk->key.ec.qlen;
		c->pub1 = xmalloc(c->pub1_len + 1);
		memcpy(c->pub1, pk->key.ec.q, c->pub1_len);
	} else {
		str_errf(err, errsz, "%s", "certificate key is neither RSA nor EC");
		return -1;
	}
	return 0;
}

pem_chain *pem_chain_parse(const void *pem, size_t len, char *err, size_t errsz)
{
	chain_ctx cc = {xcalloc(1, sizeof(pem_chain)), err, errsz};

	if (pem_walk(pem, len, chain_object, &cc, err, errsz) < 0)
		goto fail;
	if (cc.c->n == 0) {
		str_errf(err, errsz, "%s", "no certificate in PEM");
		goto fail;
	}
	if (decode_leaf(cc.c, err, errsz) < 0)
		goto fail;
	return cc.c;
fail:
	pem_chain_free(cc.c);
	return NULL;
}

pem_chain *pem_chain_load_file(const char *path, char *err, size_t errsz)
{
	buf b = BUF_INIT;
	pem_chain *c = NULL;
	char why[256];

	if (pem_read_file(path, PEM_MAX_FILE, &b, err, errsz) == 0) {
		c = pem_chain_parse(buf_data(&b), buf_len(&b), why, sizeof(why));
		if (c == NULL)
			str_errf(err, errsz, "%s: %s", path, why);
	}
	buf_free(&b);
	return c;
}

void pem_chain_free(pem_chain *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->certs[i].data);
	free(c->certs);
	free(c->pub1);
	free(c);
}

size_t pem_chain_len(const pem_chain *c) { return c->n; }
const br_x509_certificate *pem_chain_certs(const pem_chain *c) { return c->certs; }
int pem_chain_key_type(const pem_chain *c) { return c->key_type; }
int pem_chain_issuer_key_type(const pem_chain *c) { return c->issuer_key_type; }

bool pem_chain_matches_key(const pem_chain *c, const pem_key *k, char *err, size_t errsz)
{
	if (c->key_type != k->type) {
		str_errf(err, errsz, "%s key but %s certificate", k->type == BR_KEYTYPE_RSA ? "RSA" : "EC",
		    c->key_type == BR_KEYTYPE_RSA ? "RSA" : "EC");
		return false;
	}
	if (k->type == BR_KEYTYPE_RSA) {
		/* a signature the certificate's key verifies: BearSSL's pubexp
		 * recovery needs p, q = 3 mod 4, which most keys are not */
		static const uint8_t hash[32] = "cplane: does the key match?";
		br_rsa_public_key pub = {c->pub1, c->pub1_len, c->pub2, c->pub2_len};
		size_t slen = (k->rsa.n_bitlen + 7) / 8;
		uint8_t out[32], *sig = xmalloc(slen);
		bool same;

		same = br_rsa_pkcs1_sign_get_default()(BR_HASH_OID_SHA256, hash, sizeof(hash), &k->rsa, sig) &&
		    br_rsa_pkcs1_vrfy_get_default()(sig, slen, BR_HASH_OID_SHA256, sizeof(out), &pub, out) &&
		    memcmp(out, hash, sizeof(out)) == 0;
		free(sig);
		if (!same)
			str_errf(err, errsz, "%s", "private key does not match the certificate");
		return same;
	} else {
		uint8_t q[BR_EC_KBUF_PUB_MAX_SIZE];
		br_ec_public_key pk;
		size_t qlen = br_ec_compute_pub(br_ec_get_default(), &pk, q, &k->ec);

		if (qlen == 0 || k->ec.curve != c->curve || qlen != c->pub1_len ||
		    memcmp(q, c->pub1, qlen) != 0) {
			str_errf(err, errsz, "%s", "private key does not match the certificate");
			return false;
		}
		return true;
	}
}
