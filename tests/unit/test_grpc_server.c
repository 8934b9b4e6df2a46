/*
 * The gRPC server without sockets: an h2 client connection talks to a
 * detached server connection, bytes shuttled by hand (whole, and one byte at
 * a time).  Checks responses, Trailers-Only errors, metadata, deadlines,
 * cancellation hooks and the call lifetime rule.
 */
#include "harness.h"

#include "base/mem.h"
#include "grpc/health/v1/health.pb-c.h"
#include "grpc/reflection.h"
#include "grpc/reflection/v1/reflection.pb-c.h"
#include "grpc/server.h"
#include "h2/h2.h"
#include "io/loop.h"
#include "worker/descriptor_set.h"

typedef struct resp {
	int status;		/* :status */
	char ct[64];
	char grpc_status[8];
	char grpc_message[128];
	char accept_enc[32];
	char md[64];		/* x-echo header */
	char md_t[64];		/* x-echo-t trailer */
	int trailers_only;
	uint8_t data[256];
	size_t len;
	int closed;
	uint32_t close_code;
} resp;

static resp resps[16];
static int no_consume;	/* the client stops returning window: a slow reader */
static int feed_may_fail;	/* an allocation made to fail may fail a connection */

static void copy_field(char *dst, size_t dsz, const h2_field *f)
{
	size_t n = f->value_len < dsz - 1 ? f->value_len : dsz - 1;
	memcpy(dst, f->value, n);
	dst[n] = 0;
}

static int cl_headers(h2_conn *c, void *user, int32_t id, void *su, const h2_headers *h)
{
	resp *r = &resps[(id - 1) / 2 % 16];

	(void)c;
	(void)user;
	(void)su;
	if (!h->is_trailers) {
		r->status = h->status;
		r->trailers_only = h->end_stream;
	}
	for (size_t i = 0; i < h->nfields; i++) {
		const h2_field *f = &h->fields[i];
#define IS(lit) (f->name_len == sizeof(lit) - 1 && memcmp(f->name, lit, f->name_len) == 0)
		if (IS("content-type"))
			copy_field(r->ct, sizeof(r->ct), f);
		else if (IS("grpc-status"))
			copy_field(r->grpc_status, sizeof(r->grpc_status), f);
		else if (IS("grpc-message"))
			copy_field(r->grpc_message, sizeof(r->grpc_message), f);
		else if (IS("grpc-accept-encoding"))
			copy_field(r->accept_enc, sizeof(r->accept_enc), f);
		else if (IS("x-echo"))
			copy_field(r->md, sizeof(r->md), f);
		else if (IS("x-echo-t"))
			copy_field(r->md_t, sizeof(r->md_t), f);
#undef IS
	}
	return 0;
}

static int cl_data(h2_conn *c, void *user, int32_t id, void *su, const uint8_t *d, size_t len, int end)
{
	resp *r = &resps[(id - 1) / 2 % 16];

	(void)user;
	(void)su;
	(void)end;
	if (r->len + len <= sizeof(r->data)) {
		memcpy(r->data + r->len, d, len);
		r->len += len;
	}
	if (!no_consume)
		h2_conn_consume(c, id, len);
	return 0;
}

static void cl_close(h2_conn *c, void *user, int32_t id, void *su, uint32_t code, int remote)
{
	resp *r = &resps[(id - 1) / 2 % 16];

	(void)c;
	(void)user;
	(void)su;
	(void)remote;
	r->closed = 1;
	r->close_code = code;
}

static const h2_callbacks cl_cbs = {.on_headers = cl_headers, .on_data = cl_data, .on_stream_close = cl_close};

/* ---- server side ---- */

static io_loop *loop;
static int64_t fake_us = 1000000000;	/* the loop's clock: deadlines pass when a test moves it */
static grpc_call *held;

static int64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_us;
}

/* Moves the loop's clock on and runs one turn (its timers fire). */
static void advance_ms(int64_t ms)
{
	fake_us += ms * 1000;
	io_loop_run_once(loop, 0);
}
static int hook_runs, hook_status;

static void h_echo(grpc_call *c, void *arg)
{
	size_t len;
	const uint8_t *p = grpc_call_request(c, &len);
	const char *v = grpc_call_metadata_get(c, "x-in", NULL);

	(void)arg;
	if (v) {
		CHECK_EQ_INT(grpc_call_add_metadata(c, 0, "x-echo", v, strlen(v)), 0);
		CHECK_EQ_INT(grpc_call_add_metadata(c, 1, "x-echo-t", v, strlen(v)), 0);
		CHECK_EQ_INT(grpc_call_add_metadata(c, 0, "content-type", "x", 1), GRPC_ERR_INVALID);
		CHECK_EQ_INT(grpc_call_add_metadata(c, 0, "X-Upper", "x", 1), GRPC_ERR_INVALID);
	}
	grpc_call_reply_bytes(c, p, len);
}

