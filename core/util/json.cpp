#include "core/util/json.hpp"

#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/util/encoding.hpp"

namespace weights::json {
namespace {

// Forward iterator over the input that publishes how many bytes the lexer has consumed, so SAX
// callbacks (which nlohmann gives no position) can report byte offsets for duplicate keys and
// depth violations. nlohmann copies the iterator into its input adapter, hence the shared counter.
class CountingIterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  CountingIterator() = default;
  CountingIterator(const char* p, std::size_t* consumed) : p_(p), consumed_(consumed) {}
  reference operator*() const { return *p_; }
  CountingIterator& operator++() {
    ++p_;
    if (consumed_ != nullptr) ++*consumed_;
    return *this;
  }
  CountingIterator operator++(int) {
    CountingIterator old = *this;
    ++*this;
    return old;
  }
  friend bool operator==(const CountingIterator& a, const CountingIterator& b) {
    return a.p_ == b.p_;
  }

 private:
  const char* p_ = nullptr;
  std::size_t* consumed_ = nullptr;
};

// Builds the DOM like nlohmann's json_sax_dom_parser, plus duplicate-key and depth checks.
// Every callback returns false to abort on the first problem; the reason is kept in error_.
class StrictSax {
 public:
  StrictSax(std::size_t max_depth, const std::size_t* consumed)
      : max_depth_(max_depth), consumed_(consumed) {}

  bool null() { return put(Json(nullptr)); }
  bool boolean(bool v) { return put(Json(v)); }
  bool number_integer(Json::number_integer_t v) {
    // The lexer only reports number_integer for text starting with '-'. "-0" would otherwise
    // read as the integer 0 and slip through get_uint; keep it as the float -0.0 it denotes
    // in every other JSON implementation so integer fields reject it.
    if (v == 0) return put(Json(-0.0));
    return put(Json(v));
  }
  bool number_unsigned(Json::number_unsigned_t v) { return put(Json(v)); }
  bool number_float(Json::number_float_t v, const Json::string_t& /*text*/) { return put(Json(v)); }
  bool string(Json::string_t& v) { return put(Json(std::move(v))); }
  bool binary(Json::binary_t& /*v*/) {
    // Unreachable for text JSON; refuse rather than build a value we never expect.
    return abort(Errc::internal, "unexpected binary value");
  }

  bool start_object(std::size_t /*size*/) {
    if (!enter()) return false;
    Json* obj = put_container(Json::object());
    stack_.push_back(obj);
    return true;
  }
  bool key(Json::string_t& k) {
    Json& obj = *stack_.back();
    auto [it, inserted] = obj.get_ref<Json::object_t&>().try_emplace(std::move(k));
    if (!inserted) {
      return abort(Errc::parse_error, fmt::format("duplicate object key \"{}\" at byte {}",
                                                  printable_excerpt(it->first), *consumed_));
    }
    element_ = &it->second;
    return true;
  }
  bool end_object() {
    stack_.pop_back();
    --depth_;
    return true;
  }
  bool start_array(std::size_t /*size*/) {
    if (!enter()) return false;
    Json* arr = put_container(Json::array());
    stack_.push_back(arr);
    return true;
  }
  bool end_array() {
    stack_.pop_back();
    --depth_;
    return true;
  }

  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& ex) {
    // nlohmann's message starts with "[json.exception.parse_error.101] parse error at line 1,
    // column 3: " and may quote raw input; keep only the reason, made printable.
    std::string_view what = ex.what();
    if (auto colon = what.find(": "); colon != std::string_view::npos) {
      what.remove_prefix(colon + 2);
    }
    return abort(Errc::parse_error, fmt::format("invalid JSON at byte {}: {}", position,
                                                printable_excerpt(what, 160)));
  }

  Json take_root() { return std::move(root_); }
  const Error& error() const { return error_; }
  bool failed() const { return failed_; }

 private:
  bool enter() {
    if (depth_ >= max_depth_) {
      return abort(Errc::too_large, fmt::format("JSON nested deeper than {} levels at byte {}",
                                                max_depth_, *consumed_));
    }
    ++depth_;
    return true;
  }

  // Places a scalar in the current container (or as the root).
  bool put(Json&& v) {
    place(std::move(v));
    return true;
  }

  Json* put_container(Json&& v) { return place(std::move(v)); }

  // Pointers stay valid: a parent array only grows after its open child is closed, and map
  // nodes never move.
  Json* place(Json&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Json& top = *stack_.back();
    if (top.is_array()) {
      auto& arr = top.get_ref<Json::array_t&>();
      arr.push_back(std::move(v));
      return &arr.back();
    }
    *element_ = std::move(v);
    return element_;
  }

  bool abort(Errc code, std::string message) {
    if (!failed_) {
      failed_ = true;
      error_ = Error{code, std::move(message), {}};
    }
    return false;
  }

  std::size_t max_depth_;
  const std::size_t* consumed_;
  std::size_t depth_ = 0;
  Json root_;
  std::vector<Json*> stack_;
  Json* element_ = nullptr;
  bool failed_ = false;
  Error error_;
};

