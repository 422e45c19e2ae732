// Fuzzes the TUF role parsers (parse_root, parse_timestamp, parse_snapshot, parse_targets) on
// payload bytes, as the client parses them once their envelope verified. Checks that whatever a
// parser accepts keeps the documented invariants and round-trips: to_json -> parse gives the
// same metadata, delegations included. Each input goes to the four parsers (the _type field
// picks at most one).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string_view>

#include "tests/fuzz/fuzz_check.hpp"

#include "core/trust/tuf_metadata.hpp"
#include "core/util/path_policy.hpp"

using weights::fuzz::check;

namespace {

using namespace weights;
using namespace weights::tuf;

void check_role_keys(const RootMetadata& root, const RoleKeys& role) {
  check(role.threshold >= 1);
  std::set<std::string> distinct;
  for (const auto& id : role.keyids) {
    const auto it = root.keys.find(id);
    check(it != root.keys.end());
    distinct.insert(it->second.keyid());
  }
  check(role.threshold <= distinct.size());
}

void check_root(std::string_view text) {
  auto root = parse_root(text);
  if (!root) return;
  check(root->version >= 1);
  for (const auto& [id, key] : root->keys) check(id == key.keyid());
  for (const Role r : {Role::root, Role::targets, Role::snapshot, Role::timestamp}) {
    check_role_keys(*root, root->role(r));
    check(!root->keys_for(r).empty());
  }
  auto again = parse_root(serialize(*root));
  check(again.has_value());
  check(again->version == root->version && again->expires == root->expires);
  check(again->keys == root->keys);
  for (const Role r : {Role::root, Role::targets, Role::snapshot, Role::timestamp}) {
    check(again->role(r).keyids == root->role(r).keyids);
    check(again->role(r).threshold == root->role(r).threshold);
  }
}

void check_timestamp(std::string_view text) {
  auto ts = parse_timestamp(text);
  if (!ts) return;
  check(ts->version >= 1 && ts->snapshot.version >= 1 && ts->snapshot.sha256.size() == 64);
  auto again = parse_timestamp(serialize(*ts));
  check(again.has_value() && again->version == ts->version && again->expires == ts->expires &&
        again->snapshot == ts->snapshot);
}

void check_snapshot(std::string_view text) {
  auto snap = parse_snapshot(text);
  if (!snap) return;
  check(snap->version >= 1 && snap->targets.version >= 1 && snap->targets.sha256.size() == 64);
  for (const auto& [role, mf] : snap->delegated) {
    check(check_role_name(role).has_value());
    check(mf.version >= 1 && mf.sha256.size() == 64);
  }
  auto again = parse_snapshot(serialize(*snap));
  check(again.has_value() && again->version == snap->version && again->expires == snap->expires &&
        again->targets == snap->targets && again->delegated == snap->delegated);
}

void check_targets(std::string_view text) {
  auto targets = parse_targets(text);
  if (!targets) return;
  check(targets->version >= 1);
  for (std::size_t i = 0; i < targets->targets.size(); ++i) {
    const TargetInfo& t = targets->targets[i];
    check(check_path(t.path).has_value());
    check(t.sha256.size() == 64);
    check(i == 0 || targets->targets[i - 1].path < t.path);
    (void)consistent_target_name(t);
  }
  if (targets->delegations) {
    std::set<std::string> names;
    for (const auto& role : targets->delegations->roles) {
      check(check_role_name(role.name).has_value());
      check(names.insert(role.name).second);
      check(role.path_hash_prefixes.empty() != role.paths.empty());
      check(role.threshold >= 1 && role.threshold <= role.keyids.size());
      for (const auto& id : role.keyids) check(targets->delegations->keys.contains(id));
      check(targets->delegations->keys_for(role).size() == role.keyids.size());
      for (const auto& t : targets->targets) (void)role.matches(t.path, target_path_hash(t.path));
    }
  }
  auto again = parse_targets(serialize(*targets));
  check(again.has_value() && again->version == targets->version &&
        again->expires == targets->expires && again->targets == targets->targets &&
        again->delegations == targets->delegations);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = weights::fuzz::text_of(data, size);
  check_root(text);
  check_timestamp(text);
  check_snapshot(text);
  check_targets(text);
  (void)parse_kind(text);
  return 0;
}
