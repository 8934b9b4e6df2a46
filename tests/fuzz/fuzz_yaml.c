/*
 * The YAML/JSON reader: the input after the first byte is parsed whole and
 * split at a point the first byte picks; both must agree (same error line,
 * or the same tree walked to its leaves), and the tree's accessors must stay
 * in bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "yaml/yaml.h"

static yaml_parser *run(const uint8_t *d, size_t n, size_t split)
{
	yaml_parser *p = yaml_parser_new();

	if (p == NULL)
		abort();
	if (yaml_feed(p, d, split) == 0 && yaml_feed(p, d + split, n - split) == 0)
		yaml_finish(p);
	else
		yaml_finish(p);	/* after a failure: stays failed */
	return p;
}

/* Same shape and text below a and b. */
static void same(const yaml_parser *a, yaml_node x, const yaml_parser *b, yaml_node y, int depth)
{
	size_t la, lb;
	const char *sa, *sb;

	if (depth > 200 || yaml_kind_of(a, x) != yaml_kind_of(b, y) || yaml_len(a, x) != yaml_len(b, y))
		abort();
	sa = yaml_scalar(a, x, &la);
	sb = yaml_scalar(b, y, &lb);
	if ((sa == NULL) != (sb == NULL) || (sa && (la != lb || memcmp(sa, sb, la) != 0 || sa[la] != '\0')))
		abort();
	for (size_t i = 0; i < yaml_len(a, x); i++) {
		const char *ka = yaml_key_at(a, x, i), *kb = yaml_key_at(b, y, i);
		if ((ka == NULL) != (kb == NULL) || (ka && strcmp(ka, kb) != 0))
			abort();
		if (ka && yaml_get(a, x, ka) < 0)
			abort();
		same(a, yaml_at(a, x, i), b, yaml_at(b, y, i), depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	yaml_parser *whole, *split;
	int la, lb;

	if (size < 1)
		return 0;
	whole = run(data + 1, size - 1, 0);
	split = run(data + 1, size - 1, (size - 1) * data[0] / 255);
	if (strcmp(yaml_error(whole, &la), yaml_error(split, &lb)) != 0 || la != lb)
		abort();
	if (la == 0)
		same(whole, yaml_root(whole), split, yaml_root(split), 0);
	yaml_parser_free(whole);
	yaml_parser_free(split);
	return 0;
}
