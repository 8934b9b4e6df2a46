/*
 * Implementation notes.  The profile is built by hand, as the client's is
 * (tls.c): TLS 1.2 only, ECDHE with AES-GCM / ChaCha20-Poly1305, the key's
 * own signature (BR_KEYTYPE_SIGN), SHA-224..512.  BearSSL's "single" policy
 * for the key picks the suite and signs.  BearSSL refuses an ALPN mismatch
 * by itself (BR_OPT_FAIL_ON_ALPN_MISMATCH) but lets a ClientHello without
 * ALPN through: the hello tap below answers those with
 * no_application_protocol, and a thin policy wrapped around BearSSL's
 * refuses whatever the tap could not judge.
 *
 * A pair (chain, key, client CAs) is reference-counted: the config holds the
 * current one, each engine the one it was made with, because BearSSL links
 * the chain and key in rather than copying them.  The config itself is
 * counted too, so engines may outlive the worker's handle on it (their
 * counters live there).
 */
#include "io/tls_server.h"

#include <bearssl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "base/mem.h"
#include "base/str.h"
#include "io/pem_key.h"
#include "io/tls.h"


const char *tls_hs_result_name(enum tls_hs_result r)
{
	static const char *const names[TLS_HS__COUNT] = {"ok", "no_alpn", "client_cert", "protocol", "aborted"};

	return (unsigned)r < TLS_HS__COUNT ? names[r] : "unknown";
}

/* ---- pairs and the config ------------------------------------------------------- */

typedef struct tls_pair {
	unsigned refs;
	pem_chain *chain;
	pem_key *key;
	tls_anchors *cas;	/* NULL: no client certificates asked */
} tls_pair;

static void pair_unref(tls_pair *p)
{
	if (p == NULL || --p->refs > 0)
		return;
	pem_chain_free(p->chain);
	pem_key_free(p->key);
	tls_anchors_free(p->cas);
	free(p);
}

/* What identifies a file's content without reading it. */
typedef struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int err;	/* stat's errno, 0 when it worked */
} file_id;

enum { F_CERT, F_KEY, F_CA, F__COUNT };

struct tls_server_config {
	unsigned refs;
	char *path[F__COUNT];		/* path[F_CA] NULL without mTLS */
	file_id id[F__COUNT];
	int64_t interval, next_check;
	tls_pair *cur;
	tls_server_stats st;
};

static void stat_files(const tls_server_config *cfg, file_id id[F__COUNT])
{
	memset(id, 0, sizeof(file_id) * F__COUNT);
	for (int i = 0; i < F__COUNT; i++) {
		struct stat sb;

		if (cfg->path[i] == NULL)
			continue;
		if (stat(cfg->path[i], &sb) < 0) {
			id[i].err = errno ? errno : 1;
			continue;
		}
		id[i].dev = sb.st_dev;
		id[i].ino = sb.st_ino;
		id[i].size = sb.st_size;
		id[i].mtime = sb.st_mtim;
	}
}

static bool same_ids(const file_id *a, const file_id *b)
{
	for (int i = 0; i < F__COUNT; i++)
		if (a[i].dev != b[i].dev || a[i].ino != b[i].ino || a[i].size != b[i].size ||
		    a[i].mtime.tv_sec != b[i].mtime.tv_sec || a[i].mtime.tv_nsec != b[i].mtime.tv_nsec ||
		    a[i].err != b[i].err)
			return false;
	return true;
}

