// ExecEngine's order-path diagnostics and warm-ups (ADR 0040): threads.exec.warm_us keeps the
// order path in the caches while the loop idles; log.order_stages reports where each order's time
// went, at shutdown.
#include <algorithm>
#include <cstring>
#include <span>
#include <vector>

#include "exec/exec_engine.hpp"

namespace cwts::daemon {

// threads.exec.warm_us: an idle pass goes through a new order's request once in a while (built
// and signed, never sent) so the next real order's code and data are in the caches, not evicted
// by the spinning. Measured: cwts-latency-order's "request" stage (docs/benchmarks.md).
void ExecEngine::warm_if_due(std::int64_t now) {
  // (now < warmed_ns_: the wall clock stepped back; warmed now rather than after the step.)
  if (warm_every_ns_ == 0 || stopping_ || (now - warmed_ns_ < warm_every_ns_ && now >= warmed_ns_))
    return;
  warmed_ns_ = now;
  venue_->warm();
}

// log.order_stages: one "order_stage" line per stage over the orders kept (the last
// kStampedOrders), p50 / p90 / p99 / max in ns. Off the hot path (at shutdown); allocates.
void ExecEngine::log_order_stages(std::int64_t now) {
  const std::size_t n =
      static_cast<std::size_t>(std::min<std::uint64_t>(orders_stamped_, order_stamps_.size()));
  if (n == 0) return;
  const std::span<const OrderStamps> kept(order_stamps_.data(), n);
  using Span = std::int64_t (*)(const OrderStamps&);
  struct Stage {
    const char* name;
    Span span;
    bool written_only;  // the order's request was written during its place()
  };
  static constexpr Stage kStages[] = {
      {"pickup", [](const OrderStamps& t) { return t.picked - t.created; }, false},
      {"checks", [](const OrderStamps& t) { return t.checked - t.picked; }, false},
      {"record", [](const OrderStamps& t) { return t.handed - t.checked; }, false},
      {"request", [](const OrderStamps& t) { return t.written - t.handed; }, true},
      {"write_call", [](const OrderStamps& t) { return t.returned - t.written; }, true},
      {"signal_to_write", [](const OrderStamps& t) { return t.written - t.created; }, true},
  };
  std::vector<std::int64_t> v;
  v.reserve(n);
  for (const Stage& stage : kStages) {
    v.clear();
    for (const OrderStamps& t : kept) {
      if (!stage.written_only || t.written != 0) v.push_back(stage.span(t));
    }
    if (v.empty()) continue;
    std::sort(v.begin(), v.end());
    const auto at = [&v](double q) {
      return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
    };
    log_.push(HotRecord{now, spdlog::level::info, "exec", "order_stage"}
                  .s("stage", stage.name, std::strlen(stage.name))
                  .u("orders", v.size())
                  .i("p50_ns", at(0.5))
                  .i("p90_ns", at(0.9))
                  .i("p99_ns", at(0.99))
                  .i("max_ns", v.back()));
  }
}

}  // namespace cwts::daemon
