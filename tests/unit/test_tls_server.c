/*
 * The TLS server engine (src/io/tls_server.c) without sockets: BearSSL
 * clients handshake with it through memory.  ALPN selection and refusals, RSA
 * and ECDSA pairs, client certificates, the rotation check on an injected
 * clock (due times, identity changes, a broken pair kept out, engines keeping
 * the pair they started with) and the handshake counters.  Keys and
 * certificates are made by openssl at test time in a temporary directory.
 */
#include <bearssl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "openssl_util.h"
#include "io/pem_key.h"
#include "io/tls.h"
#include "io/tls_server.h"
#include "io/tls_stream.h"

#define LEAF(name, newkey, ca, eku) \
	"openssl req " newkey " -nodes -keyout " name ".key -out " name ".csr -subj /CN=" name " && " \
	"printf 'subjectAltName=DNS:localhost\\nextendedKeyUsage=" eku "\\n' > " name ".ext && " \
	"openssl x509 -req -in " name ".csr -CA " ca ".pem -CAkey " ca ".key -CAcreateserial -days 2 " \
	"-extfile " name ".ext -out " name ".pem"
#define EC "-newkey ec -pkeyopt ec_paramgen_curve:P-256"

static bool make_material(void)
{
	return sh("openssl req -x509 " EC " -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=ca "
	       "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign") &&
	    sh("openssl req -x509 " EC " -nodes -keyout other.key -out other.pem -days 2 -subj /CN=other "
	       "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign") &&
	    sh(LEAF("ec", EC, "ca", "serverAuth")) &&
	    sh(LEAF("rsa", "-newkey rsa:2048", "ca", "serverAuth")) &&
	    sh(LEAF("client", EC, "ca", "clientAuth")) &&
	    sh(LEAF("stranger", EC, "other", "clientAuth")) &&
	    sh("cp ec.pem cur.pem && cp ec.key cur.key");
}

/* ---- an in-memory BearSSL client --------------------------------------------------- */

typedef struct client {
	br_ssl_client_context cc;
	br_x509_minimal_context xc;
	tls_anchors *ta;
	pem_chain *chain;
	pem_key *key;
	unsigned char buf[BR_SSL_BUFSIZE_BIDI];
} client;

static client *client_new(const char **alpn, size_t nalpn, const char *cert, const char *key)
{
	client *c = calloc(1, sizeof(*c));
	size_t n;
	const br_x509_trust_anchor *ta;

	c->ta = tls_anchors_new();
	if (tls_anchors_load_file(c->ta, path("ca.pem"), NULL, 0) != 1)
		abort();
	ta = tls_anchors_br(c->ta, &n);
	br_ssl_client_init_full(&c->cc, &c->xc, ta, n);
	br_ssl_engine_set_buffer(&c->cc.eng, c->buf, sizeof(c->buf), 1);
	if (nalpn > 0)
		br_ssl_engine_set_protocol_names(&c->cc.eng, alpn, nalpn);
	if (cert != NULL) {
		c->chain = pem_chain_load_file(path(cert), NULL, 0);
		c->key = pem_key_load_file(path(key), NULL, 0);
		if (c->chain == NULL || c->key == NULL)
			abort();
		br_ssl_client_set_single_ec(&c->cc, pem_chain_certs(c->chain), pem_chain_len(c->chain),
		    pem_key_ec(c->key), BR_KEYTYPE_SIGN, BR_KEYTYPE_EC, br_ec_get_default(),
		    br_ecdsa_sign_asn1_get_default());
	}
	br_ssl_client_reset(&c->cc, "localhost", 0);
	return c;
}

static void client_free(client *c)
{
	tls_anchors_free(c->ta);
	pem_chain_free(c->chain);
	pem_key_free(c->key);
	free(c);
}

/* Moves records both ways until neither side makes progress. */
static void pump(client *c, tls_server *s)
{
	for (int guard = 0; guard < 1000; guard++) {
		bool moved = false;
		size_t a, b;
		uint8_t *src, *dst;

		if ((src = br_ssl_engine_sendrec_buf(&c->cc.eng, &a)) != NULL &&
		    (dst = tls_server_recvrec_buf(s, &b)) != NULL) {
			size_t n = a < b ? a : b;

			memcpy(dst, src, n);
			br_ssl_engine_sendrec_ack(&c->cc.eng, n);
			tls_server_recvrec_ack(s, n);
			moved = true;
		}
		if ((src = tls_server_sendrec_buf(s, &a)) != NULL &&
		    (dst = br_ssl_engine_recvrec_buf(&c->cc.eng, &b)) != NULL) {
			size_t n = a < b ? a : b;

			memcpy(dst, src, n);
			tls_server_sendrec_ack(s, n);
			br_ssl_engine_recvrec_ack(&c->cc.eng, n);
			moved = true;
		}
		if (!moved)
			return;
	}
}

