/*
 * Implementation notes.
 *
 * The FileDescriptorSet is read with a small protobuf wire walker rather
 * than protobuf-c's descriptor.proto bindings: we need five fields of it
 * (names, package, imports, the declarations' names), and the bindings
 * would add descriptor.proto's whole generated code to the binary.  File
 * answers are slices of the embedded set itself, sent as they are.
 *
 * The index is built once: files in set order, symbols sorted by name for
 * a binary search, services sorted for list_services.  Requests are parsed
 * with protobuf-c (grpc.reflection.v1 bindings; v1alpha is wire-identical).
 */
#include "grpc/reflection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/reflection/v1/reflection.pb-c.h"
#include "base/mem.h"

/* Nested message depth we index; deeper declarations are refused as malformed. */
#define MAX_NESTING 32

struct refl_file {
	const uint8_t *bytes;
	size_t len;
	char *name;
	char *package;
	size_t *deps;		/* indexes into files */
	size_t ndeps;
};

struct refl_symbol {
	char *name;
	size_t file;
	int is_message;
};

struct grpc_reflection {
	struct refl_file *files;
	size_t nfiles;
	struct refl_symbol *syms;
	size_t nsyms, syms_cap;
	char **services;
	size_t nservices, services_cap;
};

/* ---- protobuf wire walking ---------------------------------------------------- */

typedef struct pb_walk {
	const uint8_t *p, *end;
} pb_walk;

