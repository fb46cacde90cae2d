// ShmPublisher end to end: the real NKNUSDT capture replayed into a real market region, then read
// back through a read-only attach as a strategy would; and a capture with a gap.
#include "cwts/publish/shm_publisher.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "cwts/core/clock.hpp"
#include "cwts/core/decimal.hpp"
#include "cwts/md/frame_parser.hpp"
#include "cwts/md/replay.hpp"
#include "cwts/shm/region.hpp"
#include "shm_publisher_test_util.hpp"

namespace {

namespace md = cwts::md;
namespace binance = cwts::binance;
namespace publish = cwts::publish;
namespace layout = cwts::layout;
namespace cc = cwts::concurrent;
namespace fs = std::filesystem;
using cwts::publish::test::info2021;
using cwts::publish::test::kData;
using cwts::publish::test::kSymbols;
using cwts::publish::test::kTimeframes;
using cwts::publish::test::px;
using cwts::publish::test::ShmPublisherTest;
using cwts::shm::Access;
using cwts::shm::Region;
using cwts::shm::RegionOptions;

const std::string kNkn = kData + "/spot_nknusdt_2021-10-12.capture";
constexpr std::uint64_t kFinalUpdateId = 499870179;  // expected_books.json NKNUSDT final_u
constexpr std::int64_t kMinuteOpen = 1633998480000;  // the capture's kline_1m open time
constexpr std::int64_t kNsPerMs = 1'000'000;

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

  explicit Tee(publish::ShmPublisher& pub, std::size_t depth = layout::kDefaultBookDepth)
      : pub_(pub), depth_(depth) {}

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
  // Whether the top `depth_` levels the engine knows whole differ from the last time this was
  // asked.
  bool top_changed(const md::SymbolState& s) {
    std::vector<md::Level> bids, asks;
    const auto& b = s.sync.book();
    for (std::size_t i = 0; i < s.sync.known_bid_levels(depth_); ++i) bids.push_back(b.bid(i));
    for (std::size_t i = 0; i < s.sync.known_ask_levels(depth_); ++i) asks.push_back(b.ask(i));
    const bool changed = bids != bids_ || asks != asks_;
    bids_ = bids;
    asks_ = asks;
    return changed;
  }
  publish::ShmPublisher& pub_;
  std::size_t depth_;
  std::uint64_t quote_id_ = 0;
  std::vector<md::Level> bids_, asks_;
};

