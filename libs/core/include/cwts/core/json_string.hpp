// JSON string escaping shared by every JSON writer and logger in the project.
#pragma once

#include <string>
#include <string_view>

namespace cwts::core {

// Appends `s` to `out` as a quoted JSON string: '"', '\\' and control characters escaped (RFC
// 8259); invalid UTF-8 bytes become U+FFFD, so the output is always valid JSON.
void append_json_string(std::string& out, std::string_view s);

}  // namespace cwts::core
