// Recording frames and replaying the recording gives the same books; rotation and gzip.
#include "cwts/md/capture_writer.hpp"

#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cwts/md/replay.hpp"

namespace {

namespace md = cwts::md;
namespace fs = std::filesystem;
const std::string kData = CWTS_TEST_DATA;

class CaptureWriterTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "cwts_capture_" + std::to_string(::getpid()) +
           (GetParam() ? "_gz" : "_plain");
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string dir_;
};

TEST_P(CaptureWriterTest, RecordingOfALiveSessionReplaysToTheSameBooks) {
  const bool gz = GetParam();
  md::Pipeline live;
  {
    md::CaptureOptions opts;
    opts.dir = dir_;
    opts.gzip = gz;
    opts.rotate_bytes = 16 << 10;  // small: force rotation mid-capture
    md::CaptureWriter writer(opts);
    live.set_recorder(&writer);
    for (const char* f : {"spot_nknusdt_2021-10-12.capture", "spot_lrcbtc_2021-10-12.capture"}) {
      (void)md::replay_capture(kData + "/" + f, live);
    }
    live.set_recorder(nullptr);
    EXPECT_EQ(writer.write_errors(), 0U);
    EXPECT_EQ(writer.frames(), 227U + 27U);
    EXPECT_GT(writer.files_opened(), 2U) << "rotation did not happen";
  }
  const auto recorded = files();
  std::set<std::string> symbols;
  for (const auto& f : recorded) {
    const std::string name = fs::path(f).filename().string();
    symbols.insert(name.substr(0, name.find('-')));
    EXPECT_EQ(name.ends_with(".capture.gz"), gz) << name;
  }
  EXPECT_EQ(symbols, (std::set<std::string>{"LRCBTC", "NKNUSDT"}));

  // Replaying the recorded files in order (one symbol's files chain) rebuilds the same books.
  md::Pipeline replayed;
  for (const auto& f : recorded) (void)md::replay_capture(f, replayed);
  for (const char* sym : {"NKNUSDT", "LRCBTC"}) {
    const md::SymbolState* a = live.find(sym);
    const md::SymbolState* b = replayed.find(sym);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_TRUE(b->sync.valid()) << sym;
    EXPECT_EQ(a->sync.update_id(), b->sync.update_id()) << sym;
    EXPECT_EQ(a->sync.book().bid_levels(), b->sync.book().bid_levels()) << sym;
    EXPECT_EQ(a->sync.book().ask_levels(), b->sync.book().ask_levels()) << sym;
    EXPECT_EQ(a->sync.book().bid(0), b->sync.book().bid(0)) << sym;
  }
}

INSTANTIATE_TEST_SUITE_P(PlainAndGzip, CaptureWriterTest, ::testing::Bool(),
                         [](const auto& p) { return std::string(p.param ? "Gzip" : "Plain"); });

TEST(CaptureWriterErrorTest, UncreatableDirectoryIsAClearError) {
  md::CaptureOptions opts;
  opts.dir = "/proc/cwts-cannot-create";
  EXPECT_THROW(md::CaptureWriter{opts}, std::runtime_error);
}

}  // namespace
