/*
 * Private keys and certificate chains from PEM, in the shapes BearSSL's
 * engines take (br_rsa_private_key / br_ec_private_key, br_x509_certificate
 * arrays).  The one place that reads a TLS identity: the worker's serving
 * certificate and any client certificate.
 *
 * Keys: RSA or EC, as PKCS#1 ("RSA PRIVATE KEY"), SEC1 ("EC PRIVATE KEY") or
 * PKCS#8 ("PRIVATE KEY"); the first key object in the text is used, other
 * objects (e.g. "EC PARAMETERS", certificates) are skipped.  Encrypted keys
 * are refused.  EC curves: P-256, P-384, P-521.
 *
 * Chains: every "CERTIFICATE" object in order, leaf first, as a server or
 * client sends them.
 *
 * Errors: NULL with a reason in err (err may be NULL); nothing is kept from a
 * text that failed.  Every object owns its bytes and lives until its _free.
 */
#ifndef CPLANE_IO_PEM_KEY_H
#define CPLANE_IO_PEM_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include <bearssl.h>

#include "base/buf.h"

/* Largest file pem_*_load_file reads. */
#define PEM_MAX_FILE (4u << 20)

/*
 * Reads a whole file (at most max bytes) into out (appended).  Returns 0, or
 * -1 with "path: reason" in err.
 */
int pem_read_file(const char *path, size_t max, buf *out, char *err, size_t errsz);

/* ---- private keys ------------------------------------------------------------ */

typedef struct pem_key pem_key;	/* opaque */

pem_key *pem_key_parse(const void *pem, size_t len, char *err, size_t errsz);
/* Reads and parses a file; errors start with the path. */
pem_key *pem_key_load_file(const char *path, char *err, size_t errsz);
void pem_key_free(pem_key *k);	/* wipes the key material; NULL is ignored */

/* BR_KEYTYPE_RSA or BR_KEYTYPE_EC. */
int pem_key_type(const pem_key *k);
/* RSA modulus bits, or the EC curve's size (256, 384, 521). */
unsigned pem_key_bits(const pem_key *k);
/* The key for BearSSL, or NULL when it is of the other type; valid while k lives. */
const br_rsa_private_key *pem_key_rsa(const pem_key *k);
const br_ec_private_key *pem_key_ec(const pem_key *k);

/* ---- certificate chains ---------------------------------------------------------- */

typedef struct pem_chain pem_chain;	/* opaque */

/* At least one certificate, else an error ("no certificate in PEM"). */
pem_chain *pem_chain_parse(const void *pem, size_t len, char *err, size_t errsz);
pem_chain *pem_chain_load_file(const char *path, char *err, size_t errsz);
void pem_chain_free(pem_chain *c);	/* NULL is ignored */

size_t pem_chain_len(const pem_chain *c);
/* The certificates, leaf first (DER); valid while c lives. */
const br_x509_certificate *pem_chain_certs(const pem_chain *c);
/* The leaf's public key type (BR_KEYTYPE_RSA / _EC), and its issuer's signing key type. */
int pem_chain_key_type(const pem_chain *c);
int pem_chain_issuer_key_type(const pem_chain *c);

/*
 * True when k is the private half of the leaf certificate's public key.
 * Otherwise false with a reason in err ("key does not match the
 * certificate", "RSA key but EC certificate").
 */
bool pem_chain_matches_key(const pem_chain *c, const pem_key *k, char *err, size_t errsz);

#endif
