#include "crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <memory>
#include <regex>

namespace mailroom::crypto {
namespace {

constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::string_view kPrefix = "v1:";

std::string base64_encode(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

CipherCtx new_ctx() {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) throw CryptoError("OpenSSL could not allocate a cipher context");
  return ctx;
}

bool valid_key_id(std::string_view id) {
  static const std::regex pattern("^[A-Za-z0-9_-]{1,32}$");
  return std::regex_match(id.begin(), id.end(), pattern);
}

}  // namespace

bool base64_decode(std::string_view text, std::string& out) {
  if (text.empty()) {
    out.clear();
    return true;
  }
  if (text.size() % 4 != 0) return false;
  std::string buffer(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(buffer.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return false;
  std::size_t size = static_cast<std::size_t>(n);
  if (text.ends_with("==")) size -= 2;
  else if (text.ends_with("=")) size -= 1;
  buffer.resize(size);
  if (base64_encode(reinterpret_cast<const unsigned char*>(buffer.data()), buffer.size()) != text) return false;
  out = std::move(buffer);
  return true;
}

KeyRing KeyRing::parse(std::string_view text, std::string_view origin) {
  auto trim = [](std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r')) v.remove_suffix(1);
    return v;
  };
  // Split on a separator, calling `each` for every piece (the last one included).
  auto split = [](std::string_view v, char separator, auto&& each) {
    for (std::size_t start = 0;;) {
      const auto end = v.find(separator, start);
      each(v.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
      if (end == std::string_view::npos) break;
      start = end + 1;
    }
  };
  KeyRing ring;
  std::size_t number = 0;
  split(text, '\n', [&](std::string_view line) {
    line = trim(line);
    if (line.empty() || line.front() == '#') return;
    split(line, ',', [&](std::string_view entry) {
      entry = trim(entry);
      if (entry.empty()) return;
      ++number;
      const std::string where = std::string(origin) + ", key " + std::to_string(number);
      const auto colon = entry.find(':');
      if (colon == std::string_view::npos)
        throw CryptoError(where + ": expected <id>:<base64 of 32 bytes> (make one with `mailroom keys generate`)");
      Key key;
      key.id = std::string(entry.substr(0, colon));
      if (!valid_key_id(key.id)) throw CryptoError(where + ": key id must be 1-32 of A-Z a-z 0-9 _ -");
      std::string bytes;
      if (!base64_decode(entry.substr(colon + 1), bytes) || bytes.size() != key.bytes.size())
        throw CryptoError(where + " ('" + key.id + "'): the key must be 32 bytes in canonical base64");
      std::copy(bytes.begin(), bytes.end(), key.bytes.begin());
      ring.add(std::move(key));
    });
  });
  if (ring.empty()) throw CryptoError(std::string(origin) + ": no key");
  return ring;
}

void KeyRing::add(Key key) {
  if (find(key.id) != nullptr) throw CryptoError("key id '" + key.id + "' appears twice");
  keys_.push_back(std::move(key));
}

const Key& KeyRing::newest() const {
  if (keys_.empty()) throw CryptoError("the key ring is empty");
  return keys_.back();
}

const Key* KeyRing::find(std::string_view id) const {
  for (const auto& key : keys_)
    if (key.id == id) return &key;
  return nullptr;
}

std::vector<std::string> KeyRing::ids() const {
  std::vector<std::string> out;
  for (const auto& key : keys_) out.push_back(key.id);
  return out;
}

std::string generate_key_entry(const std::string& id) {
  if (!valid_key_id(id)) throw CryptoError("key id must be 1-32 of A-Z a-z 0-9 _ -");
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) throw CryptoError("OpenSSL has no randomness");
  return id + ":" + base64_encode(bytes.data(), bytes.size());
}

std::string generate_dkim_key(const std::string& algorithm) {
  EVP_PKEY* key = nullptr;
  if (algorithm == "rsa") key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  else if (algorithm == "ed25519") key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  else throw CryptoError("DKIM key algorithm '" + algorithm + "' is not rsa or ed25519");
  if (key == nullptr) throw CryptoError("OpenSSL could not generate a " + algorithm + " key");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> owned(key, EVP_PKEY_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    throw CryptoError("OpenSSL could not write the key");
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

namespace {

std::string base64url(const unsigned char* data, std::size_t size) {
  std::string out = base64_encode(data, size);
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

std::string purpose_mac(const Key& key, std::string_view purpose, std::string_view message) {
  unsigned char derived[EVP_MAX_MD_SIZE], mac[EVP_MAX_MD_SIZE];
  unsigned int derived_size = 0, mac_size = 0;
  const std::string label = "mailroom:" + std::string(purpose);
  HMAC(EVP_sha256(), key.bytes.data(), static_cast<int>(key.bytes.size()), reinterpret_cast<const unsigned char*>(label.data()),
       label.size(), derived, &derived_size);
  HMAC(EVP_sha256(), derived, static_cast<int>(derived_size), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), mac, &mac_size);
  OPENSSL_cleanse(derived, sizeof derived);
  return base64url(mac, mac_size);
}

}  // namespace

std::string SecretBox::sign(std::string_view purpose, std::string_view message) const {
  const Key& key = ring_.newest();
  return key.id + "." + purpose_mac(key, purpose, message);
}

bool SecretBox::verify(std::string_view purpose, std::string_view message, std::string_view tag) const {
  const auto dot = tag.find('.');
  if (dot == std::string_view::npos) return false;
  const Key* key = ring_.find(tag.substr(0, dot));
  if (key == nullptr) return false;
  const std::string expected = purpose_mac(*key, purpose, message);
  const std::string_view given = tag.substr(dot + 1);
  return given.size() == expected.size() && CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

std::string random_bytes(std::size_t count) {
  std::string raw(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(count)) != 1)
    throw CryptoError("OpenSSL has no randomness");
  return raw;
}

std::string random_token(std::size_t bytes) {
  const std::string raw = random_bytes(bytes);
  return base64url(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

std::string base64_encode(std::string_view bytes) {
  return base64_encode(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

std::string hmac_sha256(std::string_view key, std::string_view message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), mac, &size);
  return std::string(reinterpret_cast<const char*>(mac), size);
}

std::string associated_data(std::string_view table, std::string_view column, std::string_view row_id) {
  return "mailroom:" + std::string(table) + "." + std::string(column) + ":" + std::string(row_id);
}

SecretBox::SecretBox(KeyRing ring) : ring_(std::move(ring)) { ring_.newest(); }

std::string SecretBox::seal(std::string_view plaintext, std::string_view ad) const {
  const Key& key = ring_.newest();
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(nonce, kNonceBytes) != 1) throw CryptoError("OpenSSL has no randomness");
  auto ctx = new_ctx();
  int len = 0;
  bool ok = EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
            EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.bytes.data(), nonce) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(ad.data()),
                              static_cast<int>(ad.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nonce + kNonceBytes, &len,
                              reinterpret_cast<const unsigned char*>(plaintext.data()),
                              static_cast<int>(plaintext.size())) == 1 &&
            EVP_EncryptFinal_ex(ctx.get(), nonce + kNonceBytes + len, &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                                nonce + kNonceBytes + plaintext.size()) == 1;
  if (!ok) throw CryptoError("encryption failed");
  return std::string(kPrefix) + key.id + ":" +
         base64_encode(reinterpret_cast<const unsigned char*>(out.data()), out.size());
}

std::string SecretBox::key_id_of(std::string_view sealed) {
  if (!sealed.starts_with(kPrefix)) return "";
  sealed.remove_prefix(kPrefix.size());
  const auto colon = sealed.find(':');
  return colon == std::string_view::npos ? "" : std::string(sealed.substr(0, colon));
}

std::string SecretBox::open(std::string_view sealed, std::string_view ad) const {
  const std::string key_id = key_id_of(sealed);
  if (key_id.empty()) throw CryptoError("not an encrypted value (expected v1:<key id>:<base64>)");
  const Key* key = ring_.find(key_id);
  if (key == nullptr)
    throw CryptoError("sealed under key '" + key_id + "', which is not in the key ring (loaded: " + [&] {
      std::string ids;
      for (const auto& id : ring_.ids()) ids += (ids.empty() ? "" : ", ") + id;
      return ids;
    }() + ")");
  std::string raw;
  if (!base64_decode(sealed.substr(kPrefix.size() + key_id.size() + 1), raw) || raw.size() < kNonceBytes + kTagBytes)
    throw CryptoError("malformed encrypted value under key '" + key_id + "'");
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  const std::size_t text_size = raw.size() - kNonceBytes - kTagBytes;
  std::string plaintext(text_size, '\0');
  std::array<unsigned char, kTagBytes> tag{};
  std::copy(bytes + kNonceBytes + text_size, bytes + raw.size(), tag.begin());
  auto ctx = new_ctx();
  int len = 0;
  bool ok = EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
            EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key->bytes.data(), bytes) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(ad.data()),
                              static_cast<int>(ad.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plaintext.data()), &len,
                              bytes + kNonceBytes, static_cast<int>(text_size)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) == 1 &&
            EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plaintext.data()) + len, &len) == 1;
  if (!ok)
    throw CryptoError("an encrypted value under key '" + key_id +
                      "' failed authentication: it was altered, or belongs to another row or column");
  return plaintext;
}

}  // namespace mailroom::crypto
