// WebSocket API request parsing (simdjson On-Demand: numbers are kept as the client wrote them,
// because that text is what it signed) and the response and event envelopes.
#include "cwts/binance/ws_api.hpp"

#include <utility>

#include <simdjson.h>

#include "cwts/binance/json_responses.hpp"
#include "cwts/core/json_string.hpp"
#include "cwts/core/json_writer.hpp"

namespace cwts::binance {

namespace {

namespace od = simdjson::ondemand;

ApiError invalid_json(std::string msg = "Invalid JSON Request") {
  return make_error(ErrorCode::kInvalidJson, std::move(msg));
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// A param value as text (see WsApiRequest::params); false if the value is not valid JSON.
bool value_text(od::value v, std::string& out) {
  od::json_type t{};
  if (v.type().get(t) != simdjson::SUCCESS) return false;
  switch (t) {
    case od::json_type::string: {
      std::string_view s;
      if (v.get_string().get(s) != simdjson::SUCCESS) return false;
      out.assign(s);
      return true;
    }
    case od::json_type::number: {
      std::string_view raw = trim(v.raw_json_token());
      // The number must be one: validate it, keep the text.
      double d = 0;
      if (v.get_double().get(d) != simdjson::SUCCESS) return false;
      out.assign(raw);
      return true;
    }
    case od::json_type::boolean: {
      bool b = false;
      if (v.get_bool().get(b) != simdjson::SUCCESS) return false;
      out = b ? "true" : "false";
      return true;
    }
    case od::json_type::null:
      out.clear();
      return v.is_null();
    case od::json_type::array: {
      od::array a;
      std::string_view raw;
      if (v.get_array().get(a) != simdjson::SUCCESS || a.raw_json().get(raw) != simdjson::SUCCESS)
        return false;
      out.assign(trim(raw));
      return true;
    }
    case od::json_type::object: {
      od::object o;
      std::string_view raw;
      if (v.get_object().get(o) != simdjson::SUCCESS || o.raw_json().get(raw) != simdjson::SUCCESS)
        return false;
      out.assign(trim(raw));
      return true;
    }
  }
  return false;
}

// The request id as echoed back; false if it is not an integer, a string or null.
bool id_text(od::value v, std::string& out) {
  od::json_type t{};
  if (v.type().get(t) != simdjson::SUCCESS) return false;
  if (t == od::json_type::null) {
    out = "null";
    return v.is_null();
  }
  if (t == od::json_type::string) {
    std::string_view s;
    if (v.get_string().get(s) != simdjson::SUCCESS) return false;
    out.clear();
    core::append_json_string(out, s);
    return true;
  }
  if (t == od::json_type::number) {
    std::string_view raw = trim(v.raw_json_token());
    std::int64_t n = 0;
    if (v.get_int64().get(n) != simdjson::SUCCESS) return false;
    out.assign(raw);
    return true;
  }
  return false;
}

}  // namespace

WsApiParse parse_ws_api_request(std::string_view text) {
  WsApiParse out;
  WsApiRequest& r = out.request;
  // The DOM parser validates the whole frame (On-Demand is lazy); On-Demand then reads it,
  // because only it keeps numbers as written.
  const simdjson::padded_string padded(text);
  simdjson::dom::parser dom;
  simdjson::dom::object checked;
  od::parser parser;
  od::document doc;
  od::object obj;
  if (dom.parse(padded).get_object().get(checked) != simdjson::SUCCESS ||
      parser.iterate(padded).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(obj) != simdjson::SUCCESS) {
    out.error = invalid_json();
    return out;
  }
  bool have_id = false;
  bool bad_id = false;
  bool have_method = false;
  for (auto field_result : obj) {
    od::field field;
    if (std::move(field_result).get(field) != simdjson::SUCCESS) {
      out.error = invalid_json();
      return out;
    }
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) {
      out.error = invalid_json();
      return out;
    }
    od::value v = field.value();
    if (key == "id") {
      have_id = true;
      std::string id;
      if (id_text(v, id)) {
        r.id_json = std::move(id);
      } else {
        bad_id = true;
      }
    } else if (key == "method") {
      std::string_view m;
      if (v.get_string().get(m) == simdjson::SUCCESS && !m.empty()) {
        have_method = true;
        if (m.starts_with("v3/")) m.remove_prefix(3);
        r.method.assign(m);
      }
    } else if (key == "params") {
      od::object po;
      if (v.get_object().get(po) != simdjson::SUCCESS) {
        out.error = invalid_json("Invalid 'params' in JSON request; expected an object.");
        return out;
      }
      for (auto pf_result : po) {
        od::field pf;
        std::string_view name;
        if (std::move(pf_result).get(pf) != simdjson::SUCCESS ||
            pf.unescaped_key().get(name) != simdjson::SUCCESS) {
          out.error = invalid_json();
          return out;
        }
        Param p;
        p.name.assign(name);
        od::value pv = pf.value();
        if (!value_text(pv, p.value)) {
          out.error = invalid_json();
          return out;
        }
        if (p.name == "returnRateLimits" && (p.value == "true" || p.value == "false")) {
          r.return_rate_limits = p.value == "true";
        }
        r.params.push_back(std::move(p));
      }
    }
  }
  if (!have_id || bad_id) {
    r.id_json = "null";
    out.error = errors::mandatory("id");
    return out;
  }
  if (!have_method) out.error = errors::mandatory("method");
  return out;
}

std::string ws_api_response_json(const WsApiResponse& r) {
  core::JsonWriter w(256 + r.result_json.size());
  w.begin_object();
  w.key("id").raw(r.id_json);
  w.key("status").integer(r.status);
  if (r.error == nullptr || r.error->ok()) {
    w.key("result").raw(r.result_json);
  } else {
    w.key("error").begin_object();
    w.key("code").integer(r.error->code_value());
    w.key("msg").string(r.error->msg);
    if (r.retry_after_ms != 0) {
      w.key("data").begin_object();
      w.key("serverTime").integer(r.server_time_ms);
      w.key("retryAfter").integer(r.retry_after_ms);
      w.end_object();
    }
    w.end_object();
  }
  if (r.rate_limits != nullptr) {
    w.key("rateLimits");
    write_rate_limits(w, *r.rate_limits);
  }
  w.end_object();
  return std::move(w).str();
}

std::string user_data_event_frame(std::int64_t subscription_id, std::string_view event_json) {
  core::JsonWriter w(64 + event_json.size());
  w.begin_object().key("subscriptionId").integer(subscription_id);
  w.key("event").raw(event_json).end_object();
  return std::move(w).str();
}

std::string connection_event_frame(std::string_view event_json) {
  core::JsonWriter w(32 + event_json.size());
  w.begin_object().key("event").raw(event_json).end_object();
  return std::move(w).str();
}

}  // namespace cwts::binance
