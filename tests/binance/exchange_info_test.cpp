// exchangeInfo parsing against the shipped 2023 subset and the full 2021 list, and malformed
// bodies.
#include "cwts/binance/exchange_info.hpp"

#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace {

namespace binance = cwts::binance;
namespace layout = cwts::layout;
const std::string kData = CWTS_TEST_DATA;

// The message of the runtime_error `fn` throws, or a test failure.
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception";
  return {};
}

const binance::SymbolSpec& get(const binance::ExchangeInfo& info, std::string_view name) {
  const binance::SymbolSpec* s = info.find(name);
  if (s == nullptr) throw std::runtime_error("missing symbol " + std::string(name));
  return *s;
}

constexpr std::uint8_t kLayoutLimitMarketMaker =
    (1U << static_cast<unsigned>(layout::OrderType::kLimit)) |
    (1U << static_cast<unsigned>(layout::OrderType::kMarket)) |
    (1U << static_cast<unsigned>(layout::OrderType::kLimitMaker));

TEST(ExchangeInfoTest, Subset2023HasTheExactFilterValues) {
  const auto info = binance::load_exchange_info(
      kData + "/binance_spot_exchangeInfo_subset_preangelleo_2023.json");
  ASSERT_EQ(info.symbols.size(), 4U);
  EXPECT_EQ(info.symbols[0].name, "ETHBTC");
  EXPECT_EQ(info.symbols[1].name, "BCCBTC");
  EXPECT_EQ(info.symbols[2].name, "BTCUSDT");
  EXPECT_EQ(info.symbols[3].name, "ETHUSDT");
  EXPECT_EQ(info.server_time_ms, 1702319981403);
  EXPECT_EQ(info.timezone, "UTC");

  const binance::SymbolSpec& btc = get(info, "BTCUSDT");
  EXPECT_EQ(btc.base, "BTC");
  EXPECT_EQ(btc.quote, "USDT");
  EXPECT_EQ(btc.status, layout::SymbolStatus::kTrading);
  EXPECT_EQ(btc.base_precision, 8);
  EXPECT_EQ(btc.quote_precision, 8);
  // PRICE_FILTER 0.01 / 1000000 / 0.01
  EXPECT_EQ(btc.tick_size.raw, 1'000'000);
  EXPECT_EQ(btc.min_price.raw, 1'000'000);
  EXPECT_EQ(btc.max_price.raw, 100'000'000'000'000);
  // LOT_SIZE 0.00001 / 9000 / 0.00001
  EXPECT_EQ(btc.step_size.raw, 1'000);
  EXPECT_EQ(btc.min_qty.raw, 1'000);
  EXPECT_EQ(btc.max_qty.raw, 900'000'000'000);
  // MARKET_LOT_SIZE 0 / 98.37379079 / 0
  EXPECT_EQ(btc.market_min_qty.raw, 0);
  EXPECT_EQ(btc.market_max_qty.raw, 9'837'379'079);
  EXPECT_EQ(btc.market_step_size.raw, 0);
  // NOTIONAL 5 (applied to market) / 9000000 (not applied to market)
  EXPECT_EQ(btc.min_notional.raw, 500'000'000);
  EXPECT_EQ(btc.max_notional.raw, 900'000'000'000'000);
  EXPECT_TRUE(btc.apply_min_to_market);
  EXPECT_FALSE(btc.apply_max_to_market);
  EXPECT_EQ(btc.notional_avg_price_mins, 5U);
  // PERCENT_PRICE_BY_SIDE 5 / 0.2 / 5 / 0.2 as 8-decimal ratios
  EXPECT_EQ(btc.bid_multiplier_up.raw, 500'000'000);
  EXPECT_EQ(btc.bid_multiplier_down.raw, 20'000'000);
  EXPECT_EQ(btc.ask_multiplier_up.raw, 500'000'000);
  EXPECT_EQ(btc.ask_multiplier_down.raw, 20'000'000);
  EXPECT_EQ(btc.avg_price_mins, 5U);
  EXPECT_EQ(btc.max_num_orders, 200U);
  EXPECT_EQ(btc.order_types, kLayoutLimitMarketMaker);
  EXPECT_NE(btc.venue_order_types &
                (1U << static_cast<unsigned>(binance::VenueOrderType::kStopLossLimit)),
            0U);
  EXPECT_EQ(
      btc.venue_order_types & (1U << static_cast<unsigned>(binance::VenueOrderType::kStopLoss)),
      0U);
  EXPECT_EQ(btc.filters, binance::kFilterPrice | binance::kFilterLotSize |
                             binance::kFilterMarketLotSize | binance::kFilterNotional |
                             binance::kFilterPercentPriceBySide | binance::kFilterMaxNumOrders);
  // ICEBERG_PARTS, TRAILING_DELTA, MAX_NUM_ALGO_ORDERS have no place in the layout.
  EXPECT_EQ(btc.ignored_filters, 3U);

  const binance::SymbolSpec& eth_btc = get(info, "ETHBTC");
  EXPECT_EQ(eth_btc.tick_size.raw, 1'000);               // 0.00001
  EXPECT_EQ(eth_btc.min_notional.raw, 10'000);           // 0.0001
  EXPECT_EQ(eth_btc.max_price.raw, 92'232'700'000'000);  // 922327

  const binance::SymbolSpec& bcc = get(info, "BCCBTC");
  EXPECT_EQ(bcc.status, layout::SymbolStatus::kBreak);
  EXPECT_EQ(bcc.status_text, "BREAK");
  EXPECT_EQ(bcc.filters & binance::kFilterMarketLotSize, 0U);  // BCCBTC has no MARKET_LOT_SIZE
  EXPECT_EQ(bcc.market_max_qty.raw, 0);

  ASSERT_EQ(info.rate_limits.size(), 4U);
  const auto& rl = info.rate_limits;
  EXPECT_EQ(rl[0].type, binance::RateLimitType::kRequestWeight);
  EXPECT_EQ(rl[0].interval, binance::RateInterval::kMinute);
  EXPECT_EQ(rl[0].interval_num, 1U);
  EXPECT_EQ(rl[0].limit, 6000U);
  EXPECT_EQ(rl[0].window_ms(), 60'000);
  EXPECT_EQ(rl[1].type, binance::RateLimitType::kOrders);
  EXPECT_EQ(rl[1].interval, binance::RateInterval::kSecond);
  EXPECT_EQ(rl[1].interval_num, 10U);
  EXPECT_EQ(rl[1].limit, 100U);
  EXPECT_EQ(rl[1].window_ms(), 10'000);
  EXPECT_EQ(rl[2].type, binance::RateLimitType::kOrders);
  EXPECT_EQ(rl[2].interval, binance::RateInterval::kDay);
  EXPECT_EQ(rl[2].limit, 200000U);
  EXPECT_EQ(rl[2].window_ms(), 86'400'000);
  EXPECT_EQ(rl[3].type, binance::RateLimitType::kRawRequests);
  EXPECT_EQ(rl[3].interval_num, 5U);
  EXPECT_EQ(rl[3].limit, 61000U);
  EXPECT_EQ(rl[3].window_ms(), 300'000);

  EXPECT_EQ(info.ignored_filters, 12U);
  EXPECT_EQ(info.ignored_filter_types,
            (std::vector<std::string>{"ICEBERG_PARTS", "TRAILING_DELTA", "MAX_NUM_ALGO_ORDERS"}));
}

TEST(ExchangeInfoTest, Full2021ListParsesEverySymbolWithOldFilters) {
  const auto info = binance::load_exchange_info(
      kData + "/binance_spot_exchangeInfo_full_cryptofeed_2021.json.gz");
  ASSERT_EQ(info.symbols.size(), 1695U);
  EXPECT_EQ(info.server_time_ms, 1633998511098);
  std::size_t trading = 0;
  std::size_t breaks = 0;
  for (const auto& s : info.symbols) {
    trading += s.status == layout::SymbolStatus::kTrading ? 1 : 0;
    breaks += s.status == layout::SymbolStatus::kBreak ? 1 : 0;
    // Every 2021 symbol carries these; none has the 2023 replacements.
    EXPECT_EQ(
        s.filters & (binance::kFilterPrice | binance::kFilterLotSize | binance::kFilterMinNotional |
                     binance::kFilterPercentPrice | binance::kFilterMaxNumOrders),
        binance::kFilterPrice | binance::kFilterLotSize | binance::kFilterMinNotional |
            binance::kFilterPercentPrice | binance::kFilterMaxNumOrders)
        << s.name;
    EXPECT_EQ(s.filters & (binance::kFilterNotional | binance::kFilterPercentPriceBySide), 0U)
        << s.name;
  }
  EXPECT_EQ(trading, 1262U);
  EXPECT_EQ(breaks, 433U);

  // The four symbols the captures hold.
  EXPECT_EQ(get(info, "NKNUSDT").tick_size.raw, 10'000);      // 0.0001
  EXPECT_EQ(get(info, "BLZETH").tick_size.raw, 1);            // 0.00000001
  EXPECT_EQ(get(info, "LRCBTC").tick_size.raw, 1);            // 0.00000001
  EXPECT_EQ(get(info, "RUNEEUR").tick_size.raw, 100'000);     // 0.001
  EXPECT_EQ(get(info, "RUNEEUR").step_size.raw, 10'000'000);  // 0.1

  const binance::SymbolSpec& nkn = get(info, "NKNUSDT");
  EXPECT_EQ(nkn.step_size.raw, 100'000'000);  // 1
  EXPECT_EQ(nkn.min_qty.raw, 100'000'000);
  EXPECT_EQ(nkn.max_qty.raw, 900'000'000'000'000);        // 9000000
  EXPECT_EQ(nkn.market_max_qty.raw, 69'102'607'991'660);  // 691026.07991660
  // MIN_NOTIONAL 10, applyToMarket: no maximum in 2021.
  EXPECT_EQ(nkn.min_notional.raw, 1'000'000'000);
  EXPECT_EQ(nkn.max_notional.raw, 0);
  EXPECT_TRUE(nkn.apply_min_to_market);
  EXPECT_FALSE(nkn.apply_max_to_market);
  // PERCENT_PRICE applies to both sides.
  EXPECT_EQ(nkn.bid_multiplier_up.raw, 500'000'000);
  EXPECT_EQ(nkn.ask_multiplier_up.raw, 500'000'000);
  EXPECT_EQ(nkn.bid_multiplier_down.raw, 20'000'000);
  EXPECT_EQ(nkn.ask_multiplier_down.raw, 20'000'000);
  EXPECT_EQ(nkn.avg_price_mins, 5U);
  EXPECT_EQ(nkn.order_types, kLayoutLimitMarketMaker);

  // The largest value in the file still fits the 8-decimal integer exactly.
  EXPECT_EQ(get(info, "SHIBUSDT").max_qty.raw, 4'611'686'041'400'000'000);

  // Rate limits as the reference gives them for 2021: 1200 / 50 / 160000 / 6100.
  ASSERT_EQ(info.rate_limits.size(), 4U);
  EXPECT_EQ(info.rate_limits[0].type, binance::RateLimitType::kRequestWeight);
  EXPECT_EQ(info.rate_limits[0].limit, 1200U);
  EXPECT_EQ(info.rate_limits[1].type, binance::RateLimitType::kOrders);
  EXPECT_EQ(info.rate_limits[1].window_ms(), 10'000);
  EXPECT_EQ(info.rate_limits[1].limit, 50U);
  EXPECT_EQ(info.rate_limits[2].type, binance::RateLimitType::kOrders);
  EXPECT_EQ(info.rate_limits[2].window_ms(), 86'400'000);
  EXPECT_EQ(info.rate_limits[2].limit, 160000U);
  EXPECT_EQ(info.rate_limits[3].type, binance::RateLimitType::kRawRequests);
  EXPECT_EQ(info.rate_limits[3].window_ms(), 300'000);
  EXPECT_EQ(info.rate_limits[3].limit, 6100U);

  // ICEBERG_PARTS and MAX_NUM_ALGO_ORDERS on every symbol, MAX_POSITION on 40.
  EXPECT_EQ(info.ignored_filters, 1695U * 2 + 40);
  EXPECT_EQ(info.ignored_filter_types,
            (std::vector<std::string>{"ICEBERG_PARTS", "MAX_NUM_ALGO_ORDERS", "MAX_POSITION"}));
}

TEST(ExchangeInfoTest, FillSymbolInfoCopiesEveryLayoutField) {
  const auto info = binance::load_exchange_info(
      kData + "/binance_spot_exchangeInfo_subset_preangelleo_2023.json");
  layout::SymbolInfo si{};
  binance::fill_symbol_info(get(info, "BTCUSDT"), 7, si);
  EXPECT_EQ(si.name.view(), "BTCUSDT");
  EXPECT_EQ(si.base.view(), "BTC");
  EXPECT_EQ(si.quote.view(), "USDT");
  EXPECT_EQ(si.id, 7);
  EXPECT_EQ(si.status, static_cast<std::uint8_t>(layout::SymbolStatus::kTrading));
  EXPECT_EQ(si.price_decimals, 8);
  EXPECT_EQ(si.qty_decimals, 8);
  EXPECT_EQ(si.base_precision, 8);
  EXPECT_EQ(si.quote_precision, 8);
  EXPECT_EQ(si.order_types, kLayoutLimitMarketMaker);
  EXPECT_EQ(si.tick_size.raw, 1'000'000);
  EXPECT_EQ(si.min_price.raw, 1'000'000);
  EXPECT_EQ(si.max_price.raw, 100'000'000'000'000);
  EXPECT_EQ(si.step_size.raw, 1'000);
  EXPECT_EQ(si.min_qty.raw, 1'000);
  EXPECT_EQ(si.max_qty.raw, 900'000'000'000);
  EXPECT_EQ(si.market_min_qty.raw, 0);
  EXPECT_EQ(si.market_max_qty.raw, 9'837'379'079);
  EXPECT_EQ(si.min_notional.raw, 500'000'000);
  EXPECT_EQ(si.max_notional.raw, 900'000'000'000'000);
  EXPECT_EQ(si.bid_multiplier_up.raw, 500'000'000);
  EXPECT_EQ(si.bid_multiplier_down.raw, 20'000'000);
  EXPECT_EQ(si.ask_multiplier_up.raw, 500'000'000);
  EXPECT_EQ(si.ask_multiplier_down.raw, 20'000'000);
  EXPECT_EQ(si.avg_price_mins, 5U);
  EXPECT_EQ(si.max_num_orders, 200U);
  EXPECT_EQ(si.filter_flags, layout::kApplyMinNotionalToMarket);
}

TEST(ExchangeInfoTest, AssetLongerThanTheLayoutIsRefusedNotTruncated) {
  const auto info = binance::load_exchange_info(
      kData + "/binance_spot_exchangeInfo_full_cryptofeed_2021.json.gz");
  const binance::SymbolSpec* s = nullptr;
  for (const auto& x : info.symbols) {
    if (x.base == "SUSHIDOWN") s = &x;
  }
  ASSERT_NE(s, nullptr);
  layout::SymbolInfo si{};
  const std::string msg = error_of([&] { binance::fill_symbol_info(*s, 0, si); });
  EXPECT_NE(msg.find(s->name), std::string::npos) << msg;
  EXPECT_NE(msg.find("SUSHIDOWN"), std::string::npos) << msg;
}

// A one-symbol body with `symbol_fields` spliced into BTCUSDT's object.
std::string body_with(const std::string& symbol_fields) {
  return R"({"timezone":"UTC","serverTime":1702319981403,"rateLimits":[],"exchangeFilters":[],)"
         R"("symbols":[{"symbol":"BTCUSDT","status":"TRADING","baseAsset":"BTC",)"
         R"("baseAssetPrecision":8,"quoteAsset":"USDT","quotePrecision":8,"quoteAssetPrecision":8,)"
         R"("orderTypes":["LIMIT","MARKET"])" +
         symbol_fields + "}]}";
}

const std::string kGoodFilters =
    R"(,"filters":[{"filterType":"PRICE_FILTER","minPrice":"0.01000000","maxPrice":"1000000.00000000","tickSize":"0.01000000"}])";

TEST(ExchangeInfoTest, HandWrittenBodyParses) {
  const auto info = binance::parse_exchange_info(body_with(kGoodFilters));
  ASSERT_EQ(info.symbols.size(), 1U);
  EXPECT_EQ(info.symbols[0].tick_size.raw, 1'000'000);
}

TEST(ExchangeInfoTest, EveryFilterFieldLandsInItsOwnPlace) {
  // The reference's filter examples (binance-protocol.md 4.3), with every value distinct so a
  // field read from the wrong key cannot pass: real files often have minPrice == tickSize and
  // equal bid/ask multipliers.
  const auto info = binance::parse_exchange_info(body_with(
      R"(,"filters":[)"
      R"({"filterType":"PRICE_FILTER","minPrice":"0.00000300","maxPrice":"100000.00000000","tickSize":"0.00000100"},)"
      R"({"filterType":"LOT_SIZE","minQty":"0.00300000","maxQty":"100000.00000000","stepSize":"0.00100000"},)"
      R"({"filterType":"MARKET_LOT_SIZE","minQty":"0.01000000","maxQty":"500.00000000","stepSize":"0.00200000"},)"
      R"({"filterType":"NOTIONAL","minNotional":"10.00000000","applyMinToMarket":false,"maxNotional":"10000.00000000","applyMaxToMarket":true,"avgPriceMins":3},)"
      R"({"filterType":"PERCENT_PRICE_BY_SIDE","bidMultiplierUp":"1.2","bidMultiplierDown":"0.2","askMultiplierUp":"5","askMultiplierDown":"0.8","avgPriceMins":1},)"
      R"({"filterType":"MAX_NUM_ORDERS","maxNumOrders":25}])"));
  ASSERT_EQ(info.symbols.size(), 1U);
  const binance::SymbolSpec& s = info.symbols[0];
  EXPECT_EQ(s.min_price.raw, 300);
  EXPECT_EQ(s.max_price.raw, 10'000'000'000'000);
  EXPECT_EQ(s.tick_size.raw, 100);
  EXPECT_EQ(s.min_qty.raw, 300'000);
  EXPECT_EQ(s.max_qty.raw, 10'000'000'000'000);
  EXPECT_EQ(s.step_size.raw, 100'000);
  EXPECT_EQ(s.market_min_qty.raw, 1'000'000);
  EXPECT_EQ(s.market_max_qty.raw, 50'000'000'000);
  EXPECT_EQ(s.market_step_size.raw, 200'000);
  EXPECT_EQ(s.min_notional.raw, 1'000'000'000);
  EXPECT_EQ(s.max_notional.raw, 1'000'000'000'000);
  EXPECT_FALSE(s.apply_min_to_market);
  EXPECT_TRUE(s.apply_max_to_market);
  EXPECT_EQ(s.notional_avg_price_mins, 3U);
  EXPECT_EQ(s.bid_multiplier_up.raw, 120'000'000);
  EXPECT_EQ(s.bid_multiplier_down.raw, 20'000'000);
  EXPECT_EQ(s.ask_multiplier_up.raw, 500'000'000);
  EXPECT_EQ(s.ask_multiplier_down.raw, 80'000'000);
  EXPECT_EQ(s.avg_price_mins, 1U);
  EXPECT_EQ(s.max_num_orders, 25U);
  EXPECT_EQ(s.order_types, (1U << static_cast<unsigned>(layout::OrderType::kLimit)) |
                               (1U << static_cast<unsigned>(layout::OrderType::kMarket)));
  layout::SymbolInfo si{};
  binance::fill_symbol_info(s, 3, si);
  EXPECT_EQ(si.min_price.raw, 300);
  EXPECT_EQ(si.tick_size.raw, 100);
  EXPECT_EQ(si.min_qty.raw, 300'000);
  EXPECT_EQ(si.step_size.raw, 100'000);
  EXPECT_EQ(si.market_min_qty.raw, 1'000'000);
  EXPECT_EQ(si.market_max_qty.raw, 50'000'000'000);
  EXPECT_EQ(si.bid_multiplier_up.raw, 120'000'000);
  EXPECT_EQ(si.bid_multiplier_down.raw, 20'000'000);
  EXPECT_EQ(si.ask_multiplier_up.raw, 500'000'000);
  EXPECT_EQ(si.ask_multiplier_down.raw, 80'000'000);
  EXPECT_EQ(si.avg_price_mins, 1U);
  EXPECT_EQ(si.filter_flags, layout::kApplyMaxNotionalToMarket);

  // The 2021 filters: PERCENT_PRICE applies to both sides; MIN_NOTIONAL has no maximum.
  const auto old = binance::parse_exchange_info(body_with(
      R"(,"filters":[)"
      R"({"filterType":"PERCENT_PRICE","multiplierUp":"1.3","multiplierDown":"0.7","avgPriceMins":2},)"
      R"({"filterType":"MIN_NOTIONAL","minNotional":"0.00100000","applyToMarket":false,"avgPriceMins":4}])"));
  const binance::SymbolSpec& o = old.symbols[0];
  EXPECT_EQ(o.bid_multiplier_up.raw, 130'000'000);
  EXPECT_EQ(o.ask_multiplier_up.raw, 130'000'000);
  EXPECT_EQ(o.bid_multiplier_down.raw, 70'000'000);
  EXPECT_EQ(o.ask_multiplier_down.raw, 70'000'000);
  EXPECT_EQ(o.avg_price_mins, 2U);
  EXPECT_EQ(o.min_notional.raw, 100'000);
  EXPECT_EQ(o.max_notional.raw, 0);
  EXPECT_FALSE(o.apply_min_to_market);
  EXPECT_EQ(o.notional_avg_price_mins, 4U);
  EXPECT_EQ(o.filters, binance::kFilterPercentPrice | binance::kFilterMinNotional);
}

TEST(ExchangeInfoTest, MissingFiltersNamesSymbolAndField) {
  const std::string msg = error_of([] { (void)binance::parse_exchange_info(body_with("")); });
  EXPECT_NE(msg.find("symbol 'BTCUSDT'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing field 'filters'"), std::string::npos) << msg;
}

TEST(ExchangeInfoTest, BadDecimalNamesSymbolFilterFieldAndValue) {
  const std::string msg = error_of([] {
    (void)binance::parse_exchange_info(body_with(
        R"(,"filters":[{"filterType":"PRICE_FILTER","minPrice":"0.01","maxPrice":"1","tickSize":"0.0x1"}])"));
  });
  EXPECT_NE(msg.find("BTCUSDT"), std::string::npos) << msg;
  EXPECT_NE(msg.find("PRICE_FILTER"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'tickSize'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'0.0x1'"), std::string::npos) << msg;
}

TEST(ExchangeInfoTest, DecimalFinerThanEightPlacesIsAnErrorNotRounded) {
  const std::string msg = error_of([] {
    (void)binance::parse_exchange_info(body_with(
        R"(,"filters":[{"filterType":"LOT_SIZE","minQty":"0.000000001","maxQty":"1","stepSize":"0.1"}])"));
  });
  EXPECT_NE(msg.find("LOT_SIZE"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'minQty'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("more decimals"), std::string::npos) << msg;
}

TEST(ExchangeInfoTest, NumberWhereADecimalStringBelongsIsAnError) {
  const std::string msg = error_of([] {
    (void)binance::parse_exchange_info(body_with(
        R"(,"filters":[{"filterType":"PRICE_FILTER","minPrice":"0.01","maxPrice":"1","tickSize":0.01}])"));
  });
  EXPECT_NE(msg.find("'tickSize' must be a string, not a number"), std::string::npos) << msg;
}

TEST(ExchangeInfoTest, MissingFieldInsideAFilterIsNamed) {
  const std::string msg = error_of([] {
    (void)binance::parse_exchange_info(body_with(
        R"(,"filters":[{"filterType":"NOTIONAL","minNotional":"5","applyMinToMarket":true,"maxNotional":"9"}])"));
  });
  EXPECT_NE(msg.find("symbol 'BTCUSDT': filter NOTIONAL: missing field 'applyMaxToMarket'"),
            std::string::npos)
      << msg;
}

TEST(ExchangeInfoTest, TopLevelErrorsAreClear) {
  EXPECT_NE(error_of([] {
              (void)binance::parse_exchange_info("{\"serverTime\":");
            }).find("not valid JSON"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              (void)binance::parse_exchange_info(R"({"serverTime":1,"rateLimits":[]})");
            }).find("missing field 'symbols'"),
            std::string::npos);
  EXPECT_NE(
      error_of([] {
        (void)binance::parse_exchange_info(
            R"({"serverTime":1,"rateLimits":[{"rateLimitType":"ORDERS","interval":"WEEK","intervalNum":1,"limit":5}],"symbols":[]})");
      }).find("rateLimits[0]: unknown interval 'WEEK'"),
      std::string::npos);
  EXPECT_NE(error_of([] {
              (void)binance::load_exchange_info(kData + "/no_such_file.json");
            }).find("cannot open"),
            std::string::npos);
}

TEST(ExchangeInfoTest, UnknownFilterTypeIsCountedNotAnError) {
  const auto info = binance::parse_exchange_info(body_with(
      R"(,"filters":[{"filterType":"SOMETHING_NEW","x":[1,2]},{"filterType":"MAX_NUM_ORDERS","maxNumOrders":25}])"));
  ASSERT_EQ(info.symbols.size(), 1U);
  EXPECT_EQ(info.symbols[0].ignored_filters, 1U);
  EXPECT_EQ(info.symbols[0].max_num_orders, 25U);
  EXPECT_EQ(info.ignored_filter_types, std::vector<std::string>{"SOMETHING_NEW"});
}

TEST(ExchangeInfoTest, CorruptedRealFileNamesTheSymbol) {
  std::string body = binance::read_file_maybe_gz(
      kData + "/binance_spot_exchangeInfo_subset_preangelleo_2023.json");
  // Corrupt ETHUSDT's step size (the last symbol in the file).
  // (The file is pretty-printed: "key": "value".)
  const auto at = body.find(R"("symbol": "ETHUSDT")");
  ASSERT_NE(at, std::string::npos);
  const std::string good = R"("stepSize": "0.00010000")";
  const auto step = body.find(good, at);
  ASSERT_NE(step, std::string::npos);
  body.replace(step, good.size(), R"("stepSize": "0.000100O0")");
  const std::string msg = error_of([&] { (void)binance::parse_exchange_info(body); });
  EXPECT_NE(msg.find("symbol 'ETHUSDT': filter LOT_SIZE: field 'stepSize': '0.000100O0'"),
            std::string::npos)
      << msg;
}

}  // namespace

namespace {

// Issue 19's scale: a start or a symbols.add with hundreds of symbols asks for the whole
// exchangeInfo rather than a request line HTTP servers refuse (cwts-sim's closed the connection).
TEST(ExchangeInfoTarget, AsksForTheListedSymbolsUntilTheRequestLineWouldBeTooLong) {
  std::vector<std::string> names;
  for (int i = 0; i < 1000; ++i) names.push_back("S" + std::to_string(1000 + i) + "USDT");
  EXPECT_EQ(cwts::binance::exchange_info_target(names, 0, 2),
            "/api/v3/exchangeInfo?symbols=[%22S1000USDT%22,%22S1001USDT%22]");
  EXPECT_EQ(cwts::binance::exchange_info_target(names, 5, 6),
            "/api/v3/exchangeInfo?symbols=[%22S1005USDT%22]");
  const std::string some = cwts::binance::exchange_info_target(names, 0, 100);
  EXPECT_LE(some.size(), cwts::binance::kMaxExchangeInfoQuery);
  EXPECT_NE(some.find("S1099USDT"), std::string::npos);
  EXPECT_EQ(cwts::binance::exchange_info_target(names, 0, 1000), "/api/v3/exchangeInfo");
}

}  // namespace
