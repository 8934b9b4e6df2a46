/*
 * The YAML/JSON reader: each case is parsed whole, byte by byte and split at
 * every point, and its tree printed in one canonical form must match the
 * expected text exactly; refused input must name the line.
 */
#include "base/mem.h"
#include "harness.h"

#include "base/buf.h"
#include "yaml/yaml.h"

/* Canonical form: {k=v,k=[a,b]}; scalars as they are, empty as ~. */
static void dump(const yaml_parser *p, yaml_node n, buf *out)
{
	size_t len;
	const char *s;

	switch (yaml_kind_of(p, n)) {
	case YAML_SCALAR:
		s = yaml_scalar(p, n, &len);
		if (len == 0)
			buf_append_str(out, "~");
		else
			buf_append(out, s, len);
		break;
	case YAML_MAP:
		buf_append_byte(out, '{');
		for (size_t i = 0; i < yaml_len(p, n); i++) {
			if (i)
				buf_append_byte(out, ',');
			buf_append_str(out, yaml_key_at(p, n, i));
			buf_append_byte(out, '=');
			dump(p, yaml_at(p, n, i), out);
		}
		buf_append_byte(out, '}');
		break;
	case YAML_SEQ:
		buf_append_byte(out, '[');
		for (size_t i = 0; i < yaml_len(p, n); i++) {
			if (i)
				buf_append_byte(out, ',');
			dump(p, yaml_at(p, n, i), out);
		}
		buf_append_byte(out, ']');
		break;
	default:
		buf_append_str(out, "(none)");
	}
}

/* Parses text fed in chunks of step bytes (0 = whole); returns the dump or "ERR line: ..." in out. */
static void parse(const char *text, size_t step, buf *out)
{
	yaml_parser *p = yaml_parser_new();
	size_t len = strlen(text), off = 0;
	int rc = 0;

	buf_reset(out);
	while (rc == 0 && off < len) {
		size_t k = step && len - off > step ? step : len - off;
		rc = yaml_feed(p, text + off, k);
		off += k;
	}
	if (rc == 0)
		rc = yaml_finish(p);
	if (rc < 0)
		buf_printf(out, "ERR %s", yaml_error(p, NULL));
	else
		dump(p, yaml_root(p), out);
	buf_append_byte(out, '\0');
	yaml_parser_free(p);
}

/* Whole, byte by byte, and at every split point: all must give want. */
static void check_case(const char *text, const char *want)
{
	buf out = BUF_INIT;
	size_t len = strlen(text);

	parse(text, 0, &out);
	CHECK_EQ_STR((const char *)buf_data(&out), want);
	parse(text, 1, &out);
	CHECK_EQ_STR((const char *)buf_data(&out), want);
	for (size_t split = 1; split < len; split++) {
		yaml_parser *p = yaml_parser_new();
		int rc = yaml_feed(p, text, split);
		if (rc == 0)
			rc = yaml_feed(p, text + split, len - split);
		if (rc == 0)
			rc = yaml_finish(p);
		buf_reset(&out);
		if (rc < 0)
			buf_printf(&out, "ERR %s", yaml_error(p, NULL));
		else
			dump(p, yaml_root(p), &out);
		buf_append_byte(&out, '\0');
		if (strcmp((const char *)buf_data(&out), want) != 0) {
			CHECK_EQ_STR((const char *)buf_data(&out), want);
			yaml_parser_free(p);
			break;
		}
		yaml_parser_free(p);
	}
	buf_free(&out);
}

static const char kubectl_config[] =
    "apiVersion: v1\n"
    "clusters:\n"
    "- cluster:\n"
    "    certificate-authority-data: LS0tLS1CRUdJTg==\n"
    "    server: https://127.0.0.1:6443\n"
    "  name: kind-kind\n"
    "contexts:\n"
    "- context:\n"
    "    cluster: kind-kind\n"
    "    user: kind-kind\n"
    "  name: kind-kind\n"
    "current-context: kind-kind\n"
    "kind: Config\n"
    "preferences: {}\n"
    "users:\n"
    "- name: kind-kind\n"
    "  user:\n"
    "    client-certificate-data: Y2VydA==\n"
    "    client-key-data: a2V5\n";

static void test_kubectl_output(void)
{
	check_case(kubectl_config,
	    "{apiVersion=v1,clusters=[{cluster={certificate-authority-data=LS0tLS1CRUdJTg==,"
	    "server=https://127.0.0.1:6443},name=kind-kind}],contexts=[{context={cluster=kind-kind,"
	    "user=kind-kind},name=kind-kind}],current-context=kind-kind,kind=Config,preferences={},"
	    "users=[{name=kind-kind,user={client-certificate-data=Y2VydA==,client-key-data=a2V5}}]}");
}

