// cwtsctl: the operator's command line for a running cwtsd, over its control WebSocket (JSON-RPC
// 2.0 at /ws, or wss:// when the control plane has TLS). Finds an instance through
// <shm_dir>/cwts-<instance>.control. docs/operations.md.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <simdjson.h>

#include "cwts/cli/cli.hpp"
#include "cwts/core/json_string.hpp"
#include "cwts/net/endpoint.hpp"
#include "cwts/net/tls_client.hpp"
#include "cwts/shm/region.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

constexpr const char* kFooter =
    "Every command needs the token. It comes from --token-file, else $CWTS_CONTROL_TOKEN_FILE\n"
    "(the file cwtsd's control.token_file names), else the token cwtsd generated for the\n"
    "instance (DIR/cwts-NAME.token, readable by cwtsd's user only).\n"
    "A control plane with TLS (wss://, or the instance's control file says tls) must present a\n"
    "certificate for the address connected to, issued by --cafile FILE (PEM; a self-signed\n"
    "certificate itself) or else by a CA of the system's store.\n"
    "The options go before or after the command; `cwtsctl COMMAND --help` for each command.\n"
    "Exit status: 0 done, 1 failed, 2 usage.\n";

volatile std::sig_atomic_t g_stop = 0;

struct Options {
  std::string instance = "default";
  std::string url;
  std::string shm_dir = "/dev/shm";
  std::string token_file;
  std::string ca_file;  // TLS: the trust anchors; "" = the system's store
  bool json = false;
  double seconds = 0;
};

[[noreturn]] void fail(const std::string& msg, int code = 1) {
  std::fprintf(stderr, "cwtsctl: %s\n", msg.c_str());
  std::exit(code);
}

// The instance's control file, if this user can trust where it points: owned by an owner the
// regions' readers trust (root, this user, the directory's owner, the engine's service account:
// ADR 0019) or by the owner of the token about to be sent. In a sticky directory such as /dev/shm
// any local user can create the name before cwtsd does; sending the token to the address such a
// file names would hand it over. "" if there is no such file.
std::string read_control_file(const std::string& dir, const std::string& file,
                              std::optional<uid_t> token_owner) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return {};
  struct stat st {};
  std::string text;
  if (::fstat(fd, &st) == 0) {
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0 && text.size() < (1u << 16)) {
      text.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  std::vector<uid_t> owners = cwts::shm::trusted_file_owners(dir);
  if (token_owner) owners.push_back(*token_owner);
  if (std::find(owners.begin(), owners.end(), st.st_uid) == owners.end()) {
    fail("refusing " + file + ": owned by uid " + std::to_string(st.st_uid) +
         ", not root, this user, the directory's owner, the engine's user (CWTS_ENGINE_USER, else "
         "cwts) or the token's owner (another user may have planted it: remove it, or name the "
         "engine with --url)");
  }
  return text;
}

std::optional<uid_t> owner_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return st.st_uid;
}

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return {};
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

class Client {
 public:
  // `tls`: wss, the certificate verified against `ca_file` (or the system's store) and `host`.
  Client(const std::string& host, const std::string& port, const std::string& token, bool tls,
         const std::string& ca_file) {
    if (tls) {
      cwts::net::TlsClientOptions to;
      to.ca_file = ca_file;
      try {
        tls_ctx_.emplace(cwts::net::make_tls_client_context(to));
      } catch (const std::exception& e) {
        fail("cannot load the CA file " + ca_file + ": " + e.what());
      }
      ws_.emplace<TlsWs>(ioc_, *tls_ctx_);
    } else {
      ws_.emplace<PlainWs>(ioc_);
    }
    const std::string where = host + ":" + port;
    tcp::resolver resolver(ioc_);
    beast::error_code ec;
    const auto results = resolver.resolve(host, port, ec);
    visit([&](auto& ws) {
      if (!ec) asio::connect(beast::get_lowest_layer(ws), results, ec);
      if (ec) fail("cannot connect to " + where + " (" + ec.message() + "): is cwtsd running?");
      if constexpr (std::is_same_v<std::decay_t<decltype(ws)>, TlsWs>) {
        cwts::net::Endpoint ep;
        ep.host = host;
        if (!cwts::net::prepare_tls_connection(ws.next_layer().native_handle(), ep))
          fail("cannot set up TLS for " + host);
        ws.next_layer().handshake(ssl::stream_base::client, ec);
        if (ec) {
          fail("TLS handshake with " + where +
               " failed: " + cwts::net::tls_error(ws.next_layer().native_handle(), ec) +
               (ca_file.empty() ? " (a self-signed certificate: --cafile FILE)" : ""));
        }
      }
      if (!token.empty()) {
        ws.set_option(websocket::stream_base::decorator([token](websocket::request_type& req) {
          req.set(beast::http::field::authorization, "Bearer " + token);
        }));
      }
      const bool v6 = host.find(':') != std::string::npos;
      ws.handshake((v6 ? "[" + host + "]" : host) + ":" + port, "/ws", ec);
      if (ec) fail("WebSocket handshake with " + where + "/ws failed: " + ec.message());
    });
  }

