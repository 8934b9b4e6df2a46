/*
 * gRPC test client for tests/e2e/test_grpc_interop.py: the library's client
 * making calls against a python3-grpcio server.  One command per run; one
 * result line per call on stdout.
 *
 *   grpc_test_client HOST:PORT unary  PATH REQ [timeout_ms [name=value ...]]
 *   grpc_test_client HOST:PORT stream PATH REQ [timeout_ms]
 *   grpc_test_client HOST:PORT many   N PATH REQ        N concurrent unary calls
 *   grpc_test_client HOST:PORT cancel PATH REQ AFTER_MS  cancel after AFTER_MS
 *   grpc_test_client HOST:PORT seq    N PATH REQ        N calls one after another
 *
 * Result: status=N msgs=N bytes=N reply_hex=... message="..." [md_<name>=<value> md_<name>-t=<value>]
 * For many/seq: ok=N fail=N statuses=<code:count,...> connects=N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/client.h"
#include "io/loop.h"
#include "io/net.h"

static struct {
	io_loop *loop;
	grpc_client *cl;
	int pending;
	int counts[GRPC_STATUS_MAX + 1];
	int ok, fail;
	int seq_left;
	const char *path, *req;
	const char *show[8];
	int nshow;
} g;

typedef struct result {
	int msgs;
	size_t bytes;
	char hex[129];
} result;

static int on_msg(grpc_ccall *call, void *arg, const uint8_t *msg, size_t len)
{
	result *r = arg;

	(void)call;
	if (r) {
		r->msgs++;
		r->bytes += len;
		if (r->msgs == 1)
			for (size_t i = 0; i < len && i < 64; i++)
				snprintf(r->hex + 2 * i, 3, "%02x", msg[i]);
	}
	return 0;
}

static void on_done_print(grpc_ccall *call, void *arg, int status, const char *message)
{
	result *r = arg;

	printf("status=%d msgs=%d bytes=%zu reply_hex=%s message=\"%s\"", status, r->msgs, r->bytes,
	    r->hex, message);
	for (int i = 0; i < g.nshow; i++) {
		char tname[128];
		const char *v = grpc_ccall_metadata_get(call, g.show[i], NULL);
		printf(" md_%s=%s", g.show[i], v ? v : "");
		snprintf(tname, sizeof(tname), "%s-t", g.show[i]);
		v = grpc_ccall_metadata_get(call, tname, NULL);
		printf(" md_%s=%s", tname, v ? v : "");
	}
	printf("\n");
	fflush(stdout);
	if (--g.pending == 0)
		io_loop_stop(g.loop);
}

static void on_done_count(grpc_ccall *call, void *arg, int status, const char *message);

static void start_seq(void)
{
	g.seq_left--;
	grpc_client_unary(g.cl, g.path, (const uint8_t *)g.req, strlen(g.req), NULL, on_msg,
	    on_done_count, NULL);
}

static void on_done_count(grpc_ccall *call, void *arg, int status, const char *message)
{
	(void)call;
	(void)arg;
	(void)message;
	if (status >= 0 && status <= GRPC_STATUS_MAX)
		g.counts[status]++;
	if (status == GRPC_OK)
		g.ok++;
	else
		g.fail++;
	if (g.seq_left > 0) {
		start_seq();
		return;
	}
	if (--g.pending == 0)
		io_loop_stop(g.loop);
}

static void cancel_cb(io_loop *loop, void *arg)
{
	(void)loop;
	grpc_client_cancel(arg);
}

int main(int argc, char **argv)
{
	char host[256], port[32], err[256];
	struct sockaddr_storage sa;
	socklen_t salen;
	result r;
	io_timer t;

	memset(&r, 0, sizeof(r));
	if (argc < 5) {
		fprintf(stderr, "usage: see the header of tests/grpc_test_client.c\n");
		return 2;
	}
	if (io_split_hostport(argv[1], host, sizeof(host), port, sizeof(port)) < 0 ||
	    io_resolve(host, port, &sa, &salen, err, sizeof(err)) < 0) {
		fprintf(stderr, "resolve %s: %s\n", argv[1], err);
		return 2;
	}
	g.loop = io_loop_new();
	g.cl = grpc_client_new(g.loop, (struct sockaddr *)&sa, salen, NULL);
	if (strcmp(argv[2], "unary") == 0 || strcmp(argv[2], "stream") == 0) {
		grpc_metadata md[8];
		grpc_call_opts o = {0, md, 0};
		int stream = argv[2][0] == 's';
		if (argc > 5)
			o.timeout_ms = atoll(argv[5]);
		for (int i = 6; i < argc && o.nmd < 8; i++) {
			char *eq = strchr(argv[i], '=');
			if (eq == NULL)
				continue;
			md[o.nmd].name = argv[i];
			md[o.nmd].name_len = (size_t)(eq - argv[i]);
			md[o.nmd].value = eq + 1;
			md[o.nmd].value_len = strlen(eq + 1);
			*eq = '\0';
			if (g.nshow < 8)
				g.show[g.nshow++] = argv[i];
			o.nmd++;
		}
		g.pending = 1;
		if ((stream ? grpc_client_stream : grpc_client_unary)(g.cl, argv[3], (const uint8_t *)argv[4],
		    strlen(argv[4]), &o, on_msg, on_done_print, &r) == NULL)
			return 1;
	} else if (strcmp(argv[2], "cancel") == 0 && argc > 5) {
		grpc_ccall *k;
		g.pending = 1;
		k = grpc_client_unary(g.cl, argv[3], (const uint8_t *)argv[4], strlen(argv[4]), NULL,
		    on_msg, on_done_print, &r);
		io_timer_init(&t, cancel_cb, k);
		io_timer_start(g.loop, &t, atoll(argv[5]));
	} else if ((strcmp(argv[2], "many") == 0 || strcmp(argv[2], "seq") == 0) && argc > 5) {
		int n = atoi(argv[3]);
		g.path = argv[4];
		g.req = argv[5];
		if (argv[2][0] == 's') {
			g.pending = 1;
			g.seq_left = n;
			start_seq();
		} else {
			g.pending = n;
			for (int i = 0; i < n; i++)
				grpc_client_unary(g.cl, g.path, (const uint8_t *)g.req, strlen(g.req), NULL,
				    on_msg, on_done_count, NULL);
		}
	} else {
		fprintf(stderr, "unknown command %s\n", argv[2]);
		return 2;
	}
	io_loop_run(g.loop);
	if (strcmp(argv[2], "many") == 0 || strcmp(argv[2], "seq") == 0) {
		printf("ok=%d fail=%d statuses=", g.ok, g.fail);
		for (int i = 0, first = 1; i <= GRPC_STATUS_MAX; i++) {
			if (g.counts[i]) {
				printf("%s%d:%d", first ? "" : ",", i, g.counts[i]);
				first = 0;
			}
		}
		printf(" connects=%llu\n", (unsigned long long)grpc_client_connects(g.cl));
	}
	grpc_client_free(g.cl);
	io_loop_free(g.loop);
	return 0;
}
