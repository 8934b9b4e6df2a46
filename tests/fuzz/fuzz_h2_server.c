/*
 * A byte stream into a server connection.  The first input byte picks a
 * split point so reassembly across feeds is exercised; requests are answered
 * (headers, data, trailers) so the send path and flow control run too, and
 * the clock advances so the timers fire.  Output is drained between feeds
 * except when bit 0x80 of the first byte says "peer does not read".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h2/h2.h"

static int on_headers(h2_conn *c, void *user, int32_t id, void *su, const h2_headers *h)
{
	static const h2_field f[] = {H2_FIELD_LIT("content-type", "application/grpc")};
	static const h2_field t[] = {H2_FIELD_LIT("grpc-status", "0"), H2_FIELD_LIT("grpc-message", "ok")};

	(void)user;
	(void)su;
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
	(void)user;
	(void)su;
	(void)d;
	h2_conn_consume(c, id, len);
	if (end) {
		h2_submit_response(c, id, 200, NULL, 0, 0);
		h2_submit_data(c, id, d, len, 1);
	}
	return 0;
}

static const h2_callbacks cb = {.on_headers = on_headers, .on_data = on_data};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	h2_settings st;
	h2_conn *c;
	size_t split, off = 0, n;
	int reads;

	if (size < 1)
		return 0;
	h2_settings_default(&st);
	st.initial_window_size = 65535 * (data[0] & 3 ? 1 : 16);
	st.max_concurrent_streams = 8;
	st.max_queued_control = 100;
	st.max_header_list_size = 8192;
	reads = !(data[0] & 0x80);
	split = size > 1 ? (size_t)(data[0] & 0x7f) * 7 % size : 0;
	data++;
	size--;
	c = h2_conn_new(H2_ROLE_SERVER, &st, &cb, NULL);
	if (c == NULL)
		return 0;
	while (off < size) {
		size_t chunk = split && off < split ? split - off : size - off;

		h2_conn_tick(c, (int64_t)off * 10);
		if (h2_conn_feed(c, data + off, chunk) < 0)
			break;
		off += chunk;
		if (reads && h2_conn_pending(c, &n))
			h2_conn_consumed(c, n);
	}
	h2_conn_tick(c, 100000);
	if (h2_conn_pending(c, &n))
		h2_conn_consumed(c, n);
	(void)h2_conn_want_write(c);
	(void)h2_conn_want_close(c);
	h2_conn_free(c);
	return 0;
}