/* Answers with the metadata it was given: "n=<count> <names...>" for the names not starting "x-m". */
static void h_md(grpc_call *c, void *arg)
{
	char out[200];
	int k = snprintf(out, sizeof(out), "n=%zu", grpc_call_metadata_count(c));

	(void)arg;
	for (size_t i = 0; i < grpc_call_metadata_count(c); i++) {
		const grpc_metadata *m = grpc_call_metadata_at(c, i);
		if (strncmp(m->name, "x-m", 3) != 0 && k < (int)sizeof(out))
			k += snprintf(out + k, sizeof(out) - (size_t)k, " %s", m->name);
	}
	grpc_call_reply_bytes(c, (const uint8_t *)out, strlen(out));
}

static void h_fail(grpc_call *c, void *arg)
{
	(void)arg;
	grpc_call_finish(c, GRPC_NOT_FOUND, "no \"x\": 100% gone\n");
}

static void hook(grpc_call *c, void *arg)
{
	(void)arg;
	hook_runs++;
	hook_status = grpc_call_cancel_status(c);
	CHECK(grpc_call_cancelled(c));
	CHECK_EQ_INT(grpc_call_send_bytes(c, (const uint8_t *)"x", 1), GRPC_ERR_CANCELLED);
	held = NULL;
	CHECK_EQ_INT(grpc_call_finish(c, GRPC_OK, NULL), GRPC_ERR_CANCELLED);
}

static void h_hold(grpc_call *c, void *arg)
{
	(void)arg;
	held = c;
	grpc_call_set_cancel_hook(c, hook, NULL);
}

static void h_flood(grpc_call *c, void *arg)	/* more than a small window takes, then holds */
{
	static uint8_t chunk[50000];

	(void)arg;
	for (int i = 0; i < 4; i++)
		CHECK_EQ_INT(grpc_call_send_bytes(c, chunk, sizeof(chunk)), 0);
	held = c;
	grpc_call_set_cancel_hook(c, hook, NULL);
}

/* Bidi: echoes each message; "bye" finishes the call from inside the message handler. */
static int chat_starts;

static void h_chat_start(grpc_call *c, void *arg)
{
	(void)arg;
	chat_starts++;
	CHECK_EQ_INT(grpc_call_metadata_count(c), 0);
}

static void h_chat_msg(grpc_call *c, const uint8_t *msg, size_t len, void *arg)
{
	(void)arg;
	if (msg == NULL) {
		CHECK_EQ_INT(grpc_call_finish(c, GRPC_OK, "eof"), 0);
		return;
	}
	if (len == 3 && memcmp(msg, "bye", 3) == 0) {
		CHECK_EQ_INT(grpc_call_finish(c, GRPC_OK, "bye"), 0);
		CHECK_EQ_INT(grpc_call_send_bytes(c, msg, len), GRPC_ERR_CANCELLED);
		return;
	}
	CHECK_EQ_INT(grpc_call_send_bytes(c, msg, len), 0);
}

static grpc_server *new_server(void)
{
	grpc_server_opts o;
	grpc_server *s;

	grpc_server_opts_default(&o);
	o.max_recv_msg = 100;
	s = grpc_server_new(loop, &o);
	CHECK_EQ_INT(grpc_server_add_method(s, "/t.T/Echo", NULL, h_echo, NULL), 0);
	CHECK_EQ_INT(grpc_server_add_method(s, "/t.T/Echo", NULL, h_echo, NULL), GRPC_ERR_INVALID);
	CHECK_EQ_INT(grpc_server_add_method(s, "/t.T/Fail", NULL, h_fail, NULL), 0);
	CHECK_EQ_INT(grpc_server_add_method(s, "/t.T/Hold", NULL, h_hold, NULL), 0);
	CHECK_EQ_INT(grpc_server_add_method(s, "/t.T/Flood", NULL, h_flood, NULL), 0);
	CHECK_EQ_INT(grpc_server_add_bidi_method(s, "/t.T/Chat", h_chat_start, h_chat_msg, NULL), 0);
	CHECK_EQ_INT(grpc_server_add_bidi_method(s, "/t.T/Chat2", h_chat_start, NULL, NULL), GRPC_ERR_INVALID);
	return s;
}

static grpc_server_stats stats_of(const grpc_server *s)
{
	grpc_server_stats st;

	grpc_server_get_stats(s, &st);
	return st;
}

/* Moves bytes both ways until neither side has output; step 0 = whole, else chunk size. */
static void shuttle(h2_conn *cl, grpc_sconn *sc, size_t step)
{
	for (int rounds = 0; rounds < 100; rounds++) {
		size_t n, moved = 0;
		const uint8_t *p = h2_conn_pending(cl, &n);
		if (n) {
			for (size_t off = 0; off < n;) {
				size_t k = step && n - off > step ? step : n - off;
				CHECK(grpc_server_conn_feed(sc, p + off, k) >= 0 || feed_may_fail);
				off += k;
			}
			h2_conn_consumed(cl, n);
			moved += n;
		}
		p = grpc_server_conn_pending(sc, &n);
		if (n) {
			CHECK(h2_conn_feed(cl, p, n) >= 0 || feed_may_fail);
			grpc_server_conn_consumed(sc, n);
			moved += n;
		}
		if (!moved)
			return;
	}
}

