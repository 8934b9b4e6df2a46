/*
 * Streaming JSON: an incremental pull parser, path-aware field extraction
 * with fast skipping of everything else, and a writer.
 *
 * Sans-I/O.  Nothing here allocates: the caller owns the parser, the string
 * buffer, the path table and the writer's output array.
 *
 * Return convention: >= 0 success (a count, a length, or 1/0 as documented),
 * negative JSON_E* on error.  Errors are sticky: once a parser or writer has
 * failed, every later call returns the same error.  "Need more input" is never
 * an error.  json_strerror() describes each code.
 *
 * Strictness (RFC 8259): the tokenizer accepts exactly the RFC grammar:
 * escapes decoded to UTF-8, surrogate pairs joined, lone surrogates, invalid
 * UTF-8 (overlong, surrogate code points, > U+10FFFF), raw control characters
 * in strings, leading zeros, trailing commas, NaN/Infinity, comments and
 * single quotes rejected.  Documented choices:
 *   - numbers are JSON_INT when written without fraction or exponent and in
 *     int64 range ("-0" is INT 0); otherwise JSON_DOUBLE (strtod; overflow
 *     gives +-HUGE_VAL, underflow 0).
 *   - a byte order mark is a syntax error.
 *   - a string or number longer than the string limit is JSON_ESTRLIMIT.
 *   - by default a stream holds any number (including zero) of top-level
 *     values, optionally separated by whitespace ("{}{}", "1 2");
 *     JSON_SINGLE requires exactly one (a document, as RFC 8259 means it).
 */
#ifndef CPLANE_JSON_H
#define CPLANE_JSON_H

#include <stddef.h>
#include <stdint.h>

enum json_err {
	JSON_ESYNTAX = -1,	/* unexpected byte for the grammar */
	JSON_ESTRING = -2,	/* raw control character or bad escape in a string */
	JSON_EUTF8 = -3,	/* invalid UTF-8 */
	JSON_ESURROGATE = -4,	/* lone or misordered \u surrogate */
	JSON_ENUMBER = -5,	/* malformed number (leading zero, "1.", "-", ...) */
	JSON_EDEPTH = -6,	/* nesting deeper than the depth limit */
	JSON_ESTRLIMIT = -7,	/* kept string or number longer than the limit */
	JSON_ETRUNCATED = -8,	/* input ended inside a value (json_feed_end) */
	JSON_EABORTED = -9,	/* an extraction callback asked to stop */
	JSON_ENOSPC = -10,	/* writer: output array too small */
	JSON_EUSAGE = -11,	/* writer call out of order, bad path spec, bad argument */
	JSON_EEMPTY = -12,	/* JSON_SINGLE: input ended before any value */
};

const char *json_strerror(int err);

/* ---------------------------------------------------------------- tokens */

enum json_type {
	JSON_NONE = 0,
	JSON_OBJECT_BEGIN,
	JSON_OBJECT_END,
	JSON_ARRAY_BEGIN,
	JSON_ARRAY_END,
	JSON_KEY,
	JSON_STRING,
	JSON_INT,
	JSON_DOUBLE,
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL,
	JSON_SKIPPED,	/* a value consumed by json_skip_next() */
};

typedef struct json_token {
	int type;		/* enum json_type */
	unsigned depth;		/* containers around the token; 0 = top level.
				   *_END carries the depth of its *_BEGIN. */
	/* JSON_KEY, JSON_STRING: decoded UTF-8 (may contain NUL bytes, not
	 * NUL-terminated).  Points into the fed slice or into the caller's string
	 * buffer; valid until the next json_next()/json_feed() call. */
	const char *str;
	size_t len;
	int64_t i;		/* JSON_INT */
	double d;		/* JSON_DOUBLE */
} json_token;

/* ---------------------------------------------------------------- parser */

#define JSON_DEPTH_DEFAULT 64u
#define JSON_DEPTH_MAX 256u

enum json_flags {
	JSON_SINGLE = 1,	/* exactly one top-level value; trailing data is an error */
	/* Testing: scan with the baseline code (SSE2 on x86-64, portable C
	 * elsewhere) even where the CPU has more, so paths can be compared. */
	JSON_BASELINE_SIMD = 4,
	/* Testing: at most this code path (JSON_PATH_* << JSON_SIMD_SHIFT); a
	 * path the CPU lacks gives the best one below it.  0: the best there is. */
	JSON_SIMD_SHIFT = 4,
	JSON_SIMD_MASK = 7 << 4,
};

/*
 * The code paths that scan strings and skipped containers, chosen once per
 * parser at init from what the CPU reports (__builtin_cpu_supports), so one
 * baseline x86-64 binary uses AVX2 where it exists.  Every path gives the
 * same tokens and the same errors at the same offsets.
 */
