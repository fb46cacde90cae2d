// The market-data pipeline: routing parsed frames to per-symbol books and to the sink.
#include "cwts/md/pipeline.hpp"

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace cwts::md {

namespace {

// FNV-1a over the name's bytes: symbol names are short and differ anywhere.
std::size_t name_hash(std::string_view name) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : name) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return static_cast<std::size_t>(h ^ (h >> 32));
}

}  // namespace

Pipeline::Pipeline(SyncVenue venue, MarketSink* sink)
    : venue_(venue), sink_(sink != nullptr ? sink : &null_sink_) {
  frame_.bids.reserve(8192);
  frame_.asks.reserve(8192);
}

void Pipeline::configure_symbols(std::initializer_list<std::string_view> symbols) {
  count_ = 0;
  index_.fill(0);
  for (auto sym : symbols) add_symbol(sym);
  fixed_symbols_ = true;
}

SymbolState* Pipeline::add_symbol(std::string_view symbol) {
  if (SymbolState* s = find(symbol)) return s;
  if (count_ >= symbols_.size()) {
    throw std::length_error("pipeline: more than " + std::to_string(symbols_.size()) + " symbols");
  }
  if (symbol.empty() || symbol.size() >= sizeof(SymbolState::name)) {
    throw std::invalid_argument("pipeline: bad symbol '" + std::string(symbol) + "'");
  }
  SymbolState& s = symbols_[count_];
  s = SymbolState{};
  std::memcpy(s.name, symbol.data(), symbol.size());
  s.name_len = static_cast<std::uint8_t>(symbol.size());
  s.id = static_cast<std::uint16_t>(count_);
  s.sync = BookSync(venue_);  // buffers reserved here, once per symbol, not per frame
  std::size_t h = name_hash(symbol) & (kIndexSize - 1);
  while (index_[h] != 0) h = (h + 1) & (kIndexSize - 1);
  ++count_;
  index_[h] = static_cast<std::uint16_t>(count_);  // id + 1
  return &s;
}

SymbolState* Pipeline::find(std::string_view symbol) noexcept {
  for (std::size_t h = name_hash(symbol) & (kIndexSize - 1);; h = (h + 1) & (kIndexSize - 1)) {
    const std::uint16_t e = index_[h];
    if (e == 0) return nullptr;
    if (symbols_[e - 1].name_view() == symbol) return &symbols_[e - 1];
  }
}

ParseErrc Pipeline::on_frame(std::int64_t receive_ns, std::string_view payload,
                             std::string_view context_symbol) {
  ++counters_.frames;
  last_error_ = parser_.parse(payload, frame_);
  if (recorder_ != nullptr) {
    // Recorded as received, malformed or not; a bare snapshot goes to its context symbol's file.
    const std::string_view sym =
        frame_.kind == FrameKind::kDepthSnapshot ? context_symbol : frame_.symbol_view();
    recorder_->write(sym, receive_ns, payload);
  }
  if (last_error_ != ParseErrc::kOk) {
    ++counters_.malformed;
    return last_error_;
  }
  route(FrameMeta{receive_ns}, context_symbol);
  return ParseErrc::kOk;
}

