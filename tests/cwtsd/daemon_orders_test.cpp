// cwtsd as a process against cwts-sim, this test as the strategy: orders filled and reported,
// every reject reason, rate limits, torn signals, a flood, and venue faults mid-order.
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cwts/shm/region.hpp"
#include "daemon_fixture.hpp"

namespace {

using namespace cwts::daemon::test;

// An order and the cancel signal behind it, each ended CANCELLED with one terminal report; the
// order's reports.
std::vector<cwts::layout::ExecReport> expect_cancelled(Harness& h, StrategyClient& s,
                                                       std::uint64_t order, std::uint64_t cancel) {
  const auto rs = s.wait_terminal(order, 30s);
  EXPECT_FALSE(rs.empty()) << h.log();
  if (rs.empty()) return rs;
  EXPECT_EQ(terminals(rs), 1U);
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kCancelled)
      << "reason " << rs.back().reason << " code " << rs.back().venue_code;
  const auto cr = s.wait_terminal(cancel, 30s);
  EXPECT_FALSE(cr.empty());
  if (!cr.empty()) {
    EXPECT_EQ(kind_of(cr.back()), ReportKind::kCancelled);
  }
  return rs;
}

void orders_are_filled_and_reported(const EngineOptions& o) {
  Harness h(o);
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  ASSERT_GE(btc, 0);
  const auto q = s.quote(btc);
  ASSERT_GT(q.ask_px.raw, q.bid_px.raw);

  // Market buy 0.001 BTC.
  const auto m = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)));
  auto rs = s.wait_terminal(m);
  ASSERT_FALSE(rs.empty()) << h.log();
  EXPECT_EQ(kind_of(rs.front()), ReportKind::kAccepted);
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled) << "reason " << rs.back().reason;
  EXPECT_EQ(terminals(rs), 1U);
  EXPECT_EQ(rs.back().cum_qty.raw, fx(0.001));
  EXPECT_GT(rs.back().avg_px.raw, 0);
  EXPECT_GT(rs.back().fee.raw, 0) << "a fill pays a commission";
  EXPECT_NE(rs.back().venue_order_id, 0U);
  const std::string cid(rs.back().client_order_id.view());
  EXPECT_EQ(cid.substr(0, 2), "cw");

  // A marketable limit buy (at the ask + 1%) fills too.
  const auto q2 = s.quote(btc);
  const auto l =
      s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.002),
                                    tick_floor(q2.ask_px.raw + q2.ask_px.raw / 100, fx(0.01))));
  rs = s.wait_terminal(l);
  ASSERT_FALSE(rs.empty());
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled);
  EXPECT_EQ(rs.back().cum_qty.raw, fx(0.002));

  // A resting limit buy 2% below the bid: NEW, then cancelled by a cancel signal.
  const auto q3 = s.quote(btc);
  const auto r =
      s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001),
                                    tick_floor(q3.bid_px.raw - q3.bid_px.raw / 50, fx(0.01))));
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  bool rested = false;
  while (!rested && std::chrono::steady_clock::now() < deadline) {
    s.drain();
    for (const auto& x : s.reports())
      rested = rested || (x.signal_seq == r && kind_of(x) == ReportKind::kNew);
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(rested) << h.log();
  const auto c = s.cancel(r);
  rs = s.wait_terminal(r);
  ASSERT_FALSE(rs.empty());
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kCancelled);
  auto cr = s.wait_terminal(c);
  ASSERT_FALSE(cr.empty());
  EXPECT_EQ(kind_of(cr.back()), ReportKind::kCancelled);

  // The venue agrees: two filled orders' trades, nothing open; the engine's position is 0.003.
  const auto trades = h.signed_get("/api/v3/myTrades", "symbol=BTCUSDT");
  ASSERT_EQ(trades.status, 200U) << trades.body;
  EXPECT_GE(array_size(trades.body), 2U);
  const auto open = h.signed_get("/api/v3/openOrders", "symbol=BTCUSDT");
  EXPECT_EQ(array_size(open.body), 0U) << open.body;
  // The position is the balance change: the buys' commissions were taken in BTC.
  const std::int64_t held = balance_change(h, "BTC", fx(10));
  EXPECT_LT(held, fx(0.003)) << "the venue charged the commission in the base asset";
  EXPECT_GT(held, fx(0.0029));
  EXPECT_EQ(position_when(s, btc, held), held);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(Cwtsd, LimitAndMarketOrdersAreFilledAndReported) { orders_are_filled_and_reported({}); }

