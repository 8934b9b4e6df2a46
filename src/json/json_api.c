/*
 * The parser's small entry points: set-up, feeding, error strings.  The
 * lexers live in json_parse.c, bulk skipping in json_skip.c.
 */
#include "json_int.h"

#include <string.h>

const char *json_strerror(int err)
{
	switch (err) {
	case 0: return "ok";
	case JSON_ESYNTAX: return "json: syntax error";
	case JSON_ESTRING: return "json: control character or bad escape in string";
	case JSON_EUTF8: return "json: invalid UTF-8";
	case JSON_ESURROGATE: return "json: lone or misordered \\u surrogate";
	case JSON_ENUMBER: return "json: malformed number";
	case JSON_EDEPTH: return "json: nesting too deep";
	case JSON_ESTRLIMIT: return "json: string or number longer than the limit";
	case JSON_ETRUNCATED: return "json: input ended inside a value";
	case JSON_EABORTED: return "json: stopped by callback";
	case JSON_ENOSPC: return "json: output buffer too small";
	case JSON_EUSAGE: return "json: invalid call or argument";
	case JSON_EEMPTY: return "json: no value in input";
	}
	return "json: unknown error";
}

void json_parser_init(json_parser *p, char *strbuf, size_t strbuf_len, unsigned flags)
{
	memset(p, 0, sizeof(*p));
	p->sbuf = strbuf;
	p->scap = strbuf ? strbuf_len : 0;
	p->flags = flags;
	p->max_depth = JSON_DEPTH_DEFAULT;
	p->simd = (uint8_t)json_simd_path(flags);
}

void json_parser_set_key_filter(json_parser *p, json_key_filter fn, void *ctx)
{
	p->filter = fn;
	p->filter_ctx = ctx;
}

void json_parser_set_max_depth(json_parser *p, unsigned max_depth)
{
	if (max_depth < 1)
		max_depth = 1;
	if (max_depth > JSON_DEPTH_MAX)
		max_depth = JSON_DEPTH_MAX;
	p->max_depth = max_depth;
}

void json_feed(json_parser *p, const void *data, size_t len)
{
	if (p->base)
		p->consumed += (uint64_t)(p->cur - p->base);
	p->base = p->cur = data;
	p->end = p->cur + len;
	p->span = p->cur;
}

void json_feed_end(json_parser *p)
{
	p->eof = 1;
}

void json_skip_next(json_parser *p)
{
	p->skip_next = 1;
}

void json_skip_rest(json_parser *p)
{
	if (!p->just_began || p->err)
		return;
	p->just_began = 0;
	p->depth--;
	p->sk_brace = (p->stack[p->depth / 64] >> (p->depth % 64) & 1) ? 0 : 1;
	p->sk_depth = 1;
	p->sk_instr = 0;
	p->sk_esc = 0;
	p->ls = L_SKIP;
}

uint64_t json_offset(const json_parser *p)
{
	return p->consumed + (uint64_t)(p->cur - p->base);
}

int json_error(const json_parser *p)
{
	return p->err;
}
