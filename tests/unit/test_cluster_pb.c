/*
 * The hand-written Cluster encoder against protobuf-c: byte for byte the
 * same on varied messages, 0 for messages with spec fields, and never a
 * byte past the buffer however small (ASan watches an exact-size copy).
 */
#include "harness.h"
#include "worker/cluster_pb.h"

static uint32_t seed = 99;

static uint32_t rnd(uint32_t n)
{
	seed = seed * 1103515245u + 12345u;
	return (seed >> 8) % n;
}

static void fill(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s[i] = (char)('a' + rnd(26));
	s[n] = '\0';
}

static int64_t pick(void)
{
	static const int64_t v[] = { 0, 1, 127, 128, 300, -1, INT32_MAX, INT32_MIN, 1764000000000, -5,
		INT64_MAX, INT64_MIN };

	return v[rnd(sizeof(v) / sizeof(v[0]))];
}

static void test_same_bytes_as_protobuf_c(void)
{
	static char name[80], msg[600], image[300], dns[200];
	static uint8_t want[4096], got[4096];
	size_t bad = 0, exact = 0;

	for (int iter = 0; iter < 3000; iter++) {
		Cplane__V1__Cluster m = CPLANE__V1__CLUSTER__INIT;
		size_t wn, gn;

		fill(name, rnd(4) ? rnd(64) : 0);
		fill(msg, rnd(3) ? rnd(513) : 0);
		fill(image, rnd(3) ? rnd(256) : 0);
		fill(dns, rnd(3) ? 0 : rnd(150));
		m.name = name;
		m.message = rnd(8) ? msg : NULL;
		m.image = image;
		m.service_dns = dns;
		m.replicas = (int32_t)pick();
		m.ready_replicas = (int32_t)pick();
		m.phase = (Cplane__V1__Phase)rnd(7);
		m.created_unix_ms = pick();
		m.updated_replicas = (int32_t)pick();
		wn = protobuf_c_message_pack(&m.base, want);
		gn = cluster_pb_encode(&m, got, sizeof(got));
		if (gn != wn || memcmp(got, want, wn) != 0)
			bad++;
		/* Every smaller buffer: 0, or the whole message; never a write past it. */
		if (iter % 10 == 0) {
			for (size_t cap = 0; cap <= wn + 24; cap++) {
				uint8_t *b = malloc(cap ? cap : 1);
				size_t n = cluster_pb_encode(&m, b, cap);

				if (n && (n != wn || memcmp(b, want, wn) != 0))
					bad++;
				if (n == wn && n)
					exact++;
				free(b);
			}
		}
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(exact > 0);
}

static void test_spec_fields_fall_back(void)
{
	Cplane__V1__Cluster m = CPLANE__V1__CLUSTER__INIT;
	Cplane__V1__Resources res = CPLANE__V1__RESOURCES__INIT;
	char *cmd[] = { (char *)"run" };
	uint8_t out[256];

	m.name = (char *)"demo";
	CHECK(cluster_pb_encode(&m, out, sizeof(out)) == 6);
	m.resources = &res;
	CHECK_EQ_INT(cluster_pb_encode(&m, out, sizeof(out)), 0);
	m.resources = NULL;
	m.n_command = 1;
	m.command = cmd;
	CHECK_EQ_INT(cluster_pb_encode(&m, out, sizeof(out)), 0);
}

int main(void)
{
	RUN(test_same_bytes_as_protobuf_c);
	RUN(test_spec_fields_fall_back);
	return harness_finish();
}