std::string field_path(std::string_view where, std::string_view key) {
  if (where.empty()) return std::string(key);
  return fmt::format("{}.{}", where, key);
}

}  // namespace

Result<Json> parse_strict(std::string_view text, Limits limits) {
  if (text.size() > limits.max_bytes) {
    return fail(Errc::too_large,
                fmt::format("JSON is {} bytes, limit is {}", text.size(), limits.max_bytes));
  }
  // nlohmann silently skips a UTF-8 byte order mark; RFC 8259 forbids emitting one and
  // accepting it would give the same document two spellings.
  if (text.starts_with("\xEF\xBB\xBF")) {
    return fail(Errc::parse_error, "invalid JSON at byte 0: byte order mark not allowed");
  }
  // nlohmann's lexer treats a NUL byte as end of input, so "{}\0<anything>" would parse as "{}".
  // A raw NUL is never valid JSON (inside strings it must be escaped), so refuse it up front.
  if (auto nul = text.find('\0'); nul != std::string_view::npos) {
    return fail(Errc::parse_error, fmt::format("invalid JSON at byte {}: NUL byte", nul));
  }
  try {
    std::size_t consumed = 0;
    StrictSax sax(limits.max_depth, &consumed);
    CountingIterator first(text.data(), &consumed);
    CountingIterator last(text.data() + text.size(), nullptr);
    const bool ok = Json::sax_parse(first, last, &sax, nlohmann::json::input_format_t::json,
                                    /*strict=*/true, /*ignore_comments=*/false);
    if (sax.failed()) return tl::unexpected<Error>(sax.error());
    if (!ok) return fail(Errc::parse_error, "invalid JSON");
    return sax.take_root();
  } catch (const std::bad_alloc&) {
    return fail(Errc::too_large, "out of memory while parsing JSON");
  } catch (const std::exception& e) {
    return fail(Errc::internal, fmt::format("JSON parser failed: {}", e.what()));
  }
}

bool has_field(const Json& obj, std::string_view key) {
  return obj.is_object() && obj.find(std::string(key)) != obj.end();
}

Result<const Json*> get_field(const Json& obj, std::string_view key, std::string_view where) {
  if (!obj.is_object()) {
    return fail(Errc::schema_error,
                fmt::format("{}: expected an object", where.empty() ? "(root)" : where));
  }
  auto it = obj.find(std::string(key));
  if (it == obj.end()) {
    return fail(Errc::schema_error, fmt::format("{}: missing", field_path(where, key)));
  }
  return &*it;
}

Result<std::string> get_string(const Json& obj, std::string_view key, std::string_view where) {
  auto field = get_field(obj, key, where);
  if (!field) return tl::unexpected(field.error());
  if (!(*field)->is_string()) {
    return fail(Errc::schema_error, fmt::format("{}: expected a string, got {}",
                                                field_path(where, key), (*field)->type_name()));
  }
  return (*field)->get_ref<const std::string&>();
}

Result<std::uint64_t> get_uint(const Json& obj, std::string_view key, std::string_view where) {
  auto field = get_field(obj, key, where);
  if (!field) return tl::unexpected(field.error());
  const Json& v = **field;
  // Values built in code (Json j = 5) are number_integer; parsed non-negative integers are
  // number_unsigned. Floats are refused even when integral (1.0, 1e3): one spelling per value.
  std::uint64_t n = 0;
  if (v.is_number_unsigned()) {
    n = v.get<std::uint64_t>();
  } else if (v.is_number_integer() && v.get<std::int64_t>() >= 0) {
    n = static_cast<std::uint64_t>(v.get<std::int64_t>());
  } else {
    return fail(Errc::schema_error,
                fmt::format("{}: expected a non-negative integer, got {}", field_path(where, key),
                            v.is_number() ? v.dump() : std::string(v.type_name())));
  }
  if (n > max_safe_integer) {
    return fail(Errc::schema_error, fmt::format("{}: {} exceeds the largest accepted integer 2^53",
                                                field_path(where, key), n));
  }
  return n;
}

Result<const Json*> get_object(const Json& obj, std::string_view key, std::string_view where) {
  auto field = get_field(obj, key, where);
  if (!field) return field;
  if (!(*field)->is_object()) {
    return fail(Errc::schema_error, fmt::format("{}: expected an object, got {}",
                                                field_path(where, key), (*field)->type_name()));
  }
  return field;
}

Result<const Json*> get_array(const Json& obj, std::string_view key, std::string_view where) {
  auto field = get_field(obj, key, where);
  if (!field) return field;
  if (!(*field)->is_array()) {
    return fail(Errc::schema_error, fmt::format("{}: expected an array, got {}",
                                                field_path(where, key), (*field)->type_name()));
  }
  return field;
}

// error_handler_t::replace: dump() would otherwise throw on invalid UTF-8 in a value built in
// code; parsed strings are always valid UTF-8. Code that emits untrusted strings (paths) must
// validate them first.
std::string dump_compact(const Json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

std::string dump_pretty(const Json& value) {
  return value.dump(2, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace) + "\n";
}

}  // namespace weights::json
