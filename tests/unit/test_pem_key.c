/*
 * PEM private keys and certificate chains (src/io/pem_key.c).  Keys and
 * certificates are made here, at test time, by the openssl command (a
 * temporary directory, removed at the end): RSA-2048 and EC P-256/P-384 in
 * PKCS#1, SEC1 and PKCS#8, a CA → intermediate → leaf chain, a mismatched
 * pair.  Nothing private is committed.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/mem.h"
#include "harness.h"
#include "openssl_util.h"
#include "base/buf.h"
#include "io/pem_key.h"
#include "io/tls.h"

static bool make_material(void)
{
	return sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.p8") &&
	    sh("openssl pkey -in rsa.p8 -traditional -out rsa.p1") &&
	    sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.p8") &&
	    sh("openssl pkey -in ec.p8 -traditional -out ec.sec1") &&
	    sh("openssl ecparam -name secp384r1 -genkey -out ec384.sec1") &&	/* EC PARAMETERS first */
	    sh("openssl pkcs8 -topk8 -in ec.p8 -passout pass:x -out ec.enc") &&
	    sh("openssl req -x509 -key ec.p8 -subj /CN=ca -days 2 -out ca.pem "
	       "-addext basicConstraints=critical,CA:TRUE") &&
	    sh("openssl req -new -key rsa.p8 -subj /CN=mid -out mid.csr && "
	       "printf 'basicConstraints=critical,CA:TRUE\\n' > ca.ext && "
	       "openssl x509 -req -in mid.csr -CA ca.pem -CAkey ec.p8 -CAcreateserial -days 2 "
	       "-extfile ca.ext -out mid.pem") &&
	    sh("openssl req -new -key ec384.sec1 -subj /CN=leaf -out leaf.csr && "
	       "openssl x509 -req -in leaf.csr -CA mid.pem -CAkey rsa.p8 -CAcreateserial -days 2 -out leaf.pem") &&
	    sh("cat leaf.pem mid.pem ca.pem > chain.pem") &&
	    sh("openssl req -x509 -key rsa.p1 -subj /CN=rsa -days 2 -out rsa.crt") &&
	    sh("sed 's/$/\\r/' rsa.p1 > rsa.crlf");
}

static void check_key(const char *file, int type, unsigned bits)
{
	char err[256] = "";
	pem_key *k = pem_key_load_file(path(file), err, sizeof(err));

	if (k == NULL) {
		fprintf(stderr, "%s: %s\n", file, err);
		CHECK(k != NULL);
		return;
	}
	CHECK_EQ_INT(pem_key_type(k), type);
	CHECK_EQ_INT(pem_key_bits(k), bits);
	CHECK((pem_key_rsa(k) != NULL) == (type == BR_KEYTYPE_RSA));
	CHECK((pem_key_ec(k) != NULL) == (type == BR_KEYTYPE_EC));
	pem_key_free(k);
}

static void test_key_formats(void)
{
	check_key("rsa.p8", BR_KEYTYPE_RSA, 2048);	/* PKCS#8 */
	check_key("rsa.p1", BR_KEYTYPE_RSA, 2048);	/* PKCS#1 */
	check_key("rsa.crlf", BR_KEYTYPE_RSA, 2048);
	check_key("ec.p8", BR_KEYTYPE_EC, 256);
	check_key("ec.sec1", BR_KEYTYPE_EC, 256);
	check_key("ec384.sec1", BR_KEYTYPE_EC, 384);
}