static int32_t request(h2_conn *cl, const char *path, const h2_field *extra, size_t nextra,
    const uint8_t *body, size_t len)
{
	h2_field f[8] = {H2_FIELD_LIT("content-type", "application/grpc"), H2_FIELD_LIT("te", "trailers")};
	size_t n = 2;
	int32_t id;

	for (size_t i = 0; i < nextra; i++)
		f[n++] = extra[i];
	id = h2_submit_request(cl, "POST", "http", "x", path, f, n, len == 0, NULL);
	if (len)
		h2_submit_data(cl, id, body, len, 1);
	return id;
}

/*
 * Past the 64th field the server still tells metadata from its own and
 * HTTP's fields (the first 64 are remembered in a bit mask, the rest
 * checked again): 70 fields, reserved ones before and after the 64th.
 */
static void test_metadata_past_64_fields(void)
{
	static const uint8_t hello[] = {0, 0, 0, 0, 1, 'x'};
	static char names[72][8];
	h2_field f[72];
	grpc_server *s = new_server();
	grpc_sconn *sc = grpc_server_conn_new_detached(s);
	h2_conn *cl = h2_conn_new(H2_ROLE_CLIENT, NULL, &cl_cbs, NULL);
	int32_t id;
	size_t n = 0;

	CHECK_EQ_INT(grpc_server_add_method(s, "/t.T/Md", NULL, h_md, NULL), 0);
	memset(resps, 0, sizeof(resps));
	shuttle(cl, sc, 0);
	f[n++] = (h2_field)H2_FIELD_LIT("content-type", "application/grpc");
	f[n++] = (h2_field)H2_FIELD_LIT("te", "trailers");
	for (unsigned i = 2; i < 72; i++) {
		const char *name = names[i];

		snprintf(names[i], sizeof(names[i]), "x-m%02u", i % 100);
		if (i == 40)
			name = "host";
		else if (i == 64)
			name = "user-agent";
		else if (i == 65)
			name = "grpc-x-a";
		else if (i == 70)
			name = "accept-encoding";
		else if (i == 66 || i == 3)
			name = "x-keep";
		f[n++] = (h2_field){name, strlen(name), "v", 1, 0};
	}
	id = h2_submit_request(cl, "POST", "http", "x", "/t.T/Md", f, n, 0, NULL);
	CHECK_EQ_INT(id, 1);
	h2_submit_data(cl, id, hello, sizeof(hello), 1);
	shuttle(cl, sc, 0);
	CHECK_EQ_STR(resps[0].grpc_status, "0");
	CHECK(resps[0].len > 5);
	CHECK_EQ_MEM(resps[0].data + 5, resps[0].len - 5, "n=66 x-keep x-keep", 18);
	h2_conn_free(cl);
	grpc_server_conn_free(sc);
	grpc_server_free(s);
}

