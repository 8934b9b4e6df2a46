/* Kubernetes quantities, the canonical spec hash, and the spec's validation rules. */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "k8s/podspec.h"
#include "k8s/quantity.h"
#include "worker/spec_check.h"

static int qparse(const char *s, k8s_quantity *q)
{
	return k8s_quantity_parse(s, strlen(s), q);
}

/* Value in nano-units when it fits 64 bits. */
static unsigned long long nano(const char *s)
{
	k8s_quantity q;

	CHECK_EQ_INT(qparse(s, &q), 0);
	CHECK(q.hi == 0);
	return (unsigned long long)q.lo;
}

static void test_quantity_values(void)
{
	static const struct { const char *s; unsigned long long nano; } ok[] = {
		{ "100m", 100000000ull }, { "0.5", 500000000ull }, { "1", 1000000000ull },
		{ "1Ki", 1024000000000ull }, { "1Gi", 1073741824000000000ull },
		{ "1.5Gi", 1610612736000000000ull }, { "500M", 500000000000000000ull },
		{ "1e3", 1000000000000ull }, { "1E3", 1000000000000ull }, { "1e-3", 1000000ull },
		{ "1000m", 1000000000ull }, { "0.1", 100000000ull }, { ".5", 500000000ull }, { "2.", 2000000000ull },
		{ "+3", 3000000000ull }, { "0", 0 }, { "-0", 0 }, { "000.000", 0 }, { "1k", 1000000000000ull },
		{ "1n", 1 }, { "5u", 5000 }, { "0.0000000001", 1 },	/* below 1n rounds up */
		{ "1.0000000001", 1000000001ull }, { "2E", 0 },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		k8s_quantity q;

		if (strcmp(ok[i].s, "2E") == 0) {
			/* 2 exa: 2e27 nano, past 64 bits */
			CHECK_EQ_INT(qparse(ok[i].s, &q), 0);
			CHECK(q.hi != 0);
			continue;
		}
		if (nano(ok[i].s) != ok[i].nano)
			fprintf(stderr, "  %s: got %llu want %llu\n", ok[i].s, nano(ok[i].s), ok[i].nano);
		CHECK(nano(ok[i].s) == ok[i].nano);
	}
}

static void test_quantity_refused(void)
{
	static const struct { const char *s; int err; } bad[] = {
		{ "", K8S_QTY_EEMPTY }, { "abc", K8S_QTY_ESYNTAX }, { "1Gb", K8S_QTY_ESYNTAX },
		{ "1 Gi", K8S_QTY_ESYNTAX }, { ".", K8S_QTY_ESYNTAX }, { "1..2", K8S_QTY_ESYNTAX },
		{ "1.2.3", K8S_QTY_ESYNTAX }, { "m", K8S_QTY_ESYNTAX }, { "1e", K8S_QTY_ESYNTAX },
		{ "1e+", K8S_QTY_ESYNTAX }, { "1mi", K8S_QTY_ESYNTAX }, { "1Ki ", K8S_QTY_ESYNTAX },
		{ "0x10", K8S_QTY_ESYNTAX }, { "--1", K8S_QTY_ESYNTAX }, { "1µ", K8S_QTY_ESYNTAX },
		{ "-1", K8S_QTY_ENEGATIVE }, { "-100m", K8S_QTY_ENEGATIVE }, { "-1Gi", K8S_QTY_ENEGATIVE },
		{ "1e999", K8S_QTY_ERANGE }, { "99999999999999999999999Ei", K8S_QTY_ERANGE },
		{ "123456789012345678901234567890123456789", K8S_QTY_ERANGE },
		{ "1111111111111111111111111111111111111111111111111111111111111111111", K8S_QTY_ERANGE },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		k8s_quantity q;
		int rc = qparse(bad[i].s, &q);

		if (rc != bad[i].err)
			fprintf(stderr, "  \"%s\": got %d want %d\n", bad[i].s, rc, bad[i].err);
		CHECK_EQ_INT(rc, bad[i].err);
	}
}

static int qcmp(const char *a, const char *b)
{
	k8s_quantity x, y;

	CHECK_EQ_INT(qparse(a, &x), 0);
	CHECK_EQ_INT(qparse(b, &y), 0);
	return k8s_quantity_cmp(&x, &y);
}