enum json_path {
	JSON_PATH_SCALAR = 1,	/* portable C, every architecture */
	JSON_PATH_SSE2,		/* x86-64 baseline */
	JSON_PATH_SSE42,	/* SSE4.2 + POPCNT */
	JSON_PATH_AVX2,		/* AVX2 + POPCNT + PCLMUL */
};

/* The path a parser initialised with these flags uses (JSON_PATH_*). */
int json_simd_path(unsigned flags);
const char *json_simd_path_name(int path);

/*
 * Optional key filter: called when an object key has been read, with its
 * decoded bytes (valid during the call) and the key's token depth.  Return
 * nonzero to get the JSON_KEY token as usual; return 0 to have the member
 * dropped: no JSON_KEY, and its value consumed as by json_skip_next() but
 * without a JSON_SKIPPED token.  This is what lets the parser run through
 * unwanted members without handing out a token for each.  Return
 * JSON_FILTER_VALUE_ONLY to keep the member without its JSON_KEY token: the
 * next token is then the member's value (the filter has seen the key).
 */
typedef int (*json_key_filter)(void *ctx, const char *key, size_t len, unsigned depth);
#define JSON_FILTER_VALUE_ONLY 2

/*
 * Parser state.  Fields are private; the struct is public only so callers can
 * embed it.  json_parser_init() must be called first.
 */
typedef struct json_parser {
	const uint8_t *base, *cur, *end;	/* the slice being parsed */
	const uint8_t *span;		/* start of string bytes not yet copied */
	char *sbuf;			/* caller's string buffer */
	size_t scap, slen;		/* capacity (limit + 1), bytes used */
	uint64_t consumed;		/* bytes of earlier slices */
	uint64_t stack[JSON_DEPTH_MAX / 64];	/* bit set = array */
	unsigned depth, max_depth;
	unsigned flags;
	int err;
	uint8_t gs;		/* grammar state */
	uint8_t ls;		/* lexer state */
	uint8_t sub;		/* lexer sub-state: number state, literal position */
	uint8_t key;		/* string being lexed is a key */
	uint8_t copying;	/* string/number bytes live in sbuf */
	uint8_t skipping;	/* current value is being skipped (not stored) */
	uint8_t skip_next;	/* skip the next value */
	uint8_t eof;
	uint8_t seen_value;
	uint8_t just_began;	/* last token was *_BEGIN (json_skip_rest) */
	uint8_t silent;		/* the value being skipped gets no token */
	json_key_filter filter;
	void *filter_ctx;
	uint8_t esc;		/* escape sub-state */
	uint8_t u8_need, u8_lo, u8_hi;	/* UTF-8 validation */
	uint8_t num_int;	/* number has no fraction/exponent */
	const char *lit;	/* literal being matched */
	uint32_t ucode, hi_sur;
	/* fast skipper */
	uint32_t sk_depth;
	int32_t sk_brace;
	uint8_t sk_instr, sk_esc;
	uint8_t simd;		/* enum json_path */
	/* The extractor whose key lookup and token step the member loop
	 * calls directly in place of filter and json__drain()'s sink
	 * (json_int.h); NULL otherwise. */
	struct json_extract *key_x;
} json_parser;

/*
 * strbuf/strbuf_len: where strings and numbers that cross slice boundaries or
 * contain escapes are assembled.  The longest string (decoded bytes) or number
 * accepted is strbuf_len - 1 bytes; strbuf_len 0 is allowed for inputs that
 * never need it (every non-empty kept string and every number then fails
 * with JSON_ESTRLIMIT).
 * flags: JSON_SINGLE, JSON_BASELINE_SIMD, a JSON_SIMD_MASK path, or 0.  The
 * depth limit starts at
 * JSON_DEPTH_DEFAULT.
 */
void json_parser_init(json_parser *p, char *strbuf, size_t strbuf_len, unsigned flags);
/* Installs (or with fn NULL removes) a key filter. */
void json_parser_set_key_filter(json_parser *p, json_key_filter fn, void *ctx);
/* 1..JSON_DEPTH_MAX; larger values are clamped. */
void json_parser_set_max_depth(json_parser *p, unsigned max_depth);

/*
 * Hands the parser the next slice of input.  The bytes must stay valid until
 * json_next() returns 0 (all of them consumed) or an error.  Any slice size,
 * any boundary (inside strings, escapes, UTF-8 sequences, numbers, literals).
 */
void json_feed(json_parser *p, const void *data, size_t len);
/* Marks the end of input: a pending top-level number completes, and a value
 * left open becomes JSON_ETRUNCATED. */
