// The order journal end to end (docs/journal.md): a real cwtsd killed with SIGKILL and started
// again against the same cwts-sim account knows every order it sent and its positions.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "daemon_fixture.hpp"

namespace {

using namespace cwts::daemon::test;
using namespace std::chrono_literals;
using cwts::layout::OrderType;
using cwts::layout::ReportKind;
using cwts::layout::Side;
using cwts::test::StrategyClient;

// This test process's journal directory (a journal file is preallocated: 128 MiB each).
std::string journal_dir() {
  return ::testing::TempDir() + "/cwtsd-journal-" + std::to_string(::getpid());
}

// Removes it when the process's tests are done, so that runs leave nothing in the temp dir.
struct RemoveJournalDir : ::testing::Environment {
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(journal_dir(), ec);
  }
};
[[maybe_unused]] const auto* const kRemoveJournalDir =
    ::testing::AddGlobalTestEnvironment(new RemoveJournalDir);

EngineOptions journaled(const std::string& on_start = "adopt") {
  EngineOptions o;
  o.extra = R"("journal":{"dir":")" + journal_dir() + R"(","fsync":"interval","interval_ms":5},)";
  o.extra_venue = R"(,"on_start":")" + on_start + "\"";
  return o;
}
// The same, with fills polled: an order whose answer the engine never reads stays unknown to it
// (the user data stream would tell it the fill before the kill).
EngineOptions journaled_polling(const std::string& on_start = "adopt") {
  EngineOptions o = journaled(on_start);
  o.extra_venue += R"(,"ws_api_url":"")";
  return o;
}

// Reports for `cid` (an earlier run's order: matched by client order id, not by seq).
std::vector<cwts::layout::ExecReport> reports_for(StrategyClient& s, const std::string& cid,
                                                  std::chrono::milliseconds timeout = 15s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    s.drain();
    std::vector<cwts::layout::ExecReport> out;
    bool done = false;
    for (const auto& r : s.reports()) {
      if (r.client_order_id.view() != cid) continue;
      out.push_back(r);
      done = done || cwts::layout::is_terminal(kind_of(r));
    }
    if (done) return out;
    std::this_thread::sleep_for(5ms);
  }
  return {};
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// The client order id of signal `seq` once a report of `kind` arrives for it ("" = none in 10 s).
std::string cid_when(StrategyClient& s, std::uint64_t seq, ReportKind kind) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    s.drain();
    for (const auto& r : s.reports()) {
      if (r.signal_seq == seq && kind_of(r) == kind) return std::string(r.client_order_id.view());
    }
    std::this_thread::sleep_for(1ms);
  }
  return {};
}
std::string wait_new(StrategyClient& s, std::uint64_t seq) {
  return cid_when(s, seq, ReportKind::kNew);
}
// A limit buy of 0.001 BTC 3% under the bid, which rests: its client order id once the venue
// took it ("" = not within 10 s).
std::string rest_btc_buy(StrategyClient& s) {
  const int btc = s.symbol_id("BTCUSDT");
  const auto q = s.quote(btc);
  return wait_new(s, s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001),
                                                   tick_floor(q.bid_px.raw * 97 / 100, fx(0.01)))));
}
std::string accepted_cid(StrategyClient& s, std::uint64_t seq) {
  return cid_when(s, seq, ReportKind::kAccepted);
}

