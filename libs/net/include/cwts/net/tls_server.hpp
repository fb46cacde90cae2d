// The TLS server set-up of net::HttpServer (the control plane's https and wss): one place that
// decides the protocol floor and loads the certificate chain and its key.
#pragma once

#include <string>

#include <boost/asio/ssl/context.hpp>

namespace cwts::net {

// A server context: TLS 1.2 or newer, the certificate chain from `cert_file` (PEM, leaf first) and
// its private key from `key_file` (PEM). No client certificates are asked for. Throws
// std::runtime_error naming the file when one cannot be read or parsed, and naming both when the
// key does not belong to the certificate: start-up code.
[[nodiscard]] boost::asio::ssl::context make_tls_server_context(const std::string& cert_file,
                                                                const std::string& key_file);

}  // namespace cwts::net
