#pragma once
// Strict JSON <-> struct plumbing for the control API types (core/api/types.hpp): every read
// returns an Error naming the field path ("release.files[2].length: expected an unsigned
// integer, got string") instead of throwing.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/util/error.hpp"

namespace weights::api {

// What to do with object keys the struct does not know. Requests are parsed with `reject`
// (docs/protocol.md: unknown request fields are 422); a client reads responses with `ignore`
// (newer daemons may add fields); the protocol test reads the documented examples with `reject`.
enum class UnknownFields { reject, ignore };

namespace io {

std::string_view type_name(const nlohmann::json& j);
Error type_error(const std::string& where, std::string_view expected, const nlohmann::json& got);

Status read(const nlohmann::json& j, std::string& out, const std::string& where, UnknownFields);
Status read(const nlohmann::json& j, bool& out, const std::string& where, UnknownFields);
Status read(const nlohmann::json& j, std::uint64_t& out, const std::string& where, UnknownFields);
Status read(const nlohmann::json& j, std::int64_t& out, const std::string& where, UnknownFields);
Status read(const nlohmann::json& j, nlohmann::json& out, const std::string& where, UnknownFields);

template <class T>
Status read(const nlohmann::json& j, std::vector<T>& out, const std::string& where,
            UnknownFields unknown) {
  if (!j.is_array()) return tl::unexpected(type_error(where, "an array", j));
  out.clear();
  out.reserve(j.size());
  for (std::size_t i = 0; i < j.size(); ++i) {
    T v{};
    if (auto st = read(j[i], v, where + "[" + std::to_string(i) + "]", unknown); !st) return st;
    out.push_back(std::move(v));
  }
  return {};
}

// null reads as nullopt.
template <class T>
Status read(const nlohmann::json& j, std::optional<T>& out, const std::string& where,
            UnknownFields unknown) {
  if (j.is_null()) {
    out.reset();
    return {};
  }
  T v{};
  if (auto st = read(j, v, where, unknown); !st) return st;
  out = std::move(v);
  return {};
}

// Reads the fields of one JSON object in turn; the first error sticks. done() also refuses
// keys no req()/opt() asked for when unknown fields are rejected.
class Fields {
 public:
  Fields(const nlohmann::json& j, std::string where, UnknownFields unknown);

  // Must be present (null only for std::optional members).
  template <class T>
  Fields& req(const char* key, T& out) {
    seen_.insert(key);
    if (!status_) return *this;
    const auto it = j_.find(key);
    if (it == j_.end()) {
      status_ = fail(Errc::schema_error, where_ + ": missing field '" + key + "'");
      return *this;
    }
    status_ = read(*it, out, where_ + "." + key, unknown_);
    return *this;
  }
  // May be absent: `out` keeps its value then.
  template <class T>
  Fields& opt(const char* key, T& out) {
    seen_.insert(key);
    if (!status_) return *this;
    const auto it = j_.find(key);
    if (it == j_.end()) return *this;
    status_ = read(*it, out, where_ + "." + key, unknown_);
    return *this;
  }
  Status done() const;

 private:
  const nlohmann::json& j_;
  std::string where_;
  UnknownFields unknown_;
  std::set<std::string, std::less<>> seen_;
  Status status_;
};

template <class T>
nlohmann::json nullable(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace io

// Parses `j` into T with the struct's read(); errors are schema_error naming the field.
template <class T>
Result<T> from_json(const nlohmann::json& j, UnknownFields unknown, std::string_view where) {
  T out{};
  using io::read;  // primitives here; structs by ADL in weights::api
  if (auto st = read(j, out, std::string(where), unknown); !st) {
    return tl::unexpected(st.error());
  }
  return out;
}

}  // namespace weights::api