static void test_quantity_compare(void)
{
	CHECK_EQ_INT(qcmp("1000m", "1"), 0);
	CHECK_EQ_INT(qcmp("0.1", "100m"), 0);
	CHECK_EQ_INT(qcmp("1Ki", "1024"), 0);
	CHECK_EQ_INT(qcmp("1k", "1Ki"), -1);
	CHECK_EQ_INT(qcmp("1Gi", "1G"), 1);
	CHECK_EQ_INT(qcmp("1e3", "1k"), 0);
	CHECK_EQ_INT(qcmp("500m", "0.5"), 0);
	CHECK_EQ_INT(qcmp("2E", "1E"), 1);	/* past 64 bits of nano-units */
	CHECK_EQ_INT(qcmp("1Ei", "1E"), 1);
	CHECK_EQ_INT(qcmp("999m", "1"), -1);
}

static void test_spec_hash(void)
{
	k8s_kv env[] = { { "A", "1" }, { "B", "2" } };
	k8s_kv env_swapped[] = { { "B", "2" }, { "A", "1" } };
	k8s_kv labels[] = { { "team", "x" }, { "tier", "db" }, { "example.com/a", "b" } };
	k8s_kv labels2[] = { { "example.com/a", "b" }, { "tier", "db" }, { "team", "x" } };
	k8s_kv ann[] = { { "k", "v" } };
	k8s_port ports[] = { { "http", 80 } };
	const char *cmd[] = { "sh", "-c" };
	const char *split[] = { "s", "h-c" };
	k8s_podspec a = { 0 }, b;
	char ha[K8S_SPEC_HASH_LEN + 1], hb[K8S_SPEC_HASH_LEN + 1], he[K8S_SPEC_HASH_LEN + 1];

	k8s_podspec_hash(NULL, he);
	CHECK_EQ_INT((int)strlen(he), K8S_SPEC_HASH_LEN);
	k8s_podspec_hash(&a, ha);
	CHECK_EQ_STR(ha, he);
	a.cpu_request = "";	/* "" is unset */
	k8s_podspec_hash(&a, ha);
	CHECK_EQ_STR(ha, he);

	a.cpu_request = "500m";
	a.env = env;
	a.n_env = 2;
	a.labels = labels;
	a.n_labels = 3;
	a.annotations = ann;
	a.n_annotations = 1;
	a.ports = ports;
	a.n_ports = 1;
	a.command = cmd;
	a.n_command = 2;
	k8s_podspec_hash(&a, ha);
	b = a;
	b.labels = labels2;		/* map order does not matter */
	k8s_podspec_hash(&b, hb);
	CHECK_EQ_STR(hb, ha);
	CHECK(strcmp(ha, he) != 0);
	/* Every other change does. */
	b = a;
	b.env = env_swapped;
	k8s_podspec_hash(&b, hb);
	CHECK(strcmp(hb, ha) != 0);
	b = a;
	b.command = split;
	k8s_podspec_hash(&b, hb);
	CHECK(strcmp(hb, ha) != 0);
	b = a;
	b.args = cmd;			/* the same strings as args are another spec */
	b.n_args = 2;
	b.command = NULL;
	b.n_command = 0;
	k8s_podspec_hash(&b, hb);
	CHECK(strcmp(hb, ha) != 0);
	b = a;
	b.service = 1;
	k8s_podspec_hash(&b, hb);
	CHECK(strcmp(hb, ha) != 0);
	b = a;
	b.cpu_request = NULL;
	b.cpu_limit = "500m";
	k8s_podspec_hash(&b, hb);
	CHECK(strcmp(hb, ha) != 0);
	/* Known answer: the empty spec's hash is part of every stored annotation. */
	CHECK_EQ_STR(he, "a100242c5b143652");
}

static int check_ok(const char *name, const k8s_podspec *p)
{
	char why[512] = "";
	int rc = spec_check(name, p, why, sizeof(why));

	if (rc != 0)
		fprintf(stderr, "  unexpected refusal: %s\n", why);
	return rc;
}

/* Refused, and the message contains want. */
static void check_refused(const char *name, const k8s_podspec *p, const char *want)
{
	char why[512] = "";

	CHECK_EQ_INT(spec_check(name, p, why, sizeof(why)), -1);
	if (strstr(why, want) == NULL)
		fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", why, want);
	CHECK(strstr(why, want) != NULL);
}

static void test_check_resources(void)
{
	k8s_podspec p = { 0 };

	p.cpu_request = "100m";
	p.cpu_limit = "0.1";
	p.memory_request = "1Gi";
	p.memory_limit = "1.5Gi";
	CHECK_EQ_INT(check_ok("a", &p), 0);
	p.cpu_limit = "99m";
	check_refused("a", &p, "resources.cpu_request: \"100m\" is above resources.cpu_limit \"99m\"");
	p.cpu_limit = NULL;
	p.memory_limit = "1G";
	check_refused("a", &p, "resources.memory_request: \"1Gi\" is above resources.memory_limit");
	p.memory_limit = "abc";
	check_refused("a", &p, "resources.memory_limit: \"abc\" is not a Kubernetes quantity");
	p.memory_limit = NULL;
	p.cpu_request = "-1";
	check_refused("a", &p, "resources.cpu_request: \"-1\" is negative");
}

