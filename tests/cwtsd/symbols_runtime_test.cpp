// Symbols added and removed at run time (ADR 0025), in process: the ctl thread's add_symbols /
// remove_symbol against a running engine (md and exec threads) while other threads read what
// the hand-offs publish — the engine's names (as the gateway does), the market region's table (as
// a strategy does) and the readiness snapshot. Labelled `concurrency`: ThreadSanitizer checks
// that no thread reads a container another thread grows.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "config/config.hpp"
#include "cwts/concurrent/word_copy.hpp"
#include "cwts/shm_layout/market_region.hpp"
#include "engine.hpp"

namespace cwts::daemon {
namespace {

namespace cc = cwts::concurrent;
using namespace std::chrono_literals;

// Paper venue, exchangeInfo from the recorded full file (every symbol), and a feed pointed at a
// port nothing listens on: the md thread runs its loop (reconnecting) without market data.
Config test_config() {
  static int n = 0;
  const std::string json =
      R"({
    "region": {"instance": "symrt)" +
      std::to_string(::getpid()) + "n" + std::to_string(n++) +
      R"(", "lock_pages": false, "hugepages": "off", "max_symbols": 20},
    "venue": {"kind": "paper", "rest_url": "http://127.0.0.1:9", "ws_url": "ws://127.0.0.1:9",
              "exchange_info_file": ")" CWTS_SOURCE_DIR
      R"(/tests/data/binance/binance_spot_exchangeInfo_full_cryptofeed_2021.json.gz"},
    "market": {"symbols": ["BTCUSDT", "ETHUSDT"], "timeframes": ["1m"]},
    "control": {"enabled": false}
  })";
  return parse_config(json);
}

// What a reader outside the ctl thread may rely on: every id below the published count has its
// complete entry, in order, and the counts never go back.
void read_everything(const Engine& e, const std::atomic<bool>& stop, std::size_t& seen,
                     std::size_t& errors) {
  const auto& m = e.market_region();
  std::vector<std::string> mine;  // a follower's own copy, appended (the gateway's pattern)
  std::size_t last_count = 0;
  while (!stop.load(std::memory_order_acquire)) {
    const auto names = e.symbol_names();
    if (names.size() < mine.size()) ++errors;
    for (std::size_t id = mine.size(); id < names.size(); ++id) {
      mine.emplace_back(names[id]);
      if (e.symbol_spec(id).name != names[id]) ++errors;
    }
    for (std::size_t id = 0; id < names.size(); ++id) (void)e.symbol_trading(id);
    const std::size_t count = cc::load_word(m.symbol_count, std::memory_order_acquire);
    if (count < last_count) ++errors;
    last_count = count;
    for (std::size_t id = 0; id < count && id < m.symbol_capacity(); ++id) {
      const layout::SymbolInfo si = m.symbol(id).info.load();
      if (si.id != id || si.name.view().empty()) ++errors;
    }
    (void)e.snapshot();
    seen = mine.size();
  }
}

