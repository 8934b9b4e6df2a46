#include "driver/tls_opts.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io/net.h"

static int given(const char *s) { return s != NULL && s[0] != '\0'; }

int driver_tls_load(struct driver_tls *t, const struct driver_tls_flags *f, const char *target, char *err,
    size_t errsz)
{
	char host[256], port[16], why[384];
	const char *ca = f->ca_file;

	memset(t, 0, sizeof(*t));
	if (!f->tls) {
		/* --ca-file alone is let be: CPLANE_CA_FILE may be the worker's (its API server CA) */
		if (given(f->server_name) || given(f->client_cert_file) || given(f->client_key_file)) {
			snprintf(err, errsz, "--server-name and --client-cert-file/--client-key-file need --tls");
			return -1;
		}
		return 0;
	}
	if (given(f->client_cert_file) != given(f->client_key_file)) {
		snprintf(err, errsz, "--client-cert-file and --client-key-file go together");
		return -1;
	}
	if (!given(ca)) {
		if (access(DRIVER_SYSTEM_CA, R_OK) != 0) {
			snprintf(err, errsz, "--tls: no --ca-file and no system bundle at %s", DRIVER_SYSTEM_CA);
			return -1;
		}
		ca = DRIVER_SYSTEM_CA;
	}
	t->anchors = tls_anchors_new();
	switch (tls_anchors_load_file(t->anchors, ca, why, sizeof(why))) {
	case -1:
		snprintf(err, errsz, "--ca-file: %s", why);
		goto fail;
	case 0:
		snprintf(err, errsz, "--ca-file: %s: no certificate in it", ca);
		goto fail;
	default:
		break;
	}
	if (given(f->server_name)) {
		snprintf(t->server_name, sizeof(t->server_name), "%s", f->server_name);
	} else {
		if (io_split_hostport(target, host, sizeof(host), port, sizeof(port)) < 0 || host[0] == '\0') {
			snprintf(err, errsz, "bad --target %s (want host:port)", target);
			goto fail;
		}
		/* tls_verify_name maps IP literals to the API server's in-cluster name: no use here */
		if (strcmp(tls_verify_name(host), host) != 0) {
			snprintf(err, errsz, "--tls to an IP address (%s) needs --server-name: certificates are checked by "
			    "DNS name", host);
			goto fail;
		}
		snprintf(t->server_name, sizeof(t->server_name), "%s", host);
	}
	if (given(f->client_cert_file)) {
		if ((t->chain = pem_chain_load_file(f->client_cert_file, why, sizeof(why))) == NULL ||
		    (t->key = pem_key_load_file(f->client_key_file, why, sizeof(why))) == NULL) {
			snprintf(err, errsz, "client certificate: %s", why);
			goto fail;
		}
		if (!pem_chain_matches_key(t->chain, t->key, why, sizeof(why))) {
			snprintf(err, errsz, "client certificate: %s and %s: %s", f->client_key_file, f->client_cert_file,
			    why);
			goto fail;
		}
	}
	return 0;
fail:
	driver_tls_free(t);
	return -1;
}

void driver_tls_free(struct driver_tls *t)
{
	tls_anchors_free(t->anchors);
	pem_chain_free(t->chain);
	pem_key_free(t->key);
	memset(t, 0, sizeof(*t));
}
