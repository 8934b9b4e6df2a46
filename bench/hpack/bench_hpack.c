/*
 * HPACK micro-benchmark: steady-state gRPC header blocks through the encoder
 * and decoder, a literal-only block (Huffman decoding on every string), and
 * raw Huffman throughput.  Prints key=value lines.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "h2/hpack.h"

static const char *const req[] = {":method", "POST", ":scheme", "http", ":path",
	"/cplane.v1.Cplane/GetDeployment", ":authority", "127.0.0.1:50051", "content-type",
	"application/grpc", "user-agent", "grpc-go/1.60.1", "te", "trailers", "grpc-timeout", "999968u", NULL};
static const char *const resp[] = {":status", "200", "content-type", "application/grpc",
	"grpc-encoding", "identity", "grpc-accept-encoding", "identity,deflate,gzip", NULL};

static volatile size_t sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_cb(void *ctx, const uint8_t *name, size_t nl, const uint8_t *value, size_t vl,
    unsigned flags)
{
	(void)ctx;
	(void)name;
	(void)value;
	(void)flags;
	sink += nl + vl;
	return 0;
}

static void encode_list(hpack_encoder *e, buf *out, const char *const *l, unsigned flags)
{
	size_t i;

	buf_reset(out);
	hpack_encode_begin(e, out);
	for (i = 0; l[2 * i]; i++)
		hpack_encode_field(e, out, (const uint8_t *)l[2 * i], strlen(l[2 * i]),
		    (const uint8_t *)l[2 * i + 1], strlen(l[2 * i + 1]), flags);
}

int main(void)
{
	enum { N = 2000000 };
	hpack_encoder e;
	hpack_decoder d;
	buf out = BUF_INIT;
	uint8_t blk[512], text[4096], huff[4096], dec[8192];
	size_t blen, i, hl;
	double t;

	hpack_encoder_init(&e, 4096);
	encode_list(&e, &out, resp, 0);
	printf("resp_first_block_bytes=%zu\n", buf_len(&out));
	t = now();
	for (i = 0; i < N; i++)
		encode_list(&e, &out, resp, 0);
	t = now() - t;
	printf("resp_block_bytes=%zu\n", buf_len(&out));
	printf("encode_resp_ns=%.1f\n", t * 1e9 / N);
	hpack_encoder_free(&e);

	/* steady-state request: a client encoder that has seen it before */
	hpack_encoder_init(&e, 4096);
	hpack_decoder_init(&d, 4096);
	encode_list(&e, &out, req, 0);
	printf("req_first_block_bytes=%zu\n", buf_len(&out));
	hpack_decode_block(&d, buf_data(&out), buf_len(&out), 65536, count_cb, NULL);
	encode_list(&e, &out, req, 0);
	printf("req_block_bytes=%zu\n", buf_len(&out));
	blen = buf_len(&out);
	memcpy(blk, buf_data(&out), blen);
	t = now();
	for (i = 0; i < N; i++) {
		/* grpc-timeout is a literal without indexing: the table does not change */
		hpack_decode_block(&d, blk, blen, 65536, count_cb, NULL);
	}
	t = now() - t;
	printf("decode_req_ns=%.1f\n", t * 1e9 / N);

	/* every string a Huffman literal */
	encode_list(&e, &out, req, HPACK_FIELD_NO_INDEX);
	blen = buf_len(&out);
	memcpy(blk, buf_data(&out), blen);
	t = now();
	for (i = 0; i < N / 4; i++)
		hpack_decode_block(&d, blk, blen, 65536, count_cb, NULL);
	t = now() - t;
	printf("decode_req_literals_ns=%.1f\n", t * 1e9 / (N / 4));
	hpack_decoder_free(&d);
	hpack_encoder_free(&e);

	for (i = 0; i < sizeof(text); i++)
		text[i] = (uint8_t)("abcdefghijklmnopqrstuvwxyz0123456789-_./:;=ABCXYZ"[i * 7 % 50]);
	hl = hpack_huffman_encoded_len(text, sizeof(text));
	hpack_huffman_encode(text, sizeof(text), huff);
	t = now();
	for (i = 0; i < 20000; i++)
		sink += (size_t)hpack_huffman_decode(huff, hl, dec, sizeof(dec));
	t = now() - t;
	printf("huffman_decode_mb_s=%.0f\n", 20000.0 * sizeof(text) / t / 1e6);
	t = now();
	for (i = 0; i < 20000; i++) {
		hpack_huffman_encode(text, sizeof(text), huff);
		sink += huff[0];
	}
	t = now() - t;
	printf("huffman_encode_mb_s=%.0f\n", 20000.0 * sizeof(text) / t / 1e6);
	buf_free(&out);
	return 0;
}
