// ShmPublisher end to end: the real NKNUSDT capture replayed into a real market region, then read
// back through a read-only attach as a strategy would; and a capture with a gap.
#include "cwts/publish/shm_publisher.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "cwts/core/clock.hpp"
#include "cwts/core/decimal.hpp"
#include "cwts/md/frame_parser.hpp"
#include "cwts/md/replay.hpp"
#include "cwts/shm/region.hpp"

namespace {

namespace md = cwts::md;
namespace binance = cwts::binance;
namespace publish = cwts::publish;
namespace layout = cwts::layout;
namespace cc = cwts::concurrent;
namespace fs = std::filesystem;
using cwts::shm::Access;
using cwts::shm::Region;
using cwts::shm::RegionOptions;

const std::string kData = CWTS_TEST_DATA;
const std::string kNkn = kData + "/spot_nknusdt_2021-10-12.capture";
constexpr std::uint64_t kFinalUpdateId = 499870179;  // expected_books.json NKNUSDT final_u
constexpr std::int64_t kMinuteOpen = 1633998480000;  // the capture's kline_1m open time
constexpr std::int64_t kNsPerMs = 1'000'000;

std::int64_t px(std::string_view s) {
  std::int64_t v = 0;
  EXPECT_EQ(cwts::core::parse_fixed(s, md::kWireDecimals, v), cwts::core::DecimalErrc::kOk) << s;
  return v;
}

const binance::ExchangeInfo& info2021() {
  static const binance::ExchangeInfo info = binance::load_exchange_info(
      kData + "/binance_spot_exchangeInfo_full_cryptofeed_2021.json.gz");
  return info;
}

// What the publisher should have written, worked out independently from the pipeline's own book
// as the replay goes: the expected event sequence and the data behind it.
class Tee : public md::MarketSink {
 public:
  struct Expected {
    layout::EventKind kind;
    std::uint64_t update_id;
    std::int64_t exchange_ns;
    std::int64_t receive_ns;
  };

  explicit Tee(publish::ShmPublisher& pub) : pub_(pub) {}

  void on_book(const md::SymbolState& s, const md::FrameMeta& m, std::int64_t e) override {
    pub_.on_book(s, m, e);
    note_quote_from_book(s);
    if (top_changed(s))
      expected.push_back(
          {layout::EventKind::kBook, s.sync.update_id(), e * kNsPerMs, m.receive_ns});
    last_book_receive_ns = m.receive_ns;
    last_book_exchange_ms = e;
  }
  void on_book_validity(const md::SymbolState& s, bool valid, const md::FrameMeta& m) override {
    pub_.on_book_validity(s, valid, m);
    expected.push_back({layout::EventKind::kStatus, 0, 0, m.receive_ns});
    statuses.push_back(valid);
    if (valid) {
      note_quote_from_book(s);
      (void)top_changed(s);
      expected.push_back({layout::EventKind::kBook, s.sync.update_id(), 0, m.receive_ns});
    }
  }
  void on_book_ticker(const md::SymbolState& s, const md::BookTickerMsg& t,
                      const md::FrameMeta& m) override {
    pub_.on_book_ticker(s, t, m);
    ++book_tickers;
    if (t.update_id < quote_id_) {
      ++stale_tickers;
      return;
    }
    quote_id_ = t.update_id;
    expected.push_back(
        {layout::EventKind::kQuote, t.update_id, t.event_time_ms * kNsPerMs, m.receive_ns});
  }
  void on_trade(const md::SymbolState& s, const md::TradeMsg& t, bool agg,
                const md::FrameMeta& m) override {
    pub_.on_trade(s, t, agg, m);
    trades.push_back(t);
    expected.push_back({layout::EventKind::kTrade, t.id, t.event_time_ms * kNsPerMs, m.receive_ns});
  }
  void on_kline(const md::SymbolState& s, const md::KlineMsg& k, const md::FrameMeta& m) override {
    pub_.on_kline(s, k, m);
    klines.push_back(k);
  }
  void on_snapshot_needed(const md::SymbolState& s) override { pub_.on_snapshot_needed(s); }

  std::vector<Expected> expected;
  std::vector<bool> statuses;
  std::vector<md::TradeMsg> trades;
  std::vector<md::KlineMsg> klines;
  std::uint64_t book_tickers = 0;
  std::uint64_t stale_tickers = 0;
  std::int64_t last_book_receive_ns = 0;
  std::int64_t last_book_exchange_ms = 0;

