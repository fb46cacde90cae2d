// Secrets named by the configuration: the venue's and the gateway's key pairs, the control token.
// Each error names the variable or file, never the secret.
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>

#include "config/config.hpp"

namespace cwts::daemon {

namespace {

// A key pair from an owner-only file ("KEY\nSECRET\n") or two environment variables; errors
// name `section`'s keys, never the secret.
Credentials load_key_pair(const std::string& section, const std::string& key_env,
                          const std::string& secret_env, const std::string& file) {
  Credentials c;
  if (!file.empty()) {
    const std::string key = section + ".api_key_file";
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) throw ConfigError(key, "cannot stat " + file);
    if ((st.st_mode & 077) != 0)
      throw ConfigError(key, file + " is readable by others: chmod 600 it");
    if (st.st_uid != ::geteuid()) throw ConfigError(key, file + " is not owned by this user");
    std::ifstream in(file);
    std::getline(in, c.key);
    std::getline(in, c.secret);
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

Credentials load_credentials(const VenueConfig& v) {
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
  struct stat st {};
  if (::stat(c.token_file.c_str(), &st) != 0)
    throw ConfigError("control.token_file", "cannot stat " + c.token_file);
  if ((st.st_mode & 077) != 0) {
    throw ConfigError("control.token_file",
                      c.token_file + " must not be readable by group or others (chmod 600)");
  }
  std::ifstream in(c.token_file);
  std::string token;
  if (!in || !std::getline(in, token))
    throw ConfigError("control.token_file", "cannot read " + c.token_file);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.size() < 16)
    throw ConfigError("control.token_file",
                      c.token_file + ": the token must have at least 16 characters");
  return token;
}

}  // namespace cwts::daemon