static void run_basic(size_t step)
{
	static const uint8_t hello[] = {0, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
	static const uint8_t compressed[] = {1, 0, 0, 0, 1, 'x'};
	static const uint8_t big[] = {0, 0, 0, 0, 101};
	static const h2_field md[] = {H2_FIELD_LIT("x-in", "v1")};
	static const h2_field gz[] = {H2_FIELD_LIT("grpc-encoding", "gzip")};
	grpc_server *s = new_server();
	grpc_sconn *sc = grpc_server_conn_new_detached(s);
	h2_conn *cl = h2_conn_new(H2_ROLE_CLIENT, NULL, &cl_cbs, NULL);

	memset(resps, 0, sizeof(resps));
	shuttle(cl, sc, step);	/* SETTINGS both ways */
	CHECK_EQ_INT(request(cl, "/t.T/Echo", md, 1, hello, sizeof(hello)), 1);
	CHECK_EQ_INT(request(cl, "/t.T/Fail", NULL, 0, hello, sizeof(hello)), 3);
	CHECK_EQ_INT(request(cl, "/t.T/Nope", NULL, 0, hello, sizeof(hello)), 5);
	CHECK_EQ_INT(request(cl, "/t.T/Echo", NULL, 0, compressed, sizeof(compressed)), 7);
	CHECK_EQ_INT(request(cl, "/t.T/Echo", gz, 1, hello, sizeof(hello)), 9);
	CHECK_EQ_INT(request(cl, "/t.T/Echo", NULL, 0, big, sizeof(big)), 11);
	CHECK_EQ_INT(request(cl, "/t.T/Echo", NULL, 0, NULL, 0), 13);
	shuttle(cl, sc, step);

	CHECK_EQ_INT(resps[0].status, 200);
	CHECK_EQ_STR(resps[0].ct, "application/grpc");
	CHECK_EQ_MEM(resps[0].data, resps[0].len, hello, sizeof(hello));
	CHECK_EQ_STR(resps[0].grpc_status, "0");
	CHECK_EQ_STR(resps[0].md, "v1");
	CHECK_EQ_STR(resps[0].md_t, "v1");
	CHECK(!resps[0].trailers_only);
	CHECK(resps[0].closed);

	CHECK(resps[1].trailers_only);
	CHECK_EQ_STR(resps[1].grpc_status, "5");
	CHECK_EQ_STR(resps[1].grpc_message, "no \"x\": 100%25 gone%0A");

	CHECK_EQ_STR(resps[2].grpc_status, "12");
	CHECK_EQ_STR(resps[2].grpc_message, "unknown method Nope for service t.T");
	CHECK_EQ_STR(resps[3].grpc_status, "12");
	CHECK_EQ_STR(resps[3].accept_enc, "identity");
	CHECK_EQ_STR(resps[4].grpc_status, "12");
	CHECK_EQ_STR(resps[4].accept_enc, "identity");
	CHECK_EQ_STR(resps[5].grpc_status, "8");
	CHECK_EQ_STR(resps[6].grpc_status, "13");
	for (int i = 0; i < 7; i++)
		CHECK(resps[i].closed);
	CHECK_EQ_INT(stats_of(s).calls_started, 2);
	CHECK_EQ_INT(stats_of(s).calls_active, 0);

	h2_conn_free(cl);
	grpc_server_conn_free(sc);
	grpc_server_free(s);
}

static void test_basic_whole(void) { run_basic(0); }
static void test_basic_bytewise(void) { run_basic(1); }
static void test_basic_split7(void) { run_basic(7); }

static void run_bidi(size_t step)
{
	static const uint8_t three[] = {0, 0, 0, 0, 1, 'a', 0, 0, 0, 0, 2, 'b', 'b', 0, 0, 0, 0, 3, 'c', 'c', 'c'};
	static const uint8_t bye[] = {0, 0, 0, 0, 1, 'a', 0, 0, 0, 0, 3, 'b', 'y', 'e', 0, 0, 0, 0, 2, 'z', 'z'};
	grpc_server *s = new_server();
	grpc_sconn *sc = grpc_server_conn_new_detached(s);
	h2_conn *cl = h2_conn_new(H2_ROLE_CLIENT, NULL, &cl_cbs, NULL);
	int32_t id;

	memset(resps, 0, sizeof(resps));
	chat_starts = 0;
	shuttle(cl, sc, step);
	CHECK_EQ_INT(request(cl, "/t.T/Chat", NULL, 0, three, sizeof(three)), 1);
	CHECK_EQ_INT(request(cl, "/t.T/Chat", NULL, 0, NULL, 0), 3);
	shuttle(cl, sc, step);
	CHECK_EQ_INT(chat_starts, 2);

	CHECK_EQ_MEM(resps[0].data, resps[0].len, three, sizeof(three));
	CHECK_EQ_STR(resps[0].grpc_status, "0");
	CHECK_EQ_STR(resps[0].grpc_message, "eof");
	CHECK(!resps[0].trailers_only);
	CHECK(resps[1].trailers_only);
	CHECK_EQ_STR(resps[1].grpc_message, "eof");
	CHECK_EQ_INT(resps[1].len, 0);
	CHECK_EQ_INT(stats_of(s).calls_active, 0);
	CHECK_EQ_INT(stats_of(s).calls_started, 2);
	CHECK(resps[0].closed && resps[1].closed);
	grpc_server_conn_free(sc);
	h2_conn_free(cl);

	/* Open, no half-close: "bye" ends it from inside the handler; what follows is dropped. */
	sc = grpc_server_conn_new_detached(s);
	cl = h2_conn_new(H2_ROLE_CLIENT, NULL, &cl_cbs, NULL);
	memset(resps, 0, sizeof(resps));
	shuttle(cl, sc, step);
	id = h2_submit_request(cl, "POST", "http", "x", "/t.T/Chat",
	    (const h2_field[]){H2_FIELD_LIT("content-type", "application/grpc"), H2_FIELD_LIT("te", "trailers")}, 2, 0, NULL);
	CHECK_EQ_INT(id, 1);
	h2_submit_data(cl, id, bye, sizeof(bye), 0);
	shuttle(cl, sc, step);
	CHECK_EQ_MEM(resps[0].data, resps[0].len, bye, 6);
	CHECK_EQ_STR(resps[0].grpc_status, "0");
	CHECK_EQ_STR(resps[0].grpc_message, "bye");
	CHECK(resps[0].closed);
	CHECK_EQ_INT(stats_of(s).calls_active, 0);
	CHECK_EQ_INT(stats_of(s).calls_started, 3);

	h2_conn_free(cl);
	grpc_server_conn_free(sc);
	grpc_server_free(s);
}

static void test_bidi_whole(void) { run_bidi(0); }
static void test_bidi_bytewise(void) { run_bidi(1); }
static void test_bidi_split7(void) { run_bidi(7); }

static void test_cancel_paths(void)
{
	static const uint8_t m[] = {0, 0, 0, 0, 1, 'x'};
	static const h2_field tmo[] = {H2_FIELD_LIT("grpc-timeout", "1m")};
	grpc_server *s = new_server();
	grpc_sconn *sc = grpc_server_conn_new_detached(s);
	h2_conn *cl = h2_conn_new(H2_ROLE_CLIENT, NULL, &cl_cbs, NULL);
	int32_t id;

	memset(resps, 0, sizeof(resps));
	shuttle(cl, sc, 0);
	/* client reset */
	hook_runs = 0;
	id = request(cl, "/t.T/Hold", NULL, 0, m, sizeof(m));
	shuttle(cl, sc, 0);
	CHECK(held != NULL);
	CHECK_EQ_INT(stats_of(s).calls_active, 1);
	h2_submit_rst_stream(cl, id, H2_CANCEL);
	shuttle(cl, sc, 0);
	CHECK_EQ_INT(hook_runs, 1);
	CHECK_EQ_INT(hook_status, GRPC_CANCELLED);
	CHECK(held == NULL);
	CHECK_EQ_INT(stats_of(s).calls_active, 0);
	/* deadline */
	id = request(cl, "/t.T/Hold", tmo, 1, m, sizeof(m));
	shuttle(cl, sc, 0);
	CHECK(held != NULL);
	CHECK(grpc_call_deadline(held) >= 0);
	advance_ms(20);
	CHECK_EQ_INT(hook_runs, 2);
	CHECK_EQ_INT(hook_status, GRPC_DEADLINE_EXCEEDED);
	shuttle(cl, sc, 0);
	CHECK_EQ_STR(resps[(id - 1) / 2].grpc_status, "4");
	CHECK(resps[(id - 1) / 2].trailers_only);
	/* a held call without a hook survives its stream; finishing it later is safe */
	id = request(cl, "/t.T/Hold", NULL, 0, m, sizeof(m));
	shuttle(cl, sc, 0);
	{
		grpc_call *c = held;
		grpc_call_set_cancel_hook(c, NULL, NULL);
		/* connection loss */
		h2_conn_free(cl);
		grpc_server_conn_free(sc);
		CHECK_EQ_INT(hook_runs, 2);
		CHECK(grpc_call_cancelled(c));
		CHECK_EQ_INT(grpc_call_cancel_status(c), GRPC_UNAVAILABLE);
		CHECK_EQ_INT(grpc_call_reply_bytes(c, (const uint8_t *)"late", 4), GRPC_ERR_CANCELLED);
		held = NULL;
	}
	CHECK_EQ_INT(stats_of(s).calls_active, 0);
	CHECK_EQ_INT(stats_of(s).calls_deadline, 1);
	(void)id;
	grpc_server_free(s);
}

static void test_pool_reuse(void)
{
	static const uint8_t hello[] = {0, 0, 0, 0, 2, 'h', 'i'};
	grpc_server *s = new_server();
	grpc_sconn *sc = grpc_server_conn_new_detached(s);
	h2_conn *cl = h2_conn_new(H2_ROLE_CLIENT, NULL, &cl_cbs, NULL);

	shuttle(cl, sc, 0);
	for (int round = 0; round < 50; round++) {
		memset(resps, 0, sizeof(resps));
		for (int i = 0; i < 16; i++)
			request(cl, "/t.T/Echo", NULL, 0, hello, sizeof(hello));
		shuttle(cl, sc, 0);
		for (int i = 0; i < 16; i++)
			CHECK_EQ_STR(resps[i].grpc_status, "0");
	}
	CHECK_EQ_INT(stats_of(s).calls_started, 800);
	h2_conn_free(cl);
	grpc_server_conn_free(sc);
	grpc_server_free(s);
}

static void test_timeout_and_te_validation(void)
{
	static const uint8_t m[] = {0, 0, 0, 0, 1, 'x'};
	static const h2_field bad_tmo[] = {H2_FIELD_LIT("grpc-timeout", "5s")};
	grpc_server *s = new_server();
	grpc_sconn *sc = grpc_server_conn_new_detached(s);
	h2_conn *cl = h2_conn_new(H2_ROLE_CLIENT, NULL, &cl_cbs, NULL);
	h2_field nte[] = {H2_FIELD_LIT("content-type", "application/grpc+proto")};
	h2_field json[] = {H2_FIELD_LIT("content-type", "application/grpc+json"), H2_FIELD_LIT("te", "trailers")};
	int32_t id;

	memset(resps, 0, sizeof(resps));
	shuttle(cl, sc, 0);
	request(cl, "/t.T/Echo", bad_tmo, 1, m, sizeof(m));
	id = h2_submit_request(cl, "POST", "http", "x", "/t.T/Echo", nte, 1, 0, NULL);
	h2_submit_data(cl, id, m, sizeof(m), 1);
	id = h2_submit_request(cl, "POST", "http", "x", "/t.T/Echo", json, 2, 0, NULL);
	h2_submit_data(cl, id, m, sizeof(m), 1);
	h2_submit_request(cl, "GET", "http", "x", "/", NULL, 0, 1, NULL);
	shuttle(cl, sc, 0);
	CHECK_EQ_STR(resps[0].grpc_status, "13");
	CHECK_EQ_STR(resps[1].grpc_status, "13");	/* no te: trailers */
	CHECK_EQ_INT(resps[2].status, 415);
	CHECK_EQ_INT(resps[3].status, 200);
	CHECK(resps[3].len > 10 && memcmp(resps[3].data, "cplane ", 7) == 0);
	CHECK_EQ_STR(resps[3].ct, "text/plain; charset=utf-8");
	h2_conn_free(cl);
	grpc_server_conn_free(sc);
	grpc_server_free(s);
}

/*
 * A client sends the same header block for the same call, and h2 hands it
 * over as kept (h2_headers.block_id): the server reuses what it decided from
 * it (the method, the grpc-timeout) and nothing else: other blocks in
 * between, another method, and the same block again are each answered as
 * themselves, and a kept block's deadline still applies to every call.
 */
static void test_kept_blocks_keep_their_verdict(void)
{
	static const uint8_t hello[] = {0, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
	static const h2_field md[] = {H2_FIELD_LIT("x-in", "v1")};
	static const h2_field tmo[] = {H2_FIELD_LIT("grpc-timeout", "1m")};
	static const char *const order[] = {"/t.T/Echo", "/t.T/Echo", "/t.T/Echo", "/t.T/Fail", "/t.T/Fail",
	    "/t.T/Echo", "/t.T/Nope", "/t.T/Echo"};
	grpc_server *s = new_server();
	grpc_sconn *sc = grpc_server_conn_new_detached(s);
	h2_conn *cl = h2_conn_new(H2_ROLE_CLIENT, NULL, &cl_cbs, NULL);

	memset(resps, 0, sizeof(resps));
	hook_runs = 0;
	shuttle(cl, sc, 0);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		CHECK_EQ_INT(request(cl, order[i], md, 1, hello, sizeof(hello)), (int32_t)(2 * i + 1));
		shuttle(cl, sc, 0);
	}
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const char *want = order[i][5] == 'E' ? "0" : order[i][5] == 'F' ? "5" : "12";

		CHECK_EQ_STR(resps[i].grpc_status, want);
		if (order[i][5] == 'E') {
			CHECK_EQ_MEM(resps[i].data, resps[i].len, hello, sizeof(hello));
			CHECK_EQ_STR(resps[i].md, "v1");
		}
	}
	/* three held calls from one kept block: each has the 1 ms deadline */
	memset(resps, 0, sizeof(resps));
	for (int i = 0; i < 3; i++)
		request(cl, "/t.T/Hold", tmo, 1, hello, sizeof(hello));
	shuttle(cl, sc, 0);
	CHECK_EQ_STR(resps[8].grpc_status, "");
	advance_ms(2);
	shuttle(cl, sc, 0);
	for (int i = 8; i < 11; i++)
		CHECK_EQ_STR(resps[i].grpc_status, "4");
	h2_conn_free(cl);
	grpc_server_conn_free(sc);
	grpc_server_free(s);
}

