#include "CSimdJSON.h"

#include <simdjson.h>

#include <cstring>
#include <new>
#include <type_traits>

using simdjson::dom::element;

struct csj_parser {
  simdjson::dom::parser parser;
};

static_assert(sizeof(element) == sizeof(csj_value), "csj_value must hold a simdjson::dom::element");
static_assert(std::is_trivially_copyable<element>::value, "simdjson::dom::element must be trivially copyable");

static inline element unwrap(csj_value value) {
  element e;
  std::memcpy(static_cast<void *>(&e), &value, sizeof e);
  return e;
}

static inline csj_value wrap(element e) {
  csj_value value;
  std::memcpy(&value, static_cast<const void *>(&e), sizeof value);
  return value;
}

extern "C" {

size_t csj_padding(void) { return simdjson::SIMDJSON_PADDING; }

csj_parser *csj_parser_create(void) { return new (std::nothrow) csj_parser(); }

void csj_parser_destroy(csj_parser *parser) { delete parser; }

bool csj_parse(csj_parser *parser, const uint8_t *data, size_t length, csj_value *root, const char **error) {
  element document;
  auto code = parser->parser.parse(data, length, false).get(document);
  if (code != simdjson::SUCCESS) {
    *error = simdjson::error_message(code);
    return false;
  }
  *root = wrap(document);
  return true;
}

csj_type csj_type_of(csj_value value) {
  switch (unwrap(value).type()) {
  case simdjson::dom::element_type::ARRAY: return CSJ_ARRAY;
  case simdjson::dom::element_type::OBJECT: return CSJ_OBJECT;
  case simdjson::dom::element_type::INT64: return CSJ_INT64;
  case simdjson::dom::element_type::UINT64: return CSJ_UINT64;
  case simdjson::dom::element_type::DOUBLE: return CSJ_DOUBLE;
  case simdjson::dom::element_type::STRING: return CSJ_STRING;
  case simdjson::dom::element_type::BOOL: return CSJ_BOOL;
  case simdjson::dom::element_type::NULL_VALUE: return CSJ_NULL;
  }
  return CSJ_NULL;
}

bool csj_get_bool(csj_value value) { return unwrap(value).get_bool().value_unsafe(); }

int64_t csj_get_int64(csj_value value) { return unwrap(value).get_int64().value_unsafe(); }

uint64_t csj_get_uint64(csj_value value) { return unwrap(value).get_uint64().value_unsafe(); }

double csj_get_double(csj_value value) {
  double result = 0;
  if (unwrap(value).get_double().get(result) != simdjson::SUCCESS) { return 0; }
  return result;
}

const char *csj_get_string(csj_value value, size_t *length) {
  std::string_view text = unwrap(value).get_string().value_unsafe();
  *length = text.size();
  return text.data();
}

size_t csj_array_elements(csj_value array, csj_value *out, size_t capacity) {
  simdjson::dom::array elements = unwrap(array).get_array().value_unsafe();
  size_t count = 0;
  for (element e : elements) {
    if (count < capacity) { out[count] = wrap(e); }
    count++;
  }
  return count;
}

size_t csj_object_fields(csj_value object, csj_field *out, size_t capacity) {
  simdjson::dom::object fields = unwrap(object).get_object().value_unsafe();
  size_t count = 0;
  for (simdjson::dom::key_value_pair field : fields) {
    if (count < capacity) {
      out[count].key = field.key.data();
      out[count].key_length = field.key.size();
      out[count].value = wrap(field.value);
    }
    count++;
  }
  return count;
}

}  // extern "C"
