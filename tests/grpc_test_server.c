/*
 * gRPC test server for tests/e2e/test_grpc_interop.py and bench/grpc: the
 * library's server with test handlers, on one io loop.
 *
 *   grpc_test_server [--listen ADDR] [--max-recv N] [--grace-ms N] [--max-conns N]
 *                    [--tls-cert PEM --tls-key PEM]   (TLS 1.2, ALPN h2, as the worker serves it)
 *
 * Prints "port=N" once listening.  SIGTERM/SIGINT: graceful shutdown, then
 * "shutdown done" and exit 0.
 *
 * Methods (raw bytes in and out, except GetCluster and health):
 *   /test.Test/Echo      replies the request; each request metadata entry comes
 *                        back as a response header and as a trailer "<name>-t"
 *   /test.Test/Status    request "CODE MESSAGE": finishes with that status
 *   /test.Test/Sleep     request "MS": replies "slept" after MS (timer; cancel hook counted)
 *   /test.Test/Hang      never answers; the cancel hook is counted and finishes
 *   /test.Test/Big       request "N": replies N bytes of 'x' (N may be > 4 MiB)
 *   /test.Test/Stream    request "COUNT SIZE": server-streams COUNT messages of SIZE
 *                        bytes with back-pressure (queued bytes capped)
 *   /test.Test/Stats     replies "key=value ..." counters (cancel hooks run, queue peak, RSS)
 *   /test.Test/Deadline  replies the remaining deadline in ms ("-1" when none)
 *   /cplane.v1.ClusterService/GetCluster   answers a fixed Cluster from memory
 *   /grpc.health.v1.Health/Check, /Watch; /test.Test/SetHealth "SERVICE STATUS"
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cplane/v1/cplane.pb-c.h"
#include "grpc/health.h"
#include "grpc/server.h"
#include "io/tls_server.h"
#include "io/loop.h"

#define STREAM_QUEUE_CAP (64 * 1024)

static struct {
	io_loop *loop;
	grpc_server *srv;
	long hooks_cancelled, hooks_deadline, hooks_unavailable;
	size_t queue_peak;
	long streams_done;
	int64_t grace_ms;
} g;

static void count_hook(grpc_call *c)
{
	switch (grpc_call_cancel_status(c)) {
	case GRPC_CANCELLED: g.hooks_cancelled++; break;
	case GRPC_DEADLINE_EXCEEDED: g.hooks_deadline++; break;
	default: g.hooks_unavailable++; break;
	}
}

static void h_echo(grpc_call *c, void *arg)
{
	size_t len, n = grpc_call_metadata_count(c);
	const uint8_t *req = grpc_call_request(c, &len);

	(void)arg;
	for (size_t i = 0; i < n; i++) {
		const grpc_metadata *m = grpc_call_metadata_at(c, i);
		char tname[128];
		grpc_call_add_metadata(c, 0, m->name, m->value, m->value_len);
		snprintf(tname, sizeof(tname), "%s-t", m->name);
		grpc_call_add_metadata(c, 1, tname, m->value, m->value_len);
	}
	grpc_call_reply_bytes(c, req, len);
}

static void h_status(grpc_call *c, void *arg)
{
	size_t len;
	const uint8_t *req = grpc_call_request(c, &len);
	char tmp[1024];
	char *sp;

	(void)arg;
	snprintf(tmp, sizeof(tmp), "%.*s", (int)len, (const char *)req);
	sp = strchr(tmp, ' ');
	grpc_call_finish(c, atoi(tmp), sp ? sp + 1 : NULL);
}

typedef struct sleeper {
	io_timer t;
	grpc_call *call;
} sleeper;

static void sleep_done(io_loop *loop, void *arg)
{
	sleeper *s = arg;

	(void)loop;
	grpc_call_reply_bytes(s->call, (const uint8_t *)"slept", 5);
	free(s);
}

static void sleep_cancel(grpc_call *c, void *arg)
{
	sleeper *s = arg;

	count_hook(c);
	io_timer_stop(g.loop, &s->t);
	free(s);
	grpc_call_finish(c, GRPC_CANCELLED, NULL);
}

static void h_sleep(grpc_call *c, void *arg)
{
	size_t len;
	const uint8_t *req = grpc_call_request(c, &len);
	char tmp[32];
	sleeper *s = calloc(1, sizeof(*s));

	(void)arg;
	snprintf(tmp, sizeof(tmp), "%.*s", (int)len, (const char *)req);
	s->call = c;
	io_timer_init(&s->t, sleep_done, s);
	io_timer_start(g.loop, &s->t, atoll(tmp));
	grpc_call_set_cancel_hook(c, sleep_cancel, s);
}

static void hang_cancel(grpc_call *c, void *arg)
{
	(void)arg;
	count_hook(c);
	grpc_call_finish(c, GRPC_CANCELLED, NULL);
}

static void h_hang(grpc_call *c, void *arg)
{
	(void)arg;
	grpc_call_set_cancel_hook(c, hang_cancel, NULL);
}

static void h_big(grpc_call *c, void *arg)
{
	size_t len, n;
	const uint8_t *req = grpc_call_request(c, &len);
	char tmp[32];
	uint8_t *p;

	(void)arg;
	snprintf(tmp, sizeof(tmp), "%.*s", (int)len, (const char *)req);
	n = (size_t)atoll(tmp);
	p = malloc(n ? n : 1);
	memset(p, 'x', n);
	grpc_call_reply_bytes(c, p, n);
	free(p);
}

typedef struct streamer {
	long left;
	size_t size;
	uint8_t *msg;
} streamer;

static void stream_pump(grpc_call *c, void *arg)
{
	streamer *st = arg;

	while (st->left > 0) {
		size_t q = grpc_call_send_queued_bytes(c);
		if (q > g.queue_peak)
			g.queue_peak = q;
		if (q >= STREAM_QUEUE_CAP)
			return;	/* wait for on_writable */
		if (grpc_call_send_bytes(c, st->msg, st->size) < 0)
			return;
		st->left--;
	}
	g.streams_done++;
	free(st->msg);
	free(st);
	grpc_call_finish(c, GRPC_OK, NULL);
}

