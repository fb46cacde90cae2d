// cwts-shm-layout: prints the shared-memory field table, version and hash (text, JSON or golden).
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "cwts/shm_layout/layout.hpp"

namespace {

void print_golden() {
  std::printf("version %u\nhash 0x%016" PRIx64 "\n", cwts::layout::kLayoutVersion,
              cwts::layout::kLayoutHash);
  for (const auto& f : cwts::layout::kFieldTable) {
    std::printf("%.*s %zu %zu\n", static_cast<int>(f.path.size()), f.path.data(), f.offset, f.size);
  }
}

void print_json() {
  std::printf("{\"version\":%u,\"hash\":\"0x%016" PRIx64
              "\",\"market_bytes\":%zu,\"signals_bytes\":%zu,\"fields\":[",
              cwts::layout::kLayoutVersion, cwts::layout::kLayoutHash,
              cwts::layout::kMarketRegionBytes, cwts::layout::kSignalsRegionBytes);
  bool first = true;
  for (const auto& f : cwts::layout::kFieldTable) {
    std::printf("%s{\"path\":\"%.*s\",\"offset\":%zu,\"size\":%zu}", first ? "" : ",",
                static_cast<int>(f.path.size()), f.path.data(), f.offset, f.size);
    first = false;
  }
  std::printf("]}\n");
}

void print_table() {
  std::printf("CWTS shared-memory layout version %u, hash 0x%016" PRIx64 "\n",
              cwts::layout::kLayoutVersion, cwts::layout::kLayoutHash);
  std::printf("market region %zu bytes, signals region %zu bytes\n\n",
              cwts::layout::kMarketRegionBytes, cwts::layout::kSignalsRegionBytes);
  std::printf("%-44s %10s %10s\n", "field", "offset", "size");
  for (const auto& f : cwts::layout::kFieldTable) {
    std::printf("%-44.*s %10zu %10zu\n", static_cast<int>(f.path.size()), f.path.data(), f.offset,
                f.size);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--golden") == 0) {
    print_golden();
  } else if (argc > 1 && std::strcmp(argv[1], "--json") == 0) {
    print_json();
  } else if (argc > 1) {
    std::fprintf(stderr, "usage: cwts-shm-layout [--json | --golden]\n");
    return 2;
  } else {
    print_table();
  }
  return 0;
}
