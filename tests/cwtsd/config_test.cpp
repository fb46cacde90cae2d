// cwtsd configuration: strict parsing, errors that name the key and the reason, shipped files.
#include "config/config.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "../feed/test_pki.hpp"

namespace {

using cwts::daemon::Config;
using cwts::daemon::ConfigError;
using cwts::daemon::parse_config;

constexpr const char* kMinimal = R"({"market":{"symbols":["btcusdt"]}})";

// Runs `load` expecting a ConfigError on `key` whose reason contains `reason_part`.
template <typename Load>
void expect_refused(Load load, const std::string& what, const std::string& key,
                    const std::string& reason_part) {
  try {
    (void)load();
    ADD_FAILURE() << "accepted: " << what;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), key) << e.what();
    EXPECT_NE(e.reason().find(reason_part), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(key), std::string::npos);
  }
}

// Parses `json` expecting a ConfigError on `key` whose reason contains `reason_part`.
void expect_error(const std::string& json, const std::string& key, const std::string& reason_part) {
  expect_refused([&] { return parse_config(json); }, json, key, reason_part);
}

TEST(Config, MinimalGetsDefaults) {
  const Config c = parse_config(kMinimal);
  ASSERT_EQ(c.market.symbols.size(), 1U);
  EXPECT_EQ(c.market.symbols[0], "BTCUSDT");
  EXPECT_EQ(c.venue.kind, cwts::daemon::VenueKind::kPaper);
  EXPECT_EQ(c.region.instance, "default");
  EXPECT_EQ(c.risk.max_open_orders, 10U);
  EXPECT_EQ(c.slot(3).trade, true);
  EXPECT_EQ(c.venue.ws_api_silence_ms, 60000U);
  EXPECT_EQ(parse_config(R"({"market":{"symbols":["BTCUSDT"]},"venue":{"ws_api_silence_ms":2000}})")
                .venue.ws_api_silence_ms,
            2000U);
}

TEST(Config, DecimalsAreExact) {
  const Config c = parse_config(
      R"({"market":{"symbols":["BTCUSDT"]},"risk":{"max_order_notional":"1234.5","max_position":"0.00000001",
          "symbols":{"BTCUSDT":{"max_position":"0.25"}}}})");
  EXPECT_EQ(c.risk.max_order_notional.raw, 123450000000LL);
  EXPECT_EQ(c.risk.max_position.raw, 1);
  ASSERT_EQ(c.risk_overrides.size(), 1U);
  EXPECT_EQ(c.risk_overrides[0].max_position.value().raw, 25000000);
  EXPECT_FALSE(c.risk_overrides[0].max_open_orders.has_value());
}

TEST(Config, SellsNeedInventoryAndBooksAFreshnessLimitByDefault) {
  const Config d = parse_config(kMinimal);
  EXPECT_FALSE(d.risk.sell_account_holdings);
  EXPECT_EQ(d.risk.max_book_age_ms, 5000U);
  const Config c = parse_config(
      R"({"market":{"symbols":["BTCUSDT","BNBUSDT"]},"risk":{"max_book_age_ms":0,
          "symbols":{"BNBUSDT":{"sell_account_holdings":true,"max_book_age_ms":30000}}}})");
  EXPECT_EQ(c.risk.max_book_age_ms, 0U);
  ASSERT_EQ(c.risk_overrides.size(), 1U);
  EXPECT_EQ(c.risk_overrides[0].sell_account_holdings, std::optional<bool>(true));
  EXPECT_EQ(c.risk_overrides[0].max_book_age_ms, std::optional<std::uint32_t>(30000U));
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"risk":{"sell_account_holdings":"yes"}})",
               "risk.sell_account_holdings", "true or false");
  expect_error(
      R"({"market":{"symbols":["BTCUSDT"]},"risk":{"symbols":{"BTCUSDT":{"sell_holdings":true}}}})",
      "risk.symbols.BTCUSDT.sell_holdings", "unknown key");
}

TEST(Config, UnknownKeysAreErrorsWithTheirPath) {
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"risk":{"max_open_order":5}})",
               "risk.max_open_order", "unknown key");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"riks":{}})", "riks", "unknown key");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"threads":{"md":{"cores":1}}})",
               "threads.md.cores", "unknown key");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"slots":{"2":{"trades":false}}})",
               "slots.2.trades", "unknown key");
}

