#include "cwts/binance/stream_control.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include <simdjson.h>

#include "cwts/binance/kline.hpp"
#include "cwts/core/ascii.hpp"
#include "cwts/core/json_string.hpp"
#include "cwts/core/json_writer.hpp"

namespace cwts::binance {

namespace {

StreamControlError error(int code, std::string msg, std::string id_json = {}) {
  return StreamControlError{code, std::move(msg), std::move(id_json)};
}

}  // namespace

std::variant<StreamControl, StreamControlError> parse_stream_control(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text.data(), text.size()).get(doc) != simdjson::SUCCESS) {
    return error(3, "Invalid JSON: expected value at line 1 column 1");
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    return error(2, "Invalid request: expected a map");
  }
  StreamControl c;
  c.id_json = "null";
  simdjson::dom::element idv;
  if (obj["id"].get(idv) == simdjson::SUCCESS) {
    std::int64_t n = 0;
    std::string_view sv;
    if (idv.is_null()) {
      c.id_json = "null";
    } else if (idv.get_int64().get(n) == simdjson::SUCCESS) {
      c.id_json = std::to_string(n);
    } else if (idv.get_string().get(sv) == simdjson::SUCCESS && sv.size() <= 36 &&
               std::all_of(sv.begin(), sv.end(), [](char ch) {
                 return std::isalnum(static_cast<unsigned char>(ch)) != 0;
               })) {
      c.id_json.clear();
      core::append_json_string(c.id_json, sv);
    } else {
      return error(2, "Invalid request: request ID must be an unsigned integer");
    }
  }
  const std::string& id = c.id_json;
  simdjson::dom::element mv;
  if (obj["method"].get(mv) != simdjson::SUCCESS) {
    return error(
        2,
        "Invalid request: missing field `method` at line 1 column " + std::to_string(text.size()),
        id);
  }
  std::string_view method;
  const bool method_is_string = mv.get_string().get(method) == simdjson::SUCCESS;
  simdjson::dom::array pa;
  const bool has_params = obj["params"].get_array().get(pa) == simdjson::SUCCESS;
  if (method_is_string && (method == "SUBSCRIBE" || method == "UNSUBSCRIBE")) {
    c.method = method == "SUBSCRIBE" ? StreamMethod::kSubscribe : StreamMethod::kUnsubscribe;
    if (!has_params) return error(2, "Invalid request: missing field `params`", id);
    for (simdjson::dom::element e : pa) {
      std::string_view name;
      if (e.get_string().get(name) != simdjson::SUCCESS) return invalid_stream_name(id);
      c.streams.emplace_back(name);
    }
    return c;
  }
  if (method_is_string && method == "LIST_SUBSCRIPTIONS") {
    c.method = StreamMethod::kListSubscriptions;
    return c;
  }
  if (method_is_string && (method == "SET_PROPERTY" || method == "GET_PROPERTY")) {
    c.method = method == "SET_PROPERTY" ? StreamMethod::kSetProperty : StreamMethod::kGetProperty;
    std::vector<simdjson::dom::element> ps;
    if (has_params) {
      for (simdjson::dom::element e : pa) ps.push_back(e);
    }
    std::string_view prop;
    if (ps.empty() || ps[0].get_string().get(prop) != simdjson::SUCCESS) {
      return error(2, "Invalid request: property name must be a string", id);
    }
    if (prop != "combined") return error(0, "Unknown property", id);
    if (c.method == StreamMethod::kGetProperty) return c;
    bool b = false;
    if (ps.size() < 2 || ps[1].get_bool().get(b) != simdjson::SUCCESS) {
      return error(1, "Invalid value type: expected Boolean", id);
    }
    if (ps.size() > 2) return error(2, "Invalid request: too many parameters", id);
    c.combined = b;
    return c;
  }
  const std::string shown = method_is_string ? std::string(method) : simdjson::minify(mv);
  const std::size_t at = text.find("\"method\"");
  const std::size_t col =
      at == std::string_view::npos ? text.size() : text.find(shown, at) + shown.size() + 1;
  return error(2,
               "Invalid request: unknown variant `" + shown +
                   "`, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, "
                   "`SET_PROPERTY`, `GET_PROPERTY` at line 1 column " +
                   std::to_string(col),
               id);
}

std::string stream_error_json(const StreamControlError& e) {
  core::JsonWriter w;
  w.begin_object().key("code").integer(e.code).key("msg").string(e.msg);
  if (!e.id_json.empty()) w.key("id").raw(e.id_json);
  w.end_object();
  return std::move(w).str();
}

std::string stream_result_json(std::string_view id_json, std::string_view result_json) {
  core::JsonWriter w;
  w.begin_object().key("result").raw(result_json).key("id").raw(id_json).end_object();
  return std::move(w).str();
}

StreamControlError invalid_stream_name(std::string_view id_json) {
  return error(2, "Invalid request: invalid stream name", std::string(id_json));
}

std::optional<StreamName> parse_stream_name(std::string_view name) {
  const std::size_t at = name.find('@');
  if (at == std::string_view::npos || at == 0) return std::nullopt;
  StreamName out;
  out.symbol = core::ascii_lower(name.substr(0, at));
  const std::string_view rest = name.substr(at + 1);
  if (rest.starts_with("kline_")) {
    out.interval = interval_index(rest.substr(6));  // case matters: 1m vs 1M
    if (out.interval < 0) return std::nullopt;
    out.kind = StreamKind::kKline;
    return out;
  }
  std::string r = core::ascii_lower(rest);
  if (r == "bookticker") {
    out.kind = StreamKind::kBookTicker;
    return out;
  }
  if (r == "trade" || r == "aggtrade") {
    out.kind = r == "trade" ? StreamKind::kTrade : StreamKind::kAggTrade;
    return out;
  }
  if (r.ends_with("@100ms")) {
    out.speed_ms = 100;
    r.resize(r.size() - 6);
  } else if (r.ends_with("@1000ms")) {
    r.resize(r.size() - 7);
  }
  if (r == "depth") {
    out.kind = StreamKind::kDiffDepth;
    return out;
  }
  for (const int n : {5, 10, 20}) {
    if (r == "depth" + std::to_string(n)) {
      out.kind = StreamKind::kPartialDepth;
      out.levels = n;
      return out;
    }
  }
  return std::nullopt;
}

}  // namespace cwts::binance
