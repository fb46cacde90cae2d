// Pipeline: the market-data path shared by live feeds and replay — parse → route by symbol →
// book sync / quotes / trades / klines → sink (shared-memory publisher, replay report, tests).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cwts/md/book_sync.hpp"
#include "cwts/md/capture_writer.hpp"
#include "cwts/md/frame.hpp"
#include "cwts/md/frame_parser.hpp"

namespace cwts::md {

inline constexpr std::size_t kMaxPipelineSymbols = 1024;

// Per-symbol market state. Owned by the pipeline; sinks read it.
struct SymbolState {
  char name[16] = {};
  std::uint8_t name_len = 0;
  std::uint16_t id = 0;  // index in the pipeline (and the shared-memory symbol table)
  BookSync sync;
  std::uint64_t trades = 0;
  std::uint64_t agg_trades = 0;
  std::uint64_t book_tickers = 0;
  std::uint64_t klines = 0;
  std::uint64_t partial_depths = 0;
  std::uint64_t snapshot_refetches = 0;  // snapshots refused as too old / not connecting

  [[nodiscard]] std::string_view name_view() const noexcept { return {name, name_len}; }
};

// Timing of the frame being processed.
struct FrameMeta {
  std::int64_t receive_ns;  // when the frame arrived (capture or socket)
};

// Receives what the pipeline derived from each frame. Called on the md thread; implementations
// must not block. Default implementations do nothing.
class MarketSink {
 public:
  virtual ~MarketSink() = default;
  // The book changed (diff applied or snapshot synced) and is valid.
  virtual void on_book(const SymbolState&, const FrameMeta&, std::int64_t /*exchange_ms*/) {}
  // The book became valid or invalid.
  virtual void on_book_validity(const SymbolState&, bool /*valid*/, const FrameMeta&) {}
  virtual void on_book_ticker(const SymbolState&, const BookTickerMsg&, const FrameMeta&) {}
  virtual void on_trade(const SymbolState&, const TradeMsg&, bool /*aggregate*/, const FrameMeta&) {
  }
  virtual void on_kline(const SymbolState&, const KlineMsg&, const FrameMeta&) {}
  virtual void on_partial_depth(const SymbolState&, const ParsedFrame&, const FrameMeta&) {}
  // The venue announced a disconnect; the feed reconnects and every book resyncs.
  virtual void on_server_shutdown(const FrameMeta&) {}
  // A book needs a REST snapshot (after a gap, a crossed book, or an unusable snapshot).
  virtual void on_snapshot_needed(const SymbolState&) {}
};

// Not thread-safe: one pipeline per md thread. No allocation per frame after warm-up.
class Pipeline {
 public:
  struct Counters {
    std::uint64_t frames = 0;
    std::uint64_t malformed = 0;       // did not parse
    std::uint64_t unroutable = 0;      // parsed, but no symbol to route to
    std::uint64_t unknown_symbol = 0;  // symbol not configured (when symbols are fixed)
    std::uint64_t venue_errors = 0;    // {"code":..} bodies
    std::uint64_t server_shutdowns = 0;
  };

  explicit Pipeline(SyncVenue venue = SyncVenue::kSpot, MarketSink* sink = nullptr);

  // Restricts routing to these symbols (ids in the order given); others count as unknown_symbol.
  // Without it, symbols are added as they appear. Throws std::length_error past the capacity.
  void configure_symbols(std::initializer_list<std::string_view> symbols);
  SymbolState* add_symbol(std::string_view symbol);

  // One frame. `context_symbol` names the symbol of a bare REST snapshot (which carries none):
  // the stream or capture file it came from. Returns the parse result.
  ParseErrc on_frame(std::int64_t receive_ns, std::string_view payload,
                     std::string_view context_symbol = {});

  // A REST depth snapshot fetched for `symbol` (live feeds call this directly).
  SnapshotOutcome on_snapshot(SymbolState& s, const ParsedFrame& f, const FrameMeta& meta);

  // A REST depth snapshot body as received: parsed, recorded (if recording) and applied.
  // Returns kGap with last_error() set if the body does not parse.
  SnapshotOutcome on_snapshot_body(SymbolState& s, std::int64_t receive_ns, std::string_view body);

  // Records every frame and snapshot body from now on (nullptr stops). The writer must outlive
  // the pipeline's use of it.
  void set_recorder(CaptureWriter* recorder) noexcept { recorder_ = recorder; }

  // Reconnect: every book is invalid until its next snapshot.
  void invalidate_all(const FrameMeta& meta);
  // One book invalid until its next snapshot, reported to the sink as invalidate_all does.
  void invalidate(SymbolState& s, const FrameMeta& meta);
  // A serverShutdown frame invalidates every book (the default). A client whose symbols are
  // spread over several connections turns this off and invalidates those of the connection
  // that received it.
  void set_shutdown_invalidates_all(bool on) noexcept { shutdown_invalidates_all_ = on; }

  [[nodiscard]] SymbolState* find(std::string_view symbol) noexcept;
  [[nodiscard]] std::size_t symbol_count() const noexcept { return count_; }
  [[nodiscard]] SymbolState& symbol(std::size_t i) noexcept { return symbols_[i]; }
  [[nodiscard]] const Counters& counters() const noexcept { return counters_; }
  [[nodiscard]] const ParsedFrame& last_frame() const noexcept { return frame_; }
  [[nodiscard]] ParseErrc last_error() const noexcept { return last_error_; }

 private:
  void route(const FrameMeta& meta, std::string_view context_symbol);
  void on_diff(SymbolState& s, const FrameMeta& meta);

  SyncVenue venue_;
  MarketSink* sink_;
  MarketSink null_sink_;
  CaptureWriter* recorder_ = nullptr;
  FrameParser parser_;
  ParsedFrame frame_;
  std::array<SymbolState, kMaxPipelineSymbols> symbols_;
  std::size_t count_ = 0;
  // Name -> id + 1 (0 = empty), open addressing with linear probing at most half full: a frame's
  // symbol is found in about one probe whatever the number of symbols (a scan of the names cost
  // a compare per symbol on every frame). Entries are never removed: ids are not reused.
  static constexpr std::size_t kIndexSize = 2 * kMaxPipelineSymbols;
  static_assert((kIndexSize & (kIndexSize - 1)) == 0, "a power of two: the probe masks");
  std::array<std::uint16_t, kIndexSize> index_{};
  bool fixed_symbols_ = false;
  bool shutdown_invalidates_all_ = true;
  Counters counters_;
  ParseErrc last_error_ = ParseErrc::kOk;
};

}  // namespace cwts::md