TEST(Config, BadValuesNameKeyAndReason) {
  expect_error("{", "", "not valid JSON");
  expect_error(R"({"market":{}})", "market.symbols", "at least one symbol");
  expect_error(R"({"market":{"symbols":["BTC-USDT"]}})", "market.symbols", "not a Binance symbol");
  expect_error(R"({"market":{"symbols":["BTCUSDT","btcusdt"]}})", "market.symbols", "twice");
  expect_error(R"({"market":{"symbols":["BTCUSDT"],"timeframes":["7m"]}})", "market.timeframes",
               "not a Binance interval");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"risk":{"max_order_notional":1000}})",
               "risk.max_order_notional", "decimal string");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"risk":{"max_position":"0.000000001"}})",
               "risk.max_position", "at most 8 decimals");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"risk":{"max_position":"-1"}})",
               "risk.max_position", "negative");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"risk":{"max_open_orders":-1}})",
               "risk.max_open_orders", "between");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"risk":{"max_open_orders":"5"}})",
               "risk.max_open_orders", "integer");
  expect_error(
      R"({"market":{"symbols":["BTCUSDT"]},"risk":{"default_ttl_ms":9000,"max_ttl_ms":100}})",
      "risk.default_ttl_ms", "max_ttl_ms");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"risk":{"symbols":{"ETHUSDT":{}}}})",
               "risk.symbols.ETHUSDT", "not one of market.symbols");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"venue":{"kind":"kraken"}})", "venue.kind",
               "not one of");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"venue":{"ws_api_silence_ms":500}})",
               "venue.ws_api_silence_ms", "between 1000 and 600000");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"threads":{"exec":{"idle":"spin"}}})",
               "threads.exec.idle", "not one of");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"threads":{"gateway":{"idle":"poll"}}})",
               "threads.gateway.idle", "not one of");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"rate_limits":{"engine_share":1.5}})",
               "rate_limits.engine_share", "(0, 1]");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"slots":{"16":{}}})", "slots.16", "index");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"region":{"signals_mode":"0999"}})",
               "region.signals_mode", "octal");
  // Strategies only read the signals region (ADR 0021): writable by others it could be truncated.
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"region":{"signals_mode":"0660"}})",
               "region.signals_mode", "0640");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"slots":{"2":{"users":["no-such-user-x"]}}})",
               "slots.2.users", "not a user");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"slots":{"2":{"groups":["no-such-group-x"]}}})",
               "slots.2.groups", "not a group");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"slots":{"2":{"users":"root"}}})",
               "slots.2.users", "array");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"region":{"instance":"a/b"}})",
               "region.instance", "'/'");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"log":{"level":"loud"}})", "log.level",
               "not one of");
}

// ADR 0035: the market region's symbol and slot capacities come from region.max_symbols and
// region.max_slots; every slot index the file names is checked against them.
TEST(Config, TheRegionsCapacitiesAreConfiguredAndBoundTheSymbolsAndSlots) {
  const Config d = parse_config(kMinimal);
  EXPECT_EQ(d.region.max_symbols, 64U);  // twice the configured symbols, at least 64
  EXPECT_EQ(d.region.max_slots, 16U);
  EXPECT_EQ(d.gateway.slot, 15U);
  const auto symbols = [](int n) {
    std::string many = R"({"market":{"symbols":[)";
    for (int i = 0; i < n; ++i) many += (i == 0 ? "\"S" : ",\"S") + std::to_string(i) + "USDT\"";
    return many + "]}}";
  };
  EXPECT_EQ(parse_config(symbols(40)).region.max_symbols, 80U);
  EXPECT_EQ(parse_config(symbols(300)).region.max_symbols, 600U);
  // Past one connection's 1,024 streams (341 symbols of three) the feed opens another; it carries
  // 1,024 symbols at most, as the region does.
  EXPECT_EQ(parse_config(symbols(342)).region.max_symbols, 684U);
  EXPECT_EQ(parse_config(symbols(1000)).region.max_symbols, 1024U);
  expect_error(symbols(1025), "market.symbols",
               "1025 symbols with 3 streams each: the feed carries at most 1024 symbols");
  const Config big = parse_config(
      R"({"region":{"max_symbols":1000,"max_slots":64},"market":{"symbols":["BTCUSDT"]},)"
      R"("slots":{"63":{"reduce_only":true}},"gateway":{}})");
  EXPECT_EQ(big.region.max_symbols, 1000U);
  EXPECT_EQ(big.region.max_slots, 64U);
  EXPECT_TRUE(big.slot(63).reduce_only);
  EXPECT_EQ(big.gateway.slot, 63U);  // the region's last slot unless set
  const Config few =
      parse_config(R"({"region":{"max_slots":4},"market":{"symbols":["BTCUSDT"]},"gateway":{}})");
  EXPECT_EQ(few.gateway.slot, 3U);

  expect_error(R"({"region":{"max_symbols":1025},"market":{"symbols":["BTCUSDT"]}})",
               "region.max_symbols", "1024");
  expect_error(R"({"region":{"max_slots":65},"market":{"symbols":["BTCUSDT"]}})",
               "region.max_slots", "64");
  expect_error(R"({"region":{"max_symbols":1},"market":{"symbols":["BTCUSDT","ETHUSDT"]}})",
               "market.symbols", "holds 1 (region.max_symbols");
  expect_error(R"({"region":{"max_slots":4},"market":{"symbols":["BTCUSDT"]},"slots":{"4":{}}})",
               "slots.4", "0..3 (region.max_slots)");
  expect_error(
      R"({"region":{"max_slots":4},"market":{"symbols":["BTCUSDT"]},"gateway":{"slot":4}})",
      "gateway.slot", "");
}

