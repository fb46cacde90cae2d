// HMAC-SHA256 against every test vector of the protocol reference (REST (1)-(3), WS-API), RFC
// 4231's vectors, and OpenSSL's own HMAC() over keys and payloads around the block size.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cwts/binance/request.hpp"
#include "cwts/net/hmac.hpp"

namespace {

using cwts::binance::Param;
using cwts::binance::Request;
using cwts::binance::verify_signature;
using cwts::net::constant_time_equal;
using cwts::net::hmac_sha256_hex;
using cwts::net::HmacSha256;
using cwts::net::signature_matches;

const std::string kApiKey = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const std::string kSecret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

const std::string kPayload1 =
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&"
    "timestamp=1499827319559";
const std::string kSig1 = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71";

TEST(HmacTest, RestVectorOneQueryString) {
  EXPECT_EQ(hmac_sha256_hex(kSecret, kPayload1), kSig1);
  const auto r = Request::parse(kPayload1 + "&signature=" + kSig1, "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().signed_payload(), kPayload1);
  EXPECT_TRUE(verify_signature(r.value(), kSecret).ok());
}

TEST(HmacTest, RestVectorOneSentAsBodyHasTheSameSignature) {
  const auto r = Request::parse("", kPayload1 + "&signature=" + kSig1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().signed_payload(), kPayload1);
  EXPECT_TRUE(verify_signature(r.value(), kSecret).ok());
}

TEST(HmacTest, RestVectorTwoNonAsciiSymbolPercentEncodedBeforeSigning) {
  const std::string payload =
      "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT&"
      "timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
  const std::string sig = "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3";
  EXPECT_EQ(hmac_sha256_hex(kSecret, payload), sig);
  const auto r = Request::parse(payload + "&signature=" + sig, "");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(verify_signature(r.value(), kSecret).ok());
  // The decoded parameter is the UTF-8 text; the signature covers the encoded text.
  EXPECT_EQ(*r.value().find("symbol"), "１２３４５６");
}

TEST(HmacTest, RestVectorThreeMixedQueryAndBodyHaveNoSeparator) {
  const std::string query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC";
  const std::string body = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
  const std::string sig = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77";
  EXPECT_EQ(hmac_sha256_hex(kSecret, query + body), sig);
  const auto r = Request::parse(query, body + "&signature=" + sig);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().signed_payload(),
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTCquantity=1&price=0.1&"
            "recvWindow=5000&timestamp=1499827319559");
  EXPECT_TRUE(verify_signature(r.value(), kSecret).ok());
}

struct WsVector {
  std::vector<Param> params;  // in the order a client might send them
  std::string payload;
  std::string sig;
};

std::vector<WsVector> ws_vectors() {
  return {
      {{{"symbol", "BTCUSDT"},
        {"side", "SELL"},
        {"type", "LIMIT"},
        {"timeInForce", "GTC"},
        {"quantity", "0.01000000"},
        {"price", "52000.00"},
        {"recvWindow", "100"},
        {"timestamp", "1645423376532"},
        {"apiKey", kApiKey}},
       "apiKey=" + kApiKey +
           "&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&"
           "timeInForce=GTC&timestamp=1645423376532&type=LIMIT",
       "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"},
      {{{"symbol", "１２３４５６"},
        {"side", "BUY"},
        {"type", "LIMIT"},
        {"timeInForce", "GTC"},
        {"quantity", "1.00000000"},
        {"price", "0.10000000"},
        {"recvWindow", "5000"},
        {"timestamp", "1645423376532"},
        {"apiKey", kApiKey}},
       "apiKey=" + kApiKey +
           "&price=0.10000000&quantity=1.00000000&recvWindow=5000&side=BUY&symbol=１２３４５６&"
           "timeInForce=GTC&timestamp=1645423376532&type=LIMIT",
       "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd"},
      // order.place doc example.
      {{{"symbol", "BTCUSDT"},
        {"side", "SELL"},
        {"type", "LIMIT"},
        {"timeInForce", "GTC"},
        {"price", "23416.10000000"},
        {"quantity", "0.00847000"},
        {"apiKey", kApiKey},
        {"timestamp", "1660801715431"}},
       "apiKey=" + kApiKey +
           "&price=23416.10000000&quantity=0.00847000&side=SELL&symbol=BTCUSDT&timeInForce=GTC&"
           "timestamp=1660801715431&type=LIMIT",
       "15af09e41c36f3cc61378c2fbe2c33719a03dd5eba8d0f9206fbda44de717c88"},
      // order.cancel doc example.
      {{{"symbol", "BTCUSDT"},
        {"origClientOrderId", "4d96324ff9d44481926157"},
        {"apiKey", kApiKey},
        {"timestamp", "1660801715830"}},
       "apiKey=" + kApiKey +
           "&origClientOrderId=4d96324ff9d44481926157&symbol=BTCUSDT&timestamp=1660801715830",
       "33d5b721f278ae17a52f004a82a6f68a70c68e7dd6776ed0be77a455ab855282"},
      // session.logon doc example.
      {{{"timestamp", "1649729878532"}, {"apiKey", kApiKey}},
       "apiKey=" + kApiKey + "&timestamp=1649729878532",
       "1cf54395b336b0a9727ef27d5d98987962bc47aca6e13fe978612d0adee066ed"},
  };
}

TEST(HmacTest, WsApiVectorsSignTheSortedParams) {
  for (const WsVector& v : ws_vectors()) {
    SCOPED_TRACE(v.sig);
    EXPECT_EQ(hmac_sha256_hex(kSecret, v.payload), v.sig);
    std::vector<Param> params = v.params;
    params.push_back({"signature", v.sig});
    const auto r = Request::from_ws_params(params);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().signed_payload(), v.payload);
    EXPECT_TRUE(verify_signature(r.value(), kSecret).ok());
  }
}

