#include "core/api/caller_access.hpp"

#include <cstdint>
#include <cstring>
#include <fstream>

#include <catch2/catch.hpp>
#include <sys/xattr.h>
#include <unistd.h>

#include "support/temp_dir.hpp"

using namespace weights;
namespace fs = std::filesystem;

namespace {

constexpr uid_t alice = 42001;  // the caller
constexpr gid_t alice_gid = 42001;
constexpr uid_t bob = 42002;  // someone else
constexpr gid_t bob_gid = 42002;
constexpr gid_t shared_gid = 42100;
constexpr uid_t daemon_uid = 42999;

Caller caller_alice(std::vector<gid_t> groups = {}) {
  return Caller{alice, alice_gid, 1234, std::move(groups)};
}

// Tests run as root: files get their owners and modes explicitly.
void make_dir(const fs::path& p, uid_t uid, gid_t gid, mode_t mode) {
  fs::create_directories(p);
  REQUIRE(::chown(p.c_str(), uid, gid) == 0);
  REQUIRE(::chmod(p.c_str(), mode) == 0);
}
void make_file(const fs::path& p, uid_t uid, gid_t gid, mode_t mode) {
  std::ofstream(p) << "secret bytes";
  REQUIRE(::chown(p.c_str(), uid, gid) == 0);
  REQUIRE(::chmod(p.c_str(), mode) == 0);
}

struct Tree {
  testing::TempDir tmp;
  AccessPolicy policy;
  Tree() {
    // TempDir is 0700 root: open it up so only what a test builds below decides.
    REQUIRE(::chmod(tmp.path().c_str(), 0755) == 0);
    policy.daemon_euid = daemon_uid;
    policy.private_dirs = {tmp / "state"};
    make_dir(tmp / "state", daemon_uid, daemon_uid, 0755);
    make_file(tmp / "state/store.bin", daemon_uid, daemon_uid, 0644);
  }
  const fs::path& root() const { return tmp.path(); }
};

Errc code_of(const Result<fs::path>& r) {
  REQUIRE_FALSE(r);
  return r.error().code;
}

}  // namespace

TEST_CASE("mode bits are classed owner, then group (primary or supplementary), then other",
          "[caller_access]") {
  struct stat st {};
  st.st_uid = bob;
  st.st_gid = shared_gid;
  st.st_mode = S_IFREG | 0604;  // owner rw, group none, other r
  CHECK(mode_grants(st, caller_alice(), R_OK));
  // In the group class the group bits decide, even though "other" would allow it.
  CHECK_FALSE(mode_grants(st, caller_alice({shared_gid}), R_OK));
  CHECK_FALSE(mode_grants(st, Caller{alice, shared_gid, 1, {}}, R_OK));
  st.st_mode = S_IFREG | 0640;
  CHECK(mode_grants(st, caller_alice({shared_gid}), R_OK));
  CHECK_FALSE(mode_grants(st, caller_alice(), R_OK));
  CHECK_FALSE(mode_grants(st, caller_alice({shared_gid}), R_OK | W_OK));
  st.st_uid = alice;
  st.st_mode = S_IFREG | 0077;  // the owner class has nothing
  CHECK_FALSE(mode_grants(st, caller_alice({shared_gid}), R_OK));
  st.st_mode = S_IFREG | 0600;
  CHECK(mode_grants(st, caller_alice(), R_OK | W_OK));
}

TEST_CASE("with a POSIX ACL only the owner class is trusted", "[caller_access]") {
  struct stat st {};
  st.st_uid = bob;
  st.st_gid = shared_gid;
  st.st_mode = S_IFREG | 0644;
  CHECK(mode_grants(st, caller_alice({shared_gid}), R_OK, HasAcl::no));
  CHECK_FALSE(mode_grants(st, caller_alice({shared_gid}), R_OK, HasAcl::yes));
  CHECK_FALSE(mode_grants(st, caller_alice(), R_OK, HasAcl::yes));
  st.st_uid = alice;
  CHECK(mode_grants(st, caller_alice(), R_OK, HasAcl::yes));
}

TEST_CASE("root and the daemon's own uid are not checked", "[caller_access]") {
  Tree t;
  make_dir(t.root() / "private", bob, bob_gid, 0700);
  for (uid_t uid : {uid_t{0}, daemon_uid}) {
    const Caller c{uid, 0, 1, {}};
    auto r = check_caller_access(t.policy, c, t.root() / "private/./x", Access::read_file);
    REQUIRE(r);
    CHECK(*r == t.root() / "private/x");
    CHECK(check_caller_access(t.policy, c, t.root() / "state", Access::write_dir));
  }
}

