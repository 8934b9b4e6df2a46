/*
 * Kubernetes JSON in, records out: the watch-event decoder, the list decoder,
 * the pod diagnosis and Status parsing, each fed the input whole and split in
 * two at a point taken from the input; the two runs must agree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/deploy.h"
#include "k8s/pods.h"
#include "k8s/status.h"

struct tally {
	uint64_t n, sum;
};

static int on_ev(void *ctx, int type, const k8s_deployment *d, const k8s_error *st)
{
	struct tally *t = ctx;

	t->n++;
	t->sum = t->sum * 31 + (uint64_t)type;
	if (d) {
		/* every string must be terminated within its field */
		t->sum += strlen(d->name) + strlen(d->resource_version) + strlen(d->image) + strlen(d->uid) +
		    strlen(d->label_name) + strlen(d->label_cluster) + strlen(d->available.reason) +
		    strlen(d->progressing.reason) + strlen(d->replica_failure.reason) + (uint64_t)d->replicas +
		    (uint64_t)d->generation + (uint64_t)d->created_unix_ms + (uint64_t)k8s_deployment_ready(d) +
		    (uint64_t)k8s_deployment_failed(d);
	}
	if (st)
		t->sum += strlen(st->reason) + strlen(st->message) + (uint64_t)st->code;
	return 0;
}

static void run(int mode, const uint8_t *data, size_t size, size_t split)
{
	struct tally a = { 0, 0 }, b = { 0, 0 };
	k8s_deploy_decoder *d1 = k8s_deploy_decoder_new(mode, on_ev, &a);
	k8s_deploy_decoder *d2 = k8s_deploy_decoder_new(mode, on_ev, &b);
	int r1, r2;

	if (d1 == NULL || d2 == NULL)
		abort();
	r1 = k8s_deploy_decoder_feed(d1, data, size);
	if (r1 >= 0)
		r1 = k8s_deploy_decoder_finish(d1);
	r2 = k8s_deploy_decoder_feed(d2, data, split);
	if (r2 >= 0)
		r2 = k8s_deploy_decoder_feed(d2, data + split, size - split);
	if (r2 >= 0)
		r2 = k8s_deploy_decoder_finish(d2);
	if ((r1 < 0) != (r2 < 0) || (r1 >= 0 && (a.n != b.n || a.sum != b.sum)))
		abort();
	if (strlen(k8s_deploy_decoder_continue(d1)) >= 4096 || strlen(k8s_deploy_decoder_list_rv(d1)) >= K8S_RV_MAX)
		abort();
	k8s_deploy_decoder_free(d1);
	k8s_deploy_decoder_free(d2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t split = size ? data[0] % (size + 1) : 0;
	char line[K8S_DIAG_MAX];
	k8s_error e;

	run(K8S_DECODE_WATCH, data, size, split);
	run(K8S_DECODE_LIST, data, size, split);
	run(K8S_DECODE_OBJECT, data, size, split);

	k8s_diag *dg = k8s_diag_new(0, 3);
	if (dg == NULL)
		abort();
	if (k8s_diag_feed(dg, data, size) >= 0)
		k8s_diag_finish(dg);
	if (k8s_diag_format(dg, line, sizeof(line)) >= sizeof(line) || strlen(line) >= sizeof(line))
		abort();
	k8s_diag_free(dg);

	k8s_status_parse(data, size, 418, &e);
	if (strlen(e.reason) >= sizeof(e.reason) || strlen(e.message) >= sizeof(e.message) || e.code != 418)
		abort();
	return 0;
}
