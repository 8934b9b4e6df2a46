/*
 * HPACK (RFC 7541): tables, integers, the block decoder and the encoder.
 *
 * Implementation notes.
 *
 * - The dynamic table is a ring of entries (newest at `head`, RFC index 62 is
 *   the newest); each entry's name and value share one allocation, made on
 *   insert.  A new entry is copied before anything is evicted, because its
 *   name may point into the very entry that the insert evicts (RFC 7541 4.4).
 * - The decoder hands out views: literal strings point into the block,
 *   indexed ones into the tables, Huffman output into a scratch buf that is
 *   reused for every field (reset, never freed, between fields).
 * - The header list limit is checked before a string is decoded, with a lower
 *   bound for Huffman strings (at most 30 bits per octet).  Past the limit
 *   the decoder stops calling back and only validates what it need not keep,
 *   but goes on to the end of the block so the dynamic table stays in step
 *   with the peer's; the cost stays linear in the block.
 * - Huffman strings of 8..1536 octets are remembered (encoded and decoded,
 *   four slots, round robin): peers repeat never-indexed literals such as
 *   authorization on every request, and comparing costs ~1 instruction per
 *   octet against ~30 to decode.  A hit is copied into scratch, not pointed
 *   at, because a later string of the same field may replace its slot.
 * - What is kept (table entries, memo strings) carries the value check's
 *   verdict, run once when kept, and an id from a process-wide counter that
 *   is never reused, so equal ids mean equal bytes.
 * - The encoder writes a field straight into the caller's buf after one
 *   reserve of its worst-case size, and updates its table before committing
 *   so that a failed allocation leaves both unchanged.
 * - Allocation (base/mem.h): the table's entries are bounded by its size
 *   limit and come from x*alloc; only the bufs (the Huffman scratch, the
 *   caller's output) can fail, as HPACK_ERR_NOMEM.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h2/hpack.h"
#include "base/mem.h"
#include "base/str.h"

#define ENTRY_OVERHEAD 32	/* RFC 7541 4.1 */
#define STATIC_COUNT 61
#define DEFAULT_LIMIT 4096

struct hpack_entry {
	uint8_t *data;		/* name bytes then value bytes */
	uint32_t name_len;
	uint32_t value_len;
	int checked;		/* decoder: its value check passed on the value at insert */
	uint64_t id;		/* decoder: names the value bytes (hpack_decoder_value_id) */
};

/* Never reused: an id names one byte string for the life of the process. */
static _Atomic uint64_t last_value_id;

static uint64_t new_value_id(void)
{
	return atomic_fetch_add(&last_value_id, 1) + 1;
}

/* ---- static table (RFC 7541 Appendix A) -------------------------------- */

struct static_entry {
	const char *name;
	const char *value;
	uint8_t name_len;
	uint8_t value_len;
};

#define S(n, v) {n, v, sizeof(n) - 1, sizeof(v) - 1}
static const struct static_entry static_table[STATIC_COUNT] = {
	S(":authority", ""), S(":method", "GET"), S(":method", "POST"), S(":path", "/"),
	S(":path", "/index.html"), S(":scheme", "http"), S(":scheme", "https"),
	S(":status", "200"), S(":status", "204"), S(":status", "206"), S(":status", "304"),
	S(":status", "400"), S(":status", "404"), S(":status", "500"), S("accept-charset", ""),
	S("accept-encoding", "gzip, deflate"), S("accept-language", ""), S("accept-ranges", ""),
	S("accept", ""), S("access-control-allow-origin", ""), S("age", ""), S("allow", ""),
	S("authorization", ""), S("cache-control", ""), S("content-disposition", ""),
	S("content-encoding", ""), S("content-language", ""), S("content-length", ""),
	S("content-location", ""), S("content-range", ""), S("content-type", ""),
	S("cookie", ""), S("date", ""), S("etag", ""), S("expect", ""), S("expires", ""),
	S("from", ""), S("host", ""), S("if-match", ""), S("if-modified-since", ""),
	S("if-none-match", ""), S("if-range", ""), S("if-unmodified-since", ""),
	S("last-modified", ""), S("link", ""), S("location", ""), S("max-forwards", ""),
	S("proxy-authenticate", ""), S("proxy-authorization", ""), S("range", ""),
	S("referer", ""), S("refresh", ""), S("retry-after", ""), S("server", ""),
	S("set-cookie", ""), S("strict-transport-security", ""), S("transfer-encoding", ""),
	S("user-agent", ""), S("vary", ""), S("via", ""), S("www-authenticate", ""),
};
#undef S

