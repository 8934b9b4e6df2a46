/*
 * One connection = one small state: bytes read so far and bytes to write.
 * Requests are tiny (GET, no body), so a head larger than 8 KiB or more than
 * 64 connections is refused rather than buffered.
 */
#include "worker/metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "http1/http1.h"
#include "io/net.h"

#define METRICS_MAX_CONNS 64
#define METRICS_MAX_HEAD 8192
#define METRICS_IDLE_MS 30000

struct mconn {
	metrics_server *m;
	int fd;
	buf in, out;
	int closing;
	io_timer idle;
};

struct metrics_server {
	io_loop *loop;
	int lfd;
	struct {
		metrics_source_fn fn;
		void *arg;
	} sources[8];
	size_t nsources;
	metrics_ready_fn ready;
	void *ready_arg;
	size_t nconns;
};

static void mconn_close(struct mconn *c)
{
	io_loop_del_fd(c->m->loop, c->fd);
	io_timer_stop(c->m->loop, &c->idle);
	close(c->fd);
	buf_free(&c->in);
	buf_free(&c->out);
	c->m->nconns--;
	free(c);
}

static void respond(struct mconn *c, int status, const char *reason, const char *ctype, const void *body,
    size_t len, int close_after)
{
	http1_header h[1] = { { STR_LIT("Content-Type"), { ctype, strlen(ctype) } } };

	http1_write_response(&c->out, status, reason, h, 1, body, len, close_after);
	if (close_after)
		c->closing = 1;
}

static void serve(struct mconn *c, const http1_request *req)
{
	metrics_server *m = c->m;
	int close_after = !req->keep_alive;
	str path = req->target;
	const char *q = memchr(path.p, '?', path.len);

	if (q)
		path.len = (size_t)(q - path.p);
	if (!str_eq_cstr(req->method, "GET") && !str_eq_cstr(req->method, "HEAD")) {
		respond(c, 405, "Method Not Allowed", "text/plain; charset=utf-8", "only GET\n", 9, close_after);
		return;
	}
	if (str_eq_cstr(path, "/metrics")) {
		buf page = BUF_INIT;
		for (size_t i = 0; i < m->nsources; i++)
			m->sources[i].fn(&page, m->sources[i].arg);
		respond(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", buf_data(&page), buf_len(&page),
		    close_after);
		buf_free(&page);
	} else if (str_eq_cstr(path, "/healthz")) {
		respond(c, 200, "OK", "text/plain; charset=utf-8", "ok\n", 3, close_after);
	} else if (str_eq_cstr(path, "/readyz")) {
		if (m->ready == NULL || m->ready(m->ready_arg))
			respond(c, 200, "OK", "text/plain; charset=utf-8", "ready\n", 6, close_after);
		else
			respond(c, 503, "Service Unavailable", "text/plain; charset=utf-8", "not ready\n", 10,
			    close_after);
	} else {
		respond(c, 404, "Not Found", "text/plain; charset=utf-8", "not found\n", 10, close_after);
	}
}

static void on_idle(io_loop *loop, void *arg)
{
	(void)loop;
	mconn_close(arg);
}

