// The descriptor every CWTS region starts with; readers check it before touching anything else.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cwts/shm_layout/types.hpp"

namespace cwts::layout {

// ASCII "CWTSMKT1" / "CWTSSIG1", little-endian.
inline constexpr std::uint64_t kMarketMagic = 0x31544B4D53545743ULL;
inline constexpr std::uint64_t kSignalsMagic = 0x3147495353545743ULL;

// RegionHeader, 256 bytes. Everything but the last line is written once by the engine while the
// region is still invisible (magic == 0); magic is stored last with release order.
//
//  0      8      16     24     32     40     48     56     64
//  +------+------+------+------+------+------+------+------+
//  |magic |ver|hs|layout_hash  |region_size  |kind|pgKiB|pid|flg|  0  (identity)
//  +------+------+------+------+------+------+------+------+
//  | epoch_ns    | instance[32]                            |        48
//  +------+------+------+------+------+------+------+------+
//  | capacities: 10 x u32                     |start|rsvd|        88
//  +------+------+------+------+------+------+------+------+
//  | heartbeat_ns| state      | reserved (engine, live)    |       192
//  +------+------+------+------+------+------+------+------+
struct alignas(64) RegionHeader {
  // --- identity: written once at creation, before magic ---
  std::uint64_t magic;           //   0
  std::uint32_t layout_version;  //   8
  std::uint32_t header_size;     //  12
  std::uint64_t layout_hash;     //  16
  std::uint64_t region_size;     //  24  bytes of the mapped file
  std::uint32_t region_kind;     //  32  RegionKind
  std::uint32_t page_size_kib;   //  36  4 (/dev/shm) or 2048 (hugetlbfs)
  std::int32_t engine_pid;       //  40
  std::uint32_t flags;           //  44  kFlagLocked, kFlagHugePages, kFlagEngineLock
  std::uint64_t epoch_ns;        //  48  engine start, CLOCK_REALTIME ns: changes on restart
  FixedString<32> instance;      //  56
  // capacities: the market region's own (ADR 0035, 0039, 0042) or compiled constants, for tools
  // and cross-checks
  std::uint32_t max_symbols;           //  88
  std::uint32_t book_depth;            //  92  levels a side of each book (ADR 0042)
  std::uint32_t event_ring_capacity;   //  96
  std::uint32_t max_timeframes;        // 100
  std::uint32_t candle_history;        // 104
  std::uint32_t max_indicators;        // 108
  std::uint32_t max_slots;             // 112
  std::uint32_t signal_ring_capacity;  // 116
  std::uint32_t report_ring_capacity;  // 120
  std::uint32_t max_assets;            // 124
  std::uint64_t engine_start_ticks;    // 128  /proc/PID/stat starttime (engine's namespace)
  std::uint8_t reserved0[56];          // 136

  // --- live: written by the engine's ctl/heartbeat path while it runs ---
  alignas(64) std::uint64_t heartbeat_ns;  // 192  CLOCK_REALTIME ns, refreshed about every 100 ms
  std::uint64_t state;                     // 200  RegionState
  std::uint8_t reserved1[48];              // 208
};

inline constexpr std::uint32_t kFlagLocked = 1U << 0;     // pages are mlock'ed
inline constexpr std::uint32_t kFlagHugePages = 1U << 1;  // backed by hugetlbfs
// The engine holds an OFD write lock (fcntl F_OFD_SETLK, F_WRLCK, whole file) on the region file
// for its lifetime: a reader in any PID namespace asks F_OFD_GETLK for F_RDLCK; a conflict means
// the engine runs (docs/adr/0027-liveness-without-a-shared-pid-namespace.md).
inline constexpr std::uint32_t kFlagEngineLock = 1U << 2;

static_assert(sizeof(RegionHeader) == 256);
static_assert(offsetof(RegionHeader, magic) == 0);
static_assert(offsetof(RegionHeader, layout_version) == 8);
static_assert(offsetof(RegionHeader, layout_hash) == 16);
static_assert(offsetof(RegionHeader, region_size) == 24);
static_assert(offsetof(RegionHeader, engine_pid) == 40);
static_assert(offsetof(RegionHeader, epoch_ns) == 48);
static_assert(offsetof(RegionHeader, instance) == 56);
static_assert(offsetof(RegionHeader, max_symbols) == 88);
static_assert(offsetof(RegionHeader, max_assets) == 124);
static_assert(offsetof(RegionHeader, engine_start_ticks) == 128);
static_assert(offsetof(RegionHeader, heartbeat_ns) == 192);
static_assert(offsetof(RegionHeader, state) == 200);

}  // namespace cwts::layout
