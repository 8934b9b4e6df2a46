/*
 * The worker's ClusterService without sockets or sleeps.  A detached gRPC
 * server connection carries the calls (an h2 client on the other side,
 * bytes shuttled by hand, as test_grpc_server.c does); a fake backend
 * records every Kubernetes write and completes it when the test says; the
 * informer feed (worker_service_on_upsert/on_delete/on_listed/on_synced) is
 * called directly; the loop runs on an injected clock, so timeouts fire by
 * moving the clock, not by waiting.
 *
 * One test per row of DESIGN.md's semantics table, per invalid-input rule and
 * per race the e2e suites found; each checks the gRPC status, the message and
 * the backend calls made.  New rows (auth, Update) get their tests here first.
 */
#include "harness.h"

#include <fcntl.h>

#include "base/log.h"
#include "base/mem.h"
#include "cplane/v1/cplane.pb-c.h"
#include "cplane/v1/methods.h"
#include "grpc/server.h"
#include "h2/h2.h"
#include "io/loop.h"
#include "k8s/client.h"
#include "worker/service.h"

#define NS "ns1"
#define IMG "registry.example/app:1"
#define IMG2 "registry.example/app:2"

/* ------------------------------------------------------------ the clock */

static int64_t fake_us = 1000000000;

static int64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_us;
}

/* ------------------------------------------------------ the fake backend */

enum fop { F_CREATE, F_REMOVE, F_DIAGNOSE, F_PATCH, F_SERVICE };

struct fcall {
	enum fop op;
	char name[64];
	int32_t replicas;	/* create: spec.replicas; diagnose: want */
	int32_t available;	/* diagnose */
	char image[256];
	char node_selector[64];
	int64_t progress_deadline_s;
	int64_t timeout_ms;	/* diagnose */
	k8s_deploy_done_fn create_done;
	k8s_delete_done_fn remove_done;
	k8s_diag_done_fn diag_done;
	void *arg;
	int completed;
	/* patch: what it carries (replicas 0 = not patched; image "" = container kept) */
	char spec_hash[17];
	int64_t generation;	/* what the answer says metadata.generation became */
};

static struct fcall fcalls[32];
static int nfcalls;

static struct fcall *record(enum fop op, const char *name)
{
	struct fcall *f = &fcalls[nfcalls < 31 ? nfcalls++ : 31];

	memset(f, 0, sizeof(*f));
	f->op = op;
	snprintf(f->name, sizeof(f->name), "%s", name);
	return f;
}

static void fake_create(void *impl, const k8s_deploy_spec *spec, k8s_deploy_done_fn done, void *arg)
{
	struct fcall *f = record(F_CREATE, spec->name);

	(void)impl;
	f->replicas = spec->replicas;
	snprintf(f->image, sizeof(f->image), "%s", spec->image);
	snprintf(f->node_selector, sizeof(f->node_selector), "%s", spec->node_selector ? spec->node_selector : "");
	f->progress_deadline_s = spec->progress_deadline_s;
	f->create_done = done;
	f->arg = arg;
}

static void fake_remove(void *impl, const char *name, k8s_delete_done_fn done, void *arg)
{
	struct fcall *f = record(F_REMOVE, name);

	(void)impl;
	f->remove_done = done;
	f->arg = arg;
}

static void fake_diagnose(void *impl, const char *name, int32_t want, int32_t available, int64_t timeout_ms,
    k8s_diag_done_fn done, void *arg)
{
	struct fcall *f = record(F_DIAGNOSE, name);

	(void)impl;
	f->replicas = want;
	f->available = available;
	f->timeout_ms = timeout_ms;
	f->diag_done = done;
	f->arg = arg;
}

static void fake_patch(void *impl, const char *name, const k8s_deploy_patch *p, k8s_deploy_done_fn done,
    void *arg)
{
	struct fcall *f = record(F_PATCH, name);

	(void)impl;
	f->replicas = p->replicas;
	snprintf(f->image, sizeof(f->image), "%s", p->image ? p->image : "");
	snprintf(f->spec_hash, sizeof(f->spec_hash), "%s", p->spec_hash ? p->spec_hash : "");
	f->create_done = done;
	f->arg = arg;
}

static void fake_create_service(void *impl, const char *name, const k8s_podspec *pod, const char *owner_uid,
    k8s_delete_done_fn done, void *arg)
{
	struct fcall *f = record(F_SERVICE, name);

	(void)impl;
	(void)pod;
	snprintf(f->image, sizeof(f->image), "%s", owner_uid);
	f->remove_done = done;
	f->arg = arg;
}

static int count_op(enum fop op)
{
	int n = 0;

	for (int i = 0; i < nfcalls; i++)
		n += fcalls[i].op == op;
	return n;
}

/* The i-th backend call of kind op (0-based), or NULL. */
static struct fcall *nth(enum fop op, int i)
{
	for (int k = 0; k < nfcalls; k++)
		if (fcalls[k].op == op && i-- == 0)
			return &fcalls[k];
	return NULL;
}

/* ------------------------------------------------- the client side (h2) */

struct resp {
	char grpc_status[8];
	char grpc_message[512];	/* percent-decoded */
	uint8_t data[8192];
	size_t len;
	int closed;
};

static struct resp resps[64];

static struct resp *resp_of(int32_t id)
{
	return &resps[(id - 1) / 2 % 64];
}

static int unhex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void percent_decode(char *dst, size_t dsz, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < dsz; i++) {
		if (s[i] == '%' && i + 2 < n && unhex_digit(s[i + 1]) >= 0 && unhex_digit(s[i + 2]) >= 0) {
			dst[o++] = (char)(unhex_digit(s[i + 1]) << 4 | unhex_digit(s[i + 2]));
			i += 2;
		} else {
			dst[o++] = s[i];
		}
	}
	dst[o] = '\0';
}

static int cl_headers(h2_conn *c, void *user, int32_t id, void *su, const h2_headers *h)
{
	struct resp *r = resp_of(id);

	(void)c;
	(void)user;
	(void)su;
	for (size_t i = 0; i < h->nfields; i++) {
		const h2_field *f = &h->fields[i];
		if (f->name_len == 11 && memcmp(f->name, "grpc-status", 11) == 0)
			percent_decode(r->grpc_status, sizeof(r->grpc_status), f->value, f->value_len);
		else if (f->name_len == 12 && memcmp(f->name, "grpc-message", 12) == 0)
			percent_decode(r->grpc_message, sizeof(r->grpc_message), f->value, f->value_len);
	}
	return 0;
}

static int cl_data(h2_conn *c, void *user, int32_t id, void *su, const uint8_t *d, size_t len, int end)
{
	struct resp *r = resp_of(id);

	(void)user;
	(void)su;
	(void)end;
	if (r->len + len <= sizeof(r->data)) {
		memcpy(r->data + r->len, d, len);
		r->len += len;
	}
	h2_conn_consume(c, id, len);
	return 0;
}

static void cl_close(h2_conn *c, void *user, int32_t id, void *su, uint32_t code, int remote)
{
	(void)c;
	(void)user;
	(void)su;
	(void)code;
	(void)remote;
	resp_of(id)->closed = 1;
}

static const h2_callbacks cl_cbs = { .on_headers = cl_headers, .on_data = cl_data, .on_stream_close = cl_close };

/* ------------------------------------------------------------ the world */

struct env {
	io_loop *loop;
	grpc_server *server;
	worker_service *svc;
	grpc_sconn *sc;
	h2_conn *cl;
};

static struct worker_service_opts default_opts(void)
{
	struct worker_service_opts o;

	memset(&o, 0, sizeof(o));
	o.default_image = IMG;
	o.node_selector = "pool=a";
	o.create_timeout_ms = 600000;
	o.delete_timeout_ms = 300000;
	o.max_replicas = 1000;
	return o;
}

/* Moves bytes both ways until neither side has output. */
static int feed_may_fail;	/* a checked allocation made to fail may fail a connection */

static void shuttle(struct env *e)
{
	for (int rounds = 0; rounds < 100; rounds++) {
		size_t n, moved = 0;
		const uint8_t *p = h2_conn_pending(e->cl, &n);
		if (n) {
			CHECK(grpc_server_conn_feed(e->sc, p, n) >= 0 || feed_may_fail);
			h2_conn_consumed(e->cl, n);
			moved += n;
		}
		p = grpc_server_conn_pending(e->sc, &n);
		if (n) {
			CHECK(h2_conn_feed(e->cl, p, n) >= 0 || feed_may_fail);
			grpc_server_conn_consumed(e->sc, n);
			moved += n;
		}
		if (!moved)
			return;
	}
}

/* One loop turn at the current fake time (timers, the deferred sweep), then the bytes. */
static void settle(struct env *e)
{
	CHECK_EQ_INT(io_loop_run_once(e->loop, 0), 0);
	shuttle(e);
}

static void advance_ms(struct env *e, int64_t ms)
{
	fake_us += ms * 1000;
	settle(e);
}

static void env_open_opts(struct env *e, const struct worker_service_opts *o, int synced)
{
	struct worker_backend b;
	grpc_server_opts go;

	memset(e, 0, sizeof(*e));
	memset(resps, 0, sizeof(resps));
	memset(&b, 0, sizeof(b));	/* hooks it does not set (event) stay NULL */
	nfcalls = 0;
	b.create = fake_create;
	b.remove = fake_remove;
	b.diagnose = fake_diagnose;
	b.patch = fake_patch;
	b.create_service = fake_create_service;
	b.impl = NULL;
	b.namespace_ = NS;
	e->loop = io_loop_new();
	io_loop_set_clock(e->loop, fake_clock, NULL);
	grpc_server_opts_default(&go);
	e->server = grpc_server_new(e->loop, &go);
	e->svc = worker_service_new(e->loop, e->server, &b, o);
	e->sc = grpc_server_conn_new_detached(e->server);
	e->cl = h2_conn_new(H2_ROLE_CLIENT, NULL, &cl_cbs, NULL);
	CHECK(e->loop && e->server && e->svc && e->sc && e->cl);
	if (synced)
		worker_service_on_synced(e->svc);
	shuttle(e);
}

static void env_open(struct env *e)
{
	struct worker_service_opts o = default_opts();

	env_open_opts(e, &o, 1);
}

static void env_close(struct env *e)
{
	settle(e);
	h2_conn_free(e->cl);
	grpc_server_conn_free(e->sc);
	worker_service_free(e->svc);
	grpc_server_free(e->server);
	io_loop_free(e->loop);
}

