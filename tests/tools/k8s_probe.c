/*
 * k8s_probe: drives src/k8s against an API server (kubesim in the e2e tests)
 * and reports what it sees as JSON lines on stdout.
 *
 *   k8s_probe [--apiserver URL] [--token-file F] [--ca-file F] [--namespace NS]
 *             [--sa-dir DIR] [--no-informer] [--watch-min S] [--watch-max S]
 *             [--page-limit N] [--timeout-ms N] [--quiet-events] [--exit-after-sync]
 *
 * Informer callbacks print {"ev":"upsert",...}, {"ev":"delete",...},
 * {"ev":"synced",...}.  Commands, one per stdin line, answer with
 * {"ev":"reply","cmd":...}:
 *   create NAME REPLICAS IMAGE [KEY=VALUE]   get NAME   delete NAME
 *   diag NAME AVAILABLE REPLICAS   dump   stats   quit
 * EOF on stdin is quit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "io/loop.h"
#include "json/json.h"
#include "k8s/client.h"
#include "k8s/config.h"
#include "k8s/informer.h"

static io_loop *loop;
static k8s_client *client;
static k8s_informer *inf;
static int quiet_events, exit_after_sync;
static int64_t start_ms;
static buf inbuf = BUF_INIT;

static uint8_t out[1 << 20];

static void emit(json_writer *w)
{
	int n = json_writer_finish(w);

	if (n < 0) {
		fprintf(stderr, "k8s_probe: json: %s\n", json_strerror(n));
		return;
	}
	out[n] = '\n';
	for (size_t off = 0; off < (size_t)n + 1;) {
		ssize_t k = write(1, out + off, (size_t)n + 1 - off);
		if (k <= 0)
			exit(3);
		off += (size_t)k;
	}
}

#define KEY(w, k) json_write_key((w), (k), strlen(k))

static void put_str(json_writer *w, const char *k, const char *v)
{
	KEY(w, k);
	json_write_cstr(w, v);
}

static void put_int(json_writer *w, const char *k, int64_t v)
{
	KEY(w, k);
	json_write_int(w, v);
}

static void begin(json_writer *w, const char *ev)
{
	json_writer_init(w, out, sizeof(out) - 1);
	json_write_object_begin(w);
	put_str(w, "ev", ev);
}

static void put_deployment(json_writer *w, const k8s_deployment *d)
{
	put_str(w, "name", d->name);
	put_str(w, "rv", d->resource_version);
	put_str(w, "uid", d->uid);
	put_int(w, "generation", d->generation);
	put_int(w, "observed", d->observed_generation);
	put_int(w, "replicas", d->replicas);
	put_int(w, "ready", d->ready_replicas);
	put_int(w, "available", d->available_replicas);
	put_int(w, "updated", d->updated_replicas);
	put_int(w, "deleting", d->deleting);
	put_int(w, "managed", d->managed);
	put_str(w, "label_name", d->label_name);
	put_str(w, "label_cluster", d->label_cluster);
	put_str(w, "image", d->image);
	put_int(w, "created_ms", d->created_unix_ms);
	put_int(w, "available_status", d->available.status);
	put_str(w, "progressing_reason", d->progressing.reason);
	put_int(w, "is_ready", k8s_deployment_ready(d));
	put_int(w, "is_failed", k8s_deployment_failed(d));
}

static void put_error(json_writer *w, const k8s_error *e)
{
	put_int(w, "ok", e->kind == K8S_OK);
	if (e->kind != K8S_OK) {
		put_str(w, "kind", k8s_err_kind_str(e->kind));
		put_int(w, "code", e->code);
		put_str(w, "reason", e->reason);
		put_str(w, "message", e->message);
	}
}

/* ---------------------------------------------------------------- informer */

static void on_upsert(void *ctx, const k8s_deployment *d, const k8s_deployment *old)
{
	json_writer w;

	(void)ctx;
	if (quiet_events)
		return;
	begin(&w, "upsert");
	put_int(&w, "new", old == NULL);
	put_deployment(&w, d);
	json_write_object_end(&w);
	emit(&w);
}

static void on_delete(void *ctx, const k8s_deployment *d)
{
	json_writer w;

	(void)ctx;
	if (quiet_events)
		return;
	begin(&w, "delete");
	put_str(&w, "name", d->name);
	put_str(&w, "rv", d->resource_version);
	json_write_object_end(&w);
	emit(&w);
}

static void put_rusage(json_writer *w)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	put_int(w, "user_ms", (int64_t)ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000);
	put_int(w, "sys_ms", (int64_t)ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000);
	/* VmHWM, not ru_maxrss: the latter keeps the high-water mark of the
	 * process image before execve (a forked Python's, under pytest). */
	long hwm = ru.ru_maxrss;
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &hwm) == 1)
			break;
	if (f)
		fclose(f);
	put_int(w, "maxrss_kb", hwm);
}

