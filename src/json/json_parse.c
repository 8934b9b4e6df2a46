/*
 * The incremental tokenizer.
 *
 * Implementation notes.  Two state variables carry everything across slice
 * boundaries: gs, the grammar position (what may come next), and ls, the
 * lexeme in progress (string, number, literal, bulk skip).  Each lexeme
 * keeps a byte-level sub-state, so a slice may end on any byte.
 *
 * Strings are zero-copy when they have no escapes and end in the slice they
 * began in: the token then points into the caller's bytes.  Otherwise the
 * bytes seen so far are copied to the string buffer ("span" marks the first
 * raw byte not yet copied).  The decoded length is always slen + (cur - span)
 * whichever way the bytes are held, so the length limit trips at the same
 * byte however the input is split; that is what makes whole, byte-by-byte
 * and split feeding give identical results, errors included.
 */
#include "json_int.h"
#include "json_keys.h"

#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

enum { N_START = 0, N_MINUS, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP };

#define MORE 2	/* internal: state changed, go round again */

/* The release build is -Os, which leaves these small per-token helpers as
 * calls; they run several times per member. */
#define HOT static inline __attribute__((always_inline))

HOT size_t str_max(const json_parser *p)
{
	return p->scap ? p->scap - 1 : 0;
}

HOT int top_is_array(const json_parser *p)
{
	unsigned d = p->depth - 1;

	return (int)(p->stack[d / 64] >> (d % 64) & 1);
}

HOT void value_done(json_parser *p)
{
	if (p->depth) {
		p->gs = G_AFTER;
	} else {
		p->gs = (p->flags & JSON_SINGLE) ? G_DONE : G_TOP;
		p->seen_value = 1;
	}
}

/* A skipped value is complete: its JSON_SKIPPED token, unless a key filter
 * dropped the member it belongs to. */
HOT int quiet(json_parser *p)
{
	if (!p->silent)
		return 1;
	p->silent = 0;
	return MORE;
}

/* Appends decoded bytes to the string buffer, enforcing the limit. */
static int sbuf_put(json_parser *p, const void *b, size_t n)
{
	if (n > str_max(p) - p->slen)
		return JSON_ESTRLIMIT;
	memcpy(p->sbuf + p->slen, b, n);
	p->slen += n;
	return 0;
}

/* Moves raw string bytes [span, c) to the buffer (limit already checked). */
static void flush_span(json_parser *p, const uint8_t *c)
{
	size_t n = (size_t)(c - p->span);

	if (n) {
		memcpy(p->sbuf + p->slen, p->span, n);
		p->slen += n;
	}
	p->span = c;
}

static int emit_code_point(json_parser *p, uint32_t cp)
{
	uint8_t u[4];
	size_t n;

	if (p->skipping)
		return 0;
	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return sbuf_put(p, u, n);
}

static int hex_val(uint8_t b)
{
	if (b >= '0' && b <= '9')
		return b - '0';
	b |= 0x20;
	if (b >= 'a' && b <= 'f')
		return b - 'a' + 10;
	return -1;
}

/* One byte of an escape sequence (p->esc != 0). */
static int escape_step(json_parser *p, uint8_t b)
{
	uint8_t out;
	int v;

	switch (p->esc) {
	case 1:
		if (p->hi_sur) {
			if (b != 'u')
				return JSON_ESURROGATE;
			p->esc = 2;
			p->ucode = 0;
			return 0;
		}
		switch (b) {
		case '"': case '\\': case '/': out = b; break;
		case 'b': out = '\b'; break;
		case 'f': out = '\f'; break;
		case 'n': out = '\n'; break;
		case 'r': out = '\r'; break;
		case 't': out = '\t'; break;
		case 'u':
			p->esc = 2;
			p->ucode = 0;
			return 0;
		default:
			return JSON_ESTRING;
		}
		p->esc = 0;
		return p->skipping ? 0 : sbuf_put(p, &out, 1);
	case 2: case 3: case 4: case 5:
		v = hex_val(b);
		if (v < 0)
			return JSON_ESTRING;
		p->ucode = p->ucode << 4 | (uint32_t)v;
		if (p->esc++ < 5)
			return 0;
		p->esc = 0;
		if (p->hi_sur) {
			uint32_t hi = p->hi_sur;

			if (p->ucode < 0xdc00 || p->ucode > 0xdfff)
				return JSON_ESURROGATE;
			p->hi_sur = 0;
			return emit_code_point(p, 0x10000 + ((hi - 0xd800) << 10) + (p->ucode - 0xdc00));
		}
		if (p->ucode >= 0xd800 && p->ucode <= 0xdbff) {
			p->hi_sur = p->ucode;
			p->esc = 6;
			return 0;
		}
		if (p->ucode >= 0xdc00 && p->ucode <= 0xdfff)
			return JSON_ESURROGATE;
		return emit_code_point(p, p->ucode);
	case 6:
		if (b != '\\')
			return JSON_ESURROGATE;
		p->esc = 1;
		return 0;
	}
	return JSON_ESTRING;
}

