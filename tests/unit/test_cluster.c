/* Phase derivation and input validation of the worker's clusters. */
#include "harness.h"

#include "worker/cluster.h"

static struct cluster_observed ready_obs(void)
{
	struct cluster_observed o;

	memset(&o, 0, sizeof(o));
	o.present = 1;
	o.generation = 1;
	o.observed_generation = 1;
	o.spec_replicas = o.ready_replicas = o.available_replicas = o.updated_replicas = 30;
	o.available_true = 1;
	return o;
}

static void test_phase(void)
{
	struct cluster_observed o;

	memset(&o, 0, sizeof(o));
	CHECK_EQ_INT(cluster_derive_phase(&o, 0, 0), PHASE_ABSENT);
	CHECK_EQ_INT(cluster_derive_phase(&o, 1, 0), PHASE_CREATING);
	/* a Delete accepted while the POST is in flight: DELETING before anything is seen */
	CHECK_EQ_INT(cluster_derive_phase(&o, 1, 1), PHASE_DELETING);
	CHECK_EQ_INT(cluster_derive_phase(&o, 0, 1), PHASE_ABSENT);
	o = ready_obs();
	CHECK_EQ_INT(cluster_derive_phase(&o, 0, 0), PHASE_READY);
	CHECK_EQ_INT(cluster_derive_phase(&o, 0, 1), PHASE_DELETING);
	o.observed_generation = 0;	/* controller has not seen the spec yet */
	CHECK_EQ_INT(cluster_derive_phase(&o, 0, 0), PHASE_CREATING);
	o = ready_obs();
	o.available_replicas = 29;
	CHECK_EQ_INT(cluster_derive_phase(&o, 0, 0), PHASE_CREATING);
	o = ready_obs();
	o.updated_replicas = 29;
	CHECK_EQ_INT(cluster_derive_phase(&o, 0, 0), PHASE_CREATING);
	o = ready_obs();
	o.available_true = 0;
	CHECK_EQ_INT(cluster_derive_phase(&o, 0, 0), PHASE_CREATING);
	o.progress_deadline_exceeded = 1;
	CHECK_EQ_INT(cluster_derive_phase(&o, 0, 0), PHASE_FAILED);
	o.deleting = 1;
	CHECK_EQ_INT(cluster_derive_phase(&o, 0, 0), PHASE_DELETING);
	CHECK_EQ_STR(cluster_phase_name(PHASE_FAILED), "FAILED");
}

static void test_names(void)
{
	static const char *const good[] = { "demo", "a", "a-b", "0abc9", "x--y",
		"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123" };
	static const char *const bad[] = { "", "-a", "a-", "A", "a_b", "a.b", "d\xc3\xa9mo",
		"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234", "a b" };

	char why[200];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK_EQ_INT(cluster_check_name(good[i], why, sizeof(why)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(cluster_check_name(bad[i], why, sizeof(why)), -1);
		CHECK(strncmp(why, "name ", 5) == 0);
	}
}

static void test_replicas(void)
{
	char why[200];

	CHECK_EQ_INT(cluster_check_replicas(1, 1000, why, sizeof(why)), 0);
	CHECK_EQ_INT(cluster_check_replicas(1000, 1000, why, sizeof(why)), 0);
	CHECK_EQ_INT(cluster_check_replicas(0, 1000, why, sizeof(why)), -1);
	CHECK_EQ_STR(why, "replicas must be between 1 and 1000 (--max-replicas), got 0");
	CHECK_EQ_INT(cluster_check_replicas(1001, 1000, why, sizeof(why)), -1);
	CHECK_EQ_INT(cluster_check_replicas(-5, 1000, why, sizeof(why)), -1);
}

static void test_images(void)
{
	static const char *const good[] = { "nginx", "nginx:1.25", "library/nginx:latest",
		"registry.k8s.io/pause:3.9", "localhost:5000/app", "localhost/app:v1", "ghcr.io/a/b/c:1.0-rc_1",
		"a__b", "my-app", "quay.io/x@sha256:0123456789abcdef", "reg.io:443/x/y:tag@sha256:abc" };
	static const char *const bad[] = { "", "Nginx", "nginx:", ":tag", "nginx:-x", "a//b", "a/", "/a",
		"ngi nx", "nginx@sha256", "nginx@sha256:XYZ", "a..b", "-a", "a_", "re g.io/x" };
	char why[256];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int r = cluster_check_image(good[i], why, sizeof(why));
		if (r != 0)
			fprintf(stderr, "rejected %s: %s\n", good[i], why);
		CHECK_EQ_INT(r, 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = cluster_check_image(bad[i], why, sizeof(why));
		if (r == 0)
			fprintf(stderr, "accepted %s\n", bad[i]);
		CHECK_EQ_INT(r, -1);
		CHECK(strncmp(why, "image \"", 7) == 0);
	}
}

int main(void)
{
	RUN(test_phase);
	RUN(test_names);
	RUN(test_replicas);
	RUN(test_images);
	return harness_finish();
}
