#include "cwts/net/tls_client.hpp"

#include <openssl/x509_vfy.h>

namespace cwts::net {

namespace ssl = boost::asio::ssl;

ssl::context make_tls_client_context(const TlsClientOptions& options) {
  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  if (options.verify_peer) {
    ctx.set_verify_mode(ssl::verify_peer);
    if (options.ca_file.empty()) {
      ctx.set_default_verify_paths();
    } else {
      ctx.load_verify_file(options.ca_file);
    }
  } else {
    ctx.set_verify_mode(ssl::verify_none);
  }
  return ctx;
}

bool prepare_tls_connection(SSL* ssl, const Endpoint& endpoint) {
  if (endpoint.host_is_ip()) {
    return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), endpoint.host.c_str()) == 1;
  }
  if (SSL_set_tlsext_host_name(ssl, endpoint.host.c_str()) != 1) return false;
  return SSL_set1_host(ssl, endpoint.host.c_str()) == 1;
}

std::string tls_error(SSL* ssl, boost::system::error_code ec) {
  std::string msg = ec.message();
  const long v = SSL_get_verify_result(ssl);
  if (v != X509_V_OK) {
    msg += " (";
    msg += X509_verify_cert_error_string(v);
    msg += ")";
  }
  return msg;
}

}  // namespace cwts::net
