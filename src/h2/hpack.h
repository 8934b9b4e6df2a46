/*
 * HPACK (RFC 7541): header compression for HTTP/2.  Sans-I/O.
 *
 * The decoder takes one complete header block (HEADERS + CONTINUATION
 * payloads already joined by the caller) and hands each field to a callback;
 * the encoder appends fields to a caller's buf.  Each keeps its own dynamic
 * table; one decoder and one encoder per HTTP/2 connection.
 *
 * Errors are negative HPACK_ERR_* values; every decoding error is a
 * connection error COMPRESSION_ERROR in HTTP/2 terms except
 * HPACK_ERR_LIST_TOO_LARGE (the caller chooses: 431-style stream refusal or
 * connection error) and HPACK_ERR_CALLBACK (the callback's own failure).
 */
#ifndef CPLANE_H2_HPACK_H
#define CPLANE_H2_HPACK_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

enum hpack_error {
	HPACK_OK = 0,
	HPACK_ERR_TRUNCATED = -1,	/* block ended inside a representation */
	HPACK_ERR_INTEGER = -2,		/* integer overflow / too long */
	HPACK_ERR_INDEX = -3,		/* index 0 or past the tables */
	HPACK_ERR_HUFFMAN = -4,		/* EOS in string, padding > 7 bits or not all ones */
	HPACK_ERR_TABLE_SIZE = -5,	/* size update above our limit, or not at block start */
	HPACK_ERR_LIST_TOO_LARGE = -6,	/* decoded list passed max_list_size (name+value+32 each) */
	HPACK_ERR_NOMEM = -7,
	HPACK_ERR_CALLBACK = -8,
	HPACK_ERR_STRING_TOO_LONG = -9,	/* encoder: a string longer than HPACK can carry (2^32-1) */
};

const char *hpack_strerror(int err);

/* Field flags */
#define HPACK_FIELD_NEVER_INDEXED 0x1u	/* came as / must go as never-indexed literal */
#define HPACK_FIELD_NO_INDEX 0x2u	/* encoder: literal without indexing (not sensitive) */
/* decoder: the decoder ran its value check (hpack_decoder_set_value_check) on
 * these very value bytes when it kept them (a dynamic table entry, a
 * remembered Huffman string) and the check passed; never set without a check */
#define HPACK_FIELD_VALUE_CHECKED 0x4u

/* A predicate over field values (nonzero: acceptable); pure, a function of the bytes only. */
typedef int (*hpack_value_check)(const uint8_t *value, size_t value_len);

/* Per field; name/value valid only during the call.  Return 0 to go on, non-zero to stop (HPACK_ERR_CALLBACK). */
typedef int (*hpack_field_cb)(void *ctx, const uint8_t *name, size_t name_len,
    const uint8_t *value, size_t value_len, unsigned flags);

typedef struct hpack_table {
	/* ring buffer of entries; each entry's bytes live in one allocation */
	struct hpack_entry *entries;
	size_t entries_cap;	/* ring capacity (power of two) */
	size_t head;		/* index of newest entry */
	size_t count;
	size_t size;		/* RFC 7541 size: sum of name+value+32 */
	size_t max_size;	/* current maximum (from size updates / settings) */
	uint64_t changes;	/* inserts, evictions and size changes so far */
} hpack_table;

/*
 * A Huffman string decoded before on this connection: peers send the same
 * never-indexed literal (authorization, a :path sent without indexing) on
 * every request, and decoding it costs ~30 instructions per octet against
 * ~1 to compare.  `data` holds the encoded octets then the decoded ones.
 */
#define HPACK_HUFF_MEMO_SLOTS 4
#define HPACK_HUFF_MEMO_MIN 8		/* encoded octets; shorter ones decode as fast as they compare */
#define HPACK_HUFF_MEMO_MAX 1536	/* bounds the memo at ~16 KiB per decoder (a 1 KB JWT is ~750) */
struct hpack_huff_memo {
	buf data;
	uint32_t enc_len;
	uint32_t dec_len;
	int checked;		/* the value check passed on the decoded octets */
	uint64_t id;		/* names the decoded octets (hpack_decoder_value_id) */
};

typedef struct hpack_decoder {
	hpack_table table;
	size_t settings_max;	/* our SETTINGS_HEADER_TABLE_SIZE: upper bound for size updates */
	buf scratch;		/* decoded strings (Huffman output) */
	int need_update;	/* settings_max fell below the table size: next block must start with an update */
	hpack_value_check value_check;	/* optional */
	struct hpack_huff_memo memo[HPACK_HUFF_MEMO_SLOTS];
	unsigned memo_next;	/* slot the next new string replaces */
	uint64_t value_id;	/* the current field's (hpack_decoder_value_id) */
} hpack_decoder;

typedef struct hpack_encoder {
	hpack_table table;
	size_t pending_min;	/* smallest size the peer's setting went to since last block, or SIZE_MAX */
	size_t pending_final;	/* size to announce at next block start */
	int pending_update;	/* a size update must start the next block */
	size_t limit;		/* largest table we are willing to keep, whatever the peer allows */
	int no_huffman;		/* never Huffman-encode (tests; RFC 7541 C.3/C.5 byte-exactness) */
} hpack_encoder;

/*
 * settings_max: the SETTINGS_HEADER_TABLE_SIZE in force (4096 by default); it
 * is also the table's starting size.  To advertise less than 4096, init with
 * 4096 (the peer may use that much until it has seen our SETTINGS) and call
 * hpack_decoder_set_settings_max() when the peer acknowledges.
 */
