/*
 * The worker process: flags → Kubernetes config and client → informer →
 * ClusterService + health on the gRPC server → optional metrics endpoint;
 * then the loop until SIGTERM/SIGINT, which drains (GOAWAY, waiting calls
 * get --shutdown-grace, the rest UNAVAILABLE) and exits 0.
 */
#include "worker/worker.h"

#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/log.h"
#include "cplane/v1/methods.h"
#include "grpc/health.h"
#include "grpc/reflection.h"
#include "grpc/server.h"
#include "io/tls_server.h"
#include "k8s/client.h"
#include "k8s/config.h"
#include "k8s/informer.h"
#include "k8s/kubeconfig.h"
#include "worker/auth.h"
#include "worker/backend_k8s.h"
#include "worker/config.h"
#include "worker/descriptor_set.h"
#include "worker/metrics.h"
#include "worker/recorder.h"
#include "worker/service.h"


struct worker {
	struct worker_config cfg;
	io_loop *loop;
	k8s_config kcfg;
	k8s_kubeconfig kubeconfig;
	k8s_client *client;
	k8s_informer *informer;
	grpc_server *server;
	grpc_reflection *reflection;
	worker_service *service;
	recorder *events;
	worker_auth *auth;
	metrics_server *metrics;
	tls_server_config *tls;		/* NULL = h2c */
	io_timer tls_check;
	int shutting_down;
	int exit_code;
};

/* The recorder's uids: the informer's cache has them all. */
static int uid_from_cache(void *ctx, const char *name, char *out, size_t outsz)
{
	struct worker *w = ctx;

	return w->informer && k8s_cache_uid(k8s_informer_cache(w->informer), name, out, outsz);
}

static void on_upsert(void *ctx, const k8s_deployment *d, const k8s_deployment *old)
{
	struct worker *w = ctx;

	/* A relist can bring a Deployment that replaced the cached one (deleted and created
	 * again while the watch was down): the one we knew is gone, with all that waited on it. */
	if (old != NULL && old->uid[0] && d->uid[0] && strcmp(old->uid, d->uid) != 0)
		worker_service_on_delete(w->service, old->name);
	recorder_observe(w->events, d->name, d->uid);
	worker_service_on_upsert(w->service, d);
}

static void on_delete(void *ctx, const k8s_deployment *last)
{
	struct worker *w = ctx;

	worker_service_on_delete(w->service, last->name);
	recorder_observe(w->events, last->name, NULL);
}

static void on_synced(void *ctx)
{
	struct worker *w = ctx;

	worker_service_on_synced(w->service);
	if (!w->shutting_down) {
		grpc_health_set(w->server, "", GRPC_HEALTH_SERVING);
		grpc_health_set(w->server, CPLANE_SERVICE, GRPC_HEALTH_SERVING);
	}
}

static void on_listed(void *ctx, int64_t started_us)
{
	struct worker *w = ctx;

	worker_service_on_listed(w->service, started_us);
}

static int is_ready(void *arg)
{
	struct worker *w = arg;

	return worker_service_synced(w->service) && !w->shutting_down;
}

static void write_k8s_count(void *ctx, const char *verb, int code, uint64_t count)
{
	buf *out = ctx;

	buf_printf(out, "cplane_k8s_requests_total{verb=\"%s\",code=\"%d\"} %llu\n", verb, code,
	    (unsigned long long)count);
}

static void write_k8s_metrics(buf *out, void *arg)
{
	struct worker *w = arg;
	k8s_informer_stats st;

	buf_append_str(out, "# HELP cplane_k8s_requests_total Kubernetes API requests by verb and HTTP code "
	    "(0 = no answer).\n# TYPE cplane_k8s_requests_total counter\n");
	k8s_client_foreach_count(w->client, write_k8s_count, out);
	k8s_informer_get_stats(w->informer, &st);
	buf_printf(out,
	    "# HELP cplane_watch_restarts_total Watches of Deployments started again after they ended.\n"
	    "# TYPE cplane_watch_restarts_total counter\ncplane_watch_restarts_total %llu\n"
	    "# HELP cplane_relists_total Full lists of Deployments after the first (410 Gone, errors).\n"
	    "# TYPE cplane_relists_total counter\ncplane_relists_total %llu\n"
	    "# HELP cplane_watch_bookmarks_total BOOKMARK events received on the watch of Deployments.\n"
	    "# TYPE cplane_watch_bookmarks_total counter\ncplane_watch_bookmarks_total %llu\n"
	    "# HELP cplane_watch_silent_total Watches dropped because no byte came for twice the bookmark interval.\n"
	    "# TYPE cplane_watch_silent_total counter\ncplane_watch_silent_total %llu\n",
	    (unsigned long long)st.watch_restarts, (unsigned long long)st.relists,
	    (unsigned long long)st.bookmarks, (unsigned long long)st.watch_silent);
}

