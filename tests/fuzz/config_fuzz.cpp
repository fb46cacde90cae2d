// libFuzzer target: arbitrary text as cwtsd's configuration document (parse_config, what
// load_config and a SIGHUP reload run on the file's text), then the derived venue URL. Every input
// must give a Config or a ConfigError naming what is wrong; any other exception, a crash or a
// sanitizer report is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const cwts::daemon::Config c = cwts::daemon::parse_config(text);
    (void)cwts::daemon::effective_ws_api_url(c.venue);
    for (std::size_t i = 0; i <= c.slots.size(); ++i) (void)c.slot(i);
  } catch (const cwts::daemon::ConfigError& e) {
    if (std::string_view(e.what()).empty()) __builtin_trap();  // an error names what is wrong
  }
  return 0;
}
