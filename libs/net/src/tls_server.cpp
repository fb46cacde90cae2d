#include "cwts/net/tls_server.hpp"

#include <stdexcept>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace cwts::net {

namespace ssl = boost::asio::ssl;

namespace {

// OpenSSL's reason for the last failure ("No such file or directory", "no start line", ...), and
// the error queue emptied so that it cannot blame a later operation.
std::string openssl_reason() {
  unsigned long last = 0;
  while (const unsigned long e = ERR_get_error()) last = e;
  if (last == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(last);
  return reason != nullptr ? reason : "error " + std::to_string(last);
}

}  // namespace

ssl::context make_tls_server_context(const std::string& cert_file, const std::string& key_file) {
  ssl::context ctx(ssl::context::tls_server);
  SSL_CTX* native = ctx.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(
      native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(native, cert_file.c_str()) != 1) {
    throw std::runtime_error("cannot load the TLS certificate chain " + cert_file + ": " +
                             openssl_reason());
  }
  if (SSL_CTX_use_PrivateKey_file(native, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    const std::string reason = openssl_reason();
    throw std::runtime_error("cannot load the TLS private key " + key_file + ": " + reason);
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    throw std::runtime_error("the TLS private key " + key_file +
                             " does not belong to the certificate " + cert_file);
  }
  return ctx;
}

}  // namespace cwts::net