static void stream_cancel(grpc_call *c, void *arg)
{
	streamer *st = arg;

	count_hook(c);
	free(st->msg);
	free(st);
	grpc_call_finish(c, GRPC_CANCELLED, NULL);
}

static void h_stream(grpc_call *c, void *arg)
{
	size_t len;
	const uint8_t *req = grpc_call_request(c, &len);
	char tmp[64];
	streamer *st = calloc(1, sizeof(*st));
	char *sp;

	(void)arg;
	snprintf(tmp, sizeof(tmp), "%.*s", (int)len, (const char *)req);
	st->left = atol(tmp);
	sp = strchr(tmp, ' ');
	st->size = sp ? (size_t)atol(sp + 1) : 1;
	st->msg = malloc(st->size ? st->size : 1);
	for (size_t i = 0; i < st->size; i++)
		st->msg[i] = (uint8_t)('a' + i % 26);
	grpc_call_set_cancel_hook(c, stream_cancel, st);
	grpc_call_set_on_writable(c, stream_pump, st);
	stream_pump(c, st);
}

static long rss_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			v = atol(line + strlen(key));
	fclose(f);
	return v;
}

static void h_stats(grpc_call *c, void *arg)
{
	grpc_server_stats st, *s = &st;
	char out[512];
	int n;

	(void)arg;
	grpc_server_get_stats(g.srv, &st);
	n = snprintf(out, sizeof(out),
	    "hooks_cancelled=%ld hooks_deadline=%ld hooks_unavailable=%ld queue_peak=%zu "
	    "streams_done=%ld conns_open=%zu calls_active=%zu calls_started=%llu rejected=%llu "
	    "rss_kib=%ld hwm_kib=%ld",
	    g.hooks_cancelled, g.hooks_deadline, g.hooks_unavailable, g.queue_peak, g.streams_done,
	    s->conns_open, s->calls_active, (unsigned long long)s->calls_started,
	    (unsigned long long)s->calls_rejected, rss_kib("VmRSS:"), rss_kib("VmHWM:"));
	grpc_call_reply_bytes(c, (const uint8_t *)out, (size_t)n);
}

static void h_deadline(grpc_call *c, void *arg)
{
	char out[32];
	int64_t d = grpc_call_deadline(c);
	int n = snprintf(out, sizeof(out), "%lld", d < 0 ? -1LL : (long long)(d - io_loop_now(g.loop)));

	(void)arg;
	grpc_call_reply_bytes(c, (const uint8_t *)out, (size_t)n);
}

static void h_set_health(grpc_call *c, void *arg)
{
	size_t len;
	const uint8_t *req = grpc_call_request(c, &len);
	char tmp[256];
	char *sp;

	(void)arg;
	snprintf(tmp, sizeof(tmp), "%.*s", (int)len, (const char *)req);
	sp = strrchr(tmp, ' ');
	if (sp == NULL) {
		grpc_call_finish(c, GRPC_INVALID_ARGUMENT, "want \"SERVICE STATUS\"");
		return;
	}
	*sp = '\0';
	if (grpc_health_set(g.srv, tmp, atoi(sp + 1)) < 0) {
		grpc_call_finish(c, GRPC_INVALID_ARGUMENT, "bad status");
		return;
	}
	grpc_call_reply_bytes(c, (const uint8_t *)"ok", 2);
}

