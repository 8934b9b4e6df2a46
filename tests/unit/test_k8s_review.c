/* src/k8s/review.c: TokenReview / SubjectAccessReview bodies byte for byte, and their answers decoded. */
#include "harness.h"

#include "k8s/review.h"

static void test_token_review_body(void)
{
	uint8_t out[512];
	const char want[] = "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\","
	    "\"spec\":{\"token\":\"abc.def\",\"audiences\":[\"cplane\"]}}";
	const char want_noaud[] = "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\","
	    "\"spec\":{\"token\":\"a\\\"b\\\\c\"}}";
	int n = k8s_token_review_write("abc.def", 7, "cplane", out, sizeof(out));

	CHECK_EQ_MEM(out, n, want, sizeof(want) - 1);
	CHECK_EQ_INT(k8s_token_review_size("abc.def", 7, "cplane"), sizeof(want) - 1);
	n = k8s_token_review_write("a\"b\\c", 5, "", out, sizeof(out));
	CHECK_EQ_MEM(out, n, want_noaud, sizeof(want_noaud) - 1);
	CHECK_EQ_INT(k8s_token_review_write("abc.def", 7, "cplane", out, 20), JSON_ENOSPC);
}

static void test_access_review_body(void)
{
	char *groups[] = { "system:serviceaccounts", "system:authenticated" };
	char *vals[] = { "driver-6f7d" };
	k8s_user_extra extra[] = { { "authentication.kubernetes.io/pod-name", vals, 1 } };
	k8s_user_info u = { "system:serviceaccount:default:cplane-driver", "7b0c", groups, 2, extra, 1 };
	k8s_access_attrs a = { "default", "create", "cplane.dev", "clusters", "web" };
	uint8_t out[1024];
	const char want[] = "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SubjectAccessReview\","
	    "\"spec\":{\"resourceAttributes\":{\"namespace\":\"default\",\"verb\":\"create\",\"group\":\"cplane.dev\","
	    "\"resource\":\"clusters\",\"name\":\"web\"},\"user\":\"system:serviceaccount:default:cplane-driver\","
	    "\"uid\":\"7b0c\",\"groups\":[\"system:serviceaccounts\",\"system:authenticated\"],"
	    "\"extra\":{\"authentication.kubernetes.io/pod-name\":[\"driver-6f7d\"]}}}";
	const char want_list[] = "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SubjectAccessReview\","
	    "\"spec\":{\"resourceAttributes\":{\"namespace\":\"ns\",\"verb\":\"list\",\"group\":\"cplane.dev\","
	    "\"resource\":\"clusters\"},\"user\":\"alice\"}}";
	int n = k8s_access_review_write(&u, &a, out, sizeof(out));

	CHECK_EQ_MEM(out, n, want, sizeof(want) - 1);
	CHECK_EQ_INT(k8s_access_review_size(&u, &a), sizeof(want) - 1);
	k8s_user_info alice = { "alice", NULL, NULL, 0, NULL, 0 };
	k8s_access_attrs l = { "ns", "list", "cplane.dev", "clusters", NULL };
	n = k8s_access_review_write(&alice, &l, out, sizeof(out));
	CHECK_EQ_MEM(out, n, want_list, sizeof(want_list) - 1);
	l.verb = NULL;
	CHECK_EQ_INT(k8s_access_review_write(&alice, &l, out, sizeof(out)), JSON_EUSAGE);
}

/* As a v1.32 API server answers a projected service-account token with audience cplane. */
static const char token_ok[] =
    "{\"kind\":\"TokenReview\",\"apiVersion\":\"authentication.k8s.io/v1\",\"metadata\":{\"creationTimestamp\":null,"
    "\"managedFields\":[{\"manager\":\"x\",\"fieldsV1\":{\"f:spec\":{}}}]},"
    "\"spec\":{\"token\":\"REDACTED\",\"audiences\":[\"cplane\"]},"
    "\"status\":{\"authenticated\":true,\"user\":{\"username\":\"system:serviceaccount:default:cplane-driver\","
    "\"uid\":\"7b0c1d2e\",\"groups\":[\"system:serviceaccounts\",\"system:serviceaccounts:default\","
    "\"system:authenticated\"],\"extra\":{\"authentication.kubernetes.io/credential-id\":[\"JTI=abc\"],"
    "\"authentication.kubernetes.io/pod-name\":[\"driver\"],\"authentication.kubernetes.io/pod-uid\":[\"u1\"]}},"
    "\"audiences\":[\"cplane\"]}}\n";