const char *hpack_strerror(int err)
{
	switch (err) {
	case HPACK_OK: return "ok";
	case HPACK_ERR_TRUNCATED: return "hpack: block ends inside a representation";
	case HPACK_ERR_INTEGER: return "hpack: integer too large or too long";
	case HPACK_ERR_INDEX: return "hpack: index 0 or past the tables";
	case HPACK_ERR_HUFFMAN: return "hpack: invalid Huffman string (EOS or bad padding)";
	case HPACK_ERR_TABLE_SIZE: return "hpack: bad dynamic table size update";
	case HPACK_ERR_LIST_TOO_LARGE: return "hpack: header list too large";
	case HPACK_ERR_NOMEM: return "hpack: out of memory";
	case HPACK_ERR_CALLBACK: return "hpack: stopped by callback";
	case HPACK_ERR_STRING_TOO_LONG: return "hpack: string too long";
	}
	return "hpack: unknown error";
}

/* ---- dynamic table --------------------------------------------------- */

static void table_init(hpack_table *t, size_t max_size)
{
	memset(t, 0, sizeof(*t));
	t->max_size = max_size;
}

/* i = 0 is the newest entry. */
static struct hpack_entry *table_get(const hpack_table *t, size_t i)
{
	return &t->entries[(t->head - i) & (t->entries_cap - 1)];
}

static void table_evict_oldest(hpack_table *t)
{
	struct hpack_entry *e = table_get(t, t->count - 1);

	t->size -= (size_t)e->name_len + e->value_len + ENTRY_OVERHEAD;
	free(e->data);
	e->data = NULL;
	t->count--;
	t->changes++;
}

static void table_shrink(hpack_table *t, size_t limit)
{
	while (t->size > limit)
		table_evict_oldest(t);
}

static void table_free(hpack_table *t)
{
	table_shrink(t, 0);
	free(t->entries);
	memset(t, 0, sizeof(*t));
}

static void table_set_max(hpack_table *t, size_t max_size)
{
	t->changes++;
	t->max_size = max_size;
	table_shrink(t, max_size);
}

/* Makes room for one more entry in the ring; oldest ends up at 0.  The
 * table's byte size bounds its count, so the array is ours to size. */
static void table_grow(hpack_table *t)
{
	size_t cap = t->entries_cap ? t->entries_cap * 2 : 16, i;
	struct hpack_entry *n = xcalloc(cap, sizeof(*n));

	for (i = 0; i < t->count; i++)
		n[t->count - 1 - i] = *table_get(t, i);
	free(t->entries);
	t->entries = n;
	t->entries_cap = cap;
	t->head = t->count - 1;	/* wraps to SIZE_MAX when empty; insert adds 1 */
}

/*
 * Inserts name/value as the newest entry.  name or value may point into an
 * entry that this insert evicts: both are copied first.
 */
static int table_add(hpack_table *t, const uint8_t *name, size_t nl,
    const uint8_t *value, size_t vl, int checked, uint64_t id)
{
	size_t sz = nl + vl + ENTRY_OVERHEAD;
	uint8_t *data;

	t->changes++;
	if (sz > t->max_size) {
		/* RFC 7541 4.4: not an error, the table just ends up empty */
		table_shrink(t, 0);
		return HPACK_OK;
	}
	if (t->count == t->entries_cap)
		table_grow(t);
	/* sz <= max_size, a limit we set (or accepted, capped, from SETTINGS). */
	data = xmalloc(nl + vl + 1);
	if (nl)
		memcpy(data, name, nl);
	if (vl)
		memcpy(data + nl, value, vl);
	table_shrink(t, t->max_size - sz);
	t->head = (t->head + 1) & (t->entries_cap - 1);
	t->entries[t->head].data = data;
	t->entries[t->head].name_len = (uint32_t)nl;
	t->entries[t->head].value_len = (uint32_t)vl;
	t->entries[t->head].checked = checked;
	t->entries[t->head].id = id;
	t->count++;
	t->size += sz;
	return HPACK_OK;
}