/* Reads the files into a new pair; NULL with a reason. */
static tls_pair *load_pair(const tls_server_config *cfg, char *err, size_t errsz)
{
	tls_pair *p = xcalloc(1, sizeof(*p));
	char why[384];

	p->refs = 1;
	if ((p->chain = pem_chain_load_file(cfg->path[F_CERT], err, errsz)) == NULL)
		goto fail;
	if ((p->key = pem_key_load_file(cfg->path[F_KEY], err, errsz)) == NULL)
		goto fail;
	if (!pem_chain_matches_key(p->chain, p->key, why, sizeof(why))) {
		str_errf(err, errsz, "%s and %s: %s", cfg->path[F_KEY], cfg->path[F_CERT], why);
		goto fail;
	}
	if (cfg->path[F_CA] != NULL) {
		int n;

		p->cas = tls_anchors_new();
		n = tls_anchors_load_file(p->cas, cfg->path[F_CA], err, errsz);
		if (n < 0)
			goto fail;
		if (n == 0) {
			str_errf(err, errsz, "%s: no certificate in the client CA bundle", cfg->path[F_CA]);
			goto fail;
		}
	}
	return p;
fail:
	pair_unref(p);
	return NULL;
}

static void config_unref(tls_server_config *cfg)
{
	if (cfg == NULL || --cfg->refs > 0)
		return;
	pair_unref(cfg->cur);
	for (int i = 0; i < F__COUNT; i++)
		free(cfg->path[i]);
	free(cfg);
}

tls_server_config *tls_server_config_new(const tls_server_files *files, int64_t now, char *err, size_t errsz)
{
	tls_server_config *cfg;

	if (files->cert_file == NULL || files->cert_file[0] == '\0' || files->key_file == NULL ||
	    files->key_file[0] == '\0') {
		str_errf(err, errsz, "%s", "TLS needs both a certificate file and a key file");
		return NULL;
	}
	cfg = xcalloc(1, sizeof(*cfg));
	cfg->refs = 1;
	cfg->interval = files->check_interval_ms > 0 ? files->check_interval_ms : TLS_SERVER_CHECK_INTERVAL_MS;
	cfg->next_check = now + cfg->interval;
	cfg->path[F_CERT] = xstrdup(files->cert_file);
	cfg->path[F_KEY] = xstrdup(files->key_file);
	if (files->client_ca_file != NULL && files->client_ca_file[0] != '\0')
		cfg->path[F_CA] = xstrdup(files->client_ca_file);
	/* identity first: a change between stat and read shows at the next check */
	stat_files(cfg, cfg->id);
	if ((cfg->cur = load_pair(cfg, err, errsz)) == NULL) {
		config_unref(cfg);
		return NULL;
	}
	return cfg;
}

void tls_server_config_free(tls_server_config *cfg)
{
	config_unref(cfg);
}

int tls_server_config_check(tls_server_config *cfg, int64_t now, char *err, size_t errsz)
{
	file_id id[F__COUNT];
	tls_pair *p;

	if (now < cfg->next_check)
		return 0;
	cfg->next_check = now + cfg->interval;
	stat_files(cfg, id);
	if (same_ids(id, cfg->id))
		return 0;
	/* remembered either way: a broken set is not read again every interval */
	memcpy(cfg->id, id, sizeof(id));
	if ((p = load_pair(cfg, err, errsz)) == NULL) {
		cfg->st.reload_failures++;
		return -1;
	}
	pair_unref(cfg->cur);
	cfg->cur = p;
	cfg->st.reloads++;
	return 1;
}

const char *tls_server_config_describe(const tls_server_config *cfg, char *out, size_t outsz)
{
	const tls_pair *p = cfg->cur;
	size_t n = pem_chain_len(p->chain);

	snprintf(out, outsz, "%s%u, %zu certificate%s%s", pem_key_type(p->key) == BR_KEYTYPE_RSA ? "RSA-" : "EC P-",
	    pem_key_bits(p->key), n, n == 1 ? "" : "s", p->cas ? ", client certificates required" : "");
	return out;
}

const tls_server_stats *tls_server_config_stats(const tls_server_config *cfg) { return &cfg->st; }

/* ---- one connection ------------------------------------------------------------- */

/* Delegates to BearSSL's policy for the key, after insisting on ALPN. */
typedef struct alpn_policy {
	const br_ssl_server_policy_class *vtable;
	const br_ssl_server_policy_class **inner;
	bool refused;
} alpn_policy;