/* A deadline on a stream whose reader is behind resets it: queued messages are dropped at once. */
static void test_deadline_resets_a_stuck_stream(void)
{
	static const uint8_t m[] = {0, 0, 0, 0, 1, 'x'};
	static const h2_field tmo[] = {H2_FIELD_LIT("grpc-timeout", "1m")};
	grpc_server *s = new_server();
	grpc_sconn *sc = grpc_server_conn_new_detached(s);
	h2_settings st;
	h2_conn *cl;
	int32_t id;

	h2_settings_default(&st);
	st.initial_window_size = 65535;
	cl = h2_conn_new(H2_ROLE_CLIENT, &st, &cl_cbs, NULL);
	memset(resps, 0, sizeof(resps));
	hook_runs = 0;
	shuttle(cl, sc, 0);
	no_consume = 1;
	id = request(cl, "/t.T/Flood", tmo, 1, m, sizeof(m));
	shuttle(cl, sc, 0);
	CHECK(held != NULL);
	CHECK(grpc_call_send_queued_bytes(held) > 100000);
	advance_ms(20);
	CHECK_EQ_INT(hook_runs, 1);
	CHECK_EQ_INT(hook_status, GRPC_DEADLINE_EXCEEDED);
	shuttle(cl, sc, 0);
	CHECK(resps[(id - 1) / 2].closed);
	CHECK_EQ_INT(resps[(id - 1) / 2].close_code, H2_CANCEL);
	no_consume = 0;
	h2_conn_free(cl);
	grpc_server_conn_free(sc);
	grpc_server_free(s);
}

