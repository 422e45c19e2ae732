// weightsctl's exit codes and the API's HTTP statuses classify verification errors from the
// one list in core/api (api::is_verification_error).
#include "cli/exit_codes.hpp"

#include <catch2/catch.hpp>

#include "core/api/api.hpp"

using namespace weights;

TEST_CASE("the verification errors are the trust checks", "[exit_codes]") {
  for (const Errc c :
       {Errc::bad_signature, Errc::threshold_not_met, Errc::expired, Errc::rollback,
        Errc::version_mismatch, Errc::hash_mismatch, Errc::length_mismatch, Errc::wrong_target}) {
    INFO(code_name(c));
    CHECK(api::is_verification_error(c));
  }
  for (const Errc c : {Errc::invalid_argument, Errc::parse_error, Errc::schema_error,
                       Errc::path_policy, Errc::io_error, Errc::internal, Errc::no_space}) {
    INFO(code_name(c));
    CHECK_FALSE(api::is_verification_error(c));
  }
}

TEST_CASE("exit code 75 and HTTP 422 follow the one list of verification errors", "[exit_codes]") {
  for (int i = 0; i <= static_cast<int>(errc_last); ++i) {
    const auto c = static_cast<Errc>(i);
    INFO(code_name(c));
    const bool verification = api::is_verification_error(c);
    CHECK((cli::exit_code_for(c) == cli::Exit::verification) == verification);
    // 422 is also the status of well-formed input that breaks a rule (schema, path policy).
    const bool unprocessable = verification || c == Errc::schema_error || c == Errc::path_policy;
    CHECK((api::http_status_for(c) == 422) == unprocessable);
  }
}

TEST_CASE("other codes keep their exit codes", "[exit_codes]") {
  CHECK(cli::exit_code_for(Errc::invalid_argument) == cli::Exit::usage);
  CHECK(cli::exit_code_for(Errc::schema_error) == cli::Exit::data);
  CHECK(cli::exit_code_for(Errc::not_found) == cli::Exit::not_found);
  CHECK(cli::exit_code_for(Errc::no_space) == cli::Exit::io);
  CHECK(cli::exit_code_for(Errc::unavailable) == cli::Exit::unavailable);
  CHECK(cli::exit_code_for(Errc::permission_denied) == cli::Exit::no_permission);
  CHECK(cli::exit_code_for(Errc::unsupported) == cli::Exit::failure);
  CHECK(cli::exit_code_for(Errc::internal) == cli::Exit::internal);
}
