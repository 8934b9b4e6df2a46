/*
 * HTTP/2 bytes from a client into a gRPC server connection, without
 * sockets: the server's detached connection is fed the client preface and
 * then the input, with the gRPC layer (validation, reassembly, handlers,
 * deadlines, cancellation, bidirectional reflection streams) on top.  Handlers answer at once, hold the call
 * until later, or stream; held calls are answered between the two halves
 * of the input, and whatever is still held when the connection is freed
 * must come back through the cancel hook (checked: nothing may stay held).
 *
 * First input byte: bits 0-6 pick the split point, bit 7 means "the client
 * does not read" (output is not drained between the halves).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cplane/v1/cplane.pb-c.h"
#include "grpc/health.h"
#include "grpc/reflection.h"
#include "grpc/server.h"
#include "h2/h2.h"
#include "io/loop.h"
#include "worker/descriptor_set.h"

#define MAX_HELD 64

static io_loop *loop;
static grpc_server *srv;
static grpc_reflection *refl;
static grpc_call *held[MAX_HELD];
static int nheld;

static void unhold(grpc_call *c)
{
	for (int i = 0; i < nheld; i++) {
		if (held[i] == c) {
			held[i] = held[--nheld];
			return;
		}
	}
}

static void hold_cancel(grpc_call *c, void *arg)
{
	(void)arg;
	unhold(c);
	grpc_call_finish(c, GRPC_CANCELLED, NULL);
}

static void h_hold(grpc_call *c, void *arg)
{
	(void)arg;
	if (nheld == MAX_HELD) {
		grpc_call_finish(c, GRPC_RESOURCE_EXHAUSTED, "held enough");
		return;
	}
	held[nheld++] = c;
	grpc_call_set_cancel_hook(c, hold_cancel, NULL);
}

static void h_echo(grpc_call *c, void *arg)
{
	size_t len;
	const uint8_t *p = grpc_call_request(c, &len);

	(void)arg;
	if (grpc_call_metadata_count(c) > 0) {
		const grpc_metadata *m = grpc_call_metadata_at(c, 0);
		grpc_call_add_metadata(c, 0, "x-echo", m->value, m->value_len);
		grpc_call_add_metadata(c, 1, "x-echo-t", m->value, m->value_len);
	}
	grpc_call_reply_bytes(c, p, len);
}

static void h_stream(grpc_call *c, void *arg)
{
	static uint8_t big[40000];

	(void)arg;
	grpc_call_send_bytes(c, (const uint8_t *)"one", 3);
	grpc_call_send_bytes(c, big, sizeof(big));
	grpc_call_send_bytes(c, (const uint8_t *)"", 0);
	grpc_call_finish(c, GRPC_OK, "done 100%");
}

static void h_get(grpc_call *c, void *arg)
{
	const Cplane__V1__GetClusterRequest *r = (const Cplane__V1__GetClusterRequest *)grpc_call_request_msg(c);
	Cplane__V1__Cluster cl = CPLANE__V1__CLUSTER__INIT;

	(void)arg;
	cl.name = r->name;
	cl.replicas = 3;
	grpc_call_reply(c, &cl.base);
}

static void setup(void)
{
	grpc_server_opts o;

	grpc_server_opts_default(&o);
	o.max_recv_msg = 100000;
	o.max_concurrent_streams = 100;
	loop = io_loop_new();
	srv = grpc_server_new(loop, &o);
	if (loop == NULL || srv == NULL)
		abort();
	grpc_server_add_method(srv, "/cplane.v1.ClusterService/GetCluster",
	    &cplane__v1__get_cluster_request__descriptor, h_get, NULL);
	grpc_server_add_method(srv, "/test.Test/Echo", NULL, h_echo, NULL);
	grpc_server_add_method(srv, "/test.Test/Hold", NULL, h_hold, NULL);
	grpc_server_add_method(srv, "/test.Test/Stream", NULL, h_stream, NULL);
	grpc_health_register(srv);
	/* The bidirectional path: reflection's stream, fed the set compiled into the binary. */
	refl = grpc_reflection_new(cplane_descriptor_set, cplane_descriptor_set_len, NULL, 0);
	if (refl == NULL || grpc_reflection_register(refl, srv) < 0)
		abort();
}

static void drain(grpc_sconn *sc)
{
	size_t n;

	while (grpc_server_conn_pending(sc, &n) && n > 0)
		grpc_server_conn_consumed(sc, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	grpc_sconn *sc;
	size_t split;
	int noread;

	if (srv == NULL)
		setup();
	if (size < 1)
		return 0;
	noread = data[0] & 0x80;
	split = size > 1 ? (size - 1) * (data[0] & 0x7f) / 127 : 0;
	data++;
	size--;
	sc = grpc_server_conn_new_detached(srv);
	if (sc == NULL)
		return 0;
	if (grpc_server_conn_feed(sc, (const uint8_t *)H2_PREFACE, H2_PREFACE_LEN) >= 0 &&
	    grpc_server_conn_feed(sc, data, split) >= 0) {
		if (!noread)
			drain(sc);
		/* answer half of what is held, then let timers (deadlines) fire */
		for (int i = nheld / 2; i > 0 && nheld > 0; i--) {
			grpc_call *c = held[nheld - 1];
			unhold(c);
			grpc_call_reply_bytes(c, (const uint8_t *)"late", 4);
		}
		io_loop_run_once(loop, 0);
		grpc_server_conn_feed(sc, data + split, size - split);
	}
	drain(sc);
	grpc_server_conn_free(sc);
	if (nheld != 0)
		abort();	/* a held call was not cancelled when its connection went away */
	return 0;
}