/* ---- checked allocation failures (base/mem.h) ---- */

static int check_reply_msg;	/* answer with grpc_call_reply (packs the message) instead of the bytes */

static void h_check_echo(grpc_call *c, void *arg)
{
	const Grpc__Health__V1__HealthCheckRequest *req = (const Grpc__Health__V1__HealthCheckRequest *)grpc_call_request_msg(c);
	size_t len;
	const uint8_t *p = grpc_call_request(c, &len);

	(void)arg;
	CHECK(req != NULL && strlen(req->service) == 40);
	if (check_reply_msg)
		grpc_call_reply(c, &req->base);	/* the same 42 bytes, packed again */
	else
		grpc_call_reply_bytes(c, p, len);
}

enum { G_DONE, G_EXHAUSTED, G_UNPARSED, G_CLIENT, G_RESET, G_N };

static long goaway_code = -1;

static void cl_goaway(h2_conn *c, void *user, uint32_t last, uint32_t code, const uint8_t *dbg, size_t n)
{
	(void)c;
	(void)user;
	(void)last;
	(void)dbg;
	(void)n;
	goaway_code = code;
}

static const h2_callbacks cl_cbs_goaway = {.on_headers = cl_headers, .on_data = cl_data, .on_stream_close = cl_close,
	.on_goaway = cl_goaway};

