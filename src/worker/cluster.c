#include "worker/cluster.h"

#include <stdio.h>
#include <string.h>

const char *cluster_phase_name(enum cluster_phase p)
{
	switch (p) {
	case PHASE_ABSENT: return "ABSENT";
	case PHASE_CREATING: return "CREATING";
	case PHASE_READY: return "READY";
	case PHASE_DELETING: return "DELETING";
	case PHASE_FAILED: return "FAILED";
	case PHASE_DELETED: return "DELETED";
	case PHASE_UPDATING: return "UPDATING";
	case PHASE_COUNT: break;
	}
	return "UNKNOWN";
}

enum cluster_phase cluster_derive_phase(const struct cluster_observed *o, int creating, int deleting)
{
	if (!o->present)
		return creating ? (deleting ? PHASE_DELETING : PHASE_CREATING) : PHASE_ABSENT;
	if (o->deleting || deleting)
		return PHASE_DELETING;
	if (o->observed_generation >= o->generation && o->updated_replicas == o->spec_replicas &&
	    o->available_replicas == o->spec_replicas && o->available_true)
		return o->service_pending ? PHASE_CREATING : PHASE_READY;
	if (o->progress_deadline_exceeded)
		return PHASE_FAILED;
	return o->generation > 1 && !creating ? PHASE_UPDATING : PHASE_CREATING;
}

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static const char *name_rule(const char *name)
{
	size_t n = strlen(name);

	if (n == 0)
		return "name is required: a DNS-1123 label (1-63 characters of a-z, 0-9 and '-', "
		       "starting and ending with a letter or digit)";
	if (n > CLUSTER_NAME_MAX)
		return "name must be at most 63 characters (a DNS-1123 label)";
	for (size_t i = 0; i < n; i++)
		if (!is_lower_alnum(name[i]) && name[i] != '-')
			return "name must be a DNS-1123 label: only lower-case letters, digits and '-'";
	if (!is_lower_alnum(name[0]) || !is_lower_alnum(name[n - 1]))
		return "name must be a DNS-1123 label: it must start and end with a letter or digit";
	return NULL;
}

int cluster_check_name(const char *name, char *why, size_t whysz)
{
	const char *rule = name_rule(name);

	if (rule == NULL)
		return 0;
	snprintf(why, whysz, "%s", rule);
	return -1;
}

int cluster_check_replicas(int64_t replicas, int64_t max_replicas, char *why, size_t whysz)
{
	if (replicas >= 1 && replicas <= max_replicas)
		return 0;
	snprintf(why, whysz, "replicas must be between 1 and %lld (--max-replicas), got %lld",
	    (long long)max_replicas, (long long)replicas);
	return -1;
}

/*
 * A plausible image reference, as the distribution spec's grammar has it:
 *   [host[:port]/]component(/component)*[:tag][@algorithm:hex]
 * component = [a-z0-9]+ ([._]|__|-+ [a-z0-9]+)*   tag = [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 * The host is the first part when it has a '.', a ':' or is "localhost".
 */
static int check_component(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return -1;
	while (i < n) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		/* separators: '.', '_', '__', or one or more '-' */
		if (s[i] == '.' || s[i] == '_') {
			size_t j = i + 1;
			if (s[i] == '_' && j < n && s[j] == '_')
				j++;
			if (j >= n || !is_lower_alnum(s[j]))
				return -1;
			i = j;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
			if (i >= n || !is_lower_alnum(s[i]))
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

static int check_host(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		    c == '-' || c == ':' || c == '[' || c == ']'))
			return -1;
	}
	return n ? 0 : -1;
}

/* After '@': algorithm ':' lower-case hex.  NULL when fine, else the rule broken. */
static const char *digest_rule(const char *digest)
{
	const char *colon = strchr(digest, ':');

	if (colon == NULL || colon == digest || colon[1] == '\0')
		return "a digest must look like @algorithm:hex";
	for (const char *p = colon + 1; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return "a digest's hex part must be lower-case hexadecimal";
	return NULL;
}

/*
 * The tag: the last ':' after the last '/' of image[0, *name_end).  When
 * there is one, *name_end is moved to it.  NULL when fine (or no tag).
 */
static const char *tag_rule(const char *image, size_t *name_end)
{
	const char *slash = NULL, *tag = NULL, *end = image + *name_end;
	size_t tl;

	for (const char *p = image; p < end; p++)
		if (*p == '/')
			slash = p;
	for (const char *p = slash ? slash : image; p < end; p++)
		if (*p == ':')
			tag = p;
	if (tag == NULL)
		return NULL;
	tl = (size_t)(end - tag - 1);
	if (tl == 0 || tl > 128)
		return "a tag must be 1-128 characters";
	for (size_t i = 0; i < tl; i++) {
		char c = tag[1 + i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		    (i > 0 && (c == '.' || c == '-'))))
			return "a tag may hold only letters, digits, '_', '.' and '-' (not first)";
	}
	*name_end = (size_t)(tag - image);
	return NULL;
}

/*
 * The optional registry host: the part before the first '/' of
 * image[0, name_end) when it has a '.', a ':' or is "localhost".  *start is
 * set past it (0 without one).  NULL when fine.
 */
static const char *registry_rule(const char *image, size_t name_end, size_t *start)
{
	const char *first = memchr(image, '/', name_end);
	size_t hl;

	*start = 0;
	if (first == NULL)
		return NULL;
	hl = (size_t)(first - image);
	if (!memchr(image, '.', hl) && !memchr(image, ':', hl) && !(hl == 9 && memcmp(image, "localhost", 9) == 0))
		return NULL;
	if (check_host(image, hl) < 0)
		return "the registry host is not a valid host[:port]";
	*start = hl + 1;
	return NULL;
}

/* The repository path image[start, name_end): components separated by '/'. */
static const char *path_rule(const char *image, size_t start, size_t name_end)
{
	while (start < name_end) {
		const char *end = memchr(image + start, '/', name_end - start);
		size_t cl = end ? (size_t)(end - image) - start : name_end - start;
		if (check_component(image + start, cl) < 0)
			return "repository path components must be lower-case letters and digits, "
			       "separated by '.', '_', '__' or '-'";
		start += cl + 1;
		if (end && start >= name_end)
			return "the repository path ends with '/'";
	}
	if (name_end == 0)
		return "the repository name is missing";
	return NULL;
}

static const char *image_rule(const char *image)
{
	size_t n = strlen(image), name_end, start;
	const char *at = strchr(image, '@'), *rule;

	if (n == 0)
		return "it is empty";
	if (n > CLUSTER_IMAGE_MAX)
		return "it is longer than 255 characters";
	name_end = at ? (size_t)(at - image) : n;
	if (at && (rule = digest_rule(at + 1)) != NULL)
		return rule;
	if ((rule = tag_rule(image, &name_end)) != NULL)
		return rule;
	if ((rule = registry_rule(image, name_end, &start)) != NULL)
		return rule;
	return path_rule(image, start, name_end);
}

int cluster_check_image(const char *image, char *why, size_t whysz)
{
	const char *rule = image_rule(image);

	if (rule == NULL)
		return 0;
	snprintf(why, whysz, "image \"%.*s\" is not a valid image reference: %s", 80, image, rule);
	return -1;
}