// A market buy of `qty` on the account by another client (not the engine), and then the engine's
// position_mismatch alert for it, within 15 s.
bool mismatch_told_after_an_order_by_hand(Harness& h, const char* qty, const char* cid) {
  std::string q = std::string("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=") + qty +
                  "&newClientOrderId=" + cid +
                  "&timestamp=" + std::to_string(cwts::core::realtime_ns() / 1'000'000);
  q += "&signature=" + Harness::hmac(q);
  const auto placed = cwts::test::http_request(h.sim().port(), boost::beast::http::verb::post,
                                               "/api/v3/order?" + q, {}, kKey);
  if (placed.status != 200U) return false;
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (h.log().find("\"alert\":\"position_mismatch\"") == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return h.log().find("\"event\":\"position_mismatch\"") != std::string::npos;
}

TEST(CwtsdJournal, AfterSigkillTheEngineKnowsItsOrdersAndPositionsAndReportsWhatHappenedMeanwhile) {
  Harness h(journaled_polling("adopt"));
  std::string resting_cid, inflight_cid;
  {
    StrategyClient s(h.instance(), 0);
    const int btc = s.symbol_id("BTCUSDT");
    ASSERT_GE(btc, 0);
    // 1. A filled market buy: the position is 0.001 BTC.
    const auto m = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)));
    auto rs = s.wait_terminal(m);
    ASSERT_FALSE(rs.empty()) << h.log();
    ASSERT_EQ(kind_of(rs.back()), ReportKind::kFilled);
    const std::int64_t held = balance_change(h, "BTC", fx(10));
    ASSERT_EQ(position_when(s, btc, held), held);
    // 2. A resting limit buy 5% under the bid.
    const auto q = s.quote(btc);
    const auto r = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001),
                                                 tick_floor(q.bid_px.raw * 97 / 100, fx(0.01))));
    resting_cid = wait_new(s, r);
    ASSERT_FALSE(resting_cid.empty()) << h.log();
    // 3. A market buy the venue executes but whose answer the engine never reads: the response
    //    is delayed 1.5 s and the engine is killed meanwhile.
    ASSERT_EQ(h.fault(R"({"delay_ms":1500,"count":1,"path":"/api/v3/order"})").status, 200U);
    const auto f = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.002)));
    inflight_cid = accepted_cid(s, f);
    ASSERT_FALSE(inflight_cid.empty());
    std::this_thread::sleep_for(50ms);  // the request is on its way
    h.engine().signal(SIGKILL);
    EXPECT_EQ(h.engine().wait(10s), 128 + SIGKILL);
  }
  std::this_thread::sleep_for(500ms);

  h.start();
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  // The in-flight order: found on the venue, its fill reported (with its commission) to its slot.
  auto rs = reports_for(s, inflight_cid);
  ASSERT_FALSE(rs.empty()) << h.log();
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled) << h.log();
  EXPECT_EQ(rs.back().cum_qty.raw, fx(0.002));
  EXPECT_GT(rs.back().fee.raw, 0);
  EXPECT_EQ(terminals(rs), 1U);
  // Positions: the restored one plus the fill that happened while the engine was down, less
  // their commissions in BTC: the venue's balance change.
  const std::int64_t held = balance_change(h, "BTC", fx(10));
  EXPECT_GT(held, fx(0.0029));
  EXPECT_EQ(position_when(s, btc, held), held) << h.log();
  std::this_thread::sleep_for(4s);  // longer than a position_mismatch takes to be told
  EXPECT_EQ(h.log().find("\"position_mismatch\""), std::string::npos) << h.log();
  // The resting order is adopted: still open on the venue, and tracked: cancelled by hand on the
  // venue, its end reaches the strategy.
  const auto open = h.signed_get("/api/v3/openOrders", "symbol=BTCUSDT");
  EXPECT_NE(open.body.find(resting_cid), std::string::npos) << open.body;
  EXPECT_NE(h.log().find("recovered_order_adopted"), std::string::npos);
  std::string q = "symbol=BTCUSDT&origClientOrderId=" + resting_cid +
                  "&timestamp=" + std::to_string(cwts::core::realtime_ns() / 1'000'000);
  q += "&signature=" + Harness::hmac(q);
  const auto del = cwts::test::http_request(h.sim().port(), boost::beast::http::verb::delete_,
                                            "/api/v3/order?" + q, {}, kKey);
  ASSERT_EQ(del.status, 200U) << del.body;
  rs = reports_for(s, resting_cid);
  ASSERT_FALSE(rs.empty()) << h.log();
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kCancelled);
  // Nothing was sent twice: the venue holds exactly the three orders.
  const auto all = h.signed_get("/api/v3/allOrders", "symbol=BTCUSDT");
  EXPECT_EQ(array_size(all.body), 3U) << all.body;
  // And the position reduces: a sell works, and the position still follows the balance.
  const auto x = s.submit(StrategyClient::make(btc, Side::kSell, OrderType::kMarket, fx(0.002)));
  rs = s.wait_terminal(x);
  ASSERT_FALSE(rs.empty());
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled);
  const std::int64_t left = balance_change(h, "BTC", fx(10));
  EXPECT_EQ(position_when(s, btc, left), left);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// A recovered order's reports carry its original signal seq to the slot's holder. A strategy
