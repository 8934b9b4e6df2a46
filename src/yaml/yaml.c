/*
 * Implementation notes.
 *
 * Block YAML is read a line at a time: yaml_feed() keeps the unfinished
 * line, so any split of the input gives the same tree.  An indentation stack
 * holds the open mappings and sequences; a key or "-" with nothing after it
 * leaves a placeholder node ("pending") that the next line turns into a
 * mapping, a sequence, or an empty scalar.  A JSON document is collected
 * whole and read by the same recursive-descent flow reader that serves
 * one-line flow values ("preferences: {}").
 *
 * Nodes live in one array and link to their children (first/next), so
 * building does one realloc per doubling and freeing is one loop.
 */
#include "yaml/yaml.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"

#define MAX_DEPTH 64

struct ynode {
	int kind;		/* enum yaml_kind; YAML_NONE while a placeholder */
	int line;
	int first, last, next;	/* children; siblings */
	size_t nchildren;
	char *key;		/* set when the node is a mapping's value */
	char *text;		/* scalar text, NUL-terminated */
	size_t len;
};

enum { MODE_START, MODE_BLOCK, MODE_JSON, MODE_ENDED };

struct yaml_parser {
	struct ynode *nodes;
	size_t n, cap;
	buf line;		/* the unfinished line */
	buf json;		/* a JSON document, collected whole */
	size_t total;
	int mode;
	int lineno;		/* of the line being handled */
	int json_line;		/* first line of the JSON document */
	int root;
	struct {
		int node, indent;
	} stack[MAX_DEPTH];
	int depth;
	int pending, pending_indent, pending_item;
	int failed;
	int err_line;
	char err[256];
};

static int fail(yaml_parser *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(yaml_parser *p, int line, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	if (p->failed)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->failed = 1;
	p->err_line = line;
	snprintf(p->err, sizeof(p->err), "line %d: %s", line, msg);
	return -1;
}

/* ---- nodes ------------------------------------------------------------------ */

static int new_node(yaml_parser *p, int kind, int line)
{
	struct ynode *v;

	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 32;
		if (cap > 1000000)
			return fail(p, line, "too many nodes");
		p->nodes = xrealloc(p->nodes, cap * sizeof(*p->nodes));
		p->cap = cap;
	}
	v = &p->nodes[p->n];
	memset(v, 0, sizeof(*v));
	v->kind = kind;
	v->line = line;
	v->first = v->last = v->next = -1;
	return (int)p->n++;
}

static void add_child(yaml_parser *p, int parent, int child)
{
	struct ynode *pn = &p->nodes[parent];

	if (pn->last >= 0)
		p->nodes[pn->last].next = child;
	else
		pn->first = child;
	pn->last = child;
	pn->nchildren++;
}

static int has_key(const yaml_parser *p, int map, const char *key)
{
	for (int c = p->nodes[map].first; c >= 0; c = p->nodes[c].next)
		if (p->nodes[c].key && strcmp(p->nodes[c].key, key) == 0)
			return 1;
	return 0;
}

/* Attaches child to parent under key (owned; NULL for a sequence item). */
static int attach(yaml_parser *p, int parent, int child, char *key, int line)
{
	if (key && has_key(p, parent, key)) {
		int rc = fail(p, line, "duplicate key \"%.80s\"", key);
		free(key);
		return rc;
	}
	p->nodes[child].key = key;
	add_child(p, parent, child);
	return 0;
}

static int set_scalar(yaml_parser *p, int node, char *text, size_t len)
{
	p->nodes[node].kind = YAML_SCALAR;
	p->nodes[node].text = text;
	p->nodes[node].len = len;
	return 0;
}

