/*
 * The Kubernetes client's TLS engine presenting a client certificate
 * (tls_client_set_identity, what a kind/minikube kubeconfig asks for) to a
 * BearSSL server requiring one, through memory: an RSA and an EC client key
 * are accepted; no identity, or one from another CA, is refused by the
 * server.  Material is made by openssl at test time.
 */
#include <bearssl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "openssl_util.h"
#include "io/pem_key.h"
#include "io/tls.h"

#define EC "-newkey ec -pkeyopt ec_paramgen_curve:P-256"
#define CA(name) "openssl req -x509 " EC " -nodes -keyout " name ".key -out " name ".pem -days 2 -subj /CN=" name \
	" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign"
#define LEAF(name, newkey, ca, eku) \
	"openssl req " newkey " -nodes -keyout " name ".key -out " name ".csr -subj /CN=" name " && " \
	"printf 'subjectAltName=DNS:localhost\\nextendedKeyUsage=" eku "\\n' > " name ".ext && " \
	"openssl x509 -req -in " name ".csr -CA " ca ".pem -CAkey " ca ".key -CAcreateserial -days 2 " \
	"-extfile " name ".ext -out " name ".pem"

/* A BearSSL server (EC key) that requires a client certificate from the anchors, in memory. */
typedef struct server {
	br_ssl_server_context sc;
	br_x509_minimal_context xc;
	pem_chain *chain;
	pem_key *key;
	unsigned char buf[BR_SSL_BUFSIZE_BIDI];
} server;

static server *server_new(const tls_anchors *ta)
{
	server *s = calloc(1, sizeof(*s));
	const br_x509_trust_anchor *tas;
	size_t n;

	s->chain = pem_chain_load_file(path("server.pem"), NULL, 0);
	s->key = pem_key_load_file(path("server.key"), NULL, 0);
	if (s->chain == NULL || s->key == NULL || pem_key_ec(s->key) == NULL)
		abort();
	tas = tls_anchors_br(ta, &n);
	br_ssl_server_init_full_ec(&s->sc, pem_chain_certs(s->chain), pem_chain_len(s->chain), BR_KEYTYPE_EC,
	    pem_key_ec(s->key));
	/* Asking for a certificate from these CAs; an empty or unknown chain fails the X.509 check. */
	br_x509_minimal_init_full(&s->xc, tas, n);
	br_ssl_engine_set_x509(&s->sc.eng, &s->xc.vtable);
	/* Verifiers for the client's CertificateVerify; they also decide the certificate types asked for. */
	br_ssl_engine_set_default_rsavrfy(&s->sc.eng);
	br_ssl_engine_set_default_ecdsa(&s->sc.eng);
	br_ssl_server_set_trust_anchor_names_alt(&s->sc, tas, n);
	br_ssl_engine_set_buffer(&s->sc.eng, s->buf, sizeof(s->buf), 1);
	br_ssl_server_reset(&s->sc);
	return s;
}

static void server_free(server *s)
{
	pem_chain_free(s->chain);
	pem_key_free(s->key);
	free(s);
}

/* Moves records both ways until neither side makes progress. */
static void pump(tls_client *c, server *sv)
{
	br_ssl_engine_context *s = &sv->sc.eng;

	for (int guard = 0; guard < 1000; guard++) {
		size_t a, b, n;
		uint8_t *src, *dst;
		int moved = 0;

		if ((src = tls_client_sendrec_buf(c, &a)) && (dst = br_ssl_engine_recvrec_buf(s, &b))) {
			n = a < b ? a : b;
			memcpy(dst, src, n);
			tls_client_sendrec_ack(c, n);
			br_ssl_engine_recvrec_ack(s, n);
			moved = 1;
		}
		if ((src = br_ssl_engine_sendrec_buf(s, &a)) && (dst = tls_client_recvrec_buf(c, &b))) {
			n = a < b ? a : b;
			memcpy(dst, src, n);
			br_ssl_engine_sendrec_ack(s, n);
			tls_client_recvrec_ack(c, n);
			moved = 1;
		}
		if (!moved)
			return;
	}
}

/* One handshake with cert/key as the client's identity (NULL = none); whether both ends finished. */
static int handshake(const tls_anchors *ta, const char *cert, const char *key)
{
	char err[256] = "";
	tls_client *c = tls_client_new(ta, "localhost", err, sizeof(err));
	server *s = server_new(ta);
	pem_chain *chain = cert ? pem_chain_load_file(path(cert), err, sizeof(err)) : NULL;
	pem_key *k = key ? pem_key_load_file(path(key), err, sizeof(err)) : NULL;
	int ok;

	CHECK(c != NULL);
	if (cert) {
		CHECK(chain != NULL && k != NULL);
		CHECK_EQ_INT(tls_client_set_identity(c, chain, k, err, sizeof(err)), 0);
	}
	pump(c, s);
	ok = tls_client_handshake_done(c) &&
	    (br_ssl_engine_current_state(&s->sc.eng) & BR_SSL_SENDAPP) != 0;
	if (getenv("DEBUG_TLS"))
		fprintf(stderr, "%s: client %d (%s) server %d (%s)\n", cert ? cert : "none", tls_client_error(c),
		    tls_error_string(tls_client_error(c)), br_ssl_engine_last_error(&s->sc.eng),
		    tls_error_string(br_ssl_engine_last_error(&s->sc.eng)));
	tls_client_free(c);
	server_free(s);
	pem_chain_free(chain);
	pem_key_free(k);
	return ok;
}

static void test_client_identity(void)
{
	char err[256] = "";
	tls_anchors *ta = tls_anchors_new();

	CHECK_EQ_INT(tls_anchors_load_file(ta, path("ca.pem"), err, sizeof(err)), 1);
	CHECK(handshake(ta, "client-rsa.pem", "client-rsa.key"));
	CHECK(handshake(ta, "client-ec.pem", "client-ec.key"));
	CHECK(!handshake(ta, NULL, NULL));			/* the server insists */
	CHECK(!handshake(ta, "stranger.pem", "stranger.key"));	/* another CA's */
	tls_anchors_free(ta);
}

int main(void)
{
	snprintf(openssl_dir, sizeof(openssl_dir), "/tmp/cplane-tlsca-XXXXXX");
	if (mkdtemp(openssl_dir) == NULL || !sh(CA("ca")) || !sh(CA("other")) ||
	    !sh(LEAF("server", EC, "ca", "serverAuth")) ||
	    !sh(LEAF("client-rsa", "-newkey rsa:2048", "ca", "clientAuth")) ||
	    !sh(LEAF("client-ec", EC, "ca", "clientAuth")) ||
	    !sh(LEAF("stranger", EC, "other", "clientAuth"))) {
		fprintf(stderr, "cannot make test certificates with openssl\n");
		return 1;
	}
	RUN(test_client_identity);
	sh("rm -rf %s", openssl_dir);
	return harness_finish();
}