// A spinning exec loop reads the signal rings on every pass and polls the venue's sockets only
// after a pass that did work or every few microseconds (ADR 0037): the same orders, answers and
// reports as the blocking loop above, over REST and over the WebSocket API.
TEST(Cwtsd, ASpinningExecLoopFillsAndReportsTheSameOverRestAndTheWebSocketApi) {
  for (const char* transport : {"rest", "ws"}) {
    SCOPED_TRACE(transport);
    EngineOptions o;
    o.threads = R"("exec":{"idle":"busy-spin"})";
    o.extra_venue = std::string(R"(,"order_transport":")") + transport + "\"";
    orders_are_filled_and_reported(o);
  }
}

TEST(Cwtsd, EveryRejectReasonIsReportedAndNothingReachesTheVenue) {
  Harness h;
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  const auto q = s.quote(btc);
  const std::int64_t mid = tick_floor((q.bid_px.raw + q.ask_px.raw) / 2, fx(0.01));
  const std::int64_t below = tick_floor(q.bid_px.raw - q.bid_px.raw / 100, fx(0.01));  // rests
  using S = StrategyClient;
  struct Case {
    const char* name;
    cwts::layout::Signal sig;
    RejectReason want;
  };
  auto with = [](cwts::layout::Signal x, auto f) {
    f(x);
    return x;
  };
  std::vector<Case> cases = {
      {"unknown symbol", S::make(7, Side::kBuy, OrderType::kLimit, fx(0.001), below),
       RejectReason::kUnknownSymbol},
      {"bad side",
       with(S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), below),
            [](auto& x) { x.side = 9; }),
       RejectReason::kBadSide},
      {"bad type",
       with(S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), below),
            [](auto& x) { x.type = 42; }),
       RejectReason::kBadType},
      {"market with tif",
       with(S::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)), [](auto& x) { x.tif = 1; }),
       RejectReason::kBadType},
      {"zero qty", S::make(btc, Side::kBuy, OrderType::kLimit, 0, below), RejectReason::kBadValue},
      {"negative price", S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), -5),
       RejectReason::kBadValue},
      {"stale",
       with(S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), below),
            [](auto& x) { x.created_ns = cwts::core::realtime_ns() - 60'000'000'000LL; }),
       RejectReason::kStale},
      {"tick size", S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), below + 1),
       RejectReason::kTickSize},
      {"step size", S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001) + 1, below),
       RejectReason::kStepSize},
      {"max qty", S::make(btc, Side::kBuy, OrderType::kLimit, fx(9001), below),
       RejectReason::kMaxQty},
      {"min notional", S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.0001), below),
       RejectReason::kMinNotional},
      {"max notional", S::make(btc, Side::kBuy, OrderType::kLimit, fx(3), below),
       RejectReason::kMaxNotional},
      {"percent price", S::make(btc, Side::kSell, OrderType::kLimit, fx(0.001), mid * 6),
       RejectReason::kPercentPrice},
      {"price band",
       S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), tick_floor(mid - mid / 10, fx(0.01))),
       RejectReason::kPriceBand},
  };
  std::map<std::uint64_t, Case> by_seq;
  for (auto& c : cases) by_seq[s.submit(c.sig)] = c;
  ASSERT_EQ(by_seq.begin()->first, 1U);
  // Replayed sequence: the first signal's seq again.
  auto replay = S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), below);
  replay.seq = 1;
  s.submit(replay, true);
  const auto last_seq = s.submit(S::make(9, Side::kBuy, OrderType::kLimit, fx(0.001), below));
  ASSERT_FALSE(s.wait_terminal(last_seq).empty());
  s.drain();
  for (auto& [seq, c] : by_seq) {
    std::vector<cwts::layout::ExecReport> rs;
    for (const auto& r : s.reports()) {
      if (r.signal_seq == seq) rs.push_back(r);
    }
    // seq 1 also carries the replay's rejection, after its own.
    ASSERT_EQ(rs.size(), seq == 1 ? 2U : 1U)
        << c.name << ": a rejected signal gets exactly one report";
    EXPECT_EQ(kind_of(rs.front()), ReportKind::kRejected) << c.name;
    EXPECT_EQ(static_cast<RejectReason>(rs.front().reason), c.want) << c.name;
    if (seq == 1) {
      EXPECT_EQ(static_cast<RejectReason>(rs.back().reason), RejectReason::kReplayedSequence);
    }
  }

  // Slot policies: slot 3 may not trade, slot 4 only reduces (the position is flat).
  StrategyClient s3(h.instance(), 3);
  const auto a = s3.submit(S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), below));
  auto ra = s3.wait_terminal(a);
  ASSERT_FALSE(ra.empty());
  EXPECT_EQ(static_cast<RejectReason>(ra.back().reason), RejectReason::kSlotNotAuthorised);
  StrategyClient s4(h.instance(), 4);
  const auto b =
      s4.submit(S::make(btc, Side::kSell, OrderType::kLimit, fx(0.001), mid + mid / 100));
  auto rb = s4.wait_terminal(b);
  ASSERT_FALSE(rb.empty());
  EXPECT_EQ(static_cast<RejectReason>(rb.back().reason), RejectReason::kReduceOnly);
  // Reduce-only by the signal's own flag.
  auto ro = S::make(btc, Side::kSell, OrderType::kLimit, fx(0.001), mid + mid / 100);
  ro.flags = cwts::layout::kSignalReduceOnly;
  const auto rf = s.submit(ro);
  auto rr = s.wait_terminal(rf);
  ASSERT_FALSE(rr.empty());
  EXPECT_EQ(static_cast<RejectReason>(rr.back().reason), RejectReason::kReduceOnly);

  // Nothing above reached the venue.
  EXPECT_EQ(array_size(h.signed_get("/api/v3/openOrders", "symbol=BTCUSDT").body), 0U);
  EXPECT_EQ(array_size(h.signed_get("/api/v3/myTrades", "symbol=BTCUSDT").body), 0U);

  // MAX_OPEN_ORDERS (5 per symbol here): five resting orders, the sixth refused; and
  // MAX_POSITION after tightening the limit with SIGHUP.
  std::vector<std::uint64_t> resting;
  for (int i = 0; i < 5; ++i) {
    resting.push_back(
        s.submit(S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), below - fx(0.01) * i)));
  }
  const auto sixth = s.submit(S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), below));
  auto r6 = s.wait_terminal(sixth);
  ASSERT_FALSE(r6.empty());
  EXPECT_EQ(static_cast<RejectReason>(r6.back().reason), RejectReason::kMaxOpenOrders);
  for (auto seq : resting) s.cancel(seq);
  for (auto seq : resting) {
    auto rc = s.wait_terminal(seq);
    ASSERT_FALSE(rc.empty());
    EXPECT_EQ(kind_of(rc.back()), ReportKind::kCancelled);
  }
  // Cancel of an unknown order.
  const auto cu = s.cancel(999999);
  auto rcu = s.wait_terminal(cu);
  ASSERT_FALSE(rcu.empty());
  EXPECT_EQ(static_cast<RejectReason>(rcu.back().reason), RejectReason::kUnknownOrder);

  // SIGHUP: max_position 0.0005 and trading halted take effect at once.
  {
    std::string cfg = cwts::test::read_file(h.config_path());
    const std::string from = R"("max_open_orders":5)";
    cfg.replace(cfg.find(from), from.size(), R"("max_open_orders":5,"max_position":"0.0005")");
    std::ofstream(h.config_path()) << cfg;
  }
  h.engine().signal(SIGHUP);
  std::this_thread::sleep_for(500ms);
  const auto mp = s.submit(S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), below));
  auto rmp = s.wait_terminal(mp);
  ASSERT_FALSE(rmp.empty());
  EXPECT_EQ(static_cast<RejectReason>(rmp.back().reason), RejectReason::kMaxPosition) << h.log();
  {
    std::string cfg = cwts::test::read_file(h.config_path());
    const std::string from = R"("max_open_orders":5)";
    cfg.replace(cfg.find(from), from.size(), R"("trading_state":"halted","max_open_orders":5)");
    std::ofstream(h.config_path()) << cfg;
  }
  h.engine().signal(SIGHUP);
  std::this_thread::sleep_for(500ms);
  const auto ht = s.submit(S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.0001), below));
  auto rht = s.wait_terminal(ht);
  ASSERT_FALSE(rht.empty());
  EXPECT_EQ(static_cast<RejectReason>(rht.back().reason), RejectReason::kTradingHalted);
  EXPECT_NE(h.log().find("config_reloaded"), std::string::npos);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(Cwtsd, RateLimitedSignalsAreRejectedNotQueued) {
  // The venue's order budget: 50 per 10 s; the engine allows itself 80 % of it, a slot half.
  EngineOptions o;
  o.rate = R"("engine_share":0.8,"slot_share":0.5)";
  o.risk = R"("max_order_notional":"100000","max_open_orders":1000,"price_band_bps":500)";
  Harness h(o);
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  const auto q = s.quote(btc);
  const std::int64_t below = tick_floor(q.bid_px.raw - q.bid_px.raw / 100, fx(0.01));
  std::vector<std::uint64_t> seqs;
  for (int i = 0; i < 30; ++i) {
    seqs.push_back(s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001),
                                                 below, TimeInForce::kIoc)));
  }
  std::size_t limited = 0, accepted = 0;
  for (auto seq : seqs) {
    const auto rs = s.wait_terminal(seq);
    ASSERT_FALSE(rs.empty());
    EXPECT_EQ(terminals(rs), 1U);
    if (static_cast<RejectReason>(rs.back().reason) == RejectReason::kRateLimited) ++limited;
    if (kind_of(rs.front()) == ReportKind::kAccepted) ++accepted;
  }
  EXPECT_EQ(accepted, 20U) << "slot budget = 50 * 0.8 * 0.5";
  EXPECT_EQ(limited, 10U);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(Cwtsd, TornSignalFromAKilledStrategyNeverBecomesAnOrder) {
  Harness h;
  const int slot = 2;
  std::uint64_t torn_seq = 0;
  {
    StrategyClient probe(h.instance(), slot);
    torn_seq = probe.next_seq();
  }
  // A strategy process writes a signal's words but is killed before the commit store.
  const pid_t child = ::fork();
  if (child == 0) {
    StrategyClient s(h.instance(), slot, "doomed");
    auto sig =
        StrategyClient::make(s.symbol_id("BTCUSDT"), Side::kBuy, OrderType::kMarket, fx(0.5));
    sig.seq = torn_seq;
    sig.created_ns = cwts::core::realtime_ns();
    auto& ring = s.lease().memory().signals;  // the slot's memory the engine handed over
    const std::uint64_t tail = cwts::concurrent::load_word(ring.tail, std::memory_order_acquire);
    auto& rec = ring.records[tail % cwts::layout::kSignalRingCapacity];
    std::memcpy(static_cast<void*>(rec.words), &sig, sizeof sig);  // words, never the commit
    ::kill(::getpid(), SIGKILL);
  }
  int st = 0;
  ::waitpid(child, &st, 0);
  ASSERT_TRUE(WIFSIGNALED(st));
  std::this_thread::sleep_for(300ms);
  // A new strategy takes the slot over and sends a real (small) order.
  StrategyClient s(h.instance(), slot, "successor");
  const int btc = s.symbol_id("BTCUSDT");
  const auto seq = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)));
  const auto rs = s.wait_terminal(seq);
  ASSERT_FALSE(rs.empty());
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled);
  std::this_thread::sleep_for(300ms);
  s.drain();
  for (const auto& r : s.reports()) {
    EXPECT_NE(r.cum_qty.raw, fx(0.5)) << "the torn record was executed";
  }
  const auto trades = h.signed_get("/api/v3/myTrades", "symbol=BTCUSDT");
  const std::int64_t total = traded_qty(trades.body);
  EXPECT_EQ(total, fx(0.001)) << "only the committed signal traded";
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// Issue 16 #11: a strategy that never read its reports made the engine hold every one of them:
// its memory grew with each signal. Now the strategy's own ring fills instead, and nothing is lost.
TEST(Cwtsd, AStrategyThatNeverReadsItsReportsIsHeldBackNotTheEngine) {
  Harness h;
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  // Refused at once (quantity 0: BAD_VALUE), one report each; none read while sending.
  const auto bad = StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, 0, fx(100));
  constexpr std::uint64_t kMax = 20'000;
  const std::uint64_t first = s.next_seq();
  std::uint64_t pushed = 0;
  auto last_ok = std::chrono::steady_clock::now();
  while (pushed < kMax && std::chrono::steady_clock::now() - last_ok < 2s) {
    if (s.try_submit(bad) == cwts::concurrent::PushStatus::kOk) {
      ++pushed;
      last_ok = std::chrono::steady_clock::now();
    } else {
      std::this_thread::sleep_for(1ms);
    }
  }
  // The report ring (1,024) and the engine's held reports (4,096, plus one loop's 64) are full;
  // the rest waits in the strategy's signal ring (1,024).
  EXPECT_LT(pushed, kMax) << "the engine kept taking signals whose reports nobody read";
  const std::string m = h.metrics();
  const auto k = m.find("\ncwts_signals_seen_total ");
  ASSERT_NE(k, std::string::npos) << m;
  EXPECT_LE(std::stoull(m.substr(k + 25)), 1024U + 4096U + 64U) << m;
  // Reading resumes the intake: every signal sent gets exactly one terminal report.
  std::map<std::uint64_t, int> terminal_count;
  std::size_t seen = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (terminal_count.size() < pushed && std::chrono::steady_clock::now() < deadline) {
    s.drain();
    for (; seen < s.reports().size(); ++seen) {
      const auto& r = s.reports()[seen];
      if (cwts::layout::is_terminal(kind_of(r))) ++terminal_count[r.signal_seq];
    }
    std::this_thread::sleep_for(2ms);
  }
  ASSERT_EQ(terminal_count.size(), pushed);
  for (const auto& [seq, n] : terminal_count) {
    EXPECT_EQ(n, 1) << "seq " << seq;
    EXPECT_GE(seq, first);
  }
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(Cwtsd, FloodOfSignalsEachGetsOneTerminalReportWithinVenueLimits) {
  EngineOptions o;
  o.risk = R"("max_order_notional":"100000","max_open_orders":1000,"price_band_bps":500)";
  Harness h(o);
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  const auto q = s.quote(btc);
  const std::int64_t below = tick_floor(q.bid_px.raw - q.bid_px.raw / 100, fx(0.01));
  constexpr std::uint64_t kSignals = 100'000;
  const std::uint64_t first = s.next_seq();
  for (std::uint64_t i = 0; i < kSignals; ++i) {
    // IOC far from the touch: each accepted one expires at the venue, nothing rests.
    s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), below,
                                  TimeInForce::kIoc));
  }
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  std::map<std::uint64_t, int> terminal_count;
  std::size_t seen = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    s.drain();
    for (; seen < s.reports().size(); ++seen) {
      const auto& r = s.reports()[seen];
      if (cwts::layout::is_terminal(kind_of(r))) ++terminal_count[r.signal_seq];
    }
    if (terminal_count.size() == kSignals) break;
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(terminal_count.size(), kSignals) << "every signal gets a terminal report";
  std::size_t accepted = 0;
  for (const auto& [seq, n] : terminal_count) {
    EXPECT_EQ(n, 1) << "seq " << seq;
    EXPECT_GE(seq, first);
  }
  std::set<std::string> cids;
  for (const auto& r : s.reports()) {
    if (kind_of(r) == ReportKind::kAccepted) {
      ++accepted;
      EXPECT_TRUE(cids.insert(std::string(r.client_order_id.view())).second)
          << "duplicated order id";
    }
  }
  EXPECT_GT(accepted, 0U);
  EXPECT_LE(accepted, 40U + 40U) << "at most the engine's share of 50 orders / 10 s (two windows)";
  // The venue never had to refuse the engine.
  const std::string log = h.log();
  EXPECT_EQ(log.find("\"backoff\""), std::string::npos);
  EXPECT_EQ(cwts::test::read_file(h.log_dir() + "/sim.log").find("\"429\""), std::string::npos);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(Cwtsd, VenueFaultsMidOrderNeverDoubleAnOrder) {
  Harness h;
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  FaultedBuys market_buy{h, s, btc};
  // Faults on the order endpoint only: the engine's account refresh after each fill runs
  // meanwhile and must not take the fault meant for the order.
  market_buy(R"({"http_status":503,"count":1,"path":"/api/v3/order"})",
             ReportKind::kFilled);  // refused: resent once
  market_buy(R"({"delay_ms":700,"count":1,"path":"/api/v3/order"})",
             ReportKind::kFilled);  // timed out: adopted
  market_buy(R"({"http_status":429,"count":1,"path":"/api/v3/order"})",
             ReportKind::kRejected);    // rate limited: final
  std::this_thread::sleep_for(1200ms);  // Retry-After: 1
  EXPECT_NE(h.metrics().find("\ncwts_venue_backoffs_total{http_status=\"429\"} 1\n"),
            std::string::npos)
      << h.metrics();
  // Dropped connections: the feed reconnects and resyncs; a signal meanwhile is BOOK_NOT_VALID.
  ASSERT_EQ(h.fault(R"({"drop_connections":true})").status, 200U);
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(h.sim().running()) << "cwts-sim died: status " << h.sim().wait(0ms);
  const auto during =
      s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)));
  const auto rd = s.wait_terminal(during);
  ASSERT_FALSE(rd.empty());
  if (kind_of(rd.back()) == ReportKind::kFilled) {
    market_buy.filled += fx(0.001);  // the resync was faster than the signal
  } else {
    // Refused while the book resynced, or not sent before its deadline (the REST connections
    // were dropped too): either way nothing reached the venue, which the total below checks.
    const auto why = static_cast<RejectReason>(rd.back().reason);
    EXPECT_TRUE(why == RejectReason::kBookNotValid || why == RejectReason::kStale)
        << "reason " << rd.back().reason;
  }
  const auto valid_by = std::chrono::steady_clock::now() + 10s;
  while (s.quote(btc).book_valid == 0 && std::chrono::steady_clock::now() < valid_by) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_NE(s.quote(btc).book_valid, 0) << "the book resynced";
  market_buy("", ReportKind::kFilled);
  // The venue holds exactly the fills the engine reported.
  const auto trades = h.signed_get("/api/v3/myTrades", "symbol=BTCUSDT");
  const std::int64_t total = traded_qty(trades.body);
  EXPECT_EQ(total, market_buy.filled);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// Binance's "execution status unknown" codes (-1006, -1007) may come with any HTTP status; the