/* Starts a call; timeout_ms > 0 sends grpc-timeout.  Returns the stream id. */
static int32_t call_ex(struct env *e, const char *method, const ProtobufCMessage *req, int64_t timeout_ms)
{
	h2_field f[3] = { H2_FIELD_LIT("content-type", "application/grpc"), H2_FIELD_LIT("te", "trailers") };
	char path[128], tmo[32];
	uint8_t body[1024];
	size_t len = protobuf_c_message_get_packed_size(req), n = 2;
	int32_t id;

	CHECK(len + 5 <= sizeof(body));
	body[0] = 0;
	body[1] = (uint8_t)(len >> 24);
	body[2] = (uint8_t)(len >> 16);
	body[3] = (uint8_t)(len >> 8);
	body[4] = (uint8_t)len;
	protobuf_c_message_pack(req, body + 5);
	snprintf(path, sizeof(path), "/%s/%s", CPLANE_SERVICE, method);
	if (timeout_ms > 0) {
		snprintf(tmo, sizeof(tmo), "%lldm", (long long)timeout_ms);
		f[n].name = "grpc-timeout";
		f[n].name_len = 12;
		f[n].value = tmo;
		f[n].value_len = strlen(tmo);
		f[n].flags = 0;
		n++;
	}
	id = h2_submit_request(e->cl, "POST", "http", "x", path, f, n, 0, NULL);
	CHECK(id > 0 || feed_may_fail);
	if (id <= 0)
		return id;
	h2_submit_data(e->cl, id, body, len + 5, 1);
	shuttle(e);
	return id;
}

static int32_t create_ex(struct env *e, const char *name, int32_t replicas, const char *image, int64_t timeout_ms)
{
	Cplane__V1__CreateClusterRequest r = CPLANE__V1__CREATE_CLUSTER_REQUEST__INIT;

	r.name = (char *)name;
	r.replicas = replicas;
	r.image = (char *)image;
	return call_ex(e, "CreateCluster", &r.base, timeout_ms);
}

static int32_t create(struct env *e, const char *name, int32_t replicas, const char *image)
{
	return create_ex(e, name, replicas, image, 0);
}

static int32_t delete_(struct env *e, const char *name)
{
	Cplane__V1__DeleteClusterRequest r = CPLANE__V1__DELETE_CLUSTER_REQUEST__INIT;

	r.name = (char *)name;
	return call_ex(e, "DeleteCluster", &r.base, 0);
}

static int32_t get(struct env *e, const char *name)
{
	Cplane__V1__GetClusterRequest r = CPLANE__V1__GET_CLUSTER_REQUEST__INIT;

	r.name = (char *)name;
	return call_ex(e, "GetCluster", &r.base, 0);
}

static int32_t list(struct env *e)
{
	Cplane__V1__ListClustersRequest r = CPLANE__V1__LIST_CLUSTERS_REQUEST__INIT;

	return call_ex(e, "ListClusters", &r.base, 0);
}

static int32_t watch(struct env *e, const char *name)
{
	Cplane__V1__WatchClusterRequest r = CPLANE__V1__WATCH_CLUSTER_REQUEST__INIT;

	r.name = (char *)name;
	return call_ex(e, "WatchCluster", &r.base, 0);
}

/* The call's gRPC status, or -1 while it is still open. */
static int status(int32_t id)
{
	struct resp *r = resp_of(id);

	return r->closed && r->grpc_status[0] ? atoi(r->grpc_status) : -1;
}

static const char *message(int32_t id)
{
	return resp_of(id)->grpc_message;
}

/* The k-th message of the response (0-based): a pointer to its bytes and length, or NULL. */
static const uint8_t *msg_at(int32_t id, int k, size_t *len)
{
	struct resp *r = resp_of(id);
	size_t off = 0;

	while (off + 5 <= r->len) {
		size_t n = (size_t)r->data[off + 1] << 24 | (size_t)r->data[off + 2] << 16 |
		    (size_t)r->data[off + 3] << 8 | r->data[off + 4];
		if (off + 5 + n > r->len)
			return NULL;
		if (k-- == 0) {
			*len = n;
			return r->data + off + 5;
		}
		off += 5 + n;
	}
	return NULL;
}

static int nmsgs(int32_t id)
{
	size_t len;
	int k = 0;

	while (msg_at(id, k, &len))
		k++;
	return k;
}

static Cplane__V1__CreateClusterResponse *create_resp(int32_t id)
{
	size_t len;
	const uint8_t *p = msg_at(id, 0, &len);

	return p ? cplane__v1__create_cluster_response__unpack(NULL, len, p) : NULL;
}

static int delete_result(int32_t id)
{
	size_t len;
	const uint8_t *p = msg_at(id, 0, &len);
	Cplane__V1__DeleteClusterResponse *m = p ? cplane__v1__delete_cluster_response__unpack(NULL, len, p) : NULL;
	int r = m ? (int)m->result : -1;

	if (m)
		cplane__v1__delete_cluster_response__free_unpacked(m, NULL);
	return r;
}

static Cplane__V1__Cluster *cluster_msg(int32_t id, int k)
{
	size_t len;
	const uint8_t *p = msg_at(id, k, &len);

	return p ? cplane__v1__cluster__unpack(NULL, len, p) : NULL;
}

/* Checks a create response's result, and its cluster's phase and ready replicas. */
static void check_create_resp(int32_t id, int result, int phase, int32_t ready)
{
	Cplane__V1__CreateClusterResponse *m = create_resp(id);

	CHECK(m != NULL);
	if (m == NULL)
		return;
	CHECK_EQ_INT(m->result, result);
	CHECK(m->cluster != NULL);
	if (m->cluster) {
		CHECK_EQ_INT(m->cluster->phase, phase);
		CHECK_EQ_INT(m->cluster->ready_replicas, ready);
	}
	cplane__v1__create_cluster_response__free_unpacked(m, NULL);
}

static worker_service_stats stats_of(const struct env *e)
{
	worker_service_stats st;

	worker_service_get_stats(e->svc, &st);
	return st;
}

static uint64_t calls(const struct env *e, enum worker_method m, int code)
{
	return stats_of(e).calls[m][code];
}

/* ------------------------------------------------------ the informer feed */

enum dstate { D_ROLLING, D_FAILED, D_TERMINATING, D_UNMANAGED };

/* The informer shows a Deployment: available of replicas up (READY when equal and D_ROLLING). */
static void seen(struct env *e, const char *name, int32_t replicas, int32_t available, const char *image,
    enum dstate st)
{
	k8s_deployment d;

	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "%s", name);
	snprintf(d.uid, sizeof(d.uid), "uid-%s", name);
	snprintf(d.image, sizeof(d.image), "%s", image);
	d.managed = st != D_UNMANAGED;
	d.deleting = st == D_TERMINATING;
	d.generation = d.observed_generation = 1;
	d.created_unix_ms = 1700000000000;
	d.replicas = replicas;
	d.ready_replicas = d.available_replicas = d.updated_replicas = available;
	d.available.status = available == replicas ? K8S_COND_TRUE : K8S_COND_FALSE;
	if (st == D_FAILED) {
		d.progressing.status = K8S_COND_FALSE;
		snprintf(d.progressing.reason, sizeof(d.progressing.reason), "ProgressDeadlineExceeded");
		snprintf(d.progressing.message, sizeof(d.progressing.message), "ReplicaSet has timed out progressing.");
	}
	worker_service_on_upsert(e->svc, &d);
	settle(e);
}

static void gone(struct env *e, const char *name)
{
	worker_service_on_delete(e->svc, name);
	settle(e);
}

/* ------------------------------------------ completing the backend's work */

static void api_error(k8s_error *err, int kind, int code, const char *reason, const char *msg)
{
	k8s_error_clear(err);
	if (kind != K8S_OK)
		k8s_error_set(err, kind, "%s", msg);
	err->code = code;
	snprintf(err->reason, sizeof(err->reason), "%s", reason);
}

static void answer(struct env *e, struct fcall *f, int kind, int code, const char *reason, const char *msg)
{
	k8s_error err;

	CHECK(f != NULL && !f->completed);
	if (f == NULL || f->completed)
		return;
	api_error(&err, kind, code, reason, msg);
	f->completed = 1;
	if (f->op == F_CREATE)
		f->create_done(f->arg, &err, NULL);
	else if (f->op == F_PATCH) {
		k8s_deployment d;

		memset(&d, 0, sizeof(d));
		snprintf(d.name, sizeof(d.name), "%s", f->name);
		d.generation = f->generation;
		f->create_done(f->arg, &err, kind == K8S_OK ? &d : NULL);
	} else if (f->op == F_REMOVE || f->op == F_SERVICE)
		f->remove_done(f->arg, &err);
	else
		f->diag_done(f->arg, &err, kind == K8S_OK ? msg : NULL);
	settle(e);
}

static void answer_ok(struct env *e, struct fcall *f)
{
	answer(e, f, K8S_OK, 0, "", "");
}

/* ================================================= the semantics table */

/* Create | absent | create the Deployment, block until READY → SUCCESS */
static double get_latency_sum(const struct env *e)
{
	return stats_of(e).latency_sum_s[WM_GET];
}

static uint64_t get_latency_count(const struct env *e)
{
	worker_service_stats st = stats_of(e);
	uint64_t n = 0;

	for (size_t b = 0; b <= WORKER_LATENCY_BUCKETS; b++)
		n += st.latency_buckets[WM_GET][b];
	return n;
}

/*
 * A call's latency runs from the turn that read it to the end of the turn
 * that answered it (when its answer is written): the clock is read once for
 * all of a turn's calls.  The stats count this turn's as if it ended now.
 */
static void test_latency_counted_when_the_turn_ends(void)
{
	struct env e;

	env_open(&e);
	seen(&e, "a", 1, 1, "nginx", D_ROLLING);
	for (int i = 0; i < 50; i++)
		CHECK_EQ_INT(status(get(&e, "a")), GRPC_OK);
	CHECK_EQ_INT(calls(&e, WM_GET, GRPC_OK), 50);
	CHECK_EQ_INT(get_latency_count(&e), 50);
	CHECK(get_latency_sum(&e) < 1e-9);
	/* the turn goes on for 2 ms: so does every answered call's latency */
	fake_us += 2000;
	CHECK(get_latency_sum(&e) > 0.0999 && get_latency_sum(&e) < 0.1001);
	CHECK_EQ_INT(stats_of(&e).latency_buckets[WM_GET][1], 50);	/* (1 ms, 5 ms] */
	settle(&e);	/* the turn ends: counted for good */
	fake_us += 10000;
	CHECK(get_latency_sum(&e) > 0.0999 && get_latency_sum(&e) < 0.1001);
	/* a turn of more calls than are kept: the first ones end when the list fills, all are counted */
	for (int i = 0; i < 300; i++)
		CHECK_EQ_INT(status(get(&e, "a")), GRPC_OK);
	fake_us += 1000;
	settle(&e);
	CHECK_EQ_INT(calls(&e, WM_GET, GRPC_OK), 350);
	CHECK_EQ_INT(get_latency_count(&e), 350);
	env_close(&e);
}