 private:
  void note_quote_from_book(const md::SymbolState& s) {
    if (s.sync.update_id() >= quote_id_) quote_id_ = s.sync.update_id();
  }
  // Whether the top kBookDepth levels differ from the last time this was asked.
  bool top_changed(const md::SymbolState& s) {
    std::vector<md::Level> bids, asks;
    const auto& b = s.sync.book();
    for (std::size_t i = 0; i < layout::kBookDepth && i < b.bid_levels(); ++i)
      bids.push_back(b.bid(i));
    for (std::size_t i = 0; i < layout::kBookDepth && i < b.ask_levels(); ++i)
      asks.push_back(b.ask(i));
    const bool changed = bids != bids_ || asks != asks_;
    bids_ = bids;
    asks_ = asks;
    return changed;
  }
  publish::ShmPublisher& pub_;
  std::uint64_t quote_id_ = 0;
  std::vector<md::Level> bids_, asks_;
};

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

class ShmPublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/dev/shm/cwts-pubtest-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr)
        << std::strerror(errno);  // NOLINT(concurrency-mt-unsafe): test set-up, one thread
    dir_ = tmpl;
    opts_.instance = "pub" + std::to_string(::getpid());
    opts_.shm_dir = dir_;
    opts_.hugepage_dir = "";
    opts_.lock_pages = false;
    opts_.prefault = false;
    engine_ = Region::create(layout::RegionKind::kMarket, opts_);
  }
  void TearDown() override {
    engine_.remove();
    fs::remove_all(dir_);
  }

  layout::MarketRegion& market() { return engine_.as<layout::MarketRegion>(); }

  std::string dir_;
  RegionOptions opts_;
  Region engine_;
};

// BLZETH first so that NKNUSDT's shared-memory id (1) differs from its pipeline id (0).
constexpr std::string_view kSymbols[] = {"BLZETH", "NKNUSDT"};
constexpr std::uint32_t kTimeframes[] = {1, 60, 300};

