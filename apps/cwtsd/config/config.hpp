// cwtsd's configuration: one JSON file, parsed strictly (an unknown key is an error), every error
// naming the key path and the reason. See docs/configuration.md.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cwts/core/money.hpp"
#include "cwts/publish/shm_publisher.hpp"
#include "cwts/shm_layout/capacities.hpp"
#include "cwts/shm_layout/types.hpp"

namespace cwts::daemon {

// A configuration error: `key` is the dotted path ("risk.max_open_orders", "threads.md.core"),
// `reason` says what is wrong with it. what() is "<key>: <reason>".
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string key, std::string reason);
  [[nodiscard]] const std::string& key() const noexcept { return key_; }
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

 private:
  std::string key_;
  std::string reason_;
};

enum class IdleStrategy : std::uint8_t {
  kBusySpin,       // never sleeps: lowest latency, one core at 100 %
  kSpinThenYield,  // spins, then sched_yield, then short sleeps when idle for long
  kBlock,          // sleeps up to 1 ms between polls (laptops, CI)
};
[[nodiscard]] const char* to_string(IdleStrategy s) noexcept;

struct ThreadConfig {
  int core = -1;  // CPU to pin to; -1 = not pinned
  IdleStrategy idle = IdleStrategy::kBlock;
  // exec only: while its loop spins idle (busy-spin; spin-then-yield before it sleeps), every
  // warm_us it goes through a new order's request without sending it (VenueClient::warm), so the
  // next order finds its code and data in the caches. 0 = never.
  std::uint32_t warm_us = 20;
};

enum class VenueKind : std::uint8_t { kBinance, kPaper };
enum class HugepageMode : std::uint8_t { kAuto, kRequire, kOff };
enum class StopAction : std::uint8_t { kCancel, kLeave };
// Orders of an earlier run still open on the venue at start (from the journal).
enum class StartAction : std::uint8_t { kAdopt, kCancel };
// How orders reach a binance venue: REST, or the WebSocket API session (REST while it is down).
enum class OrderTransport : std::uint8_t { kRest, kWs };
enum class JournalFsync : std::uint8_t { kNone, kInterval, kAlways };

struct RegionConfig {
  std::string instance = "default";
  HugepageMode hugepages = HugepageMode::kAuto;
  std::string hugepage_dir = "/dev/hugepages";
  std::string shm_dir = "/dev/shm";
  std::string group;  // owning group of the region files ("" = the process's)
  std::uint32_t market_mode = 0640;
  std::uint32_t signals_mode = 0640;
  bool lock_pages = true;
  // Capacities of the market region, fixed for its life (ADR 0035). max_symbols: the configured
  // symbols and those symbols.add may add; 0 in the file = twice the configured symbols, at
  // least 64 (layout::kDefaultSymbols), at most 1024. max_slots: signal slots, 1..64.
  std::uint32_t max_symbols = 0;
  std::uint32_t max_slots = layout::kDefaultSlots;
  // Closed candles kept per symbol and timeframe (ADR 0039): 1..16384, rounded up to a power of
  // two. 64 bytes each, so 1,000 symbols on two timeframes at 1,024 candles is 131 MB of candles.
  std::uint32_t candle_history = layout::kDefaultCandleHistory;
  // Levels a side of each symbol's book in the region (ADR 0042): 1..1000, at most
  // market.snapshot_limit (deeper, the engine's book is not whole); 0 in the file = 20, or the
  // snapshot_limit if less. 32 bytes a level (16 a side), so 1,000 symbols at 1,000 levels is
  // 32 MB of books; the md thread writes a book's levels on every change of its top, so a deeper
  // book costs every depth update more.
  std::uint32_t book_depth = 0;
};

