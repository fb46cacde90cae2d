#include "cwts/cli/cli.hpp"

#include <cstdio>
#include <iostream>

namespace cwts::cli {

namespace {

std::string hint(const CLI::App& app) {
  return "Run with --help for more information (" + app.get_name() + " --help).\n";
}

}  // namespace

void setup(CLI::App& app, const std::string& extra_version) {
  std::string v = app.get_name() + " " + kVersion;
  if (!extra_version.empty()) v += " " + extra_version;
  app.set_version_flag("--version", v, "Print the version and exit");
  app.set_help_flag("-h,--help", "Print this help and exit");
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.get_formatter()->column_width(32);
  app.get_formatter()->label("SUBCOMMAND", "COMMAND");
  app.get_formatter()->label("SUBCOMMANDS", "COMMANDS");
  app.failure_message([](const CLI::App* a, const CLI::Error& e) {
    // The top app's name, also for an error inside a subcommand.
    const CLI::App* top = a;
    while (top->get_parent() != nullptr) top = top->get_parent();
    return top->get_name() + ": " + e.what() + "\n" + hint(*top);
  });
}

std::optional<int> parse(CLI::App& app, int argc, char** argv, int usage_status) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, std::cout, std::cerr);
    return code == static_cast<int>(CLI::ExitCodes::Success) ? 0 : usage_status;
  }
  return std::nullopt;
}

const CLI::Validator& non_negative() {
  static const CLI::Validator v(
      [](std::string& s) -> std::string {
        double d = -1;
        if (!CLI::detail::lexical_cast(s, d) || !(d >= 0))
          return "'" + s + "' is not a number >= 0";
        return {};
      },
      "");
  return v;
}

int usage_error(const CLI::App& app, const std::string& message, int usage_status) {
  std::cerr << app.get_name() << ": " << message << "\n" << hint(app);
  return usage_status;
}

}  // namespace cwts::cli
