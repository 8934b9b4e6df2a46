/*
 * A byte stream into a server connection.  The first input byte picks a
 * split point so reassembly across feeds is exercised; requests are answered
 * (headers, data, trailers) so the send path and flow control run too, and
 * the clock advances so the timers fire.  Output is drained between feeds
 * except when bit 0x80 of the first byte says "peer does not read".
 *
 * The stream runs twice, keeping header blocks (h2_settings.keep_blocks)
 * and not: what the app is told and every byte written must be the same,
 * or a kept block was used where decoding or encoding it again would have
 * said something else.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "h2/h2.h"

static void say(buf *log, const void *p, size_t n)
{
	if (n && buf_append(log, p, n) != 0)
		abort();
}

static void say_num(buf *log, int64_t v)
{
	say(log, &v, sizeof(v));
}

static void say_str(buf *log, const char *s, size_t n)
{
	say_num(log, s ? (int64_t)n : -1);
	say(log, s, s ? n : 0);
}

static int on_headers(h2_conn *c, void *user, int32_t id, void *su, const h2_headers *h)
{
	static const h2_field f[] = {H2_FIELD_LIT("content-type", "application/grpc")};
	static const h2_field t[] = {H2_FIELD_LIT("grpc-status", "0"), H2_FIELD_LIT("grpc-message", "ok")};
	buf *log = user;

	(void)su;
	say(log, "H", 1);
	say_num(log, id);
	say_str(log, h->method, h->method_len);
	say_str(log, h->scheme, h->scheme_len);
	say_str(log, h->authority, h->authority_len);
	say_str(log, h->path, h->path_len);
	say_num(log, h->status);
	say_num(log, h->content_length);
	say_num(log, h->end_stream);
	say_num(log, h->is_trailers);
	for (size_t i = 0; i < h->nfields; i++) {
		say_str(log, h->fields[i].name, h->fields[i].name_len);
		say_str(log, h->fields[i].value, h->fields[i].value_len);
		say_num(log, h->fields[i].flags);
	}
	if (h->is_trailers || h->end_stream) {
		h2_submit_response(c, id, 200, f, 1, 0);
		h2_submit_data(c, id, (const uint8_t *)"\0\0\0\0\3abc", 8, 0);
		h2_submit_trailers(c, id, t, 2);
	} else if (h->path_len > 2 && h->path[1] == 'r') {
		h2_submit_rst_stream(c, id, H2_CANCEL);
	}
	return 0;
}

static int on_data(h2_conn *c, void *user, int32_t id, void *su, const uint8_t *d, size_t len, int end)
{
	buf *log = user;

	(void)su;
	say(log, "D", 1);
	say_num(log, id);
	say_str(log, (const char *)d, len);
	say_num(log, end);
	h2_conn_consume(c, id, len);
	if (end) {
		h2_submit_response(c, id, 200, NULL, 0, 0);
		h2_submit_data(c, id, d, len, 1);
	}
	return 0;
}

static void on_close(h2_conn *c, void *user, int32_t id, void *su, uint32_t code, int remote)
{
	buf *log = user;

	(void)c;
	(void)su;
	say(log, "C", 1);
	say_num(log, id);
	say_num(log, code);
	say_num(log, remote);
}

static const h2_callbacks cb = {.on_headers = on_headers, .on_data = on_data, .on_stream_close = on_close};

/* What the output holds, into the log, then consumed. */
static void drain(h2_conn *c, buf *log)
{
	const uint8_t *p;
	size_t n;

	if ((p = h2_conn_pending(c, &n)) != NULL) {
		say(log, "O", 1);
		say_str(log, (const char *)p, n);
		h2_conn_consumed(c, n);
	}
}

static void run(const uint8_t *data, size_t size, int keep_blocks, buf *log)
{
	h2_settings st;
	h2_conn *c;
	size_t split, off = 0;
	int reads;

	h2_settings_default(&st);
	st.initial_window_size = 65535 * (data[0] & 3 ? 1 : 16);
	st.max_concurrent_streams = 8;
	st.max_queued_control = 100;
	st.max_header_list_size = 8192;
	st.keep_blocks = keep_blocks;
	reads = !(data[0] & 0x80);
	split = size > 1 ? (size_t)(data[0] & 0x7f) * 7 % size : 0;
	data++;
	size--;
	c = h2_conn_new(H2_ROLE_SERVER, &st, &cb, log);
	if (c == NULL)
		abort();
	while (off < size) {
		size_t chunk = split && off < split ? split - off : size - off;
		int rc;

		h2_conn_tick(c, (int64_t)off * 10);
		rc = h2_conn_feed(c, data + off, chunk);
		say_num(log, rc < 0 ? rc : 0);
		if (rc < 0)
			break;
		off += chunk;
		if (reads)
			drain(c, log);
	}
	h2_conn_tick(c, 100000);
	drain(c, log);
	say_num(log, h2_conn_want_write(c));
	say_num(log, h2_conn_want_close(c));
	h2_conn_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	buf kept = BUF_INIT, fresh = BUF_INIT;

	if (size < 1)
		return 0;
	run(data, size, 1, &kept);
	run(data, size, 0, &fresh);
	if (buf_len(&kept) != buf_len(&fresh) || memcmp(buf_data(&kept), buf_data(&fresh), buf_len(&kept)) != 0)
		abort();
	buf_free(&kept);
	buf_free(&fresh);
	return 0;
}