// ADR 0039: the closed candles each series keeps are the region's, from region.candle_history
// (at least what is asked: the ring's slots are a power of two).
TEST(Config, TheCandleHistoryIsConfiguredAndRoundedUpToAPowerOfTwo) {
  EXPECT_EQ(parse_config(kMinimal).region.candle_history, 512U);
  const auto history = [](const std::string& n) {
    return parse_config(R"({"region":{"candle_history":)" + n +
                        R"(},"market":{"symbols":["BTCUSDT"]}})")
        .region.candle_history;
  };
  EXPECT_EQ(history("1000"), 1024U);
  EXPECT_EQ(history("2048"), 2048U);
  EXPECT_EQ(history("1"), 1U);
  EXPECT_EQ(history("16384"), 16384U);
  expect_error(R"({"region":{"candle_history":16385},"market":{"symbols":["BTCUSDT"]}})",
               "region.candle_history", "16384");
  expect_error(R"({"region":{"candle_history":0},"market":{"symbols":["BTCUSDT"]}})",
               "region.candle_history", "");
}

// ADR 0042: the levels a side of each book are the region's, from region.book_depth, never
// deeper than the snapshots the engine syncs its books from.
TEST(Config, TheBookDepthIsConfiguredWithinTheSnapshotsLevels) {
  EXPECT_EQ(parse_config(kMinimal).region.book_depth, 20U);
  const auto depth = [](const std::string& region, const std::string& market) {
    return parse_config(R"({"region":{)" + region + R"(},"market":{"symbols":["BTCUSDT"])" +
                        market + "}}")
        .region.book_depth;
  };
  EXPECT_EQ(depth(R"("book_depth":1)", ""), 1U);
  EXPECT_EQ(depth(R"("book_depth":500)", ""), 500U);
  EXPECT_EQ(depth(R"("book_depth":1000)", ""), 1000U);  // snapshot_limit's default is 1,000
  EXPECT_EQ(depth(R"("book_depth":100)", R"(,"snapshot_limit":100)"), 100U);
  // Not given: 20, or the snapshot's levels if fewer (USD-M allows snapshots of 5 and 10).
  EXPECT_EQ(depth("", R"(,"snapshot_limit":10)"), 10U);
  EXPECT_EQ(depth("", R"(,"snapshot_limit":100)"), 20U);
  expect_error(R"({"region":{"book_depth":1001},"market":{"symbols":["BTCUSDT"]}})",
               "region.book_depth", "1000");
  expect_error(R"({"region":{"book_depth":0},"market":{"symbols":["BTCUSDT"]}})",
               "region.book_depth", "");
  expect_error(
      R"({"region":{"book_depth":200},"market":{"symbols":["BTCUSDT"],"snapshot_limit":100}})",
      "region.book_depth", "snapshot_limit");
}

// threads.exec.warm_us (the idle exec loop's warm-ups of the order path) and log.order_stages.
TEST(Config, TheExecThreadsWarmUpsAndOrderStagesAreConfigured) {
  const Config d = parse_config(kMinimal);
  EXPECT_EQ(d.exec_thread.warm_us, 20U);
  EXPECT_FALSE(d.log.order_stages);
  const Config c = parse_config(
      R"({"market":{"symbols":["BTCUSDT"]},"threads":{"exec":{"idle":"busy-spin","warm_us":0}},)"
      R"("log":{"order_stages":true}})");
  EXPECT_EQ(c.exec_thread.warm_us, 0U);
  EXPECT_TRUE(c.log.order_stages);
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"threads":{"exec":{"warm_us":1000001}}})",
               "threads.exec.warm_us", "1000000");
  // Only the exec thread warms the order path: the key is unknown elsewhere.
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"threads":{"md":{"warm_us":20}}})",
               "threads.md.warm_us", "");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"log":{"order_stages":1}})", "log.order_stages",
               "");
}

TEST(Config, SlotClaimPoliciesResolveNamesAndIds) {
  const Config c = parse_config(
      R"({"market":{"symbols":["BTCUSDT"]},"slots":{"default":{"users":[1234]},"1":{"users":["root",77],"groups":["root"]}}})");
  EXPECT_EQ(c.slot(0).users, (std::vector<std::uint32_t>{1234}));
  EXPECT_TRUE(c.slot(0).groups.empty());
  EXPECT_EQ(c.slot(1).users, (std::vector<std::uint32_t>{0, 77}));
  EXPECT_EQ(c.slot(1).groups, (std::vector<std::uint32_t>{0}));
  EXPECT_TRUE(parse_config(R"({"market":{"symbols":["BTCUSDT"]}})").slot(5).users.empty());
}

TEST(Config, SlotsAndThreads) {
  const Config c = parse_config(
      R"({"market":{"symbols":["BTCUSDT"]},"slots":{"default":{"trade":false},"3":{"trade":true,"reduce_only":true}},
          "threads":{"exec":{"core":3,"idle":"busy-spin"},"gateway":{"core":1,"idle":"spin-then-yield"}}})");
  EXPECT_FALSE(c.slot(0).trade);
  EXPECT_TRUE(c.slot(3).trade);
  EXPECT_TRUE(c.slot(3).reduce_only);
  EXPECT_FALSE(c.slot(7).trade);
  EXPECT_EQ(c.exec_thread.core, 3);
  EXPECT_EQ(c.exec_thread.idle, cwts::daemon::IdleStrategy::kBusySpin);
  EXPECT_EQ(c.gateway_thread.core, 1);
  EXPECT_EQ(c.gateway_thread.idle, cwts::daemon::IdleStrategy::kSpinThenYield);
}