static void test_token_review_decode(void)
{
	k8s_token_review r;
	k8s_error e;
	k8s_user_info copy;

	CHECK_EQ_INT(k8s_token_review_decode(token_ok, sizeof(token_ok) - 1, "cplane", &r, &e), 0);
	CHECK_EQ_INT(r.authenticated, 1);
	CHECK_EQ_STR(r.user.username, "system:serviceaccount:default:cplane-driver");
	CHECK_EQ_STR(r.user.uid, "7b0c1d2e");
	CHECK_EQ_INT(r.user.ngroups, 3);
	CHECK_EQ_STR(r.user.groups[2], "system:authenticated");
	CHECK_EQ_INT(r.user.nextra, 3);
	CHECK_EQ_STR(r.user.extra[1].key, "authentication.kubernetes.io/pod-name");
	CHECK_EQ_INT(r.user.extra[1].nvalues, 1);
	CHECK_EQ_STR(r.user.extra[1].values[0], "driver");
	k8s_user_info_copy(&copy, &r.user);
	CHECK_EQ_STR(copy.extra[2].values[0], "u1");
	CHECK_EQ_STR(copy.groups[0], "system:serviceaccounts");
	k8s_user_info_clear(&copy);
	k8s_user_info_clear(&r.user);
	CHECK(r.user.username == NULL && r.user.ngroups == 0);

	/* The same answer when another audience was asked for: not for us. */
	CHECK_EQ_INT(k8s_token_review_decode(token_ok, sizeof(token_ok) - 1, "other", &r, &e), 0);
	CHECK_EQ_INT(r.authenticated, 0);
	CHECK_EQ_STR(r.error, "the token is not for audience \"other\"");
	k8s_user_info_clear(&r.user);
	/* No audience asked for: any token the server accepts. */
	CHECK_EQ_INT(k8s_token_review_decode(token_ok, sizeof(token_ok) - 1, "", &r, &e), 0);
	CHECK_EQ_INT(r.authenticated, 1);
	k8s_user_info_clear(&r.user);
}

static void test_token_review_refused(void)
{
	const char no[] = "{\"kind\":\"TokenReview\",\"apiVersion\":\"authentication.k8s.io/v1\",\"metadata\":{},"
	    "\"spec\":{\"token\":\"x\",\"audiences\":[\"cplane\"]},\"status\":{\"user\":{},"
	    "\"error\":\"[invalid bearer token, token audiences [\\\"https://kubernetes.default.svc.cluster.local\\\"] "
	    "is invalid for the target audiences [\\\"cplane\\\"]]\"}}";
	const char bare[] = "{\"status\":{\"authenticated\":false}}";
	const char nouser[] = "{\"status\":{\"authenticated\":true,\"audiences\":[\"cplane\"]}}";
	const char nul[] = "{\"status\":{\"authenticated\":true,\"user\":{\"username\":\"a\\u0000b\"}}}";
	const char many[] = "{\"status\":{\"authenticated\":true,\"user\":{\"username\":\"a\",\"groups\":[";
	k8s_token_review r;
	k8s_error e;

	CHECK_EQ_INT(k8s_token_review_decode(no, sizeof(no) - 1, "cplane", &r, &e), 0);
	CHECK_EQ_INT(r.authenticated, 0);
	CHECK_EQ_STR(r.error, "[invalid bearer token, token audiences [\"https://kubernetes.default.svc.cluster.local\"] "
	    "is invalid for the target audiences [\"cplane\"]]");
	k8s_user_info_clear(&r.user);
	CHECK_EQ_INT(k8s_token_review_decode(bare, sizeof(bare) - 1, NULL, &r, &e), 0);
	CHECK_EQ_STR(r.error, "not authenticated");
	k8s_user_info_clear(&r.user);
	CHECK_EQ_INT(k8s_token_review_decode(nouser, sizeof(nouser) - 1, "cplane", &r, &e), 0);
	CHECK_EQ_INT(r.authenticated, 0);
	k8s_user_info_clear(&r.user);
	CHECK_EQ_INT(k8s_token_review_decode(nul, sizeof(nul) - 1, "", &r, &e), -1);
	CHECK_EQ_INT(e.kind, K8S_ERR_PROTO);
	k8s_user_info_clear(&r.user);
	CHECK_EQ_INT(k8s_token_review_decode("{\"status\":", 10, "", &r, &e), -1);
	CHECK_EQ_INT(e.kind, K8S_ERR_PROTO);
	k8s_user_info_clear(&r.user);
	CHECK_EQ_INT(k8s_token_review_decode("", 0, "", &r, &e), -1);
	k8s_user_info_clear(&r.user);
	/* More groups than kept: refused, not truncated (a partial group list could grant less or more). */
	{
		char *b = malloc(64 * 1024);
		size_t n = 0;
		memcpy(b, many, sizeof(many) - 1);
		n = sizeof(many) - 1;
		for (int i = 0; i <= K8S_REVIEW_MAX_GROUPS; i++)
			n += (size_t)sprintf(b + n, "%s\"g%d\"", i ? "," : "", i);
		n += (size_t)sprintf(b + n, "]}}}");
		CHECK_EQ_INT(k8s_token_review_decode(b, n, "", &r, &e), -1);
		k8s_user_info_clear(&r.user);
		free(b);
	}
}