void json_feed_end(json_parser *p);

/*
 * Pulls the next token.  Returns 1 with *tok filled; 0 when the fed slice is
 * used up (feed more; after json_feed_end, 0 means the input was complete and
 * valid); negative on error.
 */
int json_next(json_parser *p, json_token *tok);

/*
 * Asks that the next value (the one after the key just returned, or the next
 * array element, or the next top-level value) be consumed without tokens or
 * storage; json_next() then returns one JSON_SKIPPED token for it.  If a close
 * bracket comes instead of a value, the request lapses.
 *
 * How skipped values are validated: a skipped string or scalar is checked as
 * strictly as any other.  A skipped object or array is scanned in bulk
 * (64 bytes at a time) and checked for: terminated strings, no raw control
 * characters in strings, valid escape letters, valid UTF-8, no non-ASCII or
 * backslash outside strings, balanced brackets (counted, per kind in total),
 * the depth limit, no control characters outside strings but whitespace.
 * Not checked inside skipped containers: commas and colons, the spelling of
 * numbers and literals, \u hex digits and surrogate pairing, interleaved
 * bracket kinds such as {[}].  Callers wanting full validation tokenize
 * instead of skipping (JSON_EXTRACT_STRICT).
 */
void json_skip_next(json_parser *p);

/*
 * Right after json_next() returned JSON_OBJECT_BEGIN or JSON_ARRAY_BEGIN:
 * consumes the rest of that container (validated as for json_skip_next) and
 * returns one JSON_SKIPPED token, at the container's depth, in place of its
 * *_END.  Ignored at any other time.
 */
void json_skip_rest(json_parser *p);

/* Total input bytes consumed so far (for error messages). */
uint64_t json_offset(const json_parser *p);
/* 0 or the sticky error. */
int json_error(const json_parser *p);

/* ------------------------------------------------------------ extraction */

/*
 * A path names a value by its keys from the top-level value, written as a
 * string: segments separated by '.', "[*]" for "every element of this array",
 * a segment "*" for "every member of this object whose key no other path at
 * this level names" (the event then carries the key; a literal key "*" is
 * written "\\*"), and a backslash escaping the next character so keys may hold
 * dots, '[' or backslashes:
 *     "type"
 *     "object.metadata.labels.cplane\\.dev/cluster"    (C source spelling)
 *     "items[*].status.conditions[*].reason"
 *     "items[*]"      element begin/end events for the items array
 *     "metadata.labels.*"    every label (ev->key names it)
 * Keys compare after JSON unescaping, byte for byte.
 */
#define JSON_PATHS_MAX_NODES 256
#define JSON_PATHS_POOL 4096
#define JSON_PATHS_HASH 512
#define JSON_ANY_KEY_MAX 320	/* longest key a "*" path reports */	/* power of two, > 1.5 x JSON_PATHS_MAX_NODES */

typedef struct json_pathset {
	struct json_pnode {
		uint16_t child;		/* first child, 0 = none */
		uint16_t next;		/* next sibling, 0 = none */
		uint16_t key_off, key_len;	/* in pool; elem nodes have none */
		int16_t path;		/* index in the caller's table, -1 */
		uint8_t elem;		/* this node is "[*]" */
		uint8_t has_elem;	/* has a "[*]" child */
		uint8_t has_key;	/* has a key child */
		uint16_t elem_child;	/* the "[*]" child, 0 = none */
		uint16_t any_child;	/* the "*" child, 0 = none */
		uint16_t parent;
		uint8_t is_any;		/* this node is its parent's "*" */
		/* bit len % 64 set for the length of each named key child, and
		 * every bit with a "*" child: most unwanted keys are turned
		 * away on their length alone, with one test */
		uint64_t key_lens;
	} node[JSON_PATHS_MAX_NODES];
	uint16_t hash[JSON_PATHS_HASH];	/* (parent, key) -> key node, 0 = empty */
	char pool[JSON_PATHS_POOL];
	unsigned nnodes, pool_len;
} json_pathset;

/* Compiles n paths; 0, or JSON_EUSAGE for a malformed path, a duplicate, or
 * a table too big for JSON_PATHS_MAX_NODES / JSON_PATHS_POOL. */
int json_pathset_compile(json_pathset *ps, const char *const *paths, size_t n);

/*
 * Events for one top-level value come in document order.  For each element of
 * an array declared as "...[*]": ELEM_BEGIN, the element's own VALUE (a "[*]"
 * path is also a value path: scalars, or *_BEGIN for containers), the VALUEs
 * of paths inside it, ELEM_END.
 */