static void cmd_stats(void)
{
	json_writer w;
	k8s_informer_stats s;
	k8s_client_stats cs;

	begin(&w, "reply");
	put_str(&w, "cmd", "stats");
	if (inf) {
		k8s_informer_get_stats(inf, &s);
		put_int(&w, "lists", (int64_t)s.lists);
		put_int(&w, "relists", (int64_t)s.relists);
		put_int(&w, "list_pages", (int64_t)s.list_pages);
		put_int(&w, "list_errors", (int64_t)s.list_errors);
		put_int(&w, "watches", (int64_t)s.watches);
		put_int(&w, "watch_restarts", (int64_t)s.watch_restarts);
		put_int(&w, "watch_errors", (int64_t)s.watch_errors);
		put_int(&w, "events", (int64_t)s.events);
		put_int(&w, "duplicates", (int64_t)s.duplicates);
		put_int(&w, "bookmarks", (int64_t)s.bookmarks);
		put_int(&w, "expired", (int64_t)s.expired);
		put_int(&w, "throttled", (int64_t)s.throttled);
		put_str(&w, "resource_version", k8s_informer_resource_version(inf));
		put_int(&w, "count", (int64_t)k8s_cache_count(k8s_informer_cache(inf)));
	}
	k8s_client_get_stats(client, &cs);
	put_int(&w, "requests", (int64_t)cs.requests);
	put_int(&w, "retries", (int64_t)cs.retries);
	put_int(&w, "connects", (int64_t)cs.connects);
	put_int(&w, "token_reloads", (int64_t)cs.token_reloads);
	put_int(&w, "conns_open", (int64_t)cs.conns_open);
	put_rusage(&w);
	json_write_object_end(&w);
	emit(&w);
}

static void on_synced(void *ctx)
{
	json_writer w;

	(void)ctx;
	begin(&w, "synced");
	put_int(&w, "count", (int64_t)k8s_cache_count(k8s_informer_cache(inf)));
	put_int(&w, "ms", clock_mono_ms() - start_ms);
	put_rusage(&w);
	json_write_object_end(&w);
	emit(&w);
	if (exit_after_sync)
		io_loop_stop(loop);
}

static void cmd_dump(void)
{
	json_writer w;
	k8s_cache_iter it = K8S_CACHE_ITER_INIT;
	const k8s_deployment *d;
	static k8s_deployment rec;

	begin(&w, "reply");
	put_str(&w, "cmd", "dump");
	put_int(&w, "synced", inf ? k8s_informer_synced(inf) : 0);
	KEY(&w, "items");
	json_write_object_begin(&w);
	while (inf && (d = k8s_cache_next(k8s_informer_cache(inf), &it, &rec)) != NULL) {
		KEY(&w, d->name);
		json_write_object_begin(&w);
		put_deployment(&w, d);
		json_write_object_end(&w);
	}
	json_write_object_end(&w);
	json_write_object_end(&w);
	emit(&w);
}

/* ---------------------------------------------------------------- commands */

static void deploy_reply(void *ctx, const k8s_error *err, const k8s_deployment *d)
{
	json_writer w;

	begin(&w, "reply");
	put_str(&w, "cmd", ctx);
	put_error(&w, err);
	if (d) {
		KEY(&w, "object");
		json_write_object_begin(&w);
		put_deployment(&w, d);
		json_write_object_end(&w);
	}
	json_write_object_end(&w);
	emit(&w);
}

static void delete_reply(void *ctx, const k8s_error *err)
{
	json_writer w;

	(void)ctx;
	begin(&w, "reply");
	put_str(&w, "cmd", "delete");
	put_error(&w, err);
	json_write_object_end(&w);
	emit(&w);
}

static void diag_reply(void *ctx, const k8s_error *err, const char *line)
{
	json_writer w;

	(void)ctx;
	begin(&w, "reply");
	put_str(&w, "cmd", "diag");
	put_error(&w, err);
	if (line)
		put_str(&w, "diagnosis", line);
	json_write_object_end(&w);
	emit(&w);
}

static void bad_command(const char *line)
{
	json_writer w;

	begin(&w, "reply");
	put_str(&w, "cmd", "?");
	put_str(&w, "error", line);
	json_write_object_end(&w);
	emit(&w);
}