void Pipeline::route(const FrameMeta& meta, std::string_view context_symbol) {
  const FrameKind kind = frame_.kind;
  if (kind == FrameKind::kError) {
    ++counters_.venue_errors;
    return;
  }
  if (kind == FrameKind::kSubscriptionReply) return;
  if (kind == FrameKind::kServerShutdown) {
    ++counters_.server_shutdowns;
    sink_->on_server_shutdown(meta);
    if (shutdown_invalidates_all_) invalidate_all(meta);
    return;
  }
  std::string_view sym = frame_.symbol_view();
  if (kind == FrameKind::kDepthSnapshot) sym = context_symbol;
  if (sym.empty()) {
    ++counters_.unroutable;
    return;
  }
  SymbolState* s = find(sym);
  if (s == nullptr) {
    if (fixed_symbols_ || count_ >= symbols_.size()) {
      ++counters_.unknown_symbol;
      return;
    }
    s = add_symbol(sym);
  }
  switch (kind) {
    case FrameKind::kDepthUpdate:
      on_diff(*s, meta);
      break;
    case FrameKind::kDepthSnapshot:
      on_snapshot(*s, frame_, meta);
      break;
    case FrameKind::kPartialDepth:
      ++s->partial_depths;
      sink_->on_partial_depth(*s, frame_, meta);
      break;
    case FrameKind::kBookTicker:
      ++s->book_tickers;
      sink_->on_book_ticker(*s, frame_.book_ticker, meta);
      break;
    case FrameKind::kTrade:
      ++s->trades;
      sink_->on_trade(*s, frame_.trade, false, meta);
      break;
    case FrameKind::kAggTrade:
      ++s->agg_trades;
      sink_->on_trade(*s, frame_.trade, true, meta);
      break;
    case FrameKind::kKline:
      ++s->klines;
      sink_->on_kline(*s, frame_.kline, meta);
      break;
    default:
      break;
  }
}

void Pipeline::on_diff(SymbolState& s, const FrameMeta& meta) {
  const bool was_valid = s.sync.valid();
  const DiffOutcome o = s.sync.on_diff(frame_.depth, frame_.bids, frame_.asks);
  switch (o) {
    case DiffOutcome::kApplied:
      sink_->on_book(s, meta, frame_.depth.event_time_ms);
      break;
    case DiffOutcome::kGap:
    case DiffOutcome::kCrossed:
      if (was_valid) sink_->on_book_validity(s, false, meta);
      sink_->on_snapshot_needed(s);
      break;
    case DiffOutcome::kBuffered:
    case DiffOutcome::kDropped:
      break;
  }
}

SnapshotOutcome Pipeline::on_snapshot(SymbolState& s, const ParsedFrame& f, const FrameMeta& meta) {
  const SnapshotOutcome o = s.sync.on_snapshot(f.depth.last_id, f.bids, f.asks);
  switch (o) {
    case SnapshotOutcome::kSynced:
      sink_->on_book_validity(s, true, meta);
      sink_->on_book(s, meta, f.depth.event_time_ms);
      break;
    case SnapshotOutcome::kTooOld:
    case SnapshotOutcome::kGap:
    case SnapshotOutcome::kCrossed:
      ++s.snapshot_refetches;
      sink_->on_snapshot_needed(s);
      break;
    case SnapshotOutcome::kIgnored:
      break;
  }
  return o;
}

SnapshotOutcome Pipeline::on_snapshot_body(SymbolState& s, std::int64_t receive_ns,
                                           std::string_view body) {
  last_error_ = parser_.parse(body, frame_);
  if (recorder_ != nullptr) recorder_->write(s.name_view(), receive_ns, body);
  if (last_error_ == ParseErrc::kOk && frame_.kind != FrameKind::kDepthSnapshot) {
    last_error_ = ParseErrc::kUnknownEvent;
  }
  if (last_error_ != ParseErrc::kOk) {
    ++counters_.malformed;
    ++s.snapshot_refetches;
    sink_->on_snapshot_needed(s);
    return SnapshotOutcome::kGap;
  }
  return on_snapshot(s, frame_, FrameMeta{receive_ns});
}

void Pipeline::invalidate_all(const FrameMeta& meta) {
  for (std::size_t i = 0; i < count_; ++i) invalidate(symbols_[i], meta);
}

void Pipeline::invalidate(SymbolState& s, const FrameMeta& meta) {
  const bool was_valid = s.sync.valid();
  s.sync.invalidate();
  if (was_valid) sink_->on_book_validity(s, false, meta);
  sink_->on_snapshot_needed(s);
}

}  // namespace cwts::md