static void tls_check_cb(io_loop *loop, void *arg)
{
	struct worker *w = arg;
	char err[512], what[128];
	int rc = tls_server_config_check(w->tls, io_loop_now(loop), err, sizeof(err));

	if (rc > 0)
		log_info("TLS certificate reloaded", "cert", w->cfg.tls_cert_file, "key",
		    tls_server_config_describe(w->tls, what, sizeof(what)), NULL);
	else if (rc < 0)
		log_warn("TLS certificate not reloaded: keeping the one in use", "error", err, NULL);
	io_timer_start(loop, &w->tls_check, w->cfg.tls_check_interval_ms);
}

static void write_tls_metrics(buf *out, void *arg)
{
	struct worker *w = arg;
	const tls_server_stats *st = tls_server_config_stats(w->tls);

	buf_append_str(out, "# HELP cplane_tls_handshakes_total TLS handshakes on the gRPC port by result.\n"
	    "# TYPE cplane_tls_handshakes_total counter\n");
	for (int r = 0; r < TLS_HS__COUNT; r++)
		buf_printf(out, "cplane_tls_handshakes_total{result=\"%s\"} %llu\n", tls_hs_result_name(r),
		    (unsigned long long)st->handshakes[r]);
	buf_printf(out, "# HELP cplane_tls_connections_open TLS connections open on the gRPC port.\n"
	    "# TYPE cplane_tls_connections_open gauge\ncplane_tls_connections_open %llu\n"
	    "# HELP cplane_tls_reloads_total Certificate reloads after the files changed, by result.\n"
	    "# TYPE cplane_tls_reloads_total counter\n"
	    "cplane_tls_reloads_total{result=\"ok\"} %llu\ncplane_tls_reloads_total{result=\"error\"} %llu\n",
	    (unsigned long long)st->conns_open, (unsigned long long)st->reloads,
	    (unsigned long long)st->reload_failures);
}

/* --tls-cert-file/--tls-key-file: the pair loads now or the worker does not start. */
static int setup_tls(struct worker *w)
{
	tls_server_files files;
	char err[512], what[128];

	if (w->cfg.tls_cert_file == NULL || w->cfg.tls_cert_file[0] == '\0')
		return 0;
	memset(&files, 0, sizeof(files));
	files.cert_file = w->cfg.tls_cert_file;
	files.key_file = w->cfg.tls_key_file;
	files.client_ca_file = w->cfg.tls_client_ca_file;
	files.check_interval_ms = w->cfg.tls_check_interval_ms;
	w->tls = tls_server_config_new(&files, io_loop_now(w->loop), err, sizeof(err));
	if (w->tls == NULL) {
		log_error("Cannot serve TLS", "error", err, NULL);
		return -1;
	}
	log_info("TLS on the gRPC port", "cert", w->cfg.tls_cert_file, "key",
	    tls_server_config_describe(w->tls, what, sizeof(what)), "alpn", "h2", NULL);
	io_timer_init(&w->tls_check, tls_check_cb, w);
	io_timer_start(w->loop, &w->tls_check, w->cfg.tls_check_interval_ms);
	return 0;
}

static void write_grpc_conn_metrics(buf *out, void *arg)
{
	struct worker *w = arg;
	grpc_server_stats stats, *st = &stats;

	grpc_server_get_stats(w->server, &stats);
	buf_printf(out,
	    "# HELP cplane_grpc_connections Open gRPC connections.\n"
	    "# TYPE cplane_grpc_connections gauge\ncplane_grpc_connections %zu\n"
	    "# HELP cplane_grpc_connections_closed_total gRPC connections the server closed, by reason.\n"
	    "# TYPE cplane_grpc_connections_closed_total counter\n"
	    "cplane_grpc_connections_closed_total{reason=\"evicted\"} %llu\n"
	    "cplane_grpc_connections_closed_total{reason=\"handshake_timeout\"} %llu\n"
	    "cplane_grpc_connections_closed_total{reason=\"idle\"} %llu\n"
	    "cplane_grpc_connections_closed_total{reason=\"refused\"} %llu\n",
	    st->conns_open, (unsigned long long)st->conns_evicted,
	    (unsigned long long)st->conns_handshake_timeouts, (unsigned long long)st->conns_idle_closed,
	    (unsigned long long)st->conns_refused);
}