TEST_F(ShmPublisherTest, ReplayedCaptureIsWhatAReadOnlyReaderSees) {
  publish::ShmPublisher pub(market(), info2021(), kSymbols, kTimeframes);
  engine_.set_state(layout::RegionState::kLive);
  Tee tee(pub);
  md::Pipeline pipeline(md::SyncVenue::kSpot, &tee);
  const auto t_before = cwts::core::realtime_ns();
  const auto st = md::replay_capture(kNkn, pipeline);
  ASSERT_EQ(st.malformed, 0U);
  // The wall clock 6 s after the capture's minute: past the 5 s grace for the closing kline.
  const std::int64_t tick_ns = (kMinuteOpen + 60'000 + 6'000) * kNsPerMs;
  pub.on_tick(tick_ns, pipeline.counters());
  const auto t_after = cwts::core::realtime_ns();

  Region reader = Region::attach(layout::RegionKind::kMarket, Access::kReadOnly, opts_);
  const auto& r = reader.as<layout::MarketRegion>();
  ASSERT_EQ(pipeline.find("NKNUSDT")->id, 0);
  ASSERT_EQ(pub.shm_id("NKNUSDT"), 1);
  const std::size_t nkn = 1;

  // Symbol table and timeframes.
  ASSERT_EQ(cc::load_word(r.symbol_count, std::memory_order_acquire), 2U);
  const layout::SymbolInfo si = r.symbols[nkn].info.load();
  EXPECT_EQ(si.name.view(), "NKNUSDT");
  EXPECT_EQ(si.id, 1);
  EXPECT_EQ(si.tick_size.raw, 10'000);
  EXPECT_EQ(si.price_decimals, 8);
  EXPECT_EQ(r.symbols[0].info.load().name.view(), "BLZETH");
  EXPECT_EQ(r.config.timeframe_count, 3U);
  EXPECT_EQ(r.config.timeframe_s[0], 1U);
  EXPECT_EQ(r.config.timeframe_s[1], 60U);
  EXPECT_EQ(r.config.timeframe_s[2], 300U);

  // The book: valid, at the final update id, top 3 as independently computed.
  EXPECT_EQ(cc::load_word(r.symbols[nkn].book_valid, std::memory_order_acquire), 1U);
  const layout::BookTop bt = r.symbols[nkn].book.load();
  EXPECT_EQ(bt.book_valid, 1);
  EXPECT_EQ(bt.update_id, kFinalUpdateId);
  EXPECT_EQ(bt.bid_count, layout::kBookDepth);
  EXPECT_EQ(bt.ask_count, layout::kBookDepth);
  EXPECT_EQ(bt.receive_ts_ns, tee.last_book_receive_ns);
  EXPECT_EQ(bt.exchange_ts_ns, tee.last_book_exchange_ms * kNsPerMs);
  EXPECT_GE(bt.publish_ts_ns, t_before);
  EXPECT_LE(bt.publish_ts_ns, t_after);
  {
    simdjson::dom::parser p;
    simdjson::dom::element e = p.load(kData + "/expected_books.json")["NKNUSDT"];
    ASSERT_EQ(e["final_u"].get_uint64().value(), kFinalUpdateId);
    std::size_t i = 0;
    for (auto lvl : e["top3_bids"].get_array()) {
      EXPECT_EQ(bt.bid_px[i].raw, px(lvl.at(0).get_string().value())) << "bid " << i;
      EXPECT_EQ(bt.bid_qty[i].raw, px(lvl.at(1).get_string().value())) << "bid " << i;
      ++i;
    }
    ASSERT_EQ(i, 3U);
    i = 0;
    for (auto lvl : e["top3_asks"].get_array()) {
      EXPECT_EQ(bt.ask_px[i].raw, px(lvl.at(0).get_string().value())) << "ask " << i;
      EXPECT_EQ(bt.ask_qty[i].raw, px(lvl.at(1).get_string().value())) << "ask " << i;
      ++i;
    }
    ASSERT_EQ(i, 3U);
  }
  for (std::size_t i = 1; i < layout::kBookDepth; ++i) {
    EXPECT_LT(bt.bid_px[i].raw, bt.bid_px[i - 1].raw);
    EXPECT_GT(bt.ask_px[i].raw, bt.ask_px[i - 1].raw);
  }

  // The quote: the book (499870179) is newer than the last bookTicker (499870151), so the quote
  // is the book's best level; plus the last trade.
  const layout::Quote q = r.symbols[nkn].quote.load();
  EXPECT_EQ(q.update_id, kFinalUpdateId);
  EXPECT_EQ(q.bid_px, bt.bid_px[0]);
  EXPECT_EQ(q.bid_qty, bt.bid_qty[0]);
  EXPECT_EQ(q.ask_px, bt.ask_px[0]);
  EXPECT_EQ(q.ask_qty, bt.ask_qty[0]);
  EXPECT_LT(q.bid_px, q.ask_px);
  EXPECT_EQ(q.book_valid, 1);
  ASSERT_EQ(tee.trades.size(), 1U);
  EXPECT_EQ(q.last_px.raw, px("0.3528"));
  EXPECT_EQ(q.last_qty.raw, px("58"));
  EXPECT_EQ(q.last_trade_id, 15683430U);
  EXPECT_EQ(q.last_side, static_cast<std::uint8_t>(layout::Side::kBuy));  // m=false: buyer took

  // BLZETH got no frames: nothing but its symbol-table entry.
  EXPECT_EQ(cc::load_word(r.symbols[0].book_valid, std::memory_order_acquire), 0U);
  EXPECT_EQ(r.symbols[0].quote.load().update_id, 0U);

  // The event ring: every record, in order, exactly as the replay predicts.
  cc::BroadcastReader<layout::Event, layout::kEventRingCapacity> events(r.events, 1);
  std::vector<layout::Event> got;
  layout::Event ev{};
  std::uint64_t seq = 0;
  while (events.try_read(ev, &seq) == cc::ReadStatus::kOk) {
    EXPECT_EQ(seq, got.size() + 1);
    got.push_back(ev);
  }
  const std::size_t n_market = tee.expected.size();
  // Closes after on_tick: 1s: the trade's second + 22 flat seconds up to the tick; 1m: the
  // kline-driven minute; 5m: still open.
  const std::size_t n_closes = 23 + 1;
  ASSERT_EQ(got.size(), n_market + n_closes);
  EXPECT_EQ(cc::load_word(r.status.md.events_published, std::memory_order_relaxed), got.size());
  EXPECT_EQ(r.events.last_sequence(), got.size());
  std::size_t kinds[6] = {};
  for (std::size_t i = 0; i < n_market; ++i) {
    SCOPED_TRACE("event " + std::to_string(i + 1));
    const auto& x = tee.expected[i];
    ASSERT_EQ(got[i].kind, static_cast<std::uint8_t>(x.kind));
    EXPECT_EQ(got[i].symbol, nkn);
    EXPECT_EQ(got[i].receive_ts_ns, x.receive_ns);
    EXPECT_GE(got[i].publish_ts_ns, t_before);
    EXPECT_LE(got[i].publish_ts_ns, t_after);
    if (x.kind != layout::EventKind::kStatus) {
      EXPECT_EQ(got[i].update_id, x.update_id);
      EXPECT_EQ(got[i].exchange_ts_ns, x.exchange_ns);
    }
    ++kinds[got[i].kind];
  }
  // The first two: the book became valid at the snapshot (499869752), then the synced book.
  EXPECT_EQ(got[0].kind, static_cast<std::uint8_t>(layout::EventKind::kStatus));
  EXPECT_EQ(got[0].body.status.book_valid, 1U);
  EXPECT_EQ(got[1].kind, static_cast<std::uint8_t>(layout::EventKind::kBook));
  EXPECT_EQ(got[1].update_id, 499869752U);
  EXPECT_EQ(got[1].body.book.levels_changed, 2 * layout::kBookDepth);
  EXPECT_EQ(kinds[static_cast<int>(layout::EventKind::kStatus)], 1U);
  EXPECT_EQ(kinds[static_cast<int>(layout::EventKind::kTrade)], 1U);
  EXPECT_EQ(kinds[static_cast<int>(layout::EventKind::kQuote)] + tee.stale_tickers, 74U);
  EXPECT_EQ(pub.stats().stale_book_tickers, tee.stale_tickers);
  EXPECT_GT(kinds[static_cast<int>(layout::EventKind::kBook)], 1U);
  // The trade event carries the aggregate trade id, price, quantity and aggressor side.
  for (std::size_t i = 0; i < n_market; ++i) {
    if (got[i].kind != static_cast<std::uint8_t>(layout::EventKind::kTrade)) continue;
    EXPECT_EQ(got[i].update_id, 15683430U);
    EXPECT_EQ(got[i].body.trade.px.raw, px("0.3528"));
    EXPECT_EQ(got[i].body.trade.qty.raw, px("58"));
    EXPECT_EQ(got[i].side, static_cast<std::uint8_t>(layout::Side::kBuy));
    EXPECT_EQ(got[i].exchange_ts_ns, 1633998523963 * kNsPerMs);
  }
  // The candle closes, per timeframe in increasing open time, stamped with their close instant.
  std::int64_t prev_1s = 0;
  std::size_t closes_1s = 0;
  const layout::Event* close_1m = nullptr;
  for (std::size_t i = n_market; i < got.size(); ++i) {
    ASSERT_EQ(got[i].kind, static_cast<std::uint8_t>(layout::EventKind::kCandleClose));
    const layout::Candle& c = got[i].body.candle.candle;
    EXPECT_EQ(got[i].update_id, static_cast<std::uint64_t>(c.open_time_ms));
    EXPECT_EQ(got[i].exchange_ts_ns,
              (c.open_time_ms + kTimeframes[got[i].timeframe] * 1000LL) * kNsPerMs);
    EXPECT_EQ(got[i].receive_ts_ns, tick_ns);
    EXPECT_EQ(c.closed, 1U);
    if (got[i].timeframe == 0) {
      EXPECT_GT(c.open_time_ms, prev_1s);
      prev_1s = c.open_time_ms;
      ++closes_1s;
    } else {
      ASSERT_EQ(got[i].timeframe, 1);
      close_1m = &got[i];
    }
  }
  EXPECT_EQ(closes_1s, 23U);
  ASSERT_NE(close_1m, nullptr);

  // The closed 1m candle: the venue's kline for the minute, in the closed ring and the event.
  cc::BroadcastReader<layout::Candle, layout::kCandleHistory> ring(r.candles[nkn][1].closed, 1);
  layout::Candle c{};
  ASSERT_EQ(ring.try_read(c), cc::ReadStatus::kOk);
  EXPECT_EQ(ring.try_read(c), cc::ReadStatus::kEmpty);
  ASSERT_EQ(r.candles[nkn][1].closed.last_sequence(), 1U);
  ring = cc::BroadcastReader<layout::Candle, layout::kCandleHistory>(r.candles[nkn][1].closed, 1);
  ASSERT_EQ(ring.try_read(c), cc::ReadStatus::kOk);
  EXPECT_EQ(c.open_time_ms, kMinuteOpen);
  EXPECT_EQ(c.open.raw, px("0.3527"));
  EXPECT_EQ(c.high.raw, px("0.3528"));
  EXPECT_EQ(c.low.raw, px("0.3522"));
  EXPECT_EQ(c.close.raw, px("0.3528"));
  EXPECT_EQ(c.volume.raw, px("25877"));
  EXPECT_EQ(c.trades, 30U);
  EXPECT_EQ(c.closed, 1U);
  EXPECT_EQ(std::memcmp(&c, &close_1m->body.candle.candle, sizeof c), 0);
  EXPECT_EQ(r.candles[nkn][0].closed.last_sequence(), 23U);
  // Live candles: the new minute is a flat placeholder; the 5m candle is built from the trade.
  const layout::Candle live_1m = r.candles[nkn][1].live.load();
  EXPECT_EQ(live_1m.open_time_ms, kMinuteOpen + 60'000);
  EXPECT_EQ(live_1m.close.raw, px("0.3528"));
  EXPECT_EQ(live_1m.trades, 0U);
  EXPECT_EQ(live_1m.closed, 0U);
  const layout::Candle live_5m = r.candles[nkn][2].live.load();
  EXPECT_EQ(live_5m.open_time_ms, 1633998300000);
  EXPECT_EQ(live_5m.open.raw, px("0.3528"));
  EXPECT_EQ(live_5m.volume.raw, px("58"));
  EXPECT_EQ(live_5m.trades, 1U);

  // md counters.
  const auto& mdc = r.status.md;
  EXPECT_EQ(cc::load_word(mdc.frames, std::memory_order_relaxed), 227U);
  EXPECT_EQ(cc::load_word(mdc.parse_errors, std::memory_order_relaxed), 0U);
  EXPECT_EQ(cc::load_word(mdc.gaps, std::memory_order_relaxed), 0U);
  EXPECT_EQ(cc::load_word(mdc.resyncs, std::memory_order_relaxed), 0U);
  EXPECT_EQ(cc::load_word(mdc.heartbeat_ns, std::memory_order_relaxed),
            static_cast<std::uint64_t>(tick_ns));
}

TEST_F(ShmPublisherTest, GapLeavesTheBookInvalidInTheRegion) {
  auto lines = read_lines(kNkn);
  std::size_t snapshot_at = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find("\"lastUpdateId\"") != std::string::npos) snapshot_at = i;
  }
  ASSERT_GT(snapshot_at, 0U);
  std::size_t diffs = 0;
  for (std::size_t i = snapshot_at + 1; i < lines.size(); ++i) {
    if (lines[i].find("depthUpdate") != std::string::npos && ++diffs == 5) {
      lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  }
  const std::string path = dir_ + "/gap.capture";
  {
    std::ofstream out(path);
    for (const auto& l : lines) out << l << '\n';
  }
  publish::ShmPublisher pub(market(), info2021(), kSymbols, kTimeframes);
  engine_.set_state(layout::RegionState::kLive);
  Tee tee(pub);
  md::Pipeline pipeline(md::SyncVenue::kSpot, &tee);
  (void)md::replay_capture(path, pipeline);
  pub.on_tick(cwts::core::realtime_ns(), pipeline.counters());

  Region reader = Region::attach(layout::RegionKind::kMarket, Access::kReadOnly, opts_);
  const auto& r = reader.as<layout::MarketRegion>();
  EXPECT_EQ(cc::load_word(r.symbols[1].book_valid, std::memory_order_acquire), 0U);
  EXPECT_EQ(r.symbols[1].book.load().book_valid, 0);
  const layout::Quote q = r.symbols[1].quote.load();
  EXPECT_EQ(q.book_valid, 0);
  EXPECT_GT(q.update_id, 0U);  // bookTickers still update the quote, flagged as book-invalid
  EXPECT_EQ(cc::load_word(r.status.md.gaps, std::memory_order_relaxed), 1U);
  EXPECT_EQ(cc::load_word(r.status.md.resyncs, std::memory_order_relaxed), 1U);
  EXPECT_EQ(tee.statuses, (std::vector<bool>{true, false}));

  // The last status event says invalid.
  cc::BroadcastReader<layout::Event, layout::kEventRingCapacity> events(r.events, 1);
  layout::Event ev{};
  const layout::Event* last_status = nullptr;
  std::vector<layout::Event> got;
  while (events.try_read(ev) == cc::ReadStatus::kOk) got.push_back(ev);
  for (const auto& e : got) {
    if (e.kind == static_cast<std::uint8_t>(layout::EventKind::kStatus)) last_status = &e;
  }
  ASSERT_NE(last_status, nullptr);
  EXPECT_EQ(last_status->body.status.book_valid, 0U);
  EXPECT_EQ(last_status->body.status.symbol_status,
            static_cast<std::uint64_t>(layout::SymbolStatus::kTrading));
}

TEST_F(ShmPublisherTest, FramesForSymbolsOutsideTheTableAreCountedAndIgnored) {
  constexpr std::string_view only_nkn[] = {"NKNUSDT"};
  publish::ShmPublisher pub(market(), info2021(), only_nkn, kTimeframes);
  engine_.set_state(layout::RegionState::kLive);
  md::Pipeline pipeline(md::SyncVenue::kSpot, &pub);
  (void)md::replay_capture(kData + "/spot_lrcbtc_2021-10-12.capture", pipeline);
  EXPECT_GT(pub.stats().unknown_symbol, 0U);
  EXPECT_EQ(pub.stats().events, 0U);
  EXPECT_EQ(market().events.last_sequence(), 0U);
  EXPECT_EQ(cc::load_word(market().symbols[0].book_valid, std::memory_order_acquire), 0U);
}

TEST_F(ShmPublisherTest, StartUpErrorsAreClear) {
  constexpr std::string_view unknown[] = {"NKNUSDT", "NOSUCHPAIR"};
  try {
    publish::ShmPublisher pub(market(), info2021(), unknown, kTimeframes);
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("NOSUCHPAIR"), std::string::npos) << e.what();
  }
  constexpr std::string_view too_long_asset[] = {"SUSHIDOWNUSDT"};
  EXPECT_THROW({ publish::ShmPublisher p(market(), info2021(), too_long_asset, kTimeframes); },
               std::runtime_error);
  engine_.set_state(layout::RegionState::kLive);
  EXPECT_THROW({ publish::ShmPublisher p(market(), info2021(), kSymbols, kTimeframes); },
               std::logic_error);
}