TEST_CASE("a file in a directory the caller cannot search is denied, whether or not it exists",
          "[caller_access]") {
  Tree t;
  make_dir(t.root() / "private", bob, bob_gid, 0700);
  make_file(t.root() / "private/weights.bin", bob, bob_gid, 0644);
  auto there = check_caller_access(t.policy, caller_alice(), t.root() / "private/weights.bin",
                                   Access::read_file);
  auto absent =
      check_caller_access(t.policy, caller_alice(), t.root() / "private/nope", Access::read_file);
  REQUIRE_FALSE(there);
  REQUIRE_FALSE(absent);
  CHECK(there.error().code == Errc::permission_denied);
  // Same text apart from the name the caller gave: nothing tells "exists" from "absent".
  CHECK(there.error().message ==
        (t.root() / "private/weights.bin").string() + ": permission denied");
  CHECK(absent.error().message == (t.root() / "private/nope").string() + ": permission denied");
  CHECK(there.error().hint == absent.error().hint);
  CHECK(code_of(check_caller_access(t.policy, caller_alice(), t.root() / "private",
                                    Access::read_dir)) == Errc::permission_denied);
}

TEST_CASE("a file is readable by its mode bits for the caller's uid and groups",
          "[caller_access]") {
  Tree t;
  make_dir(t.root() / "d", alice, alice_gid, 0755);
  make_file(t.root() / "d/bobs", bob, bob_gid, 0600);
  make_file(t.root() / "d/public", bob, bob_gid, 0644);
  make_file(t.root() / "d/group", bob, shared_gid, 0640);
  CHECK(code_of(check_caller_access(t.policy, caller_alice(), t.root() / "d/bobs",
                                    Access::read_file)) == Errc::permission_denied);
  CHECK(check_caller_access(t.policy, caller_alice(), t.root() / "d/public", Access::read_file));
  CHECK(code_of(check_caller_access(t.policy, caller_alice(), t.root() / "d/group",
                                    Access::read_file)) == Errc::permission_denied);
  CHECK(check_caller_access(t.policy, caller_alice({shared_gid}), t.root() / "d/group",
                            Access::read_file));
  // Searchable up to it, so "not found" tells the caller nothing new.
  CHECK(code_of(check_caller_access(t.policy, caller_alice(), t.root() / "d/nope",
                                    Access::read_file)) == Errc::not_found);
  CHECK(code_of(check_caller_access(t.policy, caller_alice(), t.root() / "d", Access::read_file)) ==
        Errc::invalid_argument);
  CHECK(code_of(check_caller_access(t.policy, caller_alice(), "relative/path",
                                    Access::read_file)) == Errc::invalid_argument);
  // A directory the caller may search but not list.
  make_dir(t.root() / "x-only", bob, bob_gid, 0711);
  CHECK(code_of(check_caller_access(t.policy, caller_alice(), t.root() / "x-only",
                                    Access::read_dir)) == Errc::permission_denied);
}

TEST_CASE("write access is w+x on the directory, or on the nearest existing ancestor",
          "[caller_access]") {
  Tree t;
  make_dir(t.root() / "roots", 0, 0, 0755);
  make_dir(t.root() / "mine", alice, alice_gid, 0755);
  make_dir(t.root() / "shared", bob, shared_gid, 0770);
  CHECK(code_of(check_caller_access(t.policy, caller_alice(), t.root() / "roots",
                                    Access::write_dir)) == Errc::permission_denied);
  CHECK(code_of(check_caller_access(t.policy, caller_alice(), t.root() / "roots/new/deeper",
                                    Access::write_dir)) == Errc::permission_denied);
  auto fresh = check_caller_access(t.policy, caller_alice(), t.root() / "mine/new/deeper",
                                   Access::write_dir);
  REQUIRE(fresh);
  CHECK(*fresh == t.root() / "mine/new/deeper");
  CHECK(check_caller_access(t.policy, caller_alice(), t.root() / "mine", Access::write_dir));
  CHECK(check_caller_access(t.policy, caller_alice({shared_gid}), t.root() / "shared/x",
                            Access::write_dir));
  CHECK(code_of(check_caller_access(t.policy, caller_alice(), t.root() / "shared/x",
                                    Access::write_dir)) == Errc::permission_denied);
  CHECK(code_of(check_caller_access(t.policy, caller_alice(), t.root() / "mine/new/../x",
                                    Access::write_dir)) == Errc::not_found);
}

