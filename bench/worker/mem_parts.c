/*
 * Where the worker's memory per cluster goes: the structure sizes, and the
 * RSS that N clusters cost in the informer's cache and in the cluster table
 * under musl's allocator (the release binary's), measured in this process,
 * with records shaped as kubesim's bulk-create makes them (uid, resource
 * version, labels, image, Available and Progressing conditions).  Prints
 * key=value lines; argv: the counts to measure (default 10000 100000).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/cache.h"
#include "k8s/deploy.h"
#include "worker/table.h"

static long rss_kib(void)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			v = atol(line + 6);
	fclose(f);
	return v;
}

static void record(k8s_deployment *d, int i)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "bench-%05d", i);
	snprintf(d->uid, sizeof(d->uid), "%08x-5f0c-4f7e-9d2a-%012x", (unsigned)i * 2654435761u, (unsigned)i);
	snprintf(d->resource_version, sizeof(d->resource_version), "%d", 100000 + i);
	snprintf(d->label_name, sizeof(d->label_name), "%s", d->name);
	snprintf(d->label_cluster, sizeof(d->label_cluster), "%s", d->name);
	d->managed = 1;
	d->generation = 1;
	d->observed_generation = 1;
	d->created_unix_ms = 1764072000000 + i;
	d->available.status = K8S_COND_TRUE;
	snprintf(d->available.reason, sizeof(d->available.reason), "MinimumReplicasAvailable");
	d->progressing.status = K8S_COND_TRUE;
	snprintf(d->progressing.reason, sizeof(d->progressing.reason), "NewReplicaSetAvailable");
	snprintf(d->progressing.message, sizeof(d->progressing.message),
	    "ReplicaSet \"%s-7d9c8b5f4\" has successfully progressed.", d->name);
	snprintf(d->image, sizeof(d->image), "registry.k8s.io/pause:3.9");
}

static int measure(int n)
{
	k8s_cache *cache = k8s_cache_new();
	cluster_table *t = cluster_table_new();
	static k8s_deployment d;
	long r0, r1, r2;

	if (cache == NULL || t == NULL || n <= 0)
		return 1;
	r0 = rss_kib();
	for (int i = 0; i < n; i++) {
		record(&d, i);
		k8s_cache_put(cache, &d, NULL);
	}
	r1 = rss_kib();
	for (int i = 0; i < n; i++) {
		struct cluster *c;

		record(&d, i);
		c = cluster_table_get_or_add(t, d.name);
		if (c == NULL)
			return 1;
		cluster_set_text(&c->image, d.image);
	}
	r2 = rss_kib();
	printf("n=%d cache_packed_bytes_per_record=%zu\n", n, k8s_cache_record_bytes(cache) / (size_t)n);
	printf("n=%d cache_bytes_per_record=%ld\n", n, (r1 - r0) * 1024 / n);
	printf("n=%d table_bytes_per_cluster=%ld\n", n, (r2 - r1) * 1024 / n);
	printf("n=%d bytes_per_cluster=%ld\n", n, (r2 - r0) * 1024 / n);
	k8s_cache_free(cache);
	cluster_table_free(t);
	return 0;
}

int main(int argc, char **argv)
{
	printf("sizeof_k8s_deployment=%zu\n", sizeof(k8s_deployment));
	printf("sizeof_struct_cluster=%zu\n", sizeof(struct cluster));
	printf("sizeof_cluster_observed=%zu\n", sizeof(struct cluster_observed));
	if (argc < 2)
		return measure(10000) || measure(100000);
	for (int i = 1; i < argc; i++)
		if (measure(atoi(argv[i])))
			return 1;
	return 0;
}
