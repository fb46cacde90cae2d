// The shipped real Binance captures replay to the independently computed expected books.
#include "cwts/md/replay.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "cwts/core/decimal.hpp"

namespace {

namespace md = cwts::md;
const std::string kData = CWTS_TEST_DATA;

struct Expected {
  std::uint64_t final_u, applied, n_bids, n_asks;
  std::vector<std::pair<std::string, std::string>> bids, asks;
};

Expected expected_for(const std::string& symbol) {
  simdjson::dom::parser p;
  simdjson::dom::element root = p.load(kData + "/expected_books.json");
  simdjson::dom::element e = root[symbol];
  Expected x{};
  x.final_u = e["final_u"].get_uint64();
  x.applied = e["applied"].get_uint64();
  x.n_bids = e["n_bid_levels"].get_uint64();
  x.n_asks = e["n_ask_levels"].get_uint64();
  for (auto lvl : e["top3_bids"].get_array()) {
    x.bids.emplace_back(std::string(lvl.at(0).get_string().value()),
                        std::string(lvl.at(1).get_string().value()));
  }
  for (auto lvl : e["top3_asks"].get_array()) {
    x.asks.emplace_back(std::string(lvl.at(0).get_string().value()),
                        std::string(lvl.at(1).get_string().value()));
  }
  return x;
}

struct Case {
  const char* file;
  const char* symbol;
};

class ReplayTest : public ::testing::TestWithParam<Case> {};

TEST_P(ReplayTest, CaptureReplaysToExpectedBook) {
  const Case c = GetParam();
  md::Pipeline pipeline;
  std::uint64_t bad = 0;
  const auto st = md::replay_capture(kData + "/" + c.file, pipeline,
                                     [&](std::uint64_t, std::string_view) { ++bad; });
  EXPECT_EQ(bad, 0U);
  EXPECT_EQ(st.malformed, 0U);
  md::SymbolState* s = pipeline.find(c.symbol);
  ASSERT_NE(s, nullptr);
  const Expected x = expected_for(c.symbol);
  const auto& book = s->sync.book();
  EXPECT_TRUE(s->sync.valid());
  EXPECT_EQ(s->sync.update_id(), x.final_u);
  EXPECT_EQ(s->sync.stats().applied, x.applied);
  EXPECT_EQ(s->sync.stats().gaps, 0U);
  EXPECT_EQ(book.bid_levels(), x.n_bids);
  EXPECT_EQ(book.ask_levels(), x.n_asks);
  ASSERT_GE(book.bid_levels(), 3U);
  ASSERT_GE(book.ask_levels(), 3U);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(cwts::core::to_string(book.bid(i).px), x.bids[i].first) << "bid " << i;
    EXPECT_EQ(cwts::core::to_string(book.bid(i).qty), x.bids[i].second) << "bid " << i;
    EXPECT_EQ(cwts::core::to_string(book.ask(i).px), x.asks[i].first) << "ask " << i;
    EXPECT_EQ(cwts::core::to_string(book.ask(i).qty), x.asks[i].second) << "ask " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(SharedCaptures, ReplayTest,
                         ::testing::Values(Case{"spot_nknusdt_2021-10-12.capture", "NKNUSDT"},
                                           Case{"spot_blzeth_2021-10-12.capture", "BLZETH"},
                                           Case{"spot_lrcbtc_2021-10-12.capture", "LRCBTC"},
                                           Case{"spot_runeeur_2021-10-12.capture", "RUNEEUR"}),
                         [](const auto& p) { return std::string(p.param.symbol); });

// Writes `lines` to a temporary capture file.
std::string write_temp(const std::vector<std::string>& lines) {
  std::string path = ::testing::TempDir() + "cwts_replay_" + std::to_string(::getpid()) + "_" +
                     std::to_string(reinterpret_cast<std::uintptr_t>(&lines)) + ".capture";
  std::ofstream out(path);
  for (const auto& l : lines) out << l << '\n';
  return path;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

TEST(ReplayGapTest, CaptureWithOneDiffRemovedIsDetectedAsGapAndInvalid) {
  auto lines = read_lines(kData + "/spot_nknusdt_2021-10-12.capture");
  // Remove a diff that comes after the snapshot (so the chain breaks on the live book).
  std::size_t snapshot_at = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find("\"lastUpdateId\"") != std::string::npos) snapshot_at = i;
  }
  ASSERT_GT(snapshot_at, 0U);
  std::size_t removed = 0;
  for (std::size_t i = snapshot_at + 1; i < lines.size(); ++i) {
    if (lines[i].find("depthUpdate") != std::string::npos) {
      // Skip the first few after the snapshot so the book is live when the gap happens.
      if (++removed == 5) {
        lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
    }
  }
  const std::string path = write_temp(lines);
  md::Pipeline pipeline;
  (void)md::replay_capture(path, pipeline);
  std::filesystem::remove(path);
  md::SymbolState* s = pipeline.find("NKNUSDT");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->sync.stats().gaps, 1U);
  EXPECT_FALSE(s->sync.valid());
  EXPECT_TRUE(s->sync.awaiting_snapshot());
}

TEST(ReplayGarbageTest, GarbageLinesAreCountedAndTheBookIsUnchanged) {
  auto lines = read_lines(kData + "/spot_nknusdt_2021-10-12.capture");
  const std::vector<std::string> garbage = {
      "not a capture line",
      "1633998523000000000 {\"stream\":\"nknusdt@depth@100ms\",\"data\":{\"e\":\"depthUpdate\"",
      "1633998523000000000 "
      "{\"stream\":\"nknusdt@depth@100ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":1,"
      "\"s\":\"NKNUSDT\",\"U\":\"x\",\"u\":2,\"b\":[],\"a\":[]}}",
      "1633998523000000000 "
      "{\"stream\":\"nknusdt@trade\",\"data\":{\"e\":\"trade\",\"s\":\"NKNUSDT\"}}",
      "1633998523000000000 {\"e\":\"depthUpdate\",\"E\":1,\"s\":\"NKNUSDT\",\"U\":1,\"u\":2,"
      "\"b\":[[\"1e400\",\"1\"]],\"a\":[]}",
      "1633998523000000000 {\"e\":\"somethingNew\",\"E\":1}",
      "1633998523000000000 []",
      "1633998523000000000 {\"stream\":\"nknusdt@bookTicker\",\"data\":{\"u\":1,\"s\":\"NKNUSDT\","
      "\"b\":\"99999999999999999999.0\",\"B\":\"1\",\"a\":\"1\",\"A\":\"1\"}}",
      "",
  };
  std::vector<std::string> mixed;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    mixed.push_back(lines[i]);
    if (i % 25 == 3) mixed.push_back(garbage[(i / 25) % garbage.size()]);
  }
  const std::size_t inserted = mixed.size() - lines.size();
  const std::string path = write_temp(mixed);
  md::Pipeline pipeline;
  std::vector<std::uint64_t> bad_lines;
  const auto st = md::replay_capture(
      path, pipeline, [&](std::uint64_t line, std::string_view) { bad_lines.push_back(line); });
  std::filesystem::remove(path);
  EXPECT_EQ(st.malformed, inserted);
  EXPECT_EQ(bad_lines.size(), inserted);
  md::SymbolState* s = pipeline.find("NKNUSDT");
  ASSERT_NE(s, nullptr);
  const Expected x = expected_for("NKNUSDT");
  EXPECT_TRUE(s->sync.valid());
  EXPECT_EQ(s->sync.update_id(), x.final_u);
  EXPECT_EQ(s->sync.book().bid_levels(), x.n_bids);
  EXPECT_EQ(s->sync.book().ask_levels(), x.n_asks);
  EXPECT_EQ(cwts::core::to_string(s->sync.book().bid(0).px), x.bids[0].first);
}

}  // namespace