static void on_conn(io_loop *loop, int fd, unsigned ev, void *arg)
{
	struct mconn *c = arg;

	if (ev & (IO_READ | IO_ERROR)) {
		for (;;) {
			ssize_t n;
			if (buf_reserve(&c->in, 4096) < 0)
				goto drop;
			n = read(fd, buf_tail(&c->in), buf_tail_room(&c->in));
			if (n > 0) {
				buf_commit(&c->in, (size_t)n);
				if (buf_len(&c->in) > METRICS_MAX_HEAD * 2)
					goto drop;
				continue;
			}
			if (n == 0)
				goto drop;
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			goto drop;
		}
		/* Answer every complete request in what arrived (pipelining). */
		while (!c->closing && buf_len(&c->in) > 0) {
			http1_request req;
			http1_header hdrs[32];
			int r = http1_parse_request(buf_data(&c->in), buf_len(&c->in), &req, hdrs, 32, METRICS_MAX_HEAD);
			if (r == 0)
				break;
			if (r < 0) {
				respond(c, 400, "Bad Request", "text/plain; charset=utf-8", "bad request\n", 12, 1);
				break;
			}
			if ((uint64_t)req.content_length > buf_len(&c->in) - (size_t)r) {
				if (req.content_length > METRICS_MAX_HEAD) {
					respond(c, 413, "Payload Too Large", "text/plain; charset=utf-8", "too large\n", 10, 1);
					break;
				}
				break;	/* wait for the body */
			}
			serve(c, &req);
			buf_consume(&c->in, (size_t)r + (size_t)req.content_length);
		}
		io_timer_start(loop, &c->idle, METRICS_IDLE_MS);
	}
	while (buf_len(&c->out) > 0) {
		ssize_t n = write(fd, buf_data(&c->out), buf_len(&c->out));
		if (n > 0) {
			buf_consume(&c->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		goto drop;
	}
	if (buf_len(&c->out) == 0 && c->closing)
		goto drop;
	io_loop_set_interest(loop, fd, buf_len(&c->out) ? IO_WRITE : IO_READ);
	return;
drop:
	mconn_close(c);
}

static void on_accept(io_loop *loop, int fd, unsigned ev, void *arg)
{
	metrics_server *m = arg;

	(void)ev;
	for (;;) {
		int cfd = io_accept(fd);
		struct mconn *c;
		if (cfd < 0)
			return;
		if (m->nconns >= METRICS_MAX_CONNS || (c = calloc(1, sizeof(*c))) == NULL) {
			close(cfd);
			continue;
		}
		c->m = m;
		c->fd = cfd;
		io_timer_init(&c->idle, on_idle, c);
		if (io_loop_add_fd(loop, cfd, IO_READ, on_conn, c) < 0) {
			close(cfd);
			free(c);
			continue;
		}
		m->nconns++;
		io_timer_start(loop, &c->idle, METRICS_IDLE_MS);
	}
}

metrics_server *metrics_server_new(io_loop *loop, const char *addr, char *err, size_t errsz)
{
	metrics_server *m = calloc(1, sizeof(*m));

	if (m == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	m->loop = loop;
	m->lfd = io_listen(addr, 64, err, errsz);
	if (m->lfd < 0 || io_loop_add_fd(loop, m->lfd, IO_READ, on_accept, m) < 0) {
		if (m->lfd >= 0)
			close(m->lfd);
		free(m);
		return NULL;
	}
	return m;
}

void metrics_server_free(metrics_server *m)
{
	if (m == NULL)
		return;
	io_loop_del_fd(m->loop, m->lfd);
	close(m->lfd);
	/* Open connections are few and short; they close with the process. */
	free(m);
}

int metrics_server_port(const metrics_server *m)
{
	return io_local_port(m->lfd);
}

int metrics_server_add_source(metrics_server *m, metrics_source_fn fn, void *arg)
{
	if (m->nsources >= sizeof(m->sources) / sizeof(m->sources[0]))
		return -1;
	m->sources[m->nsources].fn = fn;
	m->sources[m->nsources].arg = arg;
	m->nsources++;
	return 0;
}

void metrics_server_set_ready(metrics_server *m, metrics_ready_fn fn, void *arg)
{
	m->ready = fn;
	m->ready_arg = arg;
}

static double process_start_s;

void metrics_write_process(buf *out, void *arg)
{
	long pages = 0, rss = 0, page = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/statm", "r");

	(void)arg;
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	buf_printf(out,
	    "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
	    "# TYPE process_resident_memory_bytes gauge\n"
	    "process_resident_memory_bytes %ld\n"
	    "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
	    "# TYPE process_virtual_memory_bytes gauge\n"
	    "process_virtual_memory_bytes %ld\n"
	    "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
	    "# TYPE process_start_time_seconds gauge\n"
	    "process_start_time_seconds %.3f\n",
	    rss * page, pages * page, process_start_s);
}

/* Runs when the program is loaded, before main(): the start time is the process's, not the first scrape's. */
__attribute__((constructor)) static void metrics_note_start(void)
{
	process_start_s = (double)clock_wall_ms() / 1000.0;
}
