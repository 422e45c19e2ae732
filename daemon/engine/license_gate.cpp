#include "daemon/engine/license_gate.hpp"

#include <vector>

#include "daemon/log.hpp"

namespace weights::daemon {

Result<Admission> LicenseGate::admit(std::string_view release, const std::string& repo,
                                     const upstream::LicenseTerms& terms, Acceptance acceptance,
                                     std::int64_t now) {
  Admission out;
  out.needed = upstream::needs_acceptance(terms);
  if (!out.needed) return out;
  auto found = store_.find(repo, terms.id);
  if (!found) return tl::unexpected(found.error());
  if (*found) {
    out.accepted_at = **found;
    return out;
  }
  if (acceptance == Acceptance::not_given) {
    return tl::unexpected(upstream::not_accepted_error(release, terms));
  }
  if (auto st = store_.record(repo, terms.id, now); !st) return tl::unexpected(st.error());
  log::info("{}: the user accepted licence {} for {} (recorded on this node only)", release,
            terms.id, repo);
  out.accepted_at = now;
  return out;
}

AcceptanceStore acceptances_in(std::function<ReleaseDb&()> db, std::string_view upstream) {
  return AcceptanceStore{
      [db, up = std::string(upstream)](const std::string& repo, const std::string& license) {
        return db().license_accepted(up, repo, license);
      },
      [db, up = std::string(upstream)](const std::string& repo, const std::string& license,
                                       std::int64_t when) {
        return db().accept_license(up, repo, license, when);
      }};
}

upstream::LicenseTerms catalog_terms(const catalog::Entry& e) {
  upstream::LicenseTerms t;
  t.source = upstream::LicenseSource::catalog;
  t.id = upstream::license_id(e.license);
  t.name = e.license.empty() ? std::string(upstream::unknown_license) : e.license;
  t.url = e.license_url;
  t.gated = e.gated.value_or(true);
  std::vector<std::string> paths;
  for (const auto& f : e.files) paths.push_back(f.path);
  t.files = upstream::license_files(paths);
  t.where = e.where.to_string();
  t.layer = e.layer;
  if (!e.gated) t.problem = "the catalog entry does not say whether the upstream is gated";
  return t;
}

}  // namespace weights::daemon
