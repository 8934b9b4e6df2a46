/*
 * Bulk skipping of objects and arrays nobody asked for.
 *
 * Implementation notes.  Input is classified 64 bytes at a time into
 * bitmasks (quote, backslash, open/close bracket, brace, control, non-ASCII)
 * by one of the paths of enum json_path (AVX2 or SSE4.2 chosen at run time,
 * SSE2 as the x86-64 baseline, portable C everywhere).  Blocks with no
 * backslash, control or non-ASCII byte that cannot end the value take a
 * short cut that only counts brackets (skip_fast).  Escaped characters are found by walking
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
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define X86_PATHS 1
#include <immintrin.h>
#else
#define X86_PATHS 0
#endif

#define ALWAYS static inline __attribute__((always_inline))

typedef struct masks {
	uint64_t quote, bs, open, close, brace_open, brace_close, ctl, high;
} masks;

/* What the fast loop needs: "special" is control or non-ASCII, either of
 * which sends the block to the general code; backslashes it walks.  "b5"
 * is bit 5 of each byte, set for '{' and '}' and clear for '[' and ']', so
 * open & b5 are the braces among the open brackets (one mask, where two
 * would be the braces themselves). */
typedef struct fmasks {
	uint64_t quote, bs, open, close, b5, special;
} fmasks;

/* Most of the portable path's time: aligned, so its speed does not move
 * with the size of the code linked before it (+-3% seen). */
static __attribute__((aligned(64))) void classify_scalar(const uint8_t *s, masks *m)
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

static void classify_fast_scalar(const uint8_t *s, fmasks *f)
{
	masks m;

	classify_scalar(s, &m);
	f->quote = m.quote;
	f->open = m.open;
	f->close = m.close;
	f->b5 = m.brace_open | m.brace_close;	/* only ANDed with brackets */
	f->bs = m.bs;
	f->special = m.ctl | m.high;
}

#if defined(__SSE2__)
ALWAYS void classify_sse2(const uint8_t *s, masks *m)
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

ALWAYS void classify_fast_sse2(const uint8_t *s, fmasks *f)
{
	const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
	const __m128i lc = _mm_set1_epi8(0x20), ob = _mm_set1_epi8('{'), cb = _mm_set1_epi8('}');
	int i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < 4; i++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + 16 * i));
		__m128i vl = _mm_or_si128(v, lc);
		/* Non-ASCII or a control character: below ' ' as signed bytes. */
		__m128i sp = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
		unsigned sh = 16u * (unsigned)i;

		f->quote |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, q)) << sh;
		f->bs |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, bs)) << sh;
		f->open |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(vl, ob)) << sh;
		f->close |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(vl, cb)) << sh;
		f->b5 |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_slli_epi16(v, 2)) << sh;
		f->special |= (uint64_t)(unsigned)_mm_movemask_epi8(sp) << sh;
	}
}
#endif

#if X86_PATHS
/* The same classification 32 bytes at a time, for CPUs that have AVX2
 * (checked at run time; the binary stays baseline x86-64). */
__attribute__((target("avx2")))
static inline void classify_avx2(const uint8_t *s, masks *m)
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