static void h_get_cluster(grpc_call *c, void *arg)
{
	const Cplane__V1__GetClusterRequest *req =
	    (const Cplane__V1__GetClusterRequest *)grpc_call_request_msg(c);
	Cplane__V1__Cluster cl = CPLANE__V1__CLUSTER__INIT;

	(void)arg;
	cl.name = req->name;
	cl.replicas = 3;
	cl.ready_replicas = 3;
	cl.phase = CPLANE__V1__PHASE__READY;
	cl.image = (char *)"registry.k8s.io/pause:3.9";
	cl.created_unix_ms = 1700000000000LL;
	grpc_call_reply(c, &cl.base);
}

static void on_done(grpc_server *s, void *arg)
{
	(void)s;
	(void)arg;
	printf("shutdown done\n");
	fflush(stdout);
	io_loop_stop(g.loop);
}

static void on_signal(io_loop *loop, int signo, void *arg)
{
	(void)loop;
	(void)signo;
	(void)arg;
	grpc_server_shutdown(g.srv, g.grace_ms, on_done, NULL);
}

int main(int argc, char **argv)
{
	const char *listen = "127.0.0.1:0";
	tls_server_files tf = {NULL, NULL, NULL, 0};
	tls_server_config *tls = NULL;
	grpc_server_opts o;
	char err[256];

	grpc_server_opts_default(&o);
	g.grace_ms = 2000;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--listen") == 0)
			listen = argv[i + 1];
		else if (strcmp(argv[i], "--max-recv") == 0)
			o.max_recv_msg = (uint32_t)atol(argv[i + 1]);
		else if (strcmp(argv[i], "--grace-ms") == 0)
			g.grace_ms = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--max-conns") == 0)
			o.max_conns = (size_t)atol(argv[i + 1]);
		else if (strcmp(argv[i], "--tls-cert") == 0)
			tf.cert_file = argv[i + 1];
		else if (strcmp(argv[i], "--tls-key") == 0)
			tf.key_file = argv[i + 1];
		else {
			fprintf(stderr, "unknown flag %s\n", argv[i]);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (tf.cert_file != NULL) {
		if ((tls = tls_server_config_new(&tf, 0, err, sizeof(err))) == NULL) {
			fprintf(stderr, "tls: %s\n", err);
			return 1;
		}
		o.tls = tls;
	}
	g.loop = io_loop_new();
	g.srv = grpc_server_new(g.loop, &o);
	if (g.loop == NULL || g.srv == NULL)
		return 1;
	grpc_server_add_method(g.srv, "/cplane.v1.ClusterService/GetCluster",
	    &cplane__v1__get_cluster_request__descriptor, h_get_cluster, NULL);
	grpc_server_add_method(g.srv, "/test.Test/Echo", NULL, h_echo, NULL);
	grpc_server_add_method(g.srv, "/test.Test/Status", NULL, h_status, NULL);
	grpc_server_add_method(g.srv, "/test.Test/Sleep", NULL, h_sleep, NULL);
	grpc_server_add_method(g.srv, "/test.Test/Hang", NULL, h_hang, NULL);
	grpc_server_add_method(g.srv, "/test.Test/Big", NULL, h_big, NULL);
	grpc_server_add_method(g.srv, "/test.Test/Stream", NULL, h_stream, NULL);
	grpc_server_add_method(g.srv, "/test.Test/Stats", NULL, h_stats, NULL);
	grpc_server_add_method(g.srv, "/test.Test/Deadline", NULL, h_deadline, NULL);
	grpc_server_add_method(g.srv, "/test.Test/SetHealth", NULL, h_set_health, NULL);
	grpc_health_register(g.srv);
	if (grpc_server_listen(g.srv, listen, err, sizeof(err)) < 0) {
		fprintf(stderr, "listen %s: %s\n", listen, err);
		return 1;
	}
	io_loop_on_signal(g.loop, SIGTERM, on_signal, NULL);
	io_loop_on_signal(g.loop, SIGINT, on_signal, NULL);
	printf("port=%d\n", grpc_server_port(g.srv));
	fflush(stdout);
	io_loop_run(g.loop);
	grpc_server_free(g.srv);
	tls_server_config_free(tls);
	io_loop_free(g.loop);
	return 0;
}
