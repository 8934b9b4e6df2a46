/*
 * A tiny HTTP/2 peer built on src/h2 with its own poll loop, for interop
 * tests and the h2 benchmark.  Not part of cplane.
 *
 * Server:  h2_responder [--port N] [--window N] [--frame N] [--max-streams N]
 *   prints "port=N" once listening.  Every request is answered when its body
 *   has ended:
 *     content-type application/grpc*  → 200 application/grpc, the request
 *                                        body echoed, trailers grpc-status 0
 *     :path /big/N                     → 200 with N bytes of 'x'
 *     :path /echo                      → 200 with the request body
 *     anything else                    → 200 text/plain "hello\n"
 *   SIGTERM/SIGINT: graceful GOAWAY on every connection, exit when idle.
 *
 * Client:  h2_responder --connect PORT [-n STREAMS] [-c CONCURRENT] [--path P] [--body N] [--grpc]
 *   runs the requests against 127.0.0.1:PORT (--grpc: gRPC headers, the body
 *   one framed message, trailers must say grpc-status 0) and prints
 *   "ok streams=N bytes=B" (exit 0) or the failure (exit 1).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "h2/h2.h"

#define MAX_CONNS 1024

typedef struct req {
	buf body;
	int grpc;
	size_t big;
	int echo;
} req;

typedef struct conn {
	int fd;
	h2_conn *h;
} conn;

static volatile sig_atomic_t stopping;
static h2_settings settings;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int hdr_is(const h2_field *f, const char *name)
{
	return f->name_len == strlen(name) && memcmp(f->name, name, f->name_len) == 0;
}

static void answer(h2_conn *h, int32_t id, req *r)
{
	static const h2_field grpc_hdr[] = {H2_FIELD_LIT("content-type", "application/grpc")};
	static const h2_field grpc_trl[] = {H2_FIELD_LIT("grpc-status", "0")};
	static const h2_field text_hdr[] = {H2_FIELD_LIT("content-type", "text/plain")};

	if (r->grpc) {
		h2_submit_response(h, id, 200, grpc_hdr, 1, 0);
		h2_submit_data(h, id, buf_data(&r->body), buf_len(&r->body), 0);
		h2_submit_trailers(h, id, grpc_trl, 1);
	} else if (r->big) {
		static uint8_t chunk[65536];
		size_t left = r->big;

		if (chunk[0] != 'x')
			memset(chunk, 'x', sizeof(chunk));
		h2_submit_response(h, id, 200, text_hdr, 1, 0);
		while (left > 0) {
			size_t n = left < sizeof(chunk) ? left : sizeof(chunk);

			left -= n;
			h2_submit_data(h, id, chunk, n, left == 0);
		}
	} else if (r->echo) {
		h2_submit_response(h, id, 200, text_hdr, 1, 0);
		h2_submit_data(h, id, buf_data(&r->body), buf_len(&r->body), 1);
	} else {
		h2_submit_response(h, id, 200, text_hdr, 1, 0);
		h2_submit_data(h, id, (const uint8_t *)"hello\n", 6, 1);
	}
}

static int on_headers(h2_conn *h, void *user, int32_t id, void *su, const h2_headers *hd)
{
	req *r = su;
	size_t i;

	(void)user;
	if (hd->is_trailers) {
		if (r)
			answer(h, id, r);
		return 0;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -1;
	for (i = 0; i < hd->nfields; i++)
		if (hdr_is(&hd->fields[i], "content-type") && hd->fields[i].value_len >= 16 &&
		    memcmp(hd->fields[i].value, "application/grpc", 16) == 0)
			r->grpc = 1;
	if (hd->path_len > 5 && memcmp(hd->path, "/big/", 5) == 0)
		r->big = (size_t)strtoul(hd->path + 5, NULL, 10);
	if (hd->path_len == 5 && memcmp(hd->path, "/echo", 5) == 0)
		r->echo = 1;
	h2_stream_set_user(h, id, r);
	if (hd->end_stream)
		answer(h, id, r);
	return 0;
}

static int on_data(h2_conn *h, void *user, int32_t id, void *su, const uint8_t *d, size_t len, int end)
{
	req *r = su;

	(void)user;
	if (r && buf_append(&r->body, d, len) != 0)
		return -1;
	h2_conn_consume(h, id, len);
	if (end && r)
		answer(h, id, r);
	return 0;
}

static void on_close(h2_conn *h, void *user, int32_t id, void *su, uint32_t code, int remote)
{
	req *r = su;

	(void)h;
	(void)user;
	(void)id;
	(void)code;
	(void)remote;
	if (r) {
		buf_free(&r->body);
		free(r);
	}
}

static const h2_callbacks server_cb = {.on_headers = on_headers, .on_data = on_data, .on_stream_close = on_close};

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Writes what h has; returns -1 when the connection is done. */
static int flush_conn(conn *c)
{
	for (;;) {
		size_t n;
		const uint8_t *p = h2_conn_pending(c->h, &n);
		ssize_t w;

		if (p == NULL)
			break;
		w = write(c->fd, p, n);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -1;
		}
		h2_conn_consumed(c->h, (size_t)w);
		if ((size_t)w < n)
			return 0;
	}
	return h2_conn_want_close(c->h) ? -1 : 0;
}

