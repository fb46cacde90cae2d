// cwts_bridge._native.ta_*: the cwts::ta kernels over NumPy arrays, the GIL released while they
// run (TaFastCall: from 16,384 bars). cwts_bridge/ta/__init__.py gives them TA-Lib's names and
// signatures.
#include <array>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "cwts/ta/ta.hpp"

namespace nb = nanobind;
namespace ta = cwts::ta;
using namespace nb::literals;

namespace {

using In1 = nb::ndarray<const double, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using Out1 = nb::ndarray<double, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using In2 = nb::ndarray<const double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using Out2 = nb::ndarray<double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using Out3 = nb::ndarray<double, nb::ndim<3>, nb::c_contig, nb::device::cpu>;

ta::Kind kind_of(const std::string& name) {
  const ta::KindSpec* s = ta::find_spec(name);
  if (s == nullptr) throw nb::value_error(("unknown indicator " + name).c_str());
  return s->kind;
}

ta::Params params_of(ta::Kind k, const std::vector<double>& values) {
  const ta::KindSpec& s = ta::spec(k);
  if (values.size() != s.n_params) {
    throw nb::value_error((std::string(s.name) + ": expected " + std::to_string(s.n_params) +
                           " parameters, got " + std::to_string(values.size()))
                              .c_str());
  }
  ta::Params p;
  for (std::size_t i = 0; i < values.size(); ++i) p.v[i] = values[i];
  return p;
}

// Converts the kernel's std::invalid_argument / std::runtime_error into ValueError / RuntimeError.
template <class F>
void guarded(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    throw nb::value_error(e.what());
  }
}

ta::Kind kind_at(int index) {
  if (index < 0 || index >= static_cast<int>(ta::kKindCount))
    throw nb::value_error("unknown indicator index");
  return static_cast<ta::Kind>(index);
}

// kind: the index in ta_specs() (the call path of every cwts_bridge.ta function).
void run(int kind, const std::vector<double>& values, const std::vector<In1>& in,
         const std::vector<Out1>& out) {
  const ta::Kind k = kind_at(kind);
  const ta::Params p = params_of(k, values);
  const std::size_t n = in.empty() ? 0 : in[0].shape(0);
  std::vector<const double*> ip;
  std::vector<double*> op;
  for (const auto& a : in) {
    if (a.shape(0) != n) throw nb::value_error("input array lengths are different");
    ip.push_back(a.data());
  }
  for (const auto& a : out) {
    if (a.shape(0) != n) throw nb::value_error("output arrays must have the inputs' length");
    op.push_back(a.data());
  }
  guarded([&] {
    nb::gil_scoped_release unlocked;
    ta::run(k, p, n, ip, op);
  });
}

// sets: one parameter list per set; inputs: one (series, n) array per kernel input; outputs: one
// (sets, series, n) array per output.
void run_sets(int kind, const std::vector<std::vector<double>>& sets, const std::vector<In2>& in,
              const std::vector<Out3>& out) {
  const ta::Kind k = kind_at(kind);
  const ta::KindSpec& s = ta::spec(k);
  if (in.size() != s.n_inputs || out.size() != s.n_outputs) {
    throw nb::value_error(
        (std::string(s.name) + ": wrong number of input or output arrays").c_str());
  }
  std::vector<ta::Params> ps;
  for (const auto& v : sets) ps.push_back(params_of(k, v));
  const std::size_t series = in[0].shape(0), n = in[0].shape(1);
  for (const auto& a : in) {
    if (a.shape(0) != series || a.shape(1) != n)
      throw nb::value_error("input array shapes are different");
  }
  for (const auto& a : out) {
    if (a.shape(0) != ps.size() || a.shape(1) != series || a.shape(2) != n)
      throw nb::value_error("output arrays must have the shape (sets, series, bars)");
  }
  std::vector<const double*> ip(series * s.n_inputs);
  std::vector<double*> op(ps.size() * series * s.n_outputs);
  for (std::size_t r = 0; r < series; ++r) {
    for (std::size_t i = 0; i < s.n_inputs; ++i) ip[r * s.n_inputs + i] = in[i].data() + r * n;
  }
  for (std::size_t k2 = 0; k2 < ps.size(); ++k2) {
    for (std::size_t r = 0; r < series; ++r) {
      for (std::size_t j = 0; j < s.n_outputs; ++j)
        op[(k2 * series + r) * s.n_outputs + j] = out[j].data() + (k2 * series + r) * n;
    }
  }
  guarded([&] {
    nb::gil_scoped_release unlocked;
    ta::run_sets(k, ps, n, series, ip, op);
  });
}

