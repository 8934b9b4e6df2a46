/*
 * The metrics endpoint: a small HTTP/1.1 server on the io loop serving
 * /metrics (Prometheus text format 0.0.4), /healthz (the process runs) and
 * /readyz (200 once ready_fn says so, else 503).  Sources append their
 * families to the page on each scrape.
 */
#ifndef CPLANE_WORKER_METRICS_H
#define CPLANE_WORKER_METRICS_H

#include <stddef.h>

#include "base/buf.h"
#include "io/loop.h"

typedef struct metrics_server metrics_server;

/* Appends Prometheus text to out. */
typedef void (*metrics_source_fn)(buf *out, void *arg);
typedef int (*metrics_ready_fn)(void *arg);

/* Listens on addr (":8080").  NULL with a reason in err. */
metrics_server *metrics_server_new(io_loop *loop, const char *addr, char *err, size_t errsz);
void metrics_server_free(metrics_server *m);
int metrics_server_port(const metrics_server *m);
/* Up to 8 sources, written in order.  Returns 0 or -1. */
int metrics_server_add_source(metrics_server *m, metrics_source_fn fn, void *arg);
void metrics_server_set_ready(metrics_server *m, metrics_ready_fn fn, void *arg);

/* The process families: process_resident_memory_bytes, process_start_time_seconds, ... */
void metrics_write_process(buf *out, void *arg);

#endif