static void test_create_absent_blocks_until_ready(void)
{
	struct env e;
	int32_t id;

	env_open(&e);
	id = create(&e, "demo", 3, IMG);
	CHECK_EQ_INT(status(id), -1);
	CHECK_EQ_INT(nfcalls, 1);
	CHECK_EQ_INT(fcalls[0].op, F_CREATE);
	CHECK_EQ_STR(fcalls[0].name, "demo");
	CHECK_EQ_INT(fcalls[0].replicas, 3);
	CHECK_EQ_STR(fcalls[0].image, IMG);
	CHECK_EQ_STR(fcalls[0].node_selector, "pool=a");
	CHECK_EQ_INT(fcalls[0].progress_deadline_s, 600);
	answer_ok(&e, &fcalls[0]);
	CHECK_EQ_INT(status(id), -1);
	seen(&e, "demo", 3, 1, IMG, D_ROLLING);
	CHECK_EQ_INT(status(id), -1);
	advance_ms(&e, 1500);
	seen(&e, "demo", 3, 3, IMG, D_ROLLING);
	CHECK_EQ_INT(status(id), GRPC_OK);
	check_create_resp(id, CPLANE__V1__RESULT__SUCCESS, CPLANE__V1__PHASE__READY, 3);
	CHECK_EQ_INT(nfcalls, 1);
	CHECK_EQ_INT(calls(&e, WM_CREATE, GRPC_OK), 1);
	/* the latency runs on the injected clock: 1.5 s */
	CHECK(stats_of(&e).latency_sum_s[WM_CREATE] > 1.49 &&
	    stats_of(&e).latency_sum_s[WM_CREATE] < 1.51);
	CHECK_EQ_INT(stats_of(&e).waiting_calls, 0);
	env_close(&e);
}

/* Create | absent, no image given | the worker's default image */
static void test_create_default_image(void)
{
	struct env e;
	int32_t id;

	env_open(&e);
	id = create(&e, "demo", 1, "");
	CHECK_EQ_INT(count_op(F_CREATE), 1);
	CHECK_EQ_STR(fcalls[0].image, IMG);
	CHECK_EQ_INT(status(id), -1);
	env_close(&e);
}

/* Create | CREATING, same replicas+image | IN_PROGRESS at once (the first caller keeps waiting) */
static void test_create_creating_same_spec_in_progress(void)
{
	struct env e;
	int32_t first, second;

	env_open(&e);
	first = create(&e, "demo", 3, IMG);
	second = create(&e, "demo", 3, IMG);
	CHECK_EQ_INT(status(second), GRPC_OK);
	check_create_resp(second, CPLANE__V1__RESULT__IN_PROGRESS, CPLANE__V1__PHASE__CREATING, 0);
	CHECK_EQ_INT(status(first), -1);
	CHECK_EQ_INT(count_op(F_CREATE), 1);
	answer_ok(&e, &fcalls[0]);
	seen(&e, "demo", 3, 3, IMG, D_ROLLING);
	CHECK_EQ_INT(status(first), GRPC_OK);
	check_create_resp(first, CPLANE__V1__RESULT__SUCCESS, CPLANE__V1__PHASE__READY, 3);
	env_close(&e);
}

/* Create | READY, same replicas+image | SUCCESS at once (idempotent) */
static void test_create_ready_same_spec_success(void)
{
	struct env e;
	int32_t id;

	env_open(&e);
	seen(&e, "demo", 2, 2, IMG, D_ROLLING);
	id = create(&e, "demo", 2, IMG);
	CHECK_EQ_INT(status(id), GRPC_OK);
	check_create_resp(id, CPLANE__V1__RESULT__SUCCESS, CPLANE__V1__PHASE__READY, 2);
	CHECK_EQ_INT(nfcalls, 0);
	env_close(&e);
}

/* Create | CREATING or READY, other spec | ALREADY_EXISTS naming the spec it has */
static void test_create_other_spec_already_exists(void)
{
	struct env e;
	int32_t id;

	env_open(&e);
	create(&e, "demo", 3, IMG);
	id = create(&e, "demo", 4, IMG);
	CHECK_EQ_INT(status(id), GRPC_ALREADY_EXISTS);
	CHECK_EQ_STR(message(id), "cluster demo already exists with replicas=3 image=" IMG);
	seen(&e, "ready", 2, 2, IMG, D_ROLLING);
	id = create(&e, "ready", 2, IMG2);
	CHECK_EQ_INT(status(id), GRPC_ALREADY_EXISTS);
	CHECK_EQ_STR(message(id), "cluster ready already exists with replicas=2 image=" IMG);
	CHECK_EQ_INT(count_op(F_CREATE), 1);
	CHECK_EQ_INT(calls(&e, WM_CREATE, GRPC_ALREADY_EXISTS), 2);
	env_close(&e);
}

/* Create | FAILED | FAILED_PRECONDITION "failed; delete it first" */
static void test_create_failed_precondition(void)
{
	struct env e;
	int32_t id;

	env_open(&e);
	seen(&e, "demo", 3, 1, IMG, D_FAILED);
	id = create(&e, "demo", 3, IMG);
	CHECK_EQ_INT(status(id), GRPC_FAILED_PRECONDITION);
	CHECK_EQ_STR(message(id), "cluster demo failed (ReplicaSet has timed out progressing.); delete it first");
	CHECK_EQ_INT(nfcalls, 0);
	env_close(&e);
}

/* Create | DELETING | FAILED_PRECONDITION "being deleted" */
static void test_create_deleting_precondition(void)
{
	struct env e;
	int32_t id;

	env_open(&e);
	seen(&e, "demo", 3, 3, IMG, D_TERMINATING);
	id = create(&e, "demo", 3, IMG);
	CHECK_EQ_INT(status(id), GRPC_FAILED_PRECONDITION);
	CHECK_EQ_STR(message(id), "cluster demo is being deleted");
	CHECK_EQ_INT(nfcalls, 0);
	env_close(&e);
}

/* Delete | absent | NOT_FOUND */
static void test_delete_absent_not_found(void)
{
	struct env e;
	int32_t id;

	env_open(&e);
	id = delete_(&e, "demo");
	CHECK_EQ_INT(status(id), GRPC_NOT_FOUND);
	CHECK_EQ_STR(message(id), "cluster demo not found");
	CHECK_EQ_INT(nfcalls, 0);
	env_close(&e);
}

/* Delete | READY | delete, block until the Deployment is gone → SUCCESS */
static void test_delete_ready_blocks_until_gone(void)
{
	struct env e;
	int32_t id;

	env_open(&e);
	seen(&e, "demo", 2, 2, IMG, D_ROLLING);
	id = delete_(&e, "demo");
	CHECK_EQ_INT(status(id), -1);
	CHECK_EQ_INT(nfcalls, 1);
	CHECK_EQ_INT(fcalls[0].op, F_REMOVE);
	CHECK_EQ_STR(fcalls[0].name, "demo");
	answer_ok(&e, &fcalls[0]);
	CHECK_EQ_INT(status(id), -1);
	seen(&e, "demo", 2, 1, IMG, D_TERMINATING);
	CHECK_EQ_INT(status(id), -1);
	gone(&e, "demo");
	CHECK_EQ_INT(status(id), GRPC_OK);
	CHECK_EQ_INT(delete_result(id), CPLANE__V1__RESULT__SUCCESS);
	CHECK_EQ_INT(calls(&e, WM_DELETE, GRPC_OK), 1);
	/* the entry is dropped at the end of the turn */
	CHECK_EQ_INT(cluster_table_count(worker_service_table(e.svc)), 0);
	env_close(&e);
}

/* Delete | CREATING | delete, block until gone → SUCCESS; waiting Creates end ABORTED */
static void test_delete_creating_aborts_waiting_create(void)
{
	struct env e;
	int32_t cr, del;

	env_open(&e);
	cr = create(&e, "demo", 3, IMG);
	answer_ok(&e, nth(F_CREATE, 0));
	seen(&e, "demo", 3, 1, IMG, D_ROLLING);
	del = delete_(&e, "demo");
	CHECK_EQ_INT(status(cr), GRPC_ABORTED);
	CHECK_EQ_STR(message(cr), "cluster demo is being deleted");
	CHECK_EQ_INT(count_op(F_REMOVE), 1);
	answer_ok(&e, nth(F_REMOVE, 0));
	gone(&e, "demo");
	CHECK_EQ_INT(status(del), GRPC_OK);
	CHECK_EQ_INT(delete_result(del), CPLANE__V1__RESULT__SUCCESS);
	env_close(&e);
}

/* Delete | FAILED | delete, block until gone → SUCCESS */
static void test_delete_failed_blocks_until_gone(void)
{
	struct env e;
	int32_t id;

	env_open(&e);
	seen(&e, "demo", 3, 0, IMG, D_FAILED);
	id = delete_(&e, "demo");
	CHECK_EQ_INT(count_op(F_REMOVE), 1);
	answer_ok(&e, nth(F_REMOVE, 0));
	CHECK_EQ_INT(status(id), -1);
	gone(&e, "demo");
	CHECK_EQ_INT(status(id), GRPC_OK);
	CHECK_EQ_INT(delete_result(id), CPLANE__V1__RESULT__SUCCESS);
	env_close(&e);
}

/* Delete | DELETING | IN_PROGRESS at once */
static void test_delete_deleting_in_progress(void)
{
	struct env e;
	int32_t id;

	env_open(&e);
	seen(&e, "demo", 3, 3, IMG, D_TERMINATING);
	id = delete_(&e, "demo");
	CHECK_EQ_INT(status(id), GRPC_OK);
	CHECK_EQ_INT(delete_result(id), CPLANE__V1__RESULT__IN_PROGRESS);
	CHECK_EQ_INT(nfcalls, 0);
	env_close(&e);
}

