/*
 * TokenReview and SubjectAccessReview answers (src/k8s/review.c) on
 * arbitrary bytes.  A decoded answer keeps within the K8S_REVIEW_MAX_*
 * bounds, its strings are NUL-terminated without inner NULs (they go on into
 * the next review and into log lines), a refusal says why, and a decoded
 * user can be copied and written into the next review's body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/review.h"

static void check_str(const char *s)
{
	if (s == NULL || strlen(s) > K8S_REVIEW_MAX_STRING)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	k8s_token_review t;
	k8s_access_review r;
	k8s_error e;

	if (k8s_token_review_decode(data, size, size % 2 ? "cplane" : "", &t, &e) == 0) {
		const k8s_user_info *u = &t.user;
		k8s_user_info copy;
		k8s_access_attrs a = { "ns", "get", "cplane.dev", "clusters", "x" };

		if (u->ngroups > K8S_REVIEW_MAX_GROUPS || u->nextra > K8S_REVIEW_MAX_EXTRA)
			abort();
		if (!t.authenticated && t.error[0] == '\0')
			abort();
		if (t.authenticated)
			check_str(u->username);
		for (size_t i = 0; i < u->ngroups; i++)
			check_str(u->groups[i]);
		for (size_t i = 0; i < u->nextra; i++) {
			check_str(u->extra[i].key);
			if (u->extra[i].nvalues > K8S_REVIEW_MAX_EXTRA)
				abort();
			for (size_t j = 0; j < u->extra[i].nvalues; j++)
				check_str(u->extra[i].values[j]);
		}
		k8s_user_info_copy(&copy, u);
		{
			size_t need = k8s_access_review_size(&copy, &a);
			uint8_t *body = malloc(need ? need : 1);
			int n = body ? k8s_access_review_write(&copy, &a, body, need) : 0;
			/* Valid UTF-8 in, valid JSON out; strings the JSON parser let through are UTF-8. */
			if (body && n != (int)need)
				abort();
			free(body);
			k8s_user_info_clear(&copy);
		}
	} else if (e.kind == K8S_OK || e.message[0] == '\0') {
		abort();
	}
	k8s_user_info_clear(&t.user);
	if (k8s_access_review_decode(data, size, &r, &e) == 0) {
		if (strlen(r.reason) >= sizeof(r.reason))
			abort();
	} else if (e.kind == K8S_OK) {
		abort();
	}
	return 0;
}
