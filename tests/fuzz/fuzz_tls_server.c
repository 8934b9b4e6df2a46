/*
 * The server handshake glue (src/io/tls_server.c) on garbage records.
 * BearSSL parses; this checks that our side of it — the ALPN policy wrapped
 * around BearSSL's, the pair references, the result counters — never
 * crashes or leaks whatever arrives, in whatever pieces.  The first input
 * byte picks the piece size; the rest is what a client sent.
 *
 * The server's certificate and key are made once by openssl in a temporary
 * directory (no private key is committed).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/tls.h"
#include "io/tls_server.h"

static tls_server_config *cfg;
static uint64_t engines;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/cplane-fuzz-tls-XXXXXX", cmd[1024], cert[64], key[64], err[256];
	tls_server_files f;

	(void)argc, (void)argv;
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(cmd, sizeof(cmd), "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout k.pem -out c.pem -days 2 -subj /CN=localhost >/dev/null 2>&1", dir);
	if (system(cmd) != 0)
		abort();
	snprintf(cert, sizeof(cert), "%s/c.pem", dir);
	snprintf(key, sizeof(key), "%s/k.pem", dir);
	memset(&f, 0, sizeof(f));
	f.cert_file = cert;
	f.key_file = key;
	cfg = tls_server_config_new(&f, 0, err, sizeof(err));
	if (cfg == NULL) {
		fprintf(stderr, "fuzz_tls_server: %s\n", err);
		abort();
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tls_server *s;
	size_t piece, before = (size_t)tls_server_config_stats(cfg)->conns_open;

	if (size == 0)
		return 0;
	piece = (size_t)data[0] + 1;
	data++, size--;
	if ((s = tls_server_new(cfg, NULL, 0)) == NULL)
		abort();
	while (size > 0) {
		unsigned st = tls_server_state(s);
		uint8_t *p;
		size_t n;

		if ((p = tls_server_sendrec_buf(s, &n)) != NULL) {
			volatile uint8_t sum = 0;

			for (size_t i = 0; i < n; i++)
				sum ^= p[i];
			(void)sum;
			tls_server_sendrec_ack(s, n);
			continue;
		}
		if (st & TLS_CLOSED)
			break;
		if ((p = tls_server_recvapp_buf(s, &n)) != NULL) {
			tls_server_recvapp_ack(s, n);
			continue;
		}
		if ((p = tls_server_recvrec_buf(s, &n)) == NULL)
			break;
		if (n > piece)
			n = piece;
		if (n > size)
			n = size;
		memcpy(p, data, n);
		tls_server_recvrec_ack(s, n);
		data += n;
		size -= n;
	}
	if (tls_error_string(tls_server_error(s)) == NULL)
		abort();
	(void)tls_server_suite(s);
	(void)tls_server_protocol(s);
	tls_server_free(s);
	/* every engine counted once, whatever its end (a close_notify before any hello is "aborted") */
	{
		const tls_server_stats *st = tls_server_config_stats(cfg);
		uint64_t total = 0;

		for (int r = 0; r < TLS_HS__COUNT; r++)
			total += st->handshakes[r];
		if (st->conns_open != before || total != ++engines)
			abort();
	}
	return 0;
}
