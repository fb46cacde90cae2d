// SimServer: the network front of cwts-sim — the loopback acceptor, the market clock and fault
// injection (see sim_server.hpp); sessions in http_session.cpp and ws_session.cpp.
#include "sim_server.hpp"

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>

#include <boost/asio/post.hpp>
#include <simdjson.h>

#include "cwts/core/decimal.hpp"
#include "cwts/core/json_writer.hpp"
#include "json_log.hpp"
#include "rest_api.hpp"
#include "sim_server_impl.hpp"
#include "venue.hpp"

namespace cwts::sim_server {

using detail::Droppable;
using detail::steady_ms;
using detail::steady_ns;

// --- Server -----------------------------------------------------------------------------------

SimServer::Impl::Impl(SimServerConfig c) : cfg(std::move(c)) {
  if (cfg.listen_host != "127.0.0.1")
    throw std::invalid_argument("--listen: loopback only (127.0.0.1), got " + cfg.listen_host);
  set_clock_offset_ms(cfg.clock_offset_ms);
  Venue::Options vo;
  vo.exchange_info_path = cfg.exchange_info_path;
  vo.captures = cfg.captures;
  vo.synthetic = cfg.synthetic;
  vo.speed = cfg.speed;
  vo.loop = cfg.loop;
  vo.rebase_time = cfg.rebase_time;
  vo.rate = cfg.rate;
  vo.seed = cfg.seed;
  vo.balances = cfg.balances;
  vo.request_weight_limit = cfg.request_weight_limit;
  vo.bnb_fees = cfg.bnb_fees;
  venue = std::make_unique<Venue>(vo);
  rest = std::make_unique<RestApi>(*venue, binance::Credentials{cfg.api_key, cfg.api_secret});
  user_data = std::make_unique<UserDataHub>(venue->engine());
  if (!cfg.fault_json.empty()) {
    bool drop = false;
    std::string err;
    if (!apply_fault_json(cfg.fault_json, venue->faults(), steady_ms(), drop, err))
      throw std::invalid_argument("--fault: " + err);
  }
  if (cfg.server_shutdown_after_ms > 0) shutdown_at_ms = steady_ms() + cfg.server_shutdown_after_ms;
  const tcp::endpoint ep(net::ip::make_address_v4("127.0.0.1"), cfg.listen_port);
  acceptor.open(ep.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen();
  port = acceptor.local_endpoint().port();
}

void SimServer::Impl::start_accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket sock) {
    if (ec) {
      if (ec != net::error::operation_aborted)
        log_event(spdlog::level::warn, "net", "accept_failed",
                  LogFields().str("error", ec.message()));
      if (!stopping) start_accept();
      return;
    }
    sock.set_option(tcp::no_delay(true));
    detail::start_http_session(std::move(sock), *this);
    start_accept();
  });
}

void SimServer::Impl::schedule_market(std::int64_t at_ns) {
  auto step = [this](beast::error_code ec) {
    if (ec || stopping) return;
    schedule_market(venue->advance(steady_ns()));
  };
  if (at_ns <= steady_ns()) {
    net::post(ioc, [step] { step({}); });
    return;
  }
  market_timer.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(at_ns)));
  market_timer.async_wait(step);
}

void SimServer::Impl::schedule_tick() {
  tick_timer.expires_after(std::chrono::milliseconds(100));
  tick_timer.async_wait([this](beast::error_code ec) {
    if (ec || stopping) return;
    venue->on_100ms_tick(++tick_no, wall_ms());
    housekeeping();
    ws_sessions.remove_if([](const std::weak_ptr<Droppable>& w) { return w.expired(); });
    http_sessions.remove_if([](const std::weak_ptr<Droppable>& w) { return w.expired(); });
    schedule_tick();
  });
}

void SimServer::Impl::drop_all() {
  std::size_t n = 0, h = 0;
  for (auto& w : ws_sessions)
    if (auto s = w.lock()) {
      s->drop();
      ++n;
    }
  for (auto& w : http_sessions)
    if (auto s = w.lock()) {
      s->drop();
      ++h;
    }
  log_event(spdlog::level::info, "fault", "connections_dropped",
            LogFields()
                .num("count", static_cast<std::int64_t>(n))
                .num("http", static_cast<std::int64_t>(h)));
}

void SimServer::Impl::drop_streaming(std::string_view symbol) {
  std::size_t n = 0;
  for (auto& w : ws_sessions)
    if (auto s = w.lock(); s && s->streams_symbol(symbol)) {
      s->drop();
      ++n;
    }
  log_event(spdlog::level::info, "fault", "connections_dropped",
            LogFields().str("symbol", symbol).num("count", static_cast<std::int64_t>(n)));
}

void SimServer::Impl::expire_all(const char* why) {
  std::size_t n = 0;
  for (auto& w : ws_sessions)
    if (auto s = w.lock()) {
      s->expire();
      ++n;
    }
  log_event(spdlog::level::info, "ws", "connections_expired",
            LogFields().str("why", why).num("count", static_cast<std::int64_t>(n)));
}

void SimServer::Impl::announce_shutdown_all() {
  std::size_t n = 0;
  for (auto& w : ws_sessions)
    if (auto s = w.lock()) {
      s->announce_shutdown(wall_ms());
      ++n;
    }
  log_event(spdlog::level::info, "fault", "server_shutdown_sent",
            LogFields().num("count", static_cast<std::int64_t>(n)));
}

