// Journal recovery and snapshots (see recovery.hpp).
#include "cwts/journal/recovery.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <vector>

namespace cwts::journal {

Recovered recover(const std::string& path) {
  Recovered r;
  // Orders in the order they were accepted; an index by client order id (a journal of a busy run
  // holds many orders: each record finds its order in O(1)).
  std::vector<RecoveredOrder> orders;
  std::vector<bool> open;
  std::unordered_map<std::string, std::size_t> by_cid;
  auto find = [&](std::string_view cid) -> RecoveredOrder* {
    const auto it = by_cid.find(std::string(cid));
    return it != by_cid.end() && open[it->second] ? &orders[it->second] : nullptr;
  };
  r.read = read_journal(path, [&](std::uint16_t type, std::uint64_t, std::span<const std::byte> p) {
    switch (static_cast<RecordType>(type)) {
      case RecordType::kEpoch: {
        EpochRecord e{};
        if (payload_as(p, e)) ++r.epochs;
        return;
      }
      case RecordType::kOrderAccepted: {
        RecoveredOrder o;
        if (!payload_as(p, o.accepted)) return;
        r.last_order_ns = std::max(r.last_order_ns, o.accepted.accepted_ns);
        std::string cid(o.accepted.cid.view());
        if (const auto it = by_cid.find(cid); it != by_cid.end()) open[it->second] = false;
        by_cid[std::move(cid)] = orders.size();
        orders.push_back(o);
        open.push_back(true);
        return;
      }
      case RecordType::kCancelRequested: {
        CancelRequested c{};
        if (!payload_as(p, c)) return;
        if (RecoveredOrder* o = find(c.cid.view())) o->cancel_seq = c.cancel_seq;
        return;
      }
      case RecordType::kOrderState: {
        OrderState s{};
        if (!payload_as(p, s)) return;
        if (RecoveredOrder* o = find(s.cid.view())) o->state = s;
        return;
      }
      case RecordType::kOrderFinal: {
        OrderFinal f{};
        if (!payload_as(p, f)) return;
        if (const auto it = by_cid.find(std::string(f.cid.view())); it != by_cid.end()) {
          open[it->second] = false;
          by_cid.erase(it);
        }
        return;
      }
      case RecordType::kOrderLeftOpen: {
        OrderLeftOpen l{};
        if (!payload_as(p, l)) return;
        if (RecoveredOrder* o = find(l.cid.view())) o->left_open = true;
        return;
      }
      case RecordType::kPosition: {
        PositionRecord pos{};
        if (payload_as(p, pos)) r.positions[std::string(pos.symbol.view())] = pos;
        return;
      }
    }
    ++r.unknown_records;
  });
  for (std::size_t i = 0; i < orders.size(); ++i) {
    if (open[i]) r.open.push_back(orders[i]);
  }
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
