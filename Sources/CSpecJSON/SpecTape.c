#include "CSpecJSON.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#define NONE ((size_t)-1)

typedef struct {
  sjt_type type;
  size_t count;         // children of an array or object
  size_t first;         // first child, or NONE
  size_t next;          // next sibling, or NONE
  size_t key_offset;    // in the text arena, for an object's member
  size_t key_length;
  union {
    int64_t i;
    uint64_t u;
    double d;
    bool b;
    struct {
      size_t offset;
      size_t length;
    } s;
  } v;
} sjt_node;

typedef struct {
  size_t node;
  size_t last;  // last child so far, or NONE
} sjt_open;

struct sjt_document {
  sjt_node *nodes;
  size_t node_count, node_capacity;
  char *text;  // strings and keys, copied: yajl's buffers live only as long as its callback
  size_t text_length, text_capacity;
  sjt_open stack[SJT_MAX_DEPTH];
  size_t depth;
  bool has_key;
  size_t key_offset, key_length;
  const char *failure;  // why a callback stopped the parse
};

static bool grow(void **buffer, size_t *capacity, size_t needed, size_t element) {
  if (needed <= *capacity) { return true; }
  size_t next = *capacity ? *capacity : 64;
  while (next < needed) {
    if (next > ((size_t)-1) / 2 / element) { return false; }
    next *= 2;
  }
  void *bigger = realloc(*buffer, next * element);
  if (!bigger) { return false; }
  *buffer = bigger;
  *capacity = next;
  return true;
}

static bool keep_text(sjt_document *doc, const unsigned char *bytes, size_t length, size_t *offset) {
  if (length > ((size_t)-1) - doc->text_length ||
      !grow((void **)&doc->text, &doc->text_capacity, doc->text_length + length, 1)) {
    doc->failure = "out of memory";
    return false;
  }
  if (length) { memcpy(doc->text + doc->text_length, bytes, length); }
  *offset = doc->text_length;
  doc->text_length += length;
  return true;
}

// Appends a value, links it under the innermost open container, and gives it the pending key.
static sjt_node *add(sjt_document *doc, sjt_type type) {
  if (!grow((void **)&doc->nodes, &doc->node_capacity, doc->node_count + 1, sizeof(sjt_node))) {
    doc->failure = "out of memory";
    return NULL;
  }
  size_t index = doc->node_count++;
  sjt_node *node = &doc->nodes[index];
  memset(node, 0, sizeof *node);
  node->type = type;
  node->first = NONE;
  node->next = NONE;
  if (doc->has_key) {
    node->key_offset = doc->key_offset;
    node->key_length = doc->key_length;
    doc->has_key = false;
  }
  if (doc->depth > 0) {
    sjt_open *open = &doc->stack[doc->depth - 1];
    sjt_node *parent = &doc->nodes[open->node];
    if (open->last == NONE) {
      parent->first = index;
    } else {
      doc->nodes[open->last].next = index;
    }
    open->last = index;
    parent->count++;
  }
  return node;
}

static int on_null(void *ctx) { return add(ctx, SJT_NULL) != NULL; }

static int on_boolean(void *ctx, int value) {
  sjt_node *node = add(ctx, SJT_BOOL);
  if (node) { node->v.b = value != 0; }
  return node != NULL;
}

// yajl hands over the number's text (already checked against JSON's grammar); integers are kept exactly, as
// int64 when they fit and uint64 above that, the rest as double.
static int on_number(void *ctx, const char *text, size_t length) {
  sjt_document *doc = ctx;
  char small[64];
  char *copy = length < sizeof small ? small : malloc(length + 1);
  if (!copy) {
    doc->failure = "out of memory";
    return 0;
  }
  memcpy(copy, text, length);
  copy[length] = 0;
  bool integral = strpbrk(copy, ".eE") == NULL;
  sjt_node *node = NULL;
  if (integral && copy[0] == '-') {
    errno = 0;
    long long value = strtoll(copy, NULL, 10);
    if (errno == 0 && (node = add(doc, SJT_INT64))) { node->v.i = value; }
  } else if (integral) {
    errno = 0;
    unsigned long long value = strtoull(copy, NULL, 10);
    if (errno == 0) {
      node = add(doc, value <= INT64_MAX ? SJT_INT64 : SJT_UINT64);
      if (node) { node->v.u = value; }
    }
  }
  if (!node && !doc->failure) {
    node = add(doc, SJT_DOUBLE);
    if (node) { node->v.d = strtod(copy, NULL); }
  }
  if (copy != small) { free(copy); }
  return node != NULL;
}

static int on_string(void *ctx, const unsigned char *bytes, size_t length) {
  sjt_document *doc = ctx;
  size_t offset;
  if (!keep_text(doc, bytes, length, &offset)) { return 0; }
  sjt_node *node = add(doc, SJT_STRING);
  if (node) {
    node->v.s.offset = offset;
    node->v.s.length = length;
  }
  return node != NULL;
}

