// The feed past one connection's 1,024 streams (issue 19's scale): symbols spread over several
// WebSocket connections to cwts-sim, each with its own cycle. A connection lost invalidates and
// resyncs its own books only; a symbol added when every connection is full opens another.
#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cwts/feed/feed_client.hpp"
#include "sim_server_test_util.hpp"

namespace {

using namespace cwts::sim_server::test;
using namespace std::chrono_literals;

// Every symbol's validity and how often its book was invalidated, readable from the test thread.
class ValiditySink : public cwts::md::MarketSink {
 public:
  void on_book(const cwts::md::SymbolState& s, const cwts::md::FrameMeta&, std::int64_t) override {
    valid[s.id].store(s.sync.valid(), std::memory_order_relaxed);
    updates[s.id].fetch_add(1, std::memory_order_relaxed);
  }
  void on_book_validity(const cwts::md::SymbolState& s, bool v,
                        const cwts::md::FrameMeta&) override {
    valid[s.id].store(v, std::memory_order_relaxed);
    if (!v) invalidations[s.id].fetch_add(1, std::memory_order_relaxed);
  }
  [[nodiscard]] bool all_valid(std::size_t from, std::size_t to) const {
    for (std::size_t i = from; i < to; ++i) {
      if (!valid[i].load(std::memory_order_relaxed)) return false;
    }
    return true;
  }
  [[nodiscard]] std::vector<std::uint64_t> invalidations_of(std::size_t from,
                                                            std::size_t to) const {
    std::vector<std::uint64_t> v;
    for (std::size_t i = from; i < to; ++i) v.push_back(invalidations[i].load());
    return v;
  }

  std::array<std::atomic<bool>, cwts::md::kMaxPipelineSymbols> valid{};
  std::array<std::atomic<std::uint64_t>, cwts::md::kMaxPipelineSymbols> invalidations{};
  std::array<std::atomic<std::uint64_t>, cwts::md::kMaxPipelineSymbols> updates{};
};

std::string name(std::size_t i) { return "S" + std::to_string(1000 + i) + "USDT"; }

// A sim generating `n` symbols S1000USDT… (the feed takes the first ones it is given), with room
// in its request weight for every snapshot of three starts (5 weight each at 100 levels).
SimProcess sim_of(std::size_t n) {
  std::string list;
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0) list += ',';
    list += name(i);
  }
  return SimProcess({"--listen", "127.0.0.1:0", "--synthetic", list, "--rate", "2000",
                     "--weight-limit", "20000"});
}

struct ManyFeed {
  ManyFeed(std::uint16_t port, std::size_t symbols,
           std::chrono::milliseconds lifetime = std::chrono::hours(1)) {
    cwts::feed::FeedConfig cfg = sim_feed_config(port);
    for (std::size_t i = 0; i < symbols; ++i) cfg.symbols.push_back(name(i));
    cfg.snapshot_limit = 100;  // 5 weight: every snapshot fits in the sim's minute
    cfg.max_connection_lifetime = lifetime;
    client = std::make_unique<cwts::feed::FeedClient>(cfg, &sink);
    thread = std::thread([this] { client->run(); });
  }
  ~ManyFeed() {
    client->stop();
    thread.join();
  }
  void drop(std::uint16_t port, std::size_t symbol) const {
    ASSERT_EQ(request(port, http::verb::post, "/_sim/fault",
                      R"({"drop_symbol":")" + name(symbol) + R"("})")
                  .status,
              200U);
  }
  ValiditySink sink;
  std::unique_ptr<cwts::feed::FeedClient> client;
  std::thread thread;
};

TEST(FeedConnections, ThreeHundredFortyTwoSymbolsTakeTwoConnectionsAndEveryBookSyncs) {
  SimProcess sim = sim_of(342);
  ASSERT_NE(sim.port(), 0);
  ManyFeed f(sim.port(), 342);  // 3 streams each: 341 fill the first connection's 1,024 streams
  ASSERT_TRUE(wait_until([&] { return f.sink.all_valid(0, 342); }, 60s)) << f.client->last_error();
  EXPECT_EQ(f.client->counters().connects, 2U);
  EXPECT_EQ(f.client->counters().snapshots_failed, 0U);

  // The second connection (the last symbol's) is lost: its book is invalidated and resyncs on its
  // reconnect; the first connection's 341 books are not touched.
  const auto before = f.sink.invalidations_of(0, 341);
  const std::uint64_t last_before = f.sink.invalidations[341].load();
  f.drop(sim.port(), 341);
  ASSERT_TRUE(wait_until([&] { return f.client->counters().connects == 3U; }, 20s));
  ASSERT_TRUE(wait_until([&] { return f.sink.all_valid(0, 342); }, 30s)) << f.client->last_error();
  EXPECT_GT(f.sink.invalidations[341].load(), last_before);
  EXPECT_EQ(f.sink.invalidations_of(0, 341), before) << "the other connection's books stayed";
  EXPECT_EQ(f.client->counters().disconnects, 1U);
}