/* Get | any / absent | the Cluster / NOT_FOUND */
static void test_get_present_and_absent(void)
{
	struct env e;
	Cplane__V1__Cluster *m;
	int32_t id;

	env_open(&e);
	seen(&e, "demo", 3, 2, IMG, D_ROLLING);
	id = get(&e, "demo");
	CHECK_EQ_INT(status(id), GRPC_OK);
	m = cluster_msg(id, 0);
	CHECK(m != NULL);
	if (m) {
		CHECK_EQ_STR(m->name, "demo");
		CHECK_EQ_INT(m->replicas, 3);
		CHECK_EQ_INT(m->ready_replicas, 2);
		CHECK_EQ_INT(m->phase, CPLANE__V1__PHASE__CREATING);
		CHECK_EQ_STR(m->message, "2/3 replicas available");
		CHECK_EQ_STR(m->image, IMG);
		CHECK_EQ_INT(m->created_unix_ms, 1700000000000);
		cplane__v1__cluster__free_unpacked(m, NULL);
	}
	id = get(&e, "nope");
	CHECK_EQ_INT(status(id), GRPC_NOT_FOUND);
	CHECK_EQ_STR(message(id), "cluster nope not found");
	CHECK_EQ_INT(nfcalls, 0);
	env_close(&e);
}

/* List | — | every cluster this worker manages, sorted by name */
static void test_list_sorted_managed_only(void)
{
	struct env e;
	Cplane__V1__ListClustersResponse *m;
	const uint8_t *p;
	size_t len;
	int32_t id;

	env_open(&e);
	seen(&e, "bravo", 1, 1, IMG, D_ROLLING);
	seen(&e, "alpha", 2, 0, IMG, D_FAILED);
	seen(&e, "other", 1, 1, IMG, D_UNMANAGED);
	seen(&e, "charlie", 1, 1, IMG, D_TERMINATING);
	create(&e, "delta", 1, IMG);	/* CREATING before the POST is answered */
	id = list(&e);
	CHECK_EQ_INT(status(id), GRPC_OK);
	p = msg_at(id, 0, &len);
	m = p ? cplane__v1__list_clusters_response__unpack(NULL, len, p) : NULL;
	CHECK(m != NULL);
	if (m) {
		static const char *const names[] = { "alpha", "bravo", "charlie", "delta" };
		static const int phases[] = { CPLANE__V1__PHASE__FAILED, CPLANE__V1__PHASE__READY,
			CPLANE__V1__PHASE__DELETING, CPLANE__V1__PHASE__CREATING };
		CHECK_EQ_INT(m->n_clusters, 4);
		for (size_t i = 0; i < m->n_clusters && i < 4; i++) {
			CHECK_EQ_STR(m->clusters[i]->name, names[i]);
			CHECK_EQ_INT(m->clusters[i]->phase, phases[i]);
		}
		if (m->n_clusters == 4)
			CHECK_EQ_STR(m->clusters[3]->message, "creating the Deployment");
		cplane__v1__list_clusters_response__free_unpacked(m, NULL);
	}
	env_close(&e);
}

/* Watch | present | the Cluster now, then on every change, ending after DELETED; NOT_FOUND if absent */
static void test_watch_until_deleted(void)
{
	struct env e;
	Cplane__V1__Cluster *m;
	int32_t id, absent;

	env_open(&e);
	absent = watch(&e, "demo");
	CHECK_EQ_INT(status(absent), GRPC_NOT_FOUND);
	CHECK_EQ_STR(message(absent), "cluster demo not found");
	seen(&e, "demo", 2, 1, IMG, D_ROLLING);
	id = watch(&e, "demo");
	CHECK_EQ_INT(nmsgs(id), 1);
	seen(&e, "demo", 2, 1, IMG, D_ROLLING);	/* nothing the client sees changed */
	CHECK_EQ_INT(nmsgs(id), 1);
	seen(&e, "demo", 2, 2, IMG, D_ROLLING);
	CHECK_EQ_INT(nmsgs(id), 2);
	seen(&e, "demo", 2, 2, IMG, D_TERMINATING);
	CHECK_EQ_INT(nmsgs(id), 3);
	CHECK_EQ_INT(status(id), -1);
	gone(&e, "demo");
	CHECK_EQ_INT(nmsgs(id), 4);
	CHECK_EQ_INT(status(id), GRPC_OK);
	{
		static const int phases[] = { CPLANE__V1__PHASE__CREATING, CPLANE__V1__PHASE__READY,
			CPLANE__V1__PHASE__DELETING, CPLANE__V1__PHASE__DELETED };
		static const int ready[] = { 1, 2, 2, 0 };
		for (int k = 0; k < 4; k++) {
			m = cluster_msg(id, k);
			CHECK(m != NULL);
			if (m == NULL)
				continue;
			CHECK_EQ_INT(m->phase, phases[k]);
			CHECK_EQ_INT(m->ready_replicas, ready[k]);
			CHECK_EQ_STR(m->image, IMG);	/* the final DELETED snapshot names the image too */
			cplane__v1__cluster__free_unpacked(m, NULL);
		}
	}
	CHECK_EQ_INT(nfcalls, 0);
	env_close(&e);
}

/* ============================================ waiting, failure, errors */

/* A waiting Create whose Deployment turns FAILED ends DEADLINE_EXCEEDED with the diagnosis. */
static void test_create_turns_failed_with_diagnosis(void)
{
	struct env e;
	int32_t id;
	struct fcall *d;

	env_open(&e);
	id = create(&e, "demo", 3, IMG);
	answer_ok(&e, nth(F_CREATE, 0));
	seen(&e, "demo", 3, 1, IMG, D_FAILED);
	CHECK_EQ_INT(status(id), -1);
	d = nth(F_DIAGNOSE, 0);
	CHECK(d != NULL);
	if (d) {
		CHECK_EQ_STR(d->name, "demo");
		CHECK_EQ_INT(d->replicas, 3);
		CHECK_EQ_INT(d->available, 1);
	}
	answer(&e, d, K8S_OK, 0, "", "pod demo-1: Unschedulable: 0/1 nodes are available");
	CHECK_EQ_INT(status(id), GRPC_DEADLINE_EXCEEDED);
	CHECK_EQ_STR(message(id), "cluster demo failed: ReplicaSet has timed out progressing.; 1/3 available; "
	    "pod demo-1: Unschedulable: 0/1 nodes are available");
	env_close(&e);
}

/* Waiting ends at --create-timeout with DEADLINE_EXCEEDED and the pods' diagnosis. */
static void test_create_timeout_diagnosis(void)
{
	struct env e;
	struct worker_service_opts o = default_opts();
	int32_t id;

	o.create_timeout_ms = 10000;
	env_open_opts(&e, &o, 1);
	id = create(&e, "demo", 3, IMG);
	answer_ok(&e, nth(F_CREATE, 0));
	seen(&e, "demo", 3, 0, IMG, D_ROLLING);
	advance_ms(&e, 9999);
	CHECK_EQ_INT(count_op(F_DIAGNOSE), 0);
	advance_ms(&e, 1);
	CHECK_EQ_INT(count_op(F_DIAGNOSE), 1);
	CHECK_EQ_INT(status(id), -1);
	answer(&e, nth(F_DIAGNOSE, 0), K8S_ERR_TIMEOUT, 0, "", "no answer");
	CHECK_EQ_INT(status(id), GRPC_DEADLINE_EXCEEDED);
	CHECK_EQ_STR(message(id), "cluster demo not ready after 10s: the pods could not be listed: no answer");
	env_close(&e);
}

/* A diagnosis that does not come back in time: the answer leaves without the pods. */
static void test_diagnosis_never_answers(void)
{
	struct env e;
	struct worker_service_opts o = default_opts();
	int32_t id;

	o.delete_timeout_ms = 5000;
	env_open_opts(&e, &o, 1);
	seen(&e, "demo", 2, 2, IMG, D_ROLLING);
	id = delete_(&e, "demo");
	answer_ok(&e, nth(F_REMOVE, 0));
	seen(&e, "demo", 2, 1, IMG, D_TERMINATING);
	advance_ms(&e, 5000);
	CHECK_EQ_INT(count_op(F_DIAGNOSE), 1);
	CHECK_EQ_INT(nth(F_DIAGNOSE, 0)->timeout_ms, 1500);
	advance_ms(&e, 1519);
	CHECK_EQ_INT(status(id), -1);
	advance_ms(&e, 1);
	CHECK_EQ_INT(status(id), GRPC_DEADLINE_EXCEEDED);
	CHECK_EQ_STR(message(id), "cluster demo not gone after 5s: 1/2 replicas available (the pods could not be read "
	    "in time)");
	/* its late answer finds nobody */
	answer(&e, nth(F_DIAGNOSE, 0), K8S_OK, 0, "", "late");
	env_close(&e);
}

/* The client's deadline is nearer: the answer leaves a margin (10%, at most 1 s) before it. */
static void test_client_deadline_margin(void)
{
	struct env e;
	int32_t id;

	env_open(&e);
	id = create_ex(&e, "demo", 3, IMG, 2000);
	answer_ok(&e, nth(F_CREATE, 0));
	advance_ms(&e, 1799);
	CHECK_EQ_INT(count_op(F_DIAGNOSE), 0);
	advance_ms(&e, 1);
	/* 200 ms left, minus 50 for the way back */
	CHECK_EQ_INT(count_op(F_DIAGNOSE), 1);
	CHECK_EQ_INT(nth(F_DIAGNOSE, 0)->timeout_ms, 150);
	answer(&e, nth(F_DIAGNOSE, 0), K8S_OK, 0, "", "");
	CHECK_EQ_INT(status(id), GRPC_DEADLINE_EXCEEDED);
	CHECK_EQ_STR(message(id), "cluster demo not ready after 2s: no pods observed");
	env_close(&e);
}

