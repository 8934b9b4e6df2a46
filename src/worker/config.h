/* The worker's settings: flags of DESIGN.md "Operations", each also from CPLANE_<FLAG>. */
#ifndef CPLANE_WORKER_CONFIG_H
#define CPLANE_WORKER_CONFIG_H

#include <stdint.h>
#include <stdio.h>

struct worker_config {
	const char *listen;		/* ":50051" */
	const char *metrics_addr;	/* "" = off */
	const char *namespace_;		/* NULL = the service account's */
	const char *image;
	const char *allowed_images;	/* comma-separated prefixes; "" = any */
	const char *node_selector;	/* "k=v" or NULL */
	int64_t create_timeout_ms;
	int64_t delete_timeout_ms;
	int64_t max_replicas;
	int64_t max_recv_msg;
	int64_t shutdown_grace_ms;
	int64_t max_conns;		/* gRPC connections (further capped by RLIMIT_NOFILE) */
	int64_t max_conns_per_peer;	/* 0 = no limit */
	int64_t max_conn_idle_ms;	/* 0 = never */
	const char *log_format;
	const char *log_level;
	const char *apiserver;
	const char *token_file;
	const char *ca_file;
	const char *tls_cert_file;	/* with tls_key_file: gRPC over TLS; NULL/"" = h2c */
	const char *tls_key_file;
	const char *tls_client_ca_file;	/* mTLS: client certificates required */
	int64_t tls_check_interval_ms;	/* how often the TLS files are checked for changes */
	const char *kubeconfig;		/* out of cluster: this file, else $KUBECONFIG, else ~/.kube/config */
	const char *context;		/* kubeconfig context; NULL = current-context */
	const char *auth;		/* "kubernetes" or "none" */
	const char *auth_audience;	/* "" = no audiences in the TokenReview */
	int64_t auth_allow_ttl_ms;	/* review answers kept: allowed / refused */
	int64_t auth_deny_ttl_ms;
};

/* Fills defaults, then env, then argv.  Returns 0, or -1 having printed one line to stderr. */
int worker_config_parse(struct worker_config *cfg, int argc, char **argv);
void worker_config_print_flags(FILE *f);

#endif