// Every 100 ms: one-shot faults set by JSON, periodic faults from flags, the connection lifetime.
void SimServer::Impl::housekeeping() {
  Faults& f = venue->faults();
  const std::int64_t now = steady_ms();
  if (f.server_shutdown) {
    f.server_shutdown = false;
    announce_shutdown_all();
  }
  if (shutdown_at_ms != 0 && now >= shutdown_at_ms) {
    shutdown_at_ms = 0;
    announce_shutdown_all();
  }
  if (f.expire_connections) {
    f.expire_connections = false;
    expire_all("fault");
  }
  if (cfg.drop_every_ms > 0 && now >= next_drop_ms) {
    if (next_drop_ms != 0) drop_all();
    next_drop_ms = now + cfg.drop_every_ms;
  }
  if (cfg.stall_every_ms > 0 && cfg.stall_ms > 0 && now >= next_stall_ms) {
    if (next_stall_ms != 0) {
      f.stall_until_ms = now + cfg.stall_ms;
      log_event(spdlog::level::info, "fault", "stall", LogFields().num("ms", cfg.stall_ms));
    }
    next_stall_ms = now + cfg.stall_every_ms;
  }
  if (cfg.max_connection_age.count() > 0) {
    for (auto& w : ws_sessions)
      if (auto s = w.lock()) {
        if (s->opened_ms() != 0 && now - s->opened_ms() >= cfg.max_connection_age.count())
          s->expire();
      }
  }
}

std::string SimServer::Impl::fault(std::string_view body, unsigned& status) {
  bool drop = false;
  std::string err;
  if (!apply_fault_json(body, venue->faults(), steady_ms(), drop, err)) {
    status = 400;
    core::JsonWriter w;
    w.begin_object().key("error").string(err).end_object();
    return std::move(w).str();
  }
  log_event(spdlog::level::info, "fault", "applied", LogFields().str("fault", body));
  if (drop) drop_all();
  if (Faults& f = venue->faults(); !f.drop_symbol.empty()) {
    drop_streaming(f.drop_symbol);
    f.drop_symbol.clear();
  }
  housekeeping();  // server_shutdown / expire_connections at once
  return "{}";
}

std::string SimServer::Impl::balance(std::string_view body, unsigned& status) {
  // {"asset":"BTC","delta":"-0.5"}: a deposit or withdrawal of the account's free balance, with
  // the user data stream's balanceUpdate and outboundAccountPosition.
  const auto error = [&status](const std::string& msg) {
    status = 400;
    core::JsonWriter w;
    w.begin_object().key("error").string(msg).end_object();
    return std::move(w).str();
  };
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(body.data(), body.size()).get_object().get(obj) != simdjson::SUCCESS)
    return error(R"(balance: expected a JSON object {"asset":..,"delta":..})");
  std::string_view asset;
  std::string_view delta_text;
  if (obj["asset"].get_string().get(asset) != simdjson::SUCCESS)
    return error(R"(balance: "asset" must be a string)");
  if (obj["delta"].get_string().get(delta_text) != simdjson::SUCCESS)
    return error(R"(balance: "delta" must be a decimal string such as "-0.5")");
  for (auto [key, value] : obj) {
    (void)value;
    if (key != "asset" && key != "delta")
      return error("balance: unknown member '" + std::string(key) + "'");
  }
  std::int64_t delta = 0;
  if (core::parse_fixed(delta_text, 8, delta) != core::DecimalErrc::kOk)
    return error(R"(balance: "delta" is not a decimal with at most 8 decimals)");
  std::string err;
  if (!user_data->apply_balance_delta(asset, delta, wall_ms(), err))
    return error("balance: " + err);
  const binance::Balance b = venue->engine().account().balance(asset);
  log_event(spdlog::level::info, "sim", "balance_changed",
            LogFields().str("asset", asset).str("delta", delta_text));
  core::JsonWriter w;
  w.begin_object().key("asset").string(asset).key("free").decimal(b.free);
  w.key("locked").decimal(b.locked).end_object();
  return std::move(w).str();
}

void SimServer::Impl::shutdown() {
  if (stopping.exchange(true)) return;
  log_event(spdlog::level::info, "server", "stopping");
  beast::error_code ec;
  acceptor.close(ec);
  market_timer.cancel(ec);
  tick_timer.cancel(ec);
  signals.cancel(ec);
  drop_all();
  ioc.stop();
}

SimServer::SimServer(SimServerConfig cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {}
SimServer::~SimServer() = default;

std::uint16_t SimServer::port() const noexcept { return impl_->port.load(); }

void SimServer::run() {
  Impl& s = *impl_;
  if (s.cfg.handle_signals) {
    s.signals.add(SIGTERM);
    s.signals.add(SIGINT);
    s.signals.async_wait([&s](beast::error_code ec, int sig) {
      if (ec) return;
      log_event(spdlog::level::info, "server", "signal", LogFields().num("signal", sig));
      s.shutdown();
    });
  }
  s.start_accept();
  s.schedule_market(steady_ns());
  s.schedule_tick();
  log_event(spdlog::level::info, "server", "ready",
            LogFields()
                .str("listen", "127.0.0.1:" + std::to_string(s.port.load()))
                .num("markets", static_cast<std::int64_t>(s.venue->markets().size())));
  std::printf("cwts-sim ready on 127.0.0.1:%u\n", static_cast<unsigned>(s.port.load()));
  std::fflush(stdout);
  s.ioc.run();
}

void SimServer::stop() noexcept {
  try {
    net::post(impl_->ioc, [this] { impl_->shutdown(); });
  } catch (...) {
    // posting can only fail on allocation; the process is going down anyway
  }
}

}  // namespace cwts::sim_server