/* API errors map onto gRPC codes, the message naming the verb and namespace. */
static void test_create_api_errors(void)
{
	static const struct {
		int kind, http;
		const char *reason, *text;
		int code;
		const char *want;
	} rows[] = {
		{ K8S_ERR_API, 403, "Forbidden", "nope", GRPC_PERMISSION_DENIED,
		  "the worker's service account may not create deployments.apps in namespace " NS ": nope" },
		{ K8S_ERR_API, 401, "Unauthorized", "bad token", GRPC_UNAVAILABLE,
		  "the API server refused the worker's token: bad token" },
		{ K8S_ERR_API, 422, "Invalid", "spec.replicas: bad", GRPC_INVALID_ARGUMENT,
		  "the API server rejected the Deployment: spec.replicas: bad" },
		{ K8S_ERR_API, 503, "ServiceUnavailable", "later", GRPC_UNAVAILABLE,
		  "Kubernetes API server error 503 ServiceUnavailable: later" },
		{ K8S_ERR_CONNECT, 0, "", "connection refused", GRPC_UNAVAILABLE,
		  "Kubernetes API server unavailable (connect): connection refused" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct env e;
		int32_t id;

		env_open(&e);
		id = create(&e, "demo", 1, IMG);
		answer(&e, nth(F_CREATE, 0), rows[i].kind, rows[i].http, rows[i].reason, rows[i].text);
		CHECK_EQ_INT(status(id), rows[i].code);
		CHECK_EQ_STR(message(id), rows[i].want);
		/* nothing was made: the name is free again */
		CHECK_EQ_INT(status(get(&e, "demo")), GRPC_NOT_FOUND);
		env_close(&e);
	}
}

/* A DELETE refused: the Delete ends with the mapped code and the cluster is as before. */
static void test_delete_api_error(void)
{
	struct env e;
	int32_t id;

	env_open(&e);
	seen(&e, "demo", 1, 1, IMG, D_ROLLING);
	id = delete_(&e, "demo");
	answer(&e, nth(F_REMOVE, 0), K8S_ERR_API, 403, "Forbidden", "no");
	CHECK_EQ_INT(status(id), GRPC_PERMISSION_DENIED);
	CHECK_EQ_STR(message(id), "the worker's service account may not delete deployments.apps in namespace " NS
	    ": no");
	id = get(&e, "demo");
	CHECK_EQ_INT(status(id), GRPC_OK);
	{
		Cplane__V1__Cluster *m = cluster_msg(id, 0);
		CHECK(m && m->phase == CPLANE__V1__PHASE__READY);
		if (m)
			cplane__v1__cluster__free_unpacked(m, NULL);
	}
	env_close(&e);
}

/* Draining: new calls get UNAVAILABLE; a waiting one keeps waiting. */
static void test_draining(void)
{
	struct env e;
	int32_t waiting, id;

	env_open(&e);
	waiting = create(&e, "demo", 1, IMG);
	worker_service_drain(e.svc);
	id = get(&e, "demo");
	CHECK_EQ_INT(status(id), GRPC_UNAVAILABLE);
	CHECK_EQ_STR(message(id), "the worker is shutting down");
	CHECK_EQ_INT(status(waiting), -1);
	CHECK_EQ_INT(count_op(F_CREATE), 1);
	env_close(&e);
}

/* A cancelled call releases its waiter at once; the Deployment is left as it is. */
static void test_cancel_releases_waiter(void)
{
	struct env e;
	int32_t id;

	env_open(&e);
	id = create(&e, "demo", 3, IMG);
	answer_ok(&e, nth(F_CREATE, 0));
	CHECK_EQ_INT(stats_of(&e).waiting_calls, 1);
	h2_submit_rst_stream(e.cl, id, H2_CANCEL);
	settle(&e);
	CHECK_EQ_INT(stats_of(&e).waiting_calls, 0);
	CHECK_EQ_INT(calls(&e, WM_CREATE, GRPC_CANCELLED), 1);
	CHECK_EQ_INT(count_op(F_REMOVE), 0);
	/* the cluster stays; a later Create picks it up */
	seen(&e, "demo", 3, 3, IMG, D_ROLLING);
	id = create(&e, "demo", 3, IMG);
	CHECK_EQ_INT(status(id), GRPC_OK);
	check_create_resp(id, CPLANE__V1__RESULT__SUCCESS, CPLANE__V1__PHASE__READY, 3);
	CHECK_EQ_INT(count_op(F_CREATE), 1);
	env_close(&e);
}

/* ================================================== invalid input rules */

static void test_invalid_name(void)
{
	static const struct { const char *name, *want; } rows[] = {
		{ "", "name is required: a DNS-1123 label (1-63 characters of a-z, 0-9 and '-', starting and ending "
		      "with a letter or digit)" },
		{ "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234",
		  "name must be at most 63 characters (a DNS-1123 label)" },
		{ "Demo", "name must be a DNS-1123 label: only lower-case letters, digits and '-'" },
		{ "a_b", "name must be a DNS-1123 label: only lower-case letters, digits and '-'" },
		{ "-demo", "name must be a DNS-1123 label: it must start and end with a letter or digit" },
		{ "demo-", "name must be a DNS-1123 label: it must start and end with a letter or digit" },
	};
	struct env e;

	env_open(&e);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int32_t c = create(&e, rows[i].name, 1, IMG), d = delete_(&e, rows[i].name);
		CHECK_EQ_INT(status(c), GRPC_INVALID_ARGUMENT);
		CHECK_EQ_STR(message(c), rows[i].want);
		CHECK_EQ_INT(status(d), GRPC_INVALID_ARGUMENT);
		CHECK_EQ_STR(message(d), rows[i].want);
	}
	CHECK_EQ_INT(nfcalls, 0);
	env_close(&e);
}

static void test_invalid_replicas(void)
{
	struct env e;
	int32_t id;

	env_open(&e);
	id = create(&e, "demo", 0, IMG);
	CHECK_EQ_INT(status(id), GRPC_INVALID_ARGUMENT);
	CHECK_EQ_STR(message(id), "replicas must be between 1 and 1000 (--max-replicas), got 0");
	id = create(&e, "demo", 1001, IMG);
	CHECK_EQ_INT(status(id), GRPC_INVALID_ARGUMENT);
	CHECK_EQ_STR(message(id), "replicas must be between 1 and 1000 (--max-replicas), got 1001");
	id = create(&e, "demo", -3, IMG);
	CHECK_EQ_INT(status(id), GRPC_INVALID_ARGUMENT);
	CHECK_EQ_STR(message(id), "replicas must be between 1 and 1000 (--max-replicas), got -3");
	CHECK_EQ_INT(nfcalls, 0);
	env_close(&e);
}

static void test_invalid_image(void)
{
	static const struct { const char *image, *rule; } rows[] = {
		{ "Nginx", "repository path components must be lower-case letters and digits, separated by '.', '_', "
		           "'__' or '-'" },
		{ "nginx:", "a tag must be 1-128 characters" },
		{ "nginx:-x", "a tag may hold only letters, digits, '_', '.' and '-' (not first)" },
		{ "nginx@sha256", "a digest must look like @algorithm:hex" },
		{ "nginx@sha256:ABC", "a digest's hex part must be lower-case hexadecimal" },
		{ "bad_host.io:x/app", "the registry host is not a valid host[:port]" },
		{ "app/", "the repository path ends with '/'" },
		{ ":1", "the repository name is missing" },
	};
	struct env e;

	env_open(&e);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char want[512];
		int32_t id = create(&e, "demo", 1, rows[i].image);
		snprintf(want, sizeof(want), "image \"%s\" is not a valid image reference: %s", rows[i].image,
		    rows[i].rule);
		CHECK_EQ_INT(status(id), GRPC_INVALID_ARGUMENT);
		CHECK_EQ_STR(message(id), want);
	}
	CHECK_EQ_INT(nfcalls, 0);
	env_close(&e);
}

/* ============================================================== races */

/* create/create: another worker made it first (409): the waiting Create follows the informer's spec. */
static void test_race_create_create_other_worker(void)
{
	struct env e;
	int32_t same, other;

	env_open(&e);
	same = create(&e, "same", 2, IMG);
	other = create(&e, "other", 2, IMG);
	answer(&e, nth(F_CREATE, 0), K8S_ERR_API, 409, "AlreadyExists", "deployments.apps \"same\" already exists");
	answer(&e, nth(F_CREATE, 1), K8S_ERR_API, 409, "AlreadyExists", "deployments.apps \"other\" already exists");
	CHECK_EQ_INT(status(same), -1);
	CHECK_EQ_INT(status(other), -1);
	seen(&e, "same", 2, 2, IMG, D_ROLLING);
	CHECK_EQ_INT(status(same), GRPC_OK);
	check_create_resp(same, CPLANE__V1__RESULT__SUCCESS, CPLANE__V1__PHASE__READY, 2);
	seen(&e, "other", 5, 0, IMG2, D_ROLLING);
	CHECK_EQ_INT(status(other), GRPC_ALREADY_EXISTS);
	CHECK_EQ_STR(message(other), "cluster other already exists with replicas=5 image=" IMG2);
	CHECK_EQ_INT(count_op(F_CREATE), 2);
	CHECK_EQ_INT(count_op(F_REMOVE), 0);
	env_close(&e);
}

/* create/delete: a Delete while the POST is in flight waits for its answer before sending the DELETE. */
static void test_race_delete_during_post(void)
{
	struct env e;
	int32_t cr, del;

	env_open(&e);
	cr = create(&e, "demo", 2, IMG);
	del = delete_(&e, "demo");
	CHECK_EQ_INT(status(cr), GRPC_ABORTED);
	CHECK_EQ_STR(message(cr), "cluster demo is being deleted");
	CHECK_EQ_INT(count_op(F_REMOVE), 0);	/* a DELETE now could overtake the POST */
	answer_ok(&e, nth(F_CREATE, 0));
	CHECK_EQ_INT(count_op(F_REMOVE), 1);
	CHECK_EQ_INT(status(del), -1);
	answer_ok(&e, nth(F_REMOVE, 0));
	seen(&e, "demo", 2, 0, IMG, D_TERMINATING);
	gone(&e, "demo");
	CHECK_EQ_INT(status(del), GRPC_OK);
	CHECK_EQ_INT(delete_result(del), CPLANE__V1__RESULT__SUCCESS);
	env_close(&e);
}

/* The POST refused while a Delete waited: nothing was made, the Delete is done without a DELETE. */
static void test_race_delete_during_refused_post(void)
{
	struct env e;
	int32_t cr, del;

	env_open(&e);
	cr = create(&e, "demo", 2, IMG);
	del = delete_(&e, "demo");
	answer(&e, nth(F_CREATE, 0), K8S_ERR_API, 422, "Invalid", "bad");
	CHECK_EQ_INT(status(cr), GRPC_ABORTED);
	CHECK_EQ_INT(status(del), GRPC_OK);
	CHECK_EQ_INT(delete_result(del), CPLANE__V1__RESULT__SUCCESS);
	CHECK_EQ_INT(count_op(F_REMOVE), 0);
	env_close(&e);
}