TEST_CASE("symlinks are followed as the kernel would for the caller, and the target is checked",
          "[caller_access]") {
  Tree t;
  make_dir(t.root() / "private", bob, bob_gid, 0700);
  make_file(t.root() / "private/secret", bob, bob_gid, 0644);
  make_dir(t.root() / "mine", alice, alice_gid, 0755);
  make_file(t.root() / "mine/real", alice, alice_gid, 0600);
  fs::create_symlink(t.root() / "private/secret", t.root() / "mine/to-secret");
  fs::create_symlink("../private", t.root() / "mine/to-private");
  fs::create_symlink("real", t.root() / "mine/to-real");
  CHECK(code_of(check_caller_access(t.policy, caller_alice(), t.root() / "mine/to-secret",
                                    Access::read_file)) == Errc::permission_denied);
  CHECK(code_of(check_caller_access(t.policy, caller_alice(), t.root() / "mine/to-private/secret",
                                    Access::read_file)) == Errc::permission_denied);
  auto real =
      check_caller_access(t.policy, caller_alice(), t.root() / "mine/to-real", Access::read_file);
  REQUIRE(real);
  CHECK(*real == t.root() / "mine/real");  // what the daemon acts on has no link left
  // A link loop ends in an error, not a hang.
  fs::create_symlink("loop", t.root() / "mine/loop");
  CHECK(code_of(check_caller_access(t.policy, caller_alice(), t.root() / "mine/loop",
                                    Access::read_file)) == Errc::io_error);
}

TEST_CASE("in a sticky world-writable directory another user's symlink is not followed",
          "[caller_access]") {
  Tree t;
  make_dir(t.root() / "tmp", 0, 0, 01777);
  make_dir(t.root() / "pub", bob, bob_gid, 0755);
  make_file(t.root() / "pub/file", bob, bob_gid, 0644);
  fs::create_symlink(t.root() / "pub/file", t.root() / "tmp/planted");
  REQUIRE(::lchown((t.root() / "tmp/planted").c_str(), bob, bob_gid) == 0);
  CHECK(code_of(check_caller_access(t.policy, caller_alice(), t.root() / "tmp/planted",
                                    Access::read_file)) == Errc::permission_denied);
  REQUIRE(::lchown((t.root() / "tmp/planted").c_str(), alice, alice_gid) == 0);
  CHECK(check_caller_access(t.policy, caller_alice(), t.root() / "tmp/planted", Access::read_file));
}

TEST_CASE("paths inside the daemon's state dir are refused, also through a symlink",
          "[caller_access]") {
  Tree t;
  CHECK(code_of(check_caller_access(t.policy, caller_alice(), t.root() / "state/store.bin",
                                    Access::read_file)) == Errc::permission_denied);
  CHECK(code_of(check_caller_access(t.policy, caller_alice(), t.root() / "state",
                                    Access::read_dir)) == Errc::permission_denied);
  make_dir(t.root() / "mine", alice, alice_gid, 0755);
  fs::create_symlink(t.root() / "state", t.root() / "mine/st");
  auto r = check_caller_access(t.policy, caller_alice(), t.root() / "mine/st/store.bin",
                               Access::read_file);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::permission_denied);
  CHECK(r.error().message.find("state directory") != std::string::npos);
  // A sibling whose name starts the same is not inside.
  make_dir(t.root() / "state2", alice, alice_gid, 0755);
  CHECK(check_caller_access(t.policy, caller_alice(), t.root() / "state2", Access::write_dir));
}

TEST_CASE("a file carrying a POSIX ACL is readable only through its owner bits",
          "[caller_access]") {
  Tree t;
  make_dir(t.root() / "d", alice, alice_gid, 0755);
  make_file(t.root() / "d/acl", bob, bob_gid, 0644);
  // user::rw- user:42999:r-- group::r-- mask::r-- other::r-- (a minimal one would be folded
  // into the mode bits and not stored).
  struct Entry {
    std::uint16_t tag, perm;
    std::uint32_t id;
  };
  const std::uint32_t version = 2;
  const Entry entries[] = {{0x01, 6, 0xffffffff},
                           {0x02, 4, daemon_uid},
                           {0x04, 4, 0xffffffff},
                           {0x10, 4, 0xffffffff},
                           {0x20, 4, 0xffffffff}};
  std::string blob(reinterpret_cast<const char*>(&version), sizeof version);
  blob.append(reinterpret_cast<const char*>(entries), sizeof entries);
  if (::setxattr((t.root() / "d/acl").c_str(), "system.posix_acl_access", blob.data(), blob.size(),
                 0) != 0) {
    WARN("filesystem without POSIX ACLs (" << std::strerror(errno) << "): case not exercised");
    return;
  }
  CHECK(code_of(check_caller_access(t.policy, caller_alice(), t.root() / "d/acl",
                                    Access::read_file)) == Errc::permission_denied);
  REQUIRE(::chown((t.root() / "d/acl").c_str(), alice, alice_gid) == 0);
  CHECK(check_caller_access(t.policy, caller_alice(), t.root() / "d/acl", Access::read_file));
}
