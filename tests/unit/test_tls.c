/*
 * TLS glue without a network: PEM bundles into trust anchors (RSA and EC,
 * CA and directly-trusted leaf), the in-cluster name rule, the client profile
 * refusing unsafe set-ups, and every BearSSL error code in words.
 * tests/unit/data/ holds certificates generated with openssl for these tests.
 */
#include <bearssl.h>
#include <string.h>

#include "harness.h"
#include "base/buf.h"
#include "io/tls.h"

#define DATA "tests/unit/data/"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	if (f == NULL) {
		fprintf(stderr, "cannot open %s (run from the repository root)\n", path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	if (p != NULL && fread(p, 1, (size_t)n, f) != (size_t)n) {
		free(p);
		p = NULL;
	}
	fclose(f);
	if (p != NULL)
		p[n] = '\0';
	*len = (size_t)n;
	return p;
}

static bool dn_has(const tls_anchors *ta, size_t i, const char *needle)
{
	const char *type;
	unsigned bits;
	bool ca;
	const uint8_t *dn;
	size_t dn_len;

	if (tls_anchors_describe(ta, i, &type, &bits, &ca, &dn, &dn_len) < 0)
		return false;
	return memmem(dn, dn_len, needle, strlen(needle)) != NULL;
}

static void check_anchor(const tls_anchors *ta, size_t i, const char *want_type, unsigned want_bits,
    bool want_ca)
{
	const char *type = NULL;
	unsigned bits = 0;
	bool ca = false;
	const uint8_t *dn;
	size_t dn_len;

	CHECK_EQ_INT(tls_anchors_describe(ta, i, &type, &bits, &ca, &dn, &dn_len), 0);
	CHECK_EQ_STR(type, want_type);
	CHECK_EQ_INT(bits, want_bits);
	CHECK_EQ_INT(ca, want_ca);
	CHECK(dn_len > 10);
}

static void test_bundle(void)
{
	tls_anchors *ta = tls_anchors_new();
	char err[256] = "";

	/* RSA CA, a PUBLIC KEY object (skipped), EC P-256 CA with CRLF lines, EC P-384 leaf
	 * without a final newline, and text between the objects */
	CHECK_EQ_INT(tls_anchors_load_file(ta, DATA "bundle.pem", err, sizeof(err)), 3);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_INT(tls_anchors_count(ta), 3);
	check_anchor(ta, 0, "RSA", 2048, true);
	check_anchor(ta, 1, "EC", 256, true);
	check_anchor(ta, 2, "EC", 384, false);
	CHECK(dn_has(ta, 0, "cplane test RSA CA"));
	CHECK(dn_has(ta, 1, "cplane test EC CA"));
	CHECK(dn_has(ta, 2, "leaf.example"));
	{
		const char *t;
		unsigned b;
		bool ca;
		const uint8_t *dn;
		size_t dl;

		CHECK_EQ_INT(tls_anchors_describe(ta, 3, &t, &b, &ca, &dn, &dl), -1);
	}
	/* adding more keeps counting */
	CHECK_EQ_INT(tls_anchors_load_file(ta, DATA "ca-ec.pem", err, sizeof(err)), 1);
	CHECK_EQ_INT(tls_anchors_count(ta), 4);
	tls_anchors_free(ta);
	tls_anchors_free(NULL);
}