int hpack_table_entry(const hpack_table *t, size_t i, const uint8_t **name, size_t *name_len,
    const uint8_t **value, size_t *value_len)
{
	const struct hpack_entry *e;

	if (i >= t->count)
		return -1;
	e = table_get(t, i);
	*name = e->data;
	*name_len = e->name_len;
	*value = e->data + e->name_len;
	*value_len = e->value_len;
	return 0;
}

/* ---- integers (RFC 7541 5.1) ----------------------------------------- */

int hpack_decode_int(const uint8_t *in, size_t len, unsigned prefix_bits, uint32_t *out)
{
	uint32_t mask = (1u << prefix_bits) - 1;
	uint64_t v;
	unsigned shift = 0;
	size_t i;

	if (len == 0)
		return 0;
	v = in[0] & mask;
	if (v < mask) {
		*out = (uint32_t)v;
		return 1;
	}
	for (i = 1;; i++) {
		if (i >= len)
			return 0;
		v += (uint64_t)(in[i] & 0x7f) << shift;
		if (v > UINT32_MAX)
			return HPACK_ERR_INTEGER;
		if (!(in[i] & 0x80))
			break;
		shift += 7;
		/* 5 continuation octets carry 35 bits: any more is padding we refuse */
		if (shift > 28)
			return HPACK_ERR_INTEGER;
	}
	*out = (uint32_t)v;
	return (int)i + 1;
}

/* Writes v with an N-bit prefix after the flag bits in `first`; at most 6 bytes for 32 bits. */
static size_t put_int(uint8_t *p, uint8_t first, unsigned prefix_bits, size_t v)
{
	size_t mask = ((size_t)1 << prefix_bits) - 1, n = 1;

	if (v < mask) {
		p[0] = (uint8_t)(first | v);
		return 1;
	}
	p[0] = (uint8_t)(first | mask);
	v -= mask;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

size_t hpack_encode_int(uint8_t *out, uint8_t first, unsigned prefix_bits, uint32_t v)
{
	return put_int(out, first, prefix_bits, v);
}

/* ---- decoder --------------------------------------------------------- */

int hpack_decoder_init(hpack_decoder *d, size_t settings_max)
{
	memset(d, 0, sizeof(*d));
	table_init(&d->table, settings_max);
	d->settings_max = settings_max;
	buf_init(&d->scratch);
	return HPACK_OK;
}

void hpack_decoder_free(hpack_decoder *d)
{
	size_t i;

	table_free(&d->table);
	buf_free(&d->scratch);
	for (i = 0; i < HPACK_HUFF_MEMO_SLOTS; i++)
		buf_free(&d->memo[i].data);
}

void hpack_decoder_set_value_check(hpack_decoder *d, hpack_value_check check)
{
	d->value_check = check;
}

uint64_t hpack_decoder_value_id(const hpack_decoder *d)
{
	return d->value_id;
}

uint64_t hpack_decoder_state(const hpack_decoder *d)
{
	return d->table.changes * 2 + (d->need_update != 0);
}

void hpack_decoder_set_settings_max(hpack_decoder *d, size_t settings_max)
{
	d->table.changes++;	/* which size updates are allowed changed */
	d->settings_max = settings_max;
	if (settings_max < d->table.max_size)
		d->need_update = 1;
}

/* A decoded string: a view into the block or the tables, or an offset into scratch. */
struct dstr {
	const uint8_t *p;	/* NULL: at scratch + off (or not kept at all) */
	size_t off;
	size_t len;
	int checked;		/* the decoder's value check passed on these bytes before */
	uint64_t id;		/* nonzero: kept bytes (hpack_decoder_value_id) */
};

static const uint8_t *dstr_ptr(const hpack_decoder *d, const struct dstr *s)
{
	return s->p ? s->p : buf_data(&d->scratch) + s->off;
}

static int lookup(const hpack_decoder *d, uint32_t idx, struct dstr *name, struct dstr *value)
{
	const struct hpack_entry *e;

	if (idx == 0)
		return HPACK_ERR_INDEX;
	if (idx <= STATIC_COUNT) {
		const struct static_entry *s = &static_table[idx - 1];

		name->p = (const uint8_t *)s->name;
		name->len = s->name_len;
		value->p = (const uint8_t *)s->value;
		value->len = s->value_len;
		value->checked = 0;
		value->id = 0;
		return HPACK_OK;
	}
	idx -= STATIC_COUNT + 1;
	if (idx >= d->table.count)
		return HPACK_ERR_INDEX;
	e = table_get(&d->table, idx);
	name->p = e->data;
	name->len = e->name_len;
	value->p = e->data + e->name_len;
	value->len = e->value_len;
	value->checked = e->checked;
	value->id = e->id;
	return HPACK_OK;
}

/* Per-block decoding state. */
struct dctx {
	const uint8_t *in;
	size_t len;
	size_t pos;
	size_t list;		/* list size so far (only while !over) */
	size_t max_list;
	int over;		/* list limit passed: stop calling back, stop copying */
};

/* The slot holding exactly these encoded octets, or NULL. */
static const struct hpack_huff_memo *memo_find(const hpack_decoder *d, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < HPACK_HUFF_MEMO_SLOTS; i++) {
		const struct hpack_huff_memo *m = &d->memo[i];

		if (m->enc_len == n && mem_eq(buf_data(&m->data), p, n))
			return m;
	}
	return NULL;
}

