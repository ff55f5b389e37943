// A C view of simdjson's DOM (simdjson is C++; Swift sees only this header). Parsing and number/string
// decoding are simdjson's; this layer only hands out its elements as plain values.
#ifndef CSIMDJSON_H
#define CSIMDJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A parsed document and the buffers it owns; every value below borrows from it.
typedef struct csj_parser csj_parser;

/// One element of a parsed document (a copy of simdjson::dom::element: document + tape index).
typedef struct {
  const void *document;
  size_t index;
} csj_value;

typedef enum {
  CSJ_ARRAY,
  CSJ_OBJECT,
  CSJ_INT64,
  CSJ_UINT64,
  CSJ_DOUBLE,
  CSJ_STRING,
  CSJ_BOOL,
  CSJ_NULL,
} csj_type;

typedef struct {
  const char *key;
  size_t key_length;
  csj_value value;
} csj_field;

/// Bytes that must be readable (any content) after the end of the input given to csj_parse.
size_t csj_padding(void);

csj_parser *csj_parser_create(void);
void csj_parser_destroy(csj_parser *parser);

/// Parses `length` bytes at `data` (followed by csj_padding() readable bytes). On failure returns false and
/// sets `*error` to simdjson's message (a static string).
bool csj_parse(csj_parser *parser, const uint8_t *data, size_t length, csj_value *root, const char **error);

csj_type csj_type_of(csj_value value);
bool csj_get_bool(csj_value value);
int64_t csj_get_int64(csj_value value);
uint64_t csj_get_uint64(csj_value value);
/// For CSJ_DOUBLE, CSJ_INT64 and CSJ_UINT64 values.
double csj_get_double(csj_value value);
/// UTF-8 (validated by simdjson), not NUL-terminated.
const char *csj_get_string(csj_value value, size_t *length);

/// Copies up to `capacity` elements of an array into `out`; returns how many the array has.
size_t csj_array_elements(csj_value array, csj_value *out, size_t capacity);
/// Copies up to `capacity` fields of an object into `out` in document order; returns how many it has.
size_t csj_object_fields(csj_value object, csj_field *out, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif
