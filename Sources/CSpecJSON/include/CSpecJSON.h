// config.json and state.json parsed by yajl's event parser (libyajl-dev) into one flat tape; Swift walks the tape
// through this header. yajl is linked from its static archive, so the runtime's start-up maps no JSON library and
// no C++ runtime. Why yajl: its number callback hands over the number's text, so a seccomp argument up to
// UINT64_MAX stays exact (jansson refuses integers above INT64_MAX), and strings come with their length (a NUL
// inside one is seen and refused by name). yajl is unmaintained upstream — Debian carries its security fixes, and
// crun replaced it in 2026 (containers/crun#2088) — so only SpecTape.c knows it.
#ifndef CSPECJSON_H
#define CSPECJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A parsed document: every value below borrows from it until sjt_destroy.
typedef struct sjt_document sjt_document;

/// One value of a document (its index on the tape).
typedef struct {
  const sjt_document *document;
  size_t index;
} sjt_value;

typedef enum {
  SJT_ARRAY,
  SJT_OBJECT,
  SJT_INT64,
  SJT_UINT64,
  SJT_DOUBLE,
  SJT_STRING,
  SJT_BOOL,
  SJT_NULL,
} sjt_type;

typedef struct {
  const char *key;
  size_t key_length;
  sjt_value value;
} sjt_field;

/// Arrays and objects nested deeper than this are refused (a hostile file must not exhaust memory or stack).
#define SJT_MAX_DEPTH 1024

/// Parses `length` bytes of UTF-8 JSON text (one value, no comments, nothing after it). Returns NULL on failure
/// with a message in `error` (NUL-terminated, truncated to `error_capacity`).
sjt_document *sjt_parse(const uint8_t *data, size_t length, char *error, size_t error_capacity);
void sjt_destroy(sjt_document *document);
sjt_value sjt_root(const sjt_document *document);

sjt_type sjt_type_of(sjt_value value);
/// Each getter reads the value as its own type only (sjt_get_int64 of an SJT_INT64, and so on).
bool sjt_get_bool(sjt_value value);
int64_t sjt_get_int64(sjt_value value);
uint64_t sjt_get_uint64(sjt_value value);
double sjt_get_double(sjt_value value);
/// UTF-8 (validated by yajl), not NUL-terminated; may contain NUL bytes (written \u0000 in the file).
const char *sjt_get_string(sjt_value value, size_t *length);

/// How many elements an array, or fields an object, has.
size_t sjt_count(sjt_value container);
/// Copies up to `capacity` elements of an array into `out`; returns how many the array has.
size_t sjt_array_elements(sjt_value array, sjt_value *out, size_t capacity);
/// Copies up to `capacity` fields of an object into `out` in file order (a repeated key appears twice);
/// returns how many it has.
size_t sjt_object_fields(sjt_value object, sjt_field *out, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif
