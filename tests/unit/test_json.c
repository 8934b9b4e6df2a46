/*
 * The JSON tokenizer: conformance cases (json_cases.h) fed whole, one byte at
 * a time and split at every point, with identical token streams and results;
 * stream mode; limits; the bulk skipper's checks.
 */
#include "harness.h"
#include "json/json.h"
#include "json_cases.h"

#include <math.h>
#include <stdarg.h>

static const char *err_name(int r)
{
	switch (r) {
	case JSON_ESYNTAX: return "ESYNTAX";
	case JSON_ESTRING: return "ESTRING";
	case JSON_EUTF8: return "EUTF8";
	case JSON_ESURROGATE: return "ESURROGATE";
	case JSON_ENUMBER: return "ENUMBER";
	case JSON_EDEPTH: return "EDEPTH";
	case JSON_ESTRLIMIT: return "ESTRLIMIT";
	case JSON_ETRUNCATED: return "ETRUNCATED";
	case JSON_EEMPTY: return "EEMPTY";
	}
	return "E?";
}

typedef struct out {
	char s[8192];
	size_t n;
} out;

static void outf(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(out *o, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (o->n >= sizeof(o->s))
		return;
	va_start(ap, fmt);
	k = vsnprintf(o->s + o->n, sizeof(o->s) - o->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		o->n += (size_t)k;
	if (o->n > sizeof(o->s))
		o->n = sizeof(o->s);
}

static void dump_str(out *o, char tag, const char *s, size_t n)
{
	size_t i;

	outf(o, "%c\"", tag);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f)
			outf(o, "%c", c);
		else
			outf(o, "\\x%02x", c);
	}
	outf(o, "\" ");
}

static void dump_token(out *o, const json_token *t)
{
	switch (t->type) {
	case JSON_OBJECT_BEGIN: outf(o, "{ "); break;
	case JSON_OBJECT_END: outf(o, "} "); break;
	case JSON_ARRAY_BEGIN: outf(o, "[ "); break;
	case JSON_ARRAY_END: outf(o, "] "); break;
	case JSON_KEY: dump_str(o, 'k', t->str, t->len); break;
	case JSON_STRING: dump_str(o, 's', t->str, t->len); break;
	case JSON_INT: outf(o, "i%lld ", (long long)t->i); break;
	case JSON_DOUBLE: outf(o, "d%.15g ", t->d); break;
	case JSON_TRUE: outf(o, "t "); break;
	case JSON_FALSE: outf(o, "f "); break;
	case JSON_NULL: outf(o, "n "); break;
	case JSON_SKIPPED: outf(o, "_ "); break;
	default: outf(o, "? "); break;
	}
}

/* CHECK_EQ_STR for the big dump buffers (the harness formats into 1 KiB). */
static int same_out(const char *got, const char *want)
{
	if (strcmp(got, want) == 0)
		return 1;
	fprintf(stderr, "  got  %.900s\n  want %s\n", got, want);
	return 0;
}
#define CHECK_OUT(got, want) CHECK(same_out(got, want))

enum { SKIP_TOP = 1, SKIP_KEY_A = 2, FILTER_A = 4 };

/* A key filter dropping members named "a" (counts its calls). */
static int drop_a(void *ctx, const char *key, size_t len, unsigned depth)
{
	(void)depth;
	++*(unsigned *)ctx;
	return !(len == 1 && key[0] == 'a');
}

typedef struct opts {
	unsigned flags;		/* JSON_SINGLE */
	size_t sbuf;		/* string buffer size */
	unsigned skip;		/* SKIP_* */
	unsigned depth;		/* 0 = default */
} opts;

/*
 * Parses in[0..len) fed as the slices given by cuts (ascending offsets) and
 * returns the dump.  Each slice lives in its own heap copy that is freed once
 * the parser has consumed it, so ASan catches a token outliving its slice.
 */
static void parse_cuts(const uint8_t *in, size_t len, const size_t *cuts, size_t ncuts,
    const opts *op, out *o)
{
	json_parser p;
	json_token t;
	char *sbuf = malloc(op->sbuf ? op->sbuf : 1);
	size_t i, from = 0;
	int r = 0;
	unsigned depth = 0, filtered = 0;

	o->n = 0;
	o->s[0] = '\0';
	json_parser_init(&p, sbuf, op->sbuf, op->flags);
	if (op->depth)
		json_parser_set_max_depth(&p, op->depth);
	if (op->skip & SKIP_TOP)
		json_skip_next(&p);
	if (op->skip & FILTER_A)
		json_parser_set_key_filter(&p, drop_a, &filtered);
	for (i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : len;
		uint8_t *slice = malloc(to - from + 1);

		memcpy(slice, in + from, to - from);
		json_feed(&p, slice, to - from);
		if (i == ncuts)
			json_feed_end(&p);
		while ((r = json_next(&p, &t)) == 1) {
			dump_token(o, &t);
			/* The depth each token reports matches the nesting it sits in. */
			if (t.type == JSON_OBJECT_END || t.type == JSON_ARRAY_END)
				depth--;
			if (t.depth != depth)
				outf(o, "(depth %u want %u) ", t.depth, depth);
			if (t.type == JSON_OBJECT_BEGIN || t.type == JSON_ARRAY_BEGIN)
				depth++;
			if (t.type == JSON_KEY && (op->skip & SKIP_KEY_A) && t.len == 1 && t.str[0] == 'a')
				json_skip_next(&p);
			if (depth == 0 && t.type != JSON_KEY && (op->skip & SKIP_TOP) &&
			    t.type != JSON_OBJECT_BEGIN && t.type != JSON_ARRAY_BEGIN)
				json_skip_next(&p);
		}
		free(slice);
		from = to;
		if (r < 0)
			break;
	}
	if (r < 0) {
		outf(o, "!%s", err_name(r));
		/* Sticky. */
		if (json_next(&p, &t) != r)
			outf(o, " (not sticky)");
	} else {
		outf(o, "=ok");
	}
	if (filtered)
		outf(o, " (%u keys filtered)", filtered);
	free(sbuf);
}

/* Whole, byte by byte, and every single split point give the same dump. */
static int check_all_splits(const uint8_t *in, size_t len, const opts *op, out *whole,
    const char *name)
{
	static out o;
	size_t *cuts = malloc((len + 1) * sizeof(*cuts));
	size_t i;
	int bad = 0;

	parse_cuts(in, len, NULL, 0, op, whole);
	for (i = 0; i < len; i++)
		cuts[i] = i + 1;
	parse_cuts(in, len, cuts, len ? len - 1 : 0, op, &o);
	if (strcmp(o.s, whole->s) != 0) {
		fprintf(stderr, "%s: byte-by-byte differs:\n  whole %s\n  bytes %s\n", name, whole->s, o.s);
		bad = 1;
	}
	for (i = 0; i <= len && !bad; i++) {
		cuts[0] = i;
		parse_cuts(in, len, cuts, 1, op, &o);
		if (strcmp(o.s, whole->s) != 0) {
			fprintf(stderr, "%s: split at %zu differs:\n  whole %s\n  split %s\n", name, i,
			    whole->s, o.s);
			bad = 1;
		}
	}
	free(cuts);
	return !bad;
}

/* Every code path, forced: the portable one and each SIMD one this CPU has
 * (a path it lacks runs the best one below, so the list is always valid). */
static const unsigned simd_paths[] = {
	JSON_PATH_SCALAR << JSON_SIMD_SHIFT, JSON_PATH_SSE2 << JSON_SIMD_SHIFT,
	JSON_PATH_SSE42 << JSON_SIMD_SHIFT, JSON_PATH_AVX2 << JSON_SIMD_SHIFT,
};
#define NPATHS (sizeof(simd_paths) / sizeof(simd_paths[0]))

static void test_conformance(void)
{
	size_t i, ny = 0, nn = 0, ni = 0;
	opts op = { JSON_SINGLE, 4096, 0, 0 };
	static out w;

	for (i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
		const struct json_case *c = &json_cases[i];
		int ok;

		ny += c->name[0] == 'y';
		nn += c->name[0] == 'n';
		ni += c->name[0] == 'i';
		ok = check_all_splits((const uint8_t *)c->in, c->len, &op, &w, c->name);
		CHECK(ok);
		if (c->want[0] == '!') {
			const char *bang = strchr(w.s, '!');

			if (!bang || strcmp(bang, c->want) != 0)
				fprintf(stderr, "%s: got %s\n", c->name, w.s);
			CHECK(bang && strcmp(bang, c->want) == 0);
		} else {
			if (strcmp(w.s, c->want) != 0)
				fprintf(stderr, "%s: got  %s\n  want %s\n", c->name, w.s, c->want);
			CHECK(strcmp(w.s, c->want) == 0);
		}
		CHECK(c->name[0] != 'y' || c->want[0] != '!');
		CHECK(c->name[0] != 'n' || c->want[0] == '!');
	}
	printf("conformance: %zu y_, %zu n_, %zu i_ cases\n", ny, nn, ni);
	CHECK(ny + nn + ni >= 150);
}

/* Every accepted case is also skipped whole, and skipped as a member value. */
static void test_conformance_skipped(void)
{
	size_t i;
	opts top = { JSON_SINGLE, 4096, SKIP_TOP, 0 }, mem = { JSON_SINGLE, 4096, SKIP_KEY_A, 0 };
	opts topb = { JSON_SINGLE | JSON_BASELINE_SIMD, 4096, SKIP_TOP, 0 };
	opts memb = { JSON_SINGLE | JSON_BASELINE_SIMD, 4096, SKIP_KEY_A, 0 };
	opts filt = { JSON_SINGLE, 4096, FILTER_A, 0 };
	static out w, wb;
	static uint8_t wrap[512];

	for (i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
		const struct json_case *c = &json_cases[i];
		size_t n, k;

		/* Invalid input: whatever skipping says, splits agree, and the
		 * baseline and AVX2 skippers agree. */
		CHECK(check_all_splits((const uint8_t *)c->in, c->len, &top, &w, c->name));
		CHECK(check_all_splits((const uint8_t *)c->in, c->len, &topb, &wb, c->name));
		CHECK_OUT(wb.s, w.s);
		n = (size_t)snprintf((char *)wrap, sizeof(wrap), "{\"a\":");
		memcpy(wrap + n, c->in, c->len);
		n += c->len;
		memcpy(wrap + n, ",\"b\":1}", 7);
		n += 7;
		CHECK(check_all_splits(wrap, n, &mem, &w, c->name));
		CHECK(check_all_splits(wrap, n, &memb, &wb, c->name));
		CHECK_OUT(wb.s, w.s);
		/* The portable and SSE4.2 paths agree too (default and baseline
		 * are the AVX2 and SSE2 ones on a CPU that has AVX2). */
		for (k = 0; k < 2; k++) {
			opts pm = mem;

			pm.flags |= k ? JSON_PATH_SSE42 << JSON_SIMD_SHIFT : JSON_PATH_SCALAR << JSON_SIMD_SHIFT;
			CHECK(check_all_splits(wrap, n, &pm, &wb, c->name));
			CHECK_OUT(wb.s, w.s);
		}
		/* A key filter drops the member silently, with the same verdict. */
		CHECK(check_all_splits(wrap, n, &filt, &wb, c->name));
		if (c->want[0] == '!')
			continue;
		CHECK_OUT(wb.s, "{ k\"b\" i1 } =ok (2 keys filtered)");
		CHECK(check_all_splits((const uint8_t *)c->in, c->len, &top, &w, c->name));
		CHECK_OUT(w.s, "_ =ok");
		CHECK(check_all_splits(wrap, n, &mem, &w, c->name));
		CHECK_OUT(w.s, "{ k\"a\" _ k\"b\" i1 } =ok");
	}
}

static void expect(const char *in, size_t len, const opts *op, const char *want)
{
	static out w;
	opts base = *op;
	size_t k;

	base.flags |= JSON_BASELINE_SIMD;
	CHECK(check_all_splits((const uint8_t *)in, len, &base, &w, in));
	if (strcmp(w.s, want) != 0)
		fprintf(stderr, "baseline skipper:\n");
	CHECK_OUT(w.s, want);
	for (k = 0; k < NPATHS; k++) {
		if (simd_paths[k] == JSON_PATH_SSE2 << JSON_SIMD_SHIFT)
			continue;	/* the baseline run above */
		base = *op;
		base.flags |= simd_paths[k];
		CHECK(check_all_splits((const uint8_t *)in, len, &base, &w, in));
		if (strcmp(w.s, want) != 0)
			fprintf(stderr, "%s path:\n", json_simd_path_name(json_simd_path(base.flags)));
		CHECK_OUT(w.s, want);
	}
	CHECK(check_all_splits((const uint8_t *)in, len, op, &w, in));
	if (strcmp(w.s, want) != 0)
		fprintf(stderr, "input %.60s\n  got  %s\n  want %s\n", in, w.s, want);
	CHECK_OUT(w.s, want);
}
#define EXPECT(in, op, want) expect(in, sizeof(in) - 1, op, want)

static void test_stream_mode(void)
{
	opts s = { 0, 256, 0, 0 };

	EXPECT("", &s, "=ok");
	EXPECT(" \n ", &s, "=ok");
	EXPECT("1 2", &s, "i1 i2 =ok");
	EXPECT("12", &s, "i12 =ok");
	EXPECT("{}{}", &s, "{ } { } =ok");
	EXPECT("[1]\n[2]\n", &s, "[ i1 ] [ i2 ] =ok");
	EXPECT("{\"type\":\"ADDED\"}\n{\"type\":\"MODIFIED\"}\n",
	    &s, "{ k\"type\" s\"ADDED\" } { k\"type\" s\"MODIFIED\" } =ok");
	EXPECT("\"a\"\"b\"", &s, "s\"a\" s\"b\" =ok");
	EXPECT("true false null", &s, "t f n =ok");
	EXPECT("1 [", &s, "i1 [ !ETRUNCATED");
	EXPECT("[1] ]", &s, "[ i1 ] !ESYNTAX");
	EXPECT("{\"a\":1}\n{\"a\":", &s, "{ k\"a\" i1 } { k\"a\" !ETRUNCATED");
}

static void test_limits(void)
{
	opts small = { JSON_SINGLE, 5, 0, 0 };	/* strings and numbers up to 4 bytes */
	opts d3 = { JSON_SINGLE, 64, 0, 3 };
	opts d3skip = { JSON_SINGLE, 64, SKIP_KEY_A, 3 };
	opts none = { JSON_SINGLE, 0, 0, 0 };
	opts small_skip = { JSON_SINGLE, 5, SKIP_KEY_A, 0 };
	char deep[300];
	int i;

	EXPECT("[\"abcd\"]", &small, "[ s\"abcd\" ] =ok");
	EXPECT("[\"abcde\"]", &small, "[ !ESTRLIMIT");
	EXPECT("[\"ab\\n\"]", &small, "[ s\"ab\\x0a\" ] =ok");
	EXPECT("[\"abc\\u00e9\"]", &small, "[ !ESTRLIMIT");
	EXPECT("[\"ab\xc3\xa9\"]", &small, "[ s\"ab\\xc3\\xa9\" ] =ok");
	EXPECT("[\"abc\xc3\xa9\"]", &small, "[ !ESTRLIMIT");
	/* The first bad byte wins, whether or not the limit is reached after it. */
	EXPECT("[\"abcd\x01\"]", &small, "[ !ESTRING");
	EXPECT("[\"abcdef\x01\"]", &small, "[ !ESTRLIMIT");
	EXPECT("{\"abcde\":1}", &small, "{ !ESTRLIMIT");
	EXPECT("[1234]", &small, "[ i1234 ] =ok");
	EXPECT("[12345]", &small, "[ !ESTRLIMIT");
	EXPECT("[-1.5]", &small, "[ d-1.5 ] =ok");
	EXPECT("[1]", &none, "[ !ESTRLIMIT");
	EXPECT("[\"\"]", &none, "[ s\"\" ] =ok");
	EXPECT("[true,null]", &none, "[ t n ] =ok");
	/* Long strings beyond the limit are fine when skipped. */
	EXPECT("{\"a\":\"a very long string indeed\",\"b\":1}", &small_skip,
	    "{ k\"a\" _ k\"b\" i1 } =ok");
	EXPECT("[[[1]]]", &d3, "[ [ [ i1 ] ] ] =ok");
	EXPECT("[[[[1]]]]", &d3, "[ [ [ !EDEPTH");
	EXPECT("{\"a\":[[1]],\"b\":1}", &d3skip, "{ k\"a\" _ k\"b\" i1 } =ok");
	EXPECT("{\"a\":[[[1]]],\"b\":1}", &d3skip, "{ k\"a\" !EDEPTH");
	EXPECT("{\"a\":[[[1]]],\"b\":1}", &d3, "{ k\"a\" [ [ !EDEPTH");

	/* The default depth limit is 64. */
	for (i = 0; i < 64; i++)
		deep[i] = '[';
	for (i = 0; i < 64; i++)
		deep[64 + i] = ']';
	{
		opts d = { JSON_SINGLE, 64, 0, 0 };
		static out w;

		CHECK(check_all_splits((const uint8_t *)deep, 128, &d, &w, "deep64"));
		CHECK(strstr(w.s, "=ok") != NULL);
		memmove(deep + 1, deep, 128);
		deep[129] = ']';
		CHECK(check_all_splits((const uint8_t *)deep, 130, &d, &w, "deep65"));
		CHECK(strstr(w.s, "!EDEPTH") != NULL);
		d.skip = SKIP_TOP;
		CHECK(check_all_splits((const uint8_t *)deep, 130, &d, &w, "deep65 skipped"));
		CHECK_OUT(w.s, "!EDEPTH");
		/* 500 nested arrays (JSONTestSuite i_structure_500_nested_arrays). */
		d.skip = 0;
		memset(deep, '[', 150);
		memset(deep + 150, ']', 150);
		CHECK(check_all_splits((const uint8_t *)deep, 300, &d, &w, "deep150"));
		CHECK(strstr(w.s, "!EDEPTH") != NULL);
	}
}

/* What the bulk skipper checks inside skipped containers (json.h). */
static void test_skip_checks(void)
{
	opts m = { JSON_SINGLE, 64, SKIP_KEY_A, 0 };

	EXPECT("{\"a\":{\"x\":[1,2,{\"y\":\"}]\\\"\"}]},\"b\":1}", &m, "{ k\"a\" _ k\"b\" i1 } =ok");
	EXPECT("{\"a\":[\"\\\\\",\"\\\\\\\"]\"],\"b\":1}", &m, "{ k\"a\" _ k\"b\" i1 } =ok");
	EXPECT("{\"a\":[\"\xe2\x82\xac\xf0\x9d\x84\x9e\"],\"b\":1}", &m, "{ k\"a\" _ k\"b\" i1 } =ok");
	EXPECT("{\"a\":[\n\t\r ],\"b\":1}", &m, "{ k\"a\" _ k\"b\" i1 } =ok");
	/* Rejected while skipping. */
	EXPECT("{\"a\":[\"x\x01\"],\"b\":1}", &m, "{ k\"a\" !ESTRING");
	EXPECT("{\"a\":[\"\\x\"],\"b\":1}", &m, "{ k\"a\" !ESTRING");
	EXPECT("{\"a\":[\"\xc0\xaf\"],\"b\":1}", &m, "{ k\"a\" !EUTF8");
	EXPECT("{\"a\":[\"\xed\xa0\x80\"],\"b\":1}", &m, "{ k\"a\" !EUTF8");
	EXPECT("{\"a\":[\"\xe2\x82\"],\"b\":1}", &m, "{ k\"a\" !EUTF8");
	EXPECT("{\"a\":[\xc3\xa9],\"b\":1}", &m, "{ k\"a\" !ESYNTAX");
	EXPECT("{\"a\":[\\n],\"b\":1}", &m, "{ k\"a\" !ESYNTAX");
	EXPECT("{\"a\":[\x0b],\"b\":1}", &m, "{ k\"a\" !ESYNTAX");
	EXPECT("{\"a\":[}],\"b\":1}", &m, "{ k\"a\" !ESYNTAX");
	EXPECT("{\"a\":{]},\"b\":1}", &m, "{ k\"a\" !ESYNTAX");
	EXPECT("{\"a\":[\"unterminated]}", &m, "{ k\"a\" !ETRUNCATED");
	EXPECT("{\"a\":[[[", &m, "{ k\"a\" !ETRUNCATED");
	/* After the skipped value the strict grammar resumes. */
	EXPECT("{\"a\":[1] \"b\":1}", &m, "{ k\"a\" _ !ESYNTAX");
	EXPECT("{\"a\":[1]]", &m, "{ k\"a\" _ !ESYNTAX");
	EXPECT("{\"a\":\"\\uDC00\",\"b\":1}", &m, "{ k\"a\" !ESURROGATE");
	EXPECT("{\"a\":01}", &m, "{ k\"a\" !ENUMBER");
	/* Documented leniency: separators and scalars inside skipped containers. */
	EXPECT("{\"a\":[1 2 tru],\"b\":1}", &m, "{ k\"a\" _ k\"b\" i1 } =ok");
	/* A request lapses at a close bracket. */
	{
		json_parser p;
		json_token t;
		char sb[16];

		json_parser_init(&p, sb, sizeof(sb), 0);
		json_feed(&p, "[]", 2);
		CHECK_EQ_INT(json_next(&p, &t), 1);
		json_skip_next(&p);
		CHECK_EQ_INT(json_next(&p, &t), 1);
		CHECK_EQ_INT(t.type, JSON_ARRAY_END);
		json_feed(&p, "[7]", 3);
		CHECK_EQ_INT(json_next(&p, &t), 1);
		CHECK_EQ_INT(t.type, JSON_ARRAY_BEGIN);
		CHECK_EQ_INT(json_next(&p, &t), 1);
		CHECK_EQ_INT(t.type, JSON_INT);
	}
}