int hpack_decoder_init(hpack_decoder *d, size_t settings_max);
void hpack_decoder_free(hpack_decoder *d);
/*
 * The check the callback runs on every value (h2: no NUL/CR/LF, no leading
 * or trailing SP/HTAB).  The decoder runs it once on a value it keeps (a
 * dynamic table entry on insert, a remembered Huffman string) and marks a
 * field HPACK_FIELD_VALUE_CHECKED when its value is those kept bytes and the
 * check passed; the callback may then skip its own.  Values that failed, and
 * literals read from the block, come unmarked.  Set before the first block.
 */
void hpack_decoder_set_value_check(hpack_decoder *d, hpack_value_check check);
/*
 * Inside the callback: an id for the current field's value bytes when they
 * are bytes the decoder keeps (a dynamic table entry, a remembered Huffman
 * string), else 0.  Ids are drawn from one process-wide counter and never
 * reused, so two fields with the same nonzero id, on any connection, have
 * byte-identical values: a consumer may recognise a repeated value (the same
 * token on every call) without reading it.
 */
uint64_t hpack_decoder_value_id(const hpack_decoder *d);
/*
 * Names what decoding a block depends on besides its bytes (the table, the
 * size-update rules): while it is unchanged, the same block decodes to the
 * same fields and the same errors.  A block that left it unchanged (no
 * insert, no size update) may be decoded again by keeping its fields.
 */
uint64_t hpack_decoder_state(const hpack_decoder *d);
/*
 * Our SETTINGS_HEADER_TABLE_SIZE changed (call when the peer acknowledged it).
 * If it fell below the current table size, the peer's next block must start
 * with a size update (RFC 7541 4.2), else that block fails HPACK_ERR_TABLE_SIZE.
 */
void hpack_decoder_set_settings_max(hpack_decoder *d, size_t settings_max);
/*
 * Decodes one whole block.  max_list_size bounds the decoded header list
 * (sum of name + value + 32 per field), enforced while decoding so a small
 * block that would expand past it fails early: no field is handed to cb
 * after the limit is passed and no string is copied for it.  The rest of the
 * block is still decoded (cheaply: bounded by its length) so that the dynamic
 * table stays in sync; HPACK_ERR_LIST_TOO_LARGE thus leaves the decoder
 * usable and the caller may refuse just the stream.  Returns HPACK_OK or an
 * error; after any other error the decoder's state is undefined (the
 * connection must end).
 */
int hpack_decode_block(hpack_decoder *d, const uint8_t *in, size_t len,
    size_t max_list_size, hpack_field_cb cb, void *ctx);

/*
 * max_size: the table size to use initially (4096 per RFC).  The encoder never
 * uses a table larger than max(max_size, 4096) (e->limit), however large the
 * peer's setting.
 */
int hpack_encoder_init(hpack_encoder *e, size_t max_size);
void hpack_encoder_free(hpack_encoder *e);
/* The peer's SETTINGS_HEADER_TABLE_SIZE changed; announced at the next block start (min and final per §4.2). */
void hpack_encoder_set_max_size(hpack_encoder *e, size_t peer_setting);
/*
 * Names what the encoder's output depends on besides the fields (its table,
 * an owed size update): while it is unchanged, the same fields encode to the
 * same bytes, so a caller may keep a block and write it again.
 */
uint64_t hpack_encoder_state(const hpack_encoder *e);
/* Starts a block: emits any pending dynamic table size update into out. */
int hpack_encode_begin(hpack_encoder *e, buf *out);
/*
 * Appends one field.  Indexes (incremental indexing) unless flags say
 * otherwise or the entry would not fit (or is a header known to change on
 * every message: content-length, grpc-timeout, grpc-message,
 * grpc-status-details-bin); uses a static/dynamic table match where one
 * exists; Huffman-encodes a string unless that is longer.  A field with
 * HPACK_FIELD_NEVER_INDEXED always goes as a never-indexed literal.  Returns
 * HPACK_OK, HPACK_ERR_NOMEM (out and the table unchanged) or
 * HPACK_ERR_STRING_TOO_LONG.
 */
int hpack_encode_field(hpack_encoder *e, buf *out, const uint8_t *name, size_t name_len,
    const uint8_t *value, size_t value_len, unsigned flags);

/*
 * Entry i (0 = newest, i.e. RFC index 62) of a decoder's or encoder's dynamic
 * table: 0 and views valid until the table next changes, or -1 past the end.
 */
int hpack_table_entry(const hpack_table *t, size_t i, const uint8_t **name, size_t *name_len,
    const uint8_t **value, size_t *value_len);

/* Exposed for tests and fuzzing: primitive codecs. */
/* Writes v with an N-bit prefix, `first` holding the flag bits above it; returns bytes (<= 6). */
size_t hpack_encode_int(uint8_t *out, uint8_t first, unsigned prefix_bits, uint32_t v);
/* Decodes an integer with an N-bit prefix; returns bytes used (>0), 0 if truncated, or HPACK_ERR_INTEGER. */
int hpack_decode_int(const uint8_t *in, size_t len, unsigned prefix_bits, uint32_t *out);
/*
 * Huffman: returns decoded length >= 0 or HPACK_ERR_HUFFMAN (also when the
 * output would pass outsz); len*8/5+1 bytes are always enough.  out == NULL
 * only validates and counts (outsz is then ignored).
 */
int hpack_huffman_decode(const uint8_t *in, size_t len, uint8_t *out, size_t outsz);
size_t hpack_huffman_encoded_len(const uint8_t *in, size_t len);
/* Writes exactly hpack_huffman_encoded_len(in,len) bytes to out. */
void hpack_huffman_encode(const uint8_t *in, size_t len, uint8_t *out);

#endif
