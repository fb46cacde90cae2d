// What the ShmPublisher tests share: the 2021 exchangeInfo, decimals, and a fresh market region
// per test in a private /dev/shm directory.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "cwts/binance/exchange_info.hpp"
#include "cwts/core/decimal.hpp"
#include "cwts/md/frame_parser.hpp"
#include "cwts/shm/region.hpp"
#include "cwts/shm_layout/market_region.hpp"

namespace cwts::publish::test {

inline const std::string kData = CWTS_TEST_DATA;

// A decimal string at the wire scale ("0.3529" -> 35290000).
inline std::int64_t px(std::string_view s) {
  std::int64_t v = 0;
  EXPECT_EQ(core::parse_fixed(s, md::kWireDecimals, v), core::DecimalErrc::kOk) << s;
  return v;
}

inline const binance::ExchangeInfo& info2021() {
  static const binance::ExchangeInfo info = binance::load_exchange_info(
      kData + "/binance_spot_exchangeInfo_full_cryptofeed_2021.json.gz");
  return info;
}

class ShmPublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/dev/shm/cwts-pubtest-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr)
        << std::strerror(errno);  // NOLINT(concurrency-mt-unsafe): test set-up, one thread
    dir_ = tmpl;
    opts_.instance = "pub" + std::to_string(::getpid());
    opts_.shm_dir = dir_;
    opts_.hugepage_dir = "";
    opts_.lock_pages = false;
    opts_.prefault = false;
    engine_ = shm::Region::create(layout::RegionKind::kMarket, opts_);
  }
  void TearDown() override {
    engine_.remove();
    std::filesystem::remove_all(dir_);
  }

  layout::MarketRegion& market() { return engine_.as<layout::MarketRegion>(); }
  // The region again, its books `depth` levels a side (region.book_depth).
  void recreate_with_book_depth(std::uint32_t depth) {
    engine_.remove();
    opts_.market_capacity.book_depth = depth;
    engine_ = shm::Region::create(layout::RegionKind::kMarket, opts_);
  }

  std::string dir_;
  shm::RegionOptions opts_;
  shm::Region engine_;
};

// BLZETH first so that NKNUSDT's shared-memory id (1) differs from its pipeline id (0).
inline constexpr std::string_view kSymbols[] = {"BLZETH", "NKNUSDT"};
inline constexpr std::uint32_t kTimeframes[] = {1, 60, 300};

}  // namespace cwts::publish::test