static void test_key_errors(void)
{
	char err[256] = "";
	buf b = BUF_INIT;
	pem_key *k;

	k = pem_key_load_file(path("ec.enc"), err, sizeof(err));
	CHECK(k == NULL);
	CHECK(strstr(err, "encrypted private keys are not supported") != NULL);
	k = pem_key_load_file(path("ca.pem"), err, sizeof(err));	/* a certificate only */
	CHECK(k == NULL);
	CHECK(strstr(err, "no private key in PEM") != NULL);
	CHECK(strncmp(err, path("ca.pem"), strlen(path("ca.pem"))) == 0);
	k = pem_key_load_file(path("missing"), err, sizeof(err));
	CHECK(k == NULL);
	CHECK(strstr(err, "No such file") != NULL);
	k = pem_key_parse("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 60, err, sizeof(err));
	CHECK(k == NULL);
	CHECK(strstr(err, "bad private key") != NULL);
	k = pem_key_parse("-----BEGIN PRIVATE KEY-----\nAA*A\n", 33, err, sizeof(err));
	CHECK(k == NULL);
	CHECK(err[0] != '\0');
	/* every truncation of a good key fails with a reason, never crashes */
	CHECK_EQ_INT(pem_read_file(path("ec.sec1"), PEM_MAX_FILE, &b, err, sizeof(err)), 0);
	for (size_t n = 0; n + 30 < buf_len(&b); n++) {
		err[0] = '\0';
		k = pem_key_parse(buf_data(&b), n, err, sizeof(err));
		CHECK(k == NULL);
		CHECK(err[0] != '\0');
	}
	k = pem_key_parse(buf_data(&b), buf_len(&b), err, sizeof(err));
	CHECK(k != NULL);
	pem_key_free(k);
	CHECK_EQ_INT(pem_read_file(path("ec.sec1"), 10, &b, err, sizeof(err)), -1);
	CHECK(strstr(err, "too large") != NULL);
	buf_free(&b);
}

static void test_chain(void)
{
	char err[256] = "";
	pem_chain *c = pem_chain_load_file(path("chain.pem"), err, sizeof(err));
	pem_key *leaf_key = pem_key_load_file(path("ec384.sec1"), err, sizeof(err));
	pem_key *other = pem_key_load_file(path("ec.p8"), err, sizeof(err));
	pem_key *rsa = pem_key_load_file(path("rsa.p1"), err, sizeof(err));
	pem_chain *rc = pem_chain_load_file(path("rsa.crt"), err, sizeof(err));

	CHECK(c != NULL && leaf_key != NULL && other != NULL && rsa != NULL && rc != NULL);
	if (c == NULL || leaf_key == NULL || other == NULL || rsa == NULL || rc == NULL)
		goto out;
	CHECK_EQ_INT(pem_chain_len(c), 3);
	CHECK_EQ_INT(pem_chain_key_type(c), BR_KEYTYPE_EC);
	CHECK_EQ_INT(pem_chain_issuer_key_type(c), BR_KEYTYPE_RSA);	/* mid signs with RSA */
	for (size_t i = 0; i < 3; i++)
		CHECK(pem_chain_certs(c)[i].data_len > 100 && pem_chain_certs(c)[i].data[0] == 0x30);
	CHECK(pem_chain_matches_key(c, leaf_key, err, sizeof(err)));
	CHECK(!pem_chain_matches_key(c, other, err, sizeof(err)));
	CHECK_EQ_STR(err, "private key does not match the certificate");
	CHECK(!pem_chain_matches_key(c, rsa, err, sizeof(err)));
	CHECK_EQ_STR(err, "RSA key but EC certificate");
	CHECK_EQ_INT(pem_chain_len(rc), 1);
	CHECK_EQ_INT(pem_chain_key_type(rc), BR_KEYTYPE_RSA);
	CHECK(pem_chain_matches_key(rc, rsa, err, sizeof(err)));
	CHECK(!pem_chain_matches_key(rc, other, err, sizeof(err)));
out:
	pem_chain_free(c);
	pem_chain_free(rc);
	pem_key_free(leaf_key);
	pem_key_free(other);
	pem_key_free(rsa);
}

static void test_chain_errors(void)
{
	char err[256] = "";
	pem_chain *c;

	c = pem_chain_load_file(path("rsa.p1"), err, sizeof(err));	/* a key, no certificate */
	CHECK(c == NULL);
	CHECK(strstr(err, "no certificate in PEM") != NULL);
	c = pem_chain_parse("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n", 57, err,
	    sizeof(err));
	CHECK(c == NULL);
	CHECK(strstr(err, "bad certificate") != NULL);
	c = pem_chain_parse("-----BEGIN CERTIFICATE-----\nMAA=\n", 33, err, sizeof(err));
	CHECK(c == NULL);
	CHECK(strstr(err, "not terminated") != NULL);
}

/*
 * The file and DER stores are bufs, which grow through the checked
 * allocator: each of a chain's and a key's allocations failing in turn
 * gives NULL and an error that says so; nothing leaks.
 */
static void test_checked_allocations_fail(void)
{
	const char *files[] = {"chain.pem", "ec384.sec1", "rsa.p1"};

	for (size_t f = 0; f < 3; f++) {
		char err[256] = "";
		unsigned long before = mem_try_calls_for_test(), total;
		void *ok = f == 0 ? (void *)pem_chain_load_file(path(files[f]), err, sizeof(err)) :
		    (void *)pem_key_load_file(path(files[f]), err, sizeof(err));

		CHECK(ok != NULL);
		f == 0 ? pem_chain_free(ok) : pem_key_free(ok);
		total = mem_try_calls_for_test() - before;
		CHECK(total >= 2);	/* the file, the DER */
		for (unsigned long n = 1; n <= total; n++) {
			void *got;

			err[0] = '\0';
			mem_try_fail_after_for_test(n);
			got = f == 0 ? (void *)pem_chain_load_file(path(files[f]), err, sizeof(err)) :
			    (void *)pem_key_load_file(path(files[f]), err, sizeof(err));
			mem_try_fail_after_for_test(0);
			CHECK(got == NULL);
			CHECK(strstr(err, "out of memory") != NULL);
			if (got)
				f == 0 ? pem_chain_free(got) : pem_key_free(got);
		}
	}
	/* Trust anchors: the file, the PEM object and each certificate's DN store. */
	{
		char err[256] = "";
		tls_anchors *ta = tls_anchors_new();
		unsigned long before = mem_try_calls_for_test(), total;

		CHECK_EQ_INT(tls_anchors_load_file(ta, path("chain.pem"), err, sizeof(err)), 3);
		tls_anchors_free(ta);
		total = mem_try_calls_for_test() - before;
		CHECK(total >= 3);
		for (unsigned long n = 1; n <= total; n++) {
			ta = tls_anchors_new();
			err[0] = '\0';
			mem_try_fail_after_for_test(n);
			CHECK(tls_anchors_load_file(ta, path("chain.pem"), err, sizeof(err)) < 0);
			mem_try_fail_after_for_test(0);
			CHECK(strstr(err, "out of memory") != NULL);
			tls_anchors_free(ta);
		}
	}
}

int main(void)
{
	char cmd[128];
	int rc;

	snprintf(openssl_dir, sizeof(openssl_dir), "/tmp/cplane-pem-XXXXXX");
	if (mkdtemp(openssl_dir) == NULL || !make_material()) {
		fprintf(stderr, "cannot make test keys with openssl\n");
		return 1;
	}
	RUN(test_key_formats);
	RUN(test_key_errors);
	RUN(test_chain);
	RUN(test_chain_errors);
	RUN(test_checked_allocations_fail);
	rc = harness_finish();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", openssl_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", openssl_dir);
	return rc;
}
