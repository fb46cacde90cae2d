// FeedConfig: the stream and snapshot targets a configuration asks for, and its checks.
#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <stdexcept>
#include <string>

#include "cwts/binance/rate_limits.hpp"
#include "cwts/core/ascii.hpp"
#include "cwts/feed/feed_client.hpp"
#include "cwts/net/endpoint.hpp"

namespace cwts::feed {

using std::chrono::milliseconds;

namespace {

[[noreturn]] void bad_config(const std::string& field, const std::string& why) {
  throw std::invalid_argument("feed config: " + field + ": " + why);
}

}  // namespace

std::string feed_limit_reason(const FeedConfig& cfg) {
  return feed_limit_reason(cfg.streams.size());
}

std::string feed_limit_reason(std::size_t streams_per_symbol) {
  const std::size_t most = max_feed_symbols(streams_per_symbol);
  if (most == md::kMaxPipelineSymbols) {
    return "the feed carries at most " + std::to_string(most) + " symbols";
  }
  return "the feed's " + std::to_string(kMaxConnections) + " connections of " +
         std::to_string(kMaxStreamsPerConnection) + " streams carry at most " +
         std::to_string(most) + " symbols";
}

std::size_t max_symbols_per_connection(const FeedConfig& cfg) noexcept {
  return cfg.streams.empty()
             ? md::kMaxPipelineSymbols
             : std::min(md::kMaxPipelineSymbols, kMaxStreamsPerConnection / cfg.streams.size());
}

std::size_t max_feed_symbols(const FeedConfig& cfg) noexcept {
  return max_feed_symbols(cfg.streams.size());
}

std::size_t max_feed_symbols(std::size_t streams_per_symbol) noexcept {
  const std::size_t per = kMaxStreamsPerConnection / std::max<std::size_t>(1, streams_per_symbol);
  return std::min(md::kMaxPipelineSymbols, kMaxConnections * per);
}

milliseconds connection_lifetime(const FeedConfig& cfg, std::size_t index) noexcept {
  const std::size_t i = std::min(index, kMaxConnections - 1);
  return cfg.max_connection_lifetime - cfg.max_connection_lifetime * static_cast<long>(i) /
                                           static_cast<long>(2 * kMaxConnections);
}

std::size_t connections_for(const FeedConfig& cfg) noexcept {
  const std::size_t per = max_symbols_per_connection(cfg);
  return std::max<std::size_t>(1, (cfg.symbols.size() + per - 1) / per);
}

std::string stream_target(const FeedConfig& cfg, std::size_t* in_target) {
  const net::Endpoint ep = net::parse_endpoint(cfg.ws_url, net::EndpointKind::kWebSocket);
  std::string t = ep.path + "/stream?streams=";
  std::size_t n = 0;
  for (const auto& sym : cfg.symbols) {
    const std::string l = core::ascii_lower(sym);
    std::string more;
    for (const auto& st : cfg.streams) {
      more += (n == 0 && more.empty()) ? "" : "/";
      more += l;
      more += '@';
      more += st;
    }
    if (n > 0 && t.size() + more.size() > kMaxStreamTargetBytes) break;
    t += more;
    ++n;
  }
  if (in_target != nullptr) *in_target = n;
  return t;
}

std::string depth_target(const FeedConfig& cfg, std::string_view symbol) {
  const net::Endpoint ep = net::parse_endpoint(cfg.rest_url, net::EndpointKind::kHttp);
  const char* path = cfg.venue == VenueKind::kSpot ? "/api/v3/depth" : "/fapi/v1/depth";
  return ep.path + path + "?symbol=" + core::ascii_upper(symbol) +
         "&limit=" + std::to_string(cfg.snapshot_limit);
}

std::uint32_t snapshot_weight(const FeedConfig& cfg) noexcept {
  return cfg.venue == VenueKind::kSpot ? binance::spot_depth_weight(cfg.snapshot_limit)
                                       : binance::usdm_depth_weight(cfg.snapshot_limit);
}

void validate(const FeedConfig& cfg) {
  try {
    (void)net::parse_endpoint(cfg.ws_url, net::EndpointKind::kWebSocket);
  } catch (const std::invalid_argument& e) {
    bad_config("ws_url", e.what());
  }
  try {
    (void)net::parse_endpoint(cfg.rest_url, net::EndpointKind::kHttp);
  } catch (const std::invalid_argument& e) {
    bad_config("rest_url", e.what());
  }
  if (cfg.symbols.empty()) bad_config("symbols", "at least one symbol is needed");
  for (std::size_t i = 0; i < cfg.symbols.size(); ++i) {
    const std::string& s = cfg.symbols[i];
    const std::string field = "symbols[" + std::to_string(i) + "] '" + s + "'";
    if (s.empty() || s.size() >= sizeof(md::SymbolState::name))
      bad_config(field, "1-15 characters");
    for (char c : s) {
      if (!std::isalnum(static_cast<unsigned char>(c)))
        bad_config(field, "letters and digits only");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (core::ascii_upper(cfg.symbols[j]) == core::ascii_upper(s))
        bad_config(field, "listed twice");
    }
  }
  if (cfg.streams.empty()) bad_config("streams", "at least one stream per symbol is needed");
  for (std::size_t i = 0; i < cfg.streams.size(); ++i) {
    const std::string& s = cfg.streams[i];
    if (s.empty() || s.find_first_of("/?&# ") != std::string::npos) {
      bad_config("streams[" + std::to_string(i) + "] '" + s + "'",
                 "empty or contains / ? & # or space");
    }
  }
  // Binance: at most 1024 streams per connection; the feed opens kMaxConnections at most, and
  // the pipeline's symbol table holds kMaxPipelineSymbols.
  if (cfg.symbols.size() > max_feed_symbols(cfg)) {
    bad_config("symbols", std::to_string(cfg.symbols.size()) + " symbols with " +
                              std::to_string(cfg.streams.size()) +
                              " streams each: " + feed_limit_reason(cfg));
  }
  if (cfg.venue == VenueKind::kSpot) {
    if (cfg.snapshot_limit < 1 || cfg.snapshot_limit > 5000) {
      bad_config("snapshot_limit", "spot allows 1-5000");
    }
  } else {
    constexpr std::array<std::uint32_t, 7> kAllowed = {5, 10, 20, 50, 100, 500, 1000};
    if (std::find(kAllowed.begin(), kAllowed.end(), cfg.snapshot_limit) == kAllowed.end()) {
      bad_config("snapshot_limit", "USD-M allows 5, 10, 20, 50, 100, 500 or 1000");
    }
  }
  const auto positive = [](const char* field, milliseconds v) {
    if (v.count() <= 0) bad_config(field, "must be > 0");
  };
  positive("silence_timeout", cfg.silence_timeout);
  positive("max_connection_lifetime", cfg.max_connection_lifetime);
  positive("connect_timeout", cfg.connect_timeout);
  positive("close_timeout", cfg.close_timeout);
  positive("rest_timeout", cfg.rest_timeout);
  if (cfg.snapshot_min_spacing.count() < 0) bad_config("snapshot_min_spacing", "must be >= 0");
  if (cfg.max_frame_bytes < 4096) bad_config("max_frame_bytes", "must be >= 4096");
  try {
    Backoff b(cfg.backoff);
  } catch (const std::invalid_argument& e) {
    bad_config("backoff", e.what());
  }
}

}  // namespace cwts::feed