/* A long skipped value crosses many 64-byte blocks at every alignment. */
static void test_skip_long(void)
{
	static char doc[4096];
	size_t n = 0;
	int i;
	opts m = { JSON_SINGLE, 64, SKIP_KEY_A, 0 };
	static out w;

	n += (size_t)snprintf(doc + n, sizeof(doc) - n, "{\"a\":{");
	for (i = 0; i < 40; i++)
		n += (size_t)snprintf(doc + n, sizeof(doc) - n,
		    "%s\"k:{\\\"type\\\":\\\"T%d\\\"}\":{\".\":{},\"f:x\":[%d,\"\\\\\",\"\xc3\xa9\"]}",
		    i ? "," : "", i, i);
	n += (size_t)snprintf(doc + n, sizeof(doc) - n, "},\"b\":1}");
	CHECK(check_all_splits((const uint8_t *)doc, n, &m, &w, "long skip"));
	CHECK_OUT(w.s, "{ k\"a\" _ k\"b\" i1 } =ok");
	m.flags |= JSON_BASELINE_SIMD;
	CHECK(check_all_splits((const uint8_t *)doc, n, &m, &w, "long skip, baseline"));
	CHECK_OUT(w.s, "{ k\"a\" _ k\"b\" i1 } =ok");
}

static void test_skip_rest_api(void)
{
	json_parser p;
	json_token t;
	char sb[16];
	const char *in = "[{\"x\":[1,{\"y\":\"]\"}]},2]";

	json_parser_init(&p, sb, sizeof(sb), JSON_SINGLE);
	json_feed(&p, in, strlen(in));
	json_feed_end(&p);
	CHECK_EQ_INT(json_next(&p, &t), 1);
	CHECK_EQ_INT(t.type, JSON_ARRAY_BEGIN);
	CHECK_EQ_INT(json_next(&p, &t), 1);
	CHECK_EQ_INT(t.type, JSON_OBJECT_BEGIN);
	json_skip_rest(&p);
	CHECK_EQ_INT(json_next(&p, &t), 1);
	CHECK_EQ_INT(t.type, JSON_SKIPPED);
	CHECK_EQ_INT(t.depth, 1);
	CHECK_EQ_INT(json_next(&p, &t), 1);
	CHECK_EQ_INT(t.type, JSON_INT);
	CHECK_EQ_INT(t.i, 2);
	json_skip_rest(&p);	/* not after a *_BEGIN: ignored */
	CHECK_EQ_INT(json_next(&p, &t), 1);
	CHECK_EQ_INT(t.type, JSON_ARRAY_END);
	CHECK_EQ_INT(json_next(&p, &t), 0);
	CHECK_EQ_INT(json_offset(&p), strlen(in));
}

static void test_zero_copy_and_strerror(void)
{
	json_parser p;
	json_token t;
	char sb[64];
	const char *in = "[\"plain\",\"esc\\n\"]";
	int e;

	json_parser_init(&p, sb, sizeof(sb), 0);
	json_feed(&p, in, strlen(in));
	CHECK_EQ_INT(json_next(&p, &t), 1);
	CHECK_EQ_INT(json_next(&p, &t), 1);
	CHECK(t.str == in + 2);	/* no escapes, one slice: a view of the input */
	CHECK_EQ_INT(json_next(&p, &t), 1);
	CHECK(t.str == sb);
	CHECK_EQ_MEM(t.str, t.len, "esc\n", 4);
	for (e = JSON_EEMPTY; e <= 0; e++)
		CHECK(strncmp(json_strerror(e), e ? "json: " : "ok", 2) == 0);
	CHECK(isinf(HUGE_VAL));
}

/* Which path runs: what was asked for, capped at what the CPU has. */
static void test_simd_path_choice(void)
{
	int best = json_simd_path(0), k;

	printf("simd: this CPU runs the %s path\n", json_simd_path_name(best));
	CHECK(best >= JSON_PATH_SCALAR && best <= JSON_PATH_AVX2);
	CHECK_EQ_INT(json_simd_path(JSON_PATH_SCALAR << JSON_SIMD_SHIFT), JSON_PATH_SCALAR);
	for (k = JSON_PATH_SCALAR; k <= JSON_PATH_AVX2; k++)
		CHECK_EQ_INT(json_simd_path((unsigned)k << JSON_SIMD_SHIFT), k < best ? k : best);
#if defined(__x86_64__)
	CHECK(best >= JSON_PATH_SSE2);
	CHECK_EQ_INT(json_simd_path(JSON_BASELINE_SIMD), JSON_PATH_SSE2);
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("pclmul") &&
	    __builtin_cpu_supports("popcnt"))
		CHECK_EQ_INT(best, JSON_PATH_AVX2);
	else if (__builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("popcnt"))
		CHECK_EQ_INT(best, JSON_PATH_SSE42);