TEST(Config, ShippedFilesParse) {
  for (const char* f : {"cwtsd.example.json", "demo.json"}) {
    const std::string path = std::string(CWTS_SOURCE_DIR) + "/config/" + f;
    EXPECT_NO_THROW((void)cwts::daemon::load_config(path)) << path;
  }
  const Config ex =
      cwts::daemon::load_config(std::string(CWTS_SOURCE_DIR) + "/config/cwtsd.example.json");
  EXPECT_EQ(ex.venue.kind, cwts::daemon::VenueKind::kBinance);
  EXPECT_EQ(ex.region.hugepages, cwts::daemon::HugepageMode::kRequire);
  EXPECT_EQ(ex.md_thread.idle, cwts::daemon::IdleStrategy::kBusySpin);
}

TEST(Credentials, FromEnvironmentNeverEchoTheSecret) {
  cwts::daemon::VenueConfig v;
  v.api_key_env = "CWTS_TEST_KEY_ENV";
  v.api_secret_env = "CWTS_TEST_SECRET_ENV";
  ::unsetenv("CWTS_TEST_KEY_ENV");
  EXPECT_THROW((void)cwts::daemon::load_credentials(v), ConfigError);
  ::setenv("CWTS_TEST_KEY_ENV", "k-123", 1);
  ::setenv("CWTS_TEST_SECRET_ENV", "s-very-secret", 1);
  const auto c = cwts::daemon::load_credentials(v);
  EXPECT_EQ(c.key, "k-123");
  EXPECT_EQ(c.secret, "s-very-secret");
}

TEST(Credentials, KeyFileMustBeOwnerOnly) {
  const std::string path = ::testing::TempDir() + "/cwtsd_key_" + std::to_string(::getpid());
  {
    std::ofstream out(path);
    out << "the-key\nthe-secret\n";
  }
  cwts::daemon::VenueConfig v;
  v.api_key_file = path;
  ::chmod(path.c_str(), 0644);
  try {
    (void)cwts::daemon::load_credentials(v);
    ADD_FAILURE() << "a world-readable key file was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "venue.api_key_file");
    EXPECT_NE(e.reason().find("chmod 600"), std::string::npos);
    EXPECT_EQ(std::string(e.what()).find("the-secret"), std::string::npos);
  }
  ::chmod(path.c_str(), 0600);
  const auto c = cwts::daemon::load_credentials(v);
  EXPECT_EQ(c.key, "the-key");
  EXPECT_EQ(c.secret, "the-secret");
  ::unlink(path.c_str());
}

// A secret file is opened without following a symbolic link, then checked on the open file (no
// window between the check and the read in which the path could be swapped); the control token's
// file too, and it must be the engine user's.
TEST(Credentials, SecretFilesAreNotFollowedThroughSymlinksAndMustBeOurs) {
  const std::string dir = ::testing::TempDir();
  const std::string real = dir + "/cwtsd_secret_" + std::to_string(::getpid());
  const std::string link = real + ".link";
  {
    std::ofstream out(real);
    out << "the-key\nthe-secret-0123456789\n";
  }
  ::chmod(real.c_str(), 0600);
  ::unlink(link.c_str());
  ASSERT_EQ(::symlink(real.c_str(), link.c_str()), 0);
  cwts::daemon::VenueConfig v;
  v.api_key_file = link;
  expect_refused([&] { return cwts::daemon::load_credentials(v); }, "a key file through a link",
                 "venue.api_key_file", "symbolic link");
  cwts::daemon::ControlConfig cc;
  cc.token_file = link;
  EXPECT_THROW((void)cwts::daemon::load_control_token(cc), ConfigError);
  ::unlink(link.c_str());
  ::unlink(real.c_str());
}

TEST(Credentials, LiveKeysNeverTravelInTheClearOrToAnUnverifiedVenue) {
  ::setenv("CWTS_TEST_KEY_ENV", "k-123", 1);
  ::setenv("CWTS_TEST_SECRET_ENV", "s-very-secret", 1);
  cwts::daemon::VenueConfig v;
  v.api_key_env = "CWTS_TEST_KEY_ENV";
  v.api_secret_env = "CWTS_TEST_SECRET_ENV";
  const auto load = [&] { return cwts::daemon::load_credentials(v); };
  v.rest_url = "http://api.binance.com";
  expect_refused(load, v.rest_url, "venue.rest_url", "in the clear");
  v.rest_url = "https://api.binance.com";
  v.tls_verify = false;
  expect_refused(load, "tls_verify false", "venue.tls_verify", "loopback");
  // On this host (cwts-sim, a local relay) both are allowed.
  v.rest_url = "http://127.0.0.1:18080";
  v.ws_url = "ws://localhost:18080";
  EXPECT_EQ(cwts::daemon::load_credentials(v).key, "k-123");
  v.tls_verify = true;
  v.rest_url = "https://api.binance.com";
  v.ws_url = "wss://stream.binance.com:9443";
  EXPECT_EQ(cwts::daemon::load_credentials(v).key, "k-123");
}