static void command(char *line)
{
	char *argv[6] = { 0 };
	int argc = 0;

	for (char *t = strtok(line, " \t"); t && argc < 6; t = strtok(NULL, " \t"))
		argv[argc++] = t;
	if (argc == 0)
		return;
	if (strcmp(argv[0], "quit") == 0) {
		io_loop_stop(loop);
	} else if (strcmp(argv[0], "dump") == 0) {
		cmd_dump();
	} else if (strcmp(argv[0], "stats") == 0) {
		cmd_stats();
	} else if (strcmp(argv[0], "create") == 0 && argc >= 4) {
		k8s_deploy_spec s = { argv[1], (int32_t)atoi(argv[2]), argv[3], argc > 4 ? argv[4] : NULL, 600, NULL, NULL };
		if (k8s_create_deployment(client, &s, deploy_reply, "create") == NULL)
			bad_command("create: cannot submit");
	} else if (strcmp(argv[0], "get") == 0 && argc >= 2) {
		k8s_get_deployment(client, argv[1], deploy_reply, "get");
	} else if (strcmp(argv[0], "delete") == 0 && argc >= 2) {
		k8s_delete_deployment(client, argv[1], delete_reply, NULL);
	} else if (strcmp(argv[0], "diag") == 0 && argc >= 4) {
		k8s_diagnose(client, argv[1], (int32_t)atoi(argv[2]), (int32_t)atoi(argv[3]), diag_reply, NULL);
	} else {
		bad_command(argv[0]);
	}
}

static void on_stdin(io_loop *l, int fd, unsigned ev, void *arg)
{
	uint8_t tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	(void)ev;
	(void)arg;
	if (n <= 0) {
		io_loop_del_fd(l, fd);
		if (!exit_after_sync)
			io_loop_stop(l);
		return;
	}
	buf_append(&inbuf, tmp, (size_t)n);
	for (;;) {
		uint8_t *p = buf_data(&inbuf), *nl = memchr(p, '\n', buf_len(&inbuf));
		if (nl == NULL)
			break;
		*nl = '\0';
		command((char *)p);
		buf_consume(&inbuf, (size_t)(nl - p) + 1);
	}
}

int main(int argc, char **argv)
{
	k8s_config_opts co = { 0 };
	k8s_config cfg;
	k8s_client_opts clo = { 0 };
	k8s_informer_opts io = { 0 };
	int no_informer = 0;
	char err[512];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (strcmp(a, name) == 0 && v && (i++, 1))
		if (OPT("--apiserver"))
			co.apiserver = v;
		else if (OPT("--token-file"))
			co.token_file = v;
		else if (OPT("--ca-file"))
			co.ca_file = v;
		else if (OPT("--namespace"))
			co.namespace_ = v;
		else if (OPT("--sa-dir"))
			co.sa_dir = v;
		else if (OPT("--watch-min"))
			io.watch_timeout_min_s = atoi(v);
		else if (OPT("--watch-max"))
			io.watch_timeout_max_s = atoi(v);
		else if (OPT("--page-limit"))
			io.page_limit = atoi(v);
		else if (OPT("--timeout-ms"))
			clo.timeout_ms = atoi(v);
		else if (OPT("--token-refresh-ms"))
			clo.token_refresh_ms = atoi(v);
		else if (OPT("--backoff-cap-ms"))
			io.backoff_cap_ms = atoi(v);
		else if (OPT("--log-level")) {
			enum log_level lv;
			if (log_parse_level(v, &lv) == 0)
				log_set_level(lv);
		} else if (strcmp(a, "--no-informer") == 0)
			no_informer = 1;
		else if (strcmp(a, "--quiet-events") == 0)
			quiet_events = 1;
		else if (strcmp(a, "--exit-after-sync") == 0)
			exit_after_sync = 1;
		else {
			fprintf(stderr, "k8s_probe: bad argument %s\n", a);
			return 2;
		}
#undef OPT
	}
	start_ms = clock_mono_ms();
	if (k8s_config_load(&cfg, &co, err, sizeof(err)) < 0) {
		json_writer w;
		begin(&w, "config_error");
		put_str(&w, "error", err);
		json_write_object_end(&w);
		emit(&w);
		return 1;
	}
	loop = io_loop_new();
	client = k8s_client_new(loop, &cfg, &clo);
	if (!no_informer) {
		k8s_informer_cbs cbs = { on_upsert, on_delete, on_synced };
		inf = k8s_informer_new(client, &io, &cbs, NULL);
		k8s_informer_start(inf);
	}
	io_loop_add_fd(loop, 0, IO_READ, on_stdin, NULL);
	{
		json_writer w;
		begin(&w, "started");
		put_str(&w, "namespace", cfg.namespace_);
		put_str(&w, "server_name", cfg.server_name);
		put_int(&w, "tls", cfg.tls);
		json_write_object_end(&w);
		emit(&w);
	}
	io_loop_run(loop);
	if (exit_after_sync)
		cmd_stats();
	k8s_informer_free(inf);
	k8s_client_free(client);
	k8s_config_free(&cfg);
	io_loop_free(loop);
	buf_free(&inbuf);
	return 0;
}
