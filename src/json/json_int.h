/*
 * Internal to src/json: state names and pieces shared by the tokenizer, its
 * entry points and the bulk skipper.
 */
#ifndef CPLANE_JSON_INT_H
#define CPLANE_JSON_INT_H

#include "json.h"

enum {	/* grammar states; 0 (G_TOP) is the zero-filled start */
	G_TOP = 0,	/* between top-level values */
	G_VALUE,	/* after ':' or an array ',' */
	G_ARR_FIRST,	/* after '[' */
	G_OBJ_FIRST,	/* after '{' */
	G_KEY,		/* after an object ',' */
	G_COLON,	/* after a key */
	G_AFTER,	/* after a value inside a container */
	G_DONE,		/* JSON_SINGLE: the value is complete */
};

enum { L_NONE = 0, L_STR, L_NUM, L_LIT, L_SKIP };

/*
 * Bulk-skips the container whose opening bracket was consumed (p->sk_depth
 * counts open containers, p->sk_brace open braces) from p->cur.
 * Returns 1 when the closing bracket was consumed (p->cur after it), 0 when
 * the slice is used up, or a negative error.
 */
int json__skip_scan(json_parser *p);

/*
 * json_next() in a loop, each token handed to sink(ctx, token) without
 * leaving the tokenizer: for the extractor, which wants every token.  The
 * sink may call json_skip_next()/json_skip_rest() as a json_next() caller
 * would.  Returns 0 when the slice is used up, a parser error (sticky, as
 * from json_next()), or the sink's negative return (the parser is left
 * as it was after that token).
 */
typedef int (*json__sink)(void *ctx, json_token *t);
int json__drain(json_parser *p, json__sink sink, void *ctx);

/* With the extractor installed: the member loop calls its key lookup and
 * token step (json_keys.h) directly instead of the filter and the sink,
 * with the same results. */
static inline void json__set_extract_filter(json_parser *p, struct json_extract *x)
{
	p->key_x = x;
}

/* UTF-8 validation of one byte with the parser's sequence state: 0 or
 * JSON_EUTF8.  Shared so the tokenizer and skipper agree on every byte. */
static inline int json__utf8_step(json_parser *p, uint8_t b)
{
	if (p->u8_need) {
		if (b < p->u8_lo || b > p->u8_hi)
			return JSON_EUTF8;
		p->u8_lo = 0x80;
		p->u8_hi = 0xbf;
		p->u8_need--;
		return 0;
	}
	if (b < 0x80)
		return 0;
	p->u8_lo = 0x80;
	p->u8_hi = 0xbf;
	if (b >= 0xc2 && b <= 0xdf) {
		p->u8_need = 1;
	} else if (b >= 0xe0 && b <= 0xef) {
		p->u8_need = 2;
		if (b == 0xe0)
			p->u8_lo = 0xa0;	/* overlong */
		else if (b == 0xed)
			p->u8_hi = 0x9f;	/* UTF-16 surrogates */
	} else if (b >= 0xf0 && b <= 0xf4) {
		p->u8_need = 3;
		if (b == 0xf0)
			p->u8_lo = 0x90;	/* overlong */
		else if (b == 0xf4)
			p->u8_hi = 0x8f;	/* > U+10FFFF */
	} else {
		return JSON_EUTF8;
	}
	return 0;
}

#endif