// Two connections opened together do not renew together: the second renews a sixteenth of the
// lifetime (400 ms here) before the first, and resyncs its own books only.
TEST(FeedConnections, TheirPlannedRenewalsDoNotCoincide) {
  SimProcess sim = sim_of(342);
  ASSERT_NE(sim.port(), 0);
  ManyFeed f(sim.port(), 342, 6400ms);
  ASSERT_TRUE(wait_until([&] { return f.sink.all_valid(0, 342); }, 60s)) << f.client->last_error();
  const auto first = f.sink.invalidations_of(0, 341);
  const std::uint64_t second = f.sink.invalidations[341].load();
  ASSERT_TRUE(wait_until([&] { return f.sink.invalidations[341].load() > second; }, 20s));
  EXPECT_EQ(f.client->counters().lifetime_renewals, 1U);
  EXPECT_EQ(f.sink.invalidations_of(0, 341), first) << "the first connection renews later";
  ASSERT_TRUE(wait_until([&] { return f.client->counters().lifetime_renewals == 2U; }, 20s));
  ASSERT_TRUE(wait_until([&] { return f.sink.all_valid(0, 342); }, 30s)) << f.client->last_error();
}

TEST(FeedConnections, ASymbolAddedWhenTheConnectionIsFullOpensAnotherAndTheFirstIsUntouched) {
  SimProcess sim = sim_of(342);
  ASSERT_NE(sim.port(), 0);
  ManyFeed f(sim.port(), 341);
  ASSERT_TRUE(wait_until([&] { return f.sink.all_valid(0, 341); }, 60s)) << f.client->last_error();
  ASSERT_EQ(f.client->counters().connects, 1U);
  const auto before = f.sink.invalidations_of(0, 341);

  std::atomic<int> added_id{-1};
  f.client->post([&] { added_id = static_cast<int>(f.client->add_symbol(name(341)).id); });
  ASSERT_TRUE(wait_until([&] { return added_id.load() == 341; }, 10s));
  ASSERT_TRUE(wait_until([&] { return f.sink.valid[341].load(); }, 30s)) << f.client->last_error();
  EXPECT_EQ(f.client->counters().connects, 2U) << "a connection of its own";
  EXPECT_EQ(f.sink.invalidations_of(0, 341), before);

  // The first connection is lost: its 341 books resync, the new one's book stays.
  const std::uint64_t added_before = f.sink.invalidations[341].load();
  f.drop(sim.port(), 0);
  ASSERT_TRUE(wait_until([&] { return f.client->counters().connects == 3U; }, 20s));
  ASSERT_TRUE(wait_until([&] { return f.sink.all_valid(0, 342); }, 60s)) << f.client->last_error();
  for (std::size_t i = 0; i < 341; ++i) EXPECT_GT(f.sink.invalidations[i].load(), before[i]) << i;
  EXPECT_EQ(f.sink.invalidations[341].load(), added_before);

  // Removing a symbol frees its place: the next one added goes on the first connection with room.
  // Its UNSUBSCRIBE and SUBSCRIBE follow the reconnect's four SUBSCRIBEs within the second: the
  // feed paces them within Binance's 5 incoming messages a second, or the venue cuts the
  // connection (cwts-sim does, as Binance).
  const std::uint64_t fifth_before = f.sink.invalidations[5].load();
  std::atomic<bool> done{false};
  f.client->post([&] {
    f.client->remove_symbol(name(5));
    (void)f.client->add_symbol(name(5));
    done = true;
  });
  ASSERT_TRUE(wait_until([&] { return done.load(); }, 10s));
  ASSERT_TRUE(wait_until(
      [&] { return f.sink.invalidations[5].load() > fifth_before && f.sink.valid[5].load(); }, 30s))
      << f.client->last_error();
  EXPECT_TRUE(f.sink.all_valid(0, 342));
  EXPECT_EQ(f.client->counters().connects, 3U) << "no new connection for it";
  EXPECT_EQ(f.client->counters().disconnects, 1U)
      << "only the dropped one: " << f.client->last_error();
}