struct VenueConfig {
  VenueKind kind = VenueKind::kPaper;
  std::string rest_url = "https://api.binance.com";
  std::string ws_url = "wss://stream.binance.com:9443";
  // The WebSocket API (user data stream, and orders with order_transport ws): "auto" = the URL
  // Binance pairs with rest_url (cwts-sim: the same port), "" = none (fills polled over REST).
  std::string ws_api_url = "auto";
  OrderTransport order_transport = OrderTransport::kRest;
  std::string exchange_info_file;  // "" = GET /api/v3/exchangeInfo at start-up
  std::string api_key_env = "CWTS_API_KEY";
  std::string api_secret_env = "CWTS_API_SECRET";
  std::string api_key_file;  // alternative: a file "KEY\nSECRET\n", mode 0600 or stricter
  bool tls_verify = true;
  std::string ca_file;
  std::uint32_t recv_window_ms = 5000;
  std::uint32_t request_timeout_ms = 5000;
  std::uint32_t order_poll_ms = 500;        // polls resting orders for fills
  std::uint32_t ws_api_silence_ms = 60000;  // the WebSocket API session: dead when this silent
  std::uint32_t account_poll_ms = 5000;     // balances (and the positions-against-balances check)
  std::uint32_t connections = 2;            // kept-alive REST connections
  std::int64_t paper_fee_bps = 10;          // paper venue: fee per fill in basis points of notional
  StartAction on_start = StartAction::kAdopt;  // earlier runs' open orders: track or cancel
};

// The durable order journal (docs/journal.md). dir "" = $STATE_DIRECTORY (set by systemd's
// StateDirectory=) if set, else no journal (a warning at start: a restart forgets its orders).
struct JournalConfig {
  std::string dir;
  JournalFsync fsync = JournalFsync::kInterval;
  std::uint32_t interval_ms = 10;
  std::uint32_t size_mb = 64;
};

struct MarketConfig {
  std::vector<std::string> symbols;  // upper case
  std::vector<std::string> streams = {"depth@100ms", "bookTicker", "aggTrade"};
  std::vector<std::uint32_t> timeframes_s = {60, 300};
  std::uint32_t snapshot_limit = 1000;
  // Seed the indicators (and the closed-candle history) from GET /api/v3/klines at start-up.
  bool indicator_history = true;
  // Not read from the file: what the engine found at start beyond `symbols` (kept_symbols.hpp),
  // appended to `symbols` in this order. Added at run time earlier (they trade) ...
  std::vector<std::string> added_at_run_time;
  // ... and only in the order journal's open orders (tracked until over, not traded).
  std::vector<std::string> kept_for_orders;
};

// Risk limits. Decimal amounts are written as JSON strings ("0.5"), exactly as Binance sends
// them, and held at md::kWireDecimals / kQtyDecimals.
struct RiskConfig {
  core::Notional max_order_notional{};  // 0 = no limit
  core::Qty max_position{};             // |base|; 0 = no limit
  std::uint32_t max_open_orders = 10;   // per symbol
  std::uint32_t price_band_bps = 500;   // limit price within this of the mid; 0 = no band
  std::uint32_t default_ttl_ms = 5000;
  std::uint32_t max_ttl_ms = 60000;
  // A spot sell may sell more than the engine holds (the account's other holdings); false: a sell
  // needs the engine's position, less the sells already open (NO_INVENTORY).
  bool sell_account_holdings = false;
  std::uint32_t max_book_age_ms = 5000;  // market data older than this: BOOK_STALE; 0 = off
  layout::TradingState initial_state = layout::TradingState::kActive;
};

struct SymbolRiskOverride {
  std::string symbol;
  std::optional<core::Notional> max_order_notional;
  std::optional<core::Qty> max_position;
  std::optional<std::uint32_t> max_open_orders;
  std::optional<bool> sell_account_holdings;
  std::optional<std::uint32_t> max_book_age_ms;
};

struct RateConfig {
  double engine_share = 0.8;  // of each venue limit from exchangeInfo.rateLimits
  double slot_share = 0.5;    // of the engine's budget, per slot
};