/* The same PEM text must load the same whatever the line endings and surroundings. */
static void test_pem_variants(void)
{
	size_t len;
	char *pem = slurp(DATA "ca-rsa.pem", &len);
	tls_anchors *ta;
	char err[256];
	buf b = BUF_INIT;

	if (pem == NULL) {
		CHECK(!"data file");
		return;
	}
	ta = tls_anchors_new();
	CHECK_EQ_INT(tls_anchors_add_pem(ta, pem, len, err, sizeof(err)), 1);
	/* no final newline */
	CHECK_EQ_INT(tls_anchors_add_pem(ta, pem, len - 1, err, sizeof(err)), 1);
	/* twice in a row, no separator */
	buf_append(&b, pem, len);
	buf_append(&b, pem, len);
	CHECK_EQ_INT(tls_anchors_add_pem(ta, buf_data(&b), buf_len(&b), err, sizeof(err)), 2);
	CHECK_EQ_INT(tls_anchors_count(ta), 4);
	/* nothing in it */
	CHECK_EQ_INT(tls_anchors_add_pem(ta, "", 0, err, sizeof(err)), 0);
	CHECK_EQ_INT(tls_anchors_add_pem(ta, "just text\n", 10, NULL, 0), 0);
	CHECK_EQ_INT(tls_anchors_count(ta), 4);

	/* corrupt base64 */
	buf_reset(&b);
	buf_append(&b, pem, len);
	buf_data(&b)[100] = '*';
	CHECK_EQ_INT(tls_anchors_add_pem(ta, buf_data(&b), buf_len(&b), err, sizeof(err)), -1);
	CHECK(strstr(err, "PEM") != NULL);
	/* without its END line, or cut inside it */
	CHECK_EQ_INT(tls_anchors_add_pem(ta, pem, len - 26, err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "malformed PEM (object not terminated)");
	CHECK_EQ_INT(tls_anchors_add_pem(ta, pem, len - 30, err, sizeof(err)), -1);
	CHECK(strstr(err, "malformed PEM") != NULL);
	/* good base64, not a certificate */
	{
		static const char junk[] = "-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n";

		CHECK_EQ_INT(tls_anchors_add_pem(ta, junk, sizeof(junk) - 1, err, sizeof(err)), -1);
		CHECK(strncmp(err, "bad certificate in PEM: ", 24) == 0);
	}
	/* a bad one after a good one: the good one stays */
	buf_reset(&b);
	buf_append(&b, pem, len);
	buf_append_str(&b, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
	CHECK_EQ_INT(tls_anchors_add_pem(ta, buf_data(&b), buf_len(&b), err, sizeof(err)), -1);
	CHECK_EQ_INT(tls_anchors_count(ta), 5);

	CHECK_EQ_INT(tls_anchors_load_file(ta, DATA "no-such-file.pem", err, sizeof(err)), -1);
	CHECK_EQ_STR(err, DATA "no-such-file.pem: No such file or directory");
	tls_anchors_free(ta);
	buf_free(&b);
	free(pem);
}

static void test_verify_name(void)
{
	CHECK_EQ_STR(tls_verify_name("10.96.0.1"), "kubernetes.default.svc");
	CHECK_EQ_STR(tls_verify_name("::1"), "kubernetes.default.svc");
	CHECK_EQ_STR(tls_verify_name("[fd00::1]"), "kubernetes.default.svc");
	CHECK_EQ_STR(tls_verify_name("kubernetes.default.svc"), "kubernetes.default.svc");
	CHECK_EQ_STR(tls_verify_name("api.example.com"), "api.example.com");
	CHECK_EQ_STR(tls_verify_name("localhost"), "localhost");
	CHECK_EQ_STR(tls_verify_name("10.96.0.1.example"), "10.96.0.1.example");
	CHECK_EQ_STR(tls_verify_name(""), "kubernetes.default.svc");
	CHECK_EQ_STR(tls_verify_name(NULL), "kubernetes.default.svc");
}

static void test_client_setup(void)
{
	tls_anchors *ta = tls_anchors_new(), *empty = tls_anchors_new();
	char err[256] = "";
	tls_client *c;
	uint8_t *p;
	size_t n = 0;

	CHECK_EQ_INT(tls_anchors_load_file(ta, DATA "ca-ec.pem", err, sizeof(err)), 1);
	CHECK(tls_client_new(empty, "x", err, sizeof(err)) == NULL);
	CHECK_EQ_STR(err, "tls: no trust anchors (empty CA bundle)");
	CHECK(tls_client_new(ta, NULL, err, sizeof(err)) == NULL);
	CHECK_EQ_STR(err, "tls: no server name to verify");
	CHECK(tls_client_new(ta, "", err, sizeof(err)) == NULL);

	c = tls_client_new(ta, "kubernetes.default.svc", err, sizeof(err));
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK(tls_client_state(c) & TLS_SENDREC);
		CHECK(!(tls_client_state(c) & (TLS_SENDAPP | TLS_RECVAPP | TLS_CLOSED)));
		CHECK(!tls_client_handshake_done(c));
		CHECK_EQ_STR(tls_client_suite(c), "");
		CHECK_EQ_INT(tls_client_error(c), 0);
		/* a ClientHello: handshake record, TLS 1.x, carrying the SNI */
		p = tls_client_sendrec_buf(c, &n);
		CHECK(p != NULL && n > 50);
		if (p != NULL && n > 50) {
			CHECK_EQ_INT(p[0], 22);
			CHECK_EQ_INT(p[1], 3);
			CHECK(memmem(p, n, "kubernetes.default.svc", 22) != NULL);
		}
		/* the peer answers garbage: the engine closes with an error, never silently */
		tls_client_sendrec_ack(c, n);
		p = tls_client_recvrec_buf(c, &n);
		CHECK(p != NULL);
		if (p != NULL) {
			memcpy(p, "HTTP/1.1 400 Bad Request\r\n\r\n", 28);
			tls_client_recvrec_ack(c, 28);
		}
		CHECK(tls_client_state(c) & TLS_CLOSED);
		CHECK(tls_client_error(c) != 0);
		CHECK(strcmp(tls_error_string(tls_client_error(c)), "unknown TLS error") != 0);
		tls_client_free(c);
	}
	tls_anchors_free(ta);
	tls_anchors_free(empty);
}

static void test_error_words(void)
{
	static const int codes[] = {
		BR_ERR_BAD_PARAM, BR_ERR_BAD_STATE, BR_ERR_UNSUPPORTED_VERSION, BR_ERR_BAD_VERSION,
		BR_ERR_BAD_LENGTH, BR_ERR_TOO_LARGE, BR_ERR_BAD_MAC, BR_ERR_NO_RANDOM,
		BR_ERR_UNKNOWN_TYPE, BR_ERR_UNEXPECTED, BR_ERR_BAD_CCS, BR_ERR_BAD_ALERT,
		BR_ERR_BAD_HANDSHAKE, BR_ERR_OVERSIZED_ID, BR_ERR_BAD_CIPHER_SUITE,
		BR_ERR_BAD_COMPRESSION, BR_ERR_BAD_FRAGLEN, BR_ERR_BAD_SECRENEG,
		BR_ERR_EXTRA_EXTENSION, BR_ERR_BAD_SNI, BR_ERR_BAD_HELLO_DONE, BR_ERR_LIMIT_EXCEEDED,
		BR_ERR_BAD_FINISHED, BR_ERR_RESUME_MISMATCH, BR_ERR_INVALID_ALGORITHM,
		BR_ERR_BAD_SIGNATURE, BR_ERR_WRONG_KEY_USAGE, BR_ERR_NO_CLIENT_AUTH, BR_ERR_IO,
		BR_ERR_X509_INVALID_VALUE, BR_ERR_X509_TRUNCATED, BR_ERR_X509_EMPTY_CHAIN,
		BR_ERR_X509_INNER_TRUNC, BR_ERR_X509_BAD_TAG_CLASS, BR_ERR_X509_BAD_TAG_VALUE,
		BR_ERR_X509_INDEFINITE_LENGTH, BR_ERR_X509_EXTRA_ELEMENT, BR_ERR_X509_UNEXPECTED,
		BR_ERR_X509_NOT_CONSTRUCTED, BR_ERR_X509_NOT_PRIMITIVE, BR_ERR_X509_PARTIAL_BYTE,
		BR_ERR_X509_BAD_BOOLEAN, BR_ERR_X509_OVERFLOW, BR_ERR_X509_BAD_DN,
		BR_ERR_X509_BAD_TIME, BR_ERR_X509_UNSUPPORTED, BR_ERR_X509_LIMIT_EXCEEDED,
		BR_ERR_X509_WRONG_KEY_TYPE, BR_ERR_X509_BAD_SIGNATURE, BR_ERR_X509_TIME_UNKNOWN,
		BR_ERR_X509_EXPIRED, BR_ERR_X509_DN_MISMATCH, BR_ERR_X509_BAD_SERVER_NAME,
		BR_ERR_X509_CRITICAL_EXTENSION, BR_ERR_X509_NOT_CA, BR_ERR_X509_FORBIDDEN_KEY_USAGE,
		BR_ERR_X509_WEAK_PUBLIC_KEY, BR_ERR_X509_NOT_TRUSTED,
	};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *s = tls_error_string(codes[i]);

		CHECK(s != NULL && strcmp(s, "unknown TLS error") != 0);
		/* words, not a number */
		CHECK(s != NULL && strlen(s) > 8 && strchr(s, ' ') != NULL);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(s, tls_error_string(codes[j])) != 0);
	}
	/* the codes BearSSL leaves unused, and all in its range, still give words */
	for (int e = 0; e < 1024; e++)
		CHECK(tls_error_string(e) != NULL && tls_error_string(e)[0] != '\0');
	CHECK_EQ_STR(tls_error_string(BR_ERR_OK), "no error");
	CHECK_EQ_STR(tls_error_string(BR_ERR_X509_NOT_TRUSTED), "certificate signed by unknown authority");
	CHECK_EQ_STR(tls_error_string(BR_ERR_X509_BAD_SERVER_NAME), "certificate name mismatch");
	CHECK_EQ_STR(tls_error_string(BR_ERR_X509_EXPIRED), "certificate expired or not yet valid");
	CHECK_EQ_STR(tls_error_string(BR_ERR_RECV_FATAL_ALERT + 40), "remote error: handshake failure");
	CHECK_EQ_STR(tls_error_string(BR_ERR_RECV_FATAL_ALERT + 112), "remote error: unrecognized name");
	CHECK_EQ_STR(tls_error_string(BR_ERR_SEND_FATAL_ALERT + 48),
	    "local error: unknown certificate authority");
	CHECK_EQ_STR(tls_error_string(BR_ERR_SEND_FATAL_ALERT + 250), "local error: unknown alert");
	CHECK_EQ_STR(tls_error_string(11), "unknown TLS error");
	CHECK_EQ_STR(tls_error_string(-1), "unknown TLS error");
	CHECK_EQ_STR(tls_error_string(100000), "unknown TLS error");
}

int main(void)
{
	RUN(test_bundle);
	RUN(test_pem_variants);
	RUN(test_verify_name);
	RUN(test_client_setup);
	RUN(test_error_words);
	return harness_finish();
}