static void on_shutdown_done(grpc_server *s, void *arg)
{
	struct worker *w = arg;

	(void)s;
	log_info("Stopped", NULL);
	io_loop_stop(w->loop);
}

static void on_signal(io_loop *loop, int signo, void *arg)
{
	struct worker *w = arg;
	char grace[32];

	(void)loop;
	if (w->shutting_down) {
		log_warn("Second signal: stopping now", "signal", signo == SIGINT ? "SIGINT" : "SIGTERM", NULL);
		io_loop_stop(w->loop);
		return;
	}
	w->shutting_down = 1;
	log_info("Shutting down", "signal", signo == SIGINT ? "SIGINT" : "SIGTERM", "grace",
	    log_duration_ms(grace, w->cfg.shutdown_grace_ms), NULL);
	worker_service_drain(w->service);
	grpc_server_shutdown(w->server, w->cfg.shutdown_grace_ms, on_shutdown_done, w);
}

/*
 * Out of cluster without --apiserver: the kubeconfig (--kubeconfig, else
 * $KUBECONFIG, else ~/.kube/config).  1 = loaded, 0 = none to use, -1 = a
 * refusal in err (exit 2).
 */
static int use_kubeconfig(struct worker *w, char *err, size_t errsz)
{
	const char *in_pod = getenv("KUBERNETES_SERVICE_HOST");
	char path[KUBECONFIG_PATH_MAX];
	int rc;

	if (w->cfg.apiserver && w->cfg.apiserver[0])
		return 0;
	if ((w->cfg.kubeconfig == NULL || w->cfg.kubeconfig[0] == '\0') && in_pod && in_pod[0])
		return 0;
	rc = k8s_kubeconfig_locate(w->cfg.kubeconfig, getenv("KUBECONFIG"), getenv("HOME"), path, sizeof(path),
	    err, errsz);
	if (rc == 0 && w->cfg.context && w->cfg.context[0]) {
		snprintf(err, errsz, "--context %s given, but no kubeconfig found (--kubeconfig, $KUBECONFIG, "
		    "~/.kube/config)", w->cfg.context);
		return -1;
	}
	if (rc <= 0)
		return rc;
	return k8s_kubeconfig_load(&w->kubeconfig, path, w->cfg.context, err, errsz) < 0 ? -1 : 1;
}

/*
 * Descriptors kept out of the gRPC table: the metrics port's 64
 * connections, the API server connections, the loop's pipe, stdio, margin.
 */
#define FDS_RESERVED 128

/* Raises the soft open-file limit to the hard one; returns the limit in effect. */
static uint64_t raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = rl;
		want.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
	}
	return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
}

/* The gRPC table: --max-connections, but never more than the descriptors we may open. */
static size_t grpc_table_size(int64_t wanted, uint64_t nofile)
{
	uint64_t room = nofile > FDS_RESERVED + 16 ? nofile - FDS_RESERVED : 16;

	return (uint64_t)wanted < room ? (size_t)wanted : (size_t)room;
}

/* Events go out through the Kubernetes client as they are (no retry: a lost Event is not worth a stall). */
static void write_event(void *impl, int patch, const char *path, const uint8_t *body, size_t len, k8s_done_fn done,
    void *arg)
{
	k8s_request r;

	memset(&r, 0, sizeof(r));
	r.verb = patch ? K8S_VERB_PATCH : K8S_VERB_CREATE;
	r.method = patch ? "PATCH" : "POST";
	r.path = path;
	r.body = body;
	r.body_len = len;
	r.flags = K8S_REQ_NO_RETRY | (patch ? K8S_REQ_MERGE_PATCH : 0);
	r.timeout_ms = 10000;
	r.on_done = done;
	r.ctx = arg;
	k8s_submit(impl, &r);
}

static void record_event(void *impl, const char *name, const char *uid, int warning, const char *reason,
    const char *message)
{
	recorder_record(impl, name, uid, warning, reason, message);
}

