// Heap allocations counted per thread: operator new is replaced for the whole process
// (alloc_count.cpp, its own translation unit) and counts on the threads that asked it to.
#pragma once

#include <cstdint>

namespace cwts::test {

// Counting on this thread from now on (or not), from zero.
void count_allocations(bool on) noexcept;
// This thread's count since count_allocations(); counting stops.
[[nodiscard]] std::uint64_t take_allocations() noexcept;

}  // namespace cwts::test