TEST(SymbolsAtRunTime, AddedAndRemovedWhileOtherThreadsRead) {
  Engine e(test_config(), std::nullopt);
  e.start();
  std::atomic<bool> stop{false};
  std::size_t seen1 = 0, errors1 = 0, seen2 = 0, errors2 = 0;
  std::thread r1([&] { read_everything(e, stop, seen1, errors1); });
  std::thread r2([&] { read_everything(e, stop, seen2, errors2); });

  // Several batches, as FreqTrade's bot_start and an operator would send them.
  const std::vector<std::vector<std::string>> batches = {
      {"BNBUSDT"},
      {"ADAUSDT", "XRPUSDT", "ethusdt"},
      {"DOGEUSDT", "DOTUSDT", "LTCUSDT", "LINKUSDT", "BCHUSDT", "TRXUSDT", "EOSUSDT", "XLMUSDT"}};
  std::size_t expected = 2;
  for (const auto& batch : batches) {
    const auto added = e.add_symbols(batch, 5000);
    ASSERT_EQ(added.size(), batch.size());
    for (const auto& a : added) {
      if (a.symbol == "ETHUSDT") {
        EXPECT_FALSE(a.added);  // already there: its id, nothing else
        EXPECT_EQ(a.id, 1);
      } else {
        EXPECT_TRUE(a.added) << a.symbol;
        EXPECT_EQ(a.id, expected++) << a.symbol;
      }
    }
  }
  const auto& m = e.market_region();
  EXPECT_EQ(cc::load_word(m.symbol_count, std::memory_order_acquire), expected);
  EXPECT_EQ(e.symbol_names().size(), expected);
  EXPECT_EQ(m.symbol(2).info.load().name.view(), "BNBUSDT");

  // Unknown on the venue: refused, nothing changed, even after a good one in the same request.
  EXPECT_THROW((void)e.add_symbols(std::vector<std::string>{"SOLUSDT", "NOTAPAIR"}, 5000),
               SymbolError);
  EXPECT_EQ(e.symbol_names().size(), expected);

  // Removed: not trading, still in the table (status BREAK), its id kept; added back: the same id.
  EXPECT_EQ(e.remove_symbol("ADAUSDT", 1000), 3);
  EXPECT_FALSE(e.symbol_trading(3));
  EXPECT_EQ(m.symbol(3).info.load().name.view(), "ADAUSDT");
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (m.symbol(3).info.load().status !=
             static_cast<std::uint8_t>(layout::SymbolStatus::kBreak) &&
         std::chrono::steady_clock::now() < deadline) {
    e.poll_symbols();
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(m.symbol(3).info.load().status,
            static_cast<std::uint8_t>(layout::SymbolStatus::kBreak));
  EXPECT_EQ(e.snapshot().symbols, expected - 1);  // readiness counts the symbols that trade
  const auto back = e.add_symbols(std::vector<std::string>{"ADAUSDT"}, 5000);
  ASSERT_EQ(back.size(), 1U);
  EXPECT_EQ(back[0].id, 3);
  EXPECT_TRUE(back[0].added);
  EXPECT_TRUE(e.symbol_trading(3));

  // Up to the region's capacity (region.max_symbols), then a clear error naming it.
  constexpr std::size_t kCapacity = 20;
  ASSERT_EQ(m.symbol_capacity(), kCapacity);
  std::vector<std::string> more;
  for (const char* s :
       {"ATOMUSDT", "ETCUSDT",  "FILUSDT",  "AAVEUSDT", "UNIUSDT",  "SUSHIUSDT", "VETUSDT",
        "NEOUSDT",  "QTUMUSDT", "IOTAUSDT", "ZECUSDT",  "DASHUSDT", "XMRUSDT",   "ALGOUSDT",
        "ZILUSDT",  "ONTUSDT",  "ICXUSDT",  "BATUSDT",  "KAVAUSDT", "THETAUSDT", "WAVESUSDT"}) {
    if (e.symbol_names().size() + more.size() < kCapacity) more.emplace_back(s);
  }
  (void)e.add_symbols(more, 5000);
  EXPECT_EQ(e.symbol_names().size(), kCapacity);
  try {
    (void)e.add_symbols(std::vector<std::string>{"OMGUSDT"}, 5000);  // on the venue, no room
    ADD_FAILURE() << "a full table accepted a symbol";
  } catch (const SymbolError& err) {
    EXPECT_NE(std::string(err.what()).find("holds 20 symbols (region.max_symbols"),
              std::string::npos)
        << err.what();
  }

  std::this_thread::sleep_for(50ms);
  stop.store(true, std::memory_order_release);
  r1.join();
  r2.join();
  EXPECT_EQ(errors1, 0U);
  EXPECT_EQ(errors2, 0U);
  EXPECT_EQ(seen1, kCapacity);
  EXPECT_EQ(seen2, kCapacity);
  e.stop();
}

}  // namespace
}  // namespace cwts::daemon