// The control plane's TLS key is a secret like the token: owner-only, not through a link; the
// certificate and key must load and belong together, checked at --check-config.
TEST(Credentials, ControlTlsFilesAreCheckedAndErrorsNameTheFile) {
  const std::string dir = ::testing::TempDir() + "/cwtsd_tls_" + std::to_string(::getpid());
  ::mkdir(dir.c_str(), 0700);
  const auto write = [&](const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = dir + "/" + name;
    std::ofstream(path, std::ios::trunc) << text;
    ::chmod(path.c_str(), mode);
    return path;
  };
  const cwts::test::TestPki pki = cwts::test::make_test_pki("IP:127.0.0.1");
  const cwts::test::TestPki other = cwts::test::make_test_pki("IP:127.0.0.1");
  cwts::daemon::ControlConfig cc;
  cwts::daemon::check_control_tls(cc);                          // no TLS: nothing to check
  cc.tls_cert_file = write("control.crt", pki.leaf_pem, 0644);  // a certificate is public
  cc.tls_key_file = write("control.key", pki.leaf_key_pem, 0600);
  EXPECT_NO_THROW(cwts::daemon::check_control_tls(cc));

  ::chmod(cc.tls_key_file.c_str(), 0640);
  expect_refused([&] { return cwts::daemon::check_control_tls(cc), 0; }, "a group-readable key",
                 "control.tls_key_file", "chmod 600");
  ::chmod(cc.tls_key_file.c_str(), 0600);

  const std::string good_key = cc.tls_key_file;
  cc.tls_key_file = write("garbage.key", "not a key\n", 0600);
  expect_refused([&] { return cwts::daemon::check_control_tls(cc), 0; }, "a garbage key",
                 "control.tls_key_file", cc.tls_key_file);
  cc.tls_key_file = write("other.key", other.leaf_key_pem, 0600);
  expect_refused([&] { return cwts::daemon::check_control_tls(cc), 0; }, "another key",
                 "control.tls_key_file", cc.tls_key_file);
  cc.tls_key_file = dir + "/missing.key";
  expect_refused([&] { return cwts::daemon::check_control_tls(cc), 0; }, "no key",
                 "control.tls_key_file", "missing.key");
  cc.tls_key_file = good_key;
  cc.tls_cert_file = dir + "/missing.crt";
  expect_refused([&] { return cwts::daemon::check_control_tls(cc), 0; }, "no certificate",
                 "control.tls_cert_file", cc.tls_cert_file);
  cc.tls_cert_file = write("garbage.crt", "not a certificate\n", 0644);
  expect_refused([&] { return cwts::daemon::check_control_tls(cc), 0; }, "a garbage certificate",
                 "control.tls_cert_file", cc.tls_cert_file);
  for (const char* f : {"control.crt", "control.key", "garbage.key", "other.key", "garbage.crt"})
    ::unlink((dir + "/" + f).c_str());
  ::rmdir(dir.c_str());
}

TEST(Credentials, TheControlTokenFileMustBeOwnedByTheEngineUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file to another user";
  const std::string path = ::testing::TempDir() + "/cwtsd_token_" + std::to_string(::getpid());
  {
    std::ofstream out(path);
    out << "a-token-of-enough-length\n";
  }
  ::chmod(path.c_str(), 0600);
  cwts::daemon::ControlConfig cc;
  cc.token_file = path;
  EXPECT_EQ(cwts::daemon::load_control_token(cc), "a-token-of-enough-length");
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);  // nobody
  expect_refused([&] { return cwts::daemon::load_control_token(cc); },
                 "a token file of another user", "control.token_file", "not owned");
  ::unlink(path.c_str());
}

