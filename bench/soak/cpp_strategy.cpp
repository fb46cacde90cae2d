// cwts-soak-strategy: the soak's C++ strategy process (bench/soak/soak.py; docs/reliability.md).
// It does what the soak's Python workers do, through the engine's C++ interface instead of the
// bridge: claims a slot from the engine (ADR 0021), reads quotes from the market region, and
// submits resting limit orders, IOC orders at the touch, orders the engine must refuse and cancels
// of its own resting orders, through the intake protocol (cwts/shm/signal_submit.hpp). It follows
// the engine across restarts (a new claim in each engine run, numbering its signals above both its
// own and the slot's last ones) and writes the same JSON lines as the Python workers: "sent" per
// signal pushed, "report" per terminal report (with the engine run it came from), "torn" per
// inconsistent quote, and at the end a latency histogram (8 buckets per octave of ns).
//
//   cwts-soak-strategy --instance I --until UNIX_S --seed S --symbols A,B --out FILE [--drain-s N]
//
// After --until it stops submitting and reads reports until FILE.done exists (the harness stopped
// the engine for good) or --drain-s more seconds have passed.

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../tests/support/strategy_client.hpp"
#include "cwts/cli/cli.hpp"
#include "cwts/engine/validator.hpp"

namespace {

namespace layout = cwts::layout;
using cwts::test::StrategyClient;

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A price (raw units) moved by `frac` of itself and put on the tick grid (down for bids, up for
// asks: further from the touch).
std::int64_t off_touch(std::int64_t px, double frac, std::int64_t tick, bool down) {
  const double moved = static_cast<double>(px) * (1.0 + (down ? -frac : frac));
  const auto ticks = static_cast<std::int64_t>(down ? std::floor(moved / static_cast<double>(tick))
                                                    : std::ceil(moved / static_cast<double>(tick)));
  return std::max<std::int64_t>(tick, ticks * tick);
}

class Worker {
 public:
  Worker(std::string instance, double until, std::uint64_t seed, std::vector<std::string> symbols,
         const std::string& out, double drain_s)
      : instance_(std::move(instance)),
        until_(until),
        drain_until_(until + drain_s),
        rng_(seed),
        symbols_(std::move(symbols)),
        done_path_(out + ".done"),
        out_(std::fopen(out.c_str(), "w")) {
    if (out_ == nullptr) throw std::runtime_error("cannot write " + out);
  }
  ~Worker() {
    if (out_ != nullptr) std::fclose(out_);
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void run() {
    while (now_s() < until_) {
      if (!attached()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      drain();
      submit_one();
      std::uniform_int_distribution<int> pause_us(2000, 20000);
      std::this_thread::sleep_for(std::chrono::microseconds(pause_us(rng_)));
    }
    // Every report of the final stop is read before this process ends.
    while (!std::filesystem::exists(done_path_) && now_s() < drain_until_) {
      if (client_ != nullptr) {
        const bool gone = client_->lease().engine_gone();  // then what it wrote, and let go
        drain();
        if (gone) client_.reset();
      } else {
        (void)attached();  // an engine started again by the harness before its final stop
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (client_ != nullptr) drain();
    std::fprintf(out_, "{\"t\":\"latency\",\"hist\":{\"accept_cpp\":{");
    bool first = true;
    for (const auto& [k, n] : hist_) {
      std::fprintf(out_, "%s\"%d\":%llu", first ? "" : ",", k, static_cast<unsigned long long>(n));
      first = false;
    }
    std::fprintf(out_, "}}}\n");
  }

 private:
  // Attached to a live engine (claiming a slot in a new engine run); false if none is there.
  bool attached() {
    if (client_ != nullptr && !client_->lease().engine_gone()) return true;
    if (client_ != nullptr) {  // the engine stopped or died: its last reports, then let go
      drain();
      client_.reset();
    }
    try {
      client_ = std::make_unique<StrategyClient>(instance_, -1, "soakcpp");
    } catch (const std::exception&) {
      return false;  // not running, starting, stopping: try again
    }
    epoch_ = client_->market_region().header().epoch_ns;
    client_->skip_to(next_seq_);  // above this process's earlier signals and the slot's
    sym_ids_.clear();
    for (const auto& s : symbols_) sym_ids_.push_back(client_->symbol_id(s));
    return true;
  }

  void drain() {
    for (const auto& r : client_->take_reports()) {
      const auto kind = static_cast<layout::ReportKind>(r.kind);
      const auto it = submitted_.find(r.signal_seq);
      if (it != submitted_.end() && it->second.epoch == epoch_ &&
          (kind == layout::ReportKind::kAccepted || kind == layout::ReportKind::kRejected) &&
          !it->second.accepted) {
        const std::int64_t ns = r.ts_ns - it->second.t0;
        ++hist_[static_cast<int>(std::log2(static_cast<double>(std::max<std::int64_t>(ns, 1))) *
                                 8)];
        it->second.accepted = true;
      }
      if (!layout::is_terminal(kind)) continue;
      if (it != submitted_.end()) submitted_.erase(it);
      std::fprintf(out_,
                   "{\"t\":\"report\",\"seq\":%llu,\"kind\":\"%s\",\"reason\":%u,\"cid\":\"%.*s\","
                   "\"epoch\":%llu}\n",
                   static_cast<unsigned long long>(r.signal_seq),
                   cwts::engine::to_string(static_cast<layout::ReportKind>(r.kind)), r.reason,
                   static_cast<int>(r.client_order_id.view().size()),
                   r.client_order_id.view().data(), static_cast<unsigned long long>(epoch_));
    }
  }

  void submit_one() {
    std::uniform_int_distribution<std::size_t> pick(0, symbols_.size() - 1);
    const std::size_t k = pick(rng_);
    const int sym = sym_ids_[k];
    if (sym < 0) return;
    const layout::Quote q = client_->quote(sym);
    if (q.book_valid != 0 && (q.bid_px.raw <= 0 || q.bid_px.raw >= q.ask_px.raw ||
                              q.bid_qty.raw <= 0 || q.ask_qty.raw <= 0)) {
      std::fprintf(
          out_, "{\"t\":\"torn\",\"symbol\":\"%s\",\"what\":\"quote %lld/%lld at %llu\"}\n",
          symbols_[k].c_str(), static_cast<long long>(q.bid_px.raw),
          static_cast<long long>(q.ask_px.raw), static_cast<unsigned long long>(q.update_id));
    }
    if (q.book_valid == 0 || q.bid_px.raw <= 0) return;
    const layout::SymbolInfo info = client_->market().symbol(sym).info.load();
    const std::int64_t tick = std::max<std::int64_t>(1, info.tick_size.raw);
    const std::int64_t step = std::max<std::int64_t>(1, info.step_size.raw);
    // About 20 in the quote asset, on the step grid.
    const double base =
        20.0 / (static_cast<double>(q.bid_px.raw) / std::pow(10.0, info.price_decimals));
    const auto qty = static_cast<std::int64_t>(std::ceil(base * std::pow(10.0, info.qty_decimals) /
                                                         static_cast<double>(step))) *
                     step;
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const double roll = u(rng_);
    const bool buy = u(rng_) < 0.5;
    const auto side = buy ? layout::Side::kBuy : layout::Side::kSell;
    layout::Signal s{};
    const char* what = nullptr;
    if (roll < 0.35) {
      const double frac = 0.005 + 0.025 * u(rng_);
      s = StrategyClient::make(sym, side, layout::OrderType::kLimit, qty,
                               buy ? off_touch(q.bid_px.raw, frac, tick, true)
                                   : off_touch(q.ask_px.raw, frac, tick, false));
      what = "resting";
    } else if (roll < 0.55) {
      s = StrategyClient::make(sym, side, layout::OrderType::kLimit, qty,
                               buy ? q.ask_px.raw : q.bid_px.raw, layout::TimeInForce::kIoc);
      what = "ioc";
    } else if (roll < 0.70) {  // half the bid: outside the price band, refused
      s = StrategyClient::make(sym, layout::Side::kBuy, layout::OrderType::kLimit, qty,
                               off_touch(q.bid_px.raw, 0.5, tick, true));
      what = "refused";
    } else if (!resting_.empty()) {
      std::uniform_int_distribution<std::size_t> r(0, resting_.size() - 1);
      const std::size_t i = r(rng_);
      const auto [ep, target] = resting_[i];
      resting_.erase(resting_.begin() + static_cast<std::ptrdiff_t>(i));
      if (ep != epoch_) return;  // an earlier engine's order: the engine's to settle
      s.type = static_cast<std::uint8_t>(layout::OrderType::kCancel);
      s.target_seq = target;
      what = "cancel";
    } else {
      return;
    }
    s.tag.assign("cpp");
    const std::int64_t t0 = cwts::core::realtime_ns();
    s.created_ns = t0;
    const std::uint64_t seq = client_->next_seq();
    const cwts::shm::SubmitStatus st = client_->send(s);
    if (st == cwts::shm::SubmitStatus::kNotExecuted) client_->skip_to(seq + 1);  // never reused
    next_seq_ = client_->next_seq();
    if (st != cwts::shm::SubmitStatus::kOk) return;  // not sent
    if (std::string_view(what) == "resting") resting_.emplace_back(epoch_, seq);
    if (submitted_.size() < 100000) submitted_[seq] = Pending{t0, epoch_, false};
    std::fprintf(out_, "{\"t\":\"sent\",\"epoch\":%llu,\"seq\":%llu,\"what\":\"%s\"}\n",
                 static_cast<unsigned long long>(epoch_), static_cast<unsigned long long>(seq),
                 what);
  }

  struct Pending {
    std::int64_t t0;
    std::uint64_t epoch;
    bool accepted;
  };

  std::string instance_;
  double until_, drain_until_;
  std::mt19937_64 rng_;
  std::vector<std::string> symbols_;
  std::vector<int> sym_ids_;
  std::filesystem::path done_path_;
  std::FILE* out_;
  std::unique_ptr<StrategyClient> client_;
  std::uint64_t epoch_ = 0;
  std::uint64_t next_seq_ = 1;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> resting_;  // (epoch, seq)
  std::map<std::uint64_t, Pending> submitted_;                    // seq -> when, which run
  std::map<int, std::uint64_t> hist_;                             // signal -> ACCEPTED/REJECTED
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("cwts-soak-strategy: the soak's C++ strategy process (docs/reliability.md)");
  std::string instance, out, symbols;
  double until = 0, drain_s = 180;
  std::uint64_t seed = 1;
  app.add_option("--instance", instance, "The engine's region instance")->required();
  app.add_option("--until", until, "Submit until this time (Unix seconds)")->required();
  app.add_option("--seed", seed, "The random choices' seed");
  app.add_option("--symbols", symbols, "Symbols to trade, comma-separated")->required();
  app.add_option("--out", out, "The JSON-lines file written")->required();
  app.add_option("--drain-s", drain_s, "Longest wait for FILE.done after --until");
  if (const auto rc = cwts::cli::parse(app, argc, argv)) return *rc;
  std::vector<std::string> syms;
  for (std::size_t a = 0; a <= symbols.size();) {
    const std::size_t b = std::min(symbols.find(',', a), symbols.size());
    if (b > a) syms.push_back(symbols.substr(a, b - a));
    a = b + 1;
  }
  if (syms.empty()) return cwts::cli::usage_error(app, "--symbols: no symbol given");
  try {
    Worker(instance, until, seed, syms, out, drain_s).run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cwts-soak-strategy: %s\n", e.what());
    return 1;
  }
  return 0;
}