/* 1 for bytes a string may hold as they are: not '"', '\\', control, non-ASCII. */
static const uint8_t plain_tab[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
	R16(0), R16(0),
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x20: '"' */
	R16(1), R16(1),
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,	/* 0x50: '\\' */
	R16(1), R16(1),
	R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0),
#undef R16
};

/* First byte in [c, e) that is not plain string content, or e.  Every
 * SIMD path uses SSE2 here: strings are short, and a call into an AVX2
 * function per string would cost more than it saves. */
HOT const uint8_t *scan_plain_on(int simd, const uint8_t *c, const uint8_t *e)
{
#if defined(__SSE2__)
	const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), sp = _mm_set1_epi8(0x20);

	if (simd == JSON_PATH_SCALAR)
		goto tail;
	while (e - c >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)c);
		/* A signed compare below ' ' takes control and non-ASCII bytes
		 * (negative as signed) in one step. */
		__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)),
		    _mm_cmplt_epi8(v, sp));
		unsigned mask = (unsigned)_mm_movemask_epi8(m);

		if (mask)
			return c + __builtin_ctz(mask);
		c += 16;
	}
tail:
#else
	(void)simd;
#endif
	while (c < e && plain_tab[*c])
		c++;
	return c;
}

/*
 * scan_plain_on() that also gives the first 32-byte block's mask of bytes
 * that are not plain (bit i for c[i]; 0 when no block was classified), so
 * the member loop can find a short string value's end from its key's
 * scan: the value's scan then does not wait on a second load.
 */
HOT const uint8_t *scan_plain_mask(int simd, const uint8_t *c, const uint8_t *e, unsigned *block)
{
#if defined(__SSE2__)
	if (simd != JSON_PATH_SCALAR && e - c >= 32) {
		const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), sp = _mm_set1_epi8(0x20);
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)c);
		__m128i w = _mm_loadu_si128((const __m128i *)(const void *)(c + 16));
		__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)),
		    _mm_cmplt_epi8(v, sp));
		__m128i n = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(w, q), _mm_cmpeq_epi8(w, bs)),
		    _mm_cmplt_epi8(w, sp));
		unsigned mask = (unsigned)_mm_movemask_epi8(m) | (unsigned)_mm_movemask_epi8(n) << 16;

		*block = mask;
		if (mask)
			return c + __builtin_ctz(mask);
		return scan_plain_on(simd, c + 32, e);
	}
#endif
	*block = 0;
	return scan_plain_on(simd, c, e);
}

/* The first byte in [v, e) that is not plain, using the mask of the block
 * [b, b + 32) from scan_plain_mask() where it covers v (b <= v). */
HOT const uint8_t *scan_plain_from(int simd, const uint8_t *b, unsigned block, const uint8_t *v,
    const uint8_t *e)
{
	size_t o = (size_t)(v - b);

	if (o < 32 && block) {
		unsigned rest = block >> o;

		if (rest)
			return v + __builtin_ctz(rest);
		return scan_plain_on(simd, b + 32, e);
	}
	return scan_plain_on(simd, v, e);
}

HOT const uint8_t *scan_plain(const json_parser *p, const uint8_t *c, const uint8_t *e)
{
	return scan_plain_on(p->simd, c, e);
}