/* Delete while the POST is unanswered (connection lost after sending): the DELETE still leaves. */
static void test_race_delete_while_post_unanswered(void)
{
	struct env e;
	int32_t cr, del;

	env_open(&e);
	cr = create(&e, "demo", 2, IMG);
	del = delete_(&e, "demo");
	answer(&e, nth(F_CREATE, 0), K8S_ERR_TIMEOUT, 0, "", "no answer");
	CHECK_EQ_INT(status(cr), GRPC_ABORTED);
	CHECK_EQ_INT(count_op(F_REMOVE), 1);	/* the POST may have made it */
	CHECK_EQ_INT(status(del), -1);
	answer(&e, nth(F_REMOVE, 0), K8S_ERR_API, 404, "NotFound", "deployments.apps \"demo\" not found");
	CHECK_EQ_INT(status(del), GRPC_OK);
	CHECK_EQ_INT(delete_result(del), CPLANE__V1__RESULT__SUCCESS);
	settle(&e);
	CHECK_EQ_INT(cluster_table_count(worker_service_table(e.svc)), 0);
	env_close(&e);
}

/* The POST got no answer and nobody deletes: the waiting Create ends UNAVAILABLE, the name is free. */
static void test_post_unanswered_alone(void)
{
	struct env e;
	int32_t cr;

	env_open(&e);
	cr = create(&e, "demo", 2, IMG);
	answer(&e, nth(F_CREATE, 0), K8S_ERR_TIMEOUT, 0, "", "no answer");
	CHECK_EQ_INT(status(cr), GRPC_UNAVAILABLE);
	CHECK_EQ_STR(message(cr), "Kubernetes API server unavailable (timeout): no answer");
	CHECK_EQ_INT(count_op(F_REMOVE), 0);
	env_close(&e);
}

/* A Deployment we deleted, gone unseen, and another one took the name: the Delete succeeds. */
static void test_race_replaced_after_delete(void)
{
	struct env e;
	int32_t del;
	int64_t list_start;

	env_open(&e);
	seen(&e, "demo", 1, 1, IMG, D_ROLLING);
	del = delete_(&e, "demo");
	answer_ok(&e, nth(F_REMOVE, 0));
	advance_ms(&e, 10);
	list_start = fake_us;
	advance_ms(&e, 10);
	/* a relist shows a Deployment of that name without deletionTimestamp: not ours */
	seen(&e, "demo", 1, 1, IMG2, D_ROLLING);
	CHECK_EQ_INT(status(del), -1);
	worker_service_on_listed(e.svc, list_start);
	settle(&e);
	CHECK_EQ_INT(status(del), GRPC_OK);
	CHECK_EQ_INT(delete_result(del), CPLANE__V1__RESULT__SUCCESS);
	/* a list that began before our DELETE was answered proves nothing */
	del = delete_(&e, "demo");
	worker_service_on_listed(e.svc, list_start);
	settle(&e);
	CHECK_EQ_INT(status(del), -1);
	CHECK_EQ_INT(count_op(F_REMOVE), 2);
	env_close(&e);
}

/* A Create whose Deployment was made and deleted unseen (watch down): a later list ends it ABORTED. */
static void test_race_created_deleted_unseen(void)
{
	struct env e;
	int32_t cr;
	int64_t before;

	env_open(&e);
	cr = create(&e, "demo", 1, IMG);
	before = fake_us;
	answer_ok(&e, nth(F_CREATE, 0));
	/* a list begun before the POST was answered proves nothing */
	worker_service_on_listed(e.svc, before);
	settle(&e);
	CHECK_EQ_INT(status(cr), -1);
	advance_ms(&e, 5);
	worker_service_on_listed(e.svc, fake_us);
	settle(&e);
	CHECK_EQ_INT(status(cr), GRPC_ABORTED);
	CHECK_EQ_STR(message(cr), "cluster demo was deleted while being created");
	CHECK_EQ_INT(cluster_table_count(worker_service_table(e.svc)), 0);
	env_close(&e);
}

/* The Deployment replaced under a waiting Create (the informer says: old gone, new one there). */
static void test_race_replaced_under_waiting_create(void)
{
	struct env e;
	int32_t cr, w;

	env_open(&e);
	cr = create(&e, "demo", 2, IMG);
	answer_ok(&e, nth(F_CREATE, 0));
	seen(&e, "demo", 2, 1, IMG, D_ROLLING);
	w = watch(&e, "demo");
	/* what worker.c does for another uid on relist */
	worker_service_on_delete(e.svc, "demo");
	seen(&e, "demo", 2, 2, IMG, D_ROLLING);
	CHECK_EQ_INT(status(cr), GRPC_ABORTED);
	CHECK_EQ_STR(message(cr), "cluster demo was deleted while being created");
	CHECK_EQ_INT(status(w), GRPC_OK);	/* the watch ended with the old one's DELETED */
	{
		Cplane__V1__Cluster *m = cluster_msg(w, nmsgs(w) - 1);
		CHECK(m && m->phase == CPLANE__V1__PHASE__DELETED);
		if (m)
			cplane__v1__cluster__free_unpacked(m, NULL);
	}
	env_close(&e);
}

/* Sync wait: a call before the first list waits for it and keeps its start time. */
static void test_sync_wait_keeps_start(void)
{
	struct env e;
	struct worker_service_opts o = default_opts();
	int32_t id;

	env_open_opts(&e, &o, 0);
	id = create(&e, "demo", 1, IMG);
	CHECK_EQ_INT(status(id), -1);
	CHECK_EQ_INT(nfcalls, 0);
	CHECK_EQ_INT(stats_of(&e).waiting_calls, 1);
	advance_ms(&e, 2000);
	worker_service_on_synced(e.svc);
	settle(&e);
	CHECK_EQ_INT(count_op(F_CREATE), 1);
	answer_ok(&e, nth(F_CREATE, 0));
	seen(&e, "demo", 1, 1, IMG, D_ROLLING);
	CHECK_EQ_INT(status(id), GRPC_OK);
	/* two seconds of waiting for the sync count in its latency */
	CHECK(stats_of(&e).latency_sum_s[WM_CREATE] > 1.99 &&
	    stats_of(&e).latency_sum_s[WM_CREATE] < 2.01);
	CHECK_EQ_INT(stats_of(&e).latency_buckets[WM_CREATE][7], 1);	/* (1 s, 5 s] */
	env_close(&e);
}

/* Sync wait ends: UNAVAILABLE after WORKER_SYNC_WAIT_MS_DEFAULT without a list. */
static void test_sync_wait_times_out(void)
{
	struct env e;
	struct worker_service_opts o = default_opts();
	int32_t id;

	env_open_opts(&e, &o, 0);
	id = get(&e, "demo");
	advance_ms(&e, WORKER_SYNC_WAIT_MS_DEFAULT - 1);
	CHECK_EQ_INT(status(id), -1);
	advance_ms(&e, 1);
	CHECK_EQ_INT(status(id), GRPC_UNAVAILABLE);
	CHECK_EQ_STR(message(id), "not yet synced with the Kubernetes API server; retry later");
	CHECK_EQ_INT(calls(&e, WM_GET, GRPC_UNAVAILABLE), 1);
	CHECK_EQ_INT(nfcalls, 0);
	env_close(&e);
}

/* Shutdown with calls waiting: they end UNAVAILABLE, nothing leaks (ASan). */
static void test_free_with_waiters(void)
{
	struct env e;
	struct worker_service_opts o = default_opts();
	int32_t a, b;

	env_open_opts(&e, &o, 0);
	a = get(&e, "x");
	worker_service_on_synced(e.svc);
	b = create(&e, "demo", 1, IMG);
	(void)a;
	worker_service_free(e.svc);
	e.svc = NULL;
	shuttle(&e);
	CHECK_EQ_INT(status(b), GRPC_UNAVAILABLE);
	CHECK_EQ_STR(message(b), "the worker is shutting down");
	h2_conn_free(e.cl);
	grpc_server_conn_free(e.sc);
	grpc_server_free(e.server);
	io_loop_free(e.loop);
}

/* ===================================================== UpdateCluster rows */

/* The informer shows a Deployment at a given generation: observed, updated, available of replicas. */
static void seen_gen(struct env *e, const char *name, int32_t replicas, int32_t updated, int32_t available,
    const char *image, int64_t gen, int64_t observed, int failed)
{
	k8s_deployment d;

	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "%s", name);
	snprintf(d.uid, sizeof(d.uid), "uid-%s", name);
	snprintf(d.image, sizeof(d.image), "%s", image);
	d.managed = 1;
	d.generation = gen;
	d.observed_generation = observed;
	d.created_unix_ms = 1700000000000;
	d.replicas = replicas;
	d.updated_replicas = updated;
	d.ready_replicas = d.available_replicas = available;
	d.available.status = available == replicas ? K8S_COND_TRUE : K8S_COND_FALSE;
	if (failed) {
		d.progressing.status = K8S_COND_FALSE;
		snprintf(d.progressing.reason, sizeof(d.progressing.reason), "ProgressDeadlineExceeded");
		snprintf(d.progressing.message, sizeof(d.progressing.message), "ReplicaSet has timed out progressing.");
	}
	worker_service_on_upsert(e->svc, &d);
	settle(e);
}

static int32_t update(struct env *e, const char *name, int32_t replicas, const char *image)
{
	Cplane__V1__UpdateClusterRequest r = CPLANE__V1__UPDATE_CLUSTER_REQUEST__INIT;

	r.name = (char *)name;
	r.replicas = replicas;
	r.image = (char *)image;
	return call_ex(e, "UpdateCluster", &r.base, 0);
}

/* The update response's result and its cluster's phase, replicas and message. */
static void check_update_resp(int32_t id, int result, int phase, int32_t replicas, const char *msg)
{
	size_t len;
	const uint8_t *p = msg_at(id, 0, &len);
	Cplane__V1__UpdateClusterResponse *r = p ? cplane__v1__update_cluster_response__unpack(NULL, len, p) : NULL;

	CHECK(r != NULL && r->cluster != NULL);
	if (r == NULL || r->cluster == NULL)
		return;
	CHECK_EQ_INT(r->result, result);
	CHECK_EQ_INT(r->cluster->phase, phase);
	CHECK_EQ_INT(r->cluster->replicas, replicas);
	if (msg)
		CHECK_EQ_STR(r->cluster->message, msg);
	cplane__v1__update_cluster_response__free_unpacked(r, NULL);
}