/*
 * The ClientHello, watched on its way into the engine: BearSSL lets a hello
 * without ALPN through (and only our policy hook could refuse it, with
 * handshake_failure), so the records are read here first and such a hello
 * is answered with no_application_protocol before the engine sees it.  A
 * hello this does not understand (too large, split oddly, not TLS) goes to
 * the engine as it is, and the policy hook still refuses it without ALPN.
 */
enum { HELLO_MAX = 4096 };
enum hello_verdict { HELLO_PENDING, HELLO_ALPN, HELLO_NO_ALPN, HELLO_UNKNOWN };

typedef struct hello_tap {
	uint8_t hdr[5];
	size_t hdr_len, rec_left, msg_len;
	enum hello_verdict verdict;
	uint8_t msg[HELLO_MAX];
} hello_tap;

/* Whether a ClientHello body (after the 4-byte message header) carries ALPN. */
static enum hello_verdict hello_alpn(const uint8_t *b, size_t n)
{
	size_t off = 34, end;	/* client_version, random */

	if (off + 1 > n)
		return HELLO_UNKNOWN;
	off += 1 + b[off];	/* session_id */
	if (off + 2 > n)
		return HELLO_UNKNOWN;
	off += 2 + ((size_t)b[off] << 8 | b[off + 1]);	/* cipher_suites */
	if (off + 1 > n)
		return HELLO_UNKNOWN;
	off += 1 + b[off];	/* compression_methods */
	if (off == n)
		return HELLO_NO_ALPN;	/* no extensions at all */
	if (off + 2 > n)
		return HELLO_UNKNOWN;
	end = off + 2 + ((size_t)b[off] << 8 | b[off + 1]);
	if (end != n)
		return HELLO_UNKNOWN;
	for (off += 2; off + 4 <= end;) {
		unsigned type = (unsigned)b[off] << 8 | b[off + 1];
		size_t len = (size_t)b[off + 2] << 8 | b[off + 3];

		if (type == 0x0010)
			return HELLO_ALPN;
		off += 4 + len;
	}
	return off == end ? HELLO_NO_ALPN : HELLO_UNKNOWN;
}

/* Follows records and the first handshake message across any split. */
static void hello_feed(hello_tap *h, const uint8_t *p, size_t n)
{
	while (n > 0 && h->verdict == HELLO_PENDING) {
		size_t k, need;

		if (h->hdr_len < 5) {
			h->hdr[h->hdr_len++] = *p++;
			n--;
			if (h->hdr_len == 5) {
				h->rec_left = (size_t)h->hdr[3] << 8 | h->hdr[4];
				if (h->hdr[0] != 22 || h->rec_left == 0)
					h->verdict = HELLO_UNKNOWN;
			}
			continue;
		}
		k = n < h->rec_left ? n : h->rec_left;
		if (k > HELLO_MAX - h->msg_len) {
			h->verdict = HELLO_UNKNOWN;
			break;
		}
		memcpy(h->msg + h->msg_len, p, k);
		h->msg_len += k;
		h->rec_left -= k;
		p += k;
		n -= k;
		if (h->rec_left == 0)
			h->hdr_len = 0;
		if (h->msg_len < 4)
			continue;
		need = 4 + ((size_t)h->msg[1] << 16 | (size_t)h->msg[2] << 8 | h->msg[3]);
		if (h->msg[0] != 1 || need > HELLO_MAX)
			h->verdict = HELLO_UNKNOWN;
		else if (h->msg_len >= need)
			h->verdict = hello_alpn(h->msg + 4, need - 4);
	}
}

/*
 * Fatal alerts we write ourselves, in clear (no cipher is in force on our
 * side yet): no_application_protocol for a hello without ALPN, and for a
 * client certificate BearSSL refused, which it ends without a word.
 */
static void set_alert(uint8_t rec[7], uint8_t code)
{
	static const uint8_t hdr[6] = {21, 3, 3, 0, 2, 2};

	memcpy(rec, hdr, sizeof(hdr));
	rec[6] = code;
}

