/* --allowed-images (src/worker/allowlist.c): prefixes match at a reference boundary only. */
#include <string.h>

#include "harness.h"
#include "worker/allowlist.h"

static void test_admits(void)
{
	static const struct { const char *list, *image; bool ok; } cases[] = {
		{NULL, "anything/at:all", true},
		{"", "anything", true},
		{"registry.k8s.io", "registry.k8s.io/pause:3.9", true},
		{"registry.k8s.io", "registry.k8s.io.evil/x", false},
		{"registry.k8s.io", "registry.k8s.io", true},
		{"registry.k8s.io", "registry.k8s.iox/pause", false},
		{"registry.k8s.io", "evil.io/registry.k8s.io/pause", false},
		{"registry.k8s.io/", "registry.k8s.io/pause", true},
		{"docker.io/library/nginx", "docker.io/library/nginx:1.27", true},
		{"docker.io/library/nginx", "docker.io/library/nginx@sha256:abc", true},
		{"docker.io/library/nginx", "docker.io/library/nginx-evil:1", false},
		{"localhost:5000", "localhost:5000/app", true},
		{"localhost:5000", "localhost:50001/app", false},
		{"a.io,registry.k8s.io", "registry.k8s.io/pause:3.9", true},
		{"a.io,registry.k8s.io", "b.io/x", false},
		{"ghcr.io/org/", "ghcr.io/org/app:1", true},
		{"ghcr.io/org/", "ghcr.io/orgevil/app:1", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = allowlist_admits(cases[i].list, cases[i].image);

		if (got != cases[i].ok)
			fprintf(stderr, "case %zu: %s vs %s\n", i, cases[i].list ? cases[i].list : "(null)",
			    cases[i].image);
		CHECK(got == cases[i].ok);
	}
}

static void test_messages(void)
{
	char why[256];

	CHECK_EQ_INT(allowlist_check_image("registry.k8s.io,ghcr.io/org/", "registry.k8s.io.evil/x", why,
	    sizeof(why)), -1);
	CHECK_EQ_STR(why, "image \"registry.k8s.io.evil/x\" is not allowed (allowed image prefixes: "
	    "registry.k8s.io, ghcr.io/org/)");
	CHECK_EQ_INT(allowlist_check_image("registry.k8s.io", "registry.k8s.io/pause:3.9", why, sizeof(why)), 0);
	/* a message longer than the buffer stays terminated */
	CHECK_EQ_INT(allowlist_check_image("a,b,c,d,e,f", "registry.example.com/x", why, 40), -1);
	CHECK_EQ_INT(strlen(why), 39);
	CHECK_EQ_INT(allowlist_check_flag("a.io,b.io", why, sizeof(why)), 0);
	CHECK_EQ_INT(allowlist_check_flag("", why, sizeof(why)), 0);
	CHECK_EQ_INT(allowlist_check_flag("a.io,,b.io", why, sizeof(why)), -1);
	CHECK(strstr(why, "empty prefix") != NULL);
	CHECK_EQ_INT(allowlist_check_flag("a.io,", why, sizeof(why)), -1);
	CHECK_EQ_INT(allowlist_check_flag("a.io, b.io", why, sizeof(why)), -1);
	CHECK(strstr(why, "blank") != NULL);
}

int main(void)
{
	RUN(test_admits);
	RUN(test_messages);
	return harness_finish();
}
