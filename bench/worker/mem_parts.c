/*
 * Where the worker's memory per cluster goes: the structure sizes, and the
 * RSS that N records cost in the informer's cache and in the cluster table
 * under musl's allocator (the release binary's), measured in this process.
 * Prints key=value lines.
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

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	k8s_cache *cache = k8s_cache_new();
	cluster_table *t = cluster_table_new();
	static k8s_deployment d;
	long r0, r1, r2;
	char name[64];

	if (cache == NULL || t == NULL || n <= 0)
		return 1;
	printf("sizeof_k8s_deployment=%zu\n", sizeof(k8s_deployment));
	printf("sizeof_k8s_condition=%zu\n", sizeof(k8s_condition));
	printf("sizeof_struct_cluster=%zu\n", sizeof(struct cluster));
	printf("sizeof_cluster_observed=%zu\n", sizeof(struct cluster_observed));
	r0 = rss_kib();
	for (int i = 0; i < n; i++) {
		snprintf(d.name, sizeof(d.name), "bench-%05d", i);
		if (k8s_cache_put(cache, &d, NULL) == NULL)
			return 1;
	}
	r1 = rss_kib();
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "bench-%05d", i);
		if (cluster_table_get_or_add(t, name) == NULL)
			return 1;
	}
	r2 = rss_kib();
	printf("cache_bytes_per_record=%ld\n", (r1 - r0) * 1024 / n);
	printf("table_bytes_per_cluster=%ld\n", (r2 - r1) * 1024 / n);
	k8s_cache_free(cache);
	cluster_table_free(t);
	return 0;
}