TEST_F(ShmPublisherTest, TradeSourceLatchesTheFirstKindSeen) {
  publish::ShmPublisher pub(market(), info2021(), kSymbols, kTimeframes);
  engine_.set_state(layout::RegionState::kLive);
  md::Pipeline pipeline(md::SyncVenue::kSpot, &pub);
  const std::string agg =
      R"({"stream":"nknusdt@aggTrade","data":{"e":"aggTrade","E":1633998523963,"s":"NKNUSDT","a":15683430,"p":"0.35280000","q":"58.00000000","f":19862790,"l":19862790,"T":1633998523963,"m":false,"M":true}})";
  const std::string raw =
      R"({"stream":"nknusdt@trade","data":{"e":"trade","E":1633998524000,"s":"NKNUSDT","t":19862791,"p":"0.36000000","q":"1.00000000","T":1633998524000,"m":true,"M":true}})";
  // An aggTrade over venue trades 19862786..19862790 counts as 5 trades, as the kline's n would.
  const std::string agg5 =
      R"({"stream":"nknusdt@aggTrade","data":{"e":"aggTrade","E":1633998523970,"s":"NKNUSDT","a":15683431,"p":"0.35290000","q":"10.00000000","f":19862791,"l":19862795,"T":1633998523970,"m":true,"M":true}})";
  ASSERT_EQ(pipeline.on_frame(1, agg), md::ParseErrc::kOk);
  ASSERT_EQ(pipeline.on_frame(2, raw), md::ParseErrc::kOk);
  ASSERT_EQ(pipeline.on_frame(3, agg5), md::ParseErrc::kOk);
  EXPECT_EQ(pub.stats().other_trade_source, 1U);
  const layout::Quote q = market().symbols[1].quote.load();
  EXPECT_EQ(q.last_trade_id, 15683431U);
  EXPECT_EQ(q.last_side, static_cast<std::uint8_t>(layout::Side::kSell));  // m=true: seller took
  const layout::Candle* live = pub.candles().live(1, 1);
  ASSERT_NE(live, nullptr);
  EXPECT_EQ(live->trades, 1U + 5U);
  EXPECT_EQ(live->volume.raw, px("68"));
  EXPECT_EQ(live->high.raw, px("0.3529"));
  // The live candle in shared memory is the builder's.
  const layout::Candle shm_live = market().candles[1][1].live.load();
  EXPECT_EQ(std::memcmp(&shm_live, live, sizeof shm_live), 0);
}

