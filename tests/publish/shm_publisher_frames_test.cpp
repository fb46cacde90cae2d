// ShmPublisher fed single frames: which trade source it follows, quote times and update ids,
// refreshed exchangeInfo; and the frame parser's per-frame reset.
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "cwts/concurrent/broadcast_ring.hpp"
#include "cwts/md/frame_parser.hpp"
#include "cwts/md/replay.hpp"
#include "cwts/publish/shm_publisher.hpp"
#include "shm_publisher_test_util.hpp"

namespace {

namespace md = cwts::md;
namespace binance = cwts::binance;
namespace publish = cwts::publish;
namespace layout = cwts::layout;
namespace cc = cwts::concurrent;
using cwts::publish::test::info2021;
using cwts::publish::test::kSymbols;
using cwts::publish::test::kTimeframes;
using cwts::publish::test::px;
using cwts::publish::test::ShmPublisherTest;

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
  const layout::Quote q = market().symbol(1).quote.load();
  EXPECT_EQ(q.last_trade_id, 15683431U);
  EXPECT_EQ(q.last_side, static_cast<std::uint8_t>(layout::Side::kSell));  // m=true: seller took
  const layout::Candle* live = pub.candles().live(1, 1);
  ASSERT_NE(live, nullptr);
  EXPECT_EQ(live->trades, 1U + 5U);
  EXPECT_EQ(live->volume.raw, px("68"));
  EXPECT_EQ(live->high.raw, px("0.3529"));
  // The live candle in shared memory is the builder's.
  const layout::Candle shm_live = market().candles(1, 1).live.load();
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
  const layout::Quote q = market().symbol(1).quote.load();
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
  const layout::SymbolInfo si = market().symbol(1).info.load();
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
  const auto quote = [&] { return market().symbol(1).quote.load(); };
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
  auto book = std::make_unique<layout::BookTop>();
  market().book(1).load(*book);
  EXPECT_EQ(book->update_id, 103U);
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