/* Update | absent | NOT_FOUND */
static void test_update_absent_not_found(void)
{
	struct env e;
	int32_t id;

	env_open(&e);
	id = update(&e, "demo", 3, "");
	CHECK_EQ_INT(status(id), GRPC_NOT_FOUND);
	CHECK_EQ_STR(message(id), "cluster demo not found");
	CHECK_EQ_INT(calls(&e, WM_UPDATE, GRPC_NOT_FOUND), 1);
	CHECK_EQ_INT(nfcalls, 0);
	env_close(&e);
}

/* Update | READY or FAILED, nothing to change | SUCCESS at once */
static void test_update_nothing_to_change(void)
{
	struct env e;
	int32_t id;

	env_open(&e);
	seen(&e, "demo", 2, 2, IMG, D_ROLLING);
	id = update(&e, "demo", 2, IMG);
	CHECK_EQ_INT(status(id), GRPC_OK);
	check_update_resp(id, CPLANE__V1__RESULT__SUCCESS, CPLANE__V1__PHASE__READY, 2, NULL);
	id = update(&e, "demo", 0, "");
	check_update_resp(id, CPLANE__V1__RESULT__SUCCESS, CPLANE__V1__PHASE__READY, 2, NULL);
	seen(&e, "failed", 2, 1, IMG, D_FAILED);
	id = update(&e, "failed", 2, "");
	check_update_resp(id, CPLANE__V1__RESULT__SUCCESS, CPLANE__V1__PHASE__FAILED, 2, NULL);
	CHECK_EQ_INT(nfcalls, 0);
	env_close(&e);
}

/* Update | READY | patch, UPDATING, block until rolled out → SUCCESS.  An event older than
 * the patch's generation is not judged. */
static void test_update_patches_and_blocks(void)
{
	struct env e;
	int32_t id, g;
	struct fcall *f;

	env_open(&e);
	seen(&e, "demo", 2, 2, IMG, D_ROLLING);
	id = update(&e, "demo", 5, "");
	CHECK_EQ_INT(status(id), -1);
	f = nth(F_PATCH, 0);
	CHECK(f != NULL);
	if (f == NULL)
		return;
	CHECK_EQ_INT(f->replicas, 5);
	CHECK_EQ_STR(f->image, "");		/* replicas only: the container is not rewritten */
	CHECK_EQ_INT((int)strlen(f->spec_hash), 16);
	f->generation = 2;
	answer_ok(&e, f);
	CHECK_EQ_INT(status(id), -1);
	seen_gen(&e, "demo", 2, 2, 2, IMG, 1, 1, 0);	/* stale: before the patch */
	CHECK_EQ_INT(status(id), -1);
	seen_gen(&e, "demo", 5, 5, 3, IMG, 2, 2, 0);
	g = get(&e, "demo");
	{
		Cplane__V1__Cluster *m = cluster_msg(g, 0);
		CHECK(m != NULL);
		if (m) {
			CHECK_EQ_INT(m->phase, CPLANE__V1__PHASE__UPDATING);
			CHECK_EQ_STR(m->message, "5/5 updated, 3/5 available");
			CHECK_EQ_INT(m->updated_replicas, 5);
			cplane__v1__cluster__free_unpacked(m, NULL);
		}
	}
	CHECK_EQ_INT(status(id), -1);
	seen_gen(&e, "demo", 5, 5, 5, IMG, 2, 2, 0);
	CHECK_EQ_INT(status(id), GRPC_OK);
	check_update_resp(id, CPLANE__V1__RESULT__SUCCESS, CPLANE__V1__PHASE__READY, 5, "5/5 replicas available");
	CHECK_EQ_INT(calls(&e, WM_UPDATE, GRPC_OK), 1);
	env_close(&e);
}

/* Update | UPDATING to the same target | IN_PROGRESS; to another | patch, the earlier ends ABORTED superseded */
static void test_update_in_progress_and_superseded(void)
{
	struct env e;
	int32_t first, same, other;

	env_open(&e);
	seen(&e, "demo", 2, 2, IMG, D_ROLLING);
	first = update(&e, "demo", 5, IMG2);
	CHECK_EQ_STR(nth(F_PATCH, 0)->image, IMG2);
	same = update(&e, "demo", 5, IMG2);
	CHECK_EQ_INT(status(same), GRPC_OK);
	check_update_resp(same, CPLANE__V1__RESULT__IN_PROGRESS, CPLANE__V1__PHASE__READY, 2, NULL);
	CHECK_EQ_INT(count_op(F_PATCH), 1);
	/* Create | UPDATING, same spec as the target | IN_PROGRESS, even before the PATCH is answered;
	 * a spec that is neither the target nor the current one is ALREADY_EXISTS. */
	{
		int32_t cr = create(&e, "demo", 5, IMG2);
		CHECK_EQ_INT(status(cr), GRPC_OK);
		check_create_resp(cr, CPLANE__V1__RESULT__IN_PROGRESS, CPLANE__V1__PHASE__READY, 2);
		cr = create(&e, "demo", 4, IMG2);
		CHECK_EQ_INT(status(cr), GRPC_ALREADY_EXISTS);
	}
	other = update(&e, "demo", 3, "");
	CHECK_EQ_INT(status(first), GRPC_ABORTED);
	CHECK(strstr(message(first), "superseded") != NULL);
	/* One PATCH of a cluster in flight at a time: the second goes once the first is answered,
	 * so the API server applies them in order. */
	CHECK_EQ_INT(count_op(F_PATCH), 1);
	CHECK_EQ_INT(status(other), -1);
	nth(F_PATCH, 0)->generation = 2;
	answer_ok(&e, nth(F_PATCH, 0));
	CHECK_EQ_INT(count_op(F_PATCH), 2);
	CHECK_EQ_INT(nth(F_PATCH, 1)->replicas, 3);
	CHECK_EQ_STR(nth(F_PATCH, 1)->image, IMG);	/* the container back to the image it has */
	CHECK_EQ_INT(status(other), -1);
	nth(F_PATCH, 1)->generation = 3;
	answer_ok(&e, nth(F_PATCH, 1));
	seen_gen(&e, "demo", 3, 3, 3, IMG, 3, 3, 0);
	CHECK_EQ_INT(status(other), GRPC_OK);
	env_close(&e);
}

/* Another worker's patch wins meanwhile: the waiting Update ends ABORTED. */
static void test_update_superseded_by_someone_else(void)
{
	struct env e;
	int32_t id;

	env_open(&e);
	seen(&e, "demo", 2, 2, IMG, D_ROLLING);
	id = update(&e, "demo", 5, "");
	nth(F_PATCH, 0)->generation = 2;
	answer_ok(&e, nth(F_PATCH, 0));
	seen_gen(&e, "demo", 7, 7, 7, IMG, 3, 3, 0);
	CHECK_EQ_INT(status(id), GRPC_ABORTED);
	CHECK_EQ_STR(message(id), "cluster demo: superseded by another update (now replicas=7 image=" IMG ")");
	env_close(&e);
}

/* Update | CREATING / DELETING | FAILED_PRECONDITION */
static void test_update_creating_deleting_precondition(void)
{
	struct env e;
	int32_t id;

	env_open(&e);
	create(&e, "demo", 3, IMG);
	id = update(&e, "demo", 2, "");
	CHECK_EQ_INT(status(id), GRPC_FAILED_PRECONDITION);
	CHECK_EQ_STR(message(id), "cluster demo is still being created");
	seen(&e, "gone", 2, 2, IMG, D_TERMINATING);
	id = update(&e, "gone", 2, "");
	CHECK_EQ_INT(status(id), GRPC_FAILED_PRECONDITION);
	CHECK_EQ_STR(message(id), "cluster gone is being deleted");
	CHECK_EQ_INT(count_op(F_PATCH), 0);
	env_close(&e);
}

/* A rollout that turns FAILED: DEADLINE_EXCEEDED with the new pods' diagnosis; a Delete aborts a waiting Update. */
static void test_update_failed_diagnosis_and_delete(void)
{
	struct env e;
	int32_t id;
	struct fcall *d;

	env_open(&e);
	seen(&e, "demo", 2, 2, IMG, D_ROLLING);
	id = update(&e, "demo", 0, "registry.example/nonexistent:1");
	nth(F_PATCH, 0)->generation = 2;
	answer_ok(&e, nth(F_PATCH, 0));
	seen_gen(&e, "demo", 2, 1, 2, "registry.example/nonexistent:1", 2, 1, 1);	/* old condition, not yet observed */
	CHECK_EQ_INT(count_op(F_DIAGNOSE), 0);
	seen_gen(&e, "demo", 2, 1, 2, "registry.example/nonexistent:1", 2, 2, 1);
	d = nth(F_DIAGNOSE, 0);
	CHECK(d != NULL);
	answer(&e, d, K8S_OK, 0, "", "pod demo-x: ErrImagePull: failed to pull");
	CHECK_EQ_INT(status(id), GRPC_DEADLINE_EXCEEDED);
	CHECK_EQ_STR(message(id), "cluster demo update failed: ReplicaSet has timed out progressing.; 1/2 updated, "
	    "2/2 available; pod demo-x: ErrImagePull: failed to pull");

	seen(&e, "del", 2, 2, IMG, D_ROLLING);
	id = update(&e, "del", 4, "");
	delete_(&e, "del");
	CHECK_EQ_INT(status(id), GRPC_ABORTED);
	CHECK_EQ_STR(message(id), "cluster del is being deleted");
	env_close(&e);
}

/* A restarted worker sees UPDATING from the Deployment alone; a retry of the target is IN_PROGRESS. */
static void test_update_after_restart(void)
{
	struct env e;
	int32_t id, g;

	env_open(&e);
	seen_gen(&e, "demo", 6, 3, 4, IMG, 2, 2, 0);
	g = get(&e, "demo");
	{
		Cplane__V1__Cluster *m = cluster_msg(g, 0);
		CHECK(m != NULL && m->phase == CPLANE__V1__PHASE__UPDATING);
		if (m) {
			CHECK_EQ_STR(m->message, "3/6 updated, 4/6 available");
			cplane__v1__cluster__free_unpacked(m, NULL);
		}
	}
	id = update(&e, "demo", 6, "");
	check_update_resp(id, CPLANE__V1__RESULT__IN_PROGRESS, CPLANE__V1__PHASE__UPDATING, 6, NULL);
	/* generation 1 and not rolled out is CREATING */
	seen_gen(&e, "young", 6, 3, 4, IMG, 1, 1, 0);
	id = update(&e, "young", 6, "");
	CHECK_EQ_INT(status(id), GRPC_FAILED_PRECONDITION);
	CHECK_EQ_INT(count_op(F_PATCH), 0);
	env_close(&e);
}