// claiming the slot after the restart numbered its signals from 1 again (the new engine's slot had
// taken none), so one of its own signals could share that seq and two terminal reports came for
// "one" signal (found by the soak: a refused signal's REJECTED and an earlier holder's order's
// CANCELLED). The restarted engine starts each slot's numbers above its recovered orders'.
TEST(CwtsdJournal, AfterARestartASlotsNewSignalsAreNumberedAboveItsRecoveredOrders) {
  Harness h(journaled_polling("adopt"));
  std::uint64_t resting_seq = 0;
  std::string resting_cid;
  {
    StrategyClient s(h.instance(), 0);
    const int btc = s.symbol_id("BTCUSDT");
    const auto q = s.quote(btc);
    for (int k = 0; k < 5; ++k) {  // refused (far outside the price band): they take numbers
      (void)s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001),
                                          tick_floor(q.bid_px.raw / 2, fx(0.01))));
    }
    resting_seq = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001),
                                                tick_floor(q.bid_px.raw * 97 / 100, fx(0.01))));
    resting_cid = wait_new(s, resting_seq);
    ASSERT_FALSE(resting_cid.empty()) << h.log();
    ASSERT_GE(resting_seq, 6U);
    h.engine().signal(SIGKILL);
    EXPECT_EQ(h.engine().wait(10s), 128 + SIGKILL);
  }
  h.start();
  StrategyClient s(h.instance(), 0);
  EXPECT_GT(s.next_seq(), resting_seq) << "the slot's numbers start above its recovered orders'";
  // The recovered order, cancelled by hand on the venue: its report names its original seq, which
  // no signal of the new holder has.
  std::string q = "symbol=BTCUSDT&origClientOrderId=" + resting_cid +
                  "&timestamp=" + std::to_string(cwts::core::realtime_ns() / 1'000'000);
  q += "&signature=" + Harness::hmac(q);
  ASSERT_EQ(cwts::test::http_request(h.sim().port(), boost::beast::http::verb::delete_,
                                     "/api/v3/order?" + q, {}, kKey)
                .status,
            200U);
  const auto rs = reports_for(s, resting_cid);
  ASSERT_FALSE(rs.empty()) << h.log();
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kCancelled);
  EXPECT_EQ(rs.back().signal_seq, resting_seq);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(CwtsdJournal, AnOrderThatNeverReachedTheVenueEndsRejectedOnceAfterTheRestartAndIsNotResent) {
  Harness h(journaled("adopt"));
  std::string cid;
  {
    StrategyClient s(h.instance(), 0);
    const int btc = s.symbol_id("BTCUSDT");
    // The order request is held on its way; the engine dies with it (the connection closes and
    // the venue never processes it).
    ASSERT_EQ(
        h.fault(R"({"hold_ms":1500,"count":1,"path":"/api/v3/order","method":"POST"})").status,
        200U);
    const auto f = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.002)));
    cid = accepted_cid(s, f);
    ASSERT_FALSE(cid.empty());
    std::this_thread::sleep_for(50ms);
    h.engine().signal(SIGKILL);
    EXPECT_EQ(h.engine().wait(10s), 128 + SIGKILL);
  }
  h.start();
  StrategyClient s(h.instance(), 0);
  // Absent from the venue, and its request too old to execute (recvWindow): REJECTED, -2013.
  const auto rs = reports_for(s, cid);
  ASSERT_FALSE(rs.empty()) << h.log();
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kRejected);
  EXPECT_EQ(rs.back().venue_code, -2013);
  EXPECT_EQ(terminals(rs), 1U);
  std::this_thread::sleep_for(300ms);
  const auto all = h.signed_get("/api/v3/allOrders", "symbol=BTCUSDT");
  EXPECT_EQ(all.body.find(cid), std::string::npos) << "never resent: " << all.body;
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// Found by the one-hour soak: after a SIGKILL restart the engine adopted its open orders from the
// journal and asked each one's status; those queries spend request weight, which the engine's
// budget admitted one at a time, and a cancel asked meanwhile (cancel_all, the stop's cancels)
// waited for them. At the stop's timeout the waiting orders ended EXPIRED/SHUTDOWN while they
// still rested at the venue. An earlier run's order is cancelled at once: a cancel by client order
// id is harmless if it is gone (-2011, then its status says what happened).
TEST(CwtsdJournal, AnAdoptedOrdersCancelDoesNotWaitForItsStatusQuery) {
  EngineOptions o = journaled();
  Harness h(o);
  std::vector<std::string> cids;
  {
    StrategyClient s(h.instance(), 0);
    const int btc = s.symbol_id("BTCUSDT");
    const auto q = s.quote(btc);
    for (int k = 0; k < 3; ++k) {
      const auto r = s.submit(
          StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001),
                               tick_floor(q.bid_px.raw * 97 / 100, fx(0.01)) - k * fx(0.01)));
      cids.push_back(wait_new(s, r));
      ASSERT_FALSE(cids.back().empty()) << h.log();
    }
    h.engine().signal(SIGKILL);
    EXPECT_EQ(h.engine().wait(10s), 128 + SIGKILL);
  }
  // Started again with a request-weight budget (1 % of the venue's) that its start-up spends:
  // the adopted orders' status queries wait for it (and so do the books' snapshots: it never
  // becomes ready, which a stop does not need).
  h.options().rate = R"("engine_share":0.01,"slot_share":1.0)";
  h.options().wait_ready = false;
  h.write_config();
  h.start();
  const auto started = std::chrono::steady_clock::now();
  while (h.log().find("\"open_orders_recovered\":3") == std::string::npos &&
         std::chrono::steady_clock::now() < started + 10s) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_NE(h.log().find("\"open_orders_recovered\":3"), std::string::npos) << h.log();
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(h.engine().terminate(15s), 0);  // shutdown.on_stop = cancel, within its 3 s
  const auto open = h.signed_get("/api/v3/openOrders", "symbol=BTCUSDT");
  EXPECT_EQ(array_size(open.body), 0U) << open.body << "\n" << h.log();
  const std::string log = h.log();
  EXPECT_EQ(count_of(log, "\"state\":\"CANCELLED\""), 3U) << log;
}