  // Sends a request and returns the raw reply (notifications before it are skipped).
  std::string call(const std::string& method, const std::string& params_json = "") {
    const int id = ++next_id_;
    std::string req = R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":)";
    cwts::core::append_json_string(req, method);
    if (!params_json.empty()) req += ",\"params\":" + params_json;
    req += '}';
    beast::error_code ec;
    visit([&](auto& ws) { ws.write(asio::buffer(req), ec); });
    if (ec) fail("connection to cwtsd lost: " + ec.message());
    while (true) {
      const std::string msg = read();
      simdjson::dom::element doc;
      std::int64_t got = -1;
      if (parser_.parse(msg).get(doc) == simdjson::SUCCESS &&
          doc["id"].get_int64().get(got) == simdjson::SUCCESS && got == id) {
        return msg;
      }
    }
  }

  std::string read() {
    beast::flat_buffer buf;
    beast::error_code ec;
    visit([&](auto& ws) { ws.read(buf, ec); });
    if (ec) fail("connection to cwtsd lost: " + ec.message());
    return beast::buffers_to_string(buf.data());
  }

  void close() {
    beast::error_code ec;
    visit([&](auto& ws) { ws.close(websocket::close_code::normal, ec); });
  }

 private:
  using PlainWs = websocket::stream<tcp::socket>;
  using TlsWs = websocket::stream<ssl::stream<tcp::socket>>;

  template <class F>
  void visit(F&& f) {
    if (auto* p = std::get_if<PlainWs>(&ws_)) {
      f(*p);
    } else if (auto* t = std::get_if<TlsWs>(&ws_)) {
      f(*t);
    }
  }

  asio::io_context ioc_;
  std::optional<ssl::context> tls_ctx_;
  std::variant<std::monostate, PlainWs, TlsWs> ws_;
  simdjson::dom::parser parser_;
  int next_id_ = 0;
};

// The "result" of a reply, or exit with its error.
simdjson::dom::element result_of(simdjson::dom::parser& p, const std::string& reply) {
  simdjson::dom::element doc, err, res;
  if (p.parse(reply).get(doc) != simdjson::SUCCESS) fail("cwtsd sent a reply that is not JSON");
  if (doc["error"].get(err) == simdjson::SUCCESS) {
    std::string_view msg = "error";
    if (err["message"].get_string().get(msg) != simdjson::SUCCESS) msg = {};
    std::int64_t code = 0;
    if (err["code"].get_int64().get(code) != simdjson::SUCCESS) code = {};
    fail(std::string(msg) + " (JSON-RPC " + std::to_string(code) + ")");
  }
  if (doc["result"].get(res) != simdjson::SUCCESS) fail("cwtsd's reply has no result");
  return res;
}

std::string scalar(simdjson::dom::element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::STRING:
      return std::string(e.get_string().value_unsafe());
    case simdjson::dom::element_type::BOOL:
      return e.get_bool().value_unsafe() ? "yes" : "no";
    default:
      return simdjson::minify(e);
  }
}

void print_object(simdjson::dom::element obj) {
  simdjson::dom::object o;
  if (obj.get_object().get(o) != simdjson::SUCCESS) {
    std::printf("%s\n", simdjson::minify(obj).c_str());
    return;
  }
  for (auto f : o) std::printf("%-24s %s\n", std::string(f.key).c_str(), scalar(f.value).c_str());
}

