#include "hot_log.hpp"

#include <cstring>
#include <exception>

#include "cwts/log/json_log.hpp"

namespace cwts::daemon {

HotRecord& HotRecord::s(const char* k, const char* text, std::size_t n) noexcept {
  if (count >= fields.size()) return *this;
  HotField& f = fields[count++];
  f.key = k;
  f.kind = HotField::Kind::kText;
  const std::size_t m = n < sizeof f.text - 1 ? n : sizeof f.text - 1;
  std::memcpy(f.text, text, m);
  f.text[m] = '\0';
  return *this;
}

std::size_t HotLog::drain() noexcept {
  std::size_t n = 0;
  std::uint64_t t = tail_.load(std::memory_order_relaxed);
  const std::uint64_t h = head_.load(std::memory_order_acquire);
  for (; t != h; ++t, ++n) {
    const HotRecord& r = ring_[t & (kCapacity - 1)];
    try {
      log::LogFields f;
      for (std::uint8_t k = 0; k < r.count; ++k) {
        const HotField& x = r.fields[k];
        switch (x.kind) {
          case HotField::Kind::kInt:
            f.num(x.key, x.value);
            break;
          case HotField::Kind::kUint:
            f.unum(x.key, static_cast<std::uint64_t>(x.value));
            break;
          case HotField::Kind::kFixed8:
            f.fixed(x.key, x.value, 8);
            break;
          case HotField::Kind::kText:
            f.str(x.key, x.text);
            break;
          case HotField::Kind::kNone:
            break;
        }
      }
      f.num("event_ts_ns", r.ts_ns);
      log::log_event(r.level, r.component, r.event, f);
    } catch (const std::exception&) {
      // Out of memory while formatting: the record is lost, the engine goes on.
    }
  }
  tail_.store(t, std::memory_order_release);
  return n;
}

}  // namespace cwts::daemon