// A cwts_bridge.ta function's fast path, the whole call read in C++ (in Python it cost more than
// the kernel on FreqTrade's 1,000-bar frames): the inputs are float64 C-contiguous 1-D NumPy
// arrays or pandas Series of them, the parameters numbers by position or name, every matype one
// with a kernel. Anything else returns None and the Python function reads the call (the same
// result, more slowly): a DataFrame, a conversion, an unknown keyword, TA-Lib's fallbacks.
class FastCall {
 public:
  FastCall(int kind, std::vector<double> defaults, nb::dict index, std::vector<std::size_t> matypes,
           std::vector<double> ma_most, bool abstract)
      : kind_(kind_at(kind)),
        spec_(ta::spec(kind_)),
        defaults_(std::move(defaults)),
        index_(std::move(index)),
        matypes_(std::move(matypes)),
        ma_most_(std::move(ma_most)),
        abstract_(abstract) {
    if (defaults_.size() != spec_.n_params || matypes_.size() != ma_most_.size()) {
      throw nb::value_error("FastCall: parameters do not match the kernel");
    }
    nb::module_ np = nb::module_::import_("numpy");
    ndarray_ = np.attr("ndarray");
    empty_ = np.attr("empty");
  }

  nb::object operator()(const nb::tuple& args, const nb::dict& kwargs) {
    const std::size_t n_in = spec_.n_inputs, n_out = spec_.n_outputs;
    const std::size_t na = args.size();
    if (na < n_in || na > n_in + spec_.n_params) return nb::none();
    std::array<nb::object, ta::kMaxInputs> held;  // a Series' values, alive for the call
    std::array<In1, ta::kMaxInputs> in;
    std::array<const double*, ta::kMaxInputs> ip{};
    nb::object series_index;
    for (std::size_t i = 0; i < n_in; ++i) {
      nb::handle a = args[i];
      if (!a.type().is(ndarray_)) {
        if (!is_series(a)) return nb::none();
        if (!series_index.is_valid()) series_index = a.attr("index");
        held[i] = a.attr("to_numpy")();
        a = held[i];
        if (!a.type().is(ndarray_)) return nb::none();
      }
      if (!nb::try_cast<In1>(a, in[i], /*convert=*/false)) return nb::none();
      ip[i] = in[i].data();
    }
    ta::Params p;
    for (std::size_t i = 0; i < spec_.n_params; ++i) p.v[i] = defaults_[i];
    for (std::size_t i = n_in; i < na; ++i) {  // positional parameters; None keeps the default
      if (!number(args[i], p.v[i - n_in])) return nb::none();
    }
    for (auto [key, value] : kwargs) {
      PyObject* at = PyDict_GetItem(index_.ptr(), key.ptr());  // borrowed; never raises
      if (at == nullptr) return nb::none();
      const auto i = static_cast<std::size_t>(PyLong_AsSsize_t(at));
      if (i < na - n_in || !number(value, p.v[i])) return nb::none();  // given twice: TypeError
    }
    for (std::size_t m = 0; m < matypes_.size(); ++m) {
      const double v = p.v[matypes_[m]];
      if (v != 0 && v > ma_most_[m]) return nb::none();  // out of range: TA-Lib's error
    }
    const std::size_t n = in[0].shape(0);
    for (std::size_t i = 1; i < n_in; ++i) {
      if (in[i].shape(0) != n) throw nb::value_error("input array lengths are different");
    }
    std::array<nb::object, ta::kMaxOutputs> outs;
    std::array<double*, ta::kMaxOutputs> op{};
    for (std::size_t j = 0; j < n_out; ++j) {
      outs[j] = empty_(n);
      Out1 o;
      if (!nb::try_cast<Out1>(outs[j], o, false)) throw nb::type_error("numpy.empty: not float64");
      op[j] = o.data();
    }
    guarded([&] {
      // The GIL is released only where the kernel runs long enough to pay for giving it back.
      if (n >= kReleaseGilFrom) {
        nb::gil_scoped_release unlocked;
        ta::run(kind_, p, n, std::span(ip.data(), n_in), std::span(op.data(), n_out));
      } else {
        ta::run(kind_, p, n, std::span(ip.data(), n_in), std::span(op.data(), n_out));
      }
    });
    if (series_index.is_valid() && !abstract_) {  // as call.wrap(): Series on the first's index
      if (!series_.is_valid()) series_ = nb::module_::import_("pandas").attr("Series");
      for (std::size_t j = 0; j < n_out; ++j) outs[j] = series_(outs[j], "index"_a = series_index);
    }
    if (n_out == 1) return outs[0];
    if (abstract_) {
      nb::list l;
      for (std::size_t j = 0; j < n_out; ++j) l.append(outs[j]);
      return l;
    }
    return n_out == 2 ? nb::make_tuple(outs[0], outs[1])
                      : nb::make_tuple(outs[0], outs[1], outs[2]);
  }

