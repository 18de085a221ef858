/*
 * fuzz_cli.cpp — libFuzzer target for the command line (apps/cli_options.hpp) and the
 * training configuration JSON stored in checkpoints (engine/train_config.hpp).
 *
 * An input starting with '{' is a configuration: train_config_from_json must throw
 * gan::InputError or return a valid configuration whose JSON reads back to the same JSON.
 * Any other input is a command line, one argument per line (the program name is
 * supplied): parse_cli must throw InputError or return a command; a training command's
 * configuration must be valid and survive the JSON round trip. Anything else (another
 * exception, a sanitizer report, a hang) is a bug.
 *
 * Seeds: tests/fuzz/corpus/fuzz_cli/. Built and run by tools/ci/run_fuzz.sh.
 */
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "apps/cli_options.hpp"
#include "engine/base/error.hpp"
#include "engine/train_config.hpp"

namespace {

void check_round_trip(const gan::TrainConfig& c) {
  c.validate();  // a configuration that was accepted is valid
  const std::string j = gan::to_json(c);
  const gan::TrainConfig back = gan::train_config_from_json(j);
  if (gan::to_json(back) != j) std::abort();
  if (!(back.spec == c.spec)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (!text.empty() && text[0] == '{') {
    try {
      check_round_trip(gan::train_config_from_json(text));
    } catch (const gan::InputError&) {
    }
    return 0;
  }
  std::vector<std::string> args = {"gan_cuda"};
  size_t start = 0;
  while (start <= text.size()) {
    const size_t nl = text.find('\n', start);
    const size_t end = nl == std::string::npos ? text.size() : nl;
    if (end > start || nl != std::string::npos) args.push_back(text.substr(start, end - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  try {
    const gan::CliCommand cmd = gan::parse_cli(static_cast<int>(argv.size()), argv.data(), "data");
    if (cmd.kind == gan::CliCommand::Kind::Train) check_round_trip(cmd.train.config);
    if (cmd.kind == gan::CliCommand::Kind::Help && cmd.help.empty()) std::abort();
  } catch (const gan::InputError&) {
  }
  return 0;
}