/*
 * Remembers a string that decoded without error; a failed allocation only
 * means no memo.  Returns whether the value check passed on dec (0 when the
 * decoder has no check or the string was not remembered).
 */
static int memo_put(hpack_decoder *d, const uint8_t *enc, size_t n, const uint8_t *dec, size_t dn,
    uint64_t *id)
{
	struct hpack_huff_memo *m = &d->memo[d->memo_next];

	d->memo_next = (d->memo_next + 1) % HPACK_HUFF_MEMO_SLOTS;
	m->enc_len = 0;		/* n >= HPACK_HUFF_MEMO_MIN: matches nothing until filled */
	*id = 0;
	buf_reset(&m->data);
	if (buf_reserve(&m->data, n + dn) < 0)
		return 0;
	memcpy(buf_tail(&m->data), enc, n);
	memcpy(buf_tail(&m->data) + n, dec, dn);
	buf_commit(&m->data, n + dn);
	m->dec_len = (uint32_t)dn;
	m->checked = d->value_check != NULL && d->value_check(dec, dn);
	m->enc_len = (uint32_t)n;
	m->id = *id = new_value_id();
	return m->checked;
}

/*
 * Reads one string literal at c->pos.  `used` is what the field already
 * counts against the list limit (32 + name length); `keep` says the bytes
 * are needed even past the limit (the field goes into the dynamic table).
 */
static int read_string(hpack_decoder *d, struct dctx *c, size_t used, int keep, struct dstr *s)
{
	const uint8_t *p = c->in + c->pos;
	size_t left = c->len - c->pos, lower, cap;
	uint32_t v;
	int n, huff, r;

	if (left == 0)
		return HPACK_ERR_TRUNCATED;
	huff = p[0] & 0x80;
	n = hpack_decode_int(p, left, 7, &v);
	if (n == 0)
		return HPACK_ERR_TRUNCATED;
	if (n < 0)
		return n;
	p += n;
	left -= (size_t)n;
	if (v > left)
		return HPACK_ERR_TRUNCATED;
	/* Huffman output is at least 8/30 of its input: refuse before decoding */
	lower = huff ? (size_t)v / 30 * 8 : v;
	if (!c->over && (used > c->max_list - c->list || lower > c->max_list - c->list - used))
		c->over = 1;
	c->pos += (size_t)n + v;
	s->checked = 0;
	s->id = 0;
	if (!huff) {
		s->p = p;
		s->len = v;
		return HPACK_OK;
	}
	s->p = NULL;
	s->off = buf_len(&d->scratch);
	if (c->over && !keep) {
		r = hpack_huffman_decode(p, v, NULL, 0);
		if (r < 0)
			return r;
		s->len = (size_t)r;
		return HPACK_OK;
	}
	if (v >= HPACK_HUFF_MEMO_MIN && v <= HPACK_HUFF_MEMO_MAX) {
		const struct hpack_huff_memo *m = memo_find(d, p, v);

		/* copied, not pointed at: a later string of this field may replace the slot */
		if (m != NULL) {
			if (buf_append(&d->scratch, buf_data(&m->data) + m->enc_len, m->dec_len) < 0)
				return HPACK_ERR_NOMEM;
			s->len = m->dec_len;
			s->checked = m->checked;
			s->id = m->id;
			return HPACK_OK;
		}
	}
	cap = (size_t)v / 5 * 8 + 8;	/* >= v * 8 / 5 + 1 without overflow */
	if (buf_reserve(&d->scratch, cap) < 0)
		return HPACK_ERR_NOMEM;
	r = hpack_huffman_decode(p, v, buf_tail(&d->scratch), cap);
	if (r < 0)
		return r;
	if (v >= HPACK_HUFF_MEMO_MIN && v <= HPACK_HUFF_MEMO_MAX)
		s->checked = memo_put(d, p, v, buf_tail(&d->scratch), (size_t)r, &s->id);
	buf_commit(&d->scratch, (size_t)r);
	s->len = (size_t)r;
	return HPACK_OK;
}

