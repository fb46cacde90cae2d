// cwts-replay as a user runs it: JSON output, gzip input, malformed lines and the exit status.
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <simdjson.h>

namespace {

const std::string kData = CWTS_TEST_DATA;
const std::string kTool = CWTS_REPLAY_TOOL;

struct ToolRun {
  int status;
  std::string out;
  std::string err;
};

ToolRun run(const std::string& args) {
  const std::string err_path =
      ::testing::TempDir() + "cwts_replay_err_" + std::to_string(::getpid());
  const std::string cmd = kTool + " " + args + " 2>" + err_path;
  FILE* p = ::popen(cmd.c_str(), "r");
  ToolRun r{};
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream e(err_path);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  std::filesystem::remove(err_path);
  return r;
}

TEST(ReplayCliTest, JsonOutputHasTheDocumentedShapeAndValues) {
  const ToolRun r = run(kData + "/spot_nknusdt_2021-10-12.capture --json --depth 2");
  ASSERT_EQ(r.status, 0) << r.err;
  simdjson::dom::parser p;
  simdjson::dom::element doc = p.parse(r.out);
  EXPECT_EQ(doc["frames"].get_uint64().value(), 227U);
  EXPECT_EQ(doc["malformed"].get_uint64().value(), 0U);
  auto s = doc["symbols"]["NKNUSDT"];
  EXPECT_EQ(s["final_update_id"].get_uint64().value(), 499870179U);
  EXPECT_EQ(s["applied"].get_uint64().value(), 149U);
  EXPECT_EQ(s["dropped"].get_uint64().value(), 1U);
  EXPECT_EQ(s["gaps"].get_uint64().value(), 0U);
  EXPECT_TRUE(s["book_valid"].get_bool().value());
  EXPECT_EQ(s["bid_levels"].get_uint64().value(), 614U);
  EXPECT_EQ(s["ask_levels"].get_uint64().value(), 994U);
  EXPECT_EQ(s["bids"].get_array().size(), 2U);
  EXPECT_EQ(std::string(s["bids"].at(0).at(0).get_string().value()), "0.35270000");
  EXPECT_EQ(std::string(s["asks"].at(1).at(1).get_string().value()), "949.00000000");
  EXPECT_GT(s["book_tickers"].get_uint64().value(), 0U);
  EXPECT_EQ(s["klines"].get_uint64().value(), 1U);
}

TEST(ReplayCliTest, GzipCaptureGivesTheSameResult) {
  const std::string gz = ::testing::TempDir() + "cwts_nkn_" + std::to_string(::getpid()) + ".gz";
  {
    std::ifstream in(kData + "/spot_nknusdt_2021-10-12.capture", std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    gzFile f = ::gzopen(gz.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(::gzwrite(f, all.data(), static_cast<unsigned>(all.size())),
              static_cast<int>(all.size()));
    ::gzclose(f);
  }
  const ToolRun plain = run(kData + "/spot_nknusdt_2021-10-12.capture --json");
  const ToolRun zipped = run(gz + " --json");
  std::filesystem::remove(gz);
  EXPECT_EQ(zipped.status, 0) << zipped.err;
  EXPECT_EQ(plain.out, zipped.out);
}

TEST(ReplayCliTest, MalformedLinesAreReportedWithLineNumbersAndExitTwo) {
  const std::string path = ::testing::TempDir() + "cwts_bad_" + std::to_string(::getpid());
  {
    std::ifstream in(kData + "/spot_runeeur_2021-10-12.capture");
    std::ofstream out(path);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      out << line << '\n';
      if (++n == 1) out << "garbage without framing\n";
    }
    out << "1633998522743207936 {\"stream\":\"x\"\n";
  }
  const ToolRun r = run(path + " --json");
  std::filesystem::remove(path);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(":2: malformed line"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(":5: malformed line"), std::string::npos) << r.err;
  simdjson::dom::parser p;
  simdjson::dom::element doc = p.parse(r.out);
  EXPECT_EQ(doc["malformed"].get_uint64().value(), 2U);
  EXPECT_TRUE(doc["symbols"]["RUNEEUR"]["book_valid"].get_bool().value());
}

TEST(ReplayCliTest, MissingFileIsAnErrorNotACrash) {
  const ToolRun r = run("/nonexistent/capture --json");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("cannot open"), std::string::npos) << r.err;
}

}  // namespace
