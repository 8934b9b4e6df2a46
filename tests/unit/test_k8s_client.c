/*
 * k8s client policy against a scripted HTTP server on loopback, on the same
 * poll loop: keep-alive reuse, Connection: close, 503/429 retried (Retry-After
 * read), 401 re-reads the token once, a POST whose connection dies after
 * sending is not re-sent while a GET is, cancellation, streamed chunked
 * bodies, and Status errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "base/buf.h"
#include "io/loop.h"
#include "io/net.h"
#include "k8s/client.h"
#include "k8s/config.h"

#include "fake_http.h"

static char token_path[64];
static k8s_config cfg;
static k8s_client *client;

static void write_token(const char *t)
{
	FILE *f = fopen(token_path, "w");

	if (f) {
		fputs(t, f);
		fclose(f);
	}
}

static void setup(const struct step *steps, int n)
{
	char url[64], err[256];
	k8s_config_opts o = { 0 };
	k8s_client_opts co = { 0 };

	memset(&S, 0, sizeof(S));
	for (int i = 0; i < 8; i++)
		S.c[i].fd = -1;
	memcpy(S.steps, steps, sizeof(*steps) * (size_t)n);
	S.nsteps = n;
	S.loop = io_loop_new();
	S.lfd = io_listen("127.0.0.1:0", 16, err, sizeof(err));
	io_loop_add_fd(S.loop, S.lfd, IO_READ, on_accept, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", io_local_port(S.lfd));
	strcpy(token_path, "/tmp/k8s-client-test-XXXXXX");
	int tfd = mkstemp(token_path);
	if (tfd >= 0)
		close(tfd);
	write_token("tok-1\n");
	o.apiserver = url;
	o.token_file = token_path;
	o.namespace_ = "ns";
	CHECK_EQ_INT(k8s_config_load(&cfg, &o, err, sizeof(err)), 0);
	co.backoff_base_ms = 10;
	co.backoff_cap_ms = 20;
	co.timeout_ms = 2000;
	client = k8s_client_new(S.loop, &cfg, &co);
}

static void teardown(void)
{
	k8s_client_free(client);
	k8s_config_free(&cfg);
	for (int i = 0; i < 8; i++)
		if (S.c[i].fd >= 0)
			sconn_close(&S.c[i]);
	io_loop_del_fd(S.loop, S.lfd);
	close(S.lfd);
	io_loop_free(S.loop);
	unlink(token_path);
}

struct result {
	int done;
	k8s_error err;
	int status;
	char body[256];
	char streamed[4096];
	size_t slen;
	char name[64];
};

static void run_until(int *flag)
{
	for (int i = 0; i < 2000 && !*flag; i++)
		io_loop_run_once(S.loop, 10);
	CHECK(*flag);
}

static void on_done(void *ctx, const k8s_error *err, int status, const uint8_t *body, size_t len)
{
	struct result *r = ctx;

	r->done++;
	r->err = *err;
	r->status = status;
	if (len >= sizeof(r->body))
		len = sizeof(r->body) - 1;
	memcpy(r->body, body ? (const char *)body : "", len);
	r->body[len] = '\0';
}

static int on_data(void *ctx, const uint8_t *p, size_t n)
{
	struct result *r = ctx;

	if (r->slen + n < sizeof(r->streamed)) {
		memcpy(r->streamed + r->slen, p, n);
		r->slen += n;
	}
	return 0;
}

static k8s_req *get(struct result *r, const char *path)
{
	memset(r, 0, sizeof(*r));
	return k8s_submit(client, &(k8s_request){ .verb = K8S_VERB_GET, .method = "GET", .path = path,
	    .on_done = on_done, .ctx = r });
}

#define OK200(body) "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " #body "\r\n\r\n"

static void test_keepalive_and_close(void)
{
	static const struct step steps[] = {
		{ OK200(2) "{}", 0 },
		{ OK200(2) "[]", 0 },
		{ "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n1", 0 },
		{ OK200(1) "2", 0 },
	};
	struct result r;
	k8s_client_stats st;

	setup(steps, 4);
	get(&r, "/a");
	run_until(&r.done);
	CHECK_EQ_INT(r.err.kind, K8S_OK);
	CHECK_EQ_INT(r.status, 200);
	CHECK_EQ_STR(r.body, "{}");
	get(&r, "/b");
	run_until(&r.done);
	CHECK_EQ_STR(r.body, "[]");
	get(&r, "/c");
	run_until(&r.done);
	CHECK_EQ_STR(r.body, "1");
	get(&r, "/d");
	run_until(&r.done);
	CHECK_EQ_STR(r.body, "2");
	k8s_client_get_stats(client, &st);
	CHECK_EQ_INT(st.connects, 2);	/* reused until Connection: close */
	CHECK_EQ_INT(S.accepted, 2);
	CHECK(strncmp(S.reqs[0], "GET /a HTTP/1.1\r\n", 17) == 0);
	CHECK(strstr(S.reqs[0], "\r\nAuthorization: Bearer tok-1\r\n") != NULL);
	CHECK(strstr(S.reqs[0], "\r\nAccept: application/json\r\n") != NULL);
	teardown();
}