static int lex_string(json_parser *p, json_token *t)
{
	const uint8_t *c = p->cur, *e = p->end;
	size_t max = p->skipping ? SIZE_MAX : str_max(p);
	int r;

	for (;;) {
		size_t dlen, room;
		const uint8_t *stop;
		uint8_t b;

		if (c == e)
			break;
		if (p->esc) {
			r = escape_step(p, *c++);
			if (r < 0)
				goto fail;
			p->span = c;
			continue;
		}
		dlen = p->skipping ? 0 : p->slen + (size_t)(c - p->span);
		room = max - dlen;
		if (p->u8_need) {
			r = json__utf8_step(p, *c);
			if (r < 0)
				goto fail;
			if (!room) {
				r = JSON_ESTRLIMIT;
				goto fail;
			}
			c++;
			continue;
		}
		stop = (size_t)(e - c) > room ? c + room : e;
		stop = scan_plain(p, c, stop);
		if (!p->skipping)
			room -= (size_t)(stop - c);
		c = stop;
		if (c == e)
			break;
		b = *c;
		if (b == '"') {
			if (p->skipping) {
				t->type = JSON_SKIPPED;
			} else {
				if (p->copying) {
					flush_span(p, c);
					t->str = p->sbuf;
					t->len = p->slen;
				} else {
					t->str = (const char *)p->span;
					t->len = (size_t)(c - p->span);
				}
				t->type = p->key ? JSON_KEY : JSON_STRING;
			}
			t->depth = p->depth;
			p->cur = c + 1;
			p->ls = L_NONE;
			if (p->key) {
				p->gs = G_COLON;
				if (p->filter) {
					int keep = p->filter(p->filter_ctx, t->str, t->len, t->depth);

					if (!keep) {
						p->skip_next = 1;
						p->silent = 1;
						return MORE;
					}
					if (keep == JSON_FILTER_VALUE_ONLY)
						return MORE;
				}
				return 1;
			}
			value_done(p);
			return quiet(p);
		}
		if (b == '\\') {
			if (!p->skipping) {
				flush_span(p, c);
				p->copying = 1;
			}
			p->esc = 1;
			c++;
			p->span = c;
			continue;
		}
		if (b < 0x20) {
			r = JSON_ESTRING;
			goto fail;
		}
		if (b >= 0x80) {
			r = json__utf8_step(p, b);
			if (r < 0)
				goto fail;
		}
		if (!room) {
			r = JSON_ESTRLIMIT;
			goto fail;
		}
		c++;
	}
	/* The slice ended inside the string: keep what the next slice cannot. */
	if (!p->skipping) {
		flush_span(p, e);
		p->copying = 1;
	}
	p->cur = e;
	if (p->eof)
		return JSON_ETRUNCATED;
	return 0;
fail:
	p->cur = c;
	return r;
}

static int finish_number(json_parser *p, json_token *t)
{
	t->depth = p->depth;
	p->ls = L_NONE;
	value_done(p);
	if (p->skipping) {
		t->type = JSON_SKIPPED;
		return quiet(p);
	}
	p->sbuf[p->slen] = '\0';
	if (p->num_int) {
		const char *s = p->sbuf;
		int neg = *s == '-';
		uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

		s += neg;
		for (; *s; s++) {
			unsigned d = (unsigned)(*s - '0');

			if (v > (lim - d) / 10)
				goto dbl;
			v = v * 10 + d;
		}
		t->type = JSON_INT;
		t->i = neg ? (int64_t)(0 - v) : (int64_t)v;
		return 1;
	}
dbl:
	t->type = JSON_DOUBLE;
	t->d = strtod(p->sbuf, NULL);
	return 1;
}

static int lex_number(json_parser *p, json_token *t)
{
	const uint8_t *c = p->cur, *e = p->end;
	size_t max = str_max(p);
	int r = JSON_ENUMBER;

	for (; c < e; c++) {
		uint8_t b = *c;
		int digit = b >= '0' && b <= '9';

		switch (p->sub) {
		case N_START:
			p->sub = b == '-' ? N_MINUS : b == '0' ? N_ZERO : N_INT;
			break;
		case N_MINUS:
			if (!digit)
				goto fail;
			p->sub = b == '0' ? N_ZERO : N_INT;
			break;
		case N_ZERO:
			if (digit)
				goto fail;
			/* fall through */
		case N_INT:
			if (digit)
				break;
			if (b == '.')
				p->sub = N_DOT;
			else if ((b | 0x20) == 'e')
				p->sub = N_E;
			else
				goto done;
			p->num_int = 0;
			break;
		case N_DOT:
			if (!digit)
				goto fail;
			p->sub = N_FRAC;
			break;
		case N_FRAC:
			if (digit)
				break;
			if ((b | 0x20) != 'e')
				goto done;
			p->sub = N_E;
			break;
		case N_E:
			if (b == '+' || b == '-') {
				p->sub = N_ESIGN;
				break;
			}
			/* fall through */
		case N_ESIGN:
			if (!digit)
				goto fail;
			p->sub = N_EXP;
			break;
		case N_EXP:
			if (!digit)
				goto done;
			break;
		}
		if (!p->skipping) {
			if (p->slen >= max) {
				r = JSON_ESTRLIMIT;
				goto fail;
			}
			p->sbuf[p->slen++] = (char)b;
		}
	}
	p->cur = c;
	if (!p->eof)
		return 0;
done:
	p->cur = c;
	switch (p->sub) {
	case N_ZERO: case N_INT: case N_FRAC: case N_EXP:
		return finish_number(p, t);
	}
fail:
	p->cur = c;
	return r;
}

