/*
 * Internals shared by server.c (connections, request validation, h2
 * callbacks, server lifecycle) and call.c (the call pool, responses and the
 * grpc_call_* API).  Not a public contract.
 */
#ifndef CPLANE_GRPC_SERVER_INT_H
#define CPLANE_GRPC_SERVER_INT_H

#include <stddef.h>

#include "grpc/server.h"
#include "grpc/transport.h"
#include "h2/h2.h"
#include "io/conntab.h"
#include "io/listener.h"

#define MAX_OUT_MD 16
/* Idle calls kept for reuse, and what each may keep: bounds the pool at about 256 x 20 KiB. */
#define POOL_MAX_IDLE 256
#define KEEP_BUF_BYTES 4096u
#define ARENA_MAX (64u * 1024)

enum {
	C_DISPATCHED = 1u,	/* handler has run */
	C_HEADERS_SENT = 2u,
	C_GONE = 4u,		/* stream gone; cancel_status says why */
	C_REQ_DONE = 8u,	/* client half-closed */
	C_HOOK_RAN = 16u,
	C_ZOMBIE = 32u,		/* on the server's zombie list */
	C_IN_HANDLER = 64u,	/* a bidi handler runs: finish only marks C_FINISH_LATER */
	C_FINISH_LATER = 128u,	/* finished inside a bidi handler: release once it returns */
};

typedef union arena_big {
	union arena_big *next;
	max_align_t align;
} arena_big;

typedef struct grpc__arena {
	uint8_t *base;
	size_t cap, used;
	arena_big *big;
	size_t big_total;
} grpc__arena;

struct method_ent {
	char *path;
	size_t path_len;
	const ProtobufCMessageDescriptor *req;
	grpc_handler fn;
	grpc_msg_handler on_msg;	/* bidi methods only */
	void *arg;
};

struct out_md {
	uint32_t name_off, name_len, value_off, value_len;
	int trailing;
};

struct grpc_call {
	grpc_server *srv;
	grpc_sconn *conn;	/* NULL once gone */
	int32_t sid;
	unsigned flags;
	int cancel_status;
	const struct method_ent *m;
	grpc_reader rd;
	size_t unconsumed;	/* DATA bytes held in a partial message, not yet returned to the windows */
	buf req;
	uint32_t nreq;
	int64_t deadline;
	io_timer timer;
	buf md_store;
	grpc_metadata *md;
	uint64_t *md_ids;	/* per md: grpc_call_metadata_get_id's id */
	size_t nmd, md_cap;
	buf out_store;
	struct out_md out[MAX_OUT_MD];
	unsigned nout;
	ProtobufCMessage *req_msg;
	grpc__arena ar;
	ProtobufCAllocator alloc;
	grpc_cancel_hook hook;
	void *hook_arg;
	grpc_writable_cb wr;
	void *wr_arg;
	void *user;
	grpc_call *prev, *next;
};

/* The connection table's lists (io/conntab.h); busy connections are in none. */
enum { SC_HANDSHAKE = 0, SC_IDLE = 1, SC_CLOSING = 2 };

struct grpc_sconn {
	grpc_transport tr;
	conntab_ent ent;	/* first after tr: see sconn_of() */
	grpc_server *srv;
	h2_conn *h2;
	grpc_call *calls;
	int dying;
	int closing;		/* GOAWAY for idleness sent; stays in SC_CLOSING */
	grpc_sconn *prev, *next;
	/* What new_stream found in the last kept request block (h2_headers.block_id) that it accepted. */
	uint64_t accepted_block;
	size_t accepted_method;		/* index in methods (the array may grow) */
	int64_t accepted_timeout;
	int accepted_has_metadata;	/* its fields hold custom metadata (-1: not known yet) */
};

struct grpc_server {
	io_loop *loop;
	grpc_server_opts opts;
	struct method_ent *methods;
	size_t nmethods;
	io_listener listener;	/* fd -1 when not listening */
	conntab tab;
	io_timer conn_timer;	/* at the table's next deadline (lazily early) */
	grpc_sconn *conns;
	grpc_call *free_calls;
	size_t nfree;
	grpc_call *zombies;
	buf scratch;		/* response message being framed */
	buf msgbuf;		/* percent-encoded grpc-message */
	grpc_server_stats stats;
	int shutting;
	int done_called;
	io_timer grace_timer, hard_timer;
	grpc_shutdown_cb done;
	void *done_arg;
	void *ext;
	void (*free_ext)(void *);
	void (*shutdown_hook)(grpc_server *, void *);
};

#define GRPC__F_CT_GRPC ((h2_field)H2_FIELD_LIT("content-type", "application/grpc"))

/* call.c */
void grpc__arena_reset(grpc__arena *a);
/* Never NULL (base/mem.h). */
grpc_call *grpc__call_get(grpc_server *s);
void grpc__call_unlink(grpc_call *c);
void grpc__call_destroy(grpc_call *c);
/* Back to the pool: timer stopped, window bytes returned, unlinked. */
void grpc__call_release(grpc_call *c);
/* Appends grpc-status (+ grpc-message) fields; code is their storage. */
size_t grpc__status_fields(grpc_server *s, h2_field *f, size_t n, char code[4], int status, const char *msg);
/* The stream is gone while the call lives: zombie + cancel hook, or release if no handler ran. */
void grpc__call_gone(grpc_call *c, int status);
/* The server ends a live call itself (deadline, shutdown, bad request). */
void grpc__call_abort(grpc_call *c, int status, const char *msg);

#endif
