/*
 * The driver: `cplane --driver [command]`.  One gRPC connection on the poll
 * loop carries everything a command does (a Create and the WatchCluster
 * that shows its progress share it).  Each command is a small chain of
 * asynchronous steps; the last one sets the exit status and stops the loop.
 *
 * Exit status: 0 on success, 2 for bad usage, 10 + the gRPC status code for
 * a failed call (e.g. 15 NOT_FOUND, 14 DEADLINE_EXCEEDED... see usage), so
 * scripts can tell the classes apart.
 */
#include "driver/driver.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/flags.h"
#include "base/log.h"
#include "cplane/v1/cplane.pb-c.h"
#include "cplane/v1/methods.h"
#include "driver/output.h"
#include "driver/spec_args.h"
#include "driver/tls_opts.h"
#include "driver/token.h"
#include "grpc/client.h"
#include "io/net.h"

#define EXIT_USAGE 2
#define EXIT_GRPC_BASE 10

enum command { CMD_DEMO, CMD_CREATE, CMD_DELETE, CMD_GET, CMD_LIST, CMD_WATCH, CMD_SCALE, CMD_UPDATE };

enum goal { GOAL_READY, GOAL_GONE, GOAL_FOREVER };

struct driver {
	io_loop *loop;
	grpc_client *client;
	int output_failed;	/* stdout refused a write: exit 1 whatever the calls did */
	int stdout_closed;	/* fd 1 was not open at start */
	enum command cmd;
	const char *name;
	int64_t replicas;
	const char *image;
	int wait;
	int json;
	int tty;
	int64_t deadline_ms;	/* monotonic */
	int exit_code;
	int64_t step_start_us;
	int timeout_given;	/* --timeout (or CPLANE_TIMEOUT) set: watch ends at it too */
	grpc_ccall *create_call;	/* pending: its answer decides */
	grpc_ccall *update_call;
	struct driver_spec_flags *spec;	/* create, update: the flags */
	struct driver_spec_req sreq;
	int64_t update_replicas;	/* 0: keep */
	grpc_ccall *delete_call;
	grpc_ccall *watch_call;
	enum goal watch_goal;
	int watch_phase;	/* the last phase the watch showed, -1 none */
	int watch_rows;		/* table header printed */
	int progress_len;
	int demo_stage;		/* 0 = creating, 1 = deleting */
	io_timer nowait_timer;	/* --no-wait: the Get that looks for the accepted Create, again */
	struct driver_token token;
	struct driver_tls tls;	/* --tls: the anchors and client certificate the connections use */
	grpc_metadata auth_md;	/* authorization: Bearer ..., sent on every call when there is a token */
};

/* ------------------------------------------------------------ helpers */

static int exit_for(int status)
{
	return status == GRPC_OK ? 0 : EXIT_GRPC_BASE + status;
}

static void end_progress(struct driver *d);

static void finish(struct driver *d, int code)
{
	d->exit_code = code;
	io_loop_stop(d->loop);
}

static void fail_status(struct driver *d, const char *what, int status, const char *message)
{
	end_progress(d);
	fprintf(stderr, "cplane: %s: %s: %s\n", what, grpc_status_name(status) ? grpc_status_name(status) : "UNKNOWN",
	    message && message[0] ? message : "(no message)");
	if (status == GRPC_UNAUTHENTICATED || status == GRPC_PERMISSION_DENIED) {
		char hint[1024];
		driver_token_hint(&d->token, hint, sizeof(hint));
		fprintf(stderr, "cplane: hint: %s\n", hint);
	}
	finish(d, exit_for(status));
}

/* A response that does not decode: the worker (or what answers there) is broken, not our call. */
static int bad_msg(struct driver *d, const char *what)
{
	if (!io_loop_stopped(d->loop))
		fail_status(d, what, GRPC_INTERNAL, "malformed response message");
	return 1;	/* cancels the call; its on_done finds the loop stopped */
}

static int64_t time_left(const struct driver *d)
{
	int64_t left = d->deadline_ms - clock_mono_ms();

	return left > 1 ? left : 1;
}

static grpc_call_opts call_opts(const struct driver *d)
{
	grpc_call_opts o;

	memset(&o, 0, sizeof(o));
	o.timeout_ms = time_left(d);
	if (d->token.header) {
		o.md = &d->auth_md;
		o.nmd = 1;
	}
	return o;
}

static const char *took(char out[32], int64_t start_us)
{
	return log_duration_ms(out, (clock_mono_us() - start_us) / 1000);
}

static void progress(struct driver *d, const Cplane__V1__Cluster *c)
{
	char line[160];
	int n;

	if (!d->tty)
		return;
	if (c->phase == CPLANE__V1__PHASE__UPDATING)
		n = snprintf(line, sizeof(line), "%s: %d/%d updated, %d/%d available (UPDATING)", c->name,
		    c->updated_replicas, c->replicas, c->ready_replicas, c->replicas);
	else
		n = snprintf(line, sizeof(line), "%s: %d/%d replicas ready (%s)", c->name, c->ready_replicas,
		    c->replicas, output_phase_name(c->phase));
	if (n >= (int)sizeof(line))
		n = (int)sizeof(line) - 1;
	fprintf(stderr, "\r%s%*s", line, d->progress_len > n ? d->progress_len - n : 0, "");
	fflush(stderr);
	d->progress_len = n;
}

/* The progress line is erased, not kept: a terminal shows the same log lines as a file would. */
static void end_progress(struct driver *d)
{
	if (d->progress_len) {
		fprintf(stderr, "\r%*s\r", d->progress_len, "");
		fflush(stderr);
		d->progress_len = 0;
	}
}