// control.tokens_file: one client per line with its scopes; every malformed line is refused with
// the file and line named, never the token.
TEST(Credentials, ControlTokensFileGivesEachClientItsScopes) {
  const std::string path = ::testing::TempDir() + "/cwtsd_tokens_" + std::to_string(::getpid());
  auto write = [&](const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;
    ::chmod(path.c_str(), 0600);
  };
  cwts::daemon::ControlConfig cc;
  EXPECT_TRUE(cwts::daemon::load_control_tokens(cc).empty());  // no file: only the control token
  cc.tokens_file = path;
  write(
      "# name scopes token\n"
      "alice  read,trade:3,trade:5  alice-token-0123456789  # a comment\n"
      "\n"
      "ops admin ops-token-0123456789abc\n"
      "bot trade:* bot-token-0123456789abcd\n");
  const auto t = cwts::daemon::load_control_tokens(cc);
  ASSERT_EQ(t.size(), 3U);
  EXPECT_EQ(t[0].name, "alice");
  EXPECT_EQ(t[0].token, "alice-token-0123456789");
  EXPECT_TRUE(t[0].scopes.can_read());
  EXPECT_FALSE(t[0].scopes.admin);
  EXPECT_TRUE(t[0].scopes.can_trade(3));
  EXPECT_TRUE(t[0].scopes.can_trade(5));
  EXPECT_FALSE(t[0].scopes.can_trade(4));
  EXPECT_TRUE(t[1].scopes.admin && t[1].scopes.can_trade(15) && t[1].scopes.can_read());
  EXPECT_TRUE(t[2].scopes.can_trade(0) && t[2].scopes.can_trade(15) && !t[2].scopes.admin);
  EXPECT_TRUE(t[2].scopes.can_trade(63));  // trade:* is every slot a region can hold
  EXPECT_TRUE(t[2].scopes.can_read());     // a client that may trade reads what it trades on

  const std::pair<const char*, const char*> bad[] = {
      {"alice read\n", "NAME SCOPES TOKEN"},
      {"alice read short\n", "at least 16"},
      {"alice write alice-token-0123456789\n", "unknown scope \"write\""},
      {"alice trade:64 alice-token-0123456789\n", "trade:N with N < 64"},
      {"alice trade:x alice-token-0123456789\n", "unknown scope"},
      {"al/ice read alice-token-0123456789\n", "a name is"},
      {"a read alice-token-0123456789\nb read alice-token-0123456789\n", "same token as a's"},
      {"a read alice-token-0123456789\na read other-token-0123456789\n", "used twice"},
  };
  for (const auto& [text, why] : bad) {
    write(text);
    try {
      (void)cwts::daemon::load_control_tokens(cc);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.key(), "control.tokens_file");
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path + " line"), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find("alice-token"), std::string::npos) << "a token leaked";
    }
  }
  write("alice read alice-token-0123456789\n");
  ::chmod(path.c_str(), 0640);
  expect_refused([&] { return cwts::daemon::load_control_tokens(cc); }, "a group-readable file",
                 "control.tokens_file", "chmod 600");
  ::unlink(path.c_str());
}

}  // namespace

TEST(Config, ControlLimitsAndSlotReleasePolicy) {
  const Config d = parse_config(kMinimal);
  EXPECT_EQ(d.control.max_connections, 64U);
  EXPECT_EQ(d.control.max_message_bytes, 65536U);
  EXPECT_EQ(d.control.max_queued_bytes, 4U << 20);
  EXPECT_FALSE(d.slot(3).cancel_on_release);
  const Config c = parse_config(
      R"({"market":{"symbols":["BTCUSDT"]},"control":{"max_connections":8,"max_message_bytes":4096,)"
      R"("max_queued_bytes":1048576,"remote_poll_us":100,"tokens_file":"/etc/cwts/tokens"},)"
      R"("slots":{"default":{"on_release":"cancel"},"2":{"on_release":"keep"}}})");
  EXPECT_EQ(c.control.max_connections, 8U);
  EXPECT_EQ(c.control.max_message_bytes, 4096U);
  EXPECT_EQ(c.control.max_queued_bytes, 1U << 20);
  EXPECT_EQ(c.control.remote_poll_us, 100U);
  EXPECT_EQ(c.control.tokens_file, "/etc/cwts/tokens");
  EXPECT_TRUE(c.slot(0).cancel_on_release);
  EXPECT_FALSE(c.slot(2).cancel_on_release);
  EXPECT_TRUE(c.slot(9).cancel_on_release);
  const std::string m = R"({"market":{"symbols":["BTCUSDT"]},)";
  expect_error(m + R"("control":{"max_connections":0}})", "control.max_connections", "");
  expect_error(m + R"("control":{"max_message_bytes":10}})", "control.max_message_bytes", "");
  expect_error(m + R"("slots":{"1":{"on_release":"drop"}}})", "slots.1.on_release", "");
}

TEST(Config, IndicatorsAreParsedAndValidated) {
  const Config c = parse_config(
      R"({"market":{"symbols":["BTCUSDT","ETHUSDT"],"timeframes":["1m","1h"]},
          "indicators":[{"name":"ema_fast","function":"ema","timeframe":"1h","params":{"timeperiod":12}},
                        {"name":"bb","function":"BBANDS","timeframe":"1m","params":{"nbdevup":1.5},
                         "symbols":["ethusdt"]},
                        {"name":"obv","function":"OBV","timeframe":"1m"}]})");
  ASSERT_EQ(c.indicators.size(), 3U);
  EXPECT_EQ(c.indicators[0].kind, cwts::ta::Kind::kEma);
  EXPECT_EQ(c.indicators[0].timeframe_s, 3600U);
  EXPECT_EQ(c.indicators[0].params.v[0], 12.0);
  EXPECT_EQ(c.indicators[1].params.v[0], 20.0);  // TA-Lib's default kept
  EXPECT_EQ(c.indicators[1].params.v[1], 1.5);
  EXPECT_EQ(c.indicators[1].symbols, std::vector<std::string>{"ETHUSDT"});
  EXPECT_TRUE(c.market.indicator_history);
}