struct SlotConfig {
  bool trade = true;         // may send orders at all
  bool reduce_only = false;  // only orders that reduce the position
  // When its holder leaves (closes the slot, dies, or a remote connection drops): its open orders
  // stay working ("keep": their reports wait for the next holder) or are cancelled ("cancel").
  bool cancel_on_release = false;
  // Who may claim the slot (ADR 0021): a process whose uid is in `users` or whose primary or
  // supplementary group is in `groups`. Both empty: anyone who can reach the claim socket (the
  // strategy group). Names are resolved when the configuration is loaded.
  std::vector<std::uint32_t> users;
  std::vector<std::uint32_t> groups;
};

struct ShutdownConfig {
  StopAction on_stop = StopAction::kCancel;  // open orders at SIGTERM
  std::uint32_t timeout_ms = 5000;           // for cancels and final reports
};

struct LogConfig {
  std::string level = "info";
  std::string file;  // "" = stderr (journald)
  std::uint32_t queue_size = 8192;
  // Each order's time through the exec thread's stages, stamped (four clock reads per order, the
  // last 65,536 orders kept) and logged per stage at shutdown ("order_stage"): where the signal ->
  // order bytes latency goes. Off by default: the stamps cost ~0.1 us per order.
  bool order_stages = false;
};

// The control plane (ctl thread): GET /metrics, /healthz, /readyz and JSON-RPC at /ws on an HTTP
// port: plain HTTP on loopback, or TLS (https, wss) with tls_cert_file and tls_key_file, which any
// address other than loopback requires (ADR 0018, 0023).
struct ControlConfig {
  bool enabled = true;
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0 = an ephemeral port, written to <shm_dir>/cwts-<instance>.control
  // The bearer token every JSON-RPC method needs. "" = cwtsd generates one at each start into
  // <shm_dir>/cwts-<instance>.token (owner-only; cwtsctl finds it by instance).
  std::string token_file;
  // Read-only methods (status, symbols, risk.get, slots, subscribe: the reports stream) without
  // the token. Off unless the operator says so; mutations always need the token.
  bool allow_unauthenticated_reads = false;
  // More clients, each with the scopes it may use (read, trade on named slots, admin): one line
  // per client, "NAME SCOPES TOKEN", owner-only (docs/remote.md). "" = only the control token.
  std::string tokens_file;
  std::uint32_t max_connections = 64;        // HTTP and WebSocket together
  std::uint32_t max_message_bytes = 65536;   // one incoming WebSocket message
  std::uint32_t max_queued_bytes = 4 << 20;  // unsent to one client: past this it is dropped
  // Remote strategies' market data and reports are polled from the market region this often.
  std::uint32_t remote_poll_us = 200;
  // TLS: the certificate chain (PEM, leaf first) and its private key (PEM, owner-only like the
  // token file). Both or neither; required when `address` is not loopback.
  std::string tls_cert_file;
  std::string tls_key_file;

  [[nodiscard]] bool tls() const noexcept { return !tls_cert_file.empty(); }
};

// What a control plane client may do (ADR 0024). The control token has every scope.
struct ControlScopes {
  bool read = false;        // the read-only methods and market data
  bool admin = false;       // the mutating methods; implies read and trade on every slot
  std::uint64_t trade = 0;  // bit N: may claim signal slot N and submit through it

  [[nodiscard]] bool can_read() const noexcept { return read || admin || trade != 0; }
  [[nodiscard]] bool can_trade(std::uint32_t slot) const noexcept {
    return admin || (slot < 64 && ((trade >> slot) & 1U) != 0);
  }
};

struct ControlToken {
  std::string name;  // who, for the logs and `slots` (never the token)
  std::string token;
  ControlScopes scopes;
};

// control.tokens_file's clients (owner-only file; "#" starts a comment; scopes are a comma list of
// read, admin, trade:N, trade:*). Empty without the key. Throws ConfigError naming the file and
// line, never a token.
[[nodiscard]] std::vector<ControlToken> load_control_tokens(const ControlConfig& c);

// The control token from control.token_file (mode 0600 or stricter, one line). "" when no file
// is configured (the caller then generates one). Throws ConfigError naming the file (never the
// token).
[[nodiscard]] std::string load_control_token(const ControlConfig& c);