/* Output that cannot be written is a failure (exit 1), not a success nobody saw. */
static void print_buf(struct driver *d, buf *b)
{
	if (buf_len(b) == 0 || d->output_failed)
		return;		/* an empty buf has no data pointer to hand to fwrite */
	if (d->stdout_closed || fwrite(buf_data(b), 1, buf_len(b), stdout) != buf_len(b) || fflush(stdout) != 0) {
		end_progress(d);
		fprintf(stderr, "cplane: writing the output: %s\n", d->stdout_closed ? "stdout is closed" :
		    strerror(errno));
		d->output_failed = 1;
		finish(d, 1);
	}
}

static void print_clusters(struct driver *d, const Cplane__V1__Cluster *const *cs, size_t n)
{
	buf out = BUF_INIT;

	if (d->json) {
		for (size_t i = 0; i < n; i++)
			output_json(&out, cs[i]);
	} else {
		output_table(&out, cs, n, clock_wall_ms());
	}
	print_buf(d, &out);
	buf_free(&out);
}

static void start_create(struct driver *d);
static void start_delete(struct driver *d);
static void start_watch(struct driver *d, enum goal goal);

/* A step of the demo or a single command finished well. */
static void step_done(struct driver *d)
{
	if (d->cmd == CMD_DEMO && d->demo_stage == 0) {
		d->demo_stage = 1;
		start_delete(d);
		return;
	}
	finish(d, 0);
}

/* Ends our watch if any; its on_done then finds it is no longer ours. */
static void drop_watch(struct driver *d)
{
	grpc_ccall *w = d->watch_call;

	d->watch_call = NULL;
	grpc_client_cancel(w);
}

static void created(struct driver *d, const char *name, int32_t replicas)
{
	char t[32], rep[24];

	end_progress(d);
	log_info("Created cluster", "name", name, "replicas", log_i64(rep, replicas), "took",
	    took(t, d->step_start_us), NULL);
	step_done(d);
}

static void updated(struct driver *d, const Cplane__V1__Cluster *c)
{
	char t[32], rep[24];

	end_progress(d);
	if (d->json) {
		const Cplane__V1__Cluster *one[1] = { c };
		print_clusters(d, one, 1);
	}
	log_info("Updated cluster", "name", c->name, "replicas", log_i64(rep, c->replicas), "image", c->image,
	    "took", took(t, d->step_start_us), NULL);
	finish(d, 0);
}

/* A followed update is done when READY shows its target (an earlier READY snapshot is not it). */
static int update_target_reached(const struct driver *d, const Cplane__V1__Cluster *c)
{
	return c->phase == CPLANE__V1__PHASE__READY && (d->update_replicas == 0 || c->replicas == d->update_replicas) &&
	    (d->image == NULL || d->image[0] == '\0' || strcmp(c->image, d->image) == 0);
}

static void deleted(struct driver *d)
{
	char t[32];

	end_progress(d);
	log_info("Deleted cluster", "name", d->name, "took", took(t, d->step_start_us), NULL);
	step_done(d);
}

/* ------------------------------------------------------------- watch */

/*
 * A watch either shows progress while a Create or Delete call is pending
 * (that call's answer decides) or, once the call answered IN_PROGRESS,
 * decides itself: READY (create) or the stream's end after DELETED (delete).
 */
static int watch_decides(const struct driver *d)
{
	return (d->watch_goal == GOAL_READY && d->create_call == NULL && d->update_call == NULL) ||
	    (d->watch_goal == GOAL_GONE && d->delete_call == NULL);
}

static void print_change(struct driver *d, const Cplane__V1__Cluster *c)
{
	buf out = BUF_INIT;

	if (d->json)
		output_json(&out, c);
	else	/* the header once, then a row per change */
		output_table_row(&out, c, d->watch_rows++ == 0, clock_wall_ms());
	print_buf(d, &out);
	buf_free(&out);
}

static int on_watch_msg(grpc_ccall *call, void *arg, const uint8_t *msg, size_t len)
{
	struct driver *d = arg;
	Cplane__V1__Cluster *c = cplane__v1__cluster__unpack(NULL, len, msg);
	int stop = 0;

	if (c == NULL)
		return bad_msg(d, "watch");
	if (call != d->watch_call) {
		stop = 1;
	} else if (d->watch_goal == GOAL_FOREVER) {
		print_change(d, c);
	} else {
		progress(d, c);
		d->watch_phase = c->phase;
		if ((d->cmd == CMD_SCALE || d->cmd == CMD_UPDATE) && watch_decides(d)) {
			if (update_target_reached(d, c)) {
				d->watch_call = NULL;
				stop = 1;
				updated(d, c);
			} else if (c->phase == CPLANE__V1__PHASE__FAILED) {
				char why[600];
				snprintf(why, sizeof(why), "cluster %s failed: %s", c->name, c->message);
				d->watch_call = NULL;
				stop = 1;
				fail_status(d, "update", GRPC_DEADLINE_EXCEEDED, why);
			}
		} else if (watch_decides(d) && d->watch_goal == GOAL_READY && c->phase == CPLANE__V1__PHASE__READY) {
			d->watch_call = NULL;	/* non-zero below cancels it */
			stop = 1;
			if (d->cmd == CMD_CREATE && d->json) {
				const Cplane__V1__Cluster *one[1] = { c };
				print_clusters(d, one, 1);	/* as the Create's own answer would be */
			}
			created(d, c->name, c->replicas);
		} else if (watch_decides(d) && d->watch_goal == GOAL_READY && c->phase == CPLANE__V1__PHASE__FAILED) {
			char why[600];
			snprintf(why, sizeof(why), "cluster %s failed: %s", c->name, c->message);
			d->watch_call = NULL;
			stop = 1;
			/* What the Create we follow would have answered (DESIGN.md: FAILED ends a waiting Create so). */
			fail_status(d, "create", GRPC_DEADLINE_EXCEEDED, why);
		}
	}
	cplane__v1__cluster__free_unpacked(c, NULL);
	return stop;
}

