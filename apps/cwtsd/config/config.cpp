// cwtsd's configuration: parse_config (the file's top-level sections and the checks across them)
// and load_config. Section is in config_parse.hpp, the values' parsers in config_values.cpp.
#include "config/config.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include <boost/asio/ip/address.hpp>
#include <simdjson.h>

#include "config/config_parse.hpp"
#include "cwts/core/ascii.hpp"
#include "cwts/feed/feed_client.hpp"
#include "cwts/md/frame.hpp"
#include "cwts/shm_layout/capacities.hpp"

namespace cwts::daemon {

ConfigError::ConfigError(std::string key, std::string reason)
    : std::runtime_error(key.empty() ? reason : key + ": " + reason),
      key_(std::move(key)),
      reason_(std::move(reason)) {}

const char* to_string(IdleStrategy s) noexcept {
  switch (s) {
    case IdleStrategy::kBusySpin:
      return "busy-spin";
    case IdleStrategy::kSpinThenYield:
      return "spin-then-yield";
    case IdleStrategy::kBlock:
      return "block";
  }
  return "?";
}

namespace {

using detail::element;
using detail::element_type;
using detail::parse_indicators;
using detail::parse_listen;
using detail::parse_mode;
using detail::parse_timeframe;
using detail::Section;
using detail::slot_section;
using detail::thread_section;
using detail::valid_symbol;

}  // namespace

Config parse_config(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  element root;
  if (auto err = parser.parse(padded).get(root); err != simdjson::SUCCESS) {
    throw ConfigError("", std::string("not valid JSON: ") + simdjson::error_message(err));
  }
  Config c;
  Section top(root, "");

  if (auto s = top.section("region")) {
    s->str("instance", c.region.instance, false);
    if (c.region.instance.size() > 31 ||
        c.region.instance.find_first_of("/ \t") != std::string::npos) {
      throw ConfigError("region.instance", "must be at most 31 characters without '/' or spaces");
    }
    s->choice("hugepages", c.region.hugepages,
              {{"auto", HugepageMode::kAuto},
               {"require", HugepageMode::kRequire},
               {"off", HugepageMode::kOff}});
    s->str("hugepage_dir", c.region.hugepage_dir);
    s->str("shm_dir", c.region.shm_dir, false);
    s->str("group", c.region.group);
    s->integer("max_symbols", c.region.max_symbols, 1, layout::kMaxSymbols);
    s->integer("max_slots", c.region.max_slots, 1, layout::kMaxSlots);
    s->integer("candle_history", c.region.candle_history, 1, layout::kMaxCandleHistory);
    // At least what was asked: the ring's slots are a power of two (ADR 0039).
    c.region.candle_history = std::bit_ceil(c.region.candle_history);
    s->integer("book_depth", c.region.book_depth, 1, layout::kMaxBookDepth);  // 0: the default
    std::string mode;
    s->str("market_mode", mode);
    if (!mode.empty()) c.region.market_mode = parse_mode("region.market_mode", mode);
    mode.clear();
    s->str("signals_mode", mode);
    if (!mode.empty()) c.region.signals_mode = parse_mode("region.signals_mode", mode);
    // Writable by anyone but the engine, the file could be truncated under the engine's mapping
    // (SIGBUS) or its intake state forged; strategies write only the slot memory the engine
    // hands them (ADR 0021).
    if ((c.region.signals_mode & 0022) != 0) {
      throw ConfigError("region.signals_mode",
                        "\"" + mode +
                            "\" lets other users write the signals region; strategies "
                            "only read it (their slots are handed over by the engine, ADR 0021): "
                            "use \"0640\"");
    }
    s->boolean("lock_pages", c.region.lock_pages);
    s->finish();
  }

  if (auto s = top.section("venue")) {
    s->choice("kind", c.venue.kind,
              {{"binance", VenueKind::kBinance}, {"paper", VenueKind::kPaper}});
    s->str("rest_url", c.venue.rest_url, false);
    s->str("ws_url", c.venue.ws_url, false);
    s->str("ws_api_url", c.venue.ws_api_url);
    s->choice("order_transport", c.venue.order_transport,
              {{"rest", OrderTransport::kRest}, {"ws", OrderTransport::kWs}});
    s->str("exchange_info_file", c.venue.exchange_info_file);
    s->str("api_key_env", c.venue.api_key_env);
    s->str("api_secret_env", c.venue.api_secret_env);
    s->str("api_key_file", c.venue.api_key_file);
    s->boolean("tls_verify", c.venue.tls_verify);
    s->str("ca_file", c.venue.ca_file);
    s->integer("recv_window_ms", c.venue.recv_window_ms, 1, 60000);
    s->integer("request_timeout_ms", c.venue.request_timeout_ms, 100, 120000);
    s->integer("order_poll_ms", c.venue.order_poll_ms, 10, 60000);
    s->integer("ws_api_silence_ms", c.venue.ws_api_silence_ms, 1000, 600000);
    s->integer("account_poll_ms", c.venue.account_poll_ms, 100, 600000);
    s->integer("connections", c.venue.connections, 1, 16);
    s->integer("paper_fee_bps", c.venue.paper_fee_bps, 0, 1000);
    s->choice("on_start", c.venue.on_start,
              {{"adopt", StartAction::kAdopt}, {"cancel", StartAction::kCancel}});
    s->finish();
  }

  if (auto s = top.section("market")) {
    if (auto e = s->get("symbols")) {
      if (e->type() != element_type::ARRAY) s->bad_type("symbols", *e, "an array of symbols");
      simdjson::dom::array arr;
      if (e->get_array().get(arr) != simdjson::SUCCESS) arr = {};
      for (auto v : arr) {
        if (v.type() != element_type::STRING) s->bad_type("symbols", v, "an array of strings");
        const std::string sym = core::ascii_upper(v.get_string().value_unsafe());
        if (!valid_symbol(sym)) {
          throw ConfigError("market.symbols", "\"" + sym + "\" is not a Binance symbol");
        }
        if (std::find(c.market.symbols.begin(), c.market.symbols.end(), sym) !=
            c.market.symbols.end()) {
          throw ConfigError("market.symbols", "\"" + sym + "\" is listed twice");
        }
        c.market.symbols.push_back(std::move(sym));
      }
    }
    if (auto e = s->get("streams")) {
      if (e->type() != element_type::ARRAY) s->bad_type("streams", *e, "an array of strings");
      c.market.streams.clear();
      simdjson::dom::array arr;
      if (e->get_array().get(arr) != simdjson::SUCCESS) arr = {};
      for (auto v : arr) {
        if (v.type() != element_type::STRING) s->bad_type("streams", v, "an array of strings");
        c.market.streams.emplace_back(v.get_string().value_unsafe());
      }
      if (c.market.streams.empty()) throw ConfigError("market.streams", "must not be empty");
    }
    if (auto e = s->get("timeframes")) {
      if (e->type() != element_type::ARRAY)
        s->bad_type("timeframes", *e, "an array such as [\"1m\"]");
      c.market.timeframes_s.clear();
      simdjson::dom::array arr;
      if (e->get_array().get(arr) != simdjson::SUCCESS) arr = {};
      for (auto v : arr) {
        if (v.type() != element_type::STRING) s->bad_type("timeframes", v, "an array of strings");
        c.market.timeframes_s.push_back(
            parse_timeframe("market.timeframes", v.get_string().value_unsafe()));
      }
      if (c.market.timeframes_s.size() > layout::kMaxTimeframes) {
        throw ConfigError("market.timeframes",
                          "at most " + std::to_string(layout::kMaxTimeframes) + " timeframes");
      }
    }
    s->integer("snapshot_limit", c.market.snapshot_limit, 5, 5000);
    s->boolean("indicator_history", c.market.indicator_history);
    s->finish();
  }
  if (auto e = top.get("indicators")) parse_indicators(*e, c);

  if (c.market.symbols.empty())
    throw ConfigError("market.symbols", "at least one symbol is required");
  // Past the snapshot's levels the engine knows a book only where a diff touched it: the region
  // never shows more of a book than the engine holds whole.
  if (c.region.book_depth == 0) {
    c.region.book_depth = static_cast<std::uint32_t>(
        std::min<std::size_t>(layout::kDefaultBookDepth, c.market.snapshot_limit));
  }
  if (c.region.book_depth > c.market.snapshot_limit) {
    throw ConfigError("region.book_depth",
                      std::to_string(c.region.book_depth) + " levels, deeper than the " +
                          std::to_string(c.market.snapshot_limit) +
                          " of market.snapshot_limit: the engine knows a book whole only as deep "
                          "as its snapshots (lower book_depth or raise snapshot_limit)");
  }
  if (c.region.max_symbols == 0) {
    c.region.max_symbols = static_cast<std::uint32_t>(std::clamp<std::size_t>(
        2 * c.market.symbols.size(), layout::kDefaultSymbols, layout::kMaxSymbols));
  }
  if (c.market.symbols.size() > feed::max_feed_symbols(c.market.streams.size())) {
    throw ConfigError("market.symbols",
                      std::to_string(c.market.symbols.size()) + " symbols with " +
                          std::to_string(c.market.streams.size()) +
                          " streams each: " + feed::feed_limit_reason(c.market.streams.size()));
  }
  if (c.market.symbols.size() > c.region.max_symbols) {
    throw ConfigError("market.symbols", std::to_string(c.market.symbols.size()) +
                                            " symbols, and the market region holds " +
                                            std::to_string(c.region.max_symbols) +
                                            " (region.max_symbols, at most " +
                                            std::to_string(layout::kMaxSymbols) + ")");
  }

  if (auto s = top.section("risk")) {
    s->decimal("max_order_notional", c.risk.max_order_notional.raw, md::kWireDecimals);
    s->decimal("max_position", c.risk.max_position.raw, md::kWireDecimals);
    s->integer("max_open_orders", c.risk.max_open_orders, 0, 1000000);
    s->integer("price_band_bps", c.risk.price_band_bps, 0, 100000);
    s->integer("default_ttl_ms", c.risk.default_ttl_ms, 1, 3600000);
    s->integer("max_ttl_ms", c.risk.max_ttl_ms, 1, 86400000);
    s->boolean("sell_account_holdings", c.risk.sell_account_holdings);
    s->integer("max_book_age_ms", c.risk.max_book_age_ms, 0, 3600000);
    s->choice("trading_state", c.risk.initial_state,
              {{"active", layout::TradingState::kActive},
               {"halted", layout::TradingState::kHalted},
               {"reduce_only", layout::TradingState::kReduceOnly}});
    if (auto per = s->section("symbols")) {
      for (auto field : per->raw()) {
        const std::string sym(field.key);
        if (std::find(c.market.symbols.begin(), c.market.symbols.end(), sym) ==
            c.market.symbols.end()) {
          throw ConfigError(per->path(sym), "not one of market.symbols");
        }
        Section o(field.value, per->path(sym));
        SymbolRiskOverride ov;
        ov.symbol = sym;
        if (auto e = o.get("max_order_notional")) {
          ov.max_order_notional =
              core::Notional{o.decimal_value("max_order_notional", *e, md::kWireDecimals)};
        }
        if (auto e = o.get("max_position")) {
          ov.max_position = core::Qty{o.decimal_value("max_position", *e, md::kWireDecimals)};
        }
        if (auto e = o.get("max_open_orders")) {
          ov.max_open_orders =
              static_cast<std::uint32_t>(o.int_value("max_open_orders", *e, 0, 1000000));
        }
        if (o.get("sell_account_holdings")) {
          bool allow = false;
          o.boolean("sell_account_holdings", allow);
          ov.sell_account_holdings = allow;
        }
        if (auto e = o.get("max_book_age_ms")) {
          ov.max_book_age_ms =
              static_cast<std::uint32_t>(o.int_value("max_book_age_ms", *e, 0, 3600000));
        }
        o.finish();
        c.risk_overrides.push_back(std::move(ov));
      }
      per->mark_all_known();
    }
    s->finish();
    if (c.risk.default_ttl_ms > c.risk.max_ttl_ms) {
      throw ConfigError("risk.default_ttl_ms", "must not exceed risk.max_ttl_ms");
    }
  }

  if (auto s = top.section("rate_limits")) {
    s->ratio("engine_share", c.rate.engine_share);
    s->ratio("slot_share", c.rate.slot_share);
    s->finish();
  }

  if (auto s = top.section("slots")) {
    // "default" first, so a numbered slot starts from it wherever it appears in the file.
    element def;
    if (s->raw().at_key("default").get(def) == simdjson::SUCCESS) {
      Section d(def, s->path("default"));
      slot_section(d, c.default_slot);
    }
    for (auto field : s->raw()) {
      const std::string_view k = field.key;
      if (k == "default") continue;
      char* end = nullptr;
      const std::string ks(k);
      const long idx = std::strtol(ks.c_str(), &end, 10);
      if (ks.empty() || *end != '\0' || idx < 0 || idx >= static_cast<long>(c.region.max_slots)) {
        throw ConfigError(s->path(k), "slot keys are \"default\" or an index 0.." +
                                          std::to_string(c.region.max_slots - 1) +
                                          " (region.max_slots)");
      }
      const auto i = static_cast<std::size_t>(idx);
      if (c.slots.size() <= i) c.slots.resize(i + 1, c.default_slot);
      Section slot(field.value, s->path(k));
      slot_section(slot, c.slots[i]);
    }
    s->mark_all_known();
  }

  if (auto s = top.section("threads")) {
    thread_section(*s, "md", c.md_thread);
    thread_section(*s, "exec", c.exec_thread, true);
    thread_section(*s, "ctl", c.ctl_thread);
    thread_section(*s, "gateway", c.gateway_thread);
    s->finish();
  }

  if (auto s = top.section("shutdown")) {
    s->choice("on_stop", c.shutdown.on_stop,
              {{"cancel", StopAction::kCancel}, {"leave", StopAction::kLeave}});
    s->integer("timeout_ms", c.shutdown.timeout_ms, 0, 600000);
    s->finish();
  }

  if (auto s = top.section("journal")) {
    s->str("dir", c.journal.dir);
    s->choice("fsync", c.journal.fsync,
              {{"none", JournalFsync::kNone},
               {"interval", JournalFsync::kInterval},
               {"always", JournalFsync::kAlways}});
    s->integer("interval_ms", c.journal.interval_ms, 1, 10000);
    s->integer("size_mb", c.journal.size_mb, 1, 65536);
    s->finish();
  }

  if (auto s = top.section("control")) {
    s->boolean("enabled", c.control.enabled);
    std::string listen;
    s->str("listen", listen);
    if (!listen.empty()) parse_listen(s->path("listen"), listen, c.control.address, c.control.port);
    s->str("token_file", c.control.token_file);
    s->boolean("allow_unauthenticated_reads", c.control.allow_unauthenticated_reads);
    s->str("tokens_file", c.control.tokens_file);
    s->integer("max_connections", c.control.max_connections, 1, 4096);
    s->integer("max_message_bytes", c.control.max_message_bytes, 1024, 16 << 20);
    s->integer("max_queued_bytes", c.control.max_queued_bytes, 64 << 10, 1 << 30);
    s->integer("remote_poll_us", c.control.remote_poll_us, 20, 100000);
    if (s->get("read_only_open")) {
      throw ConfigError(s->path("read_only_open"),
                        "replaced by allow_unauthenticated_reads (default false: every JSON-RPC "
                        "method needs the token; set it true to open the read-only ones on "
                        "loopback)");
    }
    s->str("tls_cert_file", c.control.tls_cert_file);
    s->str("tls_key_file", c.control.tls_key_file);
    if (c.control.tls_cert_file.empty() != c.control.tls_key_file.empty()) {
      const bool no_key = c.control.tls_key_file.empty();
      throw ConfigError(s->path(no_key ? "tls_key_file" : "tls_cert_file"),
                        "control.tls_cert_file and control.tls_key_file go together: set both "
                        "(TLS) or neither (plain HTTP on loopback)");
    }
    // Off loopback only over TLS: the token and the reports stream must not cross a network in
    // the clear (ADR 0018, 0023). Reads without the token stay a loopback-only convenience.
    boost::system::error_code ec;
    const auto addr = boost::asio::ip::make_address(c.control.address, ec);
    const bool loopback = !ec && addr.is_loopback();
    if (c.control.enabled && !loopback && !c.control.tls()) {
      throw ConfigError(s->path("listen"),
                        c.control.address +
                            " is not a loopback address: the control plane serves other "
                            "addresses only over TLS; set control.tls_cert_file and "
                            "control.tls_key_file (docs/operations.md), or listen on 127.0.0.1 "
                            "or ::1 and reach it through an SSH tunnel");
    }
    if (c.control.enabled && !loopback && c.control.allow_unauthenticated_reads) {
      throw ConfigError(s->path("allow_unauthenticated_reads"),
                        "true is allowed only on a loopback address: off this host every method "
                        "needs the token");
    }
    s->finish();
  }

  if (auto s = top.section("gateway")) {
    GatewayConfig& g = c.gateway;
    g.enabled = true;
    s->boolean("enabled", g.enabled);
    std::string listen;
    s->str("listen", listen);
    if (!listen.empty()) parse_listen(s->path("listen"), listen, g.address, g.port);
    s->boolean("allow_remote", g.allow_remote);
    g.slot = c.region.max_slots - 1;  // default: the region's last slot (15 of 16)
    s->integer("slot", g.slot, 0, c.region.max_slots - 1);
    s->str("api_key_env", g.api_key_env);
    s->str("api_secret_env", g.api_secret_env);
    s->str("api_key_file", g.api_key_file);
    s->integer("answer_timeout_ms", g.answer_timeout_ms, 100, 600000);
    s->integer("max_body_bytes", g.max_body_bytes, 1024, 1U << 20);
    boost::system::error_code ec;
    const auto addr = boost::asio::ip::make_address(g.address, ec);
    if (g.enabled && !g.allow_remote && !addr.is_loopback()) {
      throw ConfigError(s->path("listen"), g.address +
                                               " is not a loopback address: the gateway trades "
                                               "with the engine's keys; set allow_remote to "
                                               "listen there");
    }
    if (g.enabled && g.api_key_file.empty() &&
        (g.api_key_env.empty() || g.api_secret_env.empty())) {
      throw ConfigError(s->path("api_key_env"), "needs api_key_env/api_secret_env or api_key_file");
    }
    s->finish();
  }

  if (auto s = top.section("log")) {
    s->choice("level", c.log.level,
              {{"trace", std::string("trace")},
               {"debug", std::string("debug")},
               {"info", std::string("info")},
               {"warn", std::string("warn")},
               {"error", std::string("error")},
               {"off", std::string("off")}});
    s->str("file", c.log.file);
    s->integer("queue_size", c.log.queue_size, 64, 1 << 20);
    s->boolean("order_stages", c.log.order_stages);
    s->finish();
  }

  if (auto s = top.section("systemd")) {
    s->integer("progress_timeout_ms", c.systemd.progress_timeout_ms, 100, 600000);
    s->finish();
  }

  top.finish();

  if (c.venue.kind == VenueKind::kBinance && c.venue.api_key_file.empty() &&
      (c.venue.api_key_env.empty() || c.venue.api_secret_env.empty())) {
    throw ConfigError("venue.api_key_env",
                      "binance needs api_key_env/api_secret_env or api_key_file");
  }
  return c;
}

Config load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("", "cannot read config file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str());
}

}  // namespace cwts::daemon
