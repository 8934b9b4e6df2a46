/*
 * The driver's TLS to the worker: --tls (env CPLANE_TLS=1), --ca-file
 * (default: the system bundle DRIVER_SYSTEM_CA when it exists), --server-name
 * (default: the target's host, which must then be a DNS name: BearSSL
 * checks names only), --client-cert-file/--client-key-file
 * (mTLS).  Loaded before the loop starts; errors are one line.
 */
#ifndef CPLANE_DRIVER_TLS_OPTS_H
#define CPLANE_DRIVER_TLS_OPTS_H

#include <stddef.h>

#include "io/pem_key.h"
#include "io/tls.h"

#define DRIVER_SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"

struct driver_tls_flags {
	int tls;
	const char *ca_file, *server_name, *client_cert_file, *client_key_file;
};

struct driver_tls {
	tls_anchors *anchors;	/* NULL = h2c */
	pem_chain *chain;	/* client certificate, or NULL */
	pem_key *key;
	char server_name[256];
};

/*
 * Loads what the flags name for target ("host:port").  Without --tls nothing
 * is loaded; --server-name or a client certificate without --tls is an error
 * (--ca-file is not: CPLANE_CA_FILE may be meant for a worker).  0, or -1
 * with a one-line reason in err.
 */
int driver_tls_load(struct driver_tls *t, const struct driver_tls_flags *f, const char *target, char *err,
    size_t errsz);
void driver_tls_free(struct driver_tls *t);

#endif