static void on_watch_done(grpc_ccall *call, void *arg, int status, const char *message)
{
	struct driver *d = arg;

	if (call != d->watch_call)
		return;		/* we cancelled it on purpose */
	d->watch_call = NULL;
	if (io_loop_stopped(d->loop))
		return;
	if (d->watch_goal == GOAL_FOREVER) {
		/* The cluster was deleted: the stream ends OK. */
		if (status == GRPC_OK)
			finish(d, 0);
		else
			fail_status(d, "watch", status, message);
		return;
	}
	if (!watch_decides(d))
		return;		/* only progress: the pending call's answer decides */
	if (d->watch_goal == GOAL_GONE && (status == GRPC_OK || status == GRPC_NOT_FOUND))
		deleted(d);
	else if (status == GRPC_OK)	/* ends OK only after DELETED: deleted under us */
		fail_status(d, "watch", GRPC_ABORTED, "the cluster was deleted before it was ready");
	else
		fail_status(d, "watch", status, message);
}

static void start_watch(struct driver *d, enum goal goal)
{
	Cplane__V1__WatchClusterRequest req = CPLANE__V1__WATCH_CLUSTER_REQUEST__INIT;
	grpc_call_opts o = call_opts(d);

	req.name = (char *)d->name;
	d->watch_goal = goal;
	d->watch_phase = -1;
	if (goal == GOAL_FOREVER && !d->timeout_given)
		o.timeout_ms = 0;	/* a watch runs until the cluster is gone, or --timeout if asked */
	d->watch_call = grpc_client_call_pb(d->client, CPLANE_PATH_WATCH, &req.base, 1, &o,
	    on_watch_msg, on_watch_done, d);
	if (d->watch_call == NULL)
		fail_status(d, "watch", GRPC_RESOURCE_EXHAUSTED, "out of memory");
}

/* ------------------------------------------------------------ create */

static int on_create_msg(grpc_ccall *call, void *arg, const uint8_t *msg, size_t len)
{
	struct driver *d = arg;
	Cplane__V1__CreateClusterResponse *r = cplane__v1__create_cluster_response__unpack(NULL, len, msg);

	if (r == NULL)
		return bad_msg(d, "create");
	if (call != d->create_call) {
		cplane__v1__create_cluster_response__free_unpacked(r, NULL);
		return 1;
	}
	d->create_call = NULL;
	if (r->result == CPLANE__V1__RESULT__IN_PROGRESS) {
		end_progress(d);
		log_info("Cluster is being created by another call; following it", "name", d->name, NULL);
		if (d->watch_call && d->watch_phase == CPLANE__V1__PHASE__READY) {
			drop_watch(d);	/* our progress watch saw it ready already */
			created(d, d->name, (int32_t)d->replicas);
		} else if (d->watch_call == NULL) {
			start_watch(d, GOAL_READY);
		}
	} else {
		drop_watch(d);
		if (d->cmd == CMD_CREATE && d->json && r->cluster) {
			const Cplane__V1__Cluster *one[1] = { r->cluster };
			print_clusters(d, one, 1);
		}
		created(d, d->name, r->cluster ? r->cluster->replicas : (int32_t)d->replicas);
	}
	cplane__v1__create_cluster_response__free_unpacked(r, NULL);
	return 0;
}

static void on_create_done(grpc_ccall *call, void *arg, int status, const char *message)
{
	struct driver *d = arg;

	/* OK was handled in on_create_msg; a Create we cancelled (--no-wait) is no longer ours. */
	if (status == GRPC_OK || call != d->create_call || io_loop_stopped(d->loop))
		return;
	d->create_call = NULL;
	drop_watch(d);
	fail_status(d, "create", status, message);
}

/* --no-wait: once the worker has the cluster CREATING, leave it to the worker. */
static int on_nowait_get(grpc_ccall *call, void *arg, const uint8_t *msg, size_t len)
{
	struct driver *d = arg;
	Cplane__V1__Cluster *c = cplane__v1__cluster__unpack(NULL, len, msg);
	grpc_ccall *cc = d->create_call;

	(void)call;
	if (c == NULL)
		return bad_msg(d, "create");
	if (cc == NULL || io_loop_stopped(d->loop)) {
		/* The Create answered first (at once: an error, or SUCCESS for a ready cluster): it decided. */
		cplane__v1__cluster__free_unpacked(c, NULL);
		return 0;
	}
	d->create_call = NULL;
	grpc_client_cancel(cc);
	log_info("Cluster accepted", "name", c->name, "phase", output_phase_name(c->phase), NULL);
	cplane__v1__cluster__free_unpacked(c, NULL);
	finish(d, 0);
	return 0;
}

static void send_nowait_get(struct driver *d);

static void on_nowait_timer(io_loop *loop, void *arg)
{
	(void)loop;
	send_nowait_get(arg);
}

static void on_nowait_get_done(grpc_ccall *call, void *arg, int status, const char *message)
{
	struct driver *d = arg;

	(void)call;
	if (status == GRPC_NOT_FOUND && !io_loop_stopped(d->loop) && d->create_call) {
		/* The Get overtook the Create: calls stop being answered in order once they wait
		 * on reviews of the caller (auth).  Look again shortly; the Create's own answer
		 * (an error, or SUCCESS at once) still decides if it comes first. */
		io_timer_start(d->loop, &d->nowait_timer, 20);
		return;
	}
	if (status != GRPC_OK && !io_loop_stopped(d->loop) && d->create_call) {
		grpc_ccall *cc = d->create_call;
		d->create_call = NULL;
		grpc_client_cancel(cc);
		fail_status(d, "create", status, message);
	}
}