namespace {

// Issue 19's scale: a frame's symbol is found through a hash index, not a scan of the names.
// Every one of 1,024 symbols (names sharing long prefixes, as Binance's do) is found as itself,
// an unknown name is not, the table refuses a 1,025th, and configure_symbols() starts over.
TEST(PipelineSymbols, EachOfAThousandNamesIsFoundAsItself) {
  md::Pipeline pipeline;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < md::kMaxPipelineSymbols; ++i) {
    names.push_back((i % 2 == 0 ? "S" : "BTC") + std::to_string(100000 + i * 7) + "USDT");
    const md::SymbolState* s = pipeline.add_symbol(names.back());
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->id, i);
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    const md::SymbolState* s = pipeline.find(names[i]);
    ASSERT_NE(s, nullptr) << names[i];
    EXPECT_EQ(s->id, i);
    EXPECT_EQ(s->name_view(), names[i]);
    EXPECT_EQ(pipeline.add_symbol(names[i]), s) << "a known name is not added twice";
  }
  EXPECT_EQ(pipeline.find("S100001USDT"), nullptr);
  EXPECT_EQ(pipeline.find(""), nullptr);
  EXPECT_THROW((void)pipeline.add_symbol("NEWUSDT"), std::length_error);
  pipeline.configure_symbols({"ETHUSDT", "BNBBTC"});
  EXPECT_EQ(pipeline.find(names[0]), nullptr);
  ASSERT_NE(pipeline.find("BNBBTC"), nullptr);
  EXPECT_EQ(pipeline.find("BNBBTC")->id, 1);
}

}  // namespace
