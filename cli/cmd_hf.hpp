#pragma once
// `weightsctl release add --from-hf ORG/NAME@REV` and `--from-hf-cache PATH`: where the files
// of a release come from when a publisher imports them from the Hugging Face Hub.
#include <optional>
#include <string>

#include "core/publish/publisher.hpp"
#include "core/util/error.hpp"

namespace weights::cli {

struct HfImportArgs {
  std::string from_hf;        // ORG/NAME[@REV] (REV defaults to main)
  std::string from_hf_cache;  // a cache snapshot dir or models--ORG--NAME folder
  std::string endpoint;       // overrides HF_ENDPOINT
  bool quiet = false;         // nothing on stderr (--json: the result says it)
};

// The one step of an import that trusted the hub: its API said which commit a branch or tag
// is. Absent when REV was a commit id (nothing but the pin is trusted then).
struct HubTrust {
  std::string repo;
  std::string revision;  // the branch or tag as given
  std::string commit;    // the commit the hub's API resolved it to
  std::string note;      // one line for humans
};

// Fills `files_dir` and the defaults of `options` (model, revision, upstream, license) and
// installs the options.check_files hook that verifies every hashed file. For --from-hf the
// commit's tree is pinned from the hub's git endpoint (core/upstream/git_pin.hpp), the API's
// listing must agree with it (core/upstream/hf_pin.hpp), the files are downloaded into
// `files_dir` (resumable; it must be given) and checked against the pin; a branch or tag is
// resolved by the hub's API, which the result says (and stderr, unless args.quiet). For
// --from-hf-cache the files are checked against the cache's blob names.
Result<std::optional<HubTrust>> prepare_hf_import(const HfImportArgs& args, std::string& files_dir,
                                                  ReleaseOptions& options);

}  // namespace weights::cli