static int lex_literal(json_parser *p, json_token *t)
{
	const uint8_t *c = p->cur, *e = p->end;

	while (c < e) {
		if (*c != (uint8_t)p->lit[p->sub]) {
			p->cur = c;
			return JSON_ESYNTAX;
		}
		c++;
		if (p->lit[++p->sub] == '\0') {
			p->cur = c;
			p->ls = L_NONE;
			t->depth = p->depth;
			t->type = p->skipping ? JSON_SKIPPED
			    : p->lit[0] == 't' ? JSON_TRUE : p->lit[0] == 'f' ? JSON_FALSE : JSON_NULL;
			value_done(p);
			return p->skipping ? quiet(p) : 1;
		}
	}
	p->cur = c;
	return p->eof ? JSON_ETRUNCATED : 0;
}

static int lex_skip(json_parser *p, json_token *t)
{
	int r = json__skip_scan(p);

	if (r == 1) {
		p->ls = L_NONE;
		t->type = JSON_SKIPPED;
		t->depth = p->depth;
		value_done(p);
		return quiet(p);
	}
	if (r == 0 && p->eof)
		return JSON_ETRUNCATED;
	return r;
}

/*
 * A short integer wholly in the slice, followed by a byte that cannot
 * continue a number: the token at once, as lex_number() would give it.
 * Returns 0 to leave anything else to lex_number().
 */
HOT int fast_int(json_parser *p, json_token *t, const uint8_t *c)
{
	const uint8_t *d = c + (*c == '-'), *e = p->end, *q;
	uint64_t v = 0;

	if (d == e || *d < '0' || *d > '9' || (*d == '0' && d + 1 < e && d[1] >= '0' && d[1] <= '9'))
		return 0;
	for (q = d; q < e && q - d < 18 && *q >= '0' && *q <= '9'; q++)
		v = v * 10 + (uint64_t)(*q - '0');
	if (q == e || (*q >= '0' && *q <= '9') || *q == '.' || (*q | 0x20) == 'e')
		return 0;
	if (!p->skipping && (size_t)(q - c) > str_max(p))
		return 0;
	t->type = p->skipping ? JSON_SKIPPED : JSON_INT;
	t->i = *c == '-' ? -(int64_t)v : (int64_t)v;
	t->depth = p->depth;
	p->cur = q;
	value_done(p);
	return 1;
}

/* A value starts at *c (not yet consumed). */
static int begin_value(json_parser *p, json_token *t, const uint8_t *c)
{
	uint8_t b = *c;

	p->skipping = p->skip_next;
	p->skip_next = 0;
	switch (b) {
	case '{': case '[':
		if (p->depth >= p->max_depth) {
			p->cur = c;
			return JSON_EDEPTH;
		}
		p->cur = c + 1;
		if (p->skipping) {
			p->sk_depth = 1;
			p->sk_brace = b == '{';
			p->sk_instr = 0;
			p->sk_esc = 0;
			p->ls = L_SKIP;
			return MORE;
		}
		if (b == '[')
			p->stack[p->depth / 64] |= (uint64_t)1 << (p->depth % 64);
		else
			p->stack[p->depth / 64] &= ~((uint64_t)1 << (p->depth % 64));
		t->type = b == '{' ? JSON_OBJECT_BEGIN : JSON_ARRAY_BEGIN;
		t->depth = p->depth++;
		p->gs = b == '{' ? G_OBJ_FIRST : G_ARR_FIRST;
		p->just_began = 1;
		return 1;
	case '"': {
		/* Plain string wholly in the slice: the token at once. */
		const uint8_t *q = scan_plain(p, c + 1, p->end);

		if (q < p->end && *q == '"' && (p->skipping || (size_t)(q - c - 1) <= str_max(p))) {
			t->type = p->skipping ? JSON_SKIPPED : JSON_STRING;
			t->str = (const char *)c + 1;
			t->len = (size_t)(q - c - 1);
			t->depth = p->depth;
			p->cur = q + 1;
			value_done(p);
			return p->skipping ? quiet(p) : 1;
		}
		p->cur = c + 1;
		p->span = p->cur;
		p->slen = 0;
		p->copying = 0;
		p->key = 0;
		p->ls = L_STR;
		return MORE;
	}
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		if (fast_int(p, t, c))
			return p->skipping ? quiet(p) : 1;
		p->cur = c;
		p->slen = 0;
		p->sub = N_START;
		p->num_int = 1;
		p->ls = L_NUM;
		return MORE;
	case 't': case 'f': case 'n':
		p->cur = c + 1;
		p->lit = b == 't' ? "true" : b == 'f' ? "false" : "null";
		p->sub = 1;
		p->ls = L_LIT;
		return MORE;
	}
	p->cur = c;
	return JSON_ESYNTAX;
}

static int close_container(json_parser *p, json_token *t, const uint8_t *c, int array)
{
	if (top_is_array(p) != array) {
		p->cur = c;
		return JSON_ESYNTAX;
	}
	p->cur = c + 1;
	p->skip_next = 0;
	t->type = array ? JSON_ARRAY_END : JSON_OBJECT_END;
	t->depth = --p->depth;
	value_done(p);
	return 1;
}

