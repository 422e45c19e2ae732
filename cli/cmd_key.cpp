#include <string>

#include <fmt/core.h>

#include "cli/command.hpp"
#include "core/util/crypto.hpp"

namespace weights::cli {

void register_key_commands(CLI::App& app, Context& ctx) {
  auto* key_cmd = app.add_subcommand("key", "Manage Ed25519 signing keys");
  key_cmd->require_subcommand(1);
  key_cmd->footer(
      "Examples:\n  weightsctl key generate --out keys/root-1.pem\n"
      "  weightsctl key show keys/root-1.pem");

  auto* gen = key_cmd->add_subcommand("generate",
                                      "Generate an Ed25519 private key (PKCS#8 PEM, mode 0600)");
  gen->footer(
      "Example:\n  weightsctl key generate --out keys/root-1.pem\n"
      "Prints the public key and its keyid. Refuses to overwrite an existing file.");
  auto out = std::make_shared<std::string>();
  gen->add_option("--out,-o", *out, "Where to write the private key")->required();
  gen->callback([&ctx, out] {
    ctx.action = [&ctx, out]() -> Status {
      auto key = crypto::PrivateKey::generate();
      if (!key) return tl::unexpected(key.error());
      if (auto st = key->save(*out); !st) return st;
      const auto& pub = key->public_key();
      emit(ctx, {{"path", *out}, {"public", pub.hex()}, {"keyid", pub.keyid()}},
           fmt::format("wrote {}\npublic key: {}\nkeyid:      {}\n", *out, pub.hex(), pub.keyid()));
      return {};
    };
  });

  auto* show =
      key_cmd->add_subcommand("show", "Print the public key and keyid of a private key file");
  auto path = std::make_shared<std::string>();
  show->add_option("key", *path, "Private key file (PEM)")->required();
  show->footer("Example:\n  weightsctl key show keys/root-1.pem");
  show->callback([&ctx, path] {
    ctx.action = [&ctx, path]() -> Status {
      auto key = crypto::PrivateKey::load(*path);
      if (!key) return tl::unexpected(key.error());
      const auto& pub = key->public_key();
      emit(ctx, {{"path", *path}, {"public", pub.hex()}, {"keyid", pub.keyid()}},
           fmt::format("public key: {}\nkeyid:      {}\n", pub.hex(), pub.keyid()));
      return {};
    };
  });
}

}  // namespace weights::cli