static void test_check_env_argv_ports(void)
{
	k8s_kv env[SPEC_ENV_MAX + 1];
	const char *argv[SPEC_ARGV_MAX + 1];
	static char big[SPEC_ARG_BYTES_MAX + 2];
	k8s_port ports[3];
	char names[SPEC_ENV_MAX + 1][16];
	k8s_podspec p = { 0 };

	for (int i = 0; i <= SPEC_ENV_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "V_%d", i);
		env[i].key = names[i];
		env[i].value = "";
		argv[i < SPEC_ARGV_MAX + 1 ? i : 0] = "x";
	}
	p.env = env;
	p.n_env = SPEC_ENV_MAX;
	CHECK_EQ_INT(check_ok("a", &p), 0);
	p.n_env = SPEC_ENV_MAX + 1;
	check_refused("a", &p, "env: 129 entries, at most 128");
	p.n_env = 2;
	env[1].key = "1X";
	check_refused("a", &p, "env[1].name: \"1X\" is not a C identifier");
	env[1].key = "A-B";
	check_refused("a", &p, "env[1].name: \"A-B\" is not a C identifier");
	env[1].key = "V_0";
	check_refused("a", &p, "env[1].name: \"V_0\" is also env[0].name");
	env[1].key = "_ok9";
	CHECK_EQ_INT(check_ok("a", &p), 0);

	p.command = argv;
	p.n_command = SPEC_ARGV_MAX;
	p.args = argv;
	p.n_args = SPEC_ARGV_MAX + 1;
	check_refused("a", &p, "args: 65 entries, at most 64");
	p.n_args = 1;
	memset(big, 'a', SPEC_ARG_BYTES_MAX + 1);
	argv[0] = big;
	check_refused("a", &p, "command[0]: 4097 bytes, at most 4096");
	big[SPEC_ARG_BYTES_MAX] = '\0';
	CHECK_EQ_INT(check_ok("a", &p), 0);

	ports[0] = (k8s_port){ "http", 80 };
	ports[1] = (k8s_port){ "metrics-2", 9090 };
	p.ports = ports;
	p.n_ports = 2;
	CHECK_EQ_INT(check_ok("a", &p), 0);
	ports[1].port = 0;
	check_refused("a", &p, "ports[1].port: 0 is not in 1-65535");
	ports[1].port = 65536;
	check_refused("a", &p, "ports[1].port: 65536 is not in 1-65535");
	ports[1].port = 80;
	check_refused("a", &p, "ports[1].port: 80 is also ports[0].port");
	ports[1] = (k8s_port){ "http", 81 };
	check_refused("a", &p, "ports[1].name: \"http\" is also ports[0].name");
	static const char *const bad_names[] = { "", "HTTP", "123", "a--b", "-a", "a-", "abcdefghijklmnop", "a_b" };
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		ports[1].name = bad_names[i];
		check_refused("a", &p, "is not an IANA service name");
	}
	ports[1].name = "abcdefghijklmno";	/* 15 */
	CHECK_EQ_INT(check_ok("a", &p), 0);
	{
		static k8s_port many[SPEC_PORTS_MAX + 1];
		static char pnames[SPEC_PORTS_MAX + 1][16];
		k8s_podspec q = { 0 };

		for (int i = 0; i <= SPEC_PORTS_MAX; i++) {
			snprintf(pnames[i], sizeof(pnames[i]), "p%d", i);
			many[i] = (k8s_port){ pnames[i], 1000 + i };
		}
		q.ports = many;
		q.n_ports = SPEC_PORTS_MAX;
		CHECK_EQ_INT(check_ok("a", &q), 0);
		q.n_ports = SPEC_PORTS_MAX + 1;
		check_refused("a", &q, "ports: 65 entries, at most 64");
	}
}