static void test_scalar_styles(void)
{
	check_case("a: plain text here\nb: 'it''s # not a comment'\nc: \"tab\\there \\\"q\\\" \\u00e9\\x41\"\n"
	    "d:\ne: ''\nf: \"\"\ng: 8080 # a comment\nh: http://x:1/p\n'quoted key': 1\n\"k2\" : 2\n",
	    "{a=plain text here,b=it's # not a comment,c=tab\there \"q\" \xc3\xa9" "A,d=~,e=~,f=~,g=8080,"
	    "h=http://x:1/p,quoted key=1,k2=2}");
}

static void test_comments_crlf_and_markers(void)
{
	check_case("# head\r\n---\r\n# more\r\nkey: v  \r\n\r\n  # indented comment\r\nlist:\r\n  - a # c\r\n"
	    "  -   b\r\n...\r\n",
	    "{key=v,list=[a,b]}");
	check_case("", "(none)");
	check_case("# only a comment\n", "(none)");
	check_case("no-newline: at end", "{no-newline=at end}");
}

static void test_nested_sequences(void)
{
	check_case("- - a\n  - b\n- - - c\n- d\n-\n- e: 1\n  f:\n  - x\n  -\n  - - y\n",
	    "[[a,b],[[c]],d,~,{e=1,f=[x,~,[y]]}]");
	check_case("args:\n- --flag\n- \"--other=1\"\nenv: null\n", "{args=[--flag,--other=1],env=null}");
	check_case("a:\n  b:\n    c:\n  d: 1\ne: 2\n", "{a={b={c=~},d=1},e=2}");
}

static void test_flow_and_json(void)
{
	check_case("p: {}\nq: []\nr: [a, \"b c\", {k: v}]\ns: {x: [1,2], 'y': z}  # c\n",
	    "{p={},q=[],r=[a,b c,{k=v}],s={x=[1,2],y=z}}");
	check_case("{\n  \"kind\": \"Config\",\n  \"clusters\": [\n    {\"name\": \"c\", \"cluster\": "
	    "{\"server\": \"https://h:1\", \"insecure-skip-tls-verify\": true}}\n  ],\n  \"n\": null\n}\n",
	    "{kind=Config,clusters=[{name=c,cluster={server=https://h:1,insecure-skip-tls-verify=true}}],n=null}");
	check_case("[1, [2, []], {}]", "[1,[2,[]],{}]");
}

static void test_refused_with_line(void)
{
	check_case("a: 1\n\tb: 2\n", "ERR line 2: tab in indentation (YAML indents with spaces)");
	check_case("a:\n  b: |\n    text\n", "ERR line 2: block scalars (| or >) are not supported");
	check_case("a: &x 1\n", "ERR line 1: anchors, aliases and tags (& * !) are not supported");
	check_case("a: *x\n", "ERR line 1: anchors, aliases and tags (& * !) are not supported");
	check_case("a: !!str 1\n", "ERR line 1: anchors, aliases and tags (& * !) are not supported");
	check_case("a: 1\na: 2\n", "ERR line 2: duplicate key \"a\"");
	check_case("a: 1\n---\nb: 2\n", "ERR line 2: several documents in one file");
	check_case("a:\n  b: 1\n c: 2\n", "ERR line 3: bad indentation (column 2)");
	check_case("a: 1\n  b: 2\n", "ERR line 2: bad indentation (column 3)");
	check_case("a: \"open\n", "ERR line 1: double-quoted scalar not closed on its line");
	check_case("a: 'open\n", "ERR line 1: single-quoted scalar not closed on its line");
	check_case("a: \"\\q\"\n", "ERR line 1: unknown escape \\q in a double-quoted scalar");
	check_case("a: plain\n  continued\n", "ERR line 2: bad indentation (column 3)");
	check_case("key\n", "ERR line 1: expected \"key: value\" (multi-line scalars are not supported)");
	check_case("a: b: c\n", "ERR line 1: a mapping value is not allowed here (quote the scalar)");
	check_case("a: [1, 2\n", "ERR line 1: expected ',' or ']' (flow collections must close on their line)");
	check_case("{\"a\": 1,\n \"b\" 2}\n", "ERR line 2: expected ':' after a key in a flow mapping");
	check_case("{\"a\": 1}\n{}\n", "ERR line 2: unexpected text after the JSON document");
	check_case("a: 1\n- b\n", "ERR line 2: unexpected sequence item at column 1 (bad indentation?)");
	check_case("? a\n", "ERR line 1: complex keys (?) are not supported");
	check_case("%YAML 1.2\n", "ERR line 1: directives (%) are not supported");
	check_case("a: 1\n...\nb: 2\n", "ERR line 3: content after the end of the document");
}

