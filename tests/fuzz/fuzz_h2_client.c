/*
 * A byte stream into a client connection (the server's side of the
 * conversation).  Three requests are opened first, one with a body larger
 * than the default windows, so responses, trailers, resets, window updates
 * and GOAWAY from the input all meet live streams.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h2/h2.h"

static int on_data(h2_conn *c, void *user, int32_t id, void *su, const uint8_t *d, size_t len, int end)
{
	(void)user;
	(void)su;
	(void)d;
	(void)end;
	h2_conn_consume(c, id, len);
	return 0;
}

static void on_settings(h2_conn *c, void *user)
{
	(void)user;
	if (h2_conn_can_open_stream(c))
		h2_submit_request(c, "GET", "http", "x", "/late", NULL, 0, 1, NULL);
}

static const h2_callbacks cb = {.on_data = on_data, .on_settings = on_settings};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t body[70000];
	static const h2_field f[] = {H2_FIELD_LIT("content-type", "application/grpc"), H2_FIELD_LIT("te", "trailers")};
	h2_conn *c = h2_conn_new(H2_ROLE_CLIENT, NULL, &cb, NULL);
	size_t n, half = size / 2;
	int32_t id;

	if (c == NULL)
		return 0;
	h2_submit_request(c, "GET", "http", "x", "/a", NULL, 0, 1, NULL);
	id = h2_submit_request(c, "POST", "http", "x", "/b", f, 2, 0, NULL);
	if (id > 0)
		h2_submit_data(c, id, body, sizeof(body), 1);
	id = h2_submit_request(c, "POST", "http", "x", "/c", f, 2, 0, NULL);
	if (h2_conn_pending(c, &n))
		h2_conn_consumed(c, n);
	if (h2_conn_feed(c, data, half) >= 0) {
		if (id > 0)
			h2_submit_trailers(c, id, f, 1);
		if (h2_conn_pending(c, &n))
			h2_conn_consumed(c, n);
		h2_conn_feed(c, data + half, size - half);
	}
	h2_conn_tick(c, 1);
	h2_conn_tick(c, 100000);
	if (h2_conn_pending(c, &n))
		h2_conn_consumed(c, n);
	h2_conn_free(c);
	return 0;
}