static int on_key(void *ctx, const unsigned char *bytes, size_t length) {
  sjt_document *doc = ctx;
  if (!keep_text(doc, bytes, length, &doc->key_offset)) { return 0; }
  doc->key_length = length;
  doc->has_key = true;
  return 1;
}

static int open_container(sjt_document *doc, sjt_type type) {
  if (doc->depth == SJT_MAX_DEPTH) {
    doc->failure = "arrays and objects nested too deep";
    return 0;
  }
  if (!add(doc, type)) { return 0; }
  doc->stack[doc->depth].node = doc->node_count - 1;
  doc->stack[doc->depth].last = NONE;
  doc->depth++;
  return 1;
}

static int on_start_map(void *ctx) { return open_container(ctx, SJT_OBJECT); }
static int on_start_array(void *ctx) { return open_container(ctx, SJT_ARRAY); }

static int on_end(void *ctx) {
  sjt_document *doc = ctx;
  doc->depth--;
  return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

void sjt_destroy(sjt_document *doc) {
  if (!doc) { return; }
  free(doc->nodes);
  free(doc->text);
  free(doc);
}

sjt_document *sjt_parse(const uint8_t *data, size_t length, char *error, size_t error_capacity) {
  sjt_document *doc = calloc(1, sizeof *doc);
  if (!doc) {
    snprintf(error, error_capacity, "out of memory");
    return NULL;
  }
  yajl_handle parser = yajl_alloc(&callbacks, NULL, doc);
  if (!parser) {
    sjt_destroy(doc);
    snprintf(error, error_capacity, "out of memory");
    return NULL;
  }
  // One value, strings checked as UTF-8, no comments or trailing text (yajl's defaults, stated).
  yajl_config(parser, yajl_allow_comments, 0);
  yajl_config(parser, yajl_dont_validate_strings, 0);
  yajl_status status = yajl_parse(parser, data, length);
  if (status == yajl_status_ok) { status = yajl_complete_parse(parser); }
  if (status == yajl_status_ok && doc->node_count == 0) {
    snprintf(error, error_capacity, "no value");
    status = yajl_status_error;
  } else if (status == yajl_status_client_canceled) {
    snprintf(error, error_capacity, "%s", doc->failure ? doc->failure : "parse stopped");
  } else if (status != yajl_status_ok) {
    unsigned char *message = yajl_get_error(parser, 0, data, length);
    snprintf(error, error_capacity, "%s", message ? (const char *)message : "parse error");
    // yajl's message ends in a newline.
    size_t end = strlen(error);
    while (end > 0 && (error[end - 1] == '\n' || error[end - 1] == ' ')) { error[--end] = 0; }
    if (message) { yajl_free_error(parser, message); }
  }
  yajl_free(parser);
  if (status != yajl_status_ok) {
    sjt_destroy(doc);
    return NULL;
  }
  return doc;
}

static inline const sjt_node *node_of(sjt_value value) { return &value.document->nodes[value.index]; }

sjt_value sjt_root(const sjt_document *document) { return (sjt_value){document, 0}; }
sjt_type sjt_type_of(sjt_value value) { return node_of(value)->type; }
bool sjt_get_bool(sjt_value value) { return node_of(value)->v.b; }
int64_t sjt_get_int64(sjt_value value) { return node_of(value)->v.i; }
uint64_t sjt_get_uint64(sjt_value value) { return node_of(value)->v.u; }

double sjt_get_double(sjt_value value) { return node_of(value)->v.d; }

const char *sjt_get_string(sjt_value value, size_t *length) {
  const sjt_node *node = node_of(value);
  *length = node->v.s.length;
  return value.document->text + node->v.s.offset;
}

size_t sjt_count(sjt_value container) { return node_of(container)->count; }

size_t sjt_array_elements(sjt_value array, sjt_value *out, size_t capacity) {
  const sjt_node *node = node_of(array);
  size_t count = 0;
  for (size_t child = node->first; child != NONE && count < capacity; child = array.document->nodes[child].next) {
    out[count++] = (sjt_value){array.document, child};
  }
  return node->count;
}

size_t sjt_object_fields(sjt_value object, sjt_field *out, size_t capacity) {
  const sjt_node *node = node_of(object);
  size_t count = 0;
  for (size_t child = node->first; child != NONE && count < capacity; child = object.document->nodes[child].next) {
    const sjt_node *member = &object.document->nodes[child];
    out[count].key = object.document->text + member->key_offset;
    out[count].key_length = member->key_length;
    out[count].value = (sjt_value){object.document, child};
    count++;
  }
  return node->count;
}
