/*
 * Path-aware extraction on top of the tokenizer.
 *
 * Implementation notes.  The declared paths form a trie (json_pathset).  The
 * extractor keeps the trie node of every open container and of the value
 * about to come ("pending").  A value whose node is absent, or which leads
 * nowhere, is handed to json_skip_next() before the parser reaches it, so the
 * parser consumes it in bulk without tokens; a container that turns out to
 * hold nothing wanted (say an array where only keys were declared, or a
 * declared leaf that is an object) is dropped with json_skip_rest().  Keys are
 * only compared at levels some path passes through.
 *
 * JSON_EXTRACT_STRICT replaces both kinds of skipping with tokenizing and
 * ignoring, so skipped values are validated as strictly as the rest; the
 * events are the same either way for valid input.
 */
#include "json_int.h"
#include "json_keys.h"

#include <string.h>

#define NONE JSON__NONE

static int add_any_child(json_pathset *ps, unsigned parent, unsigned *out)
{
	unsigned i = ps->node[parent].any_child;
	struct json_pnode *n;

	if (i) {
		*out = i;
		return 0;
	}
	if (ps->nnodes >= JSON_PATHS_MAX_NODES)
		return JSON_EUSAGE;
	i = ps->nnodes++;
	n = &ps->node[i];
	n->path = -1;
	n->parent = (uint16_t)parent;
	n->is_any = 1;
	ps->node[parent].has_key = 1;
	ps->node[parent].any_child = (uint16_t)i;
	ps->node[parent].key_lens = ~(uint64_t)0;	/* any key may match */
	/* Not on the child list: the list and the hash hold named keys only. */
	*out = i;
	return 0;
}

static int add_child(json_pathset *ps, unsigned parent, const char *key, size_t len, int elem,
    unsigned *out)
{
	unsigned i;
	struct json_pnode *n;

	for (i = ps->node[parent].child; i; i = ps->node[i].next) {
		n = &ps->node[i];
		if (elem ? n->elem : (!n->elem && n->key_len == len &&
		    memcmp(ps->pool + n->key_off, key, len) == 0)) {
			*out = i;
			return 0;
		}
	}
	if (ps->nnodes >= JSON_PATHS_MAX_NODES)
		return JSON_EUSAGE;
	i = ps->nnodes++;
	n = &ps->node[i];
	n->path = -1;
	n->elem = (uint8_t)elem;
	if (!elem) {
		/* The key was unescaped into the pool's free tail already. */
		n->key_off = (uint16_t)(key - ps->pool);
		n->key_len = (uint16_t)len;
		ps->pool_len += (unsigned)len;
		ps->node[parent].has_key = 1;
		ps->node[parent].key_lens |= (uint64_t)1 << (len % 64);
	} else {
		ps->node[parent].has_elem = 1;
		ps->node[parent].elem_child = (uint16_t)i;
	}
	n->parent = (uint16_t)parent;
	n->next = ps->node[parent].child;
	ps->node[parent].child = (uint16_t)i;
	if (!elem) {
		unsigned h = key_hash(parent, key, len);

		while (ps->hash[h])
			h = (h + 1) & (JSON_PATHS_HASH - 1);
		ps->hash[h] = (uint16_t)i;
	}
	*out = i;
	return 0;
}

static int compile_one(json_pathset *ps, const char *s, int index)
{
	unsigned cur = 0;
	int after_dot = 0;

	if (*s == '\0')
		return JSON_EUSAGE;
	for (;;) {
		unsigned next;

		if (s[0] == '[' && !after_dot) {
			if (s[1] != '*' || s[2] != ']')
				return JSON_EUSAGE;
			s += 3;
			if (add_child(ps, cur, NULL, 0, 1, &next) < 0)
				return JSON_EUSAGE;
		} else if (s[0] == '*' && (s[1] == '\0' || s[1] == '.' || s[1] == '[')) {
			s++;
			if (add_any_child(ps, cur, &next) < 0)
				return JSON_EUSAGE;
		} else {
			char *k = ps->pool + ps->pool_len;
			size_t len = 0;

			while (*s && *s != '.' && *s != '[') {
				if (*s == '\\' && *++s == '\0')
					return JSON_EUSAGE;
				if (ps->pool_len + len >= JSON_PATHS_POOL)
					return JSON_EUSAGE;
				k[len++] = *s++;
			}
			if (len == 0)
				return JSON_EUSAGE;
			if (add_child(ps, cur, k, len, 0, &next) < 0)
				return JSON_EUSAGE;
		}
		cur = next;
		if (*s == '\0')
			break;
		after_dot = *s == '.';
		if (after_dot && *++s == '\0')
			return JSON_EUSAGE;
	}
	if (ps->node[cur].path >= 0)
		return JSON_EUSAGE;
	ps->node[cur].path = (int16_t)index;
	return 0;
}

int json_pathset_compile(json_pathset *ps, const char *const *paths, size_t n)
{
	size_t i;

	memset(ps, 0, sizeof(*ps));
	ps->nnodes = 1;
	ps->node[0].path = -1;
	if (n > INT16_MAX)
		return JSON_EUSAGE;
	for (i = 0; i < n; i++) {
		if (!paths[i] || compile_one(ps, paths[i], (int)i) < 0)
			return JSON_EUSAGE;
	}
	return 0;
}

/* Members nobody asked for never become tokens (the byte-wise path's
 * callback; the member loop calls json__key_filter() itself). */
static int key_filter(void *ctx, const char *key, size_t len, unsigned depth)
{
	return json__key_filter(ctx, key, len, depth);
}

void json_extract_init(json_extract *x, const json_pathset *ps, char *strbuf, size_t strbuf_len,
    unsigned flags, json_event_fn fn, void *ctx)
{
	memset(x, 0, sizeof(*x));
	json_parser_init(&x->p, strbuf, strbuf_len, flags & (JSON_SINGLE | JSON_BASELINE_SIMD | JSON_SIMD_MASK));
	x->ps = ps;
	x->fn = fn;
	x->ctx = ctx;
	x->flags = flags;
	if (!(flags & JSON_EXTRACT_STRICT)) {
		json_parser_set_key_filter(&x->p, key_filter, x);
		json__set_extract_filter(&x->p, x);
	}
	prepare(x, 0);
}

static int sink(void *ctx, json_token *t)
{
	return json__on_token(ctx, t);
}

static int drain(json_extract *x)
{
	int r = json__drain(&x->p, sink, x);

	if (r < 0)
		x->err = r;
	return r;
}

int json_extract_feed(json_extract *x, const void *data, size_t len)
{
	if (x->err)
		return x->err;
	json_feed(&x->p, data, len);
	return drain(x);
}

int json_extract_finish(json_extract *x)
{
	if (x->err)
		return x->err;
	json_feed_end(&x->p);
	return drain(x);
}