static int emit(struct dctx *c, hpack_field_cb cb, void *ctx, const uint8_t *name, size_t nl,
    const uint8_t *value, size_t vl, unsigned flags)
{
	size_t sz = nl + vl + ENTRY_OVERHEAD;

	if (c->over)
		return HPACK_OK;
	if (sz > c->max_list - c->list) {
		c->over = 1;
		return HPACK_OK;
	}
	c->list += sz;
	return cb(ctx, name, nl, value, vl, flags) ? HPACK_ERR_CALLBACK : HPACK_OK;
}

/* Literal representations (RFC 7541 6.2); b is the first octet. */
static int decode_literal(hpack_decoder *d, struct dctx *c, uint8_t b, hpack_field_cb cb, void *ctx)
{
	struct dstr name, value, unused;
	unsigned prefix, flags = 0;
	int indexing = 0, n, r;
	uint32_t idx;

	if (b & 0x40) {
		indexing = 1;
		prefix = 6;
	} else {
		prefix = 4;
		if (b & 0x10)
			flags = HPACK_FIELD_NEVER_INDEXED;
	}
	n = hpack_decode_int(c->in + c->pos, c->len - c->pos, prefix, &idx);
	if (n == 0)
		return HPACK_ERR_TRUNCATED;
	if (n < 0)
		return n;
	c->pos += (size_t)n;
	buf_reset(&d->scratch);
	if (idx) {
		if ((r = lookup(d, idx, &name, &unused)) < 0)
			return r;
	} else if ((r = read_string(d, c, ENTRY_OVERHEAD, indexing, &name)) < 0) {
		return r;
	}
	if ((r = read_string(d, c, ENTRY_OVERHEAD + name.len, indexing, &value)) < 0)
		return r;
	if (c->over && !indexing)
		return HPACK_OK;	/* strings were only validated */
	if (value.checked)
		flags |= HPACK_FIELD_VALUE_CHECKED;
	d->value_id = value.id;
	r = emit(c, cb, ctx, dstr_ptr(d, &name), name.len, dstr_ptr(d, &value), value.len, flags);
	if (r < 0)
		return r;
	if (indexing) {
		const uint8_t *vp = dstr_ptr(d, &value);
		int checked = value.checked || (d->value_check != NULL && d->value_check(vp, value.len));

		return table_add(&d->table, dstr_ptr(d, &name), name.len, vp, value.len, checked,
		    value.id ? value.id : new_value_id());
	}
	return HPACK_OK;
}

int hpack_decode_block(hpack_decoder *d, const uint8_t *in, size_t len,
    size_t max_list_size, hpack_field_cb cb, void *ctx)
{
	struct dctx c = {in, len, 0, 0, max_list_size, 0};
	struct dstr name, value;
	int at_start = 1, n, r;
	uint32_t v;
	uint8_t b;

	while (c.pos < len) {
		b = in[c.pos];
		if ((b & 0xe0) == 0x20) {
			/* dynamic table size update (6.3): only before the first field */
			if (!at_start)
				return HPACK_ERR_TABLE_SIZE;
			n = hpack_decode_int(in + c.pos, len - c.pos, 5, &v);
			if (n == 0)
				return HPACK_ERR_TRUNCATED;
			if (n < 0)
				return n;
			if (v > d->settings_max)
				return HPACK_ERR_TABLE_SIZE;
			c.pos += (size_t)n;
			table_set_max(&d->table, v);
			d->need_update = 0;
			continue;
		}
		if (d->need_update)
			return HPACK_ERR_TABLE_SIZE;
		at_start = 0;
		if (b & 0x80) {
			n = hpack_decode_int(in + c.pos, len - c.pos, 7, &v);
			if (n == 0)
				return HPACK_ERR_TRUNCATED;
			if (n < 0)
				return n;
			c.pos += (size_t)n;
			if ((r = lookup(d, v, &name, &value)) < 0)
				return r;
			d->value_id = value.id;
			r = emit(&c, cb, ctx, name.p, name.len, value.p, value.len,
			    value.checked ? HPACK_FIELD_VALUE_CHECKED : 0);
		} else {
			r = decode_literal(d, &c, b, cb, ctx);
		}
		if (r < 0)
			return r;
	}
	return c.over ? HPACK_ERR_LIST_TOO_LARGE : HPACK_OK;
}