enum json_event_kind {
	JSON_EV_VALUE = 1,	/* a declared path's value: tok */
	JSON_EV_ELEM_BEGIN,	/* an element of a declared "...[*]" array starts */
	JSON_EV_ELEM_END,	/* ... and ends */
	JSON_EV_END,		/* a top-level value ended (one watch event) */
};

typedef struct json_event {
	int kind;		/* enum json_event_kind */
	int path;		/* index in the path table; -1 for JSON_EV_END */
	uint32_t index;		/* ELEM_*: element number in its array */
	/* VALUE: the value.  For an object or array value tok->type is
	 * JSON_OBJECT_BEGIN / JSON_ARRAY_BEGIN; its contents are then skipped
	 * unless other declared paths lead into it.  Strings: valid only during
	 * the callback. */
	const json_token *tok;
	/* VALUE of a "*" path: the member's key (decoded); valid during the
	 * callback.  Members whose key is longer than JSON_ANY_KEY_MAX are
	 * skipped.  NULL / 0 otherwise. */
	const char *key;
	size_t key_len;
} json_event;

/* Return 0 to go on; anything else stops parsing with JSON_EABORTED. */
typedef int (*json_event_fn)(void *ctx, const json_event *ev);

enum json_extract_flags {
	JSON_EXTRACT_STRICT = 2,	/* tokenize skipped values fully (slower) */
};

typedef struct json_extract {
	json_parser p;
	const json_pathset *ps;
	json_event_fn fn;
	void *ctx;
	unsigned flags;
	int err;
	uint16_t pending;	/* path node of the next value, 0xffff = none */
	uint8_t rest_pending;	/* a json_skip_rest() is under way */
	uint8_t ign;		/* JSON_EXTRACT_STRICT skipping: 1 armed, 2 inside */
	uint8_t ign_rest;
	unsigned ign_depth;
	uint16_t node[JSON_DEPTH_MAX + 1];	/* path node per open container */
	uint8_t isarr[JSON_DEPTH_MAX + 1];
	uint32_t index[JSON_DEPTH_MAX + 1];	/* element counter per open array */
	uint16_t any_len;	/* key of the pending "*" member */
	char any_key[JSON_ANY_KEY_MAX];
} json_extract;

/* ps must outlive x.  strbuf bounds the longest string kept (matched values
 * and keys at matched levels), as for json_parser_init().  flags:
 * JSON_SINGLE, JSON_EXTRACT_STRICT, JSON_BASELINE_SIMD, a JSON_SIMD_MASK path. */
void json_extract_init(json_extract *x, const json_pathset *ps, char *strbuf, size_t strbuf_len,
    unsigned flags, json_event_fn fn, void *ctx);
/* Parses one slice, calling fn for matches.  Returns 0 or an error. */
int json_extract_feed(json_extract *x, const void *data, size_t len);
/* End of input: 0 when every value was complete, else an error. */
int json_extract_finish(json_extract *x);

/* ----------------------------------------------------------------- writer */

/*
 * Writes into a fixed caller array.  Commas and colons are placed by the
 * writer.  When the array is too small the writer fails with JSON_ENOSPC but
 * keeps counting, so json_writer_len() tells the size to retry with.
 * Strings: '"', '\\' and \b \f \n \r \t get their short escapes, other
 * control characters \u00XX; valid non-ASCII UTF-8 is passed through;
 * invalid UTF-8 is JSON_EUTF8.
 */
typedef struct json_writer {
	uint8_t *out;
	size_t cap, len;
	int err;
	unsigned depth;
	uint64_t stack[JSON_DEPTH_MAX / 64];	/* bit set = array */
	uint8_t comma;		/* a value precedes in this container */
	uint8_t after_key;	/* a key was written; its value must follow */
	uint8_t done;		/* a complete top-level value was written */
} json_writer;

void json_writer_init(json_writer *w, void *out, size_t cap);
int json_write_object_begin(json_writer *w);
int json_write_object_end(json_writer *w);
int json_write_array_begin(json_writer *w);
int json_write_array_end(json_writer *w);
int json_write_key(json_writer *w, const char *s, size_t len);
int json_write_string(json_writer *w, const char *s, size_t len);
int json_write_cstr(json_writer *w, const char *s);	/* NUL-terminated */
int json_write_int(json_writer *w, int64_t v);
/* Finite values only (JSON has no NaN/Infinity: JSON_EUSAGE); %.17g. */
int json_write_double(json_writer *w, double v);
int json_write_bool(json_writer *w, int v);
int json_write_null(json_writer *w);
/* Length of the complete top-level value written, or an error (unbalanced,
 * nothing written, or the sticky error). */
int json_writer_finish(json_writer *w);
/* Bytes written so far, or needed so far after JSON_ENOSPC. */
size_t json_writer_len(const json_writer *w);

#endif