#endif
	CHECK_EQ_STR(json_simd_path_name(JSON_PATH_AVX2), "avx2");
	CHECK_EQ_STR(json_simd_path_name(JSON_PATH_SCALAR), "scalar");
}

static uint32_t rnd_state = 12345;

static uint32_t rnd(uint32_t n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % n;
}

/* A value shaped like managedFields: nested objects, "{}" pairs, arrays,
 * strings with escapes and UTF-8, numbers; long enough to span blocks. */
static void gen_value(out *o, unsigned depth)
{
	static const char *const strs[] = { "\"f:spec\"", "\"k:{\\\"name\\\":\\\"main\\\"}\"",
		"\"d\xc3\xa9ploy\xe2\x9c\x93\"", "\"\\\\\"", "\"x]}\"", "\"\"", "\"a\\u00e9\"" };
	/* Containers only while the document is short: bounded size. */
	unsigned i, n, pick = depth > 40 || o->n > 700 ? rnd(3) : rnd(8);

	switch (pick) {
	case 0:	/* mostly plain strings (0 and 4), so whole blocks take the fast path */
		outf(o, "%s", strs[rnd(8) ? (rnd(2) ? 4 : 0) : rnd(7)]);
		return;
	case 1: outf(o, "%u", rnd(100000)); return;
	case 2: outf(o, "{}"); return;
	case 3: case 4: case 5: case 6:
		n = rnd(6);
		outf(o, "{");
		for (i = 0; i < n; i++) {
			outf(o, "%s\"f:%u\":", i ? "," : "", rnd(1000));
			gen_value(o, depth + 1);
		}
		outf(o, "}");
		return;
	default:
		n = rnd(4);
		outf(o, "[");
		for (i = 0; i < n; i++) {
			outf(o, "%s", i ? "," : "");
			gen_value(o, depth + 1);
		}
		outf(o, "]");
		return;
	}
}

/*
 * The paths against each other on many generated skipped values, some with
 * one byte spoiled (a quote, backslash, bracket, control or non-ASCII byte,
 * anywhere): same tokens, same error, same offset, whole and split.
 */
static void test_simd_paths_agree(void)
{
	static out doc, w, ref;
	static const uint8_t spoil[] = { '"', '\\', '{', '}', '[', ']', 0x01, 0x0a, 0x80, 0xc3, 0xff, 'x' };
	unsigned iter, k, errs = 0, long_docs = 0;

	for (iter = 0; iter < 600; iter++) {
		opts op = { JSON_SINGLE, 64, SKIP_KEY_A, iter % 3 == 0 ? 8 + rnd(30) : 0 };
		size_t cuts[2];

		doc.n = 0;
		doc.s[0] = '\0';
		outf(&doc, "{\"a\":{\"x\":");
		do
			gen_value(&doc, 2);
		while (doc.n < 200 && rnd(4));
		outf(&doc, "},\"b\":1}");
		if (doc.n >= sizeof(doc.s) - 1)
			continue;
		if (doc.n > 256)
			long_docs++;
		if (iter % 2)
			doc.s[6 + rnd((uint32_t)doc.n - 12)] = (char)spoil[rnd(sizeof(spoil))];
		cuts[0] = rnd((uint32_t)doc.n);
		cuts[1] = cuts[0] + rnd((uint32_t)(doc.n - cuts[0]));
		op.flags = JSON_SINGLE | simd_paths[0];
		parse_cuts((const uint8_t *)doc.s, doc.n, NULL, 0, &op, &ref);
		if (ref.s[strlen(ref.s) - 1] != 'k')
			errs++;
		for (k = 0; k < NPATHS; k++) {
			op.flags = JSON_SINGLE | simd_paths[k];
			parse_cuts((const uint8_t *)doc.s, doc.n, NULL, 0, &op, &w);
			CHECK_OUT(w.s, ref.s);
			parse_cuts((const uint8_t *)doc.s, doc.n, cuts, 2, &op, &w);
			CHECK_OUT(w.s, ref.s);
		}
	}
	printf("simd paths: 600 generated values, %u long, %u rejected\n", long_docs, errs);
	CHECK(long_docs > 100);
	CHECK(errs > 50 && errs < 550);
}

