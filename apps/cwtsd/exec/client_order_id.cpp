#include "exec/client_order_id.hpp"

#include <cstring>

namespace cwts::daemon {

namespace {

constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
constexpr std::uint64_t kEpochMod = 78'364'164'096ULL;  // 36^7

void base36_fixed(std::uint64_t v, int width, char* out) noexcept {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = kDigits[v % 36];
    v /= 36;
  }
}

int digit36(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::size_t make_client_order_id(std::uint64_t epoch_ns, std::uint32_t slot, std::uint64_t seq,
                                 char* out) noexcept {
  out[0] = 'c';
  out[1] = 'w';
  base36_fixed((epoch_ns / 1'000'000) % kEpochMod, 7, out + 2);
  base36_fixed(slot, 2, out + 9);
  char tmp[16];
  int n = 0;
  do {
    tmp[n++] = kDigits[seq % 36];
    seq /= 36;
  } while (seq != 0);
  for (int i = 0; i < n; ++i) out[11 + i] = tmp[n - 1 - i];
  out[11 + n] = '\0';
  return static_cast<std::size_t>(11 + n);
}

bool parse_client_order_id(std::string_view cid, std::uint64_t epoch_ns, std::uint32_t& slot,
                           std::uint64_t& seq) noexcept {
  if (cid.size() < 12 || cid.size() > 24 || cid[0] != 'c' || cid[1] != 'w') return false;
  char epoch[7];
  base36_fixed((epoch_ns / 1'000'000) % kEpochMod, 7, epoch);
  if (std::memcmp(epoch, cid.data() + 2, 7) != 0) return false;
  std::uint64_t s = 0, q = 0;
  for (std::size_t i = 9; i < 11; ++i) {
    const int d = digit36(cid[i]);
    if (d < 0) return false;
    s = s * 36 + static_cast<std::uint64_t>(d);
  }
  for (std::size_t i = 11; i < cid.size(); ++i) {
    const int d = digit36(cid[i]);
    if (d < 0) return false;
    q = q * 36 + static_cast<std::uint64_t>(d);
  }
  slot = static_cast<std::uint32_t>(s);
  seq = q;
  return true;
}

}  // namespace cwts::daemon