 private:
  static constexpr std::size_t kReleaseGilFrom = 1 << 14;

  // cwts_bridge.ta._is_series: a type named Series with an index (pandas' without importing it).
  static bool is_series(nb::handle a) {
    const std::string_view name(Py_TYPE(a.ptr())->tp_name);
    return (name == "Series" || name.ends_with(".Series")) && nb::hasattr(a, "index");
  }
  // A parameter as float(v) reads it: a Python or NumPy number. None keeps `into`; anything else
  // (a string float() would read too) is left to the Python path.
  static bool number(nb::handle v, double& into) {
    if (v.is_none()) return true;
    if (!PyFloat_Check(v.ptr()) && !PyLong_Check(v.ptr()) && !PyNumber_Check(v.ptr())) return false;
    const double d = PyFloat_AsDouble(v.ptr());
    if (d == -1.0 && PyErr_Occurred() != nullptr) {
      PyErr_Clear();
      return false;
    }
    into = d;
    return true;
  }

  ta::Kind kind_;
  const ta::KindSpec& spec_;
  std::vector<double> defaults_;
  nb::dict index_;
  std::vector<std::size_t> matypes_;
  std::vector<double> ma_most_;
  bool abstract_;
  nb::object ndarray_, empty_, series_;
};

nb::list specs() {
  nb::list l;
  for (std::size_t i = 0; i < ta::kKindCount; ++i) {
    const ta::KindSpec& s = ta::spec(static_cast<ta::Kind>(i));
    nb::list inputs, outputs, params;
    for (std::size_t j = 0; j < s.n_inputs; ++j) inputs.append(s.inputs[j]);
    for (std::size_t j = 0; j < s.n_outputs; ++j) outputs.append(s.outputs[j]);
    for (std::size_t j = 0; j < s.n_params; ++j) {
      const ta::ParamSpec& ps = s.params[j];
      params.append(nb::make_tuple(ps.name, ps.def, ps.min, ps.max, ps.integer));
    }
    nb::dict d;
    d["name"] = s.name;
    d["inputs"] = inputs;
    d["outputs"] = outputs;
    d["params"] = params;
    l.append(d);
  }
  return l;
}

}  // namespace

void register_ta(nb::module_& m) {
  m.def("ta_specs", &specs);
  nb::class_<FastCall>(m, "TaFastCall")
      .def(nb::init<int, std::vector<double>, nb::dict, std::vector<std::size_t>,
                    std::vector<double>, bool>(),
           "kind"_a, "defaults"_a, "index"_a, "matypes"_a, "ma_most"_a, "abstract"_a)
      .def("__call__", &FastCall::operator(), "args"_a, "kwargs"_a);
  m.def("ta_run", &run, "kind"_a, "params"_a, "inputs"_a, "outputs"_a);
  m.def("ta_run_sets", &run_sets, "kind"_a, "sets"_a, "inputs"_a, "outputs"_a.noconvert());
  m.def("ta_lookback", [](const std::string& name, const std::vector<double>& values) {
    const ta::Kind k = kind_of(name);
    const ta::Params p = params_of(k, values);
    guarded([&] { ta::validate(k, p); });
    return ta::lookback(k, p);
  });
  m.def("ta_isa", [] { return std::string(ta::to_string(ta::active_isa())); });
  m.def("ta_set_isa",
        [](const std::string& name) { guarded([&] { ta::set_isa(ta::parse_isa(name)); }); });
  m.def("ta_isa_supported", [](const std::string& name) {
    bool r = false;
    guarded([&] { r = ta::isa_supported(ta::parse_isa(name)); });
    return r;
  });
  m.def("ta_isa_calls", [] {
    nb::dict d;
    const auto calls = ta::isa_calls();
    for (std::size_t i = 0; i < ta::kIsaCount; ++i)
      d[ta::to_string(static_cast<ta::Isa>(i))] = calls[i];
    return d;
  });
}