// Symbols added one by one in a burst: one SUBSCRIBE each, paced at four a second, so the last of
// 48 goes out 12 s later. Each snapshot waits for its own SUBSCRIBE's answer (the 10 s it may
// wait counts from the message's write, not its queueing): no book is synced from a snapshot
// taken before its diffs flowed, which the next diff would find a gap against.
TEST(FeedConnections, ABurstOfAddedSymbolsSyncsEachAfterItsSubscriptionWentOut) {
  SimProcess sim = sim_of(49);
  ASSERT_NE(sim.port(), 0);
  ManyFeed f(sim.port(), 1);
  ASSERT_TRUE(wait_until([&] { return f.sink.all_valid(0, 1); }, 30s)) << f.client->last_error();
  f.client->post([&] {
    for (std::size_t i = 1; i < 49; ++i) (void)f.client->add_symbol(name(i));
  });
  ASSERT_TRUE(wait_until([&] { return f.sink.all_valid(0, 49); }, 60s)) << f.client->last_error();
  std::this_thread::sleep_for(500ms);  // the diffs after the last snapshot
  EXPECT_EQ(f.sink.invalidations_of(1, 49), std::vector<std::uint64_t>(48, 0))
      << "a book synced before its streams flowed, then gapped";
  EXPECT_EQ(f.client->counters().disconnects, 0U) << f.client->last_error();
}

// A symbol added while its connection's handshake is under way is not in the target that
// handshake sent: the connection subscribes it when it opens (else its book would sync from a
// snapshot with no diffs behind it, look valid, and never move).
TEST(FeedConnections, ASymbolAddedDuringTheHandshakeIsSubscribedWhenTheConnectionOpens) {
  SimProcess sim = sim_of(343);
  ASSERT_NE(sim.port(), 0);
  ManyFeed f(sim.port(), 341);
  ASSERT_TRUE(wait_until([&] { return f.sink.all_valid(0, 341); }, 60s)) << f.client->last_error();
  // The next connection's handshake is answered 1.5 s late.
  ASSERT_EQ(request(sim.port(), http::verb::post, "/_sim/fault",
                    R"({"delay_ms":1500,"path":"/stream","count":1})")
                .status,
            200U);
  f.client->post([&] { (void)f.client->add_symbol(name(341)); });  // opens the second connection
  std::this_thread::sleep_for(400ms);                              // its handshake is out
  f.client->post([&] { (void)f.client->add_symbol(name(342)); });  // room on it, still connecting
  ASSERT_TRUE(wait_until([&] { return f.sink.all_valid(341, 343); }, 30s))
      << f.client->last_error();
  const std::uint64_t updates = f.sink.updates[342].load();
  ASSERT_TRUE(wait_until([&] { return f.sink.updates[342].load() > updates + 3; }, 10s))
      << "its book does not move: its streams were never subscribed";
  EXPECT_EQ(f.client->counters().connects, 2U);
  EXPECT_EQ(f.sink.invalidations[342].load(), 0U);
}

// A symbol removed and added again while its snapshot is on the wire: the answer to the old request
// arrives while the new SUBSCRIBE still waits behind the pacing, with no diff behind it (the
// streams stopped with the UNSUBSCRIBE). Synced from it, the book would be valid and stale until
// the first diff showed the gap. The feed discards that answer and asks again after the SUBSCRIBE.
TEST(FeedConnections, ASnapshotAskedForBeforeASymbolWasRemovedDoesNotSyncItWhenAddedAgain) {
  SimProcess sim = sim_of(8);
  ASSERT_NE(sim.port(), 0);
  ManyFeed f(sim.port(), 1);
  ASSERT_TRUE(wait_until([&] { return f.sink.all_valid(0, 1); }, 30s)) << f.client->last_error();
  // The next snapshot's answer (S1's) comes 1.5 s after the sim took it.
  ASSERT_EQ(request(sim.port(), http::verb::post, "/_sim/fault",
                    R"({"delay_ms":1500,"path":"/api/v3/depth","count":1})")
                .status,
            200U);
  const std::uint64_t requested = f.client->counters().snapshots_requested;
  f.client->post([&] { (void)f.client->add_symbol(name(1)); });  // SUBSCRIBE, then its snapshot
  ASSERT_TRUE(
      wait_until([&] { return f.client->counters().snapshots_requested == requested + 1; }, 10s));
  // Removed (its UNSUBSCRIBE goes now), then six others added, then S1 again: the pacing (four
  // control messages a second) sends S1's SUBSCRIBE two seconds after the first, so the old
  // snapshot's answer arrives while S1 awaits it.
  f.client->post([&] {
    f.client->remove_symbol(name(1));
    for (std::size_t i = 2; i < 8; ++i) (void)f.client->add_symbol(name(i));
    (void)f.client->add_symbol(name(1));
  });
  ASSERT_TRUE(wait_until([&] { return f.sink.all_valid(0, 8); }, 30s)) << f.client->last_error();
  std::this_thread::sleep_for(800ms);  // diffs after the last snapshot
  EXPECT_TRUE(f.sink.all_valid(0, 8));
  EXPECT_EQ(f.sink.invalidations[1].load(), 0U) << "S1 synced from the old snapshot, then gapped";
  const auto c = f.client->counters();
  EXPECT_EQ(c.snapshots_rejected, 0U) << "S1's old snapshot was applied";
  EXPECT_GE(c.snapshots_discarded, 1U);
  EXPECT_EQ(c.disconnects, 0U) << f.client->last_error();
}

}  // namespace
