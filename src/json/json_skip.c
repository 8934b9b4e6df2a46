/*
 * Bulk skipping of objects and arrays nobody asked for.
 *
 * Implementation notes.  Input is classified 64 bytes at a time into
 * bitmasks (quote, backslash, open/close bracket, brace, control, non-ASCII),
 * with SSE2 where the target has it.  Escaped characters are found by walking
 * the backslash bits (rare outside escaped-JSON annotations); the "inside a
 * string" mask is the prefix XOR of the unescaped quotes.  Brackets outside
 * strings then give the depth: when the block holds fewer closing brackets
 * than the open depth, it cannot end the value and the depth moves by two
 * popcounts; otherwise the bits are walked to find the closing byte.
 *
 * Checks are computed for the whole block and each yields the position of
 * its first failure; the earliest position before the end of the skipped
 * value wins.  So the error reported does not depend on where slices end:
 * a short slice is copied into a zero-padded block and masked to its length.
 */
#include "json_int.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

typedef struct masks {
	uint64_t quote, bs, open, close, brace_open, brace_close, ctl, high;
} masks;

#if defined(__SSE2__)
static void classify_base(const uint8_t *s, masks *m)
{
	const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
	const __m128i lc = _mm_set1_epi8(0x20), ob = _mm_set1_epi8('{'), cb = _mm_set1_epi8('}');
	const __m128i c1f = _mm_set1_epi8(0x1f);
	int i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < 4; i++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + 16 * i));
		/* '[' | 0x20 == '{' and ']' | 0x20 == '}'; no other byte maps there. */
		__m128i vl = _mm_or_si128(v, lc);
		__m128i eo = _mm_cmpeq_epi8(vl, ob), ec = _mm_cmpeq_epi8(vl, cb);
		unsigned sh = 16u * (unsigned)i;

		m->quote |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, q)) << sh;
		m->bs |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, bs)) << sh;
		m->open |= (uint64_t)(unsigned)_mm_movemask_epi8(eo) << sh;
		m->close |= (uint64_t)(unsigned)_mm_movemask_epi8(ec) << sh;
		m->brace_open |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, ob)) << sh;
		m->brace_close |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, cb)) << sh;
		m->ctl |= (uint64_t)(unsigned)_mm_movemask_epi8(
		    _mm_cmpeq_epi8(_mm_min_epu8(v, c1f), v)) << sh;
		m->high |= (uint64_t)(unsigned)_mm_movemask_epi8(v) << sh;
	}
}
#else
static void classify_base(const uint8_t *s, masks *m)
{
	int i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < 64; i++) {
		uint64_t bit = (uint64_t)1 << i;
		uint8_t b = s[i];

		if (b == '"') m->quote |= bit;
		else if (b == '\\') m->bs |= bit;
		else if (b == '{') { m->open |= bit; m->brace_open |= bit; }
		else if (b == '[') m->open |= bit;
		else if (b == '}') { m->close |= bit; m->brace_close |= bit; }
		else if (b == ']') m->close |= bit;
		else if (b < 0x20) m->ctl |= bit;
		else if (b >= 0x80) m->high |= bit;
	}
}
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX2_PATH 1
#include <immintrin.h>

/* The same classification 32 bytes at a time, for CPUs that have AVX2
 * (checked at run time; the binary stays baseline x86-64). */
__attribute__((target("avx2")))
static void classify_avx2(const uint8_t *s, masks *m)
{
	const __m256i q = _mm256_set1_epi8('"'), bs = _mm256_set1_epi8('\\');
	const __m256i lc = _mm256_set1_epi8(0x20), ob = _mm256_set1_epi8('{'), cb = _mm256_set1_epi8('}');
	const __m256i c1f = _mm256_set1_epi8(0x1f);
	int i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < 2; i++) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(s + 32 * i));
		__m256i vl = _mm256_or_si256(v, lc);
		unsigned sh = 32u * (unsigned)i;

		m->quote |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, q)) << sh;
		m->bs |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, bs)) << sh;
		m->open |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(vl, ob)) << sh;
		m->close |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(vl, cb)) << sh;
		m->brace_open |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, ob)) << sh;
		m->brace_close |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, cb)) << sh;
		m->ctl |= (uint64_t)(uint32_t)_mm256_movemask_epi8(
		    _mm256_cmpeq_epi8(_mm256_min_epu8(v, c1f), v)) << sh;
		m->high |= (uint64_t)(uint32_t)_mm256_movemask_epi8(v) << sh;
	}
}
#else
#define HAVE_AVX2_PATH 0
#endif

static inline __attribute__((always_inline)) unsigned popcount64(uint64_t x, int hw)
{
	if (hw)
		return (unsigned)__builtin_popcountll(x);
#if defined(__POPCNT__)
	return (unsigned)__builtin_popcountll(x);
#else
	x = x - ((x >> 1) & 0x5555555555555555ull);
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (unsigned)((x * 0x0101010101010101ull) >> 56);
#endif
}

static uint64_t prefix_xor(uint64_t x)
{
	x ^= x << 1;
	x ^= x << 2;
	x ^= x << 4;
	x ^= x << 8;
	x ^= x << 16;
	x ^= x << 32;
	return x;
}

static int escape_letter(uint8_t b)
{
	switch (b) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': case 'u':
		return 1;
	}
	return 0;
}

/* Records err at pos if it is earlier than the current first failure. */
static void note(unsigned *epos, int *err, unsigned pos, int code)
{
	if (pos < *epos) {
		*epos = pos;
		*err = code;
	}
}

static unsigned first_bit(uint64_t x)
{
	return (unsigned)__builtin_ctzll(x);
}