static int run_server(int port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1, draining = 0;
	static conn conns[MAX_CONNS];
	static struct pollfd pfd[MAX_CONNS + 1];
	size_t nconns = 0, i;
	static uint8_t rbuf[65536];

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 512) != 0) {
		perror("listen");
		return 1;
	}
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	printf("port=%d\n", ntohs(sa.sin_port));
	fflush(stdout);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		int64_t now = now_ms(), timeout = 1000;

		if (stopping && !draining) {
			draining = 1;
			for (i = 0; i < nconns; i++)
				h2_submit_goaway(conns[i].h, H2_NO_ERROR, 1, NULL);
		}
		if (draining && nconns == 0)
			return 0;
		pfd[0].fd = draining ? -1 : lfd;
		pfd[0].events = POLLIN;
		for (i = 0; i < nconns; i++) {
			int64_t d;

			h2_conn_tick(conns[i].h, now);
			if (flush_conn(&conns[i]) != 0) {
				close(conns[i].fd);
				h2_conn_free(conns[i].h);
				conns[i] = conns[--nconns];
				i--;
				continue;
			}
			pfd[i + 1].fd = conns[i].fd;
			pfd[i + 1].events = POLLIN | (h2_conn_want_write(conns[i].h) ? POLLOUT : 0);
			d = h2_conn_next_deadline(conns[i].h);
			if (d >= 0 && d - now < timeout)
				timeout = d - now < 0 ? 0 : d - now;
		}
		if (poll(pfd, nconns + 1, (int)timeout) < 0 && errno != EINTR)
			return 1;
		if (pfd[0].revents & POLLIN) {
			int fd = accept(lfd, NULL, NULL);

			if (fd >= 0 && nconns < MAX_CONNS) {
				fcntl(fd, F_SETFL, O_NONBLOCK);
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				conns[nconns].fd = fd;
				conns[nconns].h = h2_conn_new(H2_ROLE_SERVER, &settings, &server_cb, NULL);
				if (stopping)
					h2_submit_goaway(conns[nconns].h, H2_NO_ERROR, 1, NULL);
				nconns++;
				pfd[nconns].revents = 0;
			} else if (fd >= 0) {
				close(fd);
			}
		}
		for (i = 0; i < nconns; i++) {
			if (!(pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			for (;;) {
				ssize_t n = read(conns[i].fd, rbuf, sizeof(rbuf));

				if (n > 0) {
					if (h2_conn_feed(conns[i].h, rbuf, (size_t)n) < 0)
						break;
					if ((size_t)n < sizeof(rbuf))
						break;
					continue;
				}
				if (n < 0 && (errno == EAGAIN || errno == EINTR))
					break;
				/* EOF or error: forget the connection. */
				close(conns[i].fd);
				h2_conn_free(conns[i].h);
				conns[i] = conns[--nconns];
				pfd[i + 1] = pfd[nconns + 1];
				i--;
				break;
			}
		}
	}
}

/* ---- client ---- */

typedef struct cstate {
	int done, failed, opened;
	uint64_t bytes;
	int grpc;
} cstate;

static int c_headers(h2_conn *h, void *user, int32_t id, void *su, const h2_headers *hd)
{
	cstate *st = user;

	(void)h;
	(void)id;
	(void)su;
	if (!hd->is_trailers && hd->status != 200)
		st->failed = 1;
	if (st->grpc && hd->end_stream) {
		size_t i;
		int ok = 0;

		for (i = 0; i < hd->nfields; i++)
			if (hdr_is(&hd->fields[i], "grpc-status"))
				ok = hd->fields[i].value_len == 1 && hd->fields[i].value[0] == '0';
		if (!ok) {
			fprintf(stderr, "stream %d: no grpc-status 0\n", id);
			st->failed = 1;
		}
	}
	return 0;
}

static int c_data(h2_conn *h, void *user, int32_t id, void *su, const uint8_t *d, size_t len, int end)
{
	cstate *st = user;

	(void)su;
	(void)d;
	(void)end;
	st->bytes += len;
	h2_conn_consume(h, id, len);
	return 0;
}

static void c_close(h2_conn *h, void *user, int32_t id, void *su, uint32_t code, int remote)
{
	cstate *st = user;

	(void)h;
	(void)id;
	(void)su;
	(void)remote;
	if (code != H2_NO_ERROR) {
		fprintf(stderr, "stream %d closed with %s\n", id, h2_error_code_str(code));
		st->failed = 1;
	}
	st->done++;
}