static void test_retry_5xx_429_and_status(void)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", 0 },
		{ "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n", 0 },
		{ OK200(2) "ok", 0 },
		{ "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 144\r\n\r\n"
		  "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":"
		  "\"deployments.apps \\\"x\\\" not found\",\"reason\":\"NotFound\",\"code\":404}", 0 },
	};
	struct result r;
	k8s_client_stats st;

	setup(steps, 4);
	get(&r, "/x");
	run_until(&r.done);
	CHECK_EQ_INT(r.err.kind, K8S_OK);
	CHECK_EQ_STR(r.body, "ok");
	k8s_client_get_stats(client, &st);
	CHECK_EQ_INT(st.retries, 2);
	get(&r, "/y");
	run_until(&r.done);
	CHECK_EQ_INT(r.err.kind, K8S_ERR_API);
	CHECK_EQ_INT(r.err.code, 404);
	CHECK_EQ_STR(r.err.reason, "NotFound");
	CHECK_EQ_STR(r.err.message, "deployments.apps \"x\" not found");
	k8s_client_get_stats(client, &st);
	CHECK_EQ_INT(st.retries, 2);	/* 404 is not retried */
	teardown();
}

static void test_401_rereads_token_once(void)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", 0 },
		{ OK200(2) "ok", 0 },
		{ "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", 0 },
		{ "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", 0 },
	};
	struct result r;

	setup(steps, 4);
	write_token("tok-2");
	get(&r, "/x");
	run_until(&r.done);
	CHECK_EQ_INT(r.err.kind, K8S_OK);
	CHECK(strstr(S.reqs[0], "Bearer tok-1\r\n") != NULL);
	CHECK(strstr(S.reqs[1], "Bearer tok-2\r\n") != NULL);
	get(&r, "/y");	/* refused twice: the error comes back after one retry */
	run_until(&r.done);
	CHECK_EQ_INT(r.err.kind, K8S_ERR_API);
	CHECK_EQ_INT(r.err.code, 401);
	CHECK_EQ_STR(r.err.reason, "Unauthorized");
	CHECK_EQ_INT(S.nreqs, 4);
	teardown();
}

static void deploy_cb(void *ctx, const k8s_error *err, const k8s_deployment *d)
{
	struct result *r = ctx;

	r->done++;
	r->err = *err;
	if (d)
		snprintf(r->name, sizeof(r->name), "%s", d->name);
}