TEST(Config, BadIndicatorsNameKeyAndReason) {
  const std::string m = R"({"market":{"symbols":["BTCUSDT"],"timeframes":["1m"]},"indicators":)";
  expect_error(m + R"({}})", "indicators", "must be an array");
  expect_error(m + R"([{"name":"x","function":"CDLHAMMER","timeframe":"1m"}]})",
               "indicators[0].function", "is not an indicator");
  expect_error(m + R"([{"name":"x","function":"EMA","timeframe":"4h"}]})",
               "indicators[0].timeframe", "not one of market.timeframes");
  expect_error(m + R"([{"name":"x","function":"EMA","timeframe":"1m","params":{"period":3}}]})",
               "indicators[0].params.period", "is not a parameter of EMA (timeperiod)");
  expect_error(m + R"([{"name":"x","function":"RSI","timeframe":"1m","params":{"timeperiod":1}}]})",
               "indicators[0].params", "RSI: timeperiod = 1 is out of range");
  expect_error(
      m + R"([{"name":"x","function":"EMA","timeframe":"1m","params":{"timeperiod":"5"}}]})",
      "indicators[0].params.timeperiod", "a number");
  expect_error(m + R"([{"name":"x y","function":"EMA","timeframe":"1m"}]})", "indicators[0].name",
               "letters");
  expect_error(m + R"([{"name":"x","function":"EMA","timeframe":"1m","symbols":["ETHUSDT"]}]})",
               "indicators[0].symbols", "not one of market.symbols");
  expect_error(m + R"([{"name":"x","function":"EMA","timeframe":"1m","colour":1}]})",
               "indicators[0].colour", "unknown key");
  expect_error(
      m + R"([{"name":"x","function":"EMA","timeframe":"1m"},{"name":"x","function":"SMA","timeframe":"1m"}]})",
      "indicators[1].name", "used twice");
  expect_error(m + R"([{"name":"a_very_long_bands_name","function":"BBANDS","timeframe":"1m"}]})",
               "indicators[0].name", "longer than 24");
  std::string many = m + "[";
  for (int i = 0; i < 6; ++i) {
    many += std::string(i ? "," : "") + R"({"name":"m)" + std::to_string(i) +
            R"(","function":"MACD","timeframe":"1m"})";
  }
  expect_error(many + "]}", "indicators[5]", "more than 16 indicator values for BTCUSDT");
}

TEST(Config, ControlListen) {
  const Config d = parse_config(kMinimal);
  EXPECT_TRUE(d.control.enabled);
  EXPECT_EQ(d.control.address, "127.0.0.1");
  EXPECT_EQ(d.control.port, 0);  // ephemeral unless configured
  const Config c =
      parse_config(R"({"market":{"symbols":["BTCUSDT"]},"control":{"listen":"127.0.0.1:9464"}})");
  EXPECT_EQ(c.control.port, 9464);
  const Config off =
      parse_config(R"({"market":{"symbols":["BTCUSDT"]},"control":{"enabled":false}})");
  EXPECT_FALSE(off.control.enabled);
  const std::string m = R"({"market":{"symbols":["BTCUSDT"]},"control":)";
  expect_error(m + R"({"listen":"localhost:9464"}})", "control.listen", "not IP:PORT");
  expect_error(m + R"({"listen":"127.0.0.1:70000"}})", "control.listen", "not IP:PORT");
  expect_error(m + R"({"listen":"127.0.0.1"}})", "control.listen", "not IP:PORT");
  expect_error(m + R"({"port":1}})", "control.port", "unknown key");
}

// Every JSON-RPC method needs the token unless the operator opts out by name; the old switch that
// opened reads by default is gone (naming its replacement), not silently ignored.
TEST(Config, ControlReadsNeedTheTokenByDefault) {
  EXPECT_FALSE(parse_config(kMinimal).control.allow_unauthenticated_reads);
  const Config open = parse_config(
      R"({"market":{"symbols":["BTCUSDT"]},"control":{"allow_unauthenticated_reads":true}})");
  EXPECT_TRUE(open.control.allow_unauthenticated_reads);
  const std::string m = R"({"market":{"symbols":["BTCUSDT"]},"control":)";
  expect_error(m + R"({"read_only_open":true}})", "control.read_only_open",
               "allow_unauthenticated_reads");
}

// Plain HTTP is served on loopback only: any other address is refused without TLS, naming the
// reason and the two settings that bring TLS; the opt-out for reads does not change that.
TEST(Config, ControlListenOffLoopbackIsRefusedWithoutTls) {
  const std::string m = R"({"market":{"symbols":["BTCUSDT"]},"control":)";
  expect_error(m + R"({"listen":"0.0.0.0:9464"}})", "control.listen", "control.tls_cert_file");
  expect_error(m + R"({"listen":"0.0.0.0:9464"}})", "control.listen", "control.tls_key_file");
  expect_error(m + R"({"listen":"10.1.2.3:9464"}})", "control.listen", "not a loopback address");
  expect_error(m + R"({"listen":"[::]:9464"}})", "control.listen", "not a loopback address");
  expect_error(m + R"({"listen":"0.0.0.0:9464","allow_unauthenticated_reads":true}})",
               "control.listen", "not a loopback address");
  EXPECT_EQ(parse_config(m + R"({"listen":"[::1]:9464"}})").control.address, "::1");
  EXPECT_EQ(parse_config(m + R"({"listen":"127.0.0.2:9464"}})").control.address, "127.0.0.2");
  // A disabled control plane listens nowhere: its address is not checked.
  EXPECT_FALSE(parse_config(m + R"({"enabled":false,"listen":"0.0.0.0:9464"}})").control.enabled);
}