/*
 * Processes s[0..n) (n <= 64, s readable for 64 bytes).  Returns 1 with
 * *used = bytes up to and including the closing bracket, 0 with *used = n,
 * or an error.
 */
static inline __attribute__((always_inline))
int skip_block(json_parser *p, const uint8_t *s, unsigned n, unsigned *used, int wide)
{
	masks m;
	uint64_t valid = n == 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1;
	uint64_t bs, escaped = 0, starts = 0, inside, opens, closes, upto, x;
	unsigned epos = 64, end = 64, i, esc_out = 0;
	int err = 0;

#if HAVE_AVX2_PATH
	if (wide)
		classify_avx2(s, &m);
	else
#endif
		classify_base(s, &m);
	m.quote &= valid;
	m.ctl &= valid;
	m.high &= valid;
	bs = m.bs & valid;
	if (p->sk_esc) {
		escaped = 1;
		bs &= ~(uint64_t)1;
		if (!escape_letter(s[0]))
			note(&epos, &err, 0, JSON_ESTRING);
	}
	while (bs) {
		i = first_bit(bs);
		starts |= (uint64_t)1 << i;
		if (i + 1 < n) {
			escaped |= (uint64_t)1 << (i + 1);
			bs &= ~((uint64_t)3 << i);
			if (!escape_letter(s[i + 1]))
				note(&epos, &err, i + 1, JSON_ESTRING);
		} else {
			esc_out = 1;
			bs &= ~((uint64_t)1 << i);
		}
	}
	inside = prefix_xor(m.quote & ~escaped) ^ (p->sk_instr ? ~(uint64_t)0 : 0);
	opens = m.open & valid & ~inside;
	closes = m.close & valid & ~inside;

	if (popcount64(closes, wide) < p->sk_depth &&
	    p->depth + p->sk_depth + popcount64(opens, wide) <= p->max_depth) {
		upto = valid;
	} else {
		uint32_t d = p->sk_depth;

		for (x = opens | closes; x; x &= x - 1) {
			i = first_bit(x);
			if (opens >> i & 1) {
				if (p->depth + ++d > p->max_depth) {
					note(&epos, &err, i, JSON_EDEPTH);
					break;
				}
			} else if (--d == 0) {
				end = i;
				break;
			}
		}
		upto = end == 64 ? valid : end == 63 ? ~(uint64_t)0 : ((uint64_t)1 << (end + 1)) - 1;
	}

	/* Checks, each limited to the bytes that belong to the skipped value. */
	x = m.ctl & inside & upto;
	if (x)
		note(&epos, &err, first_bit(x), JSON_ESTRING);
	for (x = m.ctl & ~inside & upto; x; x &= x - 1) {
		uint8_t b = s[first_bit(x)];

		if (b != '\n' && b != '\r' && b != '\t') {
			note(&epos, &err, first_bit(x), JSON_ESYNTAX);
			break;
		}
	}
	x = m.high & ~inside & upto;
	if (x)
		note(&epos, &err, first_bit(x), JSON_ESYNTAX);
	x = starts & ~inside & upto;
	if (x)
		note(&epos, &err, first_bit(x), JSON_ESYNTAX);
	x = m.high & upto;
	if (x || p->u8_need) {
		unsigned lim = end == 64 ? n : end + 1;

		for (i = p->u8_need ? 0 : first_bit(x); i < lim && i < epos; i++) {
			if (json_utf8_step(p, s[i]) < 0) {
				note(&epos, &err, i, JSON_EUTF8);
				break;
			}
		}
	}
	if (end < 64 && end < epos) {
		int32_t braces = p->sk_brace + (int32_t)popcount64(m.brace_open & ~inside & upto, wide)
		    - (int32_t)popcount64(m.brace_close & ~inside & upto, wide);

		if (braces != 0)
			note(&epos, &err, end, JSON_ESYNTAX);
	}
	if (err < 0 && epos <= end) {
		p->cur += epos;
		return err;
	}
	if (end < 64) {
		*used = end + 1;
		p->sk_depth = 0;
		return 1;
	}
	p->sk_depth = p->sk_depth + popcount64(opens, wide) - popcount64(closes, wide);
	p->sk_brace += (int32_t)popcount64(m.brace_open & ~inside & valid, wide)
	    - (int32_t)popcount64(m.brace_close & ~inside & valid, wide);
	p->sk_instr = (uint8_t)(inside >> (n - 1) & 1);
	p->sk_esc = (uint8_t)esc_out;
	*used = n;
	return 0;
}

/* The scan loop, instantiated once per instruction set. */
static inline __attribute__((always_inline)) int scan(json_parser *p, int wide)
{
	uint8_t pad[64];

	while (p->cur < p->end) {
		size_t left = (size_t)(p->end - p->cur);
		const uint8_t *s = p->cur;
		unsigned n = 64, used;
		int r;

		if (left < 64) {
			n = (unsigned)left;
			memcpy(pad, s, n);
			memset(pad + n, 0, 64 - n);
			s = pad;
		}
		r = skip_block(p, s, n, &used, wide);
		if (r < 0)
			return r;
		p->cur += used;
		if (r == 1)
			return 1;
	}
	return 0;
}

#if HAVE_AVX2_PATH
__attribute__((target("avx2,popcnt")))
static int scan_avx2(json_parser *p)
{
	return scan(p, 1);
}
#endif

static int scan_base(json_parser *p)
{
	return scan(p, 0);
}

int json_skip_scan(json_parser *p)
{
#if HAVE_AVX2_PATH
	if (!(p->flags & JSON_BASELINE_SIMD) && __builtin_cpu_supports("avx2") &&
	    __builtin_cpu_supports("popcnt"))
		return scan_avx2(p);
#endif
	return scan_base(p);
}