// The books are as deep as the region's header says (region.book_depth, ADR 0042): each side
// holds that many of the pipeline's own levels, exactly; a reader asking for fewer copies fewer;
// a book event is published exactly when the levels within the depth changed.
TEST_F(ShmPublisherTest, TheBooksAreAsDeepAsTheRegionSays) {
  for (const std::uint32_t depth : {1U, 7U, 50U, 1000U}) {
    SCOPED_TRACE("book_depth " + std::to_string(depth));
    recreate_with_book_depth(depth);
    publish::ShmPublisher pub(market(), info2021(), kSymbols, kTimeframes);
    engine_.set_state(layout::RegionState::kLive);
    Tee tee(pub, depth);
    md::Pipeline pipeline(md::SyncVenue::kSpot, &tee);
    ASSERT_EQ(md::replay_capture(kNkn, pipeline).malformed, 0U);

    Region reader = Region::attach(layout::RegionKind::kMarket, Access::kReadOnly, opts_);
    const auto& r = reader.as<layout::MarketRegion>();
    ASSERT_EQ(r.header.book_depth, depth);
    const md::BookSync& sync = pipeline.find("NKNUSDT")->sync;
    const md::OrderBook& want = sync.book();
    ASSERT_GE(sync.known_bid_levels(1000), 50U);  // deeper than most depths tried
    ASSERT_GE(sync.known_ask_levels(1000), 50U);
    const auto b = std::make_unique<layout::BookTop>();
    for (const std::size_t asked : {std::size_t{3}, layout::kMaxBookDepth}) {
      SCOPED_TRACE("levels asked " + std::to_string(asked));
      r.book(1).load(*b, asked);
      EXPECT_EQ(b->update_id, kFinalUpdateId);
      EXPECT_EQ(b->bid_count, std::min(sync.known_bid_levels(depth), asked));
      EXPECT_EQ(b->ask_count, std::min(sync.known_ask_levels(depth), asked));
      for (std::uint32_t i = 0; i < b->bid_count; ++i) {
        EXPECT_EQ(b->bid_px[i], want.bid(i).px) << "bid " << i;
        EXPECT_EQ(b->bid_qty[i], want.bid(i).qty) << "bid " << i;
      }
      for (std::uint32_t i = 0; i < b->ask_count; ++i) {
        EXPECT_EQ(b->ask_px[i], want.ask(i).px) << "ask " << i;
        EXPECT_EQ(b->ask_qty[i], want.ask(i).qty) << "ask " << i;
      }
    }
    cc::BroadcastReader<layout::Event, layout::kEventRingCapacity> events(r.events, 1);
    std::vector<layout::Event> got;
    for (layout::Event ev{}; events.try_read(ev) == cc::ReadStatus::kOk;) got.push_back(ev);
    ASSERT_EQ(got.size(), tee.expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].kind, static_cast<std::uint8_t>(tee.expected[i].kind)) << "event " << i;
      if (tee.expected[i].kind != layout::EventKind::kStatus) {
        EXPECT_EQ(got[i].update_id, tee.expected[i].update_id) << "event " << i;
      }
    }
    // The synced book's event: every level within the depth is new (the snapshot is deeper than
    // 50 levels a side, not than 1,000).
    ASSERT_EQ(got[1].kind, static_cast<std::uint8_t>(layout::EventKind::kBook));
    if (depth <= 50) {
      EXPECT_EQ(got[1].body.book.levels_changed, 2 * depth);
    } else {
      EXPECT_GT(got[1].body.book.levels_changed, 100U);
      EXPECT_LE(got[1].body.book.levels_changed, 2 * depth);
    }
  }
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

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
  const layout::SymbolInfo si = r.symbol(nkn).info.load();
  EXPECT_EQ(si.name.view(), "NKNUSDT");
  EXPECT_EQ(si.id, 1);
  EXPECT_EQ(si.tick_size.raw, 10'000);
  EXPECT_EQ(si.price_decimals, 8);
  EXPECT_EQ(r.symbol(0).info.load().name.view(), "BLZETH");
  EXPECT_EQ(r.config.timeframe_count, 3U);
  EXPECT_EQ(r.config.timeframe_s[0], 1U);
  EXPECT_EQ(r.config.timeframe_s[1], 60U);
  EXPECT_EQ(r.config.timeframe_s[2], 300U);

  // The book: valid, at the final update id, top 3 as independently computed.
  EXPECT_EQ(cc::load_word(r.symbol(nkn).book_valid, std::memory_order_acquire), 1U);
  ASSERT_EQ(r.book_depth(), layout::kDefaultBookDepth);
  ASSERT_EQ(r.header.book_depth, layout::kDefaultBookDepth);
  const auto book = std::make_unique<layout::BookTop>();
  const layout::BookTop& bt = *book;
  r.book(nkn).load(*book);
  EXPECT_EQ(bt.book_valid, 1);
  EXPECT_EQ(bt.update_id, kFinalUpdateId);
  EXPECT_EQ(bt.bid_count, layout::kDefaultBookDepth);
  EXPECT_EQ(bt.ask_count, layout::kDefaultBookDepth);
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
  for (std::size_t i = 1; i < layout::kDefaultBookDepth; ++i) {
    EXPECT_LT(bt.bid_px[i].raw, bt.bid_px[i - 1].raw);
    EXPECT_GT(bt.ask_px[i].raw, bt.ask_px[i - 1].raw);
  }

  // The quote: the book (499870179) is newer than the last bookTicker (499870151), so the quote
  // is the book's best level; plus the last trade.
  const layout::Quote q = r.symbol(nkn).quote.load();
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
  EXPECT_EQ(cc::load_word(r.symbol(0).book_valid, std::memory_order_acquire), 0U);
  EXPECT_EQ(r.symbol(0).quote.load().update_id, 0U);

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
  EXPECT_EQ(got[1].body.book.levels_changed, 2 * layout::kDefaultBookDepth);
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
  auto ring = r.candle_cursor(nkn, 1, 1);
  layout::Candle c{};
  ASSERT_EQ(ring.try_read(c), cc::ReadStatus::kOk);
  EXPECT_EQ(ring.try_read(c), cc::ReadStatus::kEmpty);
  ASSERT_EQ(r.candles(nkn, 1).closed.last_sequence(), 1U);
  ring = r.candle_cursor(nkn, 1, 1);
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
  EXPECT_EQ(r.candles(nkn, 0).closed.last_sequence(), 23U);
  // Live candles: the new minute is a flat placeholder; the 5m candle is built from the trade.
  const layout::Candle live_1m = r.candles(nkn, 1).live.load();
  EXPECT_EQ(live_1m.open_time_ms, kMinuteOpen + 60'000);
  EXPECT_EQ(live_1m.close.raw, px("0.3528"));
  EXPECT_EQ(live_1m.trades, 0U);
  EXPECT_EQ(live_1m.closed, 0U);
  const layout::Candle live_5m = r.candles(nkn, 2).live.load();
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
  EXPECT_EQ(cc::load_word(r.symbol(1).book_valid, std::memory_order_acquire), 0U);
  auto book = std::make_unique<layout::BookTop>();
  r.book(1).load(*book);
  EXPECT_EQ(book->book_valid, 0);
  const layout::Quote q = r.symbol(1).quote.load();
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
  EXPECT_EQ(cc::load_word(market().symbol(0).book_valid, std::memory_order_acquire), 0U);
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

}  // namespace