// With control TLS configured: the key file is owner-only (the token file's checks), and the
// certificate chain and key load and belong together. Throws ConfigError naming the key and the
// file. Nothing to do without TLS.
void check_control_tls(const ControlConfig& c);

// A fresh random control token (32 bytes from OpenSSL's RAND_bytes, hex), written to
// `path` as "<token>\n" in a file created owner-only (0600, O_EXCL|O_NOFOLLOW: a file or link
// someone else left there is refused, never followed or reused; one this user left behind by a
// crash is replaced). Returns the token. Throws std::runtime_error naming the path (never the
// token).
[[nodiscard]] std::string write_generated_control_token(const std::string& path);

// The gateway (gateway thread): Binance spot's REST protocol on a local port, so FreqTrade's ccxt
// client (or any Binance client) trades through the engine. See docs/gateway.md.
struct GatewayConfig {
  bool enabled = false;  // on when the "gateway" section is present, unless "enabled": false
  std::string address = "127.0.0.1";
  std::uint16_t port = 8090;
  bool allow_remote = false;  // a non-loopback listen address is refused unless this is true
  std::uint32_t slot = 15;    // the signal slot its orders go through (its policy and rate share)
  std::string api_key_env = "CWTS_GATEWAY_API_KEY";
  std::string api_secret_env = "CWTS_GATEWAY_API_SECRET";
  std::string api_key_file;                 // alternative: "KEY\nSECRET\n", owner-only
  std::uint32_t answer_timeout_ms = 10000;  // no venue answer by then: -1007, status unknown
  std::uint32_t max_body_bytes = 16384;
};

struct SystemdConfig {
  std::uint32_t progress_timeout_ms = 2000;  // md/exec heartbeats older than this stop WATCHDOG=1
};

struct Config {
  RegionConfig region;
  VenueConfig venue;
  MarketConfig market;
  std::vector<publish::IndicatorSpec> indicators;  // "indicators": computed on closed candles
  RiskConfig risk;
  std::vector<SymbolRiskOverride> risk_overrides;
  RateConfig rate;
  std::vector<SlotConfig> slots;  // index = slot; slots past the list use `default_slot`
  SlotConfig default_slot;
  ThreadConfig md_thread, exec_thread, ctl_thread;
  ThreadConfig gateway_thread;  // its HTTP/WebSocket server (block = epoll; busy-spin = polls)
  ShutdownConfig shutdown;
  JournalConfig journal;
  LogConfig log;
  SystemdConfig systemd;
  ControlConfig control;
  GatewayConfig gateway;

  [[nodiscard]] const SlotConfig& slot(std::size_t i) const noexcept {
    return i < slots.size() ? slots[i] : default_slot;
  }
};

// Binance's interval name of a timeframe in seconds ("1m" for 60), or "" if there is none.
[[nodiscard]] const char* interval_name(std::uint32_t seconds) noexcept;

// Parses and validates a configuration document. Throws ConfigError.
[[nodiscard]] Config parse_config(std::string_view json);
// Reads and parses a file. Throws ConfigError (key "" for I/O errors).
[[nodiscard]] Config load_config(const std::string& path);

// API credentials, from the environment or the key file. Throws ConfigError naming the variable or
// file (never the secret). Required only for venue.kind = binance.
struct Credentials {
  std::string key;
  std::string secret;
};
[[nodiscard]] Credentials load_credentials(const VenueConfig& v);

// The WebSocket API URL the venue uses: ws_api_url, or for "auto" the one Binance pairs with
// rest_url (api*.binance.com -> wss://ws-api.binance.com:443/ws-api/v3, testnet.binance.vision ->
// its ws-api host, anything else such as cwts-sim -> ws(s)://host:port<path>/ws-api/v3); "" =
// none. Throws ConfigError if rest_url does not parse.
[[nodiscard]] std::string effective_ws_api_url(const VenueConfig& v);
// The gateway's own key pair (what its clients sign with), never the venue's. Same rules.
[[nodiscard]] Credentials load_gateway_credentials(const GatewayConfig& g);

}  // namespace cwts::daemon