static void test_access_review_decode(void)
{
	const char yes[] = "{\"kind\":\"SubjectAccessReview\",\"apiVersion\":\"authorization.k8s.io/v1\",\"metadata\":{},"
	    "\"spec\":{\"resourceAttributes\":{\"verb\":\"create\"},\"user\":\"a\"},"
	    "\"status\":{\"allowed\":true,\"reason\":\"RBAC: allowed by RoleBinding \\\"c/default\\\"\"}}";
	const char no[] = "{\"status\":{\"allowed\":false}}";
	const char denied[] = "{\"status\":{\"allowed\":true,\"denied\":true,\"reason\":\"webhook says no\"}}";
	const char everr[] = "{\"status\":{\"allowed\":false,\"evaluationError\":\"role not found\"}}";
	k8s_access_review r;
	k8s_error e;

	CHECK_EQ_INT(k8s_access_review_decode(yes, sizeof(yes) - 1, &r, &e), 0);
	CHECK_EQ_INT(r.allowed, 1);
	CHECK_EQ_STR(r.reason, "RBAC: allowed by RoleBinding \"c/default\"");
	CHECK_EQ_INT(k8s_access_review_decode(no, sizeof(no) - 1, &r, &e), 0);
	CHECK_EQ_INT(r.allowed, 0);
	CHECK_EQ_STR(r.reason, "");
	CHECK_EQ_INT(k8s_access_review_decode(denied, sizeof(denied) - 1, &r, &e), 0);
	CHECK_EQ_INT(r.allowed, 0);
	CHECK_EQ_INT(k8s_access_review_decode(everr, sizeof(everr) - 1, &r, &e), 0);
	CHECK_EQ_STR(r.reason, "role not found");
	CHECK_EQ_INT(k8s_access_review_decode("[1,", 3, &r, &e), -1);
	CHECK_EQ_INT(e.kind, K8S_ERR_PROTO);
	/* Fields deeper than the decoder keeps a path for are skipped, and the rest still read. */
	{
		char b[4096];
		size_t n = (size_t)sprintf(b, "{\"metadata\":{\"k\":{\"%01200d\":{\"x\":[1]}}},\"status\":{\"allowed\":true}}", 0);
		CHECK_EQ_INT(k8s_access_review_decode(b, n, &r, &e), -1);	/* key past the string limit */
		n = (size_t)sprintf(b, "{\"metadata\":{\"%01000d\":{\"%0300d\":{\"x\":[1]},\"y\":2}},"
		    "\"status\":{\"allowed\":true}}", 0, 0);
		CHECK_EQ_INT(k8s_access_review_decode(b, n, &r, &e), 0);
		CHECK_EQ_INT(r.allowed, 1);
	}
}

int main(void)
{
	RUN(test_token_review_body);
	RUN(test_access_review_body);
	RUN(test_token_review_decode);
	RUN(test_token_review_refused);
	RUN(test_access_review_decode);
	return harness_finish();
}