static void test_check_labels(void)
{
	char why[512];
	char k253[300], v64[70];

	CHECK_EQ_INT(spec_check_label("labels[0]", "team", "db", why, sizeof(why)), 0);
	CHECK_EQ_INT(spec_check_label("labels[0]", "example.com/team", "", why, sizeof(why)), 0);
	CHECK_EQ_INT(spec_check_label("labels[0]", "a.b-c_d", "A.b-c_9", why, sizeof(why)), 0);
	CHECK_EQ_INT(spec_check_label("labels[0]", "cplane.dev/cluster", "x", why, sizeof(why)), -1);
	CHECK(strstr(why, "labels[0]: key \"cplane.dev/cluster\" is under a prefix cplane keeps") != NULL);
	CHECK_EQ_INT(spec_check_label("labels[0]", "app.kubernetes.io/name", "x", why, sizeof(why)), -1);
	CHECK_EQ_INT(spec_check_label("labels[0]", "Example.com/a", "x", why, sizeof(why)), -1);
	CHECK(strstr(why, "prefix that is not a DNS-1123 subdomain") != NULL);
	CHECK_EQ_INT(spec_check_label("labels[0]", "/a", "x", why, sizeof(why)), -1);
	CHECK_EQ_INT(spec_check_label("labels[0]", "a/", "x", why, sizeof(why)), -1);
	CHECK_EQ_INT(spec_check_label("labels[0]", "a/b/c", "x", why, sizeof(why)), -1);
	CHECK_EQ_INT(spec_check_label("labels[0]", "-a", "x", why, sizeof(why)), -1);
	CHECK(strstr(why, "is not a qualified name") != NULL);
	CHECK_EQ_INT(spec_check_label("labels[0]", "", "x", why, sizeof(why)), -1);
	CHECK_EQ_INT(spec_check_label("labels[0]", "a", "x y", why, sizeof(why)), -1);
	CHECK(strstr(why, "labels[0]: value \"x y\" of \"a\" is not a label value") != NULL);
	CHECK_EQ_INT(spec_check_label("annotations[0]", "a", NULL, why, sizeof(why)), 0);
	/* Lengths: name 63, value 63, prefix 253. */
	memset(v64, 'v', 64);
	v64[64] = '\0';
	CHECK_EQ_INT(spec_check_label("l", "k", v64, why, sizeof(why)), -1);
	v64[63] = '\0';
	CHECK_EQ_INT(spec_check_label("l", "k", v64, why, sizeof(why)), 0);
	CHECK_EQ_INT(spec_check_label("l", v64, "x", why, sizeof(why)), 0);
	v64[63] = 'v';
	CHECK_EQ_INT(spec_check_label("l", v64, "x", why, sizeof(why)), -1);
	/* 4 labels of 63 and one dot each: 4*63+3 = 255 > 253 */
	memset(k253, 'a', sizeof(k253));
	for (int i = 63; i < 253; i += 64)
		k253[i] = '.';
	strcpy(k253 + 253, "/n");
	CHECK_EQ_INT(spec_check_label("l", k253, "x", why, sizeof(why)), 0);
	k253[253] = 'a';
	strcpy(k253 + 254, "/n");
	CHECK_EQ_INT(spec_check_label("l", k253, "x", why, sizeof(why)), -1);
}

static void test_check_maps_service(void)
{
	k8s_kv labels[] = { { "team", "db" }, { "app.kubernetes.io/name", "x" } };
	k8s_kv ann[2];
	static char bigv[SPEC_ANNOTATIONS_BYTES_MAX];
	k8s_podspec p = { 0 };

	p.labels = labels;
	p.n_labels = 1;
	CHECK_EQ_INT(check_ok("a", &p), 0);
	p.n_labels = 2;
	check_refused("a", &p, "labels[1]: key \"app.kubernetes.io/name\" is under a prefix");
	p.n_labels = 1;
	memset(bigv, 'x', sizeof(bigv) - 2);
	ann[0] = (k8s_kv){ "a", bigv };		/* 1 + 262142 */
	ann[1] = (k8s_kv){ "b", "" };		/* + 1 = 262144: exactly the limit */
	p.annotations = ann;
	p.n_annotations = 2;
	CHECK_EQ_INT(check_ok("a", &p), 0);
	ann[1].value = "y";
	check_refused("a", &p, "annotations: 262145 bytes of keys and values, at most 262144 in total");
	ann[1] = (k8s_kv){ "cplane.dev/spec-hash", "" };
	check_refused("a", &p, "annotations[1]: key \"cplane.dev/spec-hash\" is under a prefix");
	p.n_annotations = 0;
	p.service = 1;
	CHECK_EQ_INT(check_ok("web", &p), 0);
	check_refused("1web", &p, "service: the name \"1web\" must start with a letter");
}

int main(void)
{
	RUN(test_quantity_values);
	RUN(test_quantity_refused);
	RUN(test_quantity_compare);
	RUN(test_spec_hash);
	RUN(test_check_resources);
	RUN(test_check_env_argv_ports);
	RUN(test_check_labels);
	RUN(test_check_maps_service);
	return harness_finish();
}