/*
 * The member loop's shortcuts past an element object's `}` (`},{"` and `}]`):
 * what json__on_token() does for that end, ELEM_END when the element's path
 * is declared and the next index.  The element el, at depth d, has wanted
 * members, so the next one is prepared as wanted.  A sink error is returned.
 */
HOT int elem_object_end(json_parser *p, json_extract *kx, unsigned d, unsigned el, int path)
{
	int r;

	p->depth = d;
	p->skip_next = 0;
	if (path >= 0 && (r = emit(kx, JSON_EV_ELEM_END, path, kx->index[d - 1], NULL)) < 0)
		return r;
	kx->index[d - 1]++;
	kx->pending = (uint16_t)el;	/* prepare(): wanted */
	return 0;
}

HOT const uint8_t *skip_ws(const uint8_t *c, const uint8_t *e)
{
	/* Every byte that may follow whitespace is above ' ': one compare for
	 * compact input. */
	while (c < e && *c <= ' ' && (*c == ' ' || *c == '\n' || *c == '\r' || *c == '\t'))
		c++;
	return c;
}

/* The two bytes at c as a little-endian word, and `":` as one. */
HOT unsigned load16(const uint8_t *c)
{
	return (unsigned)c[0] | (unsigned)c[1] << 8;
}
#define COLON16 ('"' | ':' << 8)

#define FALLBACK 3	/* internal: let the byte-wise machine take this byte */
#define SINK_FAILED 4	/* internal: the sink returned an error, kept in sink->err */

/* json__drain()'s sink, handed down to the member loop; NULL for json_next(). */
typedef struct sink {
	json__sink fn;
	void *ctx;
	int err;
} sink;

/*
 * Object members with a key filter installed, for input that is all in the
 * slice: `"key":` read in one go, and a dropped member's string or container
 * value passed over without going round the state machine.  Anything else
 * (escapes or non-ASCII in the key, the slice ending, malformed input) hands
 * over to the byte-wise machine at the last complete member, which then
 * reaches exactly the same result, errors included.  The grammar state and
 * position live in locals (c, and where c is in the member) and are stored
 * only when the loop hands over or a token leaves it.
 */