// order may have been executed. The engine must find out (a query after recvWindow), never assume
// a rejection: an order the venue filled and the strategy was told was rejected is an order the
// engine forgot. An order found absent is resent only before its signal's deadline (TTL). And a
// venue rate limit is reported with the venue's own code.
TEST(Cwtsd, UnknownOutcomesAreQueriedNeverAssumedAndNeverResentPastTheirDeadline) {
  Harness h(polling_only());
  StrategyClient s(h.instance(), 0);
  FaultedBuys market_buy{h, s, s.symbol_id("BTCUSDT")};
  market_buy(R"({"http_status":400,"code":-1007,"after_processing":true,"path":"/api/v3/order"})",
             ReportKind::kFilled);
  market_buy(R"({"http_status":400,"code":-1006,"after_processing":true,"path":"/api/v3/order"})",
             ReportKind::kFilled);
  // Refused before processing (503), so the order is queried after recvWindow (1 s), found absent,
  // and would be resent: not after its signal's TTL (300 ms) has passed.
  const auto late = market_buy(R"({"http_status":503,"count":1,"path":"/api/v3/order"})",
                               ReportKind::kRejected, 300);
  ASSERT_FALSE(late.empty());
  EXPECT_EQ(static_cast<RejectReason>(late.back().reason), RejectReason::kStale);
  const auto limited = market_buy(R"({"http_status":429,"code":-1015,"path":"/api/v3/order"})",
                                  ReportKind::kRejected);
  ASSERT_FALSE(limited.empty());
  EXPECT_EQ(limited.back().venue_code, -1015);
  EXPECT_EQ(static_cast<RejectReason>(limited.back().reason), RejectReason::kRateLimited);
  EXPECT_EQ(traded_qty(h.signed_get("/api/v3/myTrades", "symbol=BTCUSDT").body), market_buy.filled)
      << "the venue holds exactly the fills the engine reported";
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// A cancel for an order the venue has not acknowledged yet may overtake it (another connection):
// the venue answers "unknown order", and a query then finds nothing either. Neither proves the
// order will not arrive: the cancel waits for the acknowledgement, and nothing is resent.
TEST(Cwtsd, ACancelOvertakingItsOrderNeitherResendsNorOrphansIt) {
  Harness h;
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  const auto q = s.quote(btc);
  ASSERT_EQ(h.fault(R"({"hold_ms":300,"count":1,"path":"/api/v3/order","method":"POST"})").status,
            200U);
  const auto r =
      s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001),
                                    tick_floor(q.bid_px.raw - q.bid_px.raw / 50, fx(0.01))));
  std::this_thread::sleep_for(20ms);  // the order is on its way (held at the venue's door)
  const auto rs = expect_cancelled(h, s, r, s.cancel(r));
  ASSERT_FALSE(rs.empty());
  // The venue: one order with this client order id, cancelled; nothing left open.
  const std::string cid(rs.back().client_order_id.view());
  const auto all = h.signed_get("/api/v3/allOrders", "symbol=BTCUSDT").body;
  std::size_t n = 0;
  for (std::size_t at = all.find(cid); at != std::string::npos; at = all.find(cid, at + 1)) ++n;
  EXPECT_EQ(n, 1U) << all;
  EXPECT_NE(all.find("CANCELED"), std::string::npos) << all;
  EXPECT_EQ(array_size(h.signed_get("/api/v3/openOrders", "symbol=BTCUSDT").body), 0U);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// A cancel the venue did not execute (an answer of 5xx, its connection lost, refused) left the
