/*
 * tls_probe: one HTTP/1.1 client run over io_conn (plain or TLS) for
 * tests/e2e/test_tls.py.
 *
 *   tls_probe [--ca FILE] [--name NAME] [--path P] [--repeat N] [--slow-reader]
 *             [--timeout-ms N] HOST PORT
 *
 * Sends GET P (default /) N times on one keep-alive connection (the last with
 * "Connection: close" unless the server kept it open), parses each response
 * with the http1 parser and checks that bodies follow the test pattern
 * (byte i == i % 251) when the server says "X-Pattern: 1".  Prints one line:
 *   ok status=200 suite=ECDHE-ECDSA-AES128-GCM-SHA256 responses=N body_bytes=M pattern=1
 * or
 *   error=<reason in words>
 * and exits 0 or 1.  --slow-reader pauses reading after every delivery and
 * resumes 1 ms later (exercises io_conn_pause_read with TLS buffering).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "http1/http1.h"
#include "io/conn.h"
#include "io/loop.h"
#include "io/tls.h"

static io_loop *loop;
static io_conn *conn;
static tls_anchors *anchors;
static http1_resp *parser;
static io_timer resume_timer;
static const char *host, *path = "/";
static int repeat = 1, sent, responses, status, exit_code = 1, slow_reader;
static int64_t body_bytes, pattern_pos;
static bool pattern_on, pattern_ok = true, finished;

static void finish(int code, const char *error)
{
	if (finished)
		return;
	finished = true;
	exit_code = code;
	if (code == 0)
		printf("ok status=%d suite=%s responses=%d body_bytes=%lld pattern=%d\n", status,
		    anchors ? io_conn_tls_suite(conn) : "none", responses, (long long)body_bytes,
		    pattern_ok ? 1 : 0);
	else
		printf("error=%s\n", error);
	fflush(stdout);
	io_loop_stop(loop);
}

static void send_request(void)
{
	buf b = BUF_INIT;
	http1_header h[2] = {{STR_LIT("Host"), str_from_cstr(host)}, {STR_LIT("Connection"), STR_LIT("close")}};

	sent++;
	http1_resp_reset(parser, 0);
	if (http1_write_request(&b, "GET", path, h, sent == repeat ? 2 : 1, NULL, 0) < 0 ||
	    io_conn_write(conn, buf_data(&b), buf_len(&b)) < 0)
		finish(1, "could not queue the request");
	buf_free(&b);
}

static int on_headers(void *arg, const http1_response *r)
{
	const http1_header *p = http1_find_header(r->headers, r->nheaders, "x-pattern");

	(void)arg;
	status = r->status;
	pattern_on = p != NULL && str_eq_cstr(p->value, "1");
	pattern_pos = 0;
	return 0;
}

static int on_body(void *arg, const uint8_t *p, size_t n)
{
	(void)arg;
	body_bytes += (int64_t)n;
	if (pattern_on)
		for (size_t i = 0; i < n; i++, pattern_pos++)
			if (p[i] != (uint8_t)(pattern_pos % 251))
				pattern_ok = false;
	return 0;
}

static int on_complete(void *arg, const http1_response *r)
{
	(void)arg;
	(void)r;
	responses++;
	return 0;
}

static const http1_resp_cbs resp_cbs = {on_headers, on_body, on_complete};

static void on_connected(io_conn *c, void *arg)
{
	(void)c;
	(void)arg;
	send_request();
}

static void resume(io_loop *l, void *arg)
{
	(void)l;
	(void)arg;
	if (!finished)
		io_conn_pause_read(conn, false);
}

static void on_data(io_conn *c, const uint8_t *p, size_t n, void *arg)
{
	(void)arg;
	while (n > 0 && !finished) {
		int r = http1_resp_feed(parser, p, n);

		if (r < 0) {
			finish(1, http1_strerror(r));
			return;
		}
		p += r;
		n -= (size_t)r;
		if (!http1_resp_done(parser))
			break;
		if (sent == repeat) {
			finish(0, NULL);
			return;
		}
		if (!http1_resp_response(parser)->keep_alive) {
			finish(1, "server closed the connection early");
			return;
		}
		send_request();
	}
	if (slow_reader && !finished) {
		io_conn_pause_read(c, true);
		io_timer_start(loop, &resume_timer, 1);
	}
}

static void on_close(io_conn *c, const char *error, void *arg)
{
	int r;

	(void)c;
	(void)arg;
	if (error != NULL) {
		finish(1, error);
		return;
	}
	r = http1_resp_eof(parser);
	if (r == 0 && http1_resp_done(parser) && sent == repeat)
		finish(0, NULL);
	else
		finish(1, r < 0 ? http1_strerror(r) : "connection closed early");
}

int main(int argc, char **argv)
{
	io_conn_opts opts;
	io_conn_cbs cbs = {on_connected, on_data, NULL, on_close};
	const char *ca = NULL, *name = NULL;
	char err[512];
	int64_t timeout_ms = 10000;
	int i;

	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc)
			ca = argv[++i];
		else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			name = argv[++i];
		else if (strcmp(argv[i], "--path") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
			repeat = atoi(argv[++i]);
		else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc)
			timeout_ms = atoll(argv[++i]);
		else if (strcmp(argv[i], "--slow-reader") == 0)
			slow_reader = 1;
		else
			break;
	}
	if (argc - i != 2 || repeat < 1) {
		fprintf(stderr, "usage: tls_probe [--ca FILE] [--name NAME] [--path P] [--repeat N] "
		    "[--slow-reader] [--timeout-ms N] HOST PORT\n");
		return 2;
	}
	host = argv[i];
	loop = io_loop_new();
	parser = http1_resp_new(NULL, &resp_cbs, NULL);
	io_timer_init(&resume_timer, resume, NULL);
	if (ca != NULL) {
		anchors = tls_anchors_new();
		if (tls_anchors_load_file(anchors, ca, err, sizeof(err)) <= 0) {
			printf("error=%s\n", err[0] ? err : "no certificates in CA file");
			return 1;
		}
	}
	memset(&opts, 0, sizeof(opts));
	opts.host = argv[i];
	opts.port = argv[i + 1];
	opts.anchors = anchors;
	opts.server_name = name;
	opts.connect_timeout_ms = timeout_ms;
	conn = io_conn_connect(loop, &opts, &cbs, NULL, err, sizeof(err));
	if (conn == NULL) {
		printf("error=%s\n", err);
		return 1;
	}
	while (!finished && io_loop_run_once(loop, 1000) >= 0)
		;
	io_timer_stop(loop, &resume_timer);
	io_conn_free(conn);
	http1_resp_free(parser);
	tls_anchors_free(anchors);
	io_loop_free(loop);
	return exit_code;
}
