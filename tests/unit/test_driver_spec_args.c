/* The driver's --env/--port/--label/--annotation/--cpu/--memory/--command/--arg/--service into a CreateClusterRequest. */
#include "harness.h"

#include "driver/spec_args.h"

static void add(struct flag_list *l, const char *v)
{
	l->v[l->n++] = v;
}

static void test_build_and_fill(void)
{
	struct driver_spec_flags f;
	struct driver_spec_req r;
	Cplane__V1__CreateClusterRequest req = CPLANE__V1__CREATE_CLUSTER_REQUEST__INIT;
	char err[256];
	uint8_t packed[512];
	size_t n;
	Cplane__V1__CreateClusterRequest *back;

	memset(&f, 0, sizeof(f));
	add(&f.env, "MODE=peer");
	add(&f.env, "URL=http://x/?a=b=c");	/* the first '=' splits */
	add(&f.env, "EMPTY=");
	add(&f.port, "http:8080");
	add(&f.port, "a:b:9");			/* the last ':' splits */
	add(&f.label, "example.com/team=db");
	add(&f.annotation, "note=hello world");
	add(&f.command, "/app");
	add(&f.arg, "-v");
	add(&f.arg, "");
	f.cpu = "250m";
	f.service = 1;
	CHECK_EQ_INT(driver_spec_build(&r, &f, err, sizeof(err)), 0);
	req.name = "web";
	driver_spec_fill(&r, &f, &req);
	CHECK_EQ_INT((int)req.n_env, 3);
	CHECK_EQ_STR(req.env[1]->name, "URL");
	CHECK_EQ_STR(req.env[1]->value, "http://x/?a=b=c");
	CHECK_EQ_STR(req.env[2]->value, "");
	CHECK_EQ_INT((int)req.n_ports, 2);
	CHECK_EQ_STR(req.ports[0]->name, "http");
	CHECK_EQ_INT(req.ports[0]->port, 8080);
	CHECK_EQ_STR(req.ports[1]->name, "a:b");
	CHECK_EQ_INT(req.ports[1]->port, 9);
	CHECK_EQ_STR(req.labels[0]->key, "example.com/team");
	CHECK_EQ_STR(req.annotations[0]->value, "hello world");
	CHECK_EQ_STR(req.resources->cpu_request, "250m");
	CHECK_EQ_STR(req.resources->cpu_limit, "250m");	/* request = limit */
	CHECK_EQ_STR(req.resources->memory_request, "");
	CHECK_EQ_INT((int)req.n_args, 2);
	CHECK_EQ_INT(req.service, 1);
	/* What goes on the wire decodes to the same request. */
	n = cplane__v1__create_cluster_request__get_packed_size(&req);
	CHECK(n <= sizeof(packed));
	cplane__v1__create_cluster_request__pack(&req, packed);
	back = cplane__v1__create_cluster_request__unpack(NULL, n, packed);
	CHECK(back != NULL);
	if (back) {
		CHECK_EQ_STR(back->env[0]->value, "peer");
		CHECK_EQ_STR(back->command[0], "/app");
		cplane__v1__create_cluster_request__free_unpacked(back, NULL);
	}
	driver_spec_free(&r);

	/* No flags: nothing set (no empty Resources on the wire). */
	memset(&f, 0, sizeof(f));
	CHECK_EQ_INT(driver_spec_build(&r, &f, err, sizeof(err)), 0);
	cplane__v1__create_cluster_request__init(&req);
	driver_spec_fill(&r, &f, &req);
	CHECK(req.resources == NULL);
	CHECK_EQ_INT((int)(req.n_env + req.n_ports + req.n_labels + req.n_annotations), 0);
	driver_spec_free(&r);
}

static void test_bad_shapes(void)
{
	static const struct { int which; const char *v; const char *want; } bad[] = {
		{ 0, "NOEQ", "bad value for --env: \"NOEQ\" (want KEY=VALUE)" },
		{ 0, "=v", "bad value for --env: \"=v\" (want KEY=VALUE)" },
		{ 1, "=v", "bad value for --label: \"=v\" (want KEY=VALUE)" },
		{ 2, "x", "bad value for --annotation: \"x\" (want KEY=VALUE)" },
		{ 3, "8080", "bad value for --port: \"8080\" (want NAME:PORT)" },
		{ 3, ":80", "bad value for --port: \":80\" (want NAME:PORT)" },
		{ 3, "http:", "bad value for --port: \"http:\" (want NAME:PORT)" },
		{ 3, "http:8x", "bad value for --port: \"http:8x\" (want NAME:PORT)" },
		{ 3, "http:-1", "bad value for --port: \"http:-1\" (want NAME:PORT)" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct driver_spec_flags f;
		struct driver_spec_req r;
		char err[256] = "";
		struct flag_list *l;

		memset(&f, 0, sizeof(f));
		l = bad[i].which == 0 ? &f.env : bad[i].which == 1 ? &f.label : bad[i].which == 2 ? &f.annotation : &f.port;
		add(l, bad[i].v);
		CHECK_EQ_INT(driver_spec_build(&r, &f, err, sizeof(err)), -1);
		CHECK_EQ_STR(err, bad[i].want);
		driver_spec_free(&r);
	}
}

int main(void)
{
	RUN(test_build_and_fill);
	RUN(test_bad_shapes);
	return harness_finish();
}