/* ================================================ service: true (headless) */

static int32_t create_with_service(struct env *e, const char *name)
{
	Cplane__V1__CreateClusterRequest r = CPLANE__V1__CREATE_CLUSTER_REQUEST__INIT;
	Cplane__V1__Port p = CPLANE__V1__PORT__INIT, *ports[1] = { &p };

	r.name = (char *)name;
	r.replicas = 2;
	r.image = IMG;
	p.name = "http";
	p.port = 80;
	r.n_ports = 1;
	r.ports = ports;
	r.service = 1;
	return call_ex(e, "CreateCluster", &r.base, 0);
}

/* The informer shows the Deployment create_with_service() asked for, rolled out. */
static void seen_with_service(struct env *e, const char *name)
{
	k8s_port port = { "http", 80 };
	k8s_podspec pod;
	k8s_deployment d;

	memset(&pod, 0, sizeof(pod));
	pod.ports = &port;
	pod.n_ports = 1;
	pod.service = 1;
	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "%s", name);
	snprintf(d.uid, sizeof(d.uid), "uid-%s", name);
	snprintf(d.image, sizeof(d.image), "%s", IMG);
	k8s_podspec_hash(&pod, d.spec_hash);
	d.service = 1;
	d.pod = &pod;
	d.managed = 1;
	d.generation = d.observed_generation = 1;
	d.replicas = d.ready_replicas = d.available_replicas = d.updated_replicas = 2;
	d.available.status = K8S_COND_TRUE;
	worker_service_on_upsert(e->svc, &d);
	settle(e);
}

/* The POST's answer with the Deployment (its uid is the Service's owner). */
static void answer_created(struct env *e, struct fcall *f, const char *uid)
{
	k8s_error err;
	k8s_deployment d;

	CHECK(f != NULL && !f->completed);
	if (f == NULL || f->completed)
		return;
	k8s_error_clear(&err);
	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "%s", f->name);
	snprintf(d.uid, sizeof(d.uid), "%s", uid);
	f->completed = 1;
	f->create_done(f->arg, &err, &d);
	settle(e);
}

/* READY waits for the Service, made after the Deployment with the Deployment as its owner. */
static void test_create_service_ready_waits_for_it(void)
{
	struct env e;
	int32_t id, g;
	Cplane__V1__Cluster *m;

	env_open(&e);
	id = create_with_service(&e, "web");
	CHECK_EQ_INT(count_op(F_SERVICE), 0);
	answer_created(&e, nth(F_CREATE, 0), "uid-web");
	CHECK_EQ_INT(count_op(F_SERVICE), 1);
	CHECK_EQ_STR(nth(F_SERVICE, 0)->image, "uid-web");	/* the owner uid */
	seen_with_service(&e, "web");
	CHECK_EQ_INT(status(id), -1);
	g = get(&e, "web");
	m = cluster_msg(g, 0);
	CHECK(m != NULL);
	if (m) {
		CHECK_EQ_INT(m->phase, CPLANE__V1__PHASE__CREATING);
		CHECK_EQ_STR(m->message, "2/2 replicas available; creating the Service");
		cplane__v1__cluster__free_unpacked(m, NULL);
	}
	answer_ok(&e, nth(F_SERVICE, 0));
	CHECK_EQ_INT(status(id), GRPC_OK);
	check_create_resp(id, CPLANE__V1__RESULT__SUCCESS, CPLANE__V1__PHASE__READY, 2);
	g = get(&e, "web");
	m = cluster_msg(g, 0);
	CHECK(m != NULL);
	if (m) {
		CHECK_EQ_STR(m->service_dns, "web." NS ".svc");
		CHECK_EQ_INT((int)m->n_ports, 1);
		cplane__v1__cluster__free_unpacked(m, NULL);
	}
	env_close(&e);
}

/* A Service the API server refuses ends the Create with its code; AlreadyExists is fine. */
static void test_create_service_refused_or_there(void)
{
	struct env e;
	int32_t id;

	env_open(&e);
	id = create_with_service(&e, "web");
	answer_created(&e, nth(F_CREATE, 0), "uid-web");
	answer(&e, nth(F_SERVICE, 0), K8S_ERR_API, 403, "Forbidden", "services is forbidden");
	CHECK_EQ_INT(status(id), GRPC_PERMISSION_DENIED);
	CHECK(strstr(message(id), "services is forbidden") != NULL);

	id = create_with_service(&e, "two");
	answer_created(&e, nth(F_CREATE, 1), "uid-two");
	answer(&e, nth(F_SERVICE, 1), K8S_ERR_API, 409, "AlreadyExists", "services \"two\" already exists");
	seen_with_service(&e, "two");
	CHECK_EQ_INT(status(id), GRPC_OK);

	/* An answer without the Deployment's uid: no unowned Service, the Create says why. */
	id = create_with_service(&e, "three");
	answer_ok(&e, nth(F_CREATE, 2));
	CHECK_EQ_INT(status(id), GRPC_INTERNAL);
	CHECK_EQ_INT(count_op(F_SERVICE), 2);
	env_close(&e);
}

/*
 * A List of three clusters, the n-th checked allocation of the call failing
 * (0: none): OK with all three, RESOURCE_EXHAUSTED (the List's text buffer,
 * or the call's own bufs), INTERNAL (the request's arena), or an h2
 * connection that failed (no status).
 */
static int list_failing(unsigned long n, unsigned long *calls)
{
	struct env e;
	unsigned long before;
	int32_t id;
	int st;

	env_open(&e);
	seen(&e, "alpha", 1, 1, IMG, D_ROLLING);
	seen(&e, "bravo", 2, 0, IMG, D_FAILED);
	seen(&e, "charlie", 1, 1, IMG, D_ROLLING);
	before = mem_try_calls_for_test();
	mem_try_fail_after_for_test(n);
	feed_may_fail = 1;
	id = list(&e);
	feed_may_fail = 0;
	mem_try_fail_after_for_test(0);
	*calls = mem_try_calls_for_test() - before;
	st = id > 0 ? status(id) : -1;	/* <= 0: the client's own h2 could not send it */
	if (st == GRPC_OK) {
		const uint8_t *p;
		size_t len;
		Cplane__V1__ListClustersResponse *m;

		p = msg_at(id, 0, &len);
		m = p ? cplane__v1__list_clusters_response__unpack(NULL, len, p) : NULL;
		CHECK(m != NULL && m->n_clusters == 3);
		if (m)
			cplane__v1__list_clusters_response__free_unpacked(m, NULL);
	} else if (st == GRPC_RESOURCE_EXHAUSTED) {
		CHECK(strcmp(message(id), "out of memory") == 0 || strcmp(message(id), "cannot send the response") == 0);
	} else if (st == GRPC_INTERNAL) {
		CHECK_EQ_STR(message(id), "cannot parse the request message");	/* the protobuf-c arena */
	} else {
		CHECK_EQ_INT(st, -1);
	}
	feed_may_fail = 1;	/* closing drains what a failed connection left */
	env_close(&e);
	feed_may_fail = 0;
	return st;
}

/* Every checked allocation of a List fails in turn (its text buffer among them); ASan sees no leak. */
static void test_list_checked_allocations_fail(void)
{
	unsigned long total, calls;
	int exhausted = 0;

	CHECK_EQ_INT(list_failing(0, &total), GRPC_OK);
	for (unsigned long n = 1; n <= total; n++) {
		exhausted += list_failing(n, &calls) == GRPC_RESOURCE_EXHAUSTED;
		CHECK(calls >= n);
	}
	CHECK(exhausted > 0);
	printf("list: %lu checked allocations failed in turn, %d answered RESOURCE_EXHAUSTED\n", total, exhausted);
}

int main(void)
{
	int devnull = open("/dev/null", O_WRONLY);

	/* The service logs what it does; the checks here are on what it answers. */
	if (devnull >= 0)
		log_set_fd(devnull);
	RUN(test_latency_counted_when_the_turn_ends);
	RUN(test_create_absent_blocks_until_ready);
	RUN(test_create_default_image);
	RUN(test_create_creating_same_spec_in_progress);
	RUN(test_create_ready_same_spec_success);
	RUN(test_create_other_spec_already_exists);
	RUN(test_create_failed_precondition);
	RUN(test_create_deleting_precondition);
	RUN(test_delete_absent_not_found);
	RUN(test_delete_ready_blocks_until_gone);
	RUN(test_delete_creating_aborts_waiting_create);
	RUN(test_delete_failed_blocks_until_gone);
	RUN(test_delete_deleting_in_progress);
	RUN(test_get_present_and_absent);
	RUN(test_list_sorted_managed_only);
	RUN(test_list_checked_allocations_fail);
	RUN(test_watch_until_deleted);
	RUN(test_create_turns_failed_with_diagnosis);
	RUN(test_create_timeout_diagnosis);
	RUN(test_diagnosis_never_answers);
	RUN(test_client_deadline_margin);
	RUN(test_create_api_errors);
	RUN(test_delete_api_error);
	RUN(test_draining);
	RUN(test_cancel_releases_waiter);
	RUN(test_invalid_name);
	RUN(test_invalid_replicas);
	RUN(test_invalid_image);
	RUN(test_race_create_create_other_worker);
	RUN(test_race_delete_during_post);
	RUN(test_race_delete_during_refused_post);
	RUN(test_race_delete_while_post_unanswered);
	RUN(test_post_unanswered_alone);
	RUN(test_race_replaced_after_delete);
	RUN(test_race_created_deleted_unseen);
	RUN(test_race_replaced_under_waiting_create);
	RUN(test_sync_wait_keeps_start);
	RUN(test_sync_wait_times_out);
	RUN(test_free_with_waiters);
	RUN(test_update_absent_not_found);
	RUN(test_update_nothing_to_change);
	RUN(test_update_patches_and_blocks);
	RUN(test_update_in_progress_and_superseded);
	RUN(test_update_superseded_by_someone_else);
	RUN(test_update_creating_deleting_precondition);
	RUN(test_update_failed_diagnosis_and_delete);
	RUN(test_update_after_restart);
	RUN(test_create_service_ready_waits_for_it);
	RUN(test_create_service_refused_or_there);
	return harness_finish();
}
