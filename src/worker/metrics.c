/*
 * One connection = one small state: bytes read so far and one response to
 * write.  Requests are tiny (GET, no body), so a head larger than 8 KiB is
 * refused rather than buffered.
 *
 * What an unauthenticated client may cost is bounded: one response in
 * flight per connection (reading stops while it is unwritten, so pipelined
 * requests wait in the kernel, not in our memory), 16 KiB of input, and 64
 * connections — together about 64 x (16 KiB + one /metrics page).  Time is
 * bounded too (io/conntab.h lists, never reset by a byte): 30 s waiting for
 * a request, 10 s from a head's first byte to its end, 30 s to write a
 * response.  A newcomer at capacity closes the connection that has been in
 * its state the longest (an idle one, a slowloris head or a reader that
 * does not read), so /healthz stays reachable.
 */
#include "worker/metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/mem.h"
#include "http1/http1.h"
#include "io/conntab.h"
#include "io/listener.h"
#include "io/net.h"

#define METRICS_MAX_CONNS 64
#define METRICS_MAX_HEAD 8192
#define METRICS_IDLE_MS 30000
#define METRICS_HEAD_MS 10000
#define METRICS_WRITE_MS 30000
#define METRICS_ANSWERS_PER_TURN 4

/* conntab lists */
enum { M_WAIT = 0, M_HEAD = 1, M_WRITE = 2 };

struct mconn {
	conntab_ent ent;	/* first: see mconn_of() */
	metrics_server *m;
	int fd;
	buf in, out;
	int closing;
	uint64_t served;	/* responses queued so far */
};

struct metrics_server {
	io_loop *loop;
	io_listener listener;
	conntab tab;
	io_timer timer;
	struct {
		metrics_source_fn fn;
		void *arg;
	} sources[8];
	size_t nsources;
	metrics_ready_fn ready;
	void *ready_arg;
};

static struct mconn *mconn_of(conntab_ent *e)
{
	return (struct mconn *)(void *)e;
}

static void arm_timer(metrics_server *m)
{
	int64_t d = conntab_next_deadline(&m->tab);

	if (d >= 0 && (!io_timer_active(&m->timer) || d < m->timer.when))
		io_timer_start_at(m->loop, &m->timer, d);
}

/* restart: a response went out, so the next request's clocks start now. */
static void set_state(struct mconn *c, int list, int restart)
{
	if (c->ent.list == list && !restart)
		return;	/* a state's clock is not restarted by more of the same (a byte of a head) */
	conntab_move(&c->m->tab, &c->ent, list, io_loop_now(c->m->loop));
	arm_timer(c->m);
}