static void test_accessors(void)
{
	yaml_parser *p = yaml_parser_new();
	yaml_node root, users, u0;
	int line;

	CHECK_EQ_INT(yaml_feed(p, kubectl_config, sizeof(kubectl_config) - 1), 0);
	CHECK_EQ_INT(yaml_finish(p), 0);
	root = yaml_root(p);
	CHECK_EQ_INT(yaml_kind_of(p, root), YAML_MAP);
	CHECK_EQ_STR(yaml_get_str(p, root, "current-context"), "kind-kind");
	CHECK(yaml_get_str(p, root, "users") == NULL);
	users = yaml_get(p, root, "users");
	CHECK_EQ_INT(yaml_kind_of(p, users), YAML_SEQ);
	CHECK_EQ_INT(yaml_len(p, users), 1);
	u0 = yaml_at(p, users, 0);
	CHECK_EQ_STR(yaml_get_str(p, yaml_get(p, u0, "user"), "client-key-data"), "a2V5");
	CHECK_EQ_INT(yaml_line_of(p, u0), 16);
	CHECK_EQ_INT(yaml_at(p, users, 1), -1);
	CHECK_EQ_INT(yaml_get(p, users, "x"), -1);
	CHECK_EQ_INT(yaml_kind_of(p, -1), YAML_NONE);
	CHECK_EQ_STR(yaml_error(p, &line), "");
	CHECK_EQ_INT(line, 0);
	yaml_parser_free(p);

	/* Errors are sticky and carry their line. */
	p = yaml_parser_new();
	CHECK_EQ_INT(yaml_feed(p, "a: 1\n\tb\n", 8), -1);
	CHECK_EQ_INT(yaml_feed(p, "c: 1\n", 5), -1);
	CHECK_EQ_INT(yaml_finish(p), -1);
	CHECK(strstr(yaml_error(p, &line), "tab") != NULL);
	CHECK_EQ_INT(line, 2);
	CHECK_EQ_INT(yaml_root(p), -1);
	yaml_parser_free(p);
}

/*
 * The line and JSON stores are bufs, which grow through the checked
 * allocator: each of their allocations failing in turn, for a block
 * document and a JSON one, ends the parse with "out of memory"; nothing
 * leaks.
 */
static void test_checked_allocations_fail(void)
{
	/* A line of exactly 256 bytes (the store's first size) makes its NUL grow it, with and
	 * without a newline after it; a long second JSON line grows the JSON store. */
	static char exact[300], exact_nl[300], long_json[700];
	const char *const docs[] = {
		"apiVersion: v1\nclusters:\n- name: a\n  cluster:\n    server: https://10.0.0.1:6443\n",
		"{\"apiVersion\": \"v1\",\n \"clusters\": [{\"name\": \"a\"}]}\n",
		exact, exact_nl, long_json,
	};

	snprintf(exact, sizeof(exact), "k: %253s", "v");
	snprintf(exact_nl, sizeof(exact_nl), "k: %253s\n", "v");
	snprintf(long_json, sizeof(long_json), "{\"a\":\n\"%600s\"}\n", "x");
	for (size_t d = 0; d < sizeof(docs) / sizeof(docs[0]); d++) {
		size_t len = strlen(docs[d]);
		unsigned long before = mem_try_calls_for_test(), total;
		yaml_parser *p = yaml_parser_new();

		CHECK_EQ_INT(yaml_feed(p, docs[d], len), 0);
		CHECK_EQ_INT(yaml_finish(p), 0);
		yaml_parser_free(p);
		total = mem_try_calls_for_test() - before;
		CHECK(total >= 1);
		for (unsigned long n = 1; n <= total; n++) {
			int rc;

			p = yaml_parser_new();
			mem_try_fail_after_for_test(n);
			rc = yaml_feed(p, docs[d], len);
			if (rc == 0)
				rc = yaml_finish(p);
			mem_try_fail_after_for_test(0);
			CHECK_EQ_INT(rc, -1);
			CHECK(strstr(yaml_error(p, NULL), "out of memory") != NULL);
			yaml_parser_free(p);
		}
	}
}

int main(void)
{
	RUN(test_kubectl_output);
	RUN(test_scalar_styles);
	RUN(test_comments_crlf_and_markers);
	RUN(test_nested_sequences);
	RUN(test_flow_and_json);
	RUN(test_refused_with_line);
	RUN(test_accessors);
	RUN(test_checked_allocations_fail);
	return harness_finish();
}
