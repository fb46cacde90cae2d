// Memory for one connection's asynchronous operations, so that writing a request and reading its
// answer, or reading a frame, allocate nothing once the connection exists (the hot paths do not
// allocate, STYLE.md): the venue client's requests, the feed's market data frames.
//
// Asio and Beast allocate each operation's state (the socket's send or receive operation that
// holds the composed write or read) through the completion handler's associated allocator. A
// handler wrapped by with_slots() takes that memory from its connection's few fixed slots; a
// request larger than a slot, or one arriving while every slot is in use, falls back to operator
// new, which is correct, only not free (counted: spilled(), the venue client's handler_spills).
// The stream must be on the io_context's own executor (TcpStream, ws_conn.hpp): through the
// type-erased any_io_executor, Boost 1.74 wraps every completion in a function object of its own,
// allocated whatever the handler's allocator.
//
// Lifetime: an operation can outlive its connection (pending when the client is destroyed, the
// io_context destroying it later). Every wrapped handler holds the slots by shared_ptr, and Asio
// frees an operation's memory while a moved-out copy of its handler is still alive, so the slots
// outlive every allocation made from them. Single-threaded: one io_context thread, as the client.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace cwts::net {

// Under AddressSanitizer, memory marked unusable (poisoned) until it is handed out again; nothing
// otherwise.
inline void poison(void* p, std::size_t n) noexcept {
#if defined(__SANITIZE_ADDRESS__)
  __asan_poison_memory_region(p, n);
#else
  (void)p, (void)n;
#endif
}
inline void unpoison(void* p, std::size_t n) noexcept {
#if defined(__SANITIZE_ADDRESS__)
  __asan_unpoison_memory_region(p, n);
#else
  (void)p, (void)n;
#endif
}

class HandlerSlots {
 public:
  // A write and a read at a time, and an aborted one's memory until its handler runs. 2 KiB: a
  // WebSocket session's operations need more than 1 KiB (tests/venue: handler_spills stays 0).
  static constexpr std::size_t kSlots = 4;
  static constexpr std::size_t kSlotBytes = 2048;

  // A free slot is poisoned under AddressSanitizer: an operation used after it was freed is
  // reported there as it would be on the heap.
  HandlerSlots() noexcept {
    for (Slot& s : slots_) poison(s.bytes, kSlotBytes);
  }
  ~HandlerSlots() {
    for (Slot& s : slots_) unpoison(s.bytes, kSlotBytes);
  }
  HandlerSlots(const HandlerSlots&) = delete;
  HandlerSlots& operator=(const HandlerSlots&) = delete;

  void* allocate(std::size_t n) {
    if (n <= kSlotBytes) {
      for (Slot& s : slots_) {
        if (!s.used) {
          s.used = true;
          unpoison(s.bytes, n);
          return s.bytes;
        }
      }
    }
    ++spilled_;
    return ::operator new(n);
  }
  void deallocate(void* p) noexcept {
    for (Slot& s : slots_) {
      if (p == static_cast<void*>(s.bytes)) {
        s.used = false;
        poison(s.bytes, kSlotBytes);
        return;
      }
    }
    ::operator delete(p);
  }
  // Allocations that did not fit the slots (too large, or all in use).
  [[nodiscard]] std::size_t spilled() const noexcept { return spilled_; }

 private:
  struct Slot {
    alignas(std::max_align_t) unsigned char bytes[kSlotBytes];
    bool used = false;
  };
  std::array<Slot, kSlots> slots_{};
  std::size_t spilled_ = 0;
};

// The allocator Asio and Beast find on a wrapped handler (associated_allocator).
template <class T>
class SlotAllocator {
 public:
  using value_type = T;
  explicit SlotAllocator(HandlerSlots* s) noexcept : s_(s) {}
  template <class U>
  SlotAllocator(const SlotAllocator<U>& o) noexcept : s_(o.slots()) {}  // NOLINT: rebinding
  T* allocate(std::size_t n) {
    // The slots and operator new both give max_align_t's alignment; no operation asks for more.
    static_assert(alignof(T) <= alignof(std::max_align_t));
    return static_cast<T*>(s_->allocate(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t) noexcept { s_->deallocate(p); }
  [[nodiscard]] HandlerSlots* slots() const noexcept { return s_; }
  template <class U>
  bool operator==(const SlotAllocator<U>& o) const noexcept {
    return s_ == o.slots();
  }

 private:
  HandlerSlots* s_;
};

// A completion handler whose operations' memory comes from `slots`.
template <class F>
class SlotHandler {
 public:
  using allocator_type = SlotAllocator<void>;
  SlotHandler(std::shared_ptr<HandlerSlots> slots, F f)
      : slots_(std::move(slots)), f_(std::move(f)) {}
  [[nodiscard]] allocator_type get_allocator() const noexcept {
    return allocator_type(slots_.get());
  }
  template <class... Args>
  void operator()(Args&&... args) {
    f_(std::forward<Args>(args)...);
  }

 private:
  std::shared_ptr<HandlerSlots> slots_;
  F f_;
};

template <class F>
SlotHandler<std::decay_t<F>> with_slots(const std::shared_ptr<HandlerSlots>& slots, F&& f) {
  return SlotHandler<std::decay_t<F>>(slots, std::forward<F>(f));
}

}  // namespace cwts::net