static int setup_events(struct worker *w, struct worker_backend *b)
{
	struct recorder_sink sink = {write_event, w->client};
	struct recorder_opts ro;
	char host[256];

	memset(&ro, 0, sizeof(ro));
	ro.namespace_ = w->kcfg.namespace_;
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		ro.instance = host;
	}
	w->events = recorder_new(w->loop, &sink, &ro);
	recorder_set_uid_lookup(w->events, uid_from_cache, w);
	b->event = record_event;
	b->event_impl = w->events;
	return 0;
}

/* Who may call (worker/auth.h): every call reviewed by the API server, unless --auth none. */
static int setup_auth(struct worker *w)
{
	struct worker_auth_opts o;

	memset(&o, 0, sizeof(o));
	worker_auth_parse_mode(w->cfg.auth, &o.mode);
	o.audience = w->cfg.auth_audience;
	o.allow_ttl_ms = w->cfg.auth_allow_ttl_ms;
	o.deny_ttl_ms = w->cfg.auth_deny_ttl_ms;
	o.namespace_ = w->kcfg.namespace_;
	w->auth = worker_auth_new(w->loop, w->client, &o);
	if (o.mode == WORKER_AUTH_NONE)
		log_warn("Authentication is off (--auth none): anyone who reaches the gRPC port may create and "
		    "delete clusters with the worker's rights", NULL);
	return 0;
}

static int setup(struct worker *w)
{
	k8s_config_opts kopts;
	grpc_server_opts gopts;
	struct worker_backend backend;
	struct worker_service_opts sopts;
	k8s_informer_cbs icb;
	char err[512];

	if (setup_tls(w) < 0)
		return -1;
	memset(&kopts, 0, sizeof(kopts));
	kopts.apiserver = w->cfg.apiserver;
	kopts.token_file = w->cfg.token_file;
	kopts.ca_file = w->cfg.ca_file;
	kopts.namespace_ = w->cfg.namespace_;
	switch (use_kubeconfig(w, err, sizeof(err))) {
	case -1:
		log_error("Kubernetes configuration", "error", err, NULL);
		return -2;
	case 1:
		kopts.kubeconfig = &w->kubeconfig;
		break;
	}
	if (k8s_config_load(&w->kcfg, &kopts, err, sizeof(err)) < 0) {
		log_error("Kubernetes configuration", "error", err, NULL);
		return kopts.kubeconfig ? -2 : -1;
	}
	if (kopts.kubeconfig)
		log_info("Using kubeconfig", "file", w->kubeconfig.path, "context", w->kubeconfig.context, NULL);
	w->client = k8s_client_new(w->loop, &w->kcfg, NULL);
	grpc_server_opts_default(&gopts);
	gopts.max_recv_msg = (uint32_t)w->cfg.max_recv_msg;
	gopts.tls = w->tls;
	{
		uint64_t nofile = raise_nofile();
		char n1[24], n2[24];
		gopts.max_conns = grpc_table_size(w->cfg.max_conns, nofile);
		gopts.max_conns_per_peer = (size_t)w->cfg.max_conns_per_peer;
		gopts.max_conn_idle_ms = w->cfg.max_conn_idle_ms;
		if (gopts.max_conns < (size_t)w->cfg.max_conns)
			log_warn("The open-file limit caps gRPC connections", "max_connections",
			    log_i64(n1, (int64_t)gopts.max_conns), "nofile", log_i64(n2, (int64_t)nofile), NULL);
	}
	w->server = grpc_server_new(w->loop, &gopts);
	if (w->client == NULL || grpc_health_register(w->server) < 0)
		goto nomem;
	w->reflection = grpc_reflection_new(cplane_descriptor_set, cplane_descriptor_set_len, err, sizeof(err));
	if (w->reflection == NULL) {
		log_error("Server reflection", "error", err, NULL);
		return -1;
	}
	if (grpc_reflection_register(w->reflection, w->server) < 0)
		goto nomem;
	/* Not serving until the first list has synced. */
	grpc_health_set(w->server, "", GRPC_HEALTH_NOT_SERVING);
	grpc_health_set(w->server, CPLANE_SERVICE, GRPC_HEALTH_NOT_SERVING);

	worker_backend_k8s_init(&backend, w->client);
	if (setup_events(w, &backend) < 0)
		goto nomem;
	memset(&sopts, 0, sizeof(sopts));
	sopts.default_image = w->cfg.image;
	sopts.allowed_images = w->cfg.allowed_images;
	sopts.node_selector = w->cfg.node_selector && w->cfg.node_selector[0] ? w->cfg.node_selector : NULL;
	sopts.create_timeout_ms = w->cfg.create_timeout_ms;
	sopts.delete_timeout_ms = w->cfg.delete_timeout_ms;
	sopts.max_replicas = w->cfg.max_replicas;
	if (setup_auth(w) < 0)
		goto nomem;
	sopts.auth = w->auth;
	w->service = worker_service_new(w->loop, w->server, &backend, &sopts);
	if (w->service == NULL)
		goto nomem;

	memset(&icb, 0, sizeof(icb));
	icb.on_upsert = on_upsert;
	icb.on_delete = on_delete;
	icb.on_synced = on_synced;
	w->informer = k8s_informer_new(w->client, NULL, &icb, w);
	k8s_informer_on_listed(w->informer, on_listed, w);

	if (grpc_server_listen(w->server, w->cfg.listen, err, sizeof(err)) < 0) {
		log_error("Cannot listen", "addr", w->cfg.listen, "error", err, NULL);
		return -1;
	}
	if (w->cfg.metrics_addr && w->cfg.metrics_addr[0]) {
		w->metrics = metrics_server_new(w->loop, w->cfg.metrics_addr, err, sizeof(err));
		if (w->metrics == NULL) {
			log_error("Cannot serve metrics", "addr", w->cfg.metrics_addr, "error", err, NULL);
			return -1;
		}
		metrics_server_add_source(w->metrics, worker_service_write_metrics, w->service);
		metrics_server_add_source(w->metrics, write_k8s_metrics, w);
		metrics_server_add_source(w->metrics, write_grpc_conn_metrics, w);
		metrics_server_add_source(w->metrics, recorder_write_metrics, w->events);
		metrics_server_add_source(w->metrics, worker_auth_write_metrics, w->auth);
		metrics_server_add_source(w->metrics, metrics_write_process, NULL);
		if (w->tls != NULL)
			metrics_server_add_source(w->metrics, write_tls_metrics, w);
		metrics_server_set_ready(w->metrics, is_ready, w);
	}
	if (io_loop_on_signal(w->loop, SIGTERM, on_signal, w) < 0 || io_loop_on_signal(w->loop, SIGINT, on_signal, w) < 0)
		goto nomem;
	k8s_informer_start(w->informer);
	{
		char port[16];
		snprintf(port, sizeof(port), "%d", grpc_server_port(w->server));
		log_info("Serving", "listen", w->cfg.listen, "port", port, "namespace", w->kcfg.namespace_, "apiserver",
		    w->kcfg.host_header, "metrics", w->cfg.metrics_addr && w->cfg.metrics_addr[0] ?
		    w->cfg.metrics_addr : NULL, "transport", w->tls ? "tls" : "h2c", NULL);
	}
	return 0;
nomem:
	log_error("Out of memory during start-up", NULL);
	return -1;
}