static bool client_up(client *c)
{
	return (br_ssl_engine_current_state(&c->cc.eng) & BR_SSL_SENDAPP) != 0;
}

static tls_server_config *config(const char *cert, const char *key, const char *ca, int64_t now)
{
	tls_server_files f = {path(cert), path(key), ca ? path(ca) : NULL, 0};
	char err[256] = "";
	tls_server_config *cfg = tls_server_config_new(&f, now, err, sizeof(err));

	if (cfg == NULL)
		fprintf(stderr, "config: %s\n", err);
	return cfg;
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_alpn(void)
{
	static const char *h2[] = {"h2"}, *h1[] = {"http/1.1"}, *both[] = {"http/1.1", "h2"};
	tls_server_config *cfg = config("ec.pem", "ec.key", NULL, 0);
	struct { const char **names; size_t n; bool ok; } cases[] = {
		{h2, 1, true}, {both, 2, true}, {h1, 1, false}, {NULL, 0, false},
	};

	if (cfg == NULL) {
		CHECK(cfg != NULL);
		return;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		client *c = client_new(cases[i].names, cases[i].n, NULL, NULL);
		tls_server *s = tls_server_new(cfg, NULL, 0);

		pump(c, s);
		CHECK_EQ_INT(client_up(c), cases[i].ok);
		CHECK_EQ_INT(tls_server_handshake_done(s), cases[i].ok);
		if (cases[i].ok) {
			CHECK_EQ_STR(tls_server_protocol(s), "h2");
			CHECK_EQ_STR(br_ssl_engine_get_selected_protocol(&c->cc.eng), "h2");
			CHECK(strncmp(tls_server_suite(s), "ECDHE-ECDSA-", 12) == 0);
		} else {
			CHECK(tls_server_state(s) & TLS_CLOSED);
			CHECK_EQ_STR(tls_server_protocol(s), "");
			/* the client heard why: no_application_protocol, with ALPN or without */
			CHECK_EQ_INT(br_ssl_engine_last_error(&c->cc.eng), BR_ERR_RECV_FATAL_ALERT + 120);
			CHECK_EQ_INT(tls_server_error(s), BR_ERR_SEND_FATAL_ALERT + 120);
		}
		tls_server_free(s);
		client_free(c);
	}
	CHECK_EQ_INT(tls_server_config_stats(cfg)->handshakes[TLS_HS_OK], 2);
	CHECK_EQ_INT(tls_server_config_stats(cfg)->handshakes[TLS_HS_NO_ALPN], 2);
	CHECK_EQ_INT(tls_server_config_stats(cfg)->conns_open, 0);
	tls_server_config_free(cfg);
}

/* A ClientHello without ALPN, fed in every piece size: always refused with 120, never by the engine. */
static void test_no_alpn_any_split(void)
{
	tls_server_config *cfg = config("ec.pem", "ec.key", NULL, 0);
	client *c = client_new(NULL, 0, NULL, NULL);
	uint8_t hello[2048], *p;
	size_t hn = 0, n, tries = 0;

	if (cfg == NULL || c == NULL) {
		CHECK(cfg != NULL && c != NULL);
		return;
	}
	while ((p = br_ssl_engine_sendrec_buf(&c->cc.eng, &n)) != NULL && hn + n <= sizeof(hello)) {
		memcpy(hello + hn, p, n);
		hn += n;
		br_ssl_engine_sendrec_ack(&c->cc.eng, n);
	}
	CHECK(hn > 50 && hello[0] == 22);
	for (size_t piece = 1; piece <= hn; piece += piece < 16 ? 1 : 37) {
		tls_server *s = tls_server_new(cfg, NULL, 0);
		size_t off = 0;

		tries++;
		while (off < hn && (p = tls_server_recvrec_buf(s, &n)) != NULL) {
			if (n > piece)
				n = piece;
			if (n > hn - off)
				n = hn - off;
			memcpy(p, hello + off, n);
			tls_server_recvrec_ack(s, n);
			off += n;
		}
		CHECK_EQ_INT(off, hn);
		p = tls_server_sendrec_buf(s, &n);
		CHECK(p != NULL && n == 7 && memcmp(p, "\x15\x03\x03\x00\x02\x02\x78", 7) == 0);
		tls_server_sendrec_ack(s, n);
		CHECK_EQ_INT(tls_server_state(s), TLS_CLOSED);
		CHECK_EQ_INT(tls_server_error(s), BR_ERR_SEND_FATAL_ALERT + 120);
		tls_server_free(s);
	}
	CHECK_EQ_INT(tls_server_config_stats(cfg)->handshakes[TLS_HS_NO_ALPN], tries);
	CHECK_EQ_INT(tls_server_config_stats(cfg)->handshakes[TLS_HS_PROTOCOL], 0);
	CHECK_EQ_INT(tls_server_config_stats(cfg)->handshakes[TLS_HS_ABORTED], 0);
	client_free(c);

	/* the same with ALPN h2, in every piece size: the engine answers with its ServerHello */
	{
		static const char *h2[] = {"h2"};

		c = client_new(h2, 1, NULL, NULL);
		hn = 0;
		while ((p = br_ssl_engine_sendrec_buf(&c->cc.eng, &n)) != NULL && hn + n <= sizeof(hello)) {
			memcpy(hello + hn, p, n);
			hn += n;
			br_ssl_engine_sendrec_ack(&c->cc.eng, n);
		}
		for (size_t piece = 1; piece <= hn; piece += piece < 16 ? 1 : 37) {
			tls_server *s = tls_server_new(cfg, NULL, 0);
			size_t off = 0;

			while (off < hn && (p = tls_server_recvrec_buf(s, &n)) != NULL) {
				n = n > piece ? piece : n;
				n = n > hn - off ? hn - off : n;
				memcpy(p, hello + off, n);
				tls_server_recvrec_ack(s, n);
				off += n;
			}
			CHECK_EQ_INT(off, hn);
			p = tls_server_sendrec_buf(s, &n);
			CHECK(p != NULL && n > 100 && p[0] == 22 && p[5] == 2);	/* handshake record, ServerHello */
			tls_server_free(s);
		}
		client_free(c);
	}
	tls_server_config_free(cfg);
}

static void test_app_data_and_garbage(void)
{
	static const char *h2[] = {"h2"};
	tls_server_config *cfg = config("rsa.pem", "rsa.key", NULL, 0);
	client *c = client_new(h2, 1, NULL, NULL);
	tls_server *s = tls_server_new(cfg, NULL, 0);
	uint8_t *p;
	size_t n;

	pump(c, s);
	CHECK(client_up(c));
	CHECK(strncmp(tls_server_suite(s), "ECDHE-RSA-", 10) == 0);
	p = br_ssl_engine_sendapp_buf(&c->cc.eng, &n);
	memcpy(p, "PRI * HTTP/2.0", 14);
	br_ssl_engine_sendapp_ack(&c->cc.eng, 14);
	br_ssl_engine_flush(&c->cc.eng, 0);
	pump(c, s);
	p = tls_server_recvapp_buf(s, &n);
	CHECK(p != NULL && n == 14 && memcmp(p, "PRI * HTTP/2.0", 14) == 0);
	tls_server_free(s);
	client_free(c);

	/* plaintext HTTP/1.1 where a ClientHello belongs: refused, counted as a protocol failure */
	s = tls_server_new(cfg, NULL, 0);
	p = tls_server_recvrec_buf(s, &n);
	CHECK(p != NULL && n >= 5);
	memcpy(p, "GET / HTTP/1.1\r\n", 5);
	tls_server_recvrec_ack(s, 5);
	CHECK(tls_server_state(s) & TLS_CLOSED);
	CHECK(tls_server_error(s) != 0);
	tls_server_free(s);
	/* a connection that ends before any byte: aborted */
	tls_server_free(tls_server_new(cfg, NULL, 0));
	CHECK_EQ_INT(tls_server_config_stats(cfg)->handshakes[TLS_HS_PROTOCOL], 1);
	CHECK_EQ_INT(tls_server_config_stats(cfg)->handshakes[TLS_HS_ABORTED], 1);
	tls_server_config_free(cfg);
}

static void test_client_certificates(void)
{
	static const char *h2[] = {"h2"};
	tls_server_config *cfg = config("ec.pem", "ec.key", "ca.pem", 0);
	struct { const char *cert, *key; bool ok; int alert; } cases[] = {
		{"client.pem", "client.key", true, 0}, {NULL, NULL, false, 116}, {"stranger.pem", "stranger.key", false, 48},
	};

	if (cfg == NULL) {
		CHECK(cfg != NULL);
		return;
	}
	for (size_t i = 0; i < 3; i++) {
		client *c = client_new(h2, 1, cases[i].cert, cases[i].key);
		tls_server *s = tls_server_new(cfg, NULL, 0);

		pump(c, s);
		CHECK_EQ_INT(tls_server_handshake_done(s), cases[i].ok);
		CHECK_EQ_INT(client_up(c), cases[i].ok);
		/* a refusal is said in an alert (BearSSL alone would close without one) */
		if (!cases[i].ok)
			CHECK_EQ_INT(br_ssl_engine_last_error(&c->cc.eng), BR_ERR_RECV_FATAL_ALERT + cases[i].alert);
		tls_server_free(s);
		client_free(c);
	}
	CHECK_EQ_INT(tls_server_config_stats(cfg)->handshakes[TLS_HS_OK], 1);
	CHECK_EQ_INT(tls_server_config_stats(cfg)->handshakes[TLS_HS_CLIENT_CERT], 2);
	tls_server_config_free(cfg);
}

static void test_rotation(void)
{
	static const char *h2[] = {"h2"};
	tls_server_config *cfg = config("cur.pem", "cur.key", NULL, 1000);
	char err[256], what[128];
	tls_server *old, *s;
	client *c;

	if (cfg == NULL) {
		CHECK(cfg != NULL);
		return;
	}
	CHECK_EQ_STR(tls_server_config_describe(cfg, what, sizeof(what)), "EC P-256, 1 certificate");
	old = tls_server_new(cfg, NULL, 0);
	/* RSA replaces EC, by rename (new inode) */
	CHECK(sh("cp rsa.pem n.pem && cp rsa.key n.key && mv n.pem cur.pem && mv n.key cur.key"));
	CHECK_EQ_INT(tls_server_config_check(cfg, 1000, err, sizeof(err)), 0);	/* not due */
	CHECK_EQ_INT(tls_server_config_check(cfg, 10999, err, sizeof(err)), 0);	/* still not due */
	CHECK_EQ_INT(tls_server_config_check(cfg, 11000, err, sizeof(err)), 1);
	CHECK_EQ_STR(tls_server_config_describe(cfg, what, sizeof(what)), "RSA-2048, 1 certificate");
	CHECK_EQ_INT(tls_server_config_check(cfg, 21000, err, sizeof(err)), 0);	/* due, unchanged */

	/* the engine made before keeps its EC pair; a new one has RSA */
	c = client_new(h2, 1, NULL, NULL);
	pump(c, old);
	CHECK(strncmp(tls_server_suite(old), "ECDHE-ECDSA-", 12) == 0);
	client_free(c);
	tls_server_free(old);
	c = client_new(h2, 1, NULL, NULL);
	s = tls_server_new(cfg, NULL, 0);
	pump(c, s);
	CHECK(strncmp(tls_server_suite(s), "ECDHE-RSA-", 10) == 0);
	client_free(c);

	/* a broken pair (EC certificate, RSA key): reported, RSA stays, not retried until it changes */
	CHECK(sh("cp ec.pem n.pem && mv n.pem cur.pem"));
	err[0] = '\0';
	CHECK_EQ_INT(tls_server_config_check(cfg, 31000, err, sizeof(err)), -1);
	CHECK(strstr(err, "RSA key but EC certificate") != NULL);
	CHECK_EQ_STR(tls_server_config_describe(cfg, what, sizeof(what)), "RSA-2048, 1 certificate");
	CHECK_EQ_INT(tls_server_config_check(cfg, 41000, err, sizeof(err)), 0);
	/* a missing file is a change too, and a failure */
	CHECK(sh("rm cur.key"));
	CHECK_EQ_INT(tls_server_config_check(cfg, 51000, err, sizeof(err)), -1);
	CHECK(strstr(err, "No such file") != NULL);
	/* the key arrives: the pair is whole again */
	CHECK(sh("cp ec.key n.key && mv n.key cur.key"));
	CHECK_EQ_INT(tls_server_config_check(cfg, 61000, err, sizeof(err)), 1);
	CHECK_EQ_STR(tls_server_config_describe(cfg, what, sizeof(what)), "EC P-256, 1 certificate");
	CHECK_EQ_INT(tls_server_config_stats(cfg)->reloads, 2);
	CHECK_EQ_INT(tls_server_config_stats(cfg)->reload_failures, 2);
	/* the engine outlives the config's handle and its pair */
	tls_server_config_free(cfg);
	CHECK(strncmp(tls_server_suite(s), "ECDHE-RSA-", 10) == 0);
	tls_server_free(s);
}

static void test_config_errors(void)
{
	tls_server_files f = {NULL, NULL, NULL, 0};
	char err[256];

	CHECK(tls_server_config_new(&f, 0, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "both a certificate file and a key file") != NULL);
	f.cert_file = path("ec.pem");
	f.key_file = path("client.key");
	CHECK(tls_server_config_new(&f, 0, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "private key does not match the certificate") != NULL);
	f.key_file = path("ec.key");
	f.client_ca_file = path("ec.key");
	CHECK(tls_server_config_new(&f, 0, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "no certificate in the client CA bundle") != NULL);
	CHECK_EQ_STR(tls_hs_result_name(TLS_HS_CLIENT_CERT), "client_cert");
}

/*
 * io_tls_stream over a socketpair, a tls_client on one end and a tls_server
 * on the other: the handshake driven by the recv/flush calls alone, then
 * 300 KB of records read through a small out buffer, so that records read
 * ahead wait in the stream's own buffer and come out whole and in order.
 */
static void test_stream_socketpair(void)
{
	static const char *const h2[] = {"h2"};
	tls_server_config *cfg = config("ec.pem", "ec.key", NULL, 0);
	tls_anchors *ta = tls_anchors_new();
	io_tls srv = {0}, cli = {0};
	static uint8_t sent[300000], got[300000];
	size_t nsent = 0, ngot = 0;
	bool saw_pend = false;
	uint8_t small[700];
	int sv[2];

	CHECK(cfg != NULL && ta != NULL);
	if (cfg == NULL || ta == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	CHECK_EQ_INT(tls_anchors_load_file(ta, path("ca.pem"), NULL, 0), 1);
	srv.server = tls_server_new(cfg, NULL, 0);
	cli.client = tls_client_new(ta, "localhost", NULL, 0);
	tls_client_set_alpn(cli.client, h2, 1);
	for (size_t i = 0; i < sizeof(sent); i++)
		sent[i] = (uint8_t)(i * 7 + i / 251);
	for (int turn = 0; turn < 100000 && ngot < sizeof(sent); turn++) {
		ssize_t n;

		io_tls_flush(&cli, sv[0]);
		(void)io_tls_recv(&cli, sv[0], small, sizeof(small));	/* handshake answers */
		if (nsent < sizeof(sent) && io_tls_can_send(&cli)) {
			n = io_tls_send(&cli, sv[0], sent + nsent, sizeof(sent) - nsent);
			if (n > 0)
				nsent += (size_t)n;
		}
		n = io_tls_recv(&srv, sv[1], small, sizeof(small));
		saw_pend |= srv.pend_len > 0;
		if (n > 0) {
			CHECK(ngot + (size_t)n <= sizeof(got));
			if (ngot + (size_t)n > sizeof(got))
				break;
			memcpy(got + ngot, small, (size_t)n);
			ngot += (size_t)n;
		} else {
			CHECK(n < 0 && errno == EAGAIN);
		}
	}
	CHECK(tls_server_handshake_done(srv.server));
	CHECK_EQ_STR(tls_server_protocol(srv.server), "h2");
	CHECK_EQ_INT(ngot, sizeof(sent));
	CHECK(saw_pend);	/* a read straddled records while out was full */
	CHECK(memcmp(got, sent, sizeof(sent)) == 0);
	/* the client ends with close_notify: the server reads 0, the orderly end */
	tls_client_close(cli.client);
	io_tls_flush(&cli, sv[0]);
	CHECK_EQ_INT(io_tls_recv(&srv, sv[1], small, sizeof(small)), 0);
	io_tls_release(&srv);
	io_tls_release(&cli);
	CHECK(srv.pend == NULL && srv.pend_len == 0);
	tls_server_free(srv.server);
	tls_client_free(cli.client);
	tls_anchors_free(ta);
	tls_server_config_free(cfg);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	char cmd[128];
	int rc;

	snprintf(openssl_dir, sizeof(openssl_dir), "/tmp/cplane-tlss-XXXXXX");
	if (mkdtemp(openssl_dir) == NULL || !make_material()) {
		fprintf(stderr, "cannot make test certificates with openssl\n");
		return 1;
	}
	RUN(test_alpn);
	RUN(test_no_alpn_any_split);
	RUN(test_app_data_and_garbage);
	RUN(test_client_certificates);
	RUN(test_rotation);
	RUN(test_config_errors);
	RUN(test_stream_socketpair);
	rc = harness_finish();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", openssl_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", openssl_dir);
	return rc;
}
