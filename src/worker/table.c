/*
 * The entries live in base/htab's table (pointers; hashes beside them).
 * One allocation per cluster, its name included, plus the slot arrays; the
 * entries' strings are shared between entries (cluster_set_text).
 */
#include "worker/table.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/htab.h"
#include "base/mem.h"

struct cluster_table {
	htab t;
};

static const char *cluster_key(const void *c)
{
	return ((const struct cluster *)c)->name;
}

static void shared_release(char *s);

static void cluster_free(struct cluster *c)
{
	shared_release(c->want_image);
	shared_release(c->image);
	shared_release(c->failure);
	free(c->spec_blob);
	shared_release(c->service_dns);
	free(c);
}

/*
 * The entries' strings are shared: one copy of each distinct text, counted,
 * in one table for the process (10,000 clusters running the same image keep
 * it once).  Single-threaded, like the rest of the worker.
 */
struct shared {
	uint32_t refs;
	char s[];
};

static htab shared_texts;

static const char *shared_key(const void *r)
{
	return ((const struct shared *)r)->s;
}

static struct shared *shared_of(char *s)
{
	return (struct shared *)(void *)(s - offsetof(struct shared, s));
}

static void shared_release(char *s)
{
	struct shared *e;

	if (s == NULL)
		return;
	e = shared_of(s);
	if (--e->refs)
		return;
	htab_remove(&shared_texts, e->s);
	free(e);
	if (shared_texts.count == 0)
		htab_free(&shared_texts);
}

void cluster_set_text(char **slot, const char *v)
{
	struct shared *e;
	size_t n;

	if (v == NULL || v[0] == '\0') {
		shared_release(*slot);
		*slot = NULL;
		return;
	}
	if (*slot && strcmp(*slot, v) == 0)
		return;
	if (shared_texts.key == NULL)
		htab_init(&shared_texts, shared_key);
	e = htab_find(&shared_texts, v);
	if (e == NULL) {
		n = strlen(v);
		e = xmalloc(sizeof(*e) + n + 1);
		e->refs = 0;
		memcpy(e->s, v, n + 1);
		htab_insert(&shared_texts, e);
	}
	e->refs++;
	shared_release(*slot);
	*slot = e->s;
}

cluster_table *cluster_table_new(void)
{
	cluster_table *t = xcalloc(1, sizeof(*t));

	htab_init(&t->t, cluster_key);
	return t;
}

void cluster_table_free(cluster_table *t)
{
	size_t pos = 0;
	struct cluster *c;

	if (t == NULL)
		return;
	while ((c = htab_next(&t->t, &pos)) != NULL)
		cluster_free(c);
	htab_free(&t->t);
	free(t);
}

struct cluster *cluster_table_find(const cluster_table *t, const char *name)
{
	return htab_find(&t->t, name);
}

struct cluster *cluster_table_get_or_add(cluster_table *t, const char *name)
{
	struct cluster *c = cluster_table_find(t, name);
	size_t len;

	if (c)
		return c;
	len = strlen(name);
	if (len > CLUSTER_NAME_MAX)
		return NULL;
	/* The name starts right after spec_hash, in what would be padding. */
	c = xcalloc(1, offsetof(struct cluster, name) + len + 1 > sizeof(*c) ?
	    offsetof(struct cluster, name) + len + 1 : sizeof(*c));
	memcpy(c->name, name, len + 1);
	c->phase = PHASE_ABSENT;
	htab_insert(&t->t, c);
	return c;
}

void cluster_table_remove(cluster_table *t, struct cluster *c)
{
	if (htab_find(&t->t, c->name) != c)
		return;
	htab_remove(&t->t, c->name);
	cluster_free(c);
}

size_t cluster_table_count(const cluster_table *t)
{
	return t->t.count;
}

static int by_name(const void *a, const void *b)
{
	const struct cluster *x = *(struct cluster *const *)a, *y = *(struct cluster *const *)b;

	return strcmp(x->name, y->name);
}

size_t cluster_table_sorted(const cluster_table *t, struct cluster **out)
{
	size_t n = 0, pos = 0;
	struct cluster *c;

	while ((c = htab_next(&t->t, &pos)) != NULL)
		out[n++] = c;
	qsort(out, n, sizeof(*out), by_name);
	return n;
}

void cluster_table_foreach(const cluster_table *t, void (*fn)(struct cluster *c, void *arg), void *arg)
{
	size_t pos = 0;
	struct cluster *c;

	while ((c = htab_next(&t->t, &pos)) != NULL)
		fn(c, arg);
}