/*
 * One call with metadata and a protobuf request (unpacked into the call's
 * arena) between a client h2 connection and a detached server connection,
 * the n-th checked allocation after the handshake failing (0: none).
 */
static int call_failing(unsigned long n, unsigned long *calls)
{
	static const h2_field hdrs[] = {H2_FIELD_LIT("content-type", "application/grpc"), H2_FIELD_LIT("te", "trailers"),
	    H2_FIELD_LIT("x-in", "a value for the metadata store")};
	uint8_t body[64] = {0, 0, 0, 0, 42, 0x0a, 40};
	grpc_server_opts o;
	grpc_server *s;
	grpc_sconn *sc;
	h2_conn *cl;
	unsigned long before;
	int out;

	memset(body + 7, 'a', 40);
	grpc_server_opts_default(&o);
	s = grpc_server_new(loop, &o);
	CHECK_EQ_INT(grpc_server_add_method(s, "/t.T/Check", &grpc__health__v1__health_check_request__descriptor,
	    h_check_echo, NULL), 0);
	sc = grpc_server_conn_new_detached(s);
	cl = h2_conn_new(H2_ROLE_CLIENT, NULL, &cl_cbs_goaway, NULL);
	memset(resps, 0, sizeof(resps));
	goaway_code = -1;
	shuttle(cl, sc, 0);
	before = mem_try_calls_for_test();
	mem_try_fail_after_for_test(n);
	feed_may_fail = 1;
	/* The message in two DATA frames, so the reader gathers it (its checked buffer). */
	if (h2_submit_request(cl, "POST", "http", "x", "/t.T/Check", hdrs, 3, 0, NULL) == 1 &&
	    h2_submit_data(cl, 1, body, 20, 0) == 0) {
		shuttle(cl, sc, 0);
		if (h2_submit_data(cl, 1, body + 20, 27, 1) == 0)
			shuttle(cl, sc, 0);
	}
	feed_may_fail = 0;
	mem_try_fail_after_for_test(0);
	*calls = mem_try_calls_for_test() - before;
	if (strcmp(resps[0].grpc_status, "0") == 0) {
		CHECK_EQ_MEM(resps[0].data, resps[0].len, body, 47);
		out = G_DONE;
	} else if (strcmp(resps[0].grpc_status, "8") == 0) {
		CHECK(strcmp(resps[0].grpc_message, "out of memory") == 0 ||
		    strcmp(resps[0].grpc_message, "cannot send the response") == 0);
		out = G_EXHAUSTED;
	} else if (strcmp(resps[0].grpc_status, "13") == 0) {
		CHECK_EQ_STR(resps[0].grpc_message, "cannot parse the request message");
		out = G_UNPARSED;
	} else if (h2_conn_want_close(cl)) {
		CHECK_EQ_INT(h2_conn_error_code(cl), H2_INTERNAL_ERROR);	/* the client's own buf */
		out = G_CLIENT;
	} else {
		/* The server's h2 connection failed: the client holds its GOAWAY. */
		CHECK_EQ_INT(goaway_code, H2_INTERNAL_ERROR);
		out = G_RESET;
	}
	h2_conn_free(cl);
	grpc_server_conn_free(sc);
	grpc_server_free(s);
	return out;
}

/*
 * Every checked allocation of a call fails in turn: the peer gets
 * RESOURCE_EXHAUSTED (metadata, the reader gathering a message split over
 * two DATA frames, request or response bufs), INTERNAL "cannot parse" (the
 * protobuf-c arena), or the h2 connection's GOAWAY; a failed HPACK Huffman
 * memo only costs the memo, and that call completes.  ASan sees no leak,
 * and no call is left behind.  Twice: the handler answering with the
 * request's bytes, then with the message packed (grpc_call_reply).
 */
static void test_checked_allocations_fail(void)
{
	for (check_reply_msg = 0; check_reply_msg <= 1; check_reply_msg++) {
		unsigned long total, calls;
		int seen[G_N] = {0};

		CHECK_EQ_INT(call_failing(0, &total), G_DONE);
		for (unsigned long n = 1; n <= total; n++) {
			int out = call_failing(n, &calls);

			CHECK(calls >= n);
			seen[out]++;
		}
		CHECK(seen[G_EXHAUSTED] > 0);
		CHECK(seen[G_UNPARSED] > 0);
		CHECK(seen[G_RESET] + seen[G_CLIENT] > 0);
		printf("grpc (%s): %lu checked allocations per call failed in turn: %d done, %d RESOURCE_EXHAUSTED, "
		    "%d INTERNAL, %d client h2, %d server h2\n", check_reply_msg ? "packed" : "bytes", total,
		    seen[G_DONE], seen[G_EXHAUSTED], seen[G_UNPARSED], seen[G_CLIENT], seen[G_RESET]);
	}
	check_reply_msg = 0;
}