HOT int fast_members_on(json_parser *p, json_token *t, const uint8_t *c, sink *sk, const int simd,
    const int ext)
{
	json_extract *const kx = ext ? p->key_x : NULL;
	const uint8_t *e = p->end, *q, *a;
	const size_t smax = str_max(p);	/* in registers across the calls below */
	int r, keep;
	unsigned block;		/* the key scan's first block (scan_plain_mask()) */
	unsigned parent = 0;	/* the object's path node, while depth stays */
	uint64_t key_lens = 0;	/* ... and its key lengths */

again:
	if (ext) {
		parent = kx->node[p->depth - 1];
		key_lens = kx->ps->node[parent].key_lens;
	}
	if (p->gs == G_AFTER)
		goto after;
	if (*c == '}' && p->gs == G_OBJ_FIRST) {
		r = close_container(p, t, c, 0);
		goto token;
	}
	/* At a key, G_OBJ_FIRST and G_KEY differ only in '}', taken above. */
	goto key;
value_end:
	if (c == e || *c <= ' ') {
		c = skip_ws(c, e);
		if (c == e) {
			p->cur = c;
			p->gs = G_AFTER;
			return MORE;
		}
	}
after:
	if (*c != ',') {
		if (*c == '}') {
			/*
			 * With the extractor, an object's end inside an object
			 * is no event (json__on_token() does nothing for it:
			 * not strict, not an array's element), and the loop
			 * goes on with the parent's members, which have the
			 * parent's path node.
			 */
			if (ext && p->depth >= 2 && !(p->stack[(p->depth - 2) / 64] >> ((p->depth - 2) % 64) & 1)) {
				p->depth--;
				p->skip_next = 0;
				parent = kx->node[p->depth - 1];
				key_lens = kx->ps->node[parent].key_lens;
				c++;
				goto value_end;
			}
			/*
			 * `},{"` in an array whose elements are objects with
			 * wanted members (conditions, containers): what
			 * json__on_token() does for the element's end and the
			 * next one's start (ELEM_END, the next index,
			 * ELEM_BEGIN and the element's VALUE when it is
			 * declared, its path node), and on with its members.
			 */
			if (ext && p->depth >= 2 && e - c > 3 && c[1] == ',' && c[2] == '{' && c[3] == '"' &&
			    kx->isarr[p->depth - 2]) {
				const unsigned d = p->depth - 1, el = elem_child(kx->ps, kx->node[d - 1]);

				if (el != JSON__NONE && kx->ps->node[el].has_key) {
					const int path = kx->ps->node[el].path;

					if ((r = elem_object_end(p, kx, d, el, path)) < 0)
						goto elem_end_failed;
					p->skipping = 0;
					p->stack[d / 64] &= ~((uint64_t)1 << (d % 64));
					p->depth = d + 1;
					if (path >= 0) {
						t->type = JSON_OBJECT_BEGIN;
						t->depth = d;
						r = emit(kx, JSON_EV_ELEM_BEGIN, path, kx->index[d - 1], NULL);
						if (r == 0)
							r = emit(kx, JSON_EV_VALUE, path, 0, t);
						if (r < 0) {
							p->cur = c + 3;
							p->gs = G_OBJ_FIRST;
							p->just_began = 1;
							sk->err = r;
							return SINK_FAILED;
						}
					}
					kx->node[d] = (uint16_t)el;
					kx->isarr[d] = 0;
					parent = el;
					key_lens = kx->ps->node[parent].key_lens;
					c += 3;
					goto key_quote;
				}
			}
			/*
			 * `}]`, the last such element and its array, in an
			 * object: the element's end as above, and the array's
			 * end, no event (its parent is an object).
			 */
			if (ext && p->depth >= 3 && e - c > 1 && c[1] == ']' && kx->isarr[p->depth - 2] &&
			    !kx->isarr[p->depth - 3]) {
				const unsigned d = p->depth - 1, el = elem_child(kx->ps, kx->node[d - 1]);

				if (el != JSON__NONE && kx->ps->node[el].has_key) {
					const int path = kx->ps->node[el].path;

					if ((r = elem_object_end(p, kx, d, el, path)) < 0)
						goto elem_end_failed;
					p->depth = d - 1;
					parent = kx->node[d - 2];
					key_lens = kx->ps->node[parent].key_lens;
					c += 2;
					goto value_end;
				}
			}
			r = close_container(p, t, c, 0);
			goto token;
		}
		p->cur = c;
		p->gs = G_AFTER;
		return FALLBACK;
	}
	c++;
	if (c < e && *c == '"')
		goto key_quote;	/* compact `,"` */
	c = skip_ws(c, e);
	if (c == e) {
		p->cur = c;
		p->gs = G_KEY;
		return MORE;
	}
key:
	if (*c != '"')
		goto key_fallback;
key_quote:
	q = scan_plain_mask(simd, c + 1, e, &block);
	if (e - q > 2 && load16(q) == COLON16 && q[2] > ' ') {
		a = q + 2;	/* compact input: `":` and the value, one compare */
	} else {
		if (q == e || *q != '"')
			goto key_fallback;
		a = skip_ws(q + 1, e);
		if (a == e || *a != ':')
			goto key_fallback;
		a = skip_ws(a + 1, e);
		if (a == e)
			goto key_fallback;
	}
	if ((size_t)(q - c - 1) > smax)
		goto key_fallback;
	keep = ext ? json__key_filter_at(kx, parent, key_lens, (const char *)c + 1, (size_t)(q - c - 1))
	    : p->filter(p->filter_ctx, (const char *)c + 1, (size_t)(q - c - 1), p->depth);
	if (keep == JSON_FILTER_VALUE_ONLY) {
		/* begin_value()'s plain string, without the call. */
		if (*a == '"' && !p->skip_next) {
			q = scan_plain_from(simd, c + 1, block, a + 1, e);
			if (q < e && *q == '"' && (size_t)(q - a - 1) <= smax) {
				p->skipping = 0;
				t->type = JSON_STRING;
				t->str = (const char *)a + 1;
				t->len = (size_t)(q - a - 1);
				t->depth = p->depth;
				p->cur = q + 1;
				goto scalar;
			}
		}
		/* ... and its short integer or container start. */
		if (!p->skip_next && ((*a >= '0' && *a <= '9') || *a == '-')) {
			p->skipping = 0;
			if (fast_int(p, t, a))
				goto scalar;
		} else if (ext && *a == '{' && a + 1 < e && a[1] == '"' && !p->skip_next &&
		    p->depth < p->max_depth && kx->ps->node[kx->pending].path < 0 &&
		    kx->ps->node[kx->pending].has_key) {
			/*
			 * A wanted object that is no event itself, its first
			 * key right there: what json__on_token() would do for
			 * its start (record its path node), and on with its
			 * members.  G_OBJ_FIRST and G_KEY are the same at a
			 * key, so the loop's key code takes it.
			 */
			p->skipping = 0;
			p->stack[p->depth / 64] &= ~((uint64_t)1 << (p->depth % 64));
			parent = kx->pending;
			kx->node[p->depth] = (uint16_t)parent;
			kx->isarr[p->depth] = 0;
			p->depth++;
			key_lens = kx->ps->node[parent].key_lens;
			c = a + 1;
			goto key_quote;
		} else if (!p->skip_next && (*a == '{' || *a == '[') && p->depth < p->max_depth) {
			p->skipping = 0;
			if (*a == '[')
				p->stack[p->depth / 64] |= (uint64_t)1 << (p->depth % 64);
			else
				p->stack[p->depth / 64] &= ~((uint64_t)1 << (p->depth % 64));
			t->type = *a == '{' ? JSON_OBJECT_BEGIN : JSON_ARRAY_BEGIN;
			t->depth = p->depth++;
			p->gs = *a == '{' ? G_OBJ_FIRST : G_ARR_FIRST;
			p->just_began = 1;
			p->cur = a + 1;
			r = 1;
			goto token;
		}
		p->gs = G_VALUE;
		r = begin_value(p, t, a);
		goto token;
	}
	if (keep) {
		t->type = JSON_KEY;
		t->str = (const char *)c + 1;
		t->len = (size_t)(q - c - 1);
		t->depth = p->depth;
		p->cur = a;
		p->gs = G_VALUE;
		r = 1;
		goto token;
	}
	/* Committed: the member is dropped; its value starts at a. */
	if (*a == '"') {
		q = scan_plain_from(simd, c + 1, block, a + 1, e);
		if (q == e || *q != '"')
			goto slow_value;
		c = q + 1;
	} else if ((*a == '{' || *a == '[') && p->depth < p->max_depth) {
		if (a + 1 < e && a[1] == *a + 2) {	/* "{}" or "[]" */
			c = a + 2;
			goto value_end;
		}
		p->cur = a + 1;
		p->gs = G_VALUE;
		p->sk_depth = 1;
		p->sk_brace = *a == '{';
		p->sk_instr = 0;
		p->sk_esc = 0;
		r = json__skip_scan(p);
		if (r < 0)
			return r;
		if (r == 0) {
			p->ls = L_SKIP;
			p->silent = 1;
			return MORE;
		}
		c = p->cur;
	} else if ((*a >= '0' && *a <= '9') || *a == '-') {
		p->skipping = 1;
		if (!fast_int(p, t, a))
			goto slow_value;
		c = p->cur;
	} else if (*a == 't' && e - a >= 4 && memcmp(a, "true", 4) == 0) {
		c = a + 4;
	} else if (*a == 'n' && e - a >= 4 && memcmp(a, "null", 4) == 0) {
		c = a + 4;
	} else if (*a == 'f' && e - a >= 5 && memcmp(a, "false", 5) == 0) {
		c = a + 5;
	} else {
		goto slow_value;
	}
	goto value_end;
key_fallback:
	p->cur = c;
	p->gs = G_KEY;
	return FALLBACK;
scalar:
	/*
	 * A wanted member's string or integer (p->cur after it): with the
	 * extractor, its token step for a scalar member only emits the event
	 * and leaves the parser as it is, so the loop goes on from the value's
	 * end without storing the state or looking at it again.
	 */
	if (!ext) {
		p->gs = G_AFTER;
		r = 1;
		goto token;
	}
	/* json__on_token()'s first case, known to apply: not strict (the
	 * member loop calls the extractor only then), an object's member, and
	 * the key filter set pending to a node. */
	r = kx->ps->node[kx->pending].path >= 0 ? emit(kx, JSON_EV_VALUE, kx->ps->node[kx->pending].path, 0, t) : 0;
	if (r < 0) {
		p->gs = G_AFTER;
		sk->err = r;
		return SINK_FAILED;
	}
	c = p->cur;
	goto value_end;
elem_end_failed:
	/* the sink refused an element object's end: the parser stands after its `}` (at c) */
	p->cur = c + 1;
	p->gs = G_AFTER;
	sk->err = r;
	return SINK_FAILED;
token:
	/*
	 * With a sink (json__drain()), the token goes to it here, and the
	 * loop goes on with the next member when the state is one it handles
	 * (an object's member list, nothing asked of the parser): as if
	 * json_next() had returned the token and been called again, which
	 * would come back here.
	 */
	if (r != 1 || !sk)
		return r;
	r = ext ? json__on_token(kx, t) : sk->fn(sk->ctx, t);
	if (r < 0) {
		sk->err = r;
		return SINK_FAILED;
	}
	p->just_began = 0;	/* what json_next() does before the next token */
	if (p->ls != L_NONE || !p->depth || top_is_array(p) || (p->gs != G_AFTER && p->gs != G_OBJ_FIRST))
		return MORE;
	c = skip_ws(p->cur, e);
	p->cur = c;
	if (c == e)
		return MORE;
	goto again;
slow_value:
	p->cur = a;
	p->gs = G_VALUE;
	p->skip_next = 1;
	p->silent = 1;
	return MORE;
}

