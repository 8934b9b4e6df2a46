#include "worker/allowlist.h"

#include <stdio.h>
#include <string.h>

static bool boundary(char c)
{
	return c == '/' || c == ':' || c == '@';
}

/* One prefix [p, p+n) against image. */
static bool prefix_admits(const char *p, size_t n, const char *image)
{
	if (n == 0 || strncmp(image, p, n) != 0)
		return false;
	return image[n] == '\0' || boundary(image[n]) || boundary(p[n - 1]);
}

int allowlist_check_flag(const char *list, char *why, size_t whysz)
{
	const char *p = list;

	if (list == NULL || list[0] == '\0')
		return 0;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (n == 0) {
			snprintf(why, whysz, "--allowed-images: empty prefix in \"%s\"", list);
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			if (p[i] == ' ' || p[i] == '\t') {
				snprintf(why, whysz, "--allowed-images: blank inside \"%.*s\"", (int)n, p);
				return -1;
			}
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

bool allowlist_admits(const char *list, const char *image)
{
	const char *p = list;

	if (list == NULL || list[0] == '\0')
		return true;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (prefix_admits(p, n, image))
			return true;
		if (comma == NULL)
			return false;
		p = comma + 1;
	}
}

int allowlist_check_image(const char *list, const char *image, char *why, size_t whysz)
{
	int n;

	if (allowlist_admits(list, image))
		return 0;
	n = snprintf(why, whysz, "image \"%s\" is not allowed (allowed image prefixes: ", image);
	/* the list as "a, b" */
	for (const char *p = list; *p && n >= 0 && (size_t)n < whysz; p++)
		n += snprintf(why + n, whysz - (size_t)n, *p == ',' ? ", " : "%c", *p);
	if (n >= 0 && (size_t)n < whysz)
		snprintf(why + n, whysz - (size_t)n, ")");
	return -1;
}
