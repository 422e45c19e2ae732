// docs/protocol.md is the spec of the control API: every ```json type=NAME example in it must
// be exactly struct NAME of core/api/types.hpp (strict read, and written back with the same
// fields), so the document and the structs cannot drift apart.
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "core/api/types.hpp"
#include "core/util/json.hpp"

using namespace weights;
using namespace weights::api;
using Json = nlohmann::json;

namespace {

struct Example {
  std::string type;
  int line = 0;
  std::string text;
};

std::vector<Example> typed_examples(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::vector<Example> out;
  std::string line;
  int n = 0;
  Example* open = nullptr;
  while (std::getline(in, line)) {
    ++n;
    if (open == nullptr && line.rfind("```json type=", 0) == 0) {
      out.push_back({line.substr(13), n + 1, ""});
      open = &out.back();
    } else if (open != nullptr && line.rfind("```", 0) == 0) {
      open = nullptr;
    } else if (open != nullptr) {
      open->text += line + "\n";
    }
  }
  REQUIRE(open == nullptr);
  return out;
}

// The set of field paths in `j` ("files[].path"), arrays by their elements.
void field_paths(const Json& j, const std::string& prefix, std::set<std::string>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      const std::string p = prefix.empty() ? k : prefix + "." + k;
      out.insert(p);
      field_paths(v, p, out);
    }
  } else if (j.is_array()) {
    for (const auto& e : j) field_paths(e, prefix + "[]", out);
  }
}

template <class T>
Status check(const Json& doc) {
  auto parsed = from_json<T>(doc, UnknownFields::reject, "example");
  if (!parsed) return tl::unexpected(parsed.error());
  std::set<std::string> want, got;
  field_paths(doc, "", want);
  field_paths(Json(*parsed), "", got);
  for (const auto& f : got) {
    if (!want.count(f)) return fail(Errc::schema_error, "struct field not in the example: " + f);
  }
  for (const auto& f : want) {
    if (!got.count(f)) return fail(Errc::schema_error, "example field not in the struct: " + f);
  }
  return {};
}

const std::map<std::string, std::function<Status(const Json&)>>& checkers() {
  static const std::map<std::string, std::function<Status(const Json&)>> m = {
      {"ErrorBody", check<ErrorBody>},
      {"VersionInfo", check<VersionInfo>},
      {"DaemonStatus", check<DaemonStatus>},
      {"LogLevelRequest", check<LogLevelRequest>},
      {"LogLevelResult", check<LogLevelResult>},
      {"Feed", check<Feed>},
      {"AddFeedRequest", check<AddFeedRequest>},
      {"Release", check<Release>},
      {"HfCacheInfo", check<HfCacheInfo>},
      {"UpstreamInfo", check<UpstreamInfo>},
      {"DownloadSource", check<DownloadSource>},  // one of a Release's sources
      {"HubStatusInfo", check<HubStatusInfo>},    // Release.hub_status
      {"FetchRequest", check<FetchRequest>},
      {"SeedRequest", check<SeedRequest>},
      {"PeersRequest", check<PeersRequest>},
      {"ExportRequest", check<ExportRequest>},
      {"ExportResult", check<ExportResult>},
      {"FollowRequest", check<FollowRequest>},
      {"Follow", check<Follow>},
      {"ScrubRequest", check<ScrubRequest>},
      {"ScrubResult", check<ScrubResult>},
  };
  return m;
}

}  // namespace

TEST_CASE("every typed JSON example in docs/protocol.md is exactly its struct", "[api]") {
  const auto examples = typed_examples(WEIGHTS_SOURCE_DIR "/docs/protocol.md");
  REQUIRE(examples.size() >= 15);
  std::set<std::string> seen;
  for (const auto& ex : examples) {
    INFO("docs/protocol.md:" << ex.line << " type=" << ex.type);
    const auto it = checkers().find(ex.type);
    REQUIRE(it != checkers().end());
    auto doc = weights::json::parse_strict(ex.text);
    REQUIRE(doc.has_value());
    const auto st = it->second(*doc);
    INFO((st ? std::string() : st.error().message));
    CHECK(st.has_value());
    seen.insert(ex.type);
  }
  // Every struct with a checker is documented by at least one example.
  for (const auto& [name, fn] : checkers()) {
    INFO(name);
    CHECK(seen.count(name) == 1);
  }
}

TEST_CASE("the protocol check notices a field the document lacks", "[api]") {
  // A Release example without "held" is missing a required field.
  auto release = Json::parse(R"({"removed": "x"})");
  CHECK(check<Removed>(release).has_value());
  release["extra"] = 1;
  CHECK_FALSE(check<Removed>(release).has_value());
  // A struct field absent from the example (ScrubRequest writes "release" only when set).
  CHECK(check<ScrubRequest>(Json::object()).has_value());
  auto feed_list = Json::parse(R"({"feeds": []})");
  CHECK(check<FeedList>(feed_list).has_value());
  CHECK_FALSE(check<VersionInfo>(Json::parse(R"({"version": "1"})")).has_value());
}