// TLS: both files or neither; with them any address is served (loopback too), but reads without
// the token stay loopback-only.
TEST(Config, ControlTlsKeysGoTogetherAndOpenOtherAddresses) {
  const std::string m = R"({"market":{"symbols":["BTCUSDT"]},"control":)";
  EXPECT_FALSE(parse_config(kMinimal).control.tls());
  expect_error(m + R"({"tls_cert_file":"/etc/cwtsd/control.crt"}})", "control.tls_key_file",
               "go together");
  expect_error(m + R"({"tls_key_file":"/etc/cwtsd/control.key"}})", "control.tls_cert_file",
               "go together");
  expect_error(m + R"({"tls_cert_file":"/etc/cwtsd/control.crt","tls_key_file":""}})",
               "control.tls_key_file", "go together");
  const std::string tls =
      R"("tls_cert_file":"/etc/cwtsd/control.crt","tls_key_file":"/etc/cwtsd/control.key")";
  const Config any = parse_config(m + R"({"listen":"0.0.0.0:9464",)" + tls + "}}");
  EXPECT_TRUE(any.control.tls());
  EXPECT_EQ(any.control.address, "0.0.0.0");
  EXPECT_EQ(any.control.tls_cert_file, "/etc/cwtsd/control.crt");
  EXPECT_EQ(any.control.tls_key_file, "/etc/cwtsd/control.key");
  EXPECT_EQ(parse_config(m + R"({"listen":"[::]:9464",)" + tls + "}}").control.address, "::");
  EXPECT_TRUE(parse_config(m + R"({"listen":"127.0.0.1:9464",)" + tls + "}}").control.tls());
  EXPECT_TRUE(parse_config(m + "{" + tls + "}}").control.tls());  // loopback, ephemeral port
  expect_error(m + R"({"listen":"10.1.2.3:9464","allow_unauthenticated_reads":true,)" + tls + "}}",
               "control.allow_unauthenticated_reads", "loopback");
  EXPECT_TRUE(
      parse_config(m + R"({"allow_unauthenticated_reads":true,)" + tls + "}}").control.tls());
}

namespace {

TEST(Config, GatewayIsOffUnlessConfiguredAndLoopbackUnlessAllowed) {
  EXPECT_FALSE(parse_config(kMinimal).gateway.enabled);
  const Config c = parse_config(R"({"market":{"symbols":["BTCUSDT"]},"gateway":{}})");
  EXPECT_TRUE(c.gateway.enabled);
  EXPECT_EQ(c.gateway.address, "127.0.0.1");
  EXPECT_EQ(c.gateway.port, 8090);
  EXPECT_EQ(c.gateway.slot, 15U);
  EXPECT_EQ(c.gateway.api_key_env, "CWTS_GATEWAY_API_KEY");
  const Config p =
      parse_config(R"({"market":{"symbols":["BTCUSDT"]},"gateway":{"listen":"[::1]:0","slot":3}})");
  EXPECT_EQ(p.gateway.port, 0);
  EXPECT_EQ(p.gateway.slot, 3U);
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"gateway":{"listen":"0.0.0.0:8090"}})",
               "gateway.listen", "not a loopback address");
  const Config remote = parse_config(
      R"({"market":{"symbols":["BTCUSDT"]},"gateway":{"listen":"0.0.0.0:8090","allow_remote":true}})");
  EXPECT_EQ(remote.gateway.address, "0.0.0.0");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"gateway":{"listen":"localhost"}})",
               "gateway.listen", "is not IP:PORT");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"gateway":{"slot":16}})", "gateway.slot", "");
  expect_error(R"({"market":{"symbols":["BTCUSDT"]},"gateway":{"key":"x"}})", "gateway.key",
               "unknown key");
}

TEST(Config, GatewayCredentialsAreItsOwnAndChecked) {
  cwts::daemon::GatewayConfig g;
  g.api_key_env = "CWTS_TEST_GW_KEY";
  g.api_secret_env = "CWTS_TEST_GW_SECRET";
  ::unsetenv("CWTS_TEST_GW_KEY");
  EXPECT_THROW((void)cwts::daemon::load_gateway_credentials(g), ConfigError);
  ::setenv("CWTS_TEST_GW_KEY", "gwKey123", 1);
  ::setenv("CWTS_TEST_GW_SECRET", "short", 1);
  EXPECT_THROW((void)cwts::daemon::load_gateway_credentials(g), ConfigError);  // secret < 16
  ::setenv("CWTS_TEST_GW_SECRET", "a-long-enough-secret", 1);
  const auto c = cwts::daemon::load_gateway_credentials(g);
  EXPECT_EQ(c.key, "gwKey123");
  ::setenv("CWTS_TEST_GW_KEY", "has space", 1);
  EXPECT_THROW((void)cwts::daemon::load_gateway_credentials(g), ConfigError);
  ::unsetenv("CWTS_TEST_GW_KEY");
  ::unsetenv("CWTS_TEST_GW_SECRET");
}

}  // namespace
