// The binaries' command lines, one way (ADR 0028): CLI11 apps with -h/--help, --version printing
// "NAME VERSION" (the project's version), a flag given twice keeping its last value (as the
// hand-written parsers did), and usage errors that name the flag on stderr with one exit status.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "cwts/cli/version.hpp"

namespace cwts::cli {

// Sets up `app` (named after the binary): --version prints "NAME VERSION", followed by `extra`
// when it is not empty; the help formatter; the failure message "NAME: WHAT" + a --help hint.
void setup(CLI::App& app, const std::string& extra_version = {});

// Parses the command line. nullopt: go on. Else the process's exit status: 0 after --help or
// --version (printed on stdout), `usage_status` after a usage error (printed on stderr).
std::optional<int> parse(CLI::App& app, int argc, char** argv, int usage_status = 2);

// A check for an option's value: a number >= 0 (the error names the option and the value).
const CLI::Validator& non_negative();

// A usage error found after parsing (flags that do not go together, a required flag or argument,
// ...). Required ones are checked here rather than with CLI11's ->required(): CLI11 checks those
// before the unknown flags, and "--config is required" would hide "--cofnig was not expected".:
// "NAME: MESSAGE" and the
// --help hint on stderr; returns `usage_status`.
int usage_error(const CLI::App& app, const std::string& message, int usage_status = 2);

}  // namespace cwts::cli
