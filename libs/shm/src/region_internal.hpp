// Internal to cwts::shm: what region.cpp and region_trust.cpp share.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cwts/shm/region.hpp"

namespace cwts::shm::detail {

struct KindTraits {
  std::uint64_t magic;
  std::size_t bytes;
  const char* suffix;
  const char* name;
};
[[nodiscard]] KindTraits traits(layout::RegionKind kind);
// Bytes a region of `kind` needs (a market region's from its capacity); what is wrong with a
// market capacity ("" = nothing: every count within 1 and its compiled ceiling).
[[nodiscard]] std::size_t region_bytes(layout::RegionKind kind, const layout::MarketCapacity& cap);
[[nodiscard]] std::string capacity_error(const layout::MarketCapacity& cap);
[[nodiscard]] std::string errno_text(int err);
[[nodiscard]] std::string hex(std::uint64_t v);

// Liveness (region_liveness.cpp). The engine's lock on the whole file open at `fd` (false when
// another descriptor holds it); the files this process holds the lock of, noted while it holds it
// and whether it holds it itself; whether the engine that wrote header `h` of the file open at
// `fd` still runs.
[[nodiscard]] bool take_engine_lock(int fd);
void note_held(dev_t dev, ino_t ino);
void forget_held(dev_t dev, ino_t ino);
[[nodiscard]] bool held_here(dev_t dev, ino_t ino);
[[nodiscard]] bool engine_live(int fd, const layout::RegionHeader& h);

// Trust (region_trust.cpp).
enum class Probe : std::uint8_t { kAbsent, kOk, kUntrusted };
[[nodiscard]] std::vector<uid_t> trusted_owners(const std::string& dir, const RegionOptions& opts);
[[nodiscard]] Probe open_checked(const std::string& path, int flags,
                                 const std::vector<uid_t>& owners, int& fd, struct stat& st,
                                 std::string& why);
void validate_header(const layout::RegionHeader& h, layout::RegionKind kind, std::size_t file_size,
                     const std::string& path, int fd);
[[nodiscard]] gid_t resolve_group(const std::string& group);
void clear_existing(const std::string& dir, const std::string& name, layout::RegionKind kind,
                    const RegionOptions& opts, std::string& blocked);

}  // namespace cwts::shm::detail
