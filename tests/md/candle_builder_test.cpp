// Candle building: exact OHLCV on hand-made trades, boundaries, gaps, wall-clock closes, kline
// precedence, and the real captures' aggTrades against the venue's own kline_1m.
#include "cwts/md/candle_builder.hpp"

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "cwts/core/decimal.hpp"
#include "cwts/md/replay.hpp"

namespace {

namespace md = cwts::md;
namespace layout = cwts::layout;
const std::string kData = CWTS_TEST_DATA;

// 2021-10-12 00:28:00 UTC, a minute boundary (the NKNUSDT capture's minute).
constexpr std::int64_t kT0 = 1633998480000;
constexpr std::int64_t kMin = 60'000;

std::int64_t px(std::string_view s) {
  std::int64_t v = 0;
  EXPECT_EQ(cwts::core::parse_fixed(s, md::kWireDecimals, v), cwts::core::DecimalErrc::kOk) << s;
  return v;
}
md::Price P(std::string_view s) { return md::Price{px(s)}; }
md::Qty Q(std::string_view s) { return md::Qty{px(s)}; }

struct Closed {
  std::uint16_t symbol;
  std::uint8_t tf;
  layout::Candle c;
};

class Recorder : public md::CandleListener {
 public:
  void on_candle_closed(std::uint16_t symbol, std::uint8_t tf, const layout::Candle& c) override {
    closed.push_back({symbol, tf, c});
  }
  void on_candle_live(std::uint16_t symbol, std::uint8_t tf, const layout::Candle& c) override {
    live[symbol][tf] = c;
    ++live_updates;
  }
  [[nodiscard]] std::vector<layout::Candle> closed_of(std::uint16_t symbol, std::uint8_t tf) const {
    std::vector<layout::Candle> out;
    for (const auto& c : closed) {
      if (c.symbol == symbol && c.tf == tf) out.push_back(c.c);
    }
    return out;
  }
  std::vector<Closed> closed;
  layout::Candle live[layout::kMaxSymbols][layout::kMaxTimeframes]{};
  std::uint64_t live_updates = 0;
};

void expect_candle(const layout::Candle& c, std::int64_t open_ms, std::string_view o,
                   std::string_view h, std::string_view l, std::string_view cl,
                   std::string_view vol, std::uint32_t trades, std::uint32_t closed) {
  EXPECT_EQ(c.open_time_ms, open_ms);
  EXPECT_EQ(c.open.raw, px(o)) << "open";
  EXPECT_EQ(c.high.raw, px(h)) << "high";
  EXPECT_EQ(c.low.raw, px(l)) << "low";
  EXPECT_EQ(c.close.raw, px(cl)) << "close";
  EXPECT_EQ(c.volume.raw, px(vol)) << "volume";
  EXPECT_EQ(c.trades, trades);
  EXPECT_EQ(c.closed, closed);
}

md::KlineMsg kline(std::int64_t open_ms, std::uint32_t interval_s, std::string_view o,
                   std::string_view h, std::string_view l, std::string_view c, std::string_view v,
                   std::uint64_t n, bool closed, std::int64_t event_ms) {
  md::KlineMsg k{};
  k.open_time_ms = open_ms;
  k.close_time_ms = open_ms + interval_s * 1000LL - 1;
  k.interval_s = interval_s;
  k.open = P(o);
  k.high = P(h);
  k.low = P(l);
  k.close = P(c);
  k.volume = Q(v);
  k.trades = n;
  k.closed = closed;
  k.event_time_ms = event_ms;
  return k;
}

const std::uint32_t k1m[] = {60};

TEST(CandleBuilderTest, ExactOhlcvAndTradeAtOpenTimeStartsTheNewCandle) {
  Recorder r;
  md::CandleBuilder b(k1m, r);
  b.on_trade(0, kT0 + 1000, P("10"), Q("1"), 1);
  b.on_trade(0, kT0 + 20000, P("12"), Q("2"), 1);
  b.on_trade(0, kT0 + 30000, P("9"), Q("1.5"), 3);    // an aggTrade of 3 venue trades
  b.on_trade(0, kT0 + 59999, P("11"), Q("0.25"), 1);  // last millisecond of the minute
  EXPECT_TRUE(r.closed.empty());
  expect_candle(r.live[0][0], kT0, "10", "12", "9", "11", "4.75", 6, 0);
  b.on_trade(0, kT0 + kMin, P("13"), Q("1"), 1);  // exactly the next open time
  ASSERT_EQ(r.closed.size(), 1U);
  expect_candle(r.closed[0].c, kT0, "10", "12", "9", "11", "4.75", 6, 1);
  expect_candle(r.live[0][0], kT0 + kMin, "13", "13", "13", "13", "1", 1, 0);
  ASSERT_NE(b.live(0, 0), nullptr);
  EXPECT_EQ(b.live(0, 0)->open_time_ms, kT0 + kMin);
}

TEST(CandleBuilderTest, PeriodsWithoutTradesBecomeFlatCandlesAtThePreviousClose) {
  Recorder r;
  md::CandleBuilder b(k1m, r);
  b.on_trade(0, kT0 + 5, P("13"), Q("1"), 1);
  b.on_trade(0, kT0 + 7, P("12.5"), Q("1"), 1);
  b.on_trade(0, kT0 + 4 * kMin + 5, P("14"), Q("2"), 1);  // minutes 1..3 had no trades
  const auto closed = r.closed_of(0, 0);
  ASSERT_EQ(closed.size(), 4U);
  expect_candle(closed[0], kT0, "13", "13", "12.5", "12.5", "2", 2, 1);
  expect_candle(closed[1], kT0 + kMin, "12.5", "12.5", "12.5", "12.5", "0", 0, 1);
  expect_candle(closed[2], kT0 + 2 * kMin, "12.5", "12.5", "12.5", "12.5", "0", 0, 1);
  expect_candle(closed[3], kT0 + 3 * kMin, "12.5", "12.5", "12.5", "12.5", "0", 0, 1);
  expect_candle(r.live[0][0], kT0 + 4 * kMin, "14", "14", "14", "14", "2", 1, 0);
  EXPECT_EQ(b.stats().fillers, 3U);
}

TEST(CandleBuilderTest, WallClockClosesTheCandleWithoutTrades) {
  Recorder r;
  md::CandleBuilder b(k1m, r);
  b.on_time(kT0 + 10 * kMin);  // nothing known yet: nothing to close or fill
  EXPECT_TRUE(r.closed.empty());
  b.on_trade(0, kT0 + 5000, P("2"), Q("3"), 1);
  b.on_time(kT0 + kMin - 1);
  EXPECT_TRUE(r.closed.empty());
  b.on_time(kT0 + kMin);  // now == close time
  ASSERT_EQ(r.closed.size(), 1U);
  expect_candle(r.closed[0].c, kT0, "2", "2", "2", "2", "3", 1, 1);
  // The live candle is a flat placeholder for the current period.
  expect_candle(r.live[0][0], kT0 + kMin, "2", "2", "2", "2", "0", 0, 0);
  b.on_time(kT0 + 3 * kMin + 1);
  ASSERT_EQ(r.closed.size(), 3U);
  expect_candle(r.closed[1].c, kT0 + kMin, "2", "2", "2", "2", "0", 0, 1);
  expect_candle(r.closed[2].c, kT0 + 2 * kMin, "2", "2", "2", "2", "0", 0, 1);
  // The first trade of a period sets its open: Binance's open is the first trade, not the
  // previous close.
  b.on_trade(0, kT0 + 3 * kMin + 10, P("2.5"), Q("1"), 1);
  b.on_trade(0, kT0 + 3 * kMin + 20, P("2.25"), Q("1"), 1);
  expect_candle(r.live[0][0], kT0 + 3 * kMin, "2.5", "2.5", "2.25", "2.25", "2", 2, 0);
}

TEST(CandleBuilderTest, LateTradeForAClosedPeriodIsDroppedNotAmended) {
  Recorder r;
  md::CandleBuilder b(k1m, r);
  b.on_trade(0, kT0 + 1000, P("5"), Q("1"), 1);
  b.on_time(kT0 + kMin + 1);
  b.on_trade(0, kT0 + 59000, P("99"), Q("1"), 1);
  ASSERT_EQ(r.closed.size(), 1U);
  expect_candle(r.closed[0].c, kT0, "5", "5", "5", "5", "1", 1, 1);
  expect_candle(r.live[0][0], kT0 + kMin, "5", "5", "5", "5", "0", 0, 0);
  EXPECT_EQ(b.stats().late_trades, 1U);
}

TEST(CandleBuilderTest, FillersAreBoundedAfterALongOutage) {
  Recorder r;
  const std::uint32_t tf[] = {1};
  md::CandleBuilder b(tf, r);
  b.on_trade(3, kT0, P("1"), Q("1"), 1);
  const std::int64_t later = kT0 + 5000LL * 1000;  // 5000 one-second periods later
  b.on_trade(3, later + 1, P("2"), Q("1"), 1);
  const auto closed = r.closed_of(3, 0);
  ASSERT_EQ(closed.size(), 1U + 1000U);
  EXPECT_EQ(closed[0].open_time_ms, kT0);
  EXPECT_EQ(closed[1].open_time_ms, later - 1000LL * 1000);  // the most recent 1000 are kept
  EXPECT_EQ(closed.back().open_time_ms, later - 1000);
  for (std::size_t i = 2; i < closed.size(); ++i) {
    ASSERT_EQ(closed[i].open_time_ms, closed[i - 1].open_time_ms + 1000);
  }
  EXPECT_EQ(b.stats().fillers, 1000U);
  EXPECT_EQ(b.stats().fillers_skipped, 4999U - 1000U);
  EXPECT_EQ(r.live[3][0].open_time_ms, later);
}

TEST(CandleBuilderTest, OpenTimesAreUtcAlignedPerTimeframeAndWeeksStartOnMonday) {
  Recorder r;
  const std::uint32_t tfs[] = {60, 300, 3600, 14400, 86400, 604800};
  md::CandleBuilder b(tfs, r);
  const std::int64_t t = 1633998523963;  // 2021-10-12T00:28:43.963Z, a Tuesday
  b.on_trade(1, t, P("0.3528"), Q("58"), 1);
  EXPECT_EQ(r.live[1][0].open_time_ms, 1633998480000);  // 00:28
  EXPECT_EQ(r.live[1][1].open_time_ms, 1633998300000);  // 00:25
  EXPECT_EQ(r.live[1][2].open_time_ms, 1633996800000);  // 00:00
  EXPECT_EQ(r.live[1][3].open_time_ms, 1633996800000);  // 00:00 (4h grid)
  EXPECT_EQ(r.live[1][4].open_time_ms, 1633996800000);  // the day
  EXPECT_EQ(r.live[1][5].open_time_ms, 1633910400000);  // Monday 2021-10-11
  EXPECT_EQ(b.open_time(5, 1633910400000), 1633910400000);
  EXPECT_EQ(b.open_time(5, 1633910400000 - 1), 1633910400000 - 7 * 86'400'000LL);
}

TEST(CandleBuilderTest, UnsupportedTimeframesAreRefused) {
  Recorder r;
  const std::uint32_t seven[] = {7};
  const std::uint32_t three_days[] = {259200};
  const std::uint32_t dup[] = {60, 60};
  EXPECT_THROW(md::CandleBuilder(seven, r), std::invalid_argument);
  EXPECT_THROW(md::CandleBuilder(three_days, r), std::invalid_argument);
  EXPECT_THROW(md::CandleBuilder(dup, r), std::invalid_argument);
  EXPECT_THROW(md::CandleBuilder(std::span<const std::uint32_t>{}, r), std::invalid_argument);
}

TEST(CandleBuilderTest, VolumeSaturatesInsteadOfOverflowing) {
  Recorder r;
  md::CandleBuilder b(k1m, r);
  const std::int64_t huge = std::numeric_limits<std::int64_t>::max() / 2 + 1;
  b.on_trade(0, kT0, md::Price{1}, md::Qty{huge}, 1);
  b.on_trade(0, kT0 + 1, md::Price{1}, md::Qty{huge}, 1);
  EXPECT_EQ(r.live[0][0].volume.raw, std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(b.stats().saturated, 1U);
}

TEST(CandleBuilderTest, KlineIsTheSourceOfTruthForItsTimeframe) {
  Recorder r;
  const std::uint32_t tfs[] = {60, 300};
  md::CandleBuilder b(tfs, r);
  b.on_trade(0, kT0 + 1000, P("10"), Q("1"), 1);
  EXPECT_EQ(b.source(0, 0), md::CandleSource::kTrades);
  // The venue's open kline replaces the trade-built live candle of the same minute.
  b.on_kline(0, kline(kT0, 60, "9.5", "10.5", "9", "10", "40", 12, false, kT0 + 2000));
  EXPECT_EQ(b.source(0, 0), md::CandleSource::kKlines);
  EXPECT_EQ(b.source(0, 1), md::CandleSource::kTrades);
  expect_candle(r.live[0][0], kT0, "9.5", "10.5", "9", "10", "40", 12, 0);
  // Trades no longer move the 1m candle, but still build the 5m one.
  b.on_trade(0, kT0 + 3000, P("20"), Q("5"), 1);
  expect_candle(r.live[0][0], kT0, "9.5", "10.5", "9", "10", "40", 12, 0);
  expect_candle(r.live[0][1], kT0 - 180'000, "10", "20", "10", "20", "6", 2, 0);
  // Nor does a trade in the next minute close it: the closing kline decides.
  b.on_trade(0, kT0 + kMin + 100, P("21"), Q("1"), 1);
  EXPECT_TRUE(r.closed_of(0, 0).empty());
  // The closing kline (x = true) is emitted exactly as the venue sent it.
  b.on_kline(0, kline(kT0, 60, "9.5", "21", "9", "20.5", "52", 20, true, kT0 + kMin));
  auto closed = r.closed_of(0, 0);
  ASSERT_EQ(closed.size(), 1U);
  expect_candle(closed[0], kT0, "9.5", "21", "9", "20.5", "52", 20, 1);
  expect_candle(r.live[0][0], kT0 + kMin, "20.5", "20.5", "20.5", "20.5", "0", 0, 0);
  // A repeated closing kline is late: no second close for the same open time.
  b.on_kline(0, kline(kT0, 60, "9.5", "21", "9", "20.5", "52", 20, true, kT0 + kMin + 1));
  EXPECT_EQ(r.closed_of(0, 0).size(), 1U);
  EXPECT_EQ(b.stats().late_klines, 1U);
  // The wall clock waits kline_close_delay_ms past the close for the venue's closing kline.
  b.on_time(kT0 + 2 * kMin + 4999);
  EXPECT_EQ(r.closed_of(0, 0).size(), 1U);
  b.on_time(kT0 + 2 * kMin + 5000);
  closed = r.closed_of(0, 0);
  ASSERT_EQ(closed.size(), 2U);
  expect_candle(closed[1], kT0 + kMin, "20.5", "20.5", "20.5", "20.5", "0", 0, 1);
}

TEST(CandleBuilderTest, KlineForALaterPeriodClosesTheLiveCandleWithItsLastValues) {
  Recorder r;
  md::CandleBuilder b(k1m, r);
  b.on_kline(0, kline(kT0, 60, "1", "3", "0.5", "2", "7", 4, false, kT0 + 30000));
  // The closing kline of kT0 and two whole minutes were lost (reconnect).
  b.on_kline(0, kline(kT0 + 3 * kMin, 60, "2.5", "2.5", "2.5", "2.5", "1", 1, false,
                      kT0 + 3 * kMin + 100));
  const auto closed = r.closed_of(0, 0);
  ASSERT_EQ(closed.size(), 3U);
  expect_candle(closed[0], kT0, "1", "3", "0.5", "2", "7", 4, 1);
  expect_candle(closed[1], kT0 + kMin, "2", "2", "2", "2", "0", 0, 1);
  expect_candle(closed[2], kT0 + 2 * kMin, "2", "2", "2", "2", "0", 0, 1);
  expect_candle(r.live[0][0], kT0 + 3 * kMin, "2.5", "2.5", "2.5", "2.5", "1", 1, 0);
}

TEST(CandleBuilderTest, KlinesForOtherIntervalsOrOffGridAreIgnored) {
  Recorder r;
  md::CandleBuilder b(k1m, r);
  b.on_kline(0, kline(kT0, 300, "1", "1", "1", "1", "1", 1, false, kT0));     // 5m: not configured
  b.on_kline(0, kline(kT0 + 1, 60, "1", "1", "1", "1", "1", 1, false, kT0));  // off the grid
  EXPECT_EQ(b.live(0, 0), nullptr);
  EXPECT_EQ(b.source(0, 0), md::CandleSource::kTrades);
  EXPECT_EQ(b.stats().klines_unconfigured, 1U);
  EXPECT_EQ(b.stats().misaligned_klines, 1U);
}

TEST(CandleBuilderTest, QuietKlineStreamFallsBackToTrades) {
  Recorder r;
  md::CandleBuilder b(k1m, r);
  b.on_kline(0, kline(kT0, 60, "1", "1", "1", "1", "1", 1, false, kT0 + 1000));
  b.on_trade(0, kT0 + 1000 + 60'000, P("2"), Q("1"), 1);  // within kline_stale_ms: ignored
  expect_candle(r.live[0][0], kT0, "1", "1", "1", "1", "1", 1, 0);
  b.on_trade(0, kT0 + 1000 + 60'001, P("3"), Q("1"), 1);  // the stream has gone quiet
  EXPECT_EQ(b.source(0, 0), md::CandleSource::kTrades);
  EXPECT_EQ(b.stats().kline_fallbacks, 1U);
  ASSERT_EQ(r.closed_of(0, 0).size(), 1U);
  expect_candle(r.live[0][0], kT0 + kMin, "3", "3", "3", "3", "1", 1, 0);
}

// --- the real captures ---------------------------------------------------------------------

// The kline_1m's first and last venue trade ids (f, L), which KlineMsg does not carry.
struct KlineIds {
  std::uint64_t first = 0, last = 0;
  std::size_t count = 0;
};

KlineIds kline_ids(const std::string& capture) {
  std::ifstream in(capture);
  KlineIds ids;
  simdjson::dom::parser p;
  for (std::string line; std::getline(in, line);) {
    if (line.find("@kline_1m") == std::string::npos) continue;
    const auto space = line.find(' ');
    simdjson::dom::element k = p.parse(line.substr(space + 1))["data"]["k"];
    ids.first = k["f"].get_uint64();
    ids.last = k["L"].get_uint64();
    ++ids.count;
  }
  return ids;
}

// Feeds a replay's aggTrades (and, if asked, its klines) into a CandleBuilder, as the publisher
// does, and keeps the raw messages for comparison.
class CandleSink : public md::MarketSink {
 public:
  CandleSink(md::CandleBuilder& b, bool use_klines) : b_(b), use_klines_(use_klines) {}
  void on_trade(const md::SymbolState& s, const md::TradeMsg& t, bool aggregate,
                const md::FrameMeta&) override {
    ASSERT_TRUE(aggregate);
    trades.push_back(t);
    b_.on_trade(s.id, t.trade_time_ms, t.px, t.qty,
                static_cast<std::uint32_t>(t.last_id - t.first_id + 1));
  }
  void on_kline(const md::SymbolState& s, const md::KlineMsg& k, const md::FrameMeta&) override {
    klines.push_back(k);
    if (use_klines_) b_.on_kline(s.id, k);
  }
  std::vector<md::TradeMsg> trades;
  std::vector<md::KlineMsg> klines;

 private:
  md::CandleBuilder& b_;
  bool use_klines_;
};

TEST(CandleCaptureTest, NknusdtAggTradesAreASubsetOfTheVenuesMinute) {
  const std::string path = kData + "/spot_nknusdt_2021-10-12.capture";
  Recorder r;
  md::CandleBuilder b(k1m, r);
  CandleSink sink(b, /*use_klines=*/false);
  md::Pipeline pipeline(md::SyncVenue::kSpot, &sink);
  (void)md::replay_capture(path, pipeline);
  ASSERT_EQ(sink.trades.size(), 1U);
  ASSERT_EQ(sink.klines.size(), 1U);
  const md::TradeMsg& t = sink.trades[0];
  const md::KlineMsg& k = sink.klines[0];
  const KlineIds ids = kline_ids(path);
  ASSERT_EQ(ids.count, 1U);

  // The venue's minute so far: 30 trades, ids 19862761..19862790, still open.
  EXPECT_EQ(k.open_time_ms, kT0);
  EXPECT_FALSE(k.closed);
  EXPECT_EQ(k.trades, 30U);
  EXPECT_EQ(ids.last - ids.first + 1, k.trades);
  // The capture started 11 s into the minute and holds only the minute's latest trade (the
  // aggTrade covers venue trade 19862790 = the kline's L). So only what that trade determines can
  // match: the open time, the close, and bounds on the rest. Open, high, low, volume and count
  // come from the 29 trades before the capture began and cannot be rebuilt from it.
  EXPECT_GE(t.first_id, ids.first);
  EXPECT_EQ(t.last_id, ids.last);
  EXPECT_GE(t.trade_time_ms, k.open_time_ms);
  EXPECT_LE(t.trade_time_ms, k.close_time_ms);

  const layout::Candle* c = b.live(0, 0);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->open_time_ms, k.open_time_ms);
  EXPECT_EQ(c->close, k.close);
  EXPECT_EQ(c->close.raw, px("0.3528"));
  EXPECT_LE(c->high, k.high);
  EXPECT_GE(c->low, k.low);
  EXPECT_LE(c->volume, k.volume);
  EXPECT_EQ(c->volume.raw, px("58"));
  EXPECT_EQ(c->trades, 1U);
  EXPECT_LT(c->trades, k.trades);

  // With the kline stream as the source of truth the live candle is exactly the venue's.
  b.on_kline(0, k);
  c = b.live(0, 0);
  ASSERT_NE(c, nullptr);
  expect_candle(*c, kT0, "0.3527", "0.3528", "0.3522", "0.3528", "25877", 30, 0);
}

TEST(CandleCaptureTest, LrcbtcMinuteBuiltFromAggTradesEqualsTheVenuesKline) {
  // LRCBTC's minute so far holds one venue trade (f = L = 12368013), and the capture has it: the
  // trade-built candle must equal the kline field for field.
  const std::string path = kData + "/spot_lrcbtc_2021-10-12.capture";
  const KlineIds ids = kline_ids(path);
  ASSERT_EQ(ids.count, 1U);
  for (const bool use_klines : {false, true}) {
    SCOPED_TRACE(use_klines ? "klines and trades" : "trades only");
    Recorder r;
    md::CandleBuilder b(k1m, r);
    CandleSink sink(b, use_klines);
    md::Pipeline pipeline(md::SyncVenue::kSpot, &sink);
    (void)md::replay_capture(path, pipeline);
    ASSERT_EQ(sink.trades.size(), 1U);
    ASSERT_EQ(sink.klines.size(), 1U);
    const md::KlineMsg& k = sink.klines[0];
    EXPECT_EQ(sink.trades[0].first_id, ids.first);
    EXPECT_EQ(sink.trades[0].last_id, ids.last);
    const layout::Candle* c = b.live(0, 0);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->open_time_ms, k.open_time_ms);
    EXPECT_EQ(c->open, k.open);
    EXPECT_EQ(c->high, k.high);
    EXPECT_EQ(c->low, k.low);
    EXPECT_EQ(c->close, k.close);
    EXPECT_EQ(c->volume, k.volume);
    EXPECT_EQ(c->trades, k.trades);
    expect_candle(*c, kT0, "0.00000638", "0.00000638", "0.00000638", "0.00000638", "177", 1, 0);
    EXPECT_EQ(b.source(0, 0), use_klines ? md::CandleSource::kKlines : md::CandleSource::kTrades);
  }
}

}  // namespace