/* ---- encoder --------------------------------------------------------- */

int hpack_encoder_init(hpack_encoder *e, size_t max_size)
{
	memset(e, 0, sizeof(*e));
	table_init(&e->table, max_size);
	e->pending_min = SIZE_MAX;
	e->limit = max_size > DEFAULT_LIMIT ? max_size : DEFAULT_LIMIT;
	return HPACK_OK;
}

void hpack_encoder_free(hpack_encoder *e)
{
	table_free(&e->table);
}

void hpack_encoder_set_max_size(hpack_encoder *e, size_t peer_setting)
{
	size_t n = peer_setting < e->limit ? peer_setting : e->limit;

	if (!e->pending_update || n < e->pending_min)
		e->pending_min = n;
	e->pending_final = n;
	e->pending_update = 1;
}

uint64_t hpack_encoder_state(const hpack_encoder *e)
{
	return e->table.changes * 2 + (e->pending_update != 0);
}

int hpack_encode_begin(hpack_encoder *e, buf *out)
{
	size_t cur = e->table.max_size, n = 0;
	uint8_t *p;

	if (!e->pending_update)
		return HPACK_OK;
	if (buf_reserve(out, 12) < 0)
		return HPACK_ERR_NOMEM;
	p = buf_tail(out);
	/* 4.2: the smallest size since the last block first, then the final one */
	if (e->pending_min < cur) {
		n += put_int(p + n, 0x20, 5, e->pending_min);
		cur = e->pending_min;
		table_set_max(&e->table, cur);
	}
	if (e->pending_final != cur) {
		n += put_int(p + n, 0x20, 5, e->pending_final);
		table_set_max(&e->table, e->pending_final);
	}
	buf_commit(out, n);
	e->pending_update = 0;
	e->pending_min = SIZE_MAX;
	return HPACK_OK;
}

/*
 * Appendix A is sorted by name except for the pseudo-headers, so the entries
 * sharing a first character are contiguous: [lo, hi) (0-based) per character.
 */
static int static_range(uint8_t c, size_t *lo, size_t *hi)
{
	switch (c) {
	case ':': *lo = 0; *hi = 14; break;
	case 'a': *lo = 14; *hi = 23; break;
	case 'c': *lo = 23; *hi = 32; break;
	case 'd': *lo = 32; *hi = 33; break;
	case 'e': *lo = 33; *hi = 36; break;
	case 'f': *lo = 36; *hi = 37; break;
	case 'h': *lo = 37; *hi = 38; break;
	case 'i': *lo = 38; *hi = 43; break;
	case 'l': *lo = 43; *hi = 46; break;
	case 'm': *lo = 46; *hi = 47; break;
	case 'p': *lo = 47; *hi = 49; break;
	case 'r': *lo = 49; *hi = 53; break;
	case 's': *lo = 53; *hi = 56; break;
	case 't': *lo = 56; *hi = 57; break;
	case 'u': *lo = 57; *hi = 58; break;
	case 'v': *lo = 58; *hi = 60; break;
	case 'w': *lo = 60; *hi = 61; break;
	default: return 0;
	}
	return 1;
}