static char *dup_n(const char *s, size_t n)
{
	char *d = xmalloc(n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* ---- scalars ------------------------------------------------------------------- */

typedef struct cursor {
	const char *s;
	size_t len, pos;
	int line;		/* line of s[0] */
	int multiline;		/* JSON document: newlines are whitespace */
	size_t seen;		/* newlines counted in s[0, seen) ... */
	int seen_lines;		/* ... are this many: pos only grows, so counting is linear */
} cursor;

static int cur_line(cursor *c)
{
	for (; c->seen < c->pos && c->seen < c->len; c->seen++)
		c->seen_lines += c->s[c->seen] == '\n';
	return c->line + c->seen_lines;
}

static size_t put_utf8(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static int hex_digits(const char *s, size_t n, uint32_t *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
		    ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		*v = *v << 4 | (uint32_t)d;
	}
	return 0;
}

/* A double-quoted scalar at c->pos (on '"'); *out owned.  Newlines inside are refused. */
static int read_dq(yaml_parser *p, cursor *c, char **out, size_t *outlen)
{
	const char *s = c->s;
	char *d = xmalloc(c->len - c->pos + 1);	/* a line of a document capped at YAML_MAX_BYTES */
	size_t i = c->pos + 1, n = 0;

	for (;;) {
		char ch;
		if (i >= c->len || s[i] == '\n' || s[i] == '\r') {
			free(d);
			return fail(p, cur_line(c), "double-quoted scalar not closed on its line");
		}
		ch = s[i++];
		if (ch == '"')
			break;
		if (ch != '\\') {
			d[n++] = ch;
			continue;
		}
		if (i >= c->len) {
			free(d);
			return fail(p, cur_line(c), "double-quoted scalar not closed on its line");
		}
		ch = s[i++];
		switch (ch) {
		case '"': case '\\': case '/': case ' ':
			d[n++] = ch;
			break;
		case 'n': d[n++] = '\n'; break;
		case 't': d[n++] = '\t'; break;
		case 'r': d[n++] = '\r'; break;
		case 'b': d[n++] = '\b'; break;
		case 'f': d[n++] = '\f'; break;
		case '0': d[n++] = '\0'; break;
		case 'e': d[n++] = 0x1b; break;
		case 'x': case 'u': case 'U': {
			size_t k = ch == 'x' ? 2 : ch == 'u' ? 4 : 8;
			uint32_t cp;
			if (c->len - i < k || hex_digits(s + i, k, &cp) < 0 || cp > 0x10ffff ||
			    (cp >= 0xd800 && cp <= 0xdfff)) {
				free(d);
				return fail(p, cur_line(c), "bad \\%c escape in a double-quoted scalar", ch);
			}
			i += k;
			n += put_utf8(d + n, cp);
			break;
		}
		default:
			free(d);
			return fail(p, cur_line(c), "unknown escape \\%c in a double-quoted scalar",
			    ch >= 0x20 && ch < 0x7f ? ch : '?');
		}
	}
	d[n] = '\0';
	c->pos = i;
	*out = d;
	*outlen = n;
	return 0;
}

/* A single-quoted scalar at c->pos (on '\''): '' is a quote. */
static int read_sq(yaml_parser *p, cursor *c, char **out, size_t *outlen)
{
	const char *s = c->s;
	char *d = xmalloc(c->len - c->pos + 1);	/* a line of a document capped at YAML_MAX_BYTES */
	size_t i = c->pos + 1, n = 0;

	for (;;) {
		if (i >= c->len || s[i] == '\n' || s[i] == '\r') {
			free(d);
			return fail(p, cur_line(c), "single-quoted scalar not closed on its line");
		}
		if (s[i] == '\'') {
			if (i + 1 < c->len && s[i + 1] == '\'') {
				d[n++] = '\'';
				i += 2;
				continue;
			}
			i++;
			break;
		}
		d[n++] = s[i++];
	}
	d[n] = '\0';
	c->pos = i;
	*out = d;
	*outlen = n;
	return 0;
}

/* ---- flow collections and JSON -------------------------------------------------- */

static void skip_ws(cursor *c)
{
	while (c->pos < c->len) {
		char ch = c->s[c->pos];
		if (ch == ' ' || ch == '\t' || ((ch == '\n' || ch == '\r') && c->multiline)) {
			c->pos++;
		} else if (ch == '#' && (c->pos == 0 || c->s[c->pos - 1] == ' ' || c->s[c->pos - 1] == '\t' ||
		    c->s[c->pos - 1] == '\n')) {
			while (c->pos < c->len && c->s[c->pos] != '\n')
				c->pos++;
		} else {
			break;
		}
	}
}

/* A scalar inside a flow collection: quoted, or plain up to , : ] } or whitespace. */
static int flow_scalar(yaml_parser *p, cursor *c, char **out, size_t *outlen)
{
	size_t start = c->pos;

	if (c->s[c->pos] == '"')
		return read_dq(p, c, out, outlen);
	if (c->s[c->pos] == '\'')
		return read_sq(p, c, out, outlen);
	while (c->pos < c->len && !strchr(",:]}[{ \t\r\n#", c->s[c->pos]))
		c->pos++;
	if (c->pos == start)
		return fail(p, cur_line(c), "expected a value in a flow collection");
	*out = dup_n(c->s + start, c->pos - start);
	*outlen = c->pos - start;
	return 0;
}

static int flow_value(yaml_parser *p, cursor *c, int depth);

static int flow_collection(yaml_parser *p, cursor *c, int depth)
{
	int is_map = c->s[c->pos] == '{';
	char close = is_map ? '}' : ']';
	int node = new_node(p, is_map ? YAML_MAP : YAML_SEQ, cur_line(c));

	if (node < 0)
		return -1;
	if (depth > MAX_DEPTH)
		return fail(p, cur_line(c), "nested too deep");
	c->pos++;
	skip_ws(c);
	if (c->pos < c->len && c->s[c->pos] == close) {
		c->pos++;
		return node;
	}
	for (;;) {
		char *key = NULL;
		size_t klen;
		int child;
		skip_ws(c);
		if (c->pos >= c->len)
			break;
		if (is_map) {
			if (flow_scalar(p, c, &key, &klen) < 0)
				return -1;
			skip_ws(c);
			if (c->pos >= c->len || c->s[c->pos] != ':') {
				free(key);
				return fail(p, cur_line(c), "expected ':' after a key in a flow mapping");
			}
			c->pos++;
		}
		child = flow_value(p, c, depth + 1);
		if (child < 0 || attach(p, node, child, key, cur_line(c)) < 0) {
			if (child < 0)
				free(key);
			return -1;
		}
		skip_ws(c);
		if (c->pos < c->len && c->s[c->pos] == ',') {
			c->pos++;
			continue;
		}
		if (c->pos < c->len && c->s[c->pos] == close) {
			c->pos++;
			return node;
		}
		break;
	}
	return fail(p, cur_line(c), c->multiline ? "expected ',' or '%c'" :
	    "expected ',' or '%c' (flow collections must close on their line)", close);
}

static int flow_value(yaml_parser *p, cursor *c, int depth)
{
	char *text;
	size_t len;
	int node;

	skip_ws(c);
	if (c->pos >= c->len)
		return fail(p, cur_line(c), "expected a value");
	if (c->s[c->pos] == '{' || c->s[c->pos] == '[')
		return flow_collection(p, c, depth);
	node = new_node(p, YAML_SCALAR, cur_line(c));
	if (node < 0 || flow_scalar(p, c, &text, &len) < 0)
		return -1;
	return set_scalar(p, node, text, len) < 0 ? -1 : node;
}

/* ---- block structure -------------------------------------------------------------- */

static int top(const yaml_parser *p)
{
	return p->stack[p->depth - 1].node;
}

static int push(yaml_parser *p, int node, int indent)
{
	if (p->depth == MAX_DEPTH)
		return fail(p, p->lineno, "nested too deep");
	p->stack[p->depth].node = node;
	p->stack[p->depth].indent = indent;
	p->depth++;
	return 0;
}

/* Only spaces, then nothing or a comment. */
static int rest_is_empty(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '\0' || *s == '#';
}

/* A value after "key:" or "- ": a new node holding it, or -1. */
static int block_value(yaml_parser *p, const char *t)
{
	cursor c = {t, strlen(t), 0, p->lineno, 0, 0, 0};
	char *text;
	size_t len;
	int node;

	switch (t[0]) {
	case '|': case '>':
		return fail(p, p->lineno, "block scalars (| or >) are not supported");
	case '&': case '*': case '!':
		return fail(p, p->lineno, "anchors, aliases and tags (& * !) are not supported");
	case '@': case '`': case '%':
		return fail(p, p->lineno, "a plain scalar cannot start with '%c'", t[0]);
	case '{': case '[':
		node = flow_collection(p, &c, 0);
		if (node < 0)
			return -1;
		break;
	case '"': case '\'':
		node = new_node(p, YAML_SCALAR, p->lineno);
		if (node < 0 || (t[0] == '"' ? read_dq(p, &c, &text, &len) : read_sq(p, &c, &text, &len)) < 0)
			return -1;
		set_scalar(p, node, text, len);
		break;
	default: {
		const char *end = t;
		/* A plain scalar ends at " #"; ": " inside it would be a mapping. */
		while (*end && !((end[0] == ' ' || end[0] == '\t') && end[1] == '#')) {
			if (end[0] == ':' && (end[1] == ' ' || end[1] == '\0'))
				return fail(p, p->lineno, "a mapping value is not allowed here (quote the scalar)");
			end++;
		}
		while (end > t && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		node = new_node(p, YAML_SCALAR, p->lineno);
		if (node < 0)
			return -1;
		text = dup_n(t, (size_t)(end - t));
		set_scalar(p, node, text, (size_t)(end - t));
		return node;
	}
	}
	if (!rest_is_empty(t + c.pos))
		return fail(p, p->lineno, "unexpected text after a value");
	return node;
}

static int is_seq_item(const char *t)
{
	return t[0] == '-' && (t[1] == '\0' || t[1] == ' ');
}

/* The key of "key: value" at t: its end in *after (past the ':'), or -1 when t is not an entry. */
static int entry_key(yaml_parser *p, const char *t, char **key, const char **after)
{
	cursor c = {t, strlen(t), 0, p->lineno, 0, 0, 0};
	size_t len;

	if (t[0] == '"' || t[0] == '\'') {
		if ((t[0] == '"' ? read_dq(p, &c, key, &len) : read_sq(p, &c, key, &len)) < 0)
			return -1;
		while (t[c.pos] == ' ')
			c.pos++;
		if (t[c.pos] != ':' || (t[c.pos + 1] != ' ' && t[c.pos + 1] != '\0')) {
			free(*key);
			return fail(p, p->lineno, "expected ':' after a quoted key");
		}
		*after = t + c.pos + 1;
		return 0;
	}
	for (size_t i = 0; t[i]; i++) {
		if (t[i] == ':' && (t[i + 1] == ' ' || t[i + 1] == '\0')) {
			size_t n = i;
			while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
				n--;
			if (n == 0)
				return fail(p, p->lineno, "empty key");
			*key = dup_n(t, n);
			*after = t + i + 1;
			return 0;
		}
		if ((t[i] == ' ' || t[i] == '\t') && t[i + 1] == '#')
			break;
	}
	return 1;	/* not an entry */
}

static int looks_like_entry(const char *t)
{
	if (t[0] == '"' || t[0] == '\'') {
		size_t i = 1;
		if (t[0] == '"') {
			while (t[i] && t[i] != '"')
				i += t[i] == '\\' && t[i + 1] ? 2 : 1;
		} else {
			while (t[i] && !(t[i] == '\'' && t[i + 1] != '\''))
				i += t[i] == '\'' ? 2 : 1;
		}
		if (!t[i])
			return 0;
		i++;
		while (t[i] == ' ')
			i++;
		return t[i] == ':' && (t[i + 1] == ' ' || t[i + 1] == '\0');
	}
	if (strchr("[{|>&*!", t[0]))
		return 0;
	for (size_t i = 0; t[i]; i++) {
		if (t[i] == ':' && (t[i + 1] == ' ' || t[i + 1] == '\0'))
			return 1;
		if ((t[i] == ' ' || t[i] == '\t') && t[i + 1] == '#')
			return 0;
	}
	return 0;
}

static int content(yaml_parser *p, int col, const char *t);

static int map_entry(yaml_parser *p, int col, const char *t)
{
	char *key = NULL;
	const char *after = NULL;
	int rc, node;

	if (t[0] == '?' && (t[1] == ' ' || t[1] == '\0'))
		return fail(p, p->lineno, "complex keys (?) are not supported");
	rc = entry_key(p, t, &key, &after);
	if (rc < 0)
		return -1;
	if (rc > 0)
		return fail(p, p->lineno, "expected \"key: value\" (multi-line scalars are not supported)");
	while (*after == ' ' || *after == '\t')
		after++;
	if (rest_is_empty(after)) {
		node = new_node(p, YAML_NONE, p->lineno);
		if (node < 0 || attach(p, top(p), node, key, p->lineno) < 0) {
			if (node < 0)
				free(key);
			return -1;
		}
		p->pending = node;
		p->pending_indent = col;
		p->pending_item = 0;
		return 0;
	}
	node = block_value(p, after);
	if (node < 0) {
		free(key);
		return -1;
	}
	return attach(p, top(p), node, key, p->lineno);
}

static int seq_item(yaml_parser *p, int col, const char *t)
{
	int j = 1, node;

	while (t[j] == ' ')
		j++;
	if (t[j] == '\t')
		return fail(p, p->lineno, "a tab after '-'");
	if (rest_is_empty(t + j)) {
		node = new_node(p, YAML_NONE, p->lineno);
		if (node < 0 || attach(p, top(p), node, NULL, p->lineno) < 0)
			return -1;
		p->pending = node;
		p->pending_indent = col;
		p->pending_item = 1;
		return 0;
	}
	if (is_seq_item(t + j) || looks_like_entry(t + j)) {
		/* "- - x" or "- key: value": a collection starting on the item's line, at column col + j. */
		node = new_node(p, is_seq_item(t + j) ? YAML_SEQ : YAML_MAP, p->lineno);
		if (node < 0 || attach(p, top(p), node, NULL, p->lineno) < 0 || push(p, node, col + j) < 0)
			return -1;
		return content(p, col + j, t + j);
	}
	node = block_value(p, t + j);
	return node < 0 ? -1 : attach(p, top(p), node, NULL, p->lineno);
}

/* One line's content t at column col (after its indentation). */
static int content(yaml_parser *p, int col, const char *t)
{
	int seq = is_seq_item(t), kind = seq ? YAML_SEQ : YAML_MAP;

	if (p->pending >= 0) {
		int pn = p->pending;
		p->pending = -1;
		if (col > p->pending_indent || (seq && !p->pending_item && col == p->pending_indent)) {
			p->nodes[pn].kind = kind;
			if (push(p, pn, col) < 0)
				return -1;
		} else {
			set_scalar(p, pn, NULL, 0);
		}
	}
	while (p->depth > 0 && (p->stack[p->depth - 1].indent > col ||
	    (p->stack[p->depth - 1].indent == col && p->nodes[top(p)].kind != kind)))
		p->depth--;
	if (p->depth == 0) {
		if (p->root >= 0)
			return fail(p, p->lineno, "unexpected %s at column %d (bad indentation?)",
			    seq ? "sequence item" : "mapping entry", col + 1);
		if ((p->root = new_node(p, kind, p->lineno)) < 0 || push(p, p->root, col) < 0)
			return -1;
	} else if (p->stack[p->depth - 1].indent != col) {
		return fail(p, p->lineno, "bad indentation (column %d)", col + 1);
	}
	return seq ? seq_item(p, col, t) : map_entry(p, col, t);
}

/* One complete line (no line end). */
static int handle_line(yaml_parser *p, char *s, size_t len)
{
	size_t col = 0;
	const char *t;

	p->lineno++;
	if (len && s[len - 1] == '\r')
		s[--len] = '\0';
	if (memchr(s, '\0', len))
		return fail(p, p->lineno, "a NUL byte");
	if (p->mode == MODE_JSON) {
		if (buf_append(&p->json, s, len) < 0 || buf_append_byte(&p->json, '\n') < 0)
			return fail(p, p->lineno, "out of memory");
		return 0;
	}
	while (col < len && s[col] == ' ')
		col++;
	t = s + col;
	if (rest_is_empty(t))
		return 0;
	if (*t == '\t')
		return fail(p, p->lineno, "tab in indentation (YAML indents with spaces)");
	if (col == 0 && strncmp(t, "---", 3) == 0 && (t[3] == '\0' || t[3] == ' ')) {
		if (p->mode != MODE_START)
			return fail(p, p->lineno, "several documents in one file");
		if (!rest_is_empty(t + 3))
			return fail(p, p->lineno, "content after \"---\" is not supported");
		return 0;
	}
	if (col == 0 && strncmp(t, "...", 3) == 0 && rest_is_empty(t + 3)) {
		p->mode = MODE_ENDED;
		return 0;
	}
	if (p->mode == MODE_ENDED)
		return fail(p, p->lineno, "content after the end of the document");
	if (p->mode == MODE_START) {
		if (*t == '%')
			return fail(p, p->lineno, "directives (%%) are not supported");
		if (*t == '{' || *t == '[') {
			p->mode = MODE_JSON;
			p->json_line = p->lineno;
			if (buf_append(&p->json, t, len - col) < 0 || buf_append_byte(&p->json, '\n') < 0)
				return fail(p, p->lineno, "out of memory");
			return 0;
		}
		p->mode = MODE_BLOCK;
	}
	if (col > 10000)
		return fail(p, p->lineno, "indented too deep");
	return content(p, (int)col, t);
}

/* ---- API ---------------------------------------------------------------------------- */

yaml_parser *yaml_parser_new(void)
{
	yaml_parser *p = xcalloc(1, sizeof(*p));

	p->root = -1;
	p->pending = -1;
	return p;
}

void yaml_parser_free(yaml_parser *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->nodes[i].key);
		free(p->nodes[i].text);
	}
	free(p->nodes);
	buf_free(&p->line);
	buf_free(&p->json);
	free(p);
}

int yaml_feed(yaml_parser *p, const void *data, size_t len)
{
	const char *d = data;

	if (p->failed)
		return -1;
	if (len > YAML_MAX_BYTES - p->total)
		return fail(p, p->lineno + 1, "document larger than %u bytes", YAML_MAX_BYTES);
	p->total += len;
	while (len) {
		const char *nl = memchr(d, '\n', len);
		size_t n = nl ? (size_t)(nl - d) : len;
		if (buf_append(&p->line, d, n) < 0)
			return fail(p, p->lineno + 1, "out of memory");
		if (nl == NULL)
			break;
		if (buf_append_byte(&p->line, '\0') < 0)
			return fail(p, p->lineno + 1, "out of memory");
		if (handle_line(p, (char *)buf_data(&p->line), buf_len(&p->line) - 1) < 0)
			return -1;
		buf_reset(&p->line);
		d += n + 1;
		len -= n + 1;
	}
	return 0;
}

int yaml_finish(yaml_parser *p)
{
	if (p->failed)
		return -1;
	if (buf_len(&p->line)) {
		if (buf_append_byte(&p->line, '\0') < 0)
			return fail(p, p->lineno + 1, "out of memory");
		if (handle_line(p, (char *)buf_data(&p->line), buf_len(&p->line) - 1) < 0)
			return -1;
		buf_reset(&p->line);
	}
	if (p->pending >= 0) {
		set_scalar(p, p->pending, NULL, 0);
		p->pending = -1;
	}
	if (p->mode == MODE_JSON) {
		cursor c = {(const char *)buf_data(&p->json), buf_len(&p->json), 0, p->json_line, 1, 0, 0};
		p->root = flow_value(p, &c, 0);
		if (p->root < 0)
			return -1;
		skip_ws(&c);
		if (c.pos != c.len)
			return fail(p, cur_line(&c), "unexpected text after the JSON document");
	}
	return 0;
}

const char *yaml_error(const yaml_parser *p, int *line)
{
	if (line)
		*line = p->failed ? p->err_line : 0;
	return p->failed ? p->err : "";
}

yaml_node yaml_root(const yaml_parser *p)
{
	return p->failed ? -1 : p->root;
}

static const struct ynode *node_at(const yaml_parser *p, yaml_node n)
{
	return n >= 0 && (size_t)n < p->n && !p->failed ? &p->nodes[n] : NULL;
}

enum yaml_kind yaml_kind_of(const yaml_parser *p, yaml_node n)
{
	const struct ynode *x = node_at(p, n);

	return x ? (enum yaml_kind)x->kind : YAML_NONE;
}

yaml_node yaml_get(const yaml_parser *p, yaml_node map, const char *key)
{
	const struct ynode *x = node_at(p, map);

	if (x == NULL || x->kind != YAML_MAP)
		return -1;
	for (int c = x->first; c >= 0; c = p->nodes[c].next)
		if (strcmp(p->nodes[c].key, key) == 0)
			return c;
	return -1;
}

size_t yaml_len(const yaml_parser *p, yaml_node n)
{
	const struct ynode *x = node_at(p, n);

	return x && (x->kind == YAML_MAP || x->kind == YAML_SEQ) ? x->nchildren : 0;
}

yaml_node yaml_at(const yaml_parser *p, yaml_node n, size_t i)
{
	const struct ynode *x = node_at(p, n);
	int c;

	if (x == NULL || (x->kind != YAML_MAP && x->kind != YAML_SEQ))
		return -1;
	for (c = x->first; c >= 0 && i > 0; c = p->nodes[c].next)
		i--;
	return c;
}

const char *yaml_key_at(const yaml_parser *p, yaml_node map, size_t i)
{
	int c = yaml_kind_of(p, map) == YAML_MAP ? yaml_at(p, map, i) : -1;

	return c >= 0 ? p->nodes[c].key : NULL;
}

const char *yaml_scalar(const yaml_parser *p, yaml_node n, size_t *len)
{
	const struct ynode *x = node_at(p, n);

	if (x == NULL || x->kind != YAML_SCALAR)
		return NULL;
	if (len)
		*len = x->len;
	return x->text ? x->text : "";
}

const char *yaml_get_str(const yaml_parser *p, yaml_node map, const char *key)
{
	return yaml_scalar(p, yaml_get(p, map, key), NULL);
}

int yaml_line_of(const yaml_parser *p, yaml_node n)
{
	const struct ynode *x = node_at(p, n);

	return x ? x->line : 0;
}