static uint8_t client_cert_alert(int e)
{
	switch (e) {
	case BR_ERR_NO_CLIENT_AUTH: return 116;		/* certificate_required */
	case BR_ERR_X509_NOT_TRUSTED: return 48;	/* unknown_ca */
	case BR_ERR_X509_EXPIRED: return 45;		/* certificate_expired */
	default: return 42;				/* bad_certificate */
	}
}

struct tls_server {
	br_ssl_server_context sc;
	br_x509_minimal_context xc;
	alpn_policy pol;
	tls_server_config *cfg;
	tls_pair *pair;
	bool hs_done, counted;
	bool refusing;		/* a hello without ALPN: the engine never saw it */
	bool alerting;		/* our alert goes out, then the connection is closed */
	uint8_t alert[7];
	size_t alert_sent;
	uint8_t *rr;		/* the engine's record buffer last handed out */
	hello_tap *tap;		/* until the first ClientHello is judged; then freed */
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

static int alpn_choose(const br_ssl_server_policy_class **pctx, const br_ssl_server_context *cc,
    br_ssl_server_choices *choices)
{
	alpn_policy *pol = (alpn_policy *)(void *)pctx;

	if (br_ssl_engine_get_selected_protocol((br_ssl_engine_context *)(uintptr_t)&cc->eng) == NULL) {
		pol->refused = true;
		return 0;
	}
	return (*pol->inner)->choose(pol->inner, cc, choices);
}

static uint32_t alpn_do_keyx(const br_ssl_server_policy_class **pctx, unsigned char *data, size_t *len)
{
	const alpn_policy *pol = (const alpn_policy *)(const void *)pctx;

	return (*pol->inner)->do_keyx(pol->inner, data, len);
}

static size_t alpn_do_sign(const br_ssl_server_policy_class **pctx, unsigned algo_id, unsigned char *data,
    size_t hv_len, size_t len)
{
	const alpn_policy *pol = (const alpn_policy *)(const void *)pctx;

	return (*pol->inner)->do_sign(pol->inner, algo_id, data, hv_len, len);
}

static const br_ssl_server_policy_class alpn_policy_vtable = {
	sizeof(alpn_policy), alpn_choose, alpn_do_keyx, alpn_do_sign,
};

static const uint16_t suites[] = {
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
};

static const char *const alpn_names[] = {"h2"};

tls_server *tls_server_new(tls_server_config *cfg, char *err, size_t errsz)
{
	static const struct { int id; const br_hash_class *vt; } hashes[] = {
		{br_sha224_ID, &br_sha224_vtable}, {br_sha256_ID, &br_sha256_vtable},
		{br_sha384_ID, &br_sha384_vtable}, {br_sha512_ID, &br_sha512_vtable},
	};
	br_ssl_engine_context *eng;
	const tls_pair *p = cfg->cur;
	unsigned char seed[32];
	tls_server *s;

	s = xcalloc(1, sizeof(*s));
	eng = &s->sc.eng;
	br_ssl_server_zero(&s->sc);
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(eng, suites, sizeof(suites) / sizeof(suites[0]));
	br_ssl_engine_add_flags(eng, BR_OPT_FAIL_ON_ALPN_MISMATCH | BR_OPT_NO_RENEGOTIATION);
	br_ssl_engine_set_protocol_names(eng, (const char **)(uintptr_t)alpn_names, 1);
	br_ssl_engine_set_default_ec(eng);
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++)
		br_ssl_engine_set_hash(eng, hashes[i].id, hashes[i].vt);
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
	br_ssl_engine_set_default_aes_gcm(eng);
	br_ssl_engine_set_default_chapol(eng);
	if (pem_key_type(p->key) == BR_KEYTYPE_RSA)
		br_ssl_server_set_single_rsa(&s->sc, pem_chain_certs(p->chain), pem_chain_len(p->chain),
		    pem_key_rsa(p->key), BR_KEYTYPE_SIGN, br_rsa_private_get_default(),
		    br_rsa_pkcs1_sign_get_default());
	else
		br_ssl_server_set_single_ec(&s->sc, pem_chain_certs(p->chain), pem_chain_len(p->chain),
		    pem_key_ec(p->key), BR_KEYTYPE_SIGN, (unsigned)pem_chain_issuer_key_type(p->chain),
		    br_ec_get_default(), br_ecdsa_sign_asn1_get_default());
	s->pol.vtable = &alpn_policy_vtable;
	s->pol.inner = s->sc.policy_vtable;
	s->sc.policy_vtable = &s->pol.vtable;
	if (p->cas != NULL) {
		size_t n;
		const br_x509_trust_anchor *ta = tls_anchors_br(p->cas, &n);

		br_x509_minimal_init(&s->xc, &br_sha256_vtable, ta, n);
		for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++)
			br_x509_minimal_set_hash(&s->xc, hashes[i].id, hashes[i].vt);
		br_ssl_engine_set_default_rsavrfy(eng);
		br_ssl_engine_set_default_ecdsa(eng);
		br_x509_minimal_set_rsa(&s->xc, br_ssl_engine_get_rsavrfy(eng));
		br_x509_minimal_set_ecdsa(&s->xc, br_ssl_engine_get_ec(eng), br_ssl_engine_get_ecdsa(eng));
		br_ssl_engine_set_x509(eng, &s->xc.vtable);
		br_ssl_server_set_trust_anchor_names_alt(&s->sc, ta, n);
	}
	br_ssl_engine_set_buffer(eng, s->iobuf, sizeof(s->iobuf), 1);
	if (getrandom(seed, sizeof(seed), 0) == (ssize_t)sizeof(seed))
		br_ssl_engine_inject_entropy(eng, seed, sizeof(seed));
	if (!br_ssl_server_reset(&s->sc)) {
		str_errf(err, errsz, "tls: %s", tls_error_string(br_ssl_engine_last_error(eng)));
		free(s);
		return NULL;
	}
	s->tap = xcalloc(1, sizeof(*s->tap));
	s->cfg = cfg;
	cfg->refs++;
	s->pair = cfg->cur;
	s->pair->refs++;
	cfg->st.conns_open++;
	return s;
}

