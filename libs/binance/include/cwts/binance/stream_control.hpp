// The control messages of Binance's market-stream WebSocket (/ws, /stream): SUBSCRIBE,
// UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY, parsed with the documented error
// replies (web-socket-streams.md), and the reply bodies. Whoever serves streams (cwts-sim, the
// engine's gateway) decides which stream names exist and keeps the subscriptions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cwts::binance {

enum class StreamMethod : unsigned char {
  kSubscribe,
  kUnsubscribe,
  kListSubscriptions,
  kSetProperty,  // the only property is "combined"
  kGetProperty,
};

struct StreamControl {
  StreamMethod method = StreamMethod::kSubscribe;
  std::string id_json;               // the request's id as JSON: a number, a string or null
  std::vector<std::string> streams;  // SUBSCRIBE / UNSUBSCRIBE
  bool combined = false;             // SET_PROPERTY's value
};

// An error reply: {"code":..,"msg":..[,"id":..]}; id_json empty = no id member (the request's id
// could not be read).
struct StreamControlError {
  int code = 0;
  std::string msg;
  std::string id_json;
};

// One text frame from a client. Errors in Binance's order: JSON (3), not an object (2), a bad id
// (2), no method (2), missing params (2), a stream name that is not a string (2), property name
// (2) or unknown property (0), a property value that is not a boolean (1), too many parameters
// (2), an unknown method (2).
[[nodiscard]] std::variant<StreamControl, StreamControlError> parse_stream_control(
    std::string_view text);

[[nodiscard]] std::string stream_error_json(const StreamControlError& e);
// {"result":<result_json>,"id":<id_json>}
[[nodiscard]] std::string stream_result_json(std::string_view id_json,
                                             std::string_view result_json);
// The error a server sends for a stream name it does not serve.
[[nodiscard]] StreamControlError invalid_stream_name(std::string_view id_json);

// A market stream's name, as a client subscribes to it ("btcusdt@depth20@100ms").
enum class StreamKind : unsigned char {
  kBookTicker,    // <symbol>@bookTicker
  kDiffDepth,     // <symbol>@depth[@100ms|@1000ms]
  kPartialDepth,  // <symbol>@depth<5|10|20>[@100ms|@1000ms]
  kTrade,         // <symbol>@trade
  kAggTrade,      // <symbol>@aggTrade
  kKline,         // <symbol>@kline_<interval>
};
struct StreamName {
  std::string symbol;  // lower case, as in the name
  StreamKind kind = StreamKind::kTrade;
  int levels = 0;       // kPartialDepth: 5, 10 or 20
  int speed_ms = 1000;  // depth streams: 100 or 1000
  int interval = -1;    // kKline: interval_index() of the interval ("1m" and "1M" differ)
};
// The stream a name denotes, or nullopt if it is not one of the names above (the symbol is not
// checked: whoever serves streams knows its symbols). The kind is case-insensitive as Binance's.
[[nodiscard]] std::optional<StreamName> parse_stream_name(std::string_view name);

}  // namespace cwts::binance