// order resting with no cancel behind it: the engine had sent one, so neither a later cancel_all
// nor the stop sent another, and the strategy's cancel signal never got its terminal report
// (found by the soak: an order open at the venue after the final stop). The status query that
// follows such a cancel now sends it again while the order is open.
TEST(Cwtsd, ACancelTheVenueDidNotExecuteIsSentAgainUntilTheOrderIsCancelled) {
  struct Case {
    const char* name;
    bool ws_orders;
    const char* fault;
    const char* logged;  // the engine saw the fault
  };
  const Case cases[] = {
      {"REST 503", false,
       R"({"http_status":503,"count":1,"path":"/api/v3/order","method":"DELETE"})", "venue 503"},
      {"REST refused", false,
       R"({"http_status":400,"code":-1021,"count":2,"path":"/api/v3/order","method":"DELETE"})",
       "\"cancel_refused\""},
      {"WebSocket API 503", true,
       R"({"http_status":503,"count":1,"path":"/ws-api/v3","method":"order.cancel"})", "venue 503"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EngineOptions o;
    if (c.ws_orders) o.extra_venue = R"(,"order_transport":"ws")";
    Harness h(o);
    StrategyClient s(h.instance(), 0);
    const int btc = s.symbol_id("BTCUSDT");
    const auto q = s.quote(btc);
    const auto r =
        s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001),
                                      tick_floor(q.bid_px.raw - q.bid_px.raw / 50, fx(0.01))));
    ASSERT_TRUE(wait_kind(s, r, ReportKind::kNew)) << h.log();
    ASSERT_EQ(h.fault(c.fault).status, 200U);
    const auto cancel = s.cancel(r);
    const auto cr = s.wait_terminal(cancel, 30s);
    ASSERT_FALSE(cr.empty()) << "the cancel signal never ended\n" << h.log();
    EXPECT_EQ(kind_of(cr.back()), ReportKind::kCancelled);
    const auto rs = s.wait_terminal(r, 5s);
    ASSERT_FALSE(rs.empty());
    EXPECT_EQ(terminals(rs), 1U);
    EXPECT_EQ(kind_of(rs.back()), ReportKind::kCancelled);
    EXPECT_EQ(array_size(h.signed_get("/api/v3/openOrders", "symbol=BTCUSDT").body), 0U);
    EXPECT_NE(h.log().find(c.logged), std::string::npos) << h.log();
    EXPECT_EQ(h.engine().terminate(15s), 0);
  }
}