/* The error and the offset it is reported at, one whole parse. */
static int parse_verdict(const uint8_t *in, size_t len, unsigned flags, uint64_t *off)
{
	static char sb[64];
	json_parser p;
	json_token t;
	int r;

	json_parser_init(&p, sb, sizeof(sb), flags);
	json_feed(&p, in, len);
	json_feed_end(&p);
	while ((r = json_next(&p, &t)) == 1) {
		if (t.type == JSON_KEY && t.len == 1 && t.str[0] == 'a')
			json_skip_next(&p);
	}
	*off = json_offset(&p);
	return r;
}

/*
 * The bulk skipper's shortcut blocks walk backslashes (escaped quotes and
 * backslashes, an escape ending the block, a bad escape letter, a backslash
 * outside strings) and end the value in the block; the general blocks jump
 * between non-ASCII bytes.  Each payload is moved across every alignment
 * against the 64-byte blocks: every path gives the portable path's verdict
 * at the same offset, and every split point the whole parse's tokens.
 */
static void test_skip_escapes_aligned(void)
{
	static const char *const payloads[] = {
		"\"k:{\\\"name\\\":\\\"main\\\"}\":{}",	/* managedFields keys */
		"\"\\\\\\\\\\\\\":[\"\\\\\\\"]\"]",		/* runs of backslashes */
		"\"\\u00e9\\/\\b\\f\\n\\r\\t\":1",
		"\"bad \\q escape\":1",
		"\"x\":1,\\\"y\":2",			/* backslash outside strings */
		"\"d\xc3\xa9ploy\xe2\x9c\x93 and more ascii after it\":[\"\xf0\x9f\x99\x82\"]",
		"\"cut \xe2\x82 short\":1",
		"\"lone \x80 continuation\":1",
		"\"brackets ]}[{ in a string\":[{\"c\":[]}]",
		"\"unbalanced\":[}",
	};
	static char doc[512];
	static out w, ref;
	size_t k, pad, n;
	unsigned path;
	opts m = { JSON_SINGLE, 64, SKIP_KEY_A, 0 };

	for (k = 0; k < sizeof(payloads) / sizeof(payloads[0]); k++) {
		for (pad = 0; pad < 130; pad++) {
			uint64_t off_ref, off;
			int r_ref, r;

			/* A plain string of pad bytes first moves the payload. */
			n = (size_t)snprintf(doc, sizeof(doc), "{\"a\":{\"p\":\"%.*s\",%s,\"z\":[1]},\"b\":1}",
			    (int)pad, "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz"
			    "0123456789abcdefghijklmnopqrstuvwxyz0123456789ab", payloads[k]);
			r_ref = parse_verdict((const uint8_t *)doc, n, JSON_SINGLE | simd_paths[0], &off_ref);
			for (path = 1; path < NPATHS; path++) {
				r = parse_verdict((const uint8_t *)doc, n, JSON_SINGLE | simd_paths[path], &off);
				if (r != r_ref || off != off_ref)
					fprintf(stderr, "payload %zu pad %zu %s: %s at %llu, portable %s at %llu\n",
					    k, pad, json_simd_path_name(json_simd_path(simd_paths[path])),
					    err_name(r), (unsigned long long)off, err_name(r_ref),
					    (unsigned long long)off_ref);
				CHECK_EQ_INT(r, r_ref);
				CHECK(off == off_ref);
			}
			/* Every split point, on a spread of alignments. */
			if (pad % 9 != 0 && pad != 63 && pad != 64)
				continue;
			m.flags = JSON_SINGLE | simd_paths[0];
			CHECK(check_all_splits((const uint8_t *)doc, n, &m, &ref, "escapes aligned"));
			for (path = 1; path < NPATHS; path++) {
				m.flags = JSON_SINGLE | simd_paths[path];
				CHECK(check_all_splits((const uint8_t *)doc, n, &m, &w, "escapes aligned"));
				CHECK_OUT(w.s, ref.s);
			}
			/* Valid payloads skip; the rest are rejected. */
			CHECK((r_ref == 0) == (k < 3 || k == 5 || k == 8));
		}
	}
}

int main(void)
{
	RUN(test_conformance);
	RUN(test_conformance_skipped);
	RUN(test_stream_mode);
	RUN(test_limits);
	RUN(test_skip_checks);
	RUN(test_skip_long);
	RUN(test_skip_rest_api);
	RUN(test_zero_copy_and_strerror);
	RUN(test_simd_path_choice);
	RUN(test_simd_paths_agree);
	RUN(test_skip_escapes_aligned);
	return harness_finish();
}
