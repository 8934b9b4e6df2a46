/*
 * A client byte stream over plain TCP or TLS, driven by the poll loop, so
 * that http:// (kubectl proxy) and https:// look the same to the caller.
 *
 * Life of a connection: io_conn_connect() connects to opts->addr (resolved
 * beforehand, off the loop: see io/resolver.h), or without one resolves the
 * host itself (blocking getaddrinfo: tools and tests only), and starts a
 * non-blocking connect; on_connected runs once TCP is up and, with TLS, the
 * handshake finished; on_data delivers received plaintext as it arrives;
 * on_close runs exactly once when the connection ends for any reason other
 * than io_conn_free() (error NULL = clean EOF, else a reason in words, e.g.
 * "tls: certificate signed by unknown authority", "connect: Connection refused",
 * "connect timeout").  After on_close the conn does nothing; the owner still
 * calls io_conn_free(), which is safe from inside any callback, including
 * on_close (the memory is released at the end of the loop turn).
 *
 * Writes are buffered (io_conn_write never blocks) and flushed at the end of the
 * loop turn, so many small writes become one send.  Backpressure:
 * io_conn_pending() says how much is still queued; on_drain (optional) runs
 * when the queue empties.
 */
#ifndef CPLANE_IO_CONN_H
#define CPLANE_IO_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "io/loop.h"
#include "io/tls.h"

typedef struct io_conn io_conn;	/* opaque */

typedef struct io_conn_cbs {
	void (*on_connected)(io_conn *c, void *arg);
	/* p is valid only during the call. */
	void (*on_data)(io_conn *c, const uint8_t *p, size_t n, void *arg);
	/* The write queue became empty (optional). */
	void (*on_drain)(io_conn *c, void *arg);
	/* error: NULL for the peer's orderly close, else a static-or-conn-owned string valid during the call. */
	void (*on_close)(io_conn *c, const char *error, void *arg);
} io_conn_cbs;

typedef struct io_conn_opts {
	const char *host;		/* DNS name or IP literal (IPv6 with or without brackets) */
	const char *port;		/* "443" */
	const struct sockaddr_storage *addr;	/* host:port already resolved (addrlen > 0): no lookup */
	socklen_t addrlen;
	const tls_anchors *anchors;	/* non-NULL = TLS; must outlive the conn */
	const char *server_name;	/* TLS name to verify; NULL = tls_verify_name(host) */
	const struct pem_chain *client_chain;	/* TLS client certificate + key, or NULL; must outlive the conn */
	const struct pem_key *client_key;
	int64_t connect_timeout_ms;	/* TCP + TLS handshake; 0 = 10 s */
	size_t max_pending;		/* io_conn_write refuses past this many queued bytes; 0 = 64 MiB */
} io_conn_opts;

/*
 * Starts a connection.  Returns NULL with a reason in err when it cannot even
 * start (resolve failure without opts->addr, socket error, TLS setup, ENOMEM); otherwise the
 * outcome arrives through the callbacks (never from inside this call).
 */
io_conn *io_conn_connect(io_loop *loop, const io_conn_opts *opts, const io_conn_cbs *cbs,
    void *arg, char *err, size_t errsz);

/*
 * Queues n bytes (plaintext) for sending.  May be called before on_connected
 * (the bytes go out once connected).  Returns 0, or -1 when the conn is closed
 * or the queue would pass max_pending (nothing queued then).
 */
int io_conn_write(io_conn *c, const void *p, size_t n);

/* Bytes queued and not yet handed to the kernel (TLS: plaintext + records). */
size_t io_conn_pending(const io_conn *c);

/* Stops (true) or resumes (false) delivering on_data; the kernel buffers meanwhile. */
void io_conn_pause_read(io_conn *c, bool pause);

/* True after on_connected and before on_close. */
bool io_conn_is_open(const io_conn *c);

/* Negotiated TLS cipher suite name once connected ("ECDHE-RSA-AES128-GCM-SHA256"); "" for plain TCP. */
const char *io_conn_tls_suite(const io_conn *c);

/* "ip:port" of the peer, or "" before the address is known. */
const char *io_conn_peer(const io_conn *c);

/*
 * Ends the connection now (TLS: close_notify is attempted but not awaited),
 * without calling on_close, and releases it.  Safe from any callback of this
 * conn; NULL is ignored.
 */
void io_conn_free(io_conn *c);

#endif