static void mconn_close(struct mconn *c)
{
	conntab_remove(&c->m->tab, &c->ent);
	io_loop_del_fd(c->m->loop, c->fd);
	close(c->fd);
	buf_free(&c->in);
	buf_free(&c->out);
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

static void on_timer(io_loop *loop, void *arg)
{
	metrics_server *m = arg;
	conntab_ent *e;

	while ((e = conntab_expired(&m->tab, io_loop_now(loop))) != NULL)
		mconn_close(mconn_of(e));
	arm_timer(m);
}

/* Answers the first complete request in c->in, if any.  Returns -1 when c should close now. */
static int answer_one(struct mconn *c)
{
	http1_request req;
	http1_header hdrs[32];
	int r;

	if (c->closing || buf_len(&c->in) == 0)
		return 0;
	r = http1_parse_request(buf_data(&c->in), buf_len(&c->in), &req, hdrs, 32, METRICS_MAX_HEAD);
	if (r == 0) {
		if (buf_len(&c->in) > METRICS_MAX_HEAD)
			return -1;
		return 0;
	}
	if (r < 0) {
		respond(c, 400, "Bad Request", "text/plain; charset=utf-8", "bad request\n", 12, 1);
		return 0;
	}
	if ((uint64_t)req.content_length > buf_len(&c->in) - (size_t)r) {
		if (req.content_length > METRICS_MAX_HEAD)
			respond(c, 413, "Payload Too Large", "text/plain; charset=utf-8", "too large\n", 10, 1);
		return 0;	/* else wait for the body */
	}
	serve(c, &req);
	c->served++;
	buf_consume(&c->in, (size_t)r + (size_t)req.content_length);
	return 0;
}

static void on_conn(io_loop *loop, int fd, unsigned ev, void *arg)
{
	struct mconn *c = arg;
	int answered;
	uint64_t served_before = c->served;

	/* Read only while no response is pending: one response in flight per connection. */
	if ((ev & (IO_READ | IO_ERROR)) && buf_len(&c->out) == 0) {
		for (;;) {
			ssize_t n;
			if (buf_len(&c->in) > METRICS_MAX_HEAD * 2)
				break;	/* more than any request we answer: answer_one() refuses it */
			if (buf_reserve(&c->in, 4096) < 0)
				goto drop;
			n = read(fd, buf_tail(&c->in), buf_tail_room(&c->in));
			if (n > 0) {
				buf_commit(&c->in, (size_t)n);
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
	}
	/* A few pipelined answers per event, then the other connections get their turn. */
	for (answered = 0; answered < METRICS_ANSWERS_PER_TURN; answered++) {
		if (buf_len(&c->out) == 0 && answer_one(c) < 0)
			goto drop;
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
		if (buf_len(&c->out) > 0)
			break;
		if (c->closing)
			goto drop;
		/* Written: a pipelined request already read is answered now, one at a time. */
		if (buf_len(&c->in) == 0)
			break;
		{
			size_t before = buf_len(&c->in);
			if (answer_one(c) < 0)
				goto drop;
			if (buf_len(&c->out) == 0 && buf_len(&c->in) == before)
				break;	/* an incomplete head: wait for more */
		}
	}
	if (buf_len(&c->out) > 0 || answered == METRICS_ANSWERS_PER_TURN) {
		/* output pending, or requests still to answer next turn (writable = soon) */
		set_state(c, M_WRITE, c->served != served_before);
		io_loop_set_interest(loop, fd, IO_WRITE);
	} else {
		set_state(c, buf_len(&c->in) > 0 ? M_HEAD : M_WAIT, c->served != served_before);
		io_loop_set_interest(loop, fd, IO_READ);
	}
	return;
drop:
	mconn_close(c);
}

static void on_accept(int cfd, const struct sockaddr *peer, void *arg)
{
	metrics_server *m = arg;
	conntab_ent *victim = NULL;
	struct mconn *c;
	uint32_t key = conntab_peer_key(peer);

	switch (conntab_admit(&m->tab, key, &victim)) {
	case CONNTAB_REFUSE:
		close(cfd);
		return;
	case CONNTAB_EVICT:
		mconn_close(mconn_of(victim));
		break;
	case CONNTAB_ADMIT:
		break;
	}
	c = xcalloc(1, sizeof(*c));
	c->m = m;
	c->fd = cfd;
	if (io_loop_add_fd(m->loop, cfd, IO_READ, on_conn, c) < 0) {
		close(cfd);
		free(c);
		return;
	}
	conntab_add(&m->tab, &c->ent, key, M_WAIT, io_loop_now(m->loop));
	arm_timer(m);
}

static int on_exhausted(void *arg)
{
	metrics_server *m = arg;
	conntab_ent *victim = conntab_oldest(&m->tab);

	if (victim == NULL)
		return 0;
	mconn_close(mconn_of(victim));
	return 1;
}

metrics_server *metrics_server_new(io_loop *loop, const char *addr, char *err, size_t errsz)
{
	metrics_server *m = xcalloc(1, sizeof(*m));
	int fd;

	m->loop = loop;
	conntab_init(&m->tab, METRICS_MAX_CONNS, 0);
	m->tab.timeout_ms[M_WAIT] = METRICS_IDLE_MS;
	m->tab.timeout_ms[M_HEAD] = METRICS_HEAD_MS;
	m->tab.timeout_ms[M_WRITE] = METRICS_WRITE_MS;
	io_timer_init(&m->timer, on_timer, m);
	fd = io_listen(addr, 64, err, errsz);
	if (fd < 0 || io_listener_start(&m->listener, loop, fd, "metrics", on_accept, on_exhausted, m) < 0) {
		if (fd >= 0) {
			snprintf(err, errsz, "cannot register listener");
			close(fd);
		}
		free(m);
		return NULL;
	}
	return m;
}

void metrics_server_free(metrics_server *m)
{
	conntab_ent *e;

	if (m == NULL)
		return;
	io_listener_stop(&m->listener);
	io_timer_stop(m->loop, &m->timer);
	/* Every connection is listed (none is ever busy), so the lists hold them all. */
	while ((e = conntab_oldest(&m->tab)) != NULL)
		mconn_close(mconn_of(e));
	free(m);
}

int metrics_server_port(const metrics_server *m)
{
	return io_local_port(m->listener.fd);
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
