// Seqlock, event ring and record ring: single-thread costs and a writer/reader pair on two threads.
#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>
#include <thread>

#include <benchmark/benchmark.h>

#include "cwts/concurrent/broadcast_ring.hpp"
#include "cwts/concurrent/record_ring.hpp"
#include "cwts/concurrent/seqlock.hpp"
#include "cwts/shm_layout/layout.hpp"

namespace {

namespace cc = cwts::concurrent;
namespace layout = cwts::layout;

// Cache-line-aligned heap storage for the (large) shared structures.
template <typename T>
std::unique_ptr<T, void (*)(T*)> make_aligned() {
  void* p = ::operator new (sizeof(T), std::align_val_t{64});
  std::memset(p, 0, sizeof(T));
  return {static_cast<T*>(p), [](T* t) { ::operator delete (t, std::align_val_t{64}); }};
}

layout::Quote quote(std::int64_t i) {
  layout::Quote q{};
  q.bid_px.raw = i;
  q.ask_px.raw = i + 1;
  q.update_id = static_cast<std::uint64_t>(i);
  return q;
}

void BM_Seqlock_Write(benchmark::State& state) {
  auto lock = make_aligned<cc::Seqlock<layout::Quote>>();
  std::int64_t i = 0;
  for (auto _ : state) {
    lock->store(quote(++i));
    benchmark::ClobberMemory();
  }
  if (lock->load().bid_px.raw != i) state.SkipWithError("last write not visible");
}
BENCHMARK(BM_Seqlock_Write);

void BM_Seqlock_Read(benchmark::State& state) {
  auto lock = make_aligned<cc::Seqlock<layout::Quote>>();
  lock->store(quote(42));
  std::int64_t sum = 0;
  for (auto _ : state) {
    const layout::Quote q = lock->load();
    sum += q.bid_px.raw;
    benchmark::DoNotOptimize(sum);
  }
  if (sum != 42 * static_cast<std::int64_t>(state.iterations())) state.SkipWithError("bad read");
}
BENCHMARK(BM_Seqlock_Read);

// Reads while another thread writes: the cost readers pay under contention. The argument is the
// number of pause instructions between writes (0 = back-to-back stores, a pathological writer
// that starves readers; ~100 is a few million updates per second, a busy market).
void BM_Seqlock_ReadContended(benchmark::State& state) {
  const auto gap = static_cast<int>(state.range(0));
  auto lock = make_aligned<cc::Seqlock<layout::Quote>>();
  lock->store(quote(0));  // every state a reader can see satisfies ask == bid + 1
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    std::int64_t i = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      lock->store(quote(++i));
      for (int k = 0; k < gap; ++k) cc::cpu_relax();
    }
  });
  std::uint64_t retries = 0;
  std::uint64_t torn = 0;
  for (auto _ : state) {
    layout::Quote q{};
    while (!lock->try_load(q)) ++retries;
    torn += q.ask_px.raw != q.bid_px.raw + 1 ? 1 : 0;
    benchmark::DoNotOptimize(q);
  }
  stop = true;
  writer.join();
  if (torn != 0) state.SkipWithError("torn read");
  state.counters["retries_per_read"] =
      static_cast<double>(retries) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Seqlock_ReadContended)->Arg(0)->Arg(100)->UseRealTime();

void BM_EventRing_Publish(benchmark::State& state) {
  auto ring = make_aligned<layout::EventRing>();
  layout::Event ev{};
  for (auto _ : state) {
    ++ev.update_id;
    ring->publish(ev);
  }
  if (ring->last_sequence() != static_cast<std::uint64_t>(state.iterations())) {
    state.SkipWithError("sequence mismatch");
  }
}
BENCHMARK(BM_EventRing_Publish);

// Publish then read one record: the single-hop cost without cross-core transfer.
void BM_EventRing_PublishRead(benchmark::State& state) {
  auto ring = make_aligned<layout::EventRing>();
  cc::BroadcastReader<layout::Event, layout::kEventRingCapacity> reader(*ring);
  layout::Event ev{};
  layout::Event out{};
  std::uint64_t bad = 0;
  for (auto _ : state) {
    ++ev.update_id;
    ring->publish(ev);
    bad += reader.try_read(out) != cc::ReadStatus::kOk || out.update_id != ev.update_id;
  }
  if (bad != 0) state.SkipWithError("read mismatch");
}
BENCHMARK(BM_EventRing_PublishRead);

void BM_RecordRing_PushPop(benchmark::State& state) {
  using Ring = cc::RecordRing<layout::Signal, layout::kSignalRingCapacity>;
  auto ring = make_aligned<Ring>();
  auto cursor = make_aligned<cc::RingCursor>();
  cc::RecordProducer<layout::Signal, layout::kSignalRingCapacity> prod(*ring, *cursor);
  cc::RecordConsumer<layout::Signal, layout::kSignalRingCapacity> cons(*ring, *cursor);
  layout::Signal s{};
  layout::Signal out{};
  std::uint64_t bad = 0;
  for (auto _ : state) {
    ++s.seq;
    bad += prod.try_push(s) != cc::PushStatus::kOk;
    bad += cons.try_pop(out) != cc::PopStatus::kOk || out.seq != s.seq;
  }
  if (bad != 0) state.SkipWithError("push/pop mismatch");
}
BENCHMARK(BM_RecordRing_PushPop);

// Producer thread to consumer thread throughput, records in order.
void BM_RecordRing_Throughput(benchmark::State& state) {
  using Ring = cc::RecordRing<layout::Signal, layout::kSignalRingCapacity>;
  auto ring = make_aligned<Ring>();
  auto cursor = make_aligned<cc::RingCursor>();
  const auto n = static_cast<std::uint64_t>(state.max_iterations);
  std::thread producer([&] {
    cc::RecordProducer<layout::Signal, layout::kSignalRingCapacity> prod(*ring, *cursor);
    layout::Signal s{};
    for (std::uint64_t i = 1; i <= n; ++i) {
      s.seq = i;
      while (prod.try_push(s) != cc::PushStatus::kOk) cc::cpu_relax();
    }
  });
  cc::RecordConsumer<layout::Signal, layout::kSignalRingCapacity> cons(*ring, *cursor);
  layout::Signal out{};
  std::uint64_t expect = 1;
  std::uint64_t bad = 0;
  for (auto _ : state) {
    while (cons.try_pop(out) != cc::PopStatus::kOk) cc::cpu_relax();
    bad += out.seq != expect++;
  }
  producer.join();
  if (bad != 0) state.SkipWithError("out of order");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordRing_Throughput)->Iterations(2'000'000)->UseRealTime();

}  // namespace
