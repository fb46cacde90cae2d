// cwts::sim::JsonWriter is cwts::core::JsonWriter (moved to core: the control plane writes JSON too).
#pragma once

#include "cwts/core/json_writer.hpp"

namespace cwts::sim {
using core::JsonWriter;
using core::append_json_string;
}  // namespace cwts::sim