static enum tls_hs_result classify(const tls_server *s, int e)
{
	if (s->pol.refused)
		return TLS_HS_NO_ALPN;
	if (e == BR_ERR_SEND_FATAL_ALERT + 120)
		return TLS_HS_NO_ALPN;
	if (e == BR_ERR_NO_CLIENT_AUTH || (e >= BR_ERR_X509_INVALID_VALUE && e <= BR_ERR_X509_NOT_TRUSTED))
		return TLS_HS_CLIENT_CERT;
	if (e >= BR_ERR_SEND_FATAL_ALERT + 41 && e <= BR_ERR_SEND_FATAL_ALERT + 49 && s->pair->cas != NULL &&
	    e != BR_ERR_SEND_FATAL_ALERT + 47)
		return TLS_HS_CLIENT_CERT;
	return e == 0 ? TLS_HS_ABORTED : TLS_HS_PROTOCOL;
}

/* Counts the handshake's outcome once it has one. */
static void note(tls_server *s)
{
	unsigned st;

	if (s->counted)
		return;
	st = br_ssl_engine_current_state(&s->sc.eng);
	if (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)) {
		s->hs_done = true;
		s->counted = true;
		s->cfg->st.handshakes[TLS_HS_OK]++;
	} else if (st & BR_SSL_CLOSED) {
		int e = br_ssl_engine_last_error(&s->sc.eng);

		s->counted = true;
		s->cfg->st.handshakes[classify(s, e)]++;
		if (e == BR_ERR_NO_CLIENT_AUTH || (e >= BR_ERR_X509_INVALID_VALUE && e <= BR_ERR_X509_NOT_TRUSTED)) {
			set_alert(s->alert, client_cert_alert(e));
			s->alerting = true;
		}
	}
}

void tls_server_free(tls_server *s)
{
	if (s == NULL)
		return;
	if (!s->counted)
		s->cfg->st.handshakes[TLS_HS_ABORTED]++;
	s->cfg->st.conns_open--;
	free(s->tap);
	pair_unref(s->pair);
	config_unref(s->cfg);
	explicit_bzero(s, sizeof(*s));	/* session keys */
	free(s);
}

