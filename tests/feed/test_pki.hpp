// Throwaway test PKI: a CA and a leaf certificate it signs, generated in memory with OpenSSL,
// so the TLS tests need no key material in the repository.
#pragma once

#include <string>

namespace cwts::test {

struct TestPki {
  std::string ca_pem;        // the trust anchor a client loads as ca_file
  std::string leaf_pem;      // leaf then CA: the chain the server presents
  std::string leaf_key_pem;  // the leaf's private key (PKCS#8 PEM)
};

// `san`: the leaf's subjectAltName in OpenSSL syntax, e.g. "IP:127.0.0.1" or
// "DNS:other.example". Throws std::runtime_error if OpenSSL fails.
[[nodiscard]] TestPki make_test_pki(const std::string& san);

}  // namespace cwts::test
