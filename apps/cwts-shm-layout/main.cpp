// cwts-shm-layout: prints the shared-memory field and value tables, version and hash (text, JSON or
// golden).
#include <cinttypes>
#include <cstdio>

#include "cwts/cli/cli.hpp"
#include "cwts/shm_layout/layout.hpp"

namespace {

void print_golden() {
  std::printf("version %u\nhash 0x%016" PRIx64 "\n", cwts::layout::kLayoutVersion,
              cwts::layout::kLayoutHash);
  for (const auto& f : cwts::layout::kFieldTable) {
    std::printf("%.*s %zu %zu\n", static_cast<int>(f.path.size()), f.path.data(), f.offset, f.size);
  }
  for (const auto& v : cwts::layout::kValueTable) {
    std::printf("= %.*s %" PRIu64 "\n", static_cast<int>(v.name.size()), v.name.data(), v.value);
  }
}

void print_json() {
  // A market region's size is market_fixed_bytes + symbol_bytes * max_symbols + slot_bytes *
  // max_slots + (candle_series_bytes + candle_slot_bytes * candle_history) * max_symbols *
  // max_timeframes + book_bytes * max_symbols, book_bytes being book_levels_offset +
  // book_level_bytes * book_depth rounded up to 64 (its header's capacities).
  namespace l = cwts::layout;
  std::printf("{\"version\":%u,\"hash\":\"0x%016" PRIx64
              "\",\"market_fixed_bytes\":%zu,\"symbol_bytes\":%zu,\"slot_bytes\":%zu,"
              "\"candle_series_bytes\":%zu,\"candle_slot_bytes\":%zu,\"book_levels_offset\":%zu,"
              "\"book_level_bytes\":32,\"market_default_bytes\":%zu,"
              "\"signals_bytes\":%zu,\"slot_memory_bytes\":%zu,\"fields\":[",
              l::kLayoutVersion, l::kLayoutHash, l::kMarketRegionBytes, sizeof(l::SymbolEntry),
              sizeof(l::SlotEngineSide), sizeof(l::CandleSeries), sizeof(l::CandleSlot),
              l::BookRecord::kLevelsOffset, l::MarketRegion::bytes(l::MarketCapacity{}),
              l::kSignalsRegionBytes, sizeof(l::SignalSlot));
  bool first = true;
  for (const auto& f : cwts::layout::kFieldTable) {
    std::printf("%s{\"path\":\"%.*s\",\"offset\":%zu,\"size\":%zu}", first ? "" : ",",
                static_cast<int>(f.path.size()), f.path.data(), f.offset, f.size);
    first = false;
  }
  std::printf("],\"values\":[");
  first = true;
  for (const auto& v : cwts::layout::kValueTable) {
    std::printf("%s{\"name\":\"%.*s\",\"value\":%" PRIu64 "}", first ? "" : ",",
                static_cast<int>(v.name.size()), v.name.data(), v.value);
    first = false;
  }
  std::printf("]}\n");
}

void print_table() {
  std::printf("CWTS shared-memory layout version %u, hash 0x%016" PRIx64 "\n",
              cwts::layout::kLayoutVersion, cwts::layout::kLayoutHash);
  // The slot memory is not a region: cwtsd hands one to each claim (a sealed memfd, ADR 0021).
  std::printf("market region %zu bytes, signals region %zu bytes, slot memory %zu bytes each\n\n",
              cwts::layout::kMarketRegionBytes, cwts::layout::kSignalsRegionBytes,
              sizeof(cwts::layout::SignalSlot));
  std::printf("%-44s %10s %10s\n", "field", "offset", "size");
  for (const auto& f : cwts::layout::kFieldTable) {
    std::printf("%-44.*s %10zu %10zu\n", static_cast<int>(f.path.size()), f.path.data(), f.offset,
                f.size);
  }
  std::printf("\n%-44s %21s\n", "value", "");
  for (const auto& v : cwts::layout::kValueTable) {
    std::printf("%-44.*s %21" PRIu64 "\n", static_cast<int>(v.name.size()), v.name.data(), v.value);
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool golden = false;
  bool json = false;
  CLI::App app("cwts-shm-layout: the shared-memory layout: field and value tables, version, hash",
               "cwts-shm-layout");
  cwts::cli::setup(app);
  CLI::Option* j = app.add_flag("--json", json, "As JSON, for tools and other languages");
  app.add_flag("--golden", golden, "As tests/layout/layout_golden.txt (the golden file)")
      ->excludes(j);
  if (const auto rc = cwts::cli::parse(app, argc, argv)) return *rc;
  if (golden) {
    print_golden();
  } else if (json) {
    print_json();
  } else {
    print_table();
  }
  return 0;
}
