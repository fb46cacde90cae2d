// Gateway's private state, shared by its translation units (gateway.cpp: the thread, the order
// endpoints and the report loop; market_endpoints.cpp: public market data and venue look-ups).
// Gateway thread only, except VenueFetcher's worker.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "config/config.hpp"
#include "cwts/binance/exchange_info.hpp"
#include "cwts/binance/kline.hpp"
#include "cwts/binance/request.hpp"
#include "cwts/binance/stream_control.hpp"
#include "cwts/concurrent/broadcast_ring.hpp"
#include "cwts/concurrent/record_ring.hpp"
#include "cwts/net/hmac.hpp"
#include "cwts/net/http_server.hpp"
#include "cwts/shm/region.hpp"
#include "cwts/shm_layout/market_region.hpp"
#include "cwts/shm_layout/signal_region.hpp"
#include "gateway/gateway.hpp"
#include "gateway/gateway_journal.hpp"
#include "gateway/gateway_orders.hpp"

namespace cwts::daemon {

class Engine;

// GETs to the venue's public REST API on one worker thread (never on the gateway thread: a
// look-up takes a round trip). Each answer is posted back to the gateway's io_context.
class VenueFetcher {
 public:
  using Done = std::function<void(bool ok, std::string body)>;
  // A 429/418 answer holds every venue request of `engine`; the look-ups queued behind it fail.
  VenueFetcher(boost::asio::io_context& ioc, const VenueConfig& venue, Engine& engine);
  ~VenueFetcher();
  VenueFetcher(const VenueFetcher&) = delete;
  VenueFetcher& operator=(const VenueFetcher&) = delete;
  // `target`: "/api/v3/klines?symbol=...". At most kMaxQueued waiting; beyond, fails at once.
  void get(std::string target, Done done);
  static constexpr std::size_t kMaxQueued = 64;

 private:
  void work();
  boost::asio::io_context& ioc_;
  VenueConfig venue_;
  Engine& engine_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, Done>> queue_;
  bool stop_ = false;
  std::thread worker_;
};

using Reply = net::HttpServer::Reply;

// One market-stream subscription of a WebSocket client and what was last sent for it.
struct StreamSub {
  std::string text;  // the name as subscribed (LIST_SUBSCRIPTIONS, combined frames)
  binance::StreamName name;
  std::size_t symbol = 0;  // engine symbol id
  int timeframe = -1;      // kline: index in the region's timeframes
  std::uint64_t last_id = 0;
  std::int64_t last_sent_ms = 0;
  std::uint64_t closed_seq = 0;  // kline: last closed candle sent (ring sequence)
  layout::Candle last_live{};
};

// A client of /ws or /stream.
struct StreamClient {
  std::shared_ptr<net::WsConnection> conn;
  bool combined = false;
  std::vector<StreamSub> subs;
};

// A region candle as Binance's kline (no quote volume or taker split: the engine does not keep
// them; they are 0).
[[nodiscard]] binance::Kline kline_of(const layout::Candle& c, std::uint32_t timeframe_s);

struct Gateway::Impl {
  Impl(const Config& cfg, Engine& engine, Credentials creds);

  // Gateway::start, before the thread: claims cfg.gateway.slot (its signal ring and report ring,
  // the events) and arms the report poll. Throws std::runtime_error if the slot is held.
  void claim_slot();

  // --- gateway thread -------------------------------------------------------------------------
  void handle(net::HttpServerRequest&& req, Reply reply);
  // Public market data (market_endpoints.cpp). False if `path` is not one of them.
  bool market_endpoint(std::string_view path, std::string_view raw_query, const binance::Request& r,
                       Reply& reply);
  void forward_to_venue(std::string target, std::uint32_t weight, Reply reply);
  // GET /api/v3/exchangeInfo (venue_markets.cpp): the venue's markets (read-only, cached for
  // kVenueMarketsTtlMs) with the engine's symbols as the engine has them.
  void exchange_info(const binance::Request& r, Reply reply);
  // Runs `then` with venue_markets as fresh as it can be had: at once if fetched less than
  // kVenueMarketsTtlMs ago (or the last fetch failed less than kVenueMarketsRetryMs ago), else
  // after one fetch, shared by every request that waits for it.
  void with_venue_markets(std::function<void()> then);
  // The Binance error for an order on `symbol`, which the engine does not trade (-1121).
  [[nodiscard]] binance::ApiError not_traded(std::string_view symbol) const;
  // Signed endpoints (gateway.cpp).
  void place(const binance::Request& r, bool test, Reply reply);
  void cancel(const binance::Request& r, Reply reply);
  void cancel_all(const binance::Request& r, Reply reply);
  void query(const binance::Request& r, Reply reply);
  void open_orders(const binance::Request& r, Reply reply);
  void all_orders(const binance::Request& r, Reply reply);
  void my_trades(const binance::Request& r, Reply reply);
  void account(const binance::Request& r, Reply reply);