TEST_F(ShmPublisherTest, SpotBookTickerCarriesNoExchangeTimeOfAnEarlierFrame) {
  // A spot bookTicker has no "E". The parser used to leave the previous frame's E in
  // BookTickerMsg::event_time_ms (ParsedFrame::reset did not clear the per-kind structs), so
  // the quote was stamped with an unrelated depth frame's time.
  publish::ShmPublisher pub(market(), info2021(), kSymbols, kTimeframes);
  engine_.set_state(layout::RegionState::kLive);
  md::Pipeline pipeline(md::SyncVenue::kSpot, &pub);
  ASSERT_EQ(
      pipeline.on_frame(
          1,
          R"({"stream":"nknusdt@depth@100ms","data":{"e":"depthUpdate","E":1633998512068,"s":"NKNUSDT","U":1,"u":2,"b":[],"a":[]}})"),
      md::ParseErrc::kOk);
  ASSERT_EQ(
      pipeline.on_frame(
          2,
          R"({"stream":"nknusdt@bookTicker","data":{"u":499869768,"s":"NKNUSDT","b":"0.35210000","B":"672.00000000","a":"0.35260000","A":"3199.00000000"}})"),
      md::ParseErrc::kOk);
  const layout::Quote q = market().symbols[1].quote.load();
  EXPECT_EQ(q.update_id, 499869768U);
  EXPECT_EQ(q.receive_ts_ns, 2);
  EXPECT_EQ(q.exchange_ts_ns, 0);
}

