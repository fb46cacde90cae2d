// The TLS client set-up every outgoing connection uses (feed, REST venue, start-up GETs): one
// place that decides the protocol floor, peer verification, SNI and host-name checks.
#pragma once

#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>
#include <openssl/ssl.h>

#include "cwts/net/endpoint.hpp"

namespace cwts::net {

struct TlsClientOptions {
  bool verify_peer = true;  // off only for tests against self-signed servers; callers warn
  std::string ca_file;      // PEM bundle; empty: the system's default store
};

// A client context: TLS 1.2 or newer; with verify_peer, the peer's chain must verify against
// `ca_file` (or the system store). Throws boost::system::system_error if `ca_file` cannot be
// read: start-up code.
[[nodiscard]] boost::asio::ssl::context make_tls_client_context(const TlsClientOptions& options);

// Per connection, before the handshake: SNI and host-name verification for a name, IP-address
// verification for an IP literal (no SNI for an IP: RFC 6066 forbids it; the certificate must
// carry the address as an IP SAN). False if OpenSSL refused the settings.
[[nodiscard]] bool prepare_tls_connection(SSL* ssl, const Endpoint& endpoint);

// `ec`'s message plus, after a failed verification, OpenSSL's reason ("certificate verify
// failed" alone does not say whether the issuer is unknown, the name does not match, ...).
[[nodiscard]] std::string tls_error(SSL* ssl, boost::system::error_code ec);

}  // namespace cwts::net