static void start_create(struct driver *d)
{
	Cplane__V1__CreateClusterRequest req = CPLANE__V1__CREATE_CLUSTER_REQUEST__INIT;
	grpc_call_opts o = call_opts(d);
	char rep[24];

	req.name = (char *)d->name;
	req.replicas = (int32_t)d->replicas;
	req.image = (char *)(d->image ? d->image : "");
	if (d->spec)
		driver_spec_fill(&d->sreq, d->spec, &req);
	d->step_start_us = clock_mono_us();
	log_info("Creating cluster", "name", d->name, "replicas", log_i64(rep, d->replicas), NULL);
	d->create_call = grpc_client_call_pb(d->client, CPLANE_PATH_CREATE, &req.base, 0, &o,
	    on_create_msg, on_create_done, d);
	if (d->create_call == NULL) {
		fail_status(d, "create", GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	if (!d->wait) {
		/* The worker marks the cluster CREATING when it accepts the Create; a Get on the
		 * same connection right behind it sees that. */
		send_nowait_get(d);
		return;
	}
	if (d->tty)
		start_watch(d, GOAL_READY);	/* live progress on the same connection */
}

static void send_nowait_get(struct driver *d)
{
	Cplane__V1__GetClusterRequest g = CPLANE__V1__GET_CLUSTER_REQUEST__INIT;
	grpc_call_opts o = call_opts(d);

	g.name = (char *)d->name;
	if (grpc_client_call_pb(d->client, CPLANE_PATH_GET, &g.base, 0, &o,
	    on_nowait_get, on_nowait_get_done, d) == NULL)
		fail_status(d, "create", GRPC_RESOURCE_EXHAUSTED, "out of memory");
}

/* ------------------------------------------------------------ delete */

static int on_delete_msg(grpc_ccall *call, void *arg, const uint8_t *msg, size_t len)
{
	struct driver *d = arg;
	Cplane__V1__DeleteClusterResponse *r = cplane__v1__delete_cluster_response__unpack(NULL, len, msg);

	if (r == NULL)
		return bad_msg(d, "delete");
	if (call != d->delete_call) {
		cplane__v1__delete_cluster_response__free_unpacked(r, NULL);
		return 1;
	}
	d->delete_call = NULL;
	if (r->result == CPLANE__V1__RESULT__IN_PROGRESS) {
		end_progress(d);
		log_info("Cluster is being deleted by another call; following it", "name", d->name, NULL);
		if (d->watch_call == NULL)
			start_watch(d, GOAL_GONE);	/* a watch of a gone cluster answers NOT_FOUND: done */
	} else {
		drop_watch(d);
		deleted(d);
	}
	cplane__v1__delete_cluster_response__free_unpacked(r, NULL);
	return 0;
}

static void on_delete_done(grpc_ccall *call, void *arg, int status, const char *message)
{
	struct driver *d = arg;

	if (status == GRPC_OK || call != d->delete_call || io_loop_stopped(d->loop))
		return;
	d->delete_call = NULL;
	drop_watch(d);
	fail_status(d, "delete", status, message);
}

static void start_delete(struct driver *d)
{
	Cplane__V1__DeleteClusterRequest req = CPLANE__V1__DELETE_CLUSTER_REQUEST__INIT;
	grpc_call_opts o = call_opts(d);

	req.name = (char *)d->name;
	d->step_start_us = clock_mono_us();
	log_info("Deleting cluster", "name", d->name, NULL);
	d->delete_call = grpc_client_call_pb(d->client, CPLANE_PATH_DELETE, &req.base, 0, &o,
	    on_delete_msg, on_delete_done, d);
	if (d->delete_call == NULL)
		fail_status(d, "delete", GRPC_RESOURCE_EXHAUSTED, "out of memory");
	else if (d->tty)
		start_watch(d, GOAL_GONE);	/* live progress on the same connection */
}

/* ------------------------------------------------------ scale, update */

static int on_update_msg(grpc_ccall *call, void *arg, const uint8_t *msg, size_t len)
{
	struct driver *d = arg;
	Cplane__V1__UpdateClusterResponse *r = cplane__v1__update_cluster_response__unpack(NULL, len, msg);

	if (r == NULL)
		return bad_msg(d, "update");
	if (call != d->update_call) {
		cplane__v1__update_cluster_response__free_unpacked(r, NULL);
		return 1;
	}
	d->update_call = NULL;
	if (r->result == CPLANE__V1__RESULT__IN_PROGRESS) {
		end_progress(d);
		log_info("Cluster is being updated by another call; following it", "name", d->name, NULL);
		if (r->cluster && update_target_reached(d, r->cluster)) {
			drop_watch(d);
			updated(d, r->cluster);
		} else if (d->watch_call == NULL) {
			start_watch(d, GOAL_READY);
		}
	} else if (r->cluster) {
		drop_watch(d);
		updated(d, r->cluster);
	} else {
		drop_watch(d);
		fail_status(d, "update", GRPC_INTERNAL, "the answer carries no cluster");
	}
	cplane__v1__update_cluster_response__free_unpacked(r, NULL);
	return 0;
}

static void on_update_done(grpc_ccall *call, void *arg, int status, const char *message)
{
	struct driver *d = arg;

	if (status == GRPC_OK || call != d->update_call || io_loop_stopped(d->loop))
		return;
	d->update_call = NULL;
	drop_watch(d);
	fail_status(d, d->cmd == CMD_SCALE ? "scale" : "update", status, message);
}

/* cur: the cluster's resources now (NULL: none), for --cpu or --memory alone (a set Resources replaces all four). */
static void send_update(struct driver *d, const Cplane__V1__Resources *cur)
{
	Cplane__V1__UpdateClusterRequest req = CPLANE__V1__UPDATE_CLUSTER_REQUEST__INIT;
	Cplane__V1__Resources res = CPLANE__V1__RESOURCES__INIT;
	grpc_call_opts o = call_opts(d);
	const struct driver_spec_flags *f = d->spec;
	char rep[24];

	req.name = (char *)d->name;
	req.replicas = (int32_t)d->update_replicas;
	req.image = (char *)(d->image ? d->image : "");
	if (f && (f->cpu || f->memory)) {
		if (cur)
			res = *cur;
		res.base = (ProtobufCMessage)PROTOBUF_C_MESSAGE_INIT(&cplane__v1__resources__descriptor);
		if (f->cpu)
			res.cpu_request = res.cpu_limit = (char *)f->cpu;
		if (f->memory)
			res.memory_request = res.memory_limit = (char *)f->memory;
		req.resources = &res;
	}
	d->step_start_us = clock_mono_us();
	{
		/* Only what changes; the first NULL key ends the list. */
		const char *kv[10] = { "name", d->name };
		int n = 2;

		if (d->update_replicas) {
			kv[n++] = "replicas";
			kv[n++] = log_i64(rep, d->update_replicas);
		}
		if (d->image) {
			kv[n++] = "image";
			kv[n++] = d->image;
		}
		if (f && f->cpu) {
			kv[n++] = "cpu";
			kv[n++] = f->cpu;
		}
		if (f && f->memory) {
			kv[n++] = "memory";
			kv[n++] = f->memory;
		}
		log_info(d->cmd == CMD_SCALE ? "Scaling cluster" : "Updating cluster", kv[0], kv[1], kv[2], kv[3],
		    kv[4], kv[5], kv[6], kv[7], kv[8], kv[9], NULL);
	}
	d->update_call = grpc_client_call_pb(d->client, "/cplane.v1.ClusterService/UpdateCluster", &req.base, 0, &o,
	    on_update_msg, on_update_done, d);
	if (d->update_call == NULL)
		fail_status(d, "update", GRPC_RESOURCE_EXHAUSTED, "out of memory");
	else if (d->tty)
		start_watch(d, GOAL_READY);	/* live progress on the same connection */
}

static int on_update_get(grpc_ccall *call, void *arg, const uint8_t *msg, size_t len)
{
	struct driver *d = arg;
	Cplane__V1__Cluster *c = cplane__v1__cluster__unpack(NULL, len, msg);

	(void)call;
	if (c == NULL)
		return bad_msg(d, "update");
	send_update(d, c->resources);
	cplane__v1__cluster__free_unpacked(c, NULL);
	return 0;
}

static void on_update_get_done(grpc_ccall *call, void *arg, int status, const char *message)
{
	struct driver *d = arg;

	(void)call;
	if (status != GRPC_OK && !io_loop_stopped(d->loop))
		fail_status(d, "update", status, message);
}

static void start_update(struct driver *d)
{
	Cplane__V1__GetClusterRequest g = CPLANE__V1__GET_CLUSTER_REQUEST__INIT;
	grpc_call_opts o = call_opts(d);

	if (d->spec == NULL || (d->spec->cpu == NULL && d->spec->memory == NULL)) {
		send_update(d, NULL);
		return;
	}
	g.name = (char *)d->name;
	if (grpc_client_call_pb(d->client, "/cplane.v1.ClusterService/GetCluster", &g.base, 0, &o, on_update_get,
	    on_update_get_done, d) == NULL)
		fail_status(d, "update", GRPC_RESOURCE_EXHAUSTED, "out of memory");
}

/* --------------------------------------------------------- get, list */

static int on_get_msg(grpc_ccall *call, void *arg, const uint8_t *msg, size_t len)
{
	struct driver *d = arg;
	Cplane__V1__Cluster *c = cplane__v1__cluster__unpack(NULL, len, msg);
	const Cplane__V1__Cluster *one[1];

	(void)call;
	if (c == NULL)
		return bad_msg(d, "get");
	one[0] = c;
	print_clusters(d, one, 1);
	cplane__v1__cluster__free_unpacked(c, NULL);
	return 0;
}

static int on_list_msg(grpc_ccall *call, void *arg, const uint8_t *msg, size_t len)
{
	struct driver *d = arg;
	Cplane__V1__ListClustersResponse *r = cplane__v1__list_clusters_response__unpack(NULL, len, msg);

	(void)call;
	if (r == NULL)
		return bad_msg(d, "list");
	print_clusters(d, (const Cplane__V1__Cluster *const *)r->clusters, r->n_clusters);
	cplane__v1__list_clusters_response__free_unpacked(r, NULL);
	return 0;
}

static void on_simple_done(grpc_ccall *call, void *arg, int status, const char *message)
{
	struct driver *d = arg;

	(void)call;
	if (io_loop_stopped(d->loop))
		return;
	if (status != GRPC_OK)
		fail_status(d, d->cmd == CMD_GET ? "get" : "list", status, message);
	else
		finish(d, 0);
}

/* ----------------------------------------------------------- start-up */

/*
 * The target may not resolve or accept yet (a new pod's DNS takes ~30 s):
 * resolve and try a connection with capped backoff, say once what we wait
 * for, give up at the deadline.  Blocking is fine here: the loop has not
 * started.
 */
static int wait_for_target(struct driver *d, const char *target, int64_t timeout_ms, struct sockaddr_storage *ss,
    socklen_t *sl)
{
	char host[256], port[16], err[256], dur[32];
	int64_t backoff = 100;
	int said = 0;

	if (io_split_hostport(target, host, sizeof(host), port, sizeof(port)) < 0 || host[0] == '\0') {
		fprintf(stderr, "cplane: bad --target %s (want host:port)\n", target);
		return EXIT_USAGE;
	}
	for (;;) {
		int64_t left;
		if (io_resolve(host, port, ss, sl, err, sizeof(err)) == 0) {
			int fd = io_connect((struct sockaddr *)ss, *sl);
			if (fd >= 0) {
				int wait = time_left(d) < 1000 ? (int)time_left(d) : 1000;
				struct pollfd p = { fd, POLLOUT, 0 };
				int r = poll(&p, 1, wait), e = r > 0 ? io_connect_result(fd) : ETIMEDOUT;
				close(fd);
				if (r > 0 && e == 0) {
					if (said)
						log_info("Worker is reachable", "target", target, NULL);
					return 0;
				}
				snprintf(err, sizeof(err), "connect %s: %s", target, strerror(e));
			} else {
				snprintf(err, sizeof(err), "connect %s: %s", target, strerror(errno));
			}
		}
		left = d->deadline_ms - clock_mono_ms();
		if (left <= 0) {
			fprintf(stderr, "cplane: connect: %s: gave up after %s waiting for the worker at %s: %s\n",
			    grpc_status_name(GRPC_UNAVAILABLE), log_duration_ms(dur, timeout_ms), target, err);
			return exit_for(GRPC_UNAVAILABLE);
		}
		if (!said) {
			log_info("Waiting for the worker", "target", target, "reason", err, NULL);
			said = 1;
		}
		/* The last try falls on the deadline itself. */
		usleep((useconds_t)(backoff < left ? backoff : left) * 1000);
		backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
	}
}

static void default_target(char *out, size_t outsz)
{
	char ns[64] = "";
	FILE *f = fopen("/var/run/secrets/kubernetes.io/serviceaccount/namespace", "r");
	const char *env = getenv("POD_NAMESPACE");

	if (f) {
		if (fgets(ns, sizeof(ns), f) == NULL)
			ns[0] = '\0';
		fclose(f);
		ns[strcspn(ns, "\r\n")] = '\0';
	}
	if (ns[0] == '\0')
		snprintf(ns, sizeof(ns), "%s", env && env[0] ? env : "default");
	snprintf(out, outsz, "cplane.%s.svc.cluster.local:50051", ns);
}

void driver_print_usage(FILE *f)
{
	fprintf(f,
	    "  cplane --driver                          the demo: create \"demo\" with 30 replicas, then delete it\n"
	    "  cplane --driver demo [--name N] [--replicas N]\n"
	    "  cplane --driver create NAME [--replicas N] [--image REF] [--wait|--no-wait] [--cpu Q] [--memory Q]\n"
	    "                         [--env K=V]... [--port NAME:PORT]... [--label K=V]... [--annotation K=V]...\n"
	    "                         [--command ARG]... [--arg ARG]... [--service]\n"
	    "  cplane --driver scale NAME --replicas N\n"
	    "  cplane --driver update NAME [--replicas N] [--image REF] [--cpu Q] [--memory Q]\n"
	    "  cplane --driver delete NAME\n"
	    "  cplane --driver get NAME [-o table|json]\n"
	    "  cplane --driver list [-o table|json]\n"
	    "  cplane --driver watch NAME [-o table|json]\n"
	    "  --target HOST:PORT     the worker (default $CPLANE_TARGET, else cplane.<namespace>.svc.cluster.local:50051)\n"
	    "  --timeout DUR          give up after this long, start-up included (default 10m; watch: none)\n"
	    "  --token-file FILE      the bearer token to send (default " DRIVER_TOKEN_FILE ", else the\n"
	    "                         service-account token, else $CPLANE_TOKEN, else none)\n"
	    "  --tls                  TLS to the worker (env CPLANE_TLS=1); --ca-file FILE verifies it (default\n"
	    "                         " DRIVER_SYSTEM_CA "), --server-name NAME (default: the target's host),\n"
	    "                         --client-cert-file/--client-key-file for mTLS\n"
	    "  -o, --output FORMAT    table or json (get, list, watch, create)\n"
	    "  --log-format, --log-level as for the worker\n"
	    "  --cpu/--memory set request = limit (Kubernetes quantities: 500m, 1Gi); --service adds a headless\n"
	    "  Service so the members find each other at NAME.NAMESPACE.svc.  scale and update wait until the\n"
	    "  change has rolled out.\n"
	    "  create waits until the cluster is READY (--no-wait: until the worker has accepted it) and delete\n"
	    "  until it is gone; when someone else's call is already at it, they follow it with WatchCluster.\n"
	    "  On a terminal, create, delete and the demo show live progress (\"12/30 replicas ready\").\n"
	    "  The worker may not be up yet: the driver retries resolving and connecting until --timeout.\n"
	    "  Exit status: 0 success, 2 bad usage, 10 + gRPC code on a failed call (13 INVALID_ARGUMENT,\n"
	    "  14 DEADLINE_EXCEEDED, 15 NOT_FOUND, 16 ALREADY_EXISTS, 17 PERMISSION_DENIED, 19 FAILED_PRECONDITION,\n"
	    "  20 ABORTED, 24 UNAVAILABLE, ...).\n");
}

static const char *check_output(const char *v)
{
	return strcmp(v, "table") == 0 || strcmp(v, "json") == 0 ? NULL : "want table or json";
}

static const char *check_level(const char *v)
{
	enum log_level l;

	return log_parse_level(v, &l) == 0 ? NULL : "want debug, info, warn or error";
}

static const char *check_format(const char *v)
{
	enum log_format f;

	return log_parse_format(v, &f) == 0 ? NULL : "want logfmt or json";
}

/* What the command line said, before it is checked against the command. */
struct driver_args {
	const char *target, *output, *log_format, *log_level, *token_file;
	struct driver_tls_flags tls;
	int64_t timeout_ms;	/* -1: not given */
	int64_t replicas;	/* -1: not given */
	int wait;
	struct driver_spec_flags spec;
	char *pos[4];
	size_t npos;
};

/* Flags into a (and d's name and image); sets up logging.  0, or the exit status. */
static int parse_flags(struct driver *d, struct driver_args *a, int argc, char **argv)
{
	char err[512];
	enum log_level lv;
	enum log_format lf;
	const struct flag_def defs[] = {
		{ "target", FLAG_STRING, &a->target, "worker address", 0, 0, NULL },
		{ "token-file", FLAG_STRING, &a->token_file, "bearer token file", 0, 0, NULL },
		{ "timeout", FLAG_DURATION, &a->timeout_ms, "overall timeout", 1, 7LL * 24 * 3600 * 1000, NULL },
		{ "o", FLAG_STRING, &a->output, "output", 0, 0, check_output },
		{ "output", FLAG_STRING, &a->output, "output", 0, 0, check_output },
		{ "replicas", FLAG_INT, &a->replicas, "replicas", 0, 0, NULL },
		{ "image", FLAG_STRING, &d->image, "image", 0, 0, NULL },
		{ "name", FLAG_STRING, &d->name, "name (demo)", 0, 0, NULL },
		{ "wait", FLAG_BOOL, &a->wait, "wait until ready", 0, 0, NULL },
		{ "env", FLAG_LIST, &a->spec.env, "K=V", 0, 0, NULL },
		{ "port", FLAG_LIST, &a->spec.port, "NAME:PORT", 0, 0, NULL },
		{ "label", FLAG_LIST, &a->spec.label, "K=V", 0, 0, NULL },
		{ "annotation", FLAG_LIST, &a->spec.annotation, "K=V", 0, 0, NULL },
		{ "command", FLAG_LIST, &a->spec.command, "command entry", 0, 0, NULL },
		{ "arg", FLAG_LIST, &a->spec.arg, "argument", 0, 0, NULL },
		{ "cpu", FLAG_STRING, &a->spec.cpu, "cpu request = limit", 0, 0, NULL },
		{ "memory", FLAG_STRING, &a->spec.memory, "memory request = limit", 0, 0, NULL },
		{ "service", FLAG_BOOL, &a->spec.service, "a headless Service", 0, 0, NULL },
		{ "log-format", FLAG_STRING, &a->log_format, "logfmt or json", 0, 0, check_format },
		{ "log-level", FLAG_STRING, &a->log_level, "log level", 0, 0, check_level },
		{ "tls", FLAG_BOOL, &a->tls.tls, "TLS to the worker", 0, 0, NULL },
		{ "ca-file", FLAG_STRING, &a->tls.ca_file, "CA bundle for the worker", 0, 0, NULL },
		{ "server-name", FLAG_STRING, &a->tls.server_name, "name in the worker's certificate", 0, 0, NULL },
		{ "client-cert-file", FLAG_STRING, &a->tls.client_cert_file, "client certificate", 0, 0, NULL },
		{ "client-key-file", FLAG_STRING, &a->tls.client_key_file, "client key", 0, 0, NULL },
	};

	if (flags_parse(defs, sizeof(defs) / sizeof(defs[0]), argc, argv, a->pos, 4, &a->npos, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "cplane: %s\n", err);
		return EXIT_USAGE;
	}
	log_parse_level(a->log_level, &lv);
	log_parse_format(a->log_format, &lf);
	log_set_level(lv);
	log_set_format(lf);
	return 0;
}

/* The command word and its NAME; the demo without one.  0, or the exit status. */
static int lookup_command(struct driver *d, const struct driver_args *a)
{
	static const struct { const char *word; enum command cmd; int nargs; } cmds[] = {
		{ "demo", CMD_DEMO, 0 }, { "create", CMD_CREATE, 1 }, { "delete", CMD_DELETE, 1 },
		{ "get", CMD_GET, 1 }, { "list", CMD_LIST, 0 }, { "watch", CMD_WATCH, 1 },
		{ "scale", CMD_SCALE, 1 }, { "update", CMD_UPDATE, 1 },
	};
	size_t i;

	d->cmd = CMD_DEMO;
	if (a->npos == 0)
		return 0;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(a->pos[0], cmds[i].word) == 0)
			break;
	if (i == sizeof(cmds) / sizeof(cmds[0])) {
		fprintf(stderr, "cplane: unknown command %s (want demo, create, delete, get, list, watch, scale or "
		    "update)\n",
		    a->pos[0]);
		return EXIT_USAGE;
	}
	if (a->npos != (size_t)cmds[i].nargs + 1) {
		fprintf(stderr, "cplane: %s takes %s\n", a->pos[0], cmds[i].nargs ? "one NAME" : "no arguments");
		return EXIT_USAGE;
	}
	d->cmd = cmds[i].cmd;
	if (cmds[i].nargs)
		d->name = a->pos[1];
	return 0;
}

/* The token the calls carry (driver/token.h).  0, or the exit status. */
static int load_token(struct driver *d, const struct driver_args *a)
{
	char err[768];

	if (driver_token_load(&d->token, a->token_file, err, sizeof(err)) < 0) {
		fprintf(stderr, "cplane: %s\n", err);
		return EXIT_USAGE;
	}
	if (d->token.header) {
		d->auth_md.name = "authorization";
		d->auth_md.name_len = 13;
		d->auth_md.value = d->token.header;
		d->auth_md.value_len = strlen(d->token.header);
	}
	return 0;
}

/* The command's settings from the flags, defaults filled in.  0, or the exit status. */
static int spec_args(struct driver *d, struct driver_args *a)
{
	const struct driver_spec_flags *f = &a->spec;
	int rich = f->env.n || f->port.n || f->label.n || f->annotation.n || f->command.n || f->arg.n ||
	    f->service;
	char err[512];

	if (d->cmd == CMD_SCALE) {
		if (a->replicas < 0 || d->image || f->cpu || f->memory || rich) {
			fprintf(stderr, "cplane: scale takes NAME --replicas N and nothing else\n");
			return EXIT_USAGE;
		}
	} else if (d->cmd == CMD_UPDATE) {
		if (rich) {
			fprintf(stderr, "cplane: update changes --replicas, --image, --cpu and --memory only\n");
			return EXIT_USAGE;
		}
		if (a->replicas < 0 && !d->image && !f->cpu && !f->memory) {
			fprintf(stderr, "cplane: update needs --replicas, --image, --cpu or --memory\n");
			return EXIT_USAGE;
		}
	} else if (d->cmd != CMD_CREATE && (rich || f->cpu || f->memory)) {
		fprintf(stderr, "cplane: --env, --port, --label, --annotation, --command, --arg, --cpu, --memory and "
		    "--service are for create (and --cpu, --memory for update)\n");
		return EXIT_USAGE;
	}
	if (d->cmd == CMD_SCALE || d->cmd == CMD_UPDATE) {
		d->update_replicas = a->replicas < 0 ? 0 : a->replicas;
		if (a->replicas == 0) {
			fprintf(stderr, "cplane: bad value for --replicas: 0 (want 1 or more)\n");
			return EXIT_USAGE;
		}
		a->replicas = a->replicas < 0 ? 1 : a->replicas;
		d->spec = &a->spec;
		return 0;
	}
	if (d->cmd == CMD_CREATE) {
		if (driver_spec_build(&d->sreq, f, err, sizeof(err)) < 0) {
			fprintf(stderr, "cplane: %s\n", err);
			return EXIT_USAGE;
		}
		d->spec = &a->spec;
	}
	return 0;
}

static int apply_args(struct driver *d, struct driver_args *a)
{
	int rc;

	if ((rc = spec_args(d, a)) != 0)
		return rc;
	if (d->cmd == CMD_DEMO && d->name == NULL)
		d->name = "demo";
	if (a->replicas < 0)
		a->replicas = d->cmd == CMD_DEMO ? 30 : 1;
	if (a->replicas < 1 || a->replicas > 1000000) {
		fprintf(stderr, "cplane: bad value for --replicas: %lld (want 1 or more)\n", (long long)a->replicas);
		return EXIT_USAGE;
	}
	d->replicas = a->replicas;
	d->wait = a->wait;
	d->json = strcmp(a->output, "json") == 0;
	d->tty = isatty(2);
	d->timeout_given = a->timeout_ms >= 0;
	if (a->timeout_ms < 0)
		a->timeout_ms = 10 * 60 * 1000;
	d->exit_code = 1;
	d->deadline_ms = clock_mono_ms() + a->timeout_ms;
	return load_token(d, a);
}

/* Waits for the target, then the loop and the client on it.  0, or the exit status. */
static int connect_worker(struct driver *d, const char *target, const struct driver_tls_flags *tf,
    int64_t timeout_ms)
{
	char deftarget[160], err[512];
	struct sockaddr_storage ss;
	socklen_t sl;
	grpc_client_opts copts;
	int rc;

	if (target == NULL || target[0] == '\0') {
		default_target(deftarget, sizeof(deftarget));
		target = deftarget;
	}
	if (driver_tls_load(&d->tls, tf, target, err, sizeof(err)) < 0) {
		fprintf(stderr, "cplane: %s\n", err);
		return EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);	/* a reader gone is a write error, not a silent death */
	if (fcntl(1, F_GETFD) < 0) {
		/* stdout closed: hold fd 1 so no socket lands there, and fail the first print */
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (fd >= 0 && fd != 1)
			close(fd);
		d->stdout_closed = 1;
	}
	rc = wait_for_target(d, target, timeout_ms, &ss, &sl);
	if (rc != 0)
		return rc;
	d->loop = io_loop_new();
	grpc_client_opts_default(&copts);
	copts.authority = target;	/* copied by the client */
	copts.tls_anchors = d->tls.anchors;
	copts.tls_server_name = d->tls.server_name;
	copts.tls_chain = d->tls.chain;
	copts.tls_key = d->tls.key;
	d->client = d->loop ? grpc_client_new(d->loop, (struct sockaddr *)&ss, sl, &copts) : NULL;
	if (d->client == NULL) {
		fprintf(stderr, "cplane: out of memory\n");
		io_loop_free(d->loop);
		return 1;
	}
	return 0;
}

/* Starts the command's first step; the loop runs the rest. */
static void start_command(struct driver *d)
{
	switch (d->cmd) {
	case CMD_DEMO:
	case CMD_CREATE:
		start_create(d);
		break;
	case CMD_DELETE:
		start_delete(d);
		break;
	case CMD_GET: {
		Cplane__V1__GetClusterRequest g = CPLANE__V1__GET_CLUSTER_REQUEST__INIT;
		grpc_call_opts o = call_opts(d);
		g.name = (char *)d->name;
		if (grpc_client_call_pb(d->client, CPLANE_PATH_GET, &g.base, 0, &o, on_get_msg,
		    on_simple_done, d) == NULL)
			fail_status(d, "get", GRPC_RESOURCE_EXHAUSTED, "out of memory");
		break;
	}
	case CMD_LIST: {
		Cplane__V1__ListClustersRequest l = CPLANE__V1__LIST_CLUSTERS_REQUEST__INIT;
		grpc_call_opts o = call_opts(d);
		if (grpc_client_call_pb(d->client, CPLANE_PATH_LIST, &l.base, 0, &o,
		    on_list_msg, on_simple_done, d) == NULL)
			fail_status(d, "list", GRPC_RESOURCE_EXHAUSTED, "out of memory");
		break;
	}
	case CMD_WATCH:
		start_watch(d, GOAL_FOREVER);
		break;
	case CMD_SCALE:
	case CMD_UPDATE:
		start_update(d);
		break;
	}
}

int driver_main(int argc, char **argv)
{
	struct driver d;
	static struct driver_args a;	/* the flag lists are a few KiB */
	int rc;

	memset(&d, 0, sizeof(d));
	memset(&a, 0, sizeof(a));
	a.output = "table";
	a.log_format = "logfmt";
	a.log_level = "info";
	a.timeout_ms = -1;
	a.replicas = -1;
	a.wait = 1;
	io_timer_init(&d.nowait_timer, on_nowait_timer, &d);
	if ((rc = parse_flags(&d, &a, argc, argv)) != 0 || (rc = lookup_command(&d, &a)) != 0 ||
	    (rc = apply_args(&d, &a)) != 0 || (rc = connect_worker(&d, a.target, &a.tls, a.timeout_ms)) != 0) {
		driver_token_free(&d.token);
		driver_spec_free(&d.sreq);
		driver_tls_free(&d.tls);
		return rc;
	}
	start_command(&d);
	if (!io_loop_stopped(d.loop))
		io_loop_run(d.loop);
	end_progress(&d);
	if (d.loop)
		io_timer_stop(d.loop, &d.nowait_timer);
	grpc_client_free(d.client);
	io_loop_free(d.loop);
	driver_token_free(&d.token);
	driver_spec_free(&d.sreq);
	driver_tls_free(&d.tls);
	return d.output_failed ? 1 : d.exit_code;
}
