/* The cluster table: lookup, growth, removal, sorted listing. */
#include "harness.h"

#include "worker/table.h"

static void count_cb(struct cluster *c, void *arg)
{
	(void)c;
	(*(size_t *)arg)++;
}

static void test_add_find_remove(void)
{
	cluster_table *t = cluster_table_new();
	struct cluster *a, *b;

	CHECK(t != NULL);
	CHECK(cluster_table_find(t, "demo") == NULL);
	a = cluster_table_get_or_add(t, "demo");
	CHECK(a != NULL);
	CHECK_EQ_STR(a->name, "demo");
	CHECK_EQ_INT(a->phase, PHASE_ABSENT);
	b = cluster_table_get_or_add(t, "demo");
	CHECK(a == b);
	CHECK_EQ_INT(cluster_table_count(t), 1);
	CHECK(cluster_table_get_or_add(t, "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234") == NULL);
	cluster_table_remove(t, a);
	CHECK(cluster_table_find(t, "demo") == NULL);
	CHECK_EQ_INT(cluster_table_count(t), 0);
	cluster_table_free(t);
}

static void test_many_sorted(void)
{
	enum { N = 10000 };
	cluster_table *t = cluster_table_new();
	struct cluster **all = calloc(N, sizeof(*all)), *keep[N / 2];
	char name[32];
	size_t n, seen = 0;
	int sorted = 1, found = 1;

	for (int i = N - 1; i >= 0; i--) {
		snprintf(name, sizeof(name), "c-%05d", i);
		struct cluster *c = cluster_table_get_or_add(t, name);
		CHECK(c != NULL);
		if (i % 2 == 0)
			keep[i / 2] = c;
	}
	CHECK_EQ_INT(cluster_table_count(t), N);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "c-%05d", i);
		if (cluster_table_find(t, name) == NULL)
			found = 0;
	}
	CHECK(found);
	/* remove the odd ones; pointers to the rest stay valid across growth and removal */
	for (int i = 1; i < N; i += 2) {
		snprintf(name, sizeof(name), "c-%05d", i);
		cluster_table_remove(t, cluster_table_find(t, name));
	}
	CHECK_EQ_INT(cluster_table_count(t), N / 2);
	for (int i = 0; i < N / 2; i++) {
		snprintf(name, sizeof(name), "c-%05d", i * 2);
		if (cluster_table_find(t, name) != keep[i])
			found = 0;
	}
	CHECK(found);
	n = cluster_table_sorted(t, all);
	CHECK_EQ_INT(n, N / 2);
	for (size_t i = 1; i < n; i++)
		if (strcmp(all[i - 1]->name, all[i]->name) >= 0)
			sorted = 0;
	CHECK(sorted);
	CHECK_EQ_STR(all[0]->name, "c-00000");
	cluster_table_foreach(t, count_cb, &seen);
	CHECK_EQ_INT(seen, N / 2);
	free(all);
	cluster_table_free(t);
}

/* 100,000 clusters: each found, sized to its name, removals leave the rest. */
static void test_100k(void)
{
	enum { N = 100000 };
	cluster_table *t = cluster_table_new();
	static struct cluster *all[N];
	char name[CLUSTER_NAME_MAX + 2];
	size_t bad = 0, n;

	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "c-%06d", i);
		all[i] = cluster_table_get_or_add(t, name);
		if (all[i] == NULL || strcmp(all[i]->name, name) != 0 || all[i]->phase != PHASE_ABSENT)
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(cluster_table_count(t), N);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "c-%06d", i);
		if (cluster_table_find(t, name) != all[i] || cluster_table_get_or_add(t, name) != all[i])
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	for (int i = 0; i < N; i += 2)
		cluster_table_remove(t, all[i]);
	CHECK_EQ_INT(cluster_table_count(t), N / 2);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "c-%06d", i);
		if ((cluster_table_find(t, name) != NULL) != (i % 2 == 1))
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	n = cluster_table_sorted(t, all);
	CHECK_EQ_INT(n, N / 2);
	for (size_t i = 1; i < n; i++)
		if (strcmp(all[i - 1]->name, all[i]->name) >= 0)
			bad++;
	CHECK_EQ_INT(bad, 0);
	/* The longest name fits; one more does not. */
	memset(name, 'x', CLUSTER_NAME_MAX);
	name[CLUSTER_NAME_MAX] = '\0';
	CHECK(cluster_table_get_or_add(t, name) != NULL);
	name[CLUSTER_NAME_MAX] = 'x';
	name[CLUSTER_NAME_MAX + 1] = '\0';
	CHECK(cluster_table_get_or_add(t, name) == NULL);
	cluster_table_free(t);
}

/* Entries with the same text share one copy; each keeps its own when one changes or goes. */
static void test_shared_texts(void)
{
	cluster_table *t = cluster_table_new();
	struct cluster *a = cluster_table_get_or_add(t, "a"), *b = cluster_table_get_or_add(t, "b");
	char img[32];

	snprintf(img, sizeof(img), "nginx:1.25");
	cluster_set_text(&a->image, img);
	cluster_set_text(&b->image, "nginx:1.25");
	CHECK(a->image == b->image);
	CHECK(a->image != img);
	cluster_set_text(&a->failure, "nginx:1.25");
	CHECK(a->failure == a->image);
	cluster_set_text(&a->image, "nginx:1.26");
	CHECK_EQ_STR(a->image, "nginx:1.26");
	CHECK_EQ_STR(b->image, "nginx:1.25");
	cluster_table_remove(t, b);
	CHECK_EQ_STR(a->failure, "nginx:1.25");
	cluster_set_text(&a->failure, "");
	CHECK(a->failure == NULL);
	cluster_set_text(&a->image, NULL);
	CHECK(a->image == NULL);
	b = cluster_table_get_or_add(t, "b");
	cluster_set_text(&b->image, "nginx:1.25");
	CHECK_EQ_STR(b->image, "nginx:1.25");
	cluster_table_free(t);
}

int main(void)
{
	RUN(test_add_find_remove);
	RUN(test_many_sorted);
	RUN(test_100k);
	RUN(test_shared_texts);
	return harness_finish();
}
