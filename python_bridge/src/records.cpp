// cwts_bridge._native: shared-memory records (events, execution reports) as the tuples Python
// receives, prices and quantities scaled to floats at the symbol's decimals.
#include "records.hpp"

#include <cmath>
#include <string>
#include <vector>

namespace layout = cwts::layout;

namespace cwts_bridge {

double to_f(std::int64_t raw, int decimals) {
  return static_cast<double>(raw) / std::pow(10.0, decimals);
}

nb::tuple report_tuple(const layout::ExecReport& r, const std::vector<SymbolMeta>& syms,
                       std::uint64_t epoch) {
  const SymbolMeta* m = r.symbol < syms.size() ? &syms[r.symbol] : nullptr;
  const int pd = m ? m->px_dec : 8, qd = m ? m->qty_dec : 8;
  return nb::make_tuple(r.signal_seq, static_cast<int>(r.kind), static_cast<int>(r.reason),
                        m ? m->name : std::string(), static_cast<int>(r.side),
                        std::string(r.client_order_id.view()), r.venue_order_id,
                        to_f(r.last_qty.raw, qd), to_f(r.last_px.raw, pd), to_f(r.cum_qty.raw, qd),
                        to_f(r.avg_px.raw, pd), to_f(r.fee.raw, pd), r.venue_code, r.ts_ns,
                        to_f(r.fee_native.raw, 8), std::string(r.fee_asset.view()), epoch);
}

namespace {

PyObject* g_event_type = nullptr;  // cwts_bridge.Event
// Interned, never freed: by EventKind, then "lapped".
PyObject* g_kinds[7] = {};

}  // namespace

void set_event_type(nb::handle type) {
  if (!PyType_Check(type.ptr()) ||
      !PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(type.ptr()), &PyTuple_Type) ||
      reinterpret_cast<PyTypeObject*>(type.ptr())->tp_basicsize != PyTuple_Type.tp_basicsize) {
    throw nb::type_error("the event type must be a NamedTuple (a tuple subtype without fields)");
  }
  Py_XDECREF(g_event_type);
  g_event_type = nb::handle(type).inc_ref().ptr();
  static constexpr const char* kNames[] = {"?",      "quote",  "trade", "book",
                                           "candle", "status", "lapped"};
  for (int k = 0; k < 7; ++k)
    if (g_kinds[k] == nullptr) g_kinds[k] = PyUnicode_InternFromString(kNames[k]);
}

PyObject* lapped_kind() { return g_kinds[6]; }

PyObject* event_object(const layout::Event* e, std::uint64_t seq, PyObject* symbol, int pd,
                       int qd) {
  double v[4] = {0, 0, 0, 0};
  std::uint64_t update_id = 0;
  std::int64_t times[3] = {0, 0, 0};
  PyObject* kind = g_kinds[6];  // lapped: `seq` events were skipped
  if (e != nullptr) {
    kind = g_kinds[e->kind <= 5 ? e->kind : 0];
    update_id = e->update_id;
    times[0] = e->exchange_ts_ns;
    times[1] = e->receive_ts_ns;
    times[2] = e->publish_ts_ns;
    switch (static_cast<layout::EventKind>(e->kind)) {
      case layout::EventKind::kQuote:
        v[0] = to_f(e->body.quote.bid_px.raw, pd);
        v[1] = to_f(e->body.quote.bid_qty.raw, qd);
        v[2] = to_f(e->body.quote.ask_px.raw, pd);
        v[3] = to_f(e->body.quote.ask_qty.raw, qd);
        break;
      case layout::EventKind::kBook:
        v[0] = to_f(e->body.book.bid_px.raw, pd);
        v[1] = to_f(e->body.book.bid_qty.raw, qd);
        v[2] = to_f(e->body.book.ask_px.raw, pd);
        v[3] = to_f(e->body.book.ask_qty.raw, qd);
        break;
      case layout::EventKind::kTrade:
        v[0] = to_f(e->body.trade.px.raw, pd);
        v[1] = to_f(e->body.trade.qty.raw, qd);
        v[2] = static_cast<double>(e->side);
        break;
      case layout::EventKind::kCandleClose:
        v[0] = to_f(e->body.candle.candle.close.raw, pd);
        v[1] = to_f(e->body.candle.candle.volume.raw, qd);
        v[2] = static_cast<double>(e->timeframe);
        break;
      case layout::EventKind::kStatus:
        v[0] = static_cast<double>(e->body.status.book_valid);
        v[1] = static_cast<double>(e->body.status.symbol_status);
        v[2] = static_cast<double>(e->body.status.trading_state);
        break;
    }
  }
  // A NamedTuple is a tuple subtype with no fields of its own: allocated and filled as
  // tuple.__new__ does, without its Python-level __new__ (one allocation per event).
  auto* type = reinterpret_cast<PyTypeObject*>(g_event_type);
  PyObject* o = type->tp_alloc(type, 11);
  if (o == nullptr) throw nb::python_error();
  PyObject* items[11] = {kind,
                         symbol,
                         PyLong_FromUnsignedLongLong(seq),
                         PyLong_FromUnsignedLongLong(update_id),
                         PyLong_FromLongLong(times[0]),
                         PyLong_FromLongLong(times[1]),
                         PyLong_FromLongLong(times[2]),
                         PyFloat_FromDouble(v[0]),
                         PyFloat_FromDouble(v[1]),
                         PyFloat_FromDouble(v[2]),
                         PyFloat_FromDouble(v[3])};
  Py_INCREF(kind);
  Py_INCREF(symbol);
  bool failed = false;
  for (Py_ssize_t i = 0; i < 11; ++i) {
    failed = failed || items[i] == nullptr;
    PyTuple_SET_ITEM(o, i, items[i]);  // NULL items are fine for the deallocator
  }
  if (failed) {
    Py_DECREF(o);
    throw nb::python_error();
  }
  return o;
}

}  // namespace cwts_bridge