TEST_F(ShmPublisherTest, RefreshedExchangeInfoRewritesTheTableAndAnnouncesStatusChanges) {
  publish::ShmPublisher pub(market(), info2021(), kSymbols, kTimeframes);
  engine_.set_state(layout::RegionState::kLive);
  binance::ExchangeInfo changed = info2021();
  for (auto& s : changed.symbols) {
    if (s.name == "NKNUSDT") {
      s.status = layout::SymbolStatus::kHalt;
      s.tick_size.raw = 100'000;
    }
  }
  pub.update_symbol_info(changed);
  const layout::SymbolInfo si = market().symbols[1].info.load();
  EXPECT_EQ(si.status, static_cast<std::uint8_t>(layout::SymbolStatus::kHalt));
  EXPECT_EQ(si.tick_size.raw, 100'000);
  // One kStatus event, for NKNUSDT only (BLZETH did not change).
  ASSERT_EQ(market().events.last_sequence(), 1U);
  cc::BroadcastReader<layout::Event, layout::kEventRingCapacity> events(market().events, 1);
  layout::Event ev{};
  ASSERT_EQ(events.try_read(ev), cc::ReadStatus::kOk);
  EXPECT_EQ(ev.kind, static_cast<std::uint8_t>(layout::EventKind::kStatus));
  EXPECT_EQ(ev.symbol, 1);
  EXPECT_EQ(ev.body.status.symbol_status, static_cast<std::uint64_t>(layout::SymbolStatus::kHalt));
  EXPECT_EQ(ev.body.status.book_valid, 0U);

  binance::ExchangeInfo without = info2021();
  std::erase_if(without.symbols, [](const binance::SymbolSpec& s) { return s.name == "BLZETH"; });
  EXPECT_THROW(pub.update_symbol_info(without), std::runtime_error);
}

TEST_F(ShmPublisherTest, QuoteNeverGoesBackToAnOlderUpdateId) {
  // bookTicker runs ahead of the 100 ms diffs: the quote takes whichever source is newer.
  publish::ShmPublisher pub(market(), info2021(), kSymbols, kTimeframes);
  engine_.set_state(layout::RegionState::kLive);
  md::Pipeline pipeline(md::SyncVenue::kSpot, &pub);
  auto frame = [&](std::int64_t ts, const std::string& json, std::string_view ctx = {}) {
    ASSERT_EQ(pipeline.on_frame(ts, json, ctx), md::ParseErrc::kOk) << json;
  };
  const auto quote = [&] { return market().symbols[1].quote.load(); };
  frame(1, R"({"lastUpdateId":100,"bids":[["1.00","1"]],"asks":[["1.20","1"]]})", "NKNUSDT");
  EXPECT_EQ(quote().update_id, 100U);
  EXPECT_EQ(quote().bid_px.raw, px("1"));
  frame(
      2,
      R"({"stream":"nknusdt@bookTicker","data":{"u":105,"s":"NKNUSDT","b":"1.10","B":"3","a":"1.20","A":"1"}})");
  EXPECT_EQ(quote().update_id, 105U);
  EXPECT_EQ(quote().bid_px.raw, px("1.1"));
  // The book reaches 103 only: older than the quote, which keeps the ticker's values.
  frame(
      3,
      R"({"stream":"nknusdt@depth@100ms","data":{"e":"depthUpdate","E":10,"s":"NKNUSDT","U":101,"u":103,"b":[["1.05","1"]],"a":[]}})");
  EXPECT_EQ(market().symbols[1].book.load().update_id, 103U);
  EXPECT_EQ(quote().update_id, 105U);
  EXPECT_EQ(quote().bid_px.raw, px("1.1"));
  EXPECT_EQ(quote().bid_qty.raw, px("3"));
  // The book passes the ticker: the quote follows the book.
  frame(
      4,
      R"({"stream":"nknusdt@depth@100ms","data":{"e":"depthUpdate","E":11,"s":"NKNUSDT","U":104,"u":108,"b":[["1.10","2"]],"a":[]}})");
  EXPECT_EQ(quote().update_id, 108U);
  EXPECT_EQ(quote().bid_px.raw, px("1.1"));
  EXPECT_EQ(quote().bid_qty.raw, px("2"));
  // A ticker older than that is stale: no quote change, no event.
  const std::uint64_t events = market().events.last_sequence();
  frame(
      5,
      R"({"stream":"nknusdt@bookTicker","data":{"u":106,"s":"NKNUSDT","b":"1.10","B":"9","a":"1.20","A":"1"}})");
  EXPECT_EQ(quote().update_id, 108U);
  EXPECT_EQ(quote().bid_qty.raw, px("2"));
  EXPECT_EQ(market().events.last_sequence(), events);
  EXPECT_EQ(pub.stats().stale_book_tickers, 1U);
}

TEST(FrameResetTest, FieldsOfOneFrameKindDoNotLeakIntoTheNext) {
  md::FrameParser p;
  md::ParsedFrame f;
  ASSERT_EQ(
      p.parse(
          R"({"stream":"x@aggTrade","data":{"e":"aggTrade","E":5,"s":"X","a":1,"p":"1","q":"1","f":10,"l":15,"T":5,"m":false,"M":true}})",
          f),
      md::ParseErrc::kOk);
  ASSERT_EQ(
      p.parse(
          R"({"stream":"x@trade","data":{"e":"trade","E":6,"s":"X","t":7,"p":"1","q":"1","T":6,"m":true,"M":true}})",
          f),
      md::ParseErrc::kOk);
  EXPECT_EQ(f.trade.first_id, 0U);
  EXPECT_EQ(f.trade.last_id, 0U);
  ASSERT_EQ(
      p.parse(
          R"({"stream":"x@kline_1m","data":{"e":"kline","E":1,"s":"X","k":{"t":0,"T":59999,"i":"1m","o":"1","c":"1","h":"1","l":"1","v":"1","n":30,"x":false}}})",
          f),
      md::ParseErrc::kOk);
  ASSERT_EQ(
      p.parse(
          R"({"stream":"x@kline_1m","data":{"e":"kline","E":1,"s":"X","k":{"t":0,"T":59999,"i":"1m","o":"1","c":"1","h":"1","l":"1","v":"1","x":false}}})",
          f),
      md::ParseErrc::kOk);
  EXPECT_EQ(f.kline.trades, 0U);  // "n" absent in the second frame
}

}  // namespace