static int read_varint(pb_walk *w, uint64_t *v)
{
	uint64_t x = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		uint8_t b;
		if (w->p == w->end)
			return -1;
		b = *w->p++;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

/*
 * Next field: 1 with *field set and, for length-delimited fields, *val and *vlen
 * set (else *val NULL); 0 at the end; -1 malformed.
 */
static int next_field(pb_walk *w, uint32_t *field, const uint8_t **val, size_t *vlen)
{
	uint64_t key, n;

	if (w->p == w->end)
		return 0;
	if (read_varint(w, &key) < 0 || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
		return -1;
	*field = (uint32_t)(key >> 3);
	*val = NULL;
	*vlen = 0;
	switch (key & 7) {
	case 0:
		return read_varint(w, &n) < 0 ? -1 : 1;
	case 1:
		if (w->end - w->p < 8)
			return -1;
		w->p += 8;
		return 1;
	case 5:
		if (w->end - w->p < 4)
			return -1;
		w->p += 4;
		return 1;
	case 2:
		if (read_varint(w, &n) < 0 || n > (uint64_t)(w->end - w->p))
			return -1;
		*val = w->p;
		*vlen = (size_t)n;
		w->p += n;
		return 1;
	default:
		return -1;	/* groups: not in descriptors protoc writes */
	}
}

/* ---- building the index ------------------------------------------------------- */

static char *join_name(const char *prefix, const uint8_t *name, size_t len)
{
	size_t pl = prefix && *prefix ? strlen(prefix) : 0;
	char *s = xmalloc(pl + 1 + len + 1);

	if (pl) {
		memcpy(s, prefix, pl);
		s[pl++] = '.';
	}
	memcpy(s + pl, name, len);
	s[pl + len] = '\0';
	return s;
}

static char *dup_bytes(const uint8_t *p, size_t len)
{
	return join_name(NULL, p, len);
}

/* Takes ownership of name. */
static void add_symbol(grpc_reflection *r, char *name, size_t file, int is_message)
{
	if (r->nsyms == r->syms_cap) {
		r->syms_cap = r->syms_cap ? r->syms_cap * 2 : 64;
		r->syms = xrealloc(r->syms, r->syms_cap * sizeof(*r->syms));
	}
	r->syms[r->nsyms].name = name;
	r->syms[r->nsyms].file = file;
	r->syms[r->nsyms].is_message = is_message;
	r->nsyms++;
}

/* The name (field 1) of a declaration; -1 when absent or malformed. */
static int decl_name(const uint8_t *p, size_t len, const uint8_t **name, size_t *nlen)
{
	pb_walk w = {p, p + len};
	const uint8_t *v;
	size_t vl;
	uint32_t f;
	int rc;

	*name = NULL;
	while ((rc = next_field(&w, &f, &v, &vl)) > 0)
		if (f == 1 && v) {
			*name = v;
			*nlen = vl;
		}
	return rc < 0 || *name == NULL || *nlen == 0 ? -1 : 0;
}

static int index_enum(grpc_reflection *r, const char *scope, const uint8_t *p, size_t len, size_t file)
{
	const uint8_t *name;
	size_t nlen;

	if (decl_name(p, len, &name, &nlen) < 0)
		return -1;
	add_symbol(r, join_name(scope, name, nlen), file, 0);
	return 0;
}

/* A DescriptorProto: itself, nested_type (3) and enum_type (4). */
static int index_message(grpc_reflection *r, const char *scope, const uint8_t *p, size_t len,
    size_t file, int depth)
{
	pb_walk w = {p, p + len};
	const uint8_t *name, *v;
	size_t nlen, vl;
	uint32_t f;
	char *full;
	int rc;

	if (depth > MAX_NESTING || decl_name(p, len, &name, &nlen) < 0)
		return -1;
	full = join_name(scope, name, nlen);
	add_symbol(r, full, file, 1);
	while ((rc = next_field(&w, &f, &v, &vl)) > 0) {
		if (f == 3 && v && index_message(r, full, v, vl, file, depth + 1) < 0)
			return -1;
		if (f == 4 && v && index_enum(r, full, v, vl, file) < 0)
			return -1;
	}
	return rc;
}

/* A ServiceDescriptorProto: itself (listed) and its methods (2). */
static int index_service(grpc_reflection *r, const char *scope, const uint8_t *p, size_t len, size_t file)
{
	pb_walk w = {p, p + len};
	const uint8_t *name, *v;
	size_t nlen, vl;
	uint32_t f;
	char *full;
	int rc;

	if (decl_name(p, len, &name, &nlen) < 0)
		return -1;
	full = join_name(scope, name, nlen);
	add_symbol(r, full, file, 0);
	if (r->nservices == r->services_cap) {
		r->services_cap = r->services_cap ? r->services_cap * 2 : 8;
		r->services = xrealloc(r->services, r->services_cap * sizeof(*r->services));
	}
	r->services[r->nservices++] = xstrdup(full);
	while ((rc = next_field(&w, &f, &v, &vl)) > 0) {
		const uint8_t *mname;
		size_t mlen;
		if (f != 2 || v == NULL)
			continue;
		if (decl_name(v, vl, &mname, &mlen) < 0)
			return -1;
		add_symbol(r, join_name(full, mname, mlen), file, 0);
	}
	return rc;
}

/* A FileDescriptorProto: name (1), package (2), dependency (3), declarations (4, 5, 6). */
static int index_file(grpc_reflection *r, size_t fi, char *err, size_t errsz)
{
	struct refl_file *fl = &r->files[fi];
	pb_walk w = {fl->bytes, fl->bytes + fl->len};
	const uint8_t *v;
	size_t vl;
	uint32_t f;
	int rc;

	while ((rc = next_field(&w, &f, &v, &vl)) > 0) {
		if (v == NULL)
			continue;
		if (f == 1 && fl->name == NULL)
			fl->name = dup_bytes(v, vl);
		if (f == 2 && fl->package == NULL)
			fl->package = dup_bytes(v, vl);
	}
	if (rc < 0 || fl->name == NULL || fl->name[0] == '\0') {
		snprintf(err, errsz, "file %zu of the descriptor set is malformed or has no name", fi);
		return -1;
	}
	w.p = fl->bytes;
	while ((rc = next_field(&w, &f, &v, &vl)) > 0) {
		if (v == NULL)
			continue;
		if ((f == 4 && index_message(r, fl->package, v, vl, fi, 0) < 0) ||
		    (f == 5 && index_enum(r, fl->package, v, vl, fi) < 0) ||
		    (f == 6 && index_service(r, fl->package, v, vl, fi) < 0)) {
			snprintf(err, errsz, "%s: malformed declaration", fl->name);
			return -1;
		}
	}
	return 0;
}

static long find_file(const grpc_reflection *r, const char *name, size_t len)
{
	for (size_t i = 0; i < r->nfiles; i++)
		if (strlen(r->files[i].name) == len && memcmp(r->files[i].name, name, len) == 0)
			return (long)i;
	return -1;
}

static int link_deps(grpc_reflection *r, size_t fi, char *err, size_t errsz)
{
	struct refl_file *fl = &r->files[fi];
	pb_walk w = {fl->bytes, fl->bytes + fl->len};
	const uint8_t *v;
	size_t vl, n = 0;
	uint32_t f;

	while (next_field(&w, &f, &v, &vl) > 0)
		n += f == 3 && v;
	if (n == 0)
		return 0;
	fl->deps = xcalloc(n, sizeof(*fl->deps));
	w.p = fl->bytes;
	while (next_field(&w, &f, &v, &vl) > 0) {
		long d;
		if (f != 3 || v == NULL)
			continue;
		if ((d = find_file(r, (const char *)v, vl)) < 0) {
			snprintf(err, errsz, "%s imports \"%.*s\", which is not in the descriptor set",
			    fl->name, (int)(vl > 200 ? 200 : vl), (const char *)v);
			return -1;
		}
		fl->deps[fl->ndeps++] = (size_t)d;
	}
	return 0;
}

static int cmp_symbol(const void *a, const void *b)
{
	return strcmp(((const struct refl_symbol *)a)->name, ((const struct refl_symbol *)b)->name);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

grpc_reflection *grpc_reflection_new(const uint8_t *set, size_t len, char *err, size_t errsz)
{
	grpc_reflection *r = xcalloc(1, sizeof(*r));
	pb_walk w = {set, set + len};
	const uint8_t *v;
	size_t vl, n = 0, i;
	uint32_t f;
	int rc;

	while ((rc = next_field(&w, &f, &v, &vl)) > 0)
		n += f == 1 && v;
	if (rc < 0) {
		snprintf(err, errsz, "the descriptor set is malformed");
		goto fail;
	}
	if (n)
		r->files = xcalloc(n, sizeof(*r->files));
	w.p = set;
	while (next_field(&w, &f, &v, &vl) > 0) {
		if (f == 1 && v) {
			r->files[r->nfiles].bytes = v;
			r->files[r->nfiles].len = vl;
			r->nfiles++;
		}
	}
	for (i = 0; i < r->nfiles; i++)
		if (index_file(r, i, err, errsz) < 0)
			goto fail;
	for (i = 0; i < r->nfiles; i++) {
		if (find_file(r, r->files[i].name, strlen(r->files[i].name)) != (long)i) {
			snprintf(err, errsz, "%s appears twice in the descriptor set", r->files[i].name);
			goto fail;
		}
		if (link_deps(r, i, err, errsz) < 0)
			goto fail;
	}
	if (r->nsyms)
		qsort(r->syms, r->nsyms, sizeof(*r->syms), cmp_symbol);
	for (i = 1; i < r->nsyms; i++) {
		if (strcmp(r->syms[i - 1].name, r->syms[i].name) == 0) {
			snprintf(err, errsz, "symbol %s is declared twice", r->syms[i].name);
			goto fail;
		}
	}
	if (r->nservices)
		qsort(r->services, r->nservices, sizeof(*r->services), cmp_str);
	return r;
fail:
	grpc_reflection_free(r);
	return NULL;
}

void grpc_reflection_free(grpc_reflection *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nfiles; i++) {
		free(r->files[i].name);
		free(r->files[i].package);
		free(r->files[i].deps);
	}
	for (size_t i = 0; i < r->nsyms; i++)
		free(r->syms[i].name);
	for (size_t i = 0; i < r->nservices; i++)
		free(r->services[i]);
	free(r->files);
	free(r->syms);
	free(r->services);
	free(r);
}

static const struct refl_symbol *find_symbol(const grpc_reflection *r, const char *name)
{
	struct refl_symbol key;
	const struct refl_symbol *s;

	if (r->nsyms == 0)
		return NULL;
	key.name = (char *)name;
	s = bsearch(&key, r->syms, r->nsyms, sizeof(*r->syms), cmp_symbol);
	if (s == NULL && name[0] == '.') {	/* the fully-qualified form some clients send */
		key.name = (char *)name + 1;
		s = bsearch(&key, r->syms, r->nsyms, sizeof(*r->syms), cmp_symbol);
	}
	return s;
}

size_t grpc_reflection_service_count(const grpc_reflection *r)
{
	return r->nservices;
}

const char *grpc_reflection_service_name(const grpc_reflection *r, size_t i)
{
	return i < r->nservices ? r->services[i] : NULL;
}

size_t grpc_reflection_symbol_count(const grpc_reflection *r)
{
	return r->nsyms;
}

const char *grpc_reflection_file_of(const grpc_reflection *r, const char *symbol)
{
	const struct refl_symbol *s = find_symbol(r, symbol);

	return s ? r->files[s->file].name : NULL;
}

/* ---- answering ---------------------------------------------------------------- */

typedef Grpc__Reflection__V1__ServerReflectionRequest refl_req;
typedef Grpc__Reflection__V1__ServerReflectionResponse refl_resp;

/* The file then its imports, depth first, each once; order[] holds nfiles entries. */
static size_t collect_files(const grpc_reflection *r, size_t fi, uint8_t *seen, size_t *order, size_t n)
{
	if (seen[fi])
		return n;
	seen[fi] = 1;
	order[n++] = fi;
	for (size_t i = 0; i < r->files[fi].ndeps; i++)
		n = collect_files(r, r->files[fi].deps[i], seen, order, n);
	return n;
}

static int pack_resp(const refl_resp *resp, buf *out)
{
	size_t len = protobuf_c_message_get_packed_size(&resp->base);

	if (buf_reserve(out, len) < 0)
		return GRPC_ERR_NOMEM;
	protobuf_c_message_pack(&resp->base, buf_tail(out));
	buf_commit(out, len);
	return 0;
}

static int answer_error(refl_resp *resp, int code, const char *msg, buf *out)
{
	Grpc__Reflection__V1__ErrorResponse e = GRPC__REFLECTION__V1__ERROR_RESPONSE__INIT;

	e.error_code = code;
	e.error_message = (char *)msg;
	resp->message_response_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
	resp->error_response = &e;
	return pack_resp(resp, out);
}

static int answer_files(const grpc_reflection *r, refl_resp *resp, size_t fi, buf *out)
{
	Grpc__Reflection__V1__FileDescriptorResponse fd = GRPC__REFLECTION__V1__FILE_DESCRIPTOR_RESPONSE__INIT;
	uint8_t *seen = xcalloc(r->nfiles, 1);
	size_t *order = xcalloc(r->nfiles, sizeof(*order));
	ProtobufCBinaryData *blobs = xcalloc(r->nfiles, sizeof(*blobs));
	size_t n;
	int rc;

	n = collect_files(r, fi, seen, order, 0);
	for (size_t i = 0; i < n; i++) {
		blobs[i].data = (uint8_t *)r->files[order[i]].bytes;
		blobs[i].len = r->files[order[i]].len;
	}
	fd.n_file_descriptor_proto = n;
	fd.file_descriptor_proto = blobs;
	resp->message_response_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
	resp->file_descriptor_response = &fd;
	rc = pack_resp(resp, out);
	free(seen);
	free(order);
	free(blobs);
	return rc;
}

static int answer_services(const grpc_reflection *r, refl_resp *resp, buf *out)
{
	Grpc__Reflection__V1__ListServiceResponse ls = GRPC__REFLECTION__V1__LIST_SERVICE_RESPONSE__INIT;
	Grpc__Reflection__V1__ServiceResponse *items = xcalloc(r->nservices + 1, sizeof(*items));
	Grpc__Reflection__V1__ServiceResponse **ptrs = xcalloc(r->nservices + 1, sizeof(*ptrs));
	int rc;

	for (size_t i = 0; i < r->nservices; i++) {
		grpc__reflection__v1__service_response__init(&items[i]);
		items[i].name = r->services[i];
		ptrs[i] = &items[i];
	}
	ls.n_service = r->nservices;
	ls.service = ptrs;
	resp->message_response_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
	resp->list_services_response = &ls;
	rc = pack_resp(resp, out);
	free(items);
	free(ptrs);
	return rc;
}

/* A request is the peer's to size: protobuf-c unpacks it through the checked allocator. */
static void *pb_try_alloc(void *data, size_t size)
{
	(void)data;
	return mem_try_alloc(size);
}

static void pb_free(void *data, void *p)
{
	(void)data;
	free(p);
}

static ProtobufCAllocator pb_checked = {pb_try_alloc, pb_free, NULL};

int grpc_reflection_answer(const grpc_reflection *r, const uint8_t *req_bytes, size_t len, buf *out)
{
	refl_resp resp = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__INIT;
	refl_req *req = grpc__reflection__v1__server_reflection_request__unpack(&pb_checked, len, req_bytes);
	const struct refl_symbol *sym;
	char msg[320];
	size_t nunknown;
	long fi;
	int rc;

	if (req == NULL)
		return answer_error(&resp, GRPC_INVALID_ARGUMENT, "cannot parse the ServerReflectionRequest", out);
	resp.valid_host = req->host;
	resp.original_request = req;
	/* Echoed without the fields we did not understand (protobuf-c would repack them as they came, tag 0 included). */
	nunknown = req->base.n_unknown_fields;
	req->base.n_unknown_fields = 0;
	switch (req->message_request_case) {
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
		rc = answer_services(r, &resp, out);
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
		fi = find_file(r, req->file_by_filename, strlen(req->file_by_filename));
		if (fi >= 0) {
			rc = answer_files(r, &resp, (size_t)fi, out);
			break;
		}
		snprintf(msg, sizeof(msg), "file not found: %.256s", req->file_by_filename);
		rc = answer_error(&resp, GRPC_NOT_FOUND, msg, out);
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
		sym = find_symbol(r, req->file_containing_symbol);
		if (sym) {
			rc = answer_files(r, &resp, sym->file, out);
			break;
		}
		snprintf(msg, sizeof(msg), "symbol not found: %.256s", req->file_containing_symbol);
		rc = answer_error(&resp, GRPC_NOT_FOUND, msg, out);
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION:
		snprintf(msg, sizeof(msg), "extension not found: %.256s(%d)",
		    req->file_containing_extension->containing_type ? req->file_containing_extension->containing_type : "",
		    req->file_containing_extension->extension_number);
		rc = answer_error(&resp, GRPC_NOT_FOUND, msg, out);
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
		sym = find_symbol(r, req->all_extension_numbers_of_type);
		if (sym && sym->is_message) {
			Grpc__Reflection__V1__ExtensionNumberResponse en =
			    GRPC__REFLECTION__V1__EXTENSION_NUMBER_RESPONSE__INIT;
			en.base_type_name = sym->name;
			resp.message_response_case =
			    GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE;
			resp.all_extension_numbers_response = &en;
			rc = pack_resp(&resp, out);
			break;
		}
		snprintf(msg, sizeof(msg), "type not found: %.256s", req->all_extension_numbers_of_type);
		rc = answer_error(&resp, GRPC_NOT_FOUND, msg, out);
		break;
	default:
		rc = answer_error(&resp, GRPC_UNIMPLEMENTED, "unknown or empty reflection request", out);
		break;
	}
	req->base.n_unknown_fields = nunknown;
	grpc__reflection__v1__server_reflection_request__free_unpacked(req, &pb_checked);
	return rc;
}

/* ---- the stream ---------------------------------------------------------------- */

static void stream_cancelled(grpc_call *c, void *arg)
{
	(void)arg;
	grpc_call_finish(c, GRPC_CANCELLED, NULL);
}

static void stream_start(grpc_call *c, void *arg)
{
	(void)arg;
	grpc_call_set_cancel_hook(c, stream_cancelled, NULL);
}

static void stream_msg(grpc_call *c, const uint8_t *msg, size_t len, void *arg)
{
	const grpc_reflection *r = arg;
	buf out = BUF_INIT;

	if (msg == NULL) {
		grpc_call_finish(c, GRPC_OK, NULL);
		return;
	}
	if (grpc_reflection_answer(r, msg, len, &out) < 0) {
		grpc_call_finish(c, GRPC_RESOURCE_EXHAUSTED, "out of memory");
	} else if (grpc_call_send_bytes(c, buf_data(&out), buf_len(&out)) == GRPC_ERR_NOMEM) {
		grpc_call_finish(c, GRPC_RESOURCE_EXHAUSTED, "cannot send the response");
	}
	buf_free(&out);
}

int grpc_reflection_register(grpc_reflection *r, grpc_server *s)
{
	int rc = grpc_server_add_bidi_method(s, GRPC_REFLECTION_V1_PATH, stream_start, stream_msg, r);

	if (rc == 0)
		rc = grpc_server_add_bidi_method(s, GRPC_REFLECTION_V1ALPHA_PATH, stream_start, stream_msg, r);
	return rc;
}
