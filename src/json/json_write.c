/*
 * The writer: JSON text into a fixed caller array.
 *
 * Implementation notes.  Bytes past the array's end are counted but not
 * stored, so after JSON_ENOSPC json_writer_len() still says how big the
 * array must be; the error stays sticky so a truncated body is never sent.
 * Misuse (a value where a key is due, a close that does not match) is
 * JSON_EUSAGE rather than silently malformed output.
 */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void json_writer_init(json_writer *w, void *out, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->cap = out ? cap : 0;
}

size_t json_writer_len(const json_writer *w)
{
	return w->len;
}

static void put(json_writer *w, const void *p, size_t n)
{
	if (w->len <= w->cap && n <= w->cap - w->len)
		memcpy(w->out + w->len, p, n);
	else if (!w->err)
		w->err = JSON_ENOSPC;
	w->len += n;
}

static void put_byte(json_writer *w, uint8_t b)
{
	put(w, &b, 1);
}

static int in_array(const json_writer *w)
{
	unsigned d = w->depth - 1;

	return (int)(w->stack[d / 64] >> (d % 64) & 1);
}

/* Before any value: checks it may come here and writes the comma. */
static int value_prefix(json_writer *w)
{
	if (w->err && w->err != JSON_ENOSPC)
		return w->err;
	if (w->depth == 0) {
		if (w->done)
			return w->err = JSON_EUSAGE;
	} else if (w->after_key) {
		w->after_key = 0;
	} else if (!in_array(w)) {
		return w->err = JSON_EUSAGE;
	} else if (w->comma) {
		put_byte(w, ',');
	}
	return 0;
}

static int value_done(json_writer *w)
{
	if (w->depth == 0)
		w->done = 1;
	else
		w->comma = 1;
	return w->err;
}

static int begin(json_writer *w, int array)
{
	int r = value_prefix(w);

	if (r < 0 && r != JSON_ENOSPC)
		return r;
	if (w->depth >= JSON_DEPTH_MAX)
		return w->err = JSON_EUSAGE;
	if (array)
		w->stack[w->depth / 64] |= (uint64_t)1 << (w->depth % 64);
	else
		w->stack[w->depth / 64] &= ~((uint64_t)1 << (w->depth % 64));
	w->depth++;
	w->comma = 0;
	put_byte(w, array ? '[' : '{');
	return w->err;
}

static int end(json_writer *w, int array)
{
	if (w->err && w->err != JSON_ENOSPC)
		return w->err;
	if (w->depth == 0 || in_array(w) != array || w->after_key)
		return w->err = JSON_EUSAGE;
	w->depth--;
	put_byte(w, array ? ']' : '}');
	return value_done(w);
}

int json_write_object_begin(json_writer *w) { return begin(w, 0); }
int json_write_object_end(json_writer *w) { return end(w, 0); }
int json_write_array_begin(json_writer *w) { return begin(w, 1); }
int json_write_array_end(json_writer *w) { return end(w, 1); }

/* Length of the valid UTF-8 sequence at s[0..n), or 0. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
	uint8_t b = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (b >= 0xc2 && b <= 0xdf) {
		len = 2;
	} else if (b >= 0xe0 && b <= 0xef) {
		len = 3;
		if (b == 0xe0)
			lo = 0xa0;
		else if (b == 0xed)
			hi = 0x9f;
	} else if (b >= 0xf0 && b <= 0xf4) {
		len = 4;
		if (b == 0xf0)
			lo = 0x90;
		else if (b == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if (s[i] < lo || s[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
	}
	return len;
}

static int put_string(json_writer *w, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *s = (const uint8_t *)str, *e = s + n, *run;

	/* Check first: a string that cannot be written leaves no bytes behind. */
	for (run = s; run < e; run++) {
		if (*run >= 0x80) {
			size_t k = utf8_seq(run, (size_t)(e - run));

			if (!k)
				return w->err = JSON_EUTF8;
			run += k - 1;
		}
	}
	put_byte(w, '"');
	for (run = s; s < e; s++) {
		uint8_t b = *s, esc[6];
		size_t k = 2;

		if (b >= 0x20 && b != '"' && b != '\\')
			continue;
		put(w, run, (size_t)(s - run));
		run = s + 1;
		esc[0] = '\\';
		switch (b) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = (uint8_t)hex[b >> 4];
			esc[5] = (uint8_t)hex[b & 15];
			k = 6;
		}
		put(w, esc, k);
	}
	put(w, run, (size_t)(s - run));
	put_byte(w, '"');
	return 0;
}

int json_write_key(json_writer *w, const char *s, size_t len)
{
	if (w->err && w->err != JSON_ENOSPC)
		return w->err;
	if (w->depth == 0 || in_array(w) || w->after_key || (!s && len))
		return w->err = JSON_EUSAGE;
	if (w->comma)
		put_byte(w, ',');
	if (put_string(w, s, len) < 0)
		return w->err;
	put_byte(w, ':');
	w->after_key = 1;
	return w->err;
}

int json_write_string(json_writer *w, const char *s, size_t len)
{
	int r = value_prefix(w);

	if (r < 0 && r != JSON_ENOSPC)
		return r;
	if (!s && len)
		return w->err = JSON_EUSAGE;
	if (put_string(w, s, len) < 0)
		return w->err;
	return value_done(w);
}

int json_write_cstr(json_writer *w, const char *s)
{
	if (!s)
		return w->err ? w->err : (w->err = JSON_EUSAGE);
	return json_write_string(w, s, strlen(s));
}

static int write_raw_value(json_writer *w, const char *s, size_t n)
{
	int r = value_prefix(w);

	if (r < 0 && r != JSON_ENOSPC)
		return r;
	put(w, s, n);
	return value_done(w);
}

int json_write_int(json_writer *w, int64_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	return write_raw_value(w, p, (size_t)(tmp + sizeof(tmp) - p));
}

int json_write_double(json_writer *w, double v)
{
	char tmp[32];
	int n;

	if (!isfinite(v))
		return w->err ? w->err : (w->err = JSON_EUSAGE);
	n = snprintf(tmp, sizeof(tmp), "%.17g", v);
	/* %.17g of an integral value has no '.', which would re-parse as INT. */
	if (!strpbrk(tmp, ".eE") && n + 2 < (int)sizeof(tmp)) {
		memcpy(tmp + n, ".0", 3);
		n += 2;
	}
	return write_raw_value(w, tmp, (size_t)n);
}

int json_write_bool(json_writer *w, int v)
{
	return v ? write_raw_value(w, "true", 4) : write_raw_value(w, "false", 5);
}

int json_write_null(json_writer *w)
{
	return write_raw_value(w, "null", 4);
}

int json_writer_finish(json_writer *w)
{
	if (w->err)
		return w->err;
	if (!w->done || w->depth)
		return w->err = JSON_EUSAGE;
	if (w->len > INT32_MAX)
		return w->err = JSON_ENOSPC;
	return (int)w->len;
}
