// HotLog: how a hot thread (md, exec) logs without formatting, allocating, locking or making a
// system call. It writes a fixed-size record — pointers to string literals and raw integers — into
// a single-producer/single-consumer ring; the ctl thread drains the ring and formats the JSON lines
// (cwts::log). A full ring drops the record and counts it: logging never stalls trading.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include <spdlog/common.h>

#include "cwts/core/money.hpp"

namespace cwts::daemon {

struct HotField {
  enum class Kind : std::uint8_t { kNone, kInt, kUint, kFixed8, kText };
  const char* key = nullptr;  // a string literal
  Kind kind = Kind::kNone;
  std::int64_t value = 0;
  char text[24] = {};  // kText: copied, NUL-terminated (symbols, client order ids)
};

struct HotRecord {
  std::int64_t ts_ns = 0;  // CLOCK_REALTIME when the event happened
  spdlog::level::level_enum level = spdlog::level::info;
  const char* component = "";  // string literals only
  const char* event = "";
  std::array<HotField, 6> fields{};
  std::uint8_t count = 0;

  HotRecord& i(const char* k, std::int64_t v) noexcept { return add(k, HotField::Kind::kInt, v); }
  HotRecord& u(const char* k, std::uint64_t v) noexcept {
    return add(k, HotField::Kind::kUint, static_cast<std::int64_t>(v));
  }
  // A price, quantity, notional or amount, logged as an exact decimal string.
  template <class Tag>
  HotRecord& fx(const char* k, core::Fixed8<Tag> v) noexcept {
    return add(k, HotField::Kind::kFixed8, v.raw);
  }
  HotRecord& s(const char* k, const char* text, std::size_t n) noexcept;

 private:
  HotRecord& add(const char* k, HotField::Kind kind, std::int64_t v) noexcept {
    if (count < fields.size()) fields[count++] = HotField{k, kind, v, {}};
    return *this;
  }
};

class HotLog {
 public:
  static constexpr std::size_t kCapacity = 4096;  // power of two

  // Producer (one thread). False (and counted) when the ring is full.
  bool push(const HotRecord& r) noexcept {
    const std::uint64_t h = head_.load(std::memory_order_relaxed);
    if (h - tail_.load(std::memory_order_acquire) >= kCapacity) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    ring_[h & (kCapacity - 1)] = r;
    head_.store(h + 1, std::memory_order_release);
    return true;
  }
  // Consumer (one thread): formats and logs every queued record; returns how many.
  std::size_t drain() noexcept;
  [[nodiscard]] std::uint64_t dropped() const noexcept {
    return dropped_.load(std::memory_order_relaxed);
  }

 private:
  alignas(64) std::atomic<std::uint64_t> head_{0};
  alignas(64) std::atomic<std::uint64_t> tail_{0};
  alignas(64) std::atomic<std::uint64_t> dropped_{0};
  std::array<HotRecord, kCapacity> ring_{};
};

}  // namespace cwts::daemon