TEST(HmacTest, SignatureComparisonIgnoresCaseOnly) {
  std::string upper = kSig1;
  for (char& c : upper) c = static_cast<char>(c >= 'a' && c <= 'f' ? c - 32 : c);
  EXPECT_TRUE(signature_matches(kSig1, kSig1));
  EXPECT_TRUE(signature_matches(kSig1, upper));
  std::string flipped = kSig1;
  flipped[10] = flipped[10] == '0' ? '1' : '0';
  EXPECT_FALSE(signature_matches(kSig1, flipped));
  EXPECT_FALSE(signature_matches(kSig1, kSig1.substr(0, 63)));
  EXPECT_FALSE(signature_matches(kSig1, kSig1 + "0"));
  EXPECT_FALSE(signature_matches(kSig1, ""));
  // Bytes that a naive "| 0x20" fold would turn into hex digits must not match.
  EXPECT_FALSE(signature_matches("0", std::string(1, '\x10')));
  EXPECT_FALSE(signature_matches("g", "G"));
}

TEST(HmacTest, ConstantTimeEqualComparesBytesAndLengths) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_FALSE(constant_time_equal("abc", "ABC"));
}

TEST(HmacTest, KeyAndPayloadAreCaseSensitive) {
  EXPECT_NE(hmac_sha256_hex(kSecret, kPayload1 + "x"), kSig1);
  std::string key = kSecret;
  key[0] = 'n';
  EXPECT_NE(hmac_sha256_hex(key, kPayload1), kSig1);
}

TEST(HmacTest, Rfc4231Vectors) {
  EXPECT_EQ(hmac_sha256_hex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hmac_sha256_hex(std::string(20, '\xaa'), std::string(50, '\xdd')),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  // Keys longer than the 64-byte block are hashed first.
  EXPECT_EQ(hmac_sha256_hex(std::string(131, '\xaa'),
                            "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(hmac_sha256_hex(std::string(131, '\xaa'),
                            "This is a test using a larger than block-size key and a larger than "
                            "block-size data. The key needs to be hashed before being used by the "
                            "HMAC algorithm."),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

std::string openssl_hmac_hex(const std::string& key, const std::string& payload) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), mac, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex += kHex[mac[i] >> 4];
    hex += kHex[mac[i] & 0x0F];
  }
  return hex;
}

TEST(HmacTest, KeyedSignerEqualsOpenSslHmacAroundTheBlockSize) {
  std::mt19937_64 rng(7);
  auto bytes = [&](std::size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xFF);
    return s;
  };
  for (const std::size_t key_len : {0, 1, 32, 63, 64, 65, 128, 131}) {
    const std::string key = bytes(key_len);
    const HmacSha256 signer(key);
    for (const std::size_t n : {0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000}) {
      const std::string payload = bytes(n);
      const std::string want = openssl_hmac_hex(key, payload);
      EXPECT_EQ(signer.hex(payload), want) << key_len << " " << n;
      EXPECT_EQ(hmac_sha256_hex(key, payload), want);
      // Signed in two parts (the venue signs its query and timestamp without joining them).
      for (const std::size_t cut : {std::size_t{0}, n / 2, n}) {
        std::string out(64, '?');
        signer.sign_hex(std::string_view(payload).substr(0, cut),
                        std::string_view(payload).substr(cut), out.data());
        EXPECT_EQ(out, want);
      }
    }
  }
  // The signer is reusable: the same payload signs the same after other payloads.
  const HmacSha256 signer(kSecret);
  EXPECT_EQ(signer.hex(kPayload1), kSig1);
  EXPECT_NE(signer.hex(kPayload1 + "&x=1"), kSig1);
  EXPECT_EQ(signer.hex(kPayload1), kSig1);
}

}  // namespace