// A table of an array of objects with the given columns.
void print_table(simdjson::dom::element arr, const std::vector<std::string>& cols) {
  simdjson::dom::array a;
  if (arr.get_array().get(a) != simdjson::SUCCESS) return;
  std::vector<std::vector<std::string>> rows{cols};
  for (auto row : a) {
    std::vector<std::string> r;
    for (const auto& c : cols) {
      simdjson::dom::element v;
      r.push_back(row[c].get(v) == simdjson::SUCCESS ? scalar(v) : "");
    }
    rows.push_back(std::move(r));
  }
  std::vector<std::size_t> w(cols.size(), 0);
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  }
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i)
      std::printf("%-*s%s", static_cast<int>(w[i]), r[i].c_str(), i + 1 < r.size() ? "  " : "\n");
  }
  if (rows.size() == 1) std::printf("(none)\n");
}

int run_top(Client& c, const Options& o) {
  simdjson::dom::parser p;
  (void)result_of(p, c.call("subscribe", R"({"topics":["stats","alerts"]})"));
  const auto start = std::chrono::steady_clock::now();
  std::map<std::string, std::uint64_t> last_ids;
  std::uint64_t last_frames = 0, last_signals = 0;
  bool first = true;
  std::vector<std::string> alerts;
  while (g_stop == 0) {
    if (o.seconds > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >=
            o.seconds) {
      break;
    }
    const std::string msg = c.read();
    simdjson::dom::element doc, params;
    std::string_view method;
    if (p.parse(msg).get(doc) != simdjson::SUCCESS ||
        doc["method"].get_string().get(method) != simdjson::SUCCESS ||
        doc["params"].get(params) != simdjson::SUCCESS) {
      continue;
    }
    if (o.json) {
      std::printf("{\"%s\":%s}\n", std::string(method).c_str(), simdjson::minify(params).c_str());
      std::fflush(stdout);
      continue;
    }
    if (method == "alerts") {
      alerts.push_back(scalar(params["alert"]) + " " + scalar(params["detail"]));
      if (alerts.size() > 5) alerts.erase(alerts.begin());
      continue;
    }
    auto u = [&](const char* k) {
      std::uint64_t v = 0;
      if (params[k].get_uint64().get(v) != simdjson::SUCCESS) v = {};
      return v;
    };
    const std::uint64_t frames = u("frames"), signals = u("signals_seen");
    std::string out = "\x1b[H\x1b[2J";
    char line[512];
    std::snprintf(
        line, sizeof line,
        "cwtsctl top — %s — state %s, venue %s   (Ctrl-C to quit)\n"
        "frames %llu (%llu/s)  events %llu  gaps %llu  resyncs %llu\n"
        "signals %llu (%llu/s): accepted %llu rejected %llu; orders %llu fills %llu\n"
        "publish latency (frame -> shm): p50 <= %s us  p99 <= %s us  p99.9 <= %s us  (%llu "
        "events)\n\n",
        o.instance.c_str(), scalar(params["trading_state"]).c_str(),
        scalar(params["venue_connected"]) == "yes" ? "connected" : "DOWN",
        static_cast<unsigned long long>(frames),
        static_cast<unsigned long long>(first ? 0 : frames - last_frames),
        static_cast<unsigned long long>(u("events")), static_cast<unsigned long long>(u("gaps")),
        static_cast<unsigned long long>(u("resyncs")), static_cast<unsigned long long>(signals),
        static_cast<unsigned long long>(first ? 0 : signals - last_signals),
        static_cast<unsigned long long>(u("signals_accepted")),
        static_cast<unsigned long long>(u("signals_rejected")),
        static_cast<unsigned long long>(u("orders_sent")),
        static_cast<unsigned long long>(u("fills")),
        scalar(params["publish_latency_us"]["p50_le"]).c_str(),
        scalar(params["publish_latency_us"]["p99_le"]).c_str(),
        scalar(params["publish_latency_us"]["p999_le"]).c_str(),
        static_cast<unsigned long long>(
            params["publish_latency_us"]["count"].get_uint64().value_unsafe()));
    out += line;
    std::snprintf(line, sizeof line, "%-12s %-6s %16s %16s %10s %10s\n", "symbol", "book", "bid",
                  "ask", "spread bp", "updates/s");
    out += line;
    simdjson::dom::array syms;
    if (params["symbols"].get_array().get(syms) == simdjson::SUCCESS) {
      for (auto s : syms) {
        const std::string name = scalar(s["symbol"]);
        std::uint64_t id = 0;
        if (s["update_id"].get_uint64().get(id) != simdjson::SUCCESS) id = {};
        const std::uint64_t rate = first || last_ids[name] > id ? 0 : id - last_ids[name];
        last_ids[name] = id;
        double spread = 0;
        if (s["spread_bps"].get_double().get(spread) != simdjson::SUCCESS) spread = {};
        std::snprintf(line, sizeof line, "%-12s %-6s %16s %16s %10.2f %10llu\n", name.c_str(),
                      scalar(s["book_valid"]) == "yes" ? "valid" : "STALE",
                      scalar(s["bid"]).c_str(), scalar(s["ask"]).c_str(), spread,
                      static_cast<unsigned long long>(rate));
        out += line;
      }
    }
    if (!alerts.empty()) {
      out += "\nalerts:\n";
      for (const auto& a : alerts) out += "  " + a + "\n";
    }
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
    last_frames = frames;
    last_signals = signals;
    first = false;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app("cwtsctl: the operator's command line for a running cwtsd (its control WebSocket)",
               "cwtsctl");
  cwts::cli::setup(app);
  app.add_option("--instance", o.instance,
                 "The engine instance (found through DIR/cwts-NAME.control)")
      ->type_name("NAME")
      ->capture_default_str();
  app.add_option("--url", o.url, "The control WebSocket instead of the instance's control file")
      ->type_name("ws[s]://HOST:PORT/ws");
  app.add_option("--shm-dir", o.shm_dir, "Where the instance's control and token files are")
      ->type_name("DIR")
      ->capture_default_str();
  app.add_option("--token-file", o.token_file, "The control token (its first line)")
      ->type_name("FILE");
  app.add_option("--cafile", o.ca_file, "TLS: the trust anchors (PEM); default: the system's store")
      ->type_name("FILE");
  app.add_flag("--json", o.json, "Print the method's result as JSON (top: one line per update)");
  // Accepted before the command too, as before the commands had their own options.
  app.add_option("--seconds", o.seconds)->group("");

  // The commands: name -> JSON-RPC method. Each has its own --help; the options above are
  // accepted after it as well (fallthrough).
  std::vector<std::pair<CLI::App*, std::string>> methods;
  auto command = [&](CLI::App& parent, const std::string& name, const std::string& method,
                     const std::string& help) {
    CLI::App* c = parent.add_subcommand(name, help);
    c->fallthrough();
    c->group("Commands");
    c->footer(
        "The options of cwtsctl (--instance, --json, ...: cwtsctl --help) go before or after "
        "the command.\n");
    if (!method.empty()) methods.emplace_back(c, method);
    return c;
  };
  command(app, "status", "status", "Engine state, counters, heartbeats");
  CLI::App* symbols = command(app, "symbols", "symbols", "Books and quotes per symbol");
  std::vector<std::string> symbol_args;
  for (const char* action : {"add", "remove"}) {
    CLI::App* c =
        command(*symbols, action, std::string("symbols.") + action,
                std::string(action) == "add" ? "Trade more symbols (needs the token)"
                                             : "Stop trading these symbols (needs the token)");
    c->add_option("SYMBOL", symbol_args, "Symbols, e.g. BTCUSDT")->required();
  }
  command(app, "slots", "slots", "Claimed strategy slots (pid, name, counters)");
  CLI::App* top = command(app, "top", "top", "Live view, refreshed each second (Ctrl-C to quit)");
  top->add_option("--seconds", o.seconds, "Stop after N seconds (default: until Ctrl-C)")
      ->type_name("N")
      ->check(cwts::cli::non_negative());
  CLI::App* risk = command(app, "risk", "", "Risk limits: get, set KEY=VALUE...");
  command(*risk, "get", "risk.get", "Print the risk limits");
  std::vector<std::string> risk_settings;
  CLI::App* risk_set =
      command(*risk, "set", "risk.set", "Change risk limits at once (needs the token)");
  risk_set->add_option("settings", risk_settings, "Limits to change, e.g. max_open_orders=5")
      ->type_name("KEY=VALUE");
  command(app, "halt", "halt", "Trading state: halted (needs the token)");
  command(app, "resume", "resume", "Trading state: active (needs the token)");
  command(app, "reduce-only", "reduce_only",
          "Trading state: only orders that reduce a position (needs the token)");
  command(app, "cancel-all", "cancel_all", "Cancel every open order (needs the token)");
  app.footer(kFooter);  // after the commands: theirs is shorter

  if (const auto rc = cwts::cli::parse(app, argc, argv)) return *rc;
  // The deepest command given names the method.
  std::string method;
  for (const auto& [c, m] : methods) {
    if (c->parsed()) method = m;
  }
  if (risk->parsed() && method.empty())
    return cwts::cli::usage_error(app, "risk takes get or set KEY=VALUE...");
  if (method.empty()) {
    return cwts::cli::usage_error(
        app,
        "no command (status, symbols, slots, top, risk, halt, resume, reduce-only, cancel-all)");
  }
  if (o.token_file.empty()) {
    if (const char* e = std::getenv("CWTS_CONTROL_TOKEN_FILE")) o.token_file = e;
  }
  std::string params;
  if (method == "symbols.add" || method == "symbols.remove") {
    params = R"({"symbols":[)";
    for (std::size_t i = 0; i < symbol_args.size(); ++i) {
      if (i > 0) params += ',';
      cwts::core::append_json_string(params, symbol_args[i]);
    }
    params += "]}";
  } else if (method == "risk.set") {
    if (risk_settings.empty()) return cwts::cli::usage_error(app, "risk set takes KEY=VALUE...");
    params = "{";
    for (std::size_t i = 0; i < risk_settings.size(); ++i) {
      const std::string& kv = risk_settings[i];
      const auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        return cwts::cli::usage_error(app, "risk set takes KEY=VALUE, not " + kv);
      const std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
      if (i > 0) params += ',';
      cwts::core::append_json_string(params, k);
      params += ':';
      if (k == "max_order_notional" || k == "max_position") {
        cwts::core::append_json_string(params, v);
      } else if (k == "sell_account_holdings") {
        if (v != "true" && v != "false")
          return cwts::cli::usage_error(app, k + " must be true or false");
        params += v;
      } else {
        if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos)
          return cwts::cli::usage_error(app, k + " must be a whole number");
        params += v;
      }
    }
    params += "}";
  }

  // Where: --url, else the instance's control file ("ADDRESS:PORT", then "tls" if it is TLS).
  std::string hostport;
  bool tls = false;
  if (!o.url.empty()) {
    std::string u = o.url;
    if (u.rfind("ws://", 0) == 0) {
      u = u.substr(5);
    } else if (u.rfind("wss://", 0) == 0) {
      u = u.substr(6);
      tls = true;
    }
    hostport = u.substr(0, u.find('/'));
  } else {
    const std::string file = o.shm_dir + "/cwts-" + o.instance + ".control";
    std::istringstream in(read_control_file(
        o.shm_dir, file,
        owner_of(o.token_file.empty() ? o.shm_dir + "/cwts-" + o.instance + ".token"
                                      : o.token_file)));
    std::string line;
    while (std::getline(in, line)) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (hostport.empty()) {
        hostport = line;
      } else if (line == "tls") {
        tls = true;
      }
    }
    if (hostport.empty())
      fail("no control address in " + file + ": is cwtsd (instance " + o.instance + ") running?");
  }
  const auto colon = hostport.rfind(':');
  if (colon == std::string::npos) fail("bad address " + hostport, 2);
  std::string host = hostport.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  // An engine listening on every address is reached here through loopback.
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  std::string token;
  if (!o.token_file.empty()) {
    token = read_first_line(o.token_file);
    if (token.empty()) fail("cannot read a token from " + o.token_file);
  } else if (o.url.empty()) {
    // The token cwtsd generated for this run when it has no control.token_file (ADR 0018). Not
    // there or not readable (another user's engine): go without; the engine then says
    // "unauthorized" and names where the token is.
    token = read_first_line(o.shm_dir + "/cwts-" + o.instance + ".token");
  }
  Client c(host, hostport.substr(colon + 1), token, tls, o.ca_file);
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  if (method == "top") {
    const int rc = run_top(c, o);
    c.close();
    return rc;
  }
  simdjson::dom::parser p;
  const std::string reply = c.call(method, params);
  const simdjson::dom::element res = result_of(p, reply);
  c.close();
  if (o.json) {
    std::printf("%s\n", simdjson::minify(res).c_str());
    return 0;
  }
  if (method == "symbols") {
    print_table(res,
                {"symbol", "book_valid", "bid", "bid_qty", "ask", "ask_qty", "last", "update_id"});
  } else if (method == "slots") {
    print_table(res, {"slot", "pid", "name", "accepted", "rejected", "last_signal_seq"});
  } else {
    print_object(res);
  }
  return 0;
}
