/*
 * A reader for the YAML that kubectl, kind and minikube write (kubeconfig
 * files), and for JSON documents: sans-I/O, fed bytes in chunks of any
 * size, building a small tree of mappings, sequences and scalars.
 *
 * Accepted: one document (an optional leading "---"); block mappings and
 * block sequences (including a sequence at its parent key's indentation,
 * "- key: value" items, "- - x"); plain, 'single-quoted' and
 * "double-quoted" scalars (\" \\ \/ \n \t \r \b \f \0 \e \xXX \uXXXX
 * \UXXXXXXXX escapes); comments; CRLF or LF line ends; flow collections
 * written as JSON on one line ("preferences: {}", "args: [a, b]"); a whole
 * document in JSON (starting with '{' or '['), over any number of lines.
 *
 * Refused with the line number: tabs in indentation, block scalars (| >),
 * anchors, aliases and tags (& * !), multi-line plain or quoted scalars,
 * complex keys (?), duplicate keys, several documents, bad indentation.
 *
 * Scalars are kept as text ("true", "8080", "" for an empty value); the
 * caller decides what they mean.
 *
 * Errors are sticky: yaml_error() gives "line N: reason" once feed or
 * finish returned -1.
 */
#ifndef CPLANE_YAML_YAML_H
#define CPLANE_YAML_YAML_H

#include <stddef.h>

/* Largest document and longest line yaml_feed accepts. */
#define YAML_MAX_BYTES (4u << 20)

typedef struct yaml_parser yaml_parser;

enum yaml_kind {
	YAML_NONE = 0,		/* no such node */
	YAML_SCALAR = 1,
	YAML_MAP = 2,
	YAML_SEQ = 3,
};

/* A node handle: >= 0, or -1 for none. */
typedef int yaml_node;

/* Never NULL (base/mem.h). */
yaml_parser *yaml_parser_new(void);
void yaml_parser_free(yaml_parser *p);

/* Feeds the next bytes.  Returns 0, or -1 (sticky) with yaml_error() set. */
int yaml_feed(yaml_parser *p, const void *data, size_t len);
/* The input is complete: parses what is left.  Returns 0 (the tree is ready) or -1. */
int yaml_finish(yaml_parser *p);
/* "line N: reason" after a failure, else "". *line (may be NULL) gets N (0 when none). */
const char *yaml_error(const yaml_parser *p, int *line);

/* The tree, valid after yaml_finish() returned 0 and until yaml_parser_free(). */
yaml_node yaml_root(const yaml_parser *p);	/* -1 for an empty document */
enum yaml_kind yaml_kind_of(const yaml_parser *p, yaml_node n);
/* A mapping's value for key, or -1 (also when n is not a mapping). */
yaml_node yaml_get(const yaml_parser *p, yaml_node map, const char *key);
/* Entries of a mapping or items of a sequence; 0 for anything else. */
size_t yaml_len(const yaml_parser *p, yaml_node n);
/* Item i of a sequence, or the value of entry i of a mapping; -1 when out of range. */
yaml_node yaml_at(const yaml_parser *p, yaml_node n, size_t i);
/* Key of entry i of a mapping, or NULL. */
const char *yaml_key_at(const yaml_parser *p, yaml_node map, size_t i);
/* A scalar's text (NUL-terminated; *len may be NULL), or NULL when n is not a scalar. */
const char *yaml_scalar(const yaml_parser *p, yaml_node n, size_t *len);
/* yaml_get + yaml_scalar: the scalar at key, or NULL. */
const char *yaml_get_str(const yaml_parser *p, yaml_node map, const char *key);
/* The input line a node started on (1-based), for messages. */
int yaml_line_of(const yaml_parser *p, yaml_node n);

#endif