unsigned tls_server_state(tls_server *s)
{
	note(s);
	if (s->alerting)
		return s->alert_sent < sizeof(s->alert) ? TLS_SENDREC : TLS_CLOSED;
	return tls_state_bits(br_ssl_engine_current_state(&s->sc.eng));
}

uint8_t *tls_server_sendrec_buf(tls_server *s, size_t *len)
{
	if (s->alerting) {
		*len = sizeof(s->alert) - s->alert_sent;
		return *len ? s->alert + s->alert_sent : NULL;
	}
	return br_ssl_engine_sendrec_buf(&s->sc.eng, len);
}

uint8_t *tls_server_recvrec_buf(tls_server *s, size_t *len)
{
	if (s->alerting) {
		*len = 0;
		return NULL;
	}
	return s->rr = br_ssl_engine_recvrec_buf(&s->sc.eng, len);
}

uint8_t *tls_server_sendapp_buf(tls_server *s, size_t *len)
{
	if (s->alerting) {
		*len = 0;
		return NULL;
	}
	return br_ssl_engine_sendapp_buf(&s->sc.eng, len);
}

uint8_t *tls_server_recvapp_buf(tls_server *s, size_t *len)
{
	if (s->alerting) {
		*len = 0;
		return NULL;
	}
	return br_ssl_engine_recvapp_buf(&s->sc.eng, len);
}

void tls_server_sendrec_ack(tls_server *s, size_t n)
{
	if (s->alerting) {
		s->alert_sent += n;
		return;
	}
	br_ssl_engine_sendrec_ack(&s->sc.eng, n);
	note(s);
}

void tls_server_recvrec_ack(tls_server *s, size_t n)
{
	if (s->alerting)
		return;
	if (s->tap != NULL) {
		/* judged before the engine takes the bytes: a refused hello never reaches it */
		hello_feed(s->tap, s->rr, n);
		if (s->tap->verdict == HELLO_NO_ALPN) {
			s->refusing = true;
			s->alerting = true;
			set_alert(s->alert, 120);
			s->pol.refused = true;
			s->counted = true;
			s->cfg->st.handshakes[TLS_HS_NO_ALPN]++;
			return;
		}
		if (s->tap->verdict != HELLO_PENDING) {
			free(s->tap);
			s->tap = NULL;
		}
	}
	br_ssl_engine_recvrec_ack(&s->sc.eng, n);
	note(s);
}

void tls_server_sendapp_ack(tls_server *s, size_t n) { br_ssl_engine_sendapp_ack(&s->sc.eng, n); }
void tls_server_recvapp_ack(tls_server *s, size_t n) { br_ssl_engine_recvapp_ack(&s->sc.eng, n); }

void tls_server_flush(tls_server *s)
{
	if (!s->alerting)
		br_ssl_engine_flush(&s->sc.eng, 0);
}

void tls_server_close(tls_server *s)
{
	if (s->alerting)
		return;
	br_ssl_engine_close(&s->sc.eng);
	note(s);
}

bool tls_server_handshake_done(const tls_server *s)
{
	if (s->alerting)
		return false;
	return s->hs_done || (br_ssl_engine_current_state(&s->sc.eng) & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)) != 0;
}

int tls_server_error(const tls_server *s)
{
	return s->refusing ? BR_ERR_SEND_FATAL_ALERT + 120 : br_ssl_engine_last_error(&s->sc.eng);
}

const char *tls_server_suite(const tls_server *s)
{
	return tls_server_handshake_done(s) ? tls_suite_name(s->sc.eng.session.cipher_suite) : "";
}

const char *tls_server_protocol(const tls_server *s)
{
	const char *p;

	if (!tls_server_handshake_done(s))
		return "";
	p = br_ssl_engine_get_selected_protocol((br_ssl_engine_context *)(uintptr_t)&s->sc.eng);
	return p ? p : "";
}
