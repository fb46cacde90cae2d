// Heap allocations counted per thread: operator new is replaced for the whole process
// (alloc_count.cpp, its own translation unit) and counts on the threads that asked it to.
#pragma once

#include <cstdint>
#include <string>

namespace cwts::test {

// Counting on this thread from now on (or not), from zero.
void count_allocations(bool on) noexcept;
// This thread's count since count_allocations(); counting stops.
[[nodiscard]] std::uint64_t take_allocations() noexcept;
// Whether a heap allocation made now is counted (a test's zero means nothing otherwise): false
// if operator new is not the one of alloc_count.cpp. Counting stops.
// (Inline: compiled in alloc_count.cpp, GCC takes its free() for a mismatched delete.)
[[nodiscard]] inline bool allocations_are_counted() {
  count_allocations(true);
  // Past the short-string room; a volatile pointer, so the pair cannot be optimised away.
  std::string* volatile p = new std::string(64, 'x');
  const std::uint64_t n = take_allocations();
  delete p;
  return n >= 2;
}

}  // namespace cwts::test