/*
 * A reflection stream asking list_services (then ending), the n-th checked
 * allocation after the handshake failing (0: none): 1 = answered, 2 =
 * RESOURCE_EXHAUSTED "out of memory" (the answer could not be built), 3 =
 * RESOURCE_EXHAUSTED "cannot send the response", 0 = an h2 connection failed.
 */
static int reflection_failing(grpc_reflection *r, unsigned long n, unsigned long *calls)
{
	static const h2_field hdrs[] = {H2_FIELD_LIT("content-type", "application/grpc"), H2_FIELD_LIT("te", "trailers")};
	static const uint8_t ask[] = {0, 0, 0, 0, 2, 0x3a, 0};	/* list_services: "" */
	static const char health[] = "grpc.health.v1.Health";
	grpc_server_opts o;
	grpc_server *s;
	grpc_sconn *sc;
	h2_conn *cl;
	unsigned long before;
	int out = 0;

	grpc_server_opts_default(&o);
	s = grpc_server_new(loop, &o);
	CHECK_EQ_INT(grpc_reflection_register(r, s), 0);
	sc = grpc_server_conn_new_detached(s);
	cl = h2_conn_new(H2_ROLE_CLIENT, NULL, &cl_cbs_goaway, NULL);
	memset(resps, 0, sizeof(resps));
	goaway_code = -1;
	shuttle(cl, sc, 0);
	before = mem_try_calls_for_test();
	mem_try_fail_after_for_test(n);
	feed_may_fail = 1;
	if (h2_submit_request(cl, "POST", "http", "x", GRPC_REFLECTION_V1_PATH, hdrs, 2, 0, NULL) == 1 &&
	    h2_submit_data(cl, 1, ask, sizeof(ask), 1) == 0)
		shuttle(cl, sc, 0);
	feed_may_fail = 0;
	mem_try_fail_after_for_test(0);
	*calls = mem_try_calls_for_test() - before;
	if (strcmp(resps[0].grpc_status, "0") == 0) {
		Grpc__Reflection__V1__ServerReflectionResponse *rr = NULL;

		CHECK(resps[0].len > 5);
		if (resps[0].len > 5)
			rr = grpc__reflection__v1__server_reflection_response__unpack(NULL, resps[0].len - 5,
			    resps[0].data + 5);
		CHECK(rr != NULL);
		/* The request's unpacking failed (pb_checked): answered as the test_reflection sweep says, INVALID_ARGUMENT. */
		if (rr && rr->message_response_case ==
		    GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE)
			CHECK_EQ_INT(rr->error_response->error_code, GRPC_INVALID_ARGUMENT);
		else
			CHECK(memmem(resps[0].data, resps[0].len, health, strlen(health)) != NULL);
		if (rr)
			grpc__reflection__v1__server_reflection_response__free_unpacked(rr, NULL);
		out = 1;
	} else if (strcmp(resps[0].grpc_status, "8") == 0) {
		out = strcmp(resps[0].grpc_message, "out of memory") == 0 ? 2 : 3;
		if (out == 3)
			CHECK_EQ_STR(resps[0].grpc_message, "cannot send the response");
	} else if (h2_conn_want_close(cl)) {
		CHECK_EQ_INT(h2_conn_error_code(cl), H2_INTERNAL_ERROR);
	} else {
		CHECK_EQ_INT(goaway_code, H2_INTERNAL_ERROR);
	}
	h2_conn_free(cl);
	grpc_server_conn_free(sc);
	grpc_server_free(s);
	return out;
}

/* Every checked allocation of a reflection stream fails in turn: both of the stream's answers are reached. */
static void test_reflection_stream_allocations_fail(void)
{
	char err[256] = "";
	grpc_reflection *r = grpc_reflection_new(cplane_descriptor_set, cplane_descriptor_set_len, err, sizeof(err));
	unsigned long total, calls;
	int seen[4] = {0};

	CHECK(r != NULL);
	if (r == NULL)
		return;
	CHECK_EQ_INT(reflection_failing(r, 0, &total), 1);
	for (unsigned long n = 1; n <= total; n++) {
		seen[reflection_failing(r, n, &calls)]++;
		CHECK(calls >= n);
	}
	CHECK(seen[2] > 0);
	CHECK(seen[3] > 0);
	printf("reflection stream: %lu checked allocations failed in turn: %d answered, %d \"out of memory\", "
	    "%d \"cannot send the response\", %d h2 failed\n", total, seen[1], seen[2], seen[3], seen[0]);
	grpc_reflection_free(r);
}

int main(void)
{
	loop = io_loop_new();
	io_loop_set_clock(loop, fake_clock, NULL);
	RUN(test_basic_whole);
	RUN(test_basic_bytewise);
	RUN(test_basic_split7);
	RUN(test_bidi_whole);
	RUN(test_bidi_bytewise);
	RUN(test_bidi_split7);
	RUN(test_cancel_paths);
	RUN(test_pool_reuse);
	RUN(test_metadata_past_64_fields);
	RUN(test_timeout_and_te_validation);
	RUN(test_deadline_resets_a_stuck_stream);
	RUN(test_kept_blocks_keep_their_verdict);
	RUN(test_checked_allocations_fail);
	RUN(test_reflection_stream_allocations_fail);
	io_loop_free(loop);
	return harness_finish();
}
