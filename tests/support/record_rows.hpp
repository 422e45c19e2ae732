#pragma once
// Rows standing in for the ReleaseDb under a ReleaseRegistry in unit tests: the records written
// (by id), the order they were written in, and a switch that makes every write fail.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daemon/engine/release_registry.hpp"

namespace weights::testing {

struct RecordRows {
  std::map<std::string, daemon::ReleaseRecord> rows;
  std::vector<std::string> written;  // ids, one per put
  std::optional<Error> refuse;       // every put and remove fails with this

  daemon::RecordStore store() {
    return daemon::RecordStore{[this](const daemon::ReleaseRecord& rec) -> Status {
                                 if (refuse) return tl::unexpected(*refuse);
                                 rows[rec.id] = rec;
                                 written.push_back(rec.id);
                                 return {};
                               },
                               [this](const std::string& id) -> Status {
                                 if (refuse) return tl::unexpected(*refuse);
                                 rows.erase(id);
                                 return {};
                               }};
  }
};

}  // namespace weights::testing
