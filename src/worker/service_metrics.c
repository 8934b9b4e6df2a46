/* The service's Prometheus families: calls by method and code, latency, clusters by phase. */
#include "worker/service.h"

#include "grpc/grpc.h"

void worker_service_write_metrics(buf *out, void *arg)
{
	const worker_service *s = arg;
	worker_service_stats stats, *st = &stats;
	uint64_t phases[PHASE_COUNT];
	static const enum cluster_phase shown[] = { PHASE_CREATING, PHASE_READY, PHASE_UPDATING, PHASE_DELETING,
	    PHASE_FAILED };

	worker_service_get_stats(s, &stats);
	buf_append_str(out, "# HELP cplane_grpc_calls_total gRPC calls answered, by method and status code.\n"
	    "# TYPE cplane_grpc_calls_total counter\n");
	for (int m = 0; m < WM_COUNT; m++)
		for (int code = 0; code <= GRPC_STATUS_MAX; code++)
			if (st->calls[m][code])
				buf_printf(out, "cplane_grpc_calls_total{method=\"%s\",code=\"%s\"} %llu\n",
				    worker_method_names[m], grpc_status_name(code),
				    (unsigned long long)st->calls[m][code]);
	buf_append_str(out, "# HELP cplane_grpc_call_duration_seconds Time from a call's start to its answer.\n"
	    "# TYPE cplane_grpc_call_duration_seconds histogram\n");
	for (int m = 0; m < WM_COUNT; m++) {
		uint64_t cum = 0;
		for (int b = 0; b < WORKER_LATENCY_BUCKETS; b++) {
			cum += st->latency_buckets[m][b];
			buf_printf(out, "cplane_grpc_call_duration_seconds_bucket{method=\"%s\",le=\"%g\"} %llu\n",
			    worker_method_names[m], worker_latency_bounds[b], (unsigned long long)cum);
		}
		cum += st->latency_buckets[m][WORKER_LATENCY_BUCKETS];
		buf_printf(out, "cplane_grpc_call_duration_seconds_bucket{method=\"%s\",le=\"+Inf\"} %llu\n"
		    "cplane_grpc_call_duration_seconds_sum{method=\"%s\"} %.6f\n"
		    "cplane_grpc_call_duration_seconds_count{method=\"%s\"} %llu\n",
		    worker_method_names[m], (unsigned long long)cum, worker_method_names[m], st->latency_sum_s[m],
		    worker_method_names[m], (unsigned long long)cum);
	}
	worker_service_phase_counts(s, phases);
	buf_append_str(out, "# HELP cplane_clusters Clusters known to the worker, by phase.\n"
	    "# TYPE cplane_clusters gauge\n");
	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
		buf_printf(out, "cplane_clusters{phase=\"%s\"} %llu\n", cluster_phase_name(shown[i]),
		    (unsigned long long)phases[shown[i]]);
	buf_printf(out, "# HELP cplane_waiting_calls Calls waiting on a cluster or on the first sync.\n"
	    "# TYPE cplane_waiting_calls gauge\ncplane_waiting_calls %zu\n"
	    "# HELP cplane_synced Whether the first list of Deployments has completed.\n"
	    "# TYPE cplane_synced gauge\ncplane_synced %d\n", st->waiting_calls, worker_service_synced(s));
}