  // Market streams (gateway_streams.cpp).
  net::WsHandlers open_stream(const net::HttpServerRequest& req,
                              std::shared_ptr<net::WsConnection> conn);
  void on_stream_message(StreamClient& c, std::string_view text);
  // The stream `name` if the engine serves it (symbol, kind, held timeframe).
  [[nodiscard]] std::optional<StreamSub> resolve_stream(std::string_view name) const;
  void pump_streams();
  void send_stream(StreamClient& c, const StreamSub& s, std::string_view payload);

  // Reports -> order store -> waiting answers; re-arms itself.
  void poll();
  void arm_poll();
  bool push_signal(layout::Signal s);
  struct Waiter;
  std::uint64_t send_cancel(GatewayOrder& g, std::string cancel_cid);
  void wait_for(Waiter w, Reply reply);
  [[nodiscard]] int symbol_id(std::string_view name) const noexcept;
  // Gateway thread, before each request and stream subscription: symbols the engine added since
  // (symbols.add, ADR 0025) join info, json, names and quotes (reserved for kMaxSymbols).
  void follow_symbols();

  Config cfg;
  Engine& engine;
  binance::Credentials creds;
  net::HmacSha256 secret{""};       // creds.secret_key's key schedule, made once
  binance::ExchangeInfo info;       // the engine's symbols only (what the gateway accepts)
  binance::ExchangeInfoJson json;   // their objects as the venue wrote them
  std::vector<std::string> names;   // symbol id -> name
  std::vector<std::string> quotes;  // symbol id -> quote asset
  const layout::MarketRegion& market;

  boost::asio::io_context ioc;
  std::optional<net::HttpServer> server;
  std::uint16_t port = 0;
  boost::asio::steady_timer poll_timer{ioc};
  std::optional<VenueFetcher> fetcher;
  std::thread thread;

  std::uint32_t slot = 0;
  std::uint64_t claim = 0;
  std::optional<concurrent::RecordProducer<layout::Signal, layout::kSignalRingCapacity>> producer;
  std::optional<concurrent::RecordConsumer<layout::ExecReport, layout::kReportRingCapacity>>
      consumer;
  std::uint64_t next_seq = 1;
  GatewayOrders orders;
  GatewayJournal journal;  // the client ids of its orders, across restarts

  // A client waiting for the engine: an order (until the venue answered, or until final for
  // MARKET/IOC/FOK) or cancels (until each is final).
  struct Waiter {
    bool place = true;
    std::uint64_t seq = 0;                   // the order's signal (place)
    std::vector<std::uint64_t> cancel_seqs;  // the cancel signals (cancel, cancel_all)
    binance::RespType resp = binance::RespType::kFull;
    bool until_final = false;
    bool list = false;  // DELETE /api/v3/openOrders: an array
    std::int64_t deadline_ms = 0;
    Reply reply;
  };
  std::vector<Waiter> waiters;
  std::vector<std::shared_ptr<StreamClient>> stream_clients;
  // The gateway thread's copy of a book (a depth answer's or a depth stream's), made at its first
  // use: as deep as the region's books may be (ADR 0042), it is not made per request.
  std::unique_ptr<layout::BookTop> book_copy;
  layout::BookTop& book_scratch() {
    if (!book_copy) book_copy = std::make_unique<layout::BookTop>();
    return *book_copy;
  }
  std::optional<concurrent::BroadcastReader<layout::Event, layout::kEventRingCapacity>> events;
  // Venue klines answers that can no longer change (every candle closed), by request target;
  // the oldest go first.
  static constexpr std::size_t kKlineCacheEntries = 512;
  std::map<std::string, std::string> kline_cache;
  std::deque<std::string> kline_cache_order;
  // The venue's markets as its exchangeInfo listed them (name, object), the last good answer.
  static constexpr std::int64_t kVenueMarketsTtlMs = 60'000;
  static constexpr std::int64_t kVenueMarketsRetryMs = 10'000;
  static constexpr std::uint32_t kExchangeInfoWeight = 20;
  std::vector<std::pair<std::string, std::string>> venue_markets;
  std::int64_t venue_markets_ms = 0;         // when fetched; 0: never
  std::int64_t venue_markets_failed_ms = 0;  // when a fetch last failed (or was not allowed)
  bool venue_markets_pending = false;
  std::vector<std::function<void()>> venue_markets_waiters;
  std::string port_file;
  bool started = false;
};

// The JSON error body and its HTTP status (with Retry-After for 429).
void reply_error(Reply& reply, const binance::ApiError& e);
void reply_json(Reply& reply, std::string body);

}  // namespace cwts::daemon
