#include "core/upstream/license_terms.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/util/encoding.hpp"

namespace weights::upstream {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view license_source_name(LicenseSource source) noexcept {
  return source == LicenseSource::catalog ? "catalog" : "model_card";
}

bool is_permissive(std::string_view license_id) {
  const std::string id = lower(trim(license_id));
  return std::find(permissive_licenses.begin(), permissive_licenses.end(), id) !=
         permissive_licenses.end();
}

bool needs_acceptance(const LicenseTerms& terms) {
  return terms.gated || !is_permissive(terms.id);
}

std::vector<std::string> license_files(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (const auto& p : paths) {
    const auto slash = p.rfind('/');
    const std::string name = lower(slash == std::string::npos ? p : p.substr(slash + 1));
    if (name.starts_with("license") || name.starts_with("licence") || name.starts_with("copying") ||
        name.find("use_policy") != std::string::npos) {
      out.push_back(p);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string license_id(std::string_view license) {
  const std::string id = lower(trim(license));
  return id.empty() ? std::string(unknown_license) : id;
}

LicenseTerms terms_from_card(const std::optional<Result<ModelCard>>& card,
                             const std::vector<std::string>& paths, std::string_view commit) {
  LicenseTerms t;
  t.source = LicenseSource::model_card;
  t.files = license_files(paths);
  t.where = fmt::format("{} of {}", model_card_path, commit);
  t.id = std::string(unknown_license);
  t.name = std::string(unknown_license);
  t.gated = false;
  if (!card) {
    t.problem = fmt::format("the commit has no {} (model card) in git", model_card_path);
    return t;
  }
  if (!*card) {
    t.problem = (*card).error().message;
    return t;
  }
  const ModelCard& c = **card;
  t.gated = c.gated;
  if (!c.license) {
    t.problem = fmt::format("{} names no licence", model_card_path);
    return t;
  }
  t.id = license_id(*c.license);
  t.name = *c.license;
  if (t.id == "other" && c.license_name) {
    t.id = "other:" + license_id(*c.license_name);
    t.name = *c.license_name;
  }
  if (c.license_link) t.url = *c.license_link;
  return t;
}

std::string describe_terms(const LicenseTerms& t) {
  std::string out = printable_excerpt(t.name, 120);
  if (!t.url.empty()) out += fmt::format(" ({})", printable_excerpt(t.url, 200));
  out += t.files.empty()
             ? std::string(t.source == LicenseSource::catalog
                               ? ", licence files of the release not listed in the catalog"
                               : ", no licence file in the release")
             : fmt::format(", licence file{} in the release: {}", t.files.size() == 1 ? "" : "s",
                           printable_excerpt(fmt::format("{}", fmt::join(t.files, ", ")), 200));
  if (t.gated) out += ", gated upstream";
  if (!t.problem.empty()) out += fmt::format(" ({})", printable_excerpt(t.problem, 160));
  return out;
}

Error not_accepted_error(std::string_view release, const LicenseTerms& t) {
  const char* why = t.gated ? "its upstream repository is gated"
                    : t.id == unknown_license
                        ? "no licence is known for it"
                        : "its licence is not one of the permissive licences fetched without "
                          "asking";
  return Error{Errc::license_not_accepted,
               fmt::format("{}: licence {} (from the {}, {}): {}; accept it first",
                           printable_excerpt(release, 200), describe_terms(t),
                           t.source == LicenseSource::catalog ? "catalog" : "model card",
                           printable_excerpt(t.where, 200), why),
               "read the licence, then fetch again with --accept-license (asked once per "
               "repository and licence; recorded on this node only)"};
}

}  // namespace weights::upstream
