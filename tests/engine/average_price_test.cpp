// AveragePrice: Binance's average price (VWAP over avgPriceMins) from the trade stream, and the
// board that hands it to the exec thread.
#include "cwts/engine/average_price.hpp"

#include <gtest/gtest.h>

namespace {

using cwts::core::Price;
using cwts::engine::AveragePrice;
using namespace cwts::core::money_literals;

constexpr std::int64_t kMin = 60'000;
constexpr std::int64_t kT0 = 1'700'000'000'000 / kMin * kMin;  // a minute boundary

TEST(AveragePrice, IsTheVolumeWeightedPriceOfTheWindow) {
  AveragePrice a(5);
  EXPECT_EQ(a.value(kT0), Price{}) << "nothing traded yet";
  a.on_trade(kT0, 100_px, 1_qty);
  a.on_trade(kT0 + 2 * kMin, 110_px, 3_qty);
  EXPECT_EQ(a.value(kT0 + 2 * kMin), 107.5_px);  // (100 + 330) / 4
}

TEST(AveragePrice, OldMinutesLeaveTheWindow) {
  AveragePrice a(5);
  a.on_trade(kT0, 100_px, 1_qty);
  a.on_trade(kT0 + 4 * kMin + 59'999, 200_px, 1_qty);
  EXPECT_EQ(a.value(kT0 + 4 * kMin + 59'999), 150_px);  // both within 5 minutes
  EXPECT_EQ(a.value(kT0 + 5 * kMin), 200_px) << "the first minute left the window";
  EXPECT_EQ(a.value(kT0 + 60 * kMin), 200_px) << "no trade in the window: the last price";
}

TEST(AveragePrice, ZeroMinutesIsTheLastPrice) {
  AveragePrice a(0);
  a.on_trade(kT0, 100_px, 5_qty);
  a.on_trade(kT0 + 1, 101_px, 1_qty);
  EXPECT_EQ(a.value(kT0 + 1), 101_px);
}

TEST(AveragePrice, ABucketIsReusedAfterALap) {
  AveragePrice a(1);
  a.on_trade(kT0, 100_px, 1_qty);
  a.on_trade(kT0 + AveragePrice::kMaxMinutes * kMin, 300_px, 1_qty);  // same bucket, a lap later
  EXPECT_EQ(a.value(kT0 + AveragePrice::kMaxMinutes * kMin), 300_px);
}

TEST(AveragePriceBoard, HandsTheValueOverPerSymbol) {
  cwts::engine::AveragePriceBoard b;
  EXPECT_EQ(b.load(3), Price{});
  b.store(3, 42_px);
  EXPECT_EQ(b.load(3), 42_px);
  EXPECT_EQ(b.load(4), Price{});
  EXPECT_EQ(b.load(60000), Price{}) << "out of range reads zero";
}

}  // namespace