TEST(CwtsdJournal, OnStartCancelCancelsOrdersAGracefulLeaveLeftOnTheVenue) {
  EngineOptions o = journaled("cancel");
  Harness h(o);
  std::string cid;
  {
    StrategyClient s(h.instance(), 0);
    cid = rest_btc_buy(s);
    ASSERT_FALSE(cid.empty()) << h.log();
    // SIGKILL: the order stays on the venue, known only to the journal.
    h.engine().signal(SIGKILL);
    EXPECT_EQ(h.engine().wait(10s), 128 + SIGKILL);
  }
  h.start();
  StrategyClient s(h.instance(), 0);
  const auto rs = reports_for(s, cid);
  ASSERT_FALSE(rs.empty()) << h.log();
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kCancelled) << h.log();
  const auto open = h.signed_get("/api/v3/openOrders", "symbol=BTCUSDT");
  EXPECT_EQ(array_size(open.body), 0U) << open.body;
  EXPECT_EQ(h.engine().terminate(15s), 0);
  // A clean stop leaves nothing open in the journal: the next start recovers no order.
  h.start();
  const std::string log = h.log();
  EXPECT_EQ(count_of(log, "\"open_orders_recovered\":1"), 1U) << log;  // the second start
  EXPECT_EQ(count_of(log, "\"open_orders_recovered\":0"), 2U) << log;  // the first and third
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(CwtsdJournal, AnOrderPlacedOnTheAccountByAnotherClientIsAnAlertAndNeverAbsorbed) {
  Harness h(journaled());
  // Another client (this test, with the account's keys) places a resting order directly: a
  // sell 10% above the last price.
  const auto px = cwts::test::http_request(h.sim().port(), boost::beast::http::verb::get,
                                           "/api/v3/ticker/price?symbol=ETHUSDT", {});
  ASSERT_EQ(px.status, 200U) << px.body;
  const auto at = px.body.find("\"price\":\"");
  ASSERT_NE(at, std::string::npos) << px.body;
  const double last = std::stod(px.body.substr(at + 9));
  char price[32];
  std::snprintf(price, sizeof price, "%.2f", last * 1.1);
  std::string q = "symbol=ETHUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.01&price=" +
                  std::string(price) + "&newClientOrderId=by-hand-1&timestamp=" +
                  std::to_string(cwts::core::realtime_ns() / 1'000'000);
  q += "&signature=" + Harness::hmac(q);
  const auto placed = cwts::test::http_request(h.sim().port(), boost::beast::http::verb::post,
                                               "/api/v3/order?" + q, {}, kKey);
  ASSERT_EQ(placed.status, 200U) << placed.body;
  // A restart reads every symbol's open orders: the foreign one is raised, not adopted.
  EXPECT_EQ(h.engine().terminate(15s), 0);
  h.start();
  StrategyClient s(h.instance(), 0);
  const int eth = s.symbol_id("ETHUSDT");
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  // The exec thread logs it; the ctl thread raises the alert at its next tick.
  while (h.log().find("\"alert\":\"foreign_order\"") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  const std::string log = h.log();
  EXPECT_NE(log.find("\"event\":\"foreign_order\""), std::string::npos) << log;
  EXPECT_NE(log.find("by-hand-1"), std::string::npos);
  EXPECT_NE(log.find("\"alert\":\"foreign_order\""), std::string::npos) << log;
  EXPECT_EQ(s.position(eth).qty.raw, 0) << "the engine's position is untouched";
  EXPECT_EQ(s.position(eth).open_orders, 0U);
  // The engine leaves it alone: at its clean stop (on_stop cancel) the foreign order stays.
  EXPECT_EQ(h.engine().terminate(15s), 0);
  const auto open = h.signed_get("/api/v3/openOrders", "symbol=ETHUSDT");
  EXPECT_NE(open.body.find("by-hand-1"), std::string::npos) << open.body;
}

// A fill on the account that the engine did not cause (a market buy placed by hand) moves the
// balance and not the position: the check of positions against balances raises an alert, and the
// position stays the engine's own. The engine's own fills (commission in BTC included) never do.
TEST(CwtsdJournal, ABalanceMovedByAnotherClientIsAPositionMismatchAlert) {
  EngineOptions o;
  o.extra_venue = R"(,"account_poll_ms":200)";
  Harness h(o);
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  const auto m = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)));
  ASSERT_FALSE(s.wait_terminal(m).empty());
  const std::int64_t held = balance_change(h, "BTC", fx(10));
  ASSERT_EQ(position_when(s, btc, held), held);
  std::this_thread::sleep_for(4s);  // several balance refreshes after the engine's own fill
  EXPECT_EQ(h.log().find("\"position_mismatch\""), std::string::npos) << h.log();

  EXPECT_TRUE(mismatch_told_after_an_order_by_hand(h, "0.002", "by-hand-2")) << h.log();
  EXPECT_EQ(s.position(btc).qty.raw, held) << "the engine's position is untouched";
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// What the engine costs the venue, counted by the venue (GET /_sim/stats): with resting orders on
// two symbols and order_poll_ms 100, one openOrders (weight 6) per symbol per poll, and nothing
// else but the periodic account refresh: no order or myTrades look-ups while nothing fills.
TEST(CwtsdVenueCost, RestingOrdersCostOneOpenOrdersPollPerSymbolAndNothingElse) {
  Harness h(polling_only());  // with the user data stream nothing is polled (daemon_stream_test)
  StrategyClient s(h.instance(), 0);
  for (const char* name : {"BTCUSDT", "ETHUSDT"}) {
    const int sym = s.symbol_id(name);
    const auto q = s.quote(sym);
    const auto seq = s.submit(StrategyClient::make(sym, Side::kBuy, OrderType::kLimit, fx(0.01),
                                                   tick_floor(q.bid_px.raw * 97 / 100, fx(0.01))));
    ASSERT_FALSE(wait_new(s, seq).empty()) << h.log();
  }
  const auto reset = cwts::test::http_request(h.sim().port(), boost::beast::http::verb::delete_,
                                              "/_sim/stats", {});
  ASSERT_EQ(reset.status, 200U);
  std::this_thread::sleep_for(3s);
  const auto st =
      cwts::test::http_request(h.sim().port(), boost::beast::http::verb::get, "/_sim/stats", {});
  ASSERT_EQ(st.status, 200U);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_EQ(p.parse(st.body).get(doc), simdjson::SUCCESS) << st.body;
  const auto usage = [&](const char* group, const char* name, const char* what) -> std::int64_t {
    std::int64_t v = 0;
    return doc[group][name][what].get(v) == simdjson::SUCCESS ? v : 0;
  };
  const std::int64_t polls = usage("endpoints", "GET /api/v3/openOrders", "requests");
  // 3 s at one poll per 100 ms per symbol: about 60, never more than the schedule allows.
  EXPECT_GE(polls, 30) << st.body;
  EXPECT_LE(polls, 2 * 32) << st.body;
  EXPECT_EQ(usage("endpoints", "GET /api/v3/openOrders", "weight"), 6 * polls);
  EXPECT_EQ(usage("endpoints", "GET /api/v3/order", "requests"), 0) << st.body;
  EXPECT_EQ(usage("endpoints", "GET /api/v3/myTrades", "requests"), 0) << st.body;
  const std::int64_t total = usage("apiKeys", kKey, "weight");
  EXPECT_LE(total, 6 * polls + 3 * 20) << "openOrders plus at most one account refresh a second";
  ::testing::Test::RecordProperty("engine_weight_per_min_2_symbols", std::to_string(total * 20));
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// shutdown.on_stop = leave: the resting order's signal gets EXPIRED/SHUTDOWN at the stop and is
// adopted at the next start; when it then ends on the venue its slot gets no second terminal.
TEST(CwtsdJournal, AnOrderLeftOpenByAStopIsAdoptedWithoutASecondTerminalReport) {
  EngineOptions o = journaled("adopt");
  o.on_stop = "leave";
  Harness h(o);
  std::string cid;
  {
    StrategyClient s(h.instance(), 0);
    cid = rest_btc_buy(s);
    ASSERT_FALSE(cid.empty()) << h.log();
    EXPECT_EQ(h.engine().terminate(15s), 0);
    const auto rs = reports_for(s, cid, 2s);
    ASSERT_FALSE(rs.empty());
    EXPECT_EQ(kind_of(rs.back()), ReportKind::kExpired);
  }
  h.start();
  StrategyClient s(h.instance(), 0);
  ASSERT_NE(h.signed_get("/api/v3/openOrders", "symbol=BTCUSDT").body.find(cid), std::string::npos);
  std::string q = "symbol=BTCUSDT&origClientOrderId=" + cid +
                  "&timestamp=" + std::to_string(cwts::core::realtime_ns() / 1'000'000);
  q += "&signature=" + Harness::hmac(q);
  const auto del = cwts::test::http_request(h.sim().port(), boost::beast::http::verb::delete_,
                                            "/api/v3/order?" + q, {}, kKey);
  ASSERT_EQ(del.status, 200U) << del.body;
  // The engine sees the end (its log) and tells the slot nothing more about that signal.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (h.log().find("\"state\":\"CANCELLED\"") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_NE(h.log().find("\"state\":\"CANCELLED\""), std::string::npos) << h.log();
  s.drain();
  for (const auto& r : s.reports()) EXPECT_NE(r.client_order_id.view(), cid) << "a second report";
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// ADR 0035: a region of 64 signal slots (region.max_slots), and a strategy on the last one
// trades. The order it leaves open is in the journal; a restart whose region has fewer slots would
// have nowhere to report that order, so it does not start, and says what to set; with the slots
// back, the order is adopted.
TEST(CwtsdJournal, AnOpenOrderOfASlotTheRegionNoLongerHasStopsTheStartSayingWhatToSet) {
  EngineOptions o = journaled("adopt");
  o.on_stop = "leave";
  o.extra_region = R"(,"max_slots":64)";
  Harness h(o);
  std::string cid;
  {
    StrategyClient s(h.instance(), 63);
    ASSERT_EQ(s.market().slot_capacity(), 64U);
    cid = rest_btc_buy(s);
    ASSERT_FALSE(cid.empty()) << h.log();
    EXPECT_EQ(h.engine().terminate(15s), 0);
  }
  h.options().extra_region = R"(,"max_slots":16)";
  h.options().wait_ready = false;
  h.write_config();
  h.start();
  EXPECT_NE(h.engine().wait(20s), 0);
  EXPECT_NE(h.log().find("of slot 63, and the market region has 16 slots: set region.max_slots to "
                         "at least 64"),
            std::string::npos)
      << h.log();
  ASSERT_NE(h.signed_get("/api/v3/openOrders", "symbol=BTCUSDT").body.find(cid), std::string::npos);

  h.options().extra_region = R"(,"max_slots":64)";
  h.options().wait_ready = true;
  h.write_config();
  h.start();
  EXPECT_NE(h.log().find("\"open_orders_recovered\":1"), std::string::npos) << h.log();
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(CwtsdJournal, ACorruptJournalStopsTheStartWithAClearError) {
  Harness h(journaled());
  // The first engine ran; replace its journal with something that is not one.
  EXPECT_EQ(h.engine().terminate(15s), 0);
  h.options().wait_ready = false;
  const std::string dir = journal_dir();
  {
    std::ofstream(dir + "/cwts-" + h.instance() + ".journal")
        << "garbage, not a journal file.....................................................";
  }
  h.start();
  EXPECT_NE(h.engine().wait(20s), 0);
  EXPECT_NE(h.log().find("bad magic"), std::string::npos) << h.log();
}

}  // namespace

namespace {

// True once the venue shows `cid` with `status` (GET /api/v3/order, weight 4, every 250 ms),
// within `timeout`.
bool venue_shows(Harness& h, const std::string& cid, const std::string& status,
                 std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto o = h.signed_get("/api/v3/order", "symbol=BTCUSDT&origClientOrderId=" + cid);
    if (o.body.find("\"status\":\"" + status + "\"") != std::string::npos) return true;
    std::this_thread::sleep_for(250ms);
  }
  return false;
}

}  // namespace

// With the user data stream: an order resting when the engine is killed fills while it is down.
// The events of that fill went to no one; the restart settles it from the journal and the venue:
// the fill is reported once to its slot, the position is the venue's, and an exit works.
TEST(CwtsdJournal, WithTheStreamAFillWhileTheEngineWasDownIsReportedOnceAfterTheRestart) {
  Harness h(journaled("adopt"));
  ASSERT_TRUE(h.wait_metric("cwts_venue_user_stream_live 1")) << h.log();
  std::string cid;
  {
    StrategyClient s(h.instance(), 0);
    const int btc = s.symbol_id("BTCUSDT");
    const auto q = s.quote(btc);
    // Two cents under the bid: it rests, and the random walk fills it within moments.
    const auto r = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.002),
                                                 tick_floor(q.bid_px.raw, fx(0.01)) - fx(0.02)));
    cid = wait_new(s, r);
    ASSERT_FALSE(cid.empty()) << h.log();
    h.engine().signal(SIGKILL);
    EXPECT_EQ(h.engine().wait(10s), 128 + SIGKILL);
  }
  ASSERT_TRUE(venue_shows(h, cid, "FILLED", 60s))
      << "the market never came down to the order: "
      << h.signed_get("/api/v3/order", "symbol=BTCUSDT&origClientOrderId=" + cid).body;
  h.start();
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  const auto rs = reports_for(s, cid);
  ASSERT_FALSE(rs.empty()) << h.log();
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled) << h.log();
  EXPECT_EQ(terminals(rs), 1U);
  EXPECT_EQ(rs.back().cum_qty.raw, fx(0.002));
  EXPECT_GT(rs.back().fee.raw, 0);
  const std::int64_t held = balance_change(h, "BTC", fx(10));
  EXPECT_EQ(position_when(s, btc, held), held) << h.log();
  // The account the engine read at start already held the fill, which the engine learned of
  // only afterwards: that is its own fill, not activity it did not cause (no position_mismatch
  // once the difference outlasts the alert's 3 s).
  std::this_thread::sleep_for(4s);
  EXPECT_EQ(h.log().find("\"position_mismatch\""), std::string::npos) << h.log();
  // The exit's seq restarts at 1 in the new epoch, as the recovered order's did in the old one:
  // its reports are told apart by client order id.
  const auto x = s.submit(StrategyClient::make(btc, Side::kSell, OrderType::kMarket, fx(0.001)));
  const std::string exit_cid = accepted_cid(s, x);
  ASSERT_FALSE(exit_cid.empty());
  ASSERT_NE(exit_cid, cid);
  const auto xs = reports_for(s, exit_cid);
  ASSERT_FALSE(xs.empty());
  EXPECT_EQ(kind_of(xs.back()), ReportKind::kFilled);
  const std::int64_t left = balance_change(h, "BTC", fx(10));
  EXPECT_EQ(position_when(s, btc, left), left);
  // The check still watches the account after such a start: an order by another client is told.
  EXPECT_TRUE(mismatch_told_after_an_order_by_hand(h, "0.001", "by-hand-after-restart")) << h.log();
  EXPECT_EQ(h.engine().terminate(15s), 0);
}