// An order whose request failed (5xx, not executed) is looked up once its request can no longer
// execute, and sent again when the venue proves it absent. A cancel meanwhile only marked it, and
// the resend went out all the same: a market order the strategy had cancelled was filled (found
// in review). Proven absent with a cancel wanted, it ends CANCELLED and is never sent again.
TEST(Cwtsd, AnOrderCancelledWhileItsFailedRequestIsLookedUpIsNeverSentAgain) {
  Harness h;
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  ASSERT_EQ(
      h.fault(R"({"http_status":503,"count":1,"path":"/api/v3/order","method":"POST"})").status,
      200U);
  const auto r = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)));
  ASSERT_TRUE(wait_kind(s, r, ReportKind::kAccepted)) << h.log();
  // The 503 comes back at once; the look-up waits for the request's recvWindow (1 s) to pass.
  std::this_thread::sleep_for(200ms);
  (void)expect_cancelled(h, s, r, s.cancel(r));
  EXPECT_EQ(array_size(h.signed_get("/api/v3/allOrders", "symbol=BTCUSDT").body), 0U)
      << "nothing reached the venue";
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// Status queries that keep failing must not end an order: it may be live (here: filled) on the
// venue. The strategy is told the state is unknown (not terminal); the engine keeps asking, and the
// order's one terminal report is what the venue finally says.
TEST(Cwtsd, AnOrderWhoseStatusQueriesKeepFailingStaysTrackedUntilTheVenueAnswers) {
  Harness h(polling_only());
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  FaultedBuys market_buy{h, s, btc};
  // The order is executed but its answer lost, then its first 7 status queries fail too.
  const auto rs =
      market_buy(R"({"http_status":503,"count":8,"after_processing":true,"path":"/api/v3/order"})",
                 ReportKind::kFilled);
  std::size_t unknown = 0;
  for (const auto& r : rs) unknown += kind_of(r) == ReportKind::kStatusUnknown ? 1 : 0;
  EXPECT_EQ(unknown, 1U) << "told once that the state is not known";
  EXPECT_EQ(traded_qty(h.signed_get("/api/v3/myTrades", "symbol=BTCUSDT").body), fx(0.001));
  const std::int64_t held = balance_change(h, "BTC", fx(10));
  EXPECT_LT(held, fx(0.001)) << "less the commission, in BTC";
  EXPECT_EQ(position_when(s, btc, held), held);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// A fill found by a status query (no fills in the answer) needs the order's trades for its
// commissions; the terminal report waits for them. A failing myTrades must be asked again until it
// answers, not dropped, or the report and the position update wait forever.
TEST(Cwtsd, AFillWhoseTradesLookupKeepsFailingIsReportedOnceTheVenueAnswers) {
  Harness h(polling_only());
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  // The order executes but its answer is lost: found FILLED by the query after recvWindow (1 s).
  ASSERT_EQ(
      h.fault(R"({"http_status":503,"count":1,"after_processing":true,"path":"/api/v3/order"})")
          .status,
      200U);
  const auto seq = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)));
  std::this_thread::sleep_for(300ms);
  // Meanwhile its trades look-up is made to fail 7 times.
  ASSERT_EQ(h.fault(R"({"http_status":500,"count":7,"path":"/api/v3/myTrades"})").status, 200U);
  const auto rs = s.wait_terminal(seq, 60s);
  ASSERT_FALSE(rs.empty()) << h.log();
  EXPECT_EQ(terminals(rs), 1U);
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled) << "reason " << rs.back().reason;
  EXPECT_GT(rs.back().fee.raw, 0) << "with the venue's commission";
  const std::int64_t held = balance_change(h, "BTC", fx(10));
  EXPECT_LT(held, fx(0.001)) << "less the commission, in BTC";
  EXPECT_EQ(position_when(s, btc, held), held);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

}  // namespace
