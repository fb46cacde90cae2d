#include "fast_submit.hpp"

#include <limits>
#include <optional>

namespace cwts_bridge {

namespace layout = cwts::layout;

namespace {

// The text of an exact str (not a subclass), or nullopt.
std::optional<std::string_view> text(nb::handle h) {
  if (!PyUnicode_CheckExact(h.ptr())) return std::nullopt;
  Py_ssize_t n = 0;
  const char* p = PyUnicode_AsUTF8AndSize(h.ptr(), &n);
  if (p == nullptr) {
    PyErr_Clear();
    return std::nullopt;
  }
  return std::string_view(p, static_cast<std::size_t>(n));
}

// An exact int that fits, or nullopt.
std::optional<std::int64_t> integer(nb::handle h) {
  if (!PyLong_CheckExact(h.ptr())) return std::nullopt;
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(h.ptr(), &overflow);
  if (overflow != 0 || (v == -1 && PyErr_Occurred() != nullptr)) {
    PyErr_Clear();
    return std::nullopt;
  }
  return static_cast<std::int64_t>(v);
}

}  // namespace

std::optional<std::int64_t> amount_units(nb::handle h, int decimals, std::int64_t increment,
                                         RoundMode mode) {
  if (PyFloat_CheckExact(h.ptr())) {
    return fast_units(PyFloat_AS_DOUBLE(h.ptr()), decimals, increment, mode);
  }
  if (const auto v = integer(h)) return fast_units(*v, decimals, increment, mode);
  return std::nullopt;
}

bool decode_submit(nb::handle symbol, nb::handle side, nb::handle qty, nb::handle price,
                   nb::handle type, nb::handle tif, nb::handle ttl_ms, nb::handle tag,
                   nb::handle reduce_only, nb::handle round, FastSubmit& out) {
  out.symbol = symbol;
  out.qty = qty;
  out.price = price;
  const auto sd = text(side);
  if (sd == "buy") {
    out.side = static_cast<std::uint8_t>(layout::Side::kBuy);
  } else if (sd == "sell") {
    out.side = static_cast<std::uint8_t>(layout::Side::kSell);
  } else {
    return false;
  }
  const auto ty = text(type);
  const bool market = ty == "market";
  if (ty == "limit") {
    out.type = static_cast<std::uint8_t>(layout::OrderType::kLimit);
  } else if (market) {
    out.type = static_cast<std::uint8_t>(layout::OrderType::kMarket);
  } else if (ty == "limit_maker") {
    out.type = static_cast<std::uint8_t>(layout::OrderType::kLimitMaker);
  } else {
    return false;
  }
  if (market != price.is_none()) return false;  // a market order takes no price; others need one
  out.tif = 0;
  if (ty == "limit") {
    const auto t = text(tif);
    if (t == "GTC") {
      out.tif = static_cast<std::uint8_t>(layout::TimeInForce::kGtc);
    } else if (t == "IOC") {
      out.tif = static_cast<std::uint8_t>(layout::TimeInForce::kIoc);
    } else if (t == "FOK") {
      out.tif = static_cast<std::uint8_t>(layout::TimeInForce::kFok);
    } else {
      return false;
    }
  }
  const auto ttl = integer(ttl_ms);
  if (!ttl || *ttl < 0 || *ttl > std::numeric_limits<std::uint32_t>::max()) return false;
  out.ttl_ms = static_cast<std::uint32_t>(*ttl);
  if (tag.is_none()) {
    out.tag = {};
  } else if (const auto t = text(tag)) {
    out.tag = *t;
  } else {
    return false;
  }
  if (reduce_only.ptr() != Py_True && reduce_only.ptr() != Py_False) return false;
  out.reduce_only = reduce_only.ptr() == Py_True;
  if (round.is_none()) {
    out.mode = RoundMode::kExact;
  } else if (const auto r = text(round); r == "down") {
    out.mode = RoundMode::kDown;
  } else if (r == "nearest") {
    out.mode = RoundMode::kNearest;
  } else {
    return false;
  }
  return true;
}

bool fill_signal(const FastSubmit& f, const std::vector<SymbolMeta>& syms, layout::Signal& s) {
  const auto name = text(f.symbol);
  if (!name) return false;
  std::size_t id = 0;
  while (id < syms.size() && syms[id].name != *name) ++id;
  if (id == syms.size()) return false;
  const SymbolMeta& m = syms[id];
  const auto q = amount_units(f.qty, m.qty_dec, m.step, f.mode);
  if (!q) return false;
  std::int64_t p = 0;
  if (!f.price.is_none()) {
    const auto v = amount_units(f.price, m.px_dec, m.tick, f.mode);
    if (!v) return false;
    p = *v;
  }
  s = layout::Signal{};
  s.symbol = static_cast<std::uint16_t>(id);
  s.side = f.side;
  s.type = f.type;
  s.tif = f.tif;
  s.flags = f.reduce_only ? layout::kSignalReduceOnly : 0;
  s.price.raw = p;
  s.qty.raw = *q;
  s.ttl_ms = f.ttl_ms;
  s.tag.assign(f.tag);
  return true;
}

}  // namespace cwts_bridge
