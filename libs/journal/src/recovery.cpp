// Journal recovery and snapshots (see recovery.hpp).
#include "cwts/journal/recovery.hpp"

#include <algorithm>
#include <cstring>

namespace cwts::journal {

namespace {

template <class T>
bool take(std::span<const std::byte> p, T& out) {
  if (p.size() != sizeof(T)) return false;
  std::memcpy(&out, p.data(), sizeof(T));
  return true;
}

}  // namespace

Recovered recover(const std::string& path) {
  Recovered r;
  auto find = [&r](std::string_view cid) {
    return std::find_if(r.open.begin(), r.open.end(),
                        [cid](const RecoveredOrder& o) { return o.accepted.cid.view() == cid; });
  };
  r.read = read_journal(path, [&](std::uint16_t type, std::uint64_t, std::span<const std::byte> p) {
    switch (static_cast<RecordType>(type)) {
      case RecordType::kEpoch: {
        EpochRecord e{};
        if (take(p, e)) ++r.epochs;
        return;
      }
      case RecordType::kOrderAccepted: {
        RecoveredOrder o;
        if (!take(p, o.accepted)) return;
        if (auto it = find(o.accepted.cid.view()); it != r.open.end()) r.open.erase(it);
        r.open.push_back(o);
        return;
      }
      case RecordType::kCancelRequested: {
        CancelRequested c{};
        if (!take(p, c)) return;
        if (auto it = find(c.cid.view()); it != r.open.end()) it->cancel_seq = c.cancel_seq;
        return;
      }
      case RecordType::kOrderState: {
        OrderState s{};
        if (!take(p, s)) return;
        if (auto it = find(s.cid.view()); it != r.open.end()) it->state = s;
        return;
      }
      case RecordType::kOrderFinal: {
        OrderFinal f{};
        if (!take(p, f)) return;
        if (auto it = find(f.cid.view()); it != r.open.end()) r.open.erase(it);
        return;
      }
      case RecordType::kOrderLeftOpen: {
        OrderLeftOpen l{};
        if (!take(p, l)) return;
        if (auto it = find(l.cid.view()); it != r.open.end()) it->left_open = true;
        return;
      }
      case RecordType::kPosition: {
        PositionRecord pos{};
        if (take(p, pos)) r.positions[std::string(pos.symbol.view())] = pos;
        return;
      }
    }
    ++r.unknown_records;
  });
  return r;
}

bool write_snapshot(Writer& w, const Recovered& r) {
  for (const auto& [sym, pos] : r.positions) {
    if (w.append(pos) == 0) return false;
  }
  for (const auto& o : r.open) {
    if (w.append(o.accepted) == 0) return false;
    if (o.state.cid.s[0] != '\0' && w.append(o.state) == 0) return false;
    if (o.cancel_seq != 0) {
      CancelRequested c{};
      c.cid = o.accepted.cid;
      c.cancel_seq = o.cancel_seq;
      if (w.append(c) == 0) return false;
    }
    if (o.left_open) {
      OrderLeftOpen l{};
      l.cid = o.accepted.cid;
      if (w.append(l) == 0) return false;
    }
  }
  return true;
}

}  // namespace cwts::journal