__attribute__((target("avx2")))
static inline void classify_fast_avx2(const uint8_t *s, fmasks *f)
{
	const __m256i q = _mm256_set1_epi8('"'), bs = _mm256_set1_epi8('\\');
	const __m256i lc = _mm256_set1_epi8(0x20), ob = _mm256_set1_epi8('{'), cb = _mm256_set1_epi8('}');
	__m256i v0 = _mm256_loadu_si256((const __m256i *)(const void *)s);
	__m256i v1 = _mm256_loadu_si256((const __m256i *)(const void *)(s + 32));
	__m256i l0 = _mm256_or_si256(v0, lc), l1 = _mm256_or_si256(v1, lc);
	/* Non-ASCII or a control character: below ' ' as signed bytes. */
	__m256i sp0 = _mm256_cmpgt_epi8(_mm256_set1_epi8(0x20), v0);
	__m256i sp1 = _mm256_cmpgt_epi8(_mm256_set1_epi8(0x20), v1);

	__m256i bs0 = _mm256_cmpeq_epi8(v0, bs), bs1 = _mm256_cmpeq_epi8(v1, bs);
	__m256i sp = _mm256_or_si256(sp0, sp1), bsa = _mm256_or_si256(bs0, bs1);

	/* Moving a mask out of a vector register is the scarce step (one
	 * port): the rare masks, special and backslash, are first tested in
	 * the vector unit and only moved when set. */
#define M2(a, b) ((uint64_t)(uint32_t)_mm256_movemask_epi8(a) | \
	(uint64_t)(uint32_t)_mm256_movemask_epi8(b) << 32)
	f->quote = M2(_mm256_cmpeq_epi8(v0, q), _mm256_cmpeq_epi8(v1, q));
	f->bs = _mm256_testz_si256(bsa, bsa) ? 0 : M2(bs0, bs1);
	f->open = M2(_mm256_cmpeq_epi8(l0, ob), _mm256_cmpeq_epi8(l1, ob));
	f->close = M2(_mm256_cmpeq_epi8(l0, cb), _mm256_cmpeq_epi8(l1, cb));
	f->b5 = M2(_mm256_slli_epi16(v0, 2), _mm256_slli_epi16(v1, 2));
	f->special = _mm256_testz_si256(sp, sp) ? 0 : M2(sp0, sp1);
#undef M2
}

/* The SSE2 classification with the rare masks (special, backslash) tested
 * in the vector unit first (SSE4.1 ptest): moving masks out is the scarce
 * step, as on the AVX2 path. */
__attribute__((target("sse4.2")))
static inline void classify_fast_sse42(const uint8_t *s, fmasks *f)
{
	const __m128i q = _mm_set1_epi8('"'), bsc = _mm_set1_epi8('\\');
	const __m128i lc = _mm_set1_epi8(0x20), ob = _mm_set1_epi8('{'), cb = _mm_set1_epi8('}');
	__m128i v[4], sp[4], bs[4], spa, bsa;
	uint64_t quote = 0, open = 0, close = 0, b5 = 0;
	int i;

	for (i = 0; i < 4; i++) {
		__m128i vl;
		unsigned sh = 16u * (unsigned)i;

		v[i] = _mm_loadu_si128((const __m128i *)(const void *)(s + 16 * i));
		vl = _mm_or_si128(v[i], lc);
		sp[i] = _mm_or_si128(v[i], _mm_cmpeq_epi8(_mm_min_epu8(v[i], _mm_set1_epi8(0x1f)), v[i]));
		bs[i] = _mm_cmpeq_epi8(v[i], bsc);
		quote |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v[i], q)) << sh;
		open |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(vl, ob)) << sh;
		close |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(vl, cb)) << sh;
		b5 |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_slli_epi16(v[i], 2)) << sh;
	}
	f->quote = quote;
	f->open = open;
	f->close = close;
	f->b5 = b5;
	spa = _mm_or_si128(_mm_or_si128(sp[0], sp[1]), _mm_or_si128(sp[2], sp[3]));
	bsa = _mm_or_si128(_mm_or_si128(bs[0], bs[1]), _mm_or_si128(bs[2], bs[3]));
	f->special = 0;
	f->bs = 0;
	if (!_mm_testz_si128(spa, _mm_set1_epi8((char)0x80)))
		for (i = 0; i < 4; i++)
			f->special |= (uint64_t)(unsigned)_mm_movemask_epi8(sp[i]) << (16 * i);
	if (!_mm_testz_si128(bsa, bsa))
		for (i = 0; i < 4; i++)
			f->bs |= (uint64_t)(unsigned)_mm_movemask_epi8(bs[i]) << (16 * i);
}