static void test_post_not_resent_get_is(void)
{
	static const struct step steps[] = {
		{ NULL, 0 },	/* POST read, then the connection dies */
		{ NULL, 0 },	/* GET: same */
		{ OK200(2) "{}", 0 },
	};
	struct result r;
	k8s_deploy_spec spec = { "demo", 1, "nginx", NULL, 0, NULL, NULL };
	k8s_client_stats st;

	setup(steps, 3);
	memset(&r, 0, sizeof(r));
	CHECK(k8s_create_deployment(client, &spec, deploy_cb, &r) != NULL);
	run_until(&r.done);
	CHECK_EQ_INT(r.err.kind, K8S_ERR_CONNECT);
	k8s_client_get_stats(client, &st);
	CHECK_EQ_INT(st.retries, 0);
	CHECK(strncmp(S.reqs[0], "POST /apis/apps/v1/namespaces/ns/deployments HTTP/1.1\r\n", 55) == 0);
	CHECK(strstr(S.reqs[0], "Content-Type: application/json\r\n") != NULL);
	CHECK(strstr(S.reqs[0], "\"cplane.dev/cluster\":\"demo\"") != NULL);
	get(&r, "/g");
	run_until(&r.done);
	CHECK_EQ_INT(r.err.kind, K8S_OK);
	k8s_client_get_stats(client, &st);
	CHECK_EQ_INT(st.retries, 1);
	teardown();
}

static void test_stream_and_cancel(void)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n"
		  "X-Trailer: t\r\n\r\n", 0 },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", 0 },	/* never ends */
		{ OK200(2) "{}", 0 },
	};
	struct result r, r2;
	k8s_req *q;

	setup(steps, 3);
	memset(&r, 0, sizeof(r));
	k8s_submit(client, &(k8s_request){ .verb = K8S_VERB_WATCH, .method = "GET", .path = "/w",
	    .flags = K8S_REQ_STREAM, .on_data = on_data, .on_done = on_done, .ctx = &r });
	run_until(&r.done);
	CHECK_EQ_INT(r.err.kind, K8S_OK);
	CHECK_EQ_INT((int)r.slen, 11);
	CHECK(memcmp(r.streamed, "hello world", 11) == 0);
	CHECK_EQ_STR(r.body, "");

	memset(&r, 0, sizeof(r));
	q = k8s_submit(client, &(k8s_request){ .verb = K8S_VERB_WATCH, .method = "GET", .path = "/w2",
	    .flags = K8S_REQ_STREAM, .on_data = on_data, .on_done = on_done, .ctx = &r });
	for (int i = 0; i < 500 && r.slen < 3; i++)
		io_loop_run_once(S.loop, 10);
	CHECK_EQ_INT((int)r.slen, 3);
	k8s_req_cancel(q);
	get(&r2, "/after");
	run_until(&r2.done);
	CHECK_EQ_INT(r2.err.kind, K8S_OK);
	CHECK_EQ_INT(r.done, 0);	/* a cancelled request never calls back */
	teardown();
}

/*
 * The host resolved at config load; a client without an address does not
 * block the loop on a lookup: the attempt fails like a refused connect, the
 * lookup runs on its own thread, and the retry goes out to what it found.
 */
static void test_address_resolved_off_the_loop(void)
{
	static const struct step steps[] = { { OK200(2) "{}", 0 } };
	k8s_client_opts co = { 0 };
	struct result r;
	k8s_client_stats st;

	setup(steps, 1);
	CHECK(cfg.addrlen > 0);
	CHECK_EQ_STR(cfg.resolve_err, "");
	k8s_client_free(client);
	cfg.addrlen = 0;	/* as when the name did not resolve at start-up */
	co.backoff_base_ms = 10;
	co.backoff_cap_ms = 20;
	co.timeout_ms = 2000;
	client = k8s_client_new(S.loop, &cfg, &co);
	CHECK(get(&r, "/x") != NULL);
	run_until(&r.done);
	CHECK_EQ_INT(r.err.kind, K8S_OK);
	CHECK_EQ_INT(r.status, 200);
	k8s_client_get_stats(client, &st);
	CHECK_EQ_INT(st.resolves, 1);
	CHECK(st.retries >= 1);
	teardown();
}

int main(void)
{
	RUN(test_keepalive_and_close);
	RUN(test_address_resolved_off_the_loop);
	RUN(test_retry_5xx_429_and_status);
	RUN(test_401_rereads_token_once);
	RUN(test_post_not_resent_get_is);
	RUN(test_stream_and_cancel);
	return harness_finish();
}