/* The extractor's member loop on a SIMD path and on the portable one, and
 * the general loop for json_next() callers' filters: each with its path
 * and kind of filter constant.  Only the first is inlined into
 * lex_structure(); with all three there, none would be. */
HOT int fast_members_extract(json_parser *p, json_token *t, const uint8_t *c, sink *sk)
{
	return fast_members_on(p, t, c, sk, JSON_PATH_SSE2, 1);
}

static __attribute__((noinline)) int fast_members_extract_portable(json_parser *p, json_token *t, const uint8_t *c, sink *sk)
{
	return fast_members_on(p, t, c, sk, JSON_PATH_SCALAR, 1);
}

static __attribute__((noinline)) int fast_members_filter(json_parser *p, json_token *t, const uint8_t *c, sink *sk)
{
	return fast_members_on(p, t, c, sk, p->simd, 0);
}

HOT int fast_members(json_parser *p, json_token *t, const uint8_t *c, sink *sk)
{
	if (!sk || !p->key_x)
		return fast_members_filter(p, t, c, sk);
	if (p->simd != JSON_PATH_SCALAR)
		return fast_members_extract(p, t, c, sk);
	return fast_members_extract_portable(p, t, c, sk);
}

static int lex_structure(json_parser *p, json_token *t, sink *sk)
{
	const uint8_t *c = p->cur, *e = p->end;
	uint8_t b;

	c = skip_ws(c, e);
	if (p->filter && c < e && ((1u << p->gs) & (1u << G_OBJ_FIRST | 1u << G_KEY | 1u << G_AFTER)) &&
	    p->depth && !top_is_array(p)) {
		int r = fast_members(p, t, c, sk);

		if (r != FALLBACK)
			return r;
		c = p->cur;
	}
	if (c == e) {
		p->cur = c;
		if (!p->eof)
			return 0;
		if (p->gs == G_DONE)
			return 0;
		if (p->gs == G_TOP)
			return (p->flags & JSON_SINGLE) && !p->seen_value ? JSON_EEMPTY : 0;
		return JSON_ETRUNCATED;
	}
	b = *c;
	switch (p->gs) {
	case G_TOP:
	case G_VALUE:
		return begin_value(p, t, c);
	case G_ARR_FIRST:
		if (b == ']')
			return close_container(p, t, c, 1);
		return begin_value(p, t, c);
	case G_OBJ_FIRST:
		if (b == '}')
			return close_container(p, t, c, 0);
		/* fall through */
	case G_KEY:
		if (b != '"')
			break;
		p->cur = c + 1;
		p->span = p->cur;
		p->slen = 0;
		p->copying = 0;
		p->key = 1;
		p->skipping = 0;
		p->ls = L_STR;
		return MORE;
	case G_COLON:
		if (b != ':')
			break;
		p->cur = c + 1;
		p->gs = G_VALUE;
		return MORE;
	case G_AFTER:
		if (b == ',') {
			p->cur = c + 1;
			p->gs = top_is_array(p) ? G_VALUE : G_KEY;
			return MORE;
		}
		if (b == ']' || b == '}')
			return close_container(p, t, c, b == ']');
		break;
	}
	p->cur = c;
	return JSON_ESYNTAX;
}