/* Carry-less multiply by all ones is the prefix XOR in one instruction.
 * Target functions are plain static inline: an always_inline generic caller
 * may not inline them, but once that caller is inlined into scan_avx2()
 * the compiler can. */
__attribute__((target("pclmul")))
static inline uint64_t prefix_xor_clmul(uint64_t x)
{
	__m128i r = _mm_clmulepi64_si128(_mm_set_epi64x(0, (long long)x), _mm_set1_epi8((char)0xff), 0);

	return (uint64_t)_mm_cvtsi128_si64(r);
}
#endif

ALWAYS unsigned popcount64(uint64_t x, int kind)
{
	if (kind >= JSON_PATH_SSE42)
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

ALWAYS uint64_t prefix_xor(uint64_t x, int kind)
{
#if X86_PATHS
	if (kind == JSON_PATH_AVX2)
		return prefix_xor_clmul(x);
#else
	(void)kind;
#endif
	x ^= x << 1;
	x ^= x << 2;
	x ^= x << 4;
	x ^= x << 8;
	x ^= x << 16;
	x ^= x << 32;
	return x;
}

/* The letters that may follow a backslash: bit (b - 32) of a 96-bit set, so
 * the check is a shift, not a switch, in the shortcut loop. */
ALWAYS int escape_letter(uint8_t b)
{
	static const uint32_t set[3] = {
		1u << ('"' - 32) | 1u << ('/' - 32),
		1u << ('\\' - 64),
		1u << ('b' - 96) | 1u << ('f' - 96) | 1u << ('n' - 96) | 1u << ('r' - 96) |
		    1u << ('t' - 96) | 1u << ('u' - 96),
	};
	unsigned i = (unsigned)b - 32;

	return i < 96 && (set[i / 32] >> (i % 32) & 1);
}

ALWAYS void classify(const uint8_t *s, masks *m, int kind)
{
#if X86_PATHS
	if (kind == JSON_PATH_AVX2) {
		classify_avx2(s, m);
		return;
	}
#endif
#if defined(__SSE2__)
	if (kind != JSON_PATH_SCALAR) {
		classify_sse2(s, m);
		return;
	}
#endif
	classify_scalar(s, m);
}

ALWAYS void classify_fast(const uint8_t *s, fmasks *f, int kind)
{
#if X86_PATHS
	if (kind == JSON_PATH_AVX2) {
		classify_fast_avx2(s, f);
		return;
	}
	if (kind == JSON_PATH_SSE42) {
		classify_fast_sse42(s, f);
		return;
	}
#endif
#if defined(__SSE2__)
	if (kind != JSON_PATH_SCALAR) {
		classify_fast_sse2(s, f);
		return;
	}
#endif
	classify_fast_scalar(s, f);
}

/* Records err at pos if it is earlier than the current first failure. */
static void note(unsigned *epos, int *err, unsigned pos, int code)
{
	if (pos < *epos) {
		*epos = pos;
		*err = code;
	}
}

ALWAYS unsigned first_bit(uint64_t x)
{
	return (unsigned)__builtin_ctzll(x);
}

/*
 * Processes s[0..n) (n <= 64, s readable for 64 bytes).  Returns 1 with
 * *used = bytes up to and including the closing bracket, 0 with *used = n,
 * or an error.
 */
ALWAYS int skip_block(json_parser *p, const uint8_t *s, unsigned n, unsigned *used, int kind)
{
	masks m;
	uint64_t valid = n == 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1;
	uint64_t bs, escaped = 0, starts = 0, inside, opens, closes, upto, x;
	unsigned epos = 64, end = 64, i, esc_out = 0;
	int err = 0;

	classify(s, &m, kind);
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
	inside = prefix_xor(m.quote & ~escaped, kind) ^ (p->sk_instr ? ~(uint64_t)0 : 0);
	opens = m.open & valid & ~inside;
	closes = m.close & valid & ~inside;

	if (popcount64(closes, kind) < p->sk_depth &&
	    p->depth + p->sk_depth + popcount64(opens, kind) <= p->max_depth) {
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

		/* ASCII bytes outside a sequence leave the state alone: jump
		 * from one non-ASCII byte to the next when none is pending. */
		for (i = p->u8_need ? 0 : first_bit(x); i < lim && i < epos;) {
			if (json__utf8_step(p, s[i]) < 0) {
				note(&epos, &err, i, JSON_EUTF8);
				break;
			}
			i++;
			if (!p->u8_need) {
				uint64_t rest = i < 64 ? x >> i << i : 0;

				if (!rest)
					break;
				i = first_bit(rest);
			}
		}
	}
	if (end < 64 && end < epos) {
		int32_t braces = p->sk_brace + (int32_t)popcount64(m.brace_open & ~inside & upto, kind)
		    - (int32_t)popcount64(m.brace_close & ~inside & upto, kind);

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
	p->sk_depth = p->sk_depth + popcount64(opens, kind) - popcount64(closes, kind);
	p->sk_brace += (int32_t)popcount64(m.brace_open & ~inside & valid, kind)
	    - (int32_t)popcount64(m.brace_close & ~inside & valid, kind);
	p->sk_instr = (uint8_t)(inside >> (n - 1) & 1);
	p->sk_esc = (uint8_t)esc_out;
	*used = n;
	return 0;
}

/*
 * Full blocks with no control or non-ASCII byte, as long as they come: only
 * the depth and brace counts move, or, when the value ends in a block, the
 * closing bracket is found by walking the bracket bits.  The counts live in
 * locals for the run (written back at the end), so the loop carries them in
 * registers.  Returns 1 when the value ended (p->cur after its closing
 * bracket), 0 when the slice has less than a block left or a block must go
 * to skip_block() (p->cur at that block), which then decides everything (so
 * errors and their offsets never depend on this shortcut: anything that
 * could fail, the depth limit, unbalanced brace kinds, a bad escape letter,
 * a backslash outside strings, falls back).  "{}" and "[]" pairs are taken
 * out before comparing the closing brackets with the depth: a pair never
 * takes the depth below where it started, and managedFields is mostly such
 * pairs.
 */
ALWAYS int skip_fast_run(json_parser *p, int kind)
{
	const uint8_t *s = p->cur, *e = p->end;
	uint32_t depth = p->sk_depth, room = p->max_depth - p->depth, d;
	int32_t brace = p->sk_brace;
	uint64_t instr = 0 - (uint64_t)p->sk_instr;
	int ended = 0;

	while (e - s >= 64) {
		fmasks f;
		uint64_t inside, opens, closes, pairs, x, upto, escaped = 0, starts = 0;
		unsigned no, nc, i;

		classify_fast(s, &f, kind);
		if (f.special)
			break;
		/* Escapes (managedFields keys such as k:{\"name\":\"main\"}):
		 * each backslash escapes the next byte, which must be an escape
		 * letter; one ending the block is left to skip_block(). */
		for (x = f.bs; x; x &= ~((uint64_t)3 << i)) {
			i = first_bit(x);
			if (i == 63 || !escape_letter(s[i + 1]))
				goto out;
			starts |= (uint64_t)1 << i;
			escaped |= (uint64_t)2 << i;
		}
		inside = prefix_xor(f.quote & ~escaped, kind) ^ instr;
		if (starts & ~inside)
			break;
		opens = f.open & ~inside;
		closes = f.close & ~inside;
		pairs = opens & closes >> 1;
		no = popcount64(opens & ~pairs, kind);
		nc = popcount64(closes & ~(pairs << 1), kind);
		if (nc >= depth) {
			d = depth;
			for (x = opens | closes; x; x &= x - 1) {
				i = first_bit(x);
				if (opens >> i & 1) {
					if (++d > room)
						goto out;
				} else if (--d == 0) {
					upto = i == 63 ? ~(uint64_t)0 : ((uint64_t)1 << (i + 1)) - 1;
					if (brace + (int32_t)popcount64(opens & f.b5 & upto, kind) !=
					    (int32_t)popcount64(closes & f.b5 & upto, kind))
						goto out;
					depth = 0;
					s += i + 1;
					ended = 1;
					goto out;
				}
			}
			/* Many closes but not the last one: the walk gave the depth. */
			depth = d;
		} else {
			if (depth + no + (pairs != 0) > room)
				break;
			depth += no - nc;
		}
		brace += (int32_t)popcount64(opens & f.b5, kind) - (int32_t)popcount64(closes & f.b5, kind);
		instr = 0 - (inside >> 63);
		s += 64;
	}
out:
	p->cur = s;
	p->sk_depth = depth;
	p->sk_brace = brace;
	p->sk_instr = (uint8_t)(instr & 1);
	return ended;
}

/* The scan loop, instantiated once per instruction set. */
ALWAYS int scan(json_parser *p, int kind)
{
	uint8_t pad[64];

	while (p->cur < p->end) {
		size_t left;
		const uint8_t *s;
		unsigned n = 64, used;
		int r;

		if (!p->sk_esc && !p->u8_need) {
			if (skip_fast_run(p, kind))
				return 1;
			if (p->cur == p->end)
				break;
		}
		left = (size_t)(p->end - p->cur);
		s = p->cur;
		if (left < 64) {
			n = (unsigned)left;
			memcpy(pad, s, n);
			memset(pad + n, 0, 64 - n);
			s = pad;
		}
		r = skip_block(p, s, n, &used, kind);
		if (r < 0)
			return r;
		p->cur += used;
		if (r == 1)
			return 1;
	}
	return 0;
}

static int scan_scalar(json_parser *p)
{
	return scan(p, JSON_PATH_SCALAR);
}

#if defined(__SSE2__)
static int scan_sse2(json_parser *p)
{
	return scan(p, JSON_PATH_SSE2);
}
#endif

#if X86_PATHS
__attribute__((target("sse4.2,popcnt")))
static int scan_sse42(json_parser *p)
{
	return scan(p, JSON_PATH_SSE42);
}

__attribute__((target("avx2,popcnt,pclmul")))
static int scan_avx2(json_parser *p)
{
	return scan(p, JSON_PATH_AVX2);
}
#endif

int json__skip_scan(json_parser *p)
{
	switch (p->simd) {
#if X86_PATHS
	case JSON_PATH_AVX2: return scan_avx2(p);
	case JSON_PATH_SSE42: return scan_sse42(p);
#endif
#if defined(__SSE2__)
	case JSON_PATH_SSE2: return scan_sse2(p);
#endif
	}
	return scan_scalar(p);
}

/* The best path this CPU has. */
static int best_path(void)
{
#if X86_PATHS
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") &&
	    __builtin_cpu_supports("pclmul"))
		return JSON_PATH_AVX2;
	if (__builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("popcnt"))
		return JSON_PATH_SSE42;
#endif
#if defined(__SSE2__)
	return JSON_PATH_SSE2;
#else
	return JSON_PATH_SCALAR;
#endif
}

int json_simd_path(unsigned flags)
{
	static int best;
	int want = (int)((flags & JSON_SIMD_MASK) >> JSON_SIMD_SHIFT);

	if (!best)
		best = best_path();
	if (flags & JSON_BASELINE_SIMD)
		want = JSON_PATH_SSE2;
	if (want < JSON_PATH_SCALAR || want > best)
		want = best;
	if (want == JSON_PATH_SSE2 && best < JSON_PATH_SSE2)
		want = JSON_PATH_SCALAR;
	return want;
}

const char *json_simd_path_name(int path)
{
	switch (path) {
	case JSON_PATH_SCALAR: return "scalar";
	case JSON_PATH_SSE2: return "sse2";
	case JSON_PATH_SSE42: return "sse4.2";
	case JSON_PATH_AVX2: return "avx2";
	}
	return "?";
}
