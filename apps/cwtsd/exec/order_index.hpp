// OrderIndex: (slot, seq) -> live order number, for the exec thread's lookups of a signal's order
// (cancels, venue events). Fixed size, no allocation after construction; exec thread only.
//
// Linear probing with backward-shift deletion: erase() moves later entries of the same probe run
// back into the freed cell, so the table never holds tombstones and a probe always ends at an
// empty cell within the run of live entries. (The first version marked erased cells as
// tombstones and never reclaimed them: after ~280k orders no empty cell was left and a lookup of an
// unknown key probed forever, a livelock of the exec thread.) Keys are stored in the cells, so a
// probe does not touch the order table.
//
// Capacity: a power of two larger than the most entries ever live at once (the exec thread
// sizes it at 4x its order table, keeping probe runs short).
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace cwts::daemon {

class OrderIndex {
 public:
  explicit OrderIndex(std::size_t capacity) : cells_(capacity), mask_(capacity - 1) {
    assert(capacity >= 2 && (capacity & (capacity - 1)) == 0);
  }

  // Inserts a key that is not present. The caller keeps fewer live entries than the capacity;
  // slot < 2^32 - 1.
  void insert(std::uint32_t slot, std::uint64_t seq, std::uint32_t value) noexcept {
    std::size_t h = home(slot, seq);
    while (cells_[h].used()) h = (h + 1) & mask_;
    cells_[h] = Cell{seq, value, slot + 1};
    ++size_;
  }

  [[nodiscard]] std::optional<std::uint32_t> find(std::uint32_t slot,
                                                  std::uint64_t seq) const noexcept {
    for (std::size_t h = home(slot, seq); cells_[h].used(); h = (h + 1) & mask_) {
      if (cells_[h].seq == seq && cells_[h].tag == slot + 1) return cells_[h].value;
    }
    return std::nullopt;
  }

  // Removes the key if present; true if it was.
  bool erase(std::uint32_t slot, std::uint64_t seq) noexcept {
    std::size_t hole = home(slot, seq);
    for (;; hole = (hole + 1) & mask_) {
      if (!cells_[hole].used()) return false;
      if (cells_[hole].seq == seq && cells_[hole].tag == slot + 1) break;
    }
    // Backward shift: an entry further along the run moves into the hole unless its home lies
    // cyclically in (hole, j] (then it is already reachable from its home without the hole).
    for (std::size_t j = (hole + 1) & mask_; cells_[j].used(); j = (j + 1) & mask_) {
      const std::size_t k = home(cells_[j].tag - 1, cells_[j].seq);
      const bool reachable = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j);
      if (reachable) continue;
      cells_[hole] = cells_[j];
      hole = j;
    }
    cells_[hole] = Cell{};
    --size_;
    return true;
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return cells_.size(); }

 private:
  struct Cell {
    std::uint64_t seq = 0;
    std::uint32_t value = 0;
    std::uint32_t tag = 0;  // slot + 1; 0 = empty
    [[nodiscard]] bool used() const noexcept { return tag != 0; }
  };
  static_assert(sizeof(Cell) == 16);

  [[nodiscard]] std::size_t home(std::uint32_t slot, std::uint64_t seq) const noexcept {
    std::uint64_t k = (seq * 0x9E3779B97F4A7C15ULL) ^ (static_cast<std::uint64_t>(slot) << 59);
    k ^= k >> 29;
    return static_cast<std::size_t>(k) & mask_;
  }

  std::vector<Cell> cells_;
  std::size_t mask_;
  std::size_t size_ = 0;
};

}  // namespace cwts::daemon