static int run_client(int port, int nstreams, int conc, const char *path, size_t body_len, int grpc)
{
	static const h2_field grpc_fields[] = {H2_FIELD_LIT("content-type", "application/grpc"),
		H2_FIELD_LIT("te", "trailers")};
	static const h2_callbacks cb = {.on_headers = c_headers, .on_data = c_data, .on_stream_close = c_close};
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cstate st;
	h2_conn *h;
	uint8_t *body = malloc(body_len + 1);
	static uint8_t rbuf[65536];
	conn c;
	int rc = 1;

	memset(&st, 0, sizeof(st));
	st.grpc = grpc;
	memset(body, 'b', body_len + 1);
	if (grpc && body_len >= 5) {
		/* One uncompressed gRPC message filling the body. */
		body[0] = 0;
		body[1] = (uint8_t)((body_len - 5) >> 24);
		body[2] = (uint8_t)((body_len - 5) >> 16);
		body[3] = (uint8_t)((body_len - 5) >> 8);
		body[4] = (uint8_t)(body_len - 5);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("connect");
		free(body);
		return 1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	h = h2_conn_new(H2_ROLE_CLIENT, &settings, &cb, &st);
	c.fd = fd;
	c.h = h;
	while (st.done < nstreams && !st.failed) {
		struct pollfd p;
		ssize_t n;

		while (st.opened < nstreams && st.opened - st.done < conc && h2_conn_can_open_stream(h)) {
			int32_t id = h2_submit_request(h, body_len ? "POST" : "GET", "http", "localhost", path,
			    grpc ? grpc_fields : NULL, grpc ? 2 : 0, body_len == 0, NULL);

			if (id < 0)
				break;
			if (body_len)
				h2_submit_data(h, id, body, body_len, 1);
			st.opened++;
		}
		h2_conn_tick(h, now_ms());
		if (flush_conn(&c) != 0 && h2_conn_want_close(h)) {
			fprintf(stderr, "connection closing: %s %s\n", h2_error_code_str(h2_conn_error_code(h)),
			    h2_conn_error_desc(h));
			goto out;
		}
		p.fd = fd;
		p.events = POLLIN | (h2_conn_want_write(h) ? POLLOUT : 0);
		if (poll(&p, 1, 5000) <= 0) {
			fprintf(stderr, "timeout: %d/%d done\n", st.done, nstreams);
			goto out;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(fd, rbuf, sizeof(rbuf));
			if (n == 0 || (n < 0 && errno != EAGAIN)) {
				fprintf(stderr, "connection lost: %d/%d done\n", st.done, nstreams);
				goto out;
			}
			if (n > 0 && h2_conn_feed(h, rbuf, (size_t)n) < 0) {
				fprintf(stderr, "h2 error: %s %s\n", h2_error_code_str(h2_conn_error_code(h)),
				    h2_conn_error_desc(h));
				goto out;
			}
		}
	}
	if (!st.failed) {
		h2_submit_goaway(h, H2_NO_ERROR, 0, NULL);
		flush_conn(&c);
		printf("ok streams=%d bytes=%llu\n", st.done, (unsigned long long)st.bytes);
		rc = 0;
	}
out:
	h2_conn_free(h);
	close(fd);
	free(body);
	return rc;
}

int main(int argc, char **argv)
{
	int port = 0, i, connect_port = 0, n = 1, conc = 100, grpc = 0;
	const char *path = "/";
	size_t body = 0;

	h2_settings_default(&settings);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "0";

		if (strcmp(a, "--port") == 0)
			port = atoi(v), i++;
		else if (strcmp(a, "--window") == 0)
			settings.initial_window_size = (uint32_t)strtoul(v, NULL, 10), i++;
		else if (strcmp(a, "--conn-window") == 0)
			settings.connection_window = (uint32_t)strtoul(v, NULL, 10), i++;
		else if (strcmp(a, "--frame") == 0)
			settings.max_frame_size = (uint32_t)strtoul(v, NULL, 10), i++;
		else if (strcmp(a, "--max-streams") == 0)
			settings.max_concurrent_streams = (uint32_t)strtoul(v, NULL, 10), i++;
		else if (strcmp(a, "--connect") == 0)
			connect_port = atoi(v), i++;
		else if (strcmp(a, "-n") == 0)
			n = atoi(v), i++;
		else if (strcmp(a, "-c") == 0)
			conc = atoi(v), i++;
		else if (strcmp(a, "--path") == 0)
			path = v, i++;
		else if (strcmp(a, "--grpc") == 0)
			grpc = 1;
		else if (strcmp(a, "--body") == 0)
			body = (size_t)strtoul(v, NULL, 10), i++;
		else {
			fprintf(stderr, "usage: see the comment at the top of tests/h2_responder.c\n");
			return 2;
		}
	}
	if (connect_port)
		return run_client(connect_port, n, conc, path, body, grpc);
	return run_server(port);
}
