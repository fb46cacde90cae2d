// Generates the throwaway CA and leaf certificates of the TLS feed tests (OpenSSL 3 API).
#include "test_pki.hpp"

#include <memory>
#include <stdexcept>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace cwts::test {

namespace {

struct Free {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
  void operator()(X509* p) const noexcept { X509_free(p); }
  void operator()(BIO* p) const noexcept { BIO_free(p); }
  void operator()(X509_EXTENSION* p) const noexcept { X509_EXTENSION_free(p); }
};
template <class T>
using Ptr = std::unique_ptr<T, Free>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test pki: ") + what + " failed");
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  Ptr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  check(ext != nullptr, value);
  check(X509_add_ext(cert, ext.get(), -1) == 1, "X509_add_ext");
}

// Unsigned certificate for `key`; self-issued when `issuer` is null.
Ptr<X509> make_cert(EVP_PKEY* key, const char* cn, long serial, X509* issuer) {
  Ptr<X509> x(X509_new());
  check(x != nullptr, "X509_new");
  check(X509_set_version(x.get(), 2) == 1, "X509_set_version");
  check(ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial) == 1, "serial");
  check(X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600) != nullptr, "notBefore");
  check(X509_gmtime_adj(X509_getm_notAfter(x.get()), 24L * 3600) != nullptr, "notAfter");
  check(X509_set_pubkey(x.get(), key) == 1, "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(x.get());
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(cn), -1, -1, 0) == 1,
        "CN");
  check(
      X509_set_issuer_name(x.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name) == 1,
      "issuer");
  return x;
}

std::string pem(X509* x) {
  Ptr<BIO> b(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_X509(b.get(), x) == 1, "PEM_write_bio_X509");
  char* data = nullptr;
  const long n = BIO_get_mem_data(b.get(), &data);
  return {data, static_cast<std::size_t>(n)};
}

std::string pem(EVP_PKEY* k) {
  Ptr<BIO> b(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_PrivateKey(b.get(), k, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "PEM_write_bio_PrivateKey");
  char* data = nullptr;
  const long n = BIO_get_mem_data(b.get(), &data);
  return {data, static_cast<std::size_t>(n)};
}

}  // namespace

TestPki make_test_pki(const std::string& san) {
  Ptr<EVP_PKEY> ca_key(EVP_EC_gen("P-256"));
  Ptr<EVP_PKEY> leaf_key(EVP_EC_gen("P-256"));
  check(ca_key != nullptr && leaf_key != nullptr, "EVP_EC_gen");

  Ptr<X509> ca = make_cert(ca_key.get(), "cwts test CA", 1, nullptr);
  add_ext(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_ext(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(ca.get(), ca.get(), NID_subject_key_identifier, "hash");
  check(X509_sign(ca.get(), ca_key.get(), EVP_sha256()) > 0, "sign CA");

  Ptr<X509> leaf = make_cert(leaf_key.get(), "cwts test server", 2, ca.get());
  add_ext(leaf.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(leaf.get(), ca.get(), NID_key_usage, "critical,digitalSignature");
  add_ext(leaf.get(), ca.get(), NID_ext_key_usage, "serverAuth");
  add_ext(leaf.get(), ca.get(), NID_subject_alt_name, san.c_str());
  check(X509_sign(leaf.get(), ca_key.get(), EVP_sha256()) > 0, "sign leaf");

  TestPki p;
  p.ca_pem = pem(ca.get());
  p.leaf_pem = pem(leaf.get()) + p.ca_pem;
  p.leaf_key_pem = pem(leaf_key.get());
  return p;
}

}  // namespace cwts::test