/* Finds name (and name+value) in the static table: returns the full match index or 0. */
static size_t static_find(const uint8_t *name, size_t nl, const uint8_t *value, size_t vl,
    size_t *name_idx)
{
	size_t i, lo, hi;

	*name_idx = 0;
	if (nl == 0 || !static_range(name[0], &lo, &hi))
		return 0;
	for (i = lo; i < hi; i++) {
		const struct static_entry *s = &static_table[i];

		if (s->name_len != nl || !mem_eq(s->name, name, nl))
			continue;
		if (*name_idx == 0)
			*name_idx = i + 1;
		if (s->value_len == vl && mem_eq(s->value, value, vl))
			return i + 1;
	}
	return 0;
}

static size_t dynamic_find(const hpack_table *t, const uint8_t *name, size_t nl,
    const uint8_t *value, size_t vl, size_t *name_idx)
{
	size_t i;

	*name_idx = 0;
	for (i = 0; i < t->count; i++) {
		const struct hpack_entry *e = table_get(t, i);

		if (e->name_len != nl || !mem_eq(e->data, name, nl))
			continue;
		if (*name_idx == 0)
			*name_idx = STATIC_COUNT + 1 + i;
		if (e->value_len == vl && mem_eq(e->data + nl, value, vl))
			return STATIC_COUNT + 1 + i;
	}
	return 0;
}

static int name_is(const uint8_t *name, size_t nl, const char *s)
{
	return nl == strlen(s) && mem_eq(name, s, nl);
}

/*
 * Whether a literal is worth a table slot: not when it would push out more
 * than a quarter of what is there anyway, nor for headers whose value changes
 * on every message (they would only churn the table).
 */
static int worth_indexing(const hpack_encoder *e, const uint8_t *name, size_t nl, size_t vl)
{
	size_t sz = nl + vl + ENTRY_OVERHEAD;

	if (sz > e->table.max_size / 4 * 3)
		return 0;
	return !(name_is(name, nl, "content-length") || name_is(name, nl, "grpc-timeout") ||
	    name_is(name, nl, "grpc-message") || name_is(name, nl, "grpc-status-details-bin"));
}

static uint8_t *put_string(const hpack_encoder *e, uint8_t *p, const uint8_t *s, size_t len)
{
	size_t hl;

	/* ties go to Huffman, as in RFC 7541 Appendix C */
	if (!e->no_huffman && (hl = hpack_huffman_encoded_len(s, len)) <= len) {
		p += put_int(p, 0x80, 7, hl);
		hpack_huffman_encode(s, len, p);
		return p + hl;
	}
	p += put_int(p, 0, 7, len);
	if (len)
		memcpy(p, s, len);
	return p + len;
}

int hpack_encode_field(hpack_encoder *e, buf *out, const uint8_t *name, size_t name_len,
    const uint8_t *value, size_t value_len, unsigned flags)
{
	size_t full, sname, dname, name_idx;
	uint8_t *p, *start;
	int r;

	if (name_len > UINT32_MAX || value_len > UINT32_MAX ||
	    value_len > SIZE_MAX - 32 - name_len)
		return HPACK_ERR_STRING_TOO_LONG;
	/* worst case: 6-octet index, two 6-octet lengths, raw strings */
	if (buf_reserve(out, 18 + name_len + value_len) < 0)
		return HPACK_ERR_NOMEM;
	start = p = buf_tail(out);

	full = static_find(name, name_len, value, value_len, &sname);
	if (!full && e->table.count)
		full = dynamic_find(&e->table, name, name_len, value, value_len, &dname);
	else
		dname = 0;
	if (full && !(flags & HPACK_FIELD_NEVER_INDEXED)) {
		p += put_int(p, 0x80, 7, full);
		buf_commit(out, (size_t)(p - start));
		return HPACK_OK;
	}
	name_idx = sname ? sname : dname;

	if (flags & HPACK_FIELD_NEVER_INDEXED) {
		p += put_int(p, 0x10, 4, name_idx);
	} else if (!(flags & HPACK_FIELD_NO_INDEX) && worth_indexing(e, name, name_len, value_len)) {
		/* index first: nothing is written if this fails */
		if ((r = table_add(&e->table, name, name_len, value, value_len, 0, 0)) < 0)
			return r;
		p += put_int(p, 0x40, 6, name_idx);
	} else {
		p += put_int(p, 0x00, 4, name_idx);
	}
	if (name_idx == 0)
		p = put_string(e, p, name, name_len);
	p = put_string(e, p, value, value_len);
	buf_commit(out, (size_t)(p - start));
	return HPACK_OK;
}