/* One lexing step: a token (1), MORE, 0 (slice used up) or an error. */
HOT int step(json_parser *p, json_token *t, sink *sk)
{
	switch (p->ls) {
	case L_STR: return lex_string(p, t);
	case L_NUM: return lex_number(p, t);
	case L_LIT: return lex_literal(p, t);
	case L_SKIP: return lex_skip(p, t);
	}
	return lex_structure(p, t, sk);
}

int json_next(json_parser *p, json_token *t)
{
	int r;

	if (p->err)
		return p->err;
	p->just_began = 0;
	do
		r = step(p, t, NULL);
	while (r == MORE);
	if (r < 0)
		p->err = r;
	return r;
}

int json__drain(json_parser *p, json__sink fn, void *ctx)
{
	json_token t;
	sink sk;
	int r;

	sk.fn = fn;
	sk.ctx = ctx;
	sk.err = 0;

	if (p->err)
		return p->err;
	for (;;) {
		/* What json_next() does on entry, before each token. */
		p->just_began = 0;
		do
			r = step(p, &t, &sk);
		while (r == MORE);
		if (r == SINK_FAILED)
			return sk.err;
		if (r != 1)
			break;
		r = fn(ctx, &t);
		if (r < 0)
			return r;
	}
	if (r < 0)
		p->err = r;
	return r;
}