int worker_main(int argc, char **argv)
{
	struct worker w;
	enum log_level level;
	enum log_format format;
	int rc = 1;

	memset(&w, 0, sizeof(w));
	if (worker_config_parse(&w.cfg, argc, argv) < 0)
		return 2;
	log_parse_level(w.cfg.log_level, &level);
	log_parse_format(w.cfg.log_format, &format);
	log_set_level(level);
	log_set_format(format);
	signal(SIGPIPE, SIG_IGN);
	w.loop = io_loop_new();
	if (w.loop == NULL)
		return 1;
	switch (setup(&w)) {
	case 0:
		if (io_loop_run(w.loop) == 0)
			rc = 0;
		break;
	case -2:
		rc = 2;		/* a configuration the user must change */
		break;
	}
	k8s_informer_free(w.informer);
	worker_auth_free(w.auth);	/* first: its waiting calls must not reach a freed service */
	worker_service_free(w.service);
	metrics_server_free(w.metrics);
	grpc_server_free(w.server);
	grpc_reflection_free(w.reflection);	/* after the server: its methods point at it */
	if (w.tls != NULL)
		io_timer_stop(w.loop, &w.tls_check);
	tls_server_config_free(w.tls);
	k8s_client_free(w.client);
	recorder_free(w.events);	/* after the client: it drops Event writes in flight uncalled */
	k8s_config_free(&w.kcfg);
	k8s_kubeconfig_free(&w.kubeconfig);
	io_loop_free(w.loop);
	return rc;
}

void worker_print_flags(FILE *f)
{
	worker_config_print_flags(f);
}
