// Secrets named by the configuration: the venue's and the gateway's key pairs, the control token
// and the control plane's TLS key.
// Each error names the variable or file, never the secret.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <boost/asio/ip/address.hpp>
#include <openssl/rand.h>

#include "config/config.hpp"
#include "cwts/net/endpoint.hpp"
#include "cwts/net/tls_server.hpp"

namespace cwts::daemon {

namespace {

// The content of a secret file, checked on the open file itself: opened without following a
// symbolic link (O_NOFOLLOW), then fstat: a regular file, owned by this user, not readable or
// writable by group or others. Nothing to swap between the check and the read. Errors name `key`
// and the path, never the content.
std::string read_private_file(const std::string& key, const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    if (err == ELOOP) throw ConfigError(key, path + " is a symbolic link: name the file itself");
    throw ConfigError(key, "cannot open " + path + ": " + std::strerror(err));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw ConfigError(key, "cannot stat " + path);
  if (!S_ISREG(st.st_mode)) throw ConfigError(key, path + " is not a regular file");
  if (st.st_uid != ::geteuid()) throw ConfigError(key, path + " is not owned by this user");
  if ((st.st_mode & 077) != 0) {
    throw ConfigError(key, path + " is readable by group or others: chmod 600 it");
  }
  std::string content;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw ConfigError(key, "cannot read " + path);
    if (n == 0) break;
    content.append(buf, static_cast<std::size_t>(n));
    if (content.size() > 65'536) throw ConfigError(key, path + " is too large for a secret");
  }
  return content;
}

// The first line of `text` from `pos`, without a trailing CR or spaces; pos moves past it.
std::string next_line(const std::string& text, std::size_t& pos) {
  const std::size_t end = std::min(text.find('\n', pos), text.size());
  std::string line = text.substr(pos, end - pos);
  pos = end < text.size() ? end + 1 : end;
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

// A key pair from an owner-only file ("KEY\nSECRET\n") or two environment variables; errors
// name `section`'s keys, never the secret.
Credentials load_key_pair(const std::string& section, const std::string& key_env,
                          const std::string& secret_env, const std::string& file) {
  Credentials c;
  if (!file.empty()) {
    const std::string key = section + ".api_key_file";
    const std::string text = read_private_file(key, file);
    std::size_t pos = 0;
    c.key = next_line(text, pos);
    c.secret = next_line(text, pos);
    if (c.key.empty() || c.secret.empty()) {
      throw ConfigError(key, "must hold the key and the secret on two lines");
    }
    return c;
  }
  const char* k = key_env.empty() ? nullptr : std::getenv(key_env.c_str());
  const char* s = secret_env.empty() ? nullptr : std::getenv(secret_env.c_str());
  if (k == nullptr || *k == '\0') {
    throw ConfigError(section + ".api_key_env", "environment variable " + key_env + " is not set");
  }
  if (s == nullptr || *s == '\0') {
    throw ConfigError(section + ".api_secret_env",
                      "environment variable " + secret_env + " is not set");
  }
  c.key = k;
  c.secret = s;
  return c;
}

}  // namespace

namespace {

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const auto addr = boost::asio::ip::make_address(host, ec);
  return !ec && addr.is_loopback();
}

// Live keys travel only where nobody can read or impersonate the venue: https with the
// certificate verified, unless the venue is on this host (cwts-sim, a local relay).
void check_key_transport(const VenueConfig& v) {
  net::Endpoint rest, ws;
  try {
    rest = net::parse_endpoint(v.rest_url, net::EndpointKind::kHttp);
    ws = net::parse_endpoint(v.ws_url, net::EndpointKind::kWebSocket);
  } catch (const std::exception& e) {
    throw ConfigError("venue.rest_url", e.what());
  }
  if (!rest.tls && !is_loopback_host(rest.host)) {
    throw ConfigError("venue.rest_url", v.rest_url +
                                            " is plain http to another host: signed requests "
                                            "would travel in the clear; use https");
  }
  const std::string ws_api_url = effective_ws_api_url(v);
  if (!ws_api_url.empty()) {
    net::Endpoint api;
    try {
      api = net::parse_endpoint(ws_api_url, net::EndpointKind::kWebSocket);
    } catch (const std::exception& e) {
      throw ConfigError("venue.ws_api_url", e.what());
    }
    if (!api.tls && !is_loopback_host(api.host)) {
      throw ConfigError("venue.ws_api_url", ws_api_url +
                                                " is plain ws to another host: signed requests "
                                                "would travel in the clear; use wss");
    }
    if (!v.tls_verify && !is_loopback_host(api.host)) {
      throw ConfigError("venue.tls_verify",
                        "false is allowed only for a venue on this host (loopback): without it "
                        "anyone on the path could pose as the venue");
    }
  }
  if (!v.tls_verify && !(is_loopback_host(rest.host) && is_loopback_host(ws.host))) {
    throw ConfigError("venue.tls_verify",
                      "false is allowed only for a venue on this host (loopback): without it "
                      "anyone on the path could pose as the venue");
  }
}

}  // namespace

std::string effective_ws_api_url(const VenueConfig& v) {
  if (v.ws_api_url != "auto") return v.ws_api_url;
  net::Endpoint e;
  try {
    e = net::parse_endpoint(v.rest_url, net::EndpointKind::kHttp);
  } catch (const std::exception& ex) {
    throw ConfigError("venue.rest_url", ex.what());
  }
  if (e.tls && e.host.starts_with("api") && e.host.ends_with(".binance.com"))
    return "wss://ws-api.binance.com:443/ws-api/v3";
  if (e.host == "testnet.binance.vision") return "wss://ws-api.testnet.binance.vision/ws-api/v3";
  const bool v6 = e.host.find(':') != std::string::npos;
  return std::string(e.tls ? "wss://" : "ws://") + (v6 ? "[" : "") + e.host + (v6 ? "]" : "") +
         ":" + e.port_string() + e.path + "/ws-api/v3";
}

Credentials load_credentials(const VenueConfig& v) {
  check_key_transport(v);
  return load_key_pair("venue", v.api_key_env, v.api_secret_env, v.api_key_file);
}

Credentials load_gateway_credentials(const GatewayConfig& g) {
  Credentials c = load_key_pair("gateway", g.api_key_env, g.api_secret_env, g.api_key_file);
  if (c.key.size() > 64 || c.secret.size() < 16) {
    throw ConfigError("gateway.api_key_env",
                      "the gateway key must be 1..64 characters and the secret at least 16");
  }
  for (const char ch : c.key) {
    if (std::isalnum(static_cast<unsigned char>(ch)) == 0) {
      throw ConfigError("gateway.api_key_env", "the gateway key must be letters and digits only");
    }
  }
  return c;
}

std::string load_control_token(const ControlConfig& c) {
  if (c.token_file.empty()) return {};
  const std::string text = read_private_file("control.token_file", c.token_file);
  std::size_t pos = 0;
  std::string token = next_line(text, pos);
  if (token.size() < 16)
    throw ConfigError("control.token_file",
                      c.token_file + ": the token must have at least 16 characters");
  return token;
}

std::vector<ControlToken> load_control_tokens(const ControlConfig& c) {
  std::vector<ControlToken> out;
  if (c.tokens_file.empty()) return out;
  const std::string key = "control.tokens_file";
  const std::string text = read_private_file(key, c.tokens_file);
  std::size_t pos = 0;
  for (int line_no = 1; pos < text.size(); ++line_no) {
    std::string line = next_line(text, pos);
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::vector<std::string> words;
    for (std::size_t i = 0; i < line.size();) {
      while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i])) != 0) ++i;
      std::size_t j = i;
      while (j < line.size() && std::isspace(static_cast<unsigned char>(line[j])) == 0) ++j;
      if (j > i) words.push_back(line.substr(i, j - i));
      i = j;
    }
    if (words.empty()) continue;
    const std::string where = c.tokens_file + " line " + std::to_string(line_no);
    if (words.size() != 3) {
      throw ConfigError(key, where +
                                 ": expected \"NAME SCOPES TOKEN\" (e.g. \"alice "
                                 "read,trade:3 <token>\")");
    }
    ControlToken t;
    t.name = words[0];
    t.token = words[2];
    if (!std::all_of(t.name.begin(), t.name.end(), [](char ch) {
          return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '-' || ch == '_' ||
                 ch == '.';
        })) {
      throw ConfigError(key, where + ": a name is letters, digits, '-', '_' and '.'");
    }
    if (t.token.size() < 16) {
      throw ConfigError(key, where + ": the token must have at least 16 characters");
    }
    std::size_t i = 0;
    const std::string& scopes = words[1];
    while (i <= scopes.size()) {
      const std::size_t comma = std::min(scopes.find(',', i), scopes.size());
      const std::string s = scopes.substr(i, comma - i);
      i = comma + 1;
      if (s == "read") {
        t.scopes.read = true;
      } else if (s == "admin") {
        t.scopes.admin = true;
      } else if (s == "trade:*") {
        static_assert(layout::kMaxSlots == 64, "trade scopes are one bit per slot in a u64");
        t.scopes.trade = ~std::uint64_t{0};
      } else if (s.starts_with("trade:") && s.size() > 6 && s.size() <= 8 &&
                 std::all_of(
                     s.begin() + 6, s.end(),
                     [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); }) &&
                 std::stoul(s.substr(6)) < layout::kMaxSlots) {
        t.scopes.trade |= std::uint64_t{1} << std::stoul(s.substr(6));
      } else {
        throw ConfigError(key, where + ": unknown scope \"" + s +
                                   "\" (read, admin, trade:N with N < " +
                                   std::to_string(layout::kMaxSlots) + ", trade:*)");
      }
    }
    for (const auto& other : out) {
      if (other.name == t.name)
        throw ConfigError(key, where + ": the name " + t.name + " is used twice");
      if (other.token == t.token) {
        throw ConfigError(key, where + ": the same token as " + other.name + "'s");
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

void check_control_tls(const ControlConfig& c) {
  if (!c.tls()) return;
  (void)read_private_file("control.tls_key_file", c.tls_key_file);
  try {
    (void)net::make_tls_server_context(c.tls_cert_file, c.tls_key_file);
  } catch (const std::runtime_error& e) {
    const std::string why = e.what();
    const bool key = why.find("private key") != std::string::npos;
    throw ConfigError(key ? "control.tls_key_file" : "control.tls_cert_file", why);
  }
}

std::string write_generated_control_token(const std::string& path) {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    throw std::runtime_error("control: no random bytes for a control token (RAND_bytes)");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  token.reserve(2 * sizeof raw);
  for (const unsigned char b : raw) {
    token += kHex[b >> 4];
    token += kHex[b & 0x0f];
  }
  // A file this user left behind (a crash skips the removal at exit) is replaced; in a sticky
  // directory such as /dev/shm, unlink cannot remove someone else's file, and O_EXCL then refuses
  // it, as it refuses a symbolic link planted there: the token is never written through either.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid()) {
    (void)::unlink(path.c_str());
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    throw std::runtime_error("control: cannot create the token file " + path + ": " +
                             std::strerror(err) +
                             (err == EEXIST ? " (it exists and is not this user's file: remove it "
                                              "or set control.token_file)"
                                            : ""));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  const std::string line = token + "\n";
  // fchmod: the creation mode is masked by the umask, which can only have removed bits; this makes
  // the mode exact whatever the umask.
  if (::fchmod(fd, 0600) != 0 ||
      ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    const int err = errno;
    (void)::unlink(path.c_str());
    throw std::runtime_error("control: cannot write the token file " + path + ": " +
                             std::strerror(err));
  }
  return token;
}

}  // namespace cwts::daemon
