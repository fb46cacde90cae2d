// cwts_bridge._native.ta_*: the cwts::ta kernels over NumPy arrays, the GIL released while they
// run. cwts_bridge/ta.py gives them TA-Lib's names and signatures.
#include <string>
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

// inputs: one (series, n) array per kernel input; outputs: one (series, n) array per output.
void run_many(int kind, const std::vector<double>& values, const std::vector<In2>& in,
              const std::vector<Out2>& out) {
  const ta::Kind k = kind_at(kind);
  const ta::Params p = params_of(k, values);
  const ta::KindSpec& s = ta::spec(k);
  if (in.size() != s.n_inputs || out.size() != s.n_outputs) {
    throw nb::value_error(
        (std::string(s.name) + ": wrong number of input or output arrays").c_str());
  }
  const std::size_t series = in[0].shape(0), n = in[0].shape(1);
  for (const auto& a : in) {
    if (a.shape(0) != series || a.shape(1) != n)
      throw nb::value_error("input array shapes are different");
  }
  for (const auto& a : out) {
    if (a.shape(0) != series || a.shape(1) != n)
      throw nb::value_error("output arrays must have the inputs' shape");
  }
  std::vector<const double*> ip(series * s.n_inputs);
  std::vector<double*> op(series * s.n_outputs);
  for (std::size_t r = 0; r < series; ++r) {
    for (std::size_t i = 0; i < s.n_inputs; ++i) ip[r * s.n_inputs + i] = in[i].data() + r * n;
    for (std::size_t j = 0; j < s.n_outputs; ++j) op[r * s.n_outputs + j] = out[j].data() + r * n;
  }
  guarded([&] {
    nb::gil_scoped_release unlocked;
    ta::run_many(k, p, n, series, ip, op);
  });
}

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
  m.def("ta_run", &run, "kind"_a, "params"_a, "inputs"_a, "outputs"_a);
  m.def("ta_run_many", &run_many, "kind"_a, "params"_a, "inputs"_a, "outputs"_a);
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
