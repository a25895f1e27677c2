// Secrets at rest: AES-256-GCM (OpenSSL), a fresh random 96-bit nonce per value, and
// associated data naming the table, column and row, so a ciphertext copied to another row
// or column does not decrypt. Stored form: "v1:<key id>:<base64(nonce || ciphertext || tag)>".
//
// Keys: a key ring of one or more 256-bit keys, each with an id; new values are sealed
// under the newest (last) key, and any key in the ring opens the values sealed under it.
// Text form of a ring: entries "<id>:<base64 of 32 bytes>", separated by newlines or commas
// (MAILROOM_MASTER_KEY, or the lines of master_key.file; '#' starts a comment line).
#pragma once

#include <array>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mailroom::crypto {

// Messages name the key id or the place, never a secret.
class CryptoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Key {
  std::string id;  // [A-Za-z0-9_-]{1,32}
  std::array<unsigned char, 32> bytes{};
};

class KeyRing {
 public:
  // `origin` names where the text came from, for error messages.
  static KeyRing parse(std::string_view text, std::string_view origin);

  void add(Key key);  // throws on a duplicate id
  const Key& newest() const;
  const Key* find(std::string_view id) const;
  bool empty() const { return keys_.empty(); }
  std::vector<std::string> ids() const;

 private:
  std::vector<Key> keys_;
};

// Strict base64 (RFC 4648 section 4): only the canonical form decodes, no line breaks or
// spaces; false for anything else. Empty text is no bytes.
bool base64_decode(std::string_view text, std::string& out);

// Canonical base64 (RFC 4648 section 4, padded) of `bytes`.
std::string base64_encode(std::string_view bytes);
// HMAC-SHA256 of `message` under `key`: the 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view message);
// `count` bytes from OpenSSL's generator.
std::string random_bytes(std::size_t count);
// A new random key as one ring entry: "<id>:<base64>".
std::string generate_key_entry(const std::string& id);

// `bytes` random bytes, base64url without padding: API tokens and the like.
std::string random_token(std::size_t bytes);

// A new DKIM signing key as PEM (PKCS#8): "rsa" (2048 bits) or "ed25519".
std::string generate_dkim_key(const std::string& algorithm);

// "mailroom:<table>.<column>:<row id>"
std::string associated_data(std::string_view table, std::string_view column, std::string_view row_id);

class SecretBox {
 public:
  explicit SecretBox(KeyRing ring);

  std::string seal(std::string_view plaintext, std::string_view associated_data) const;
  // Throws CryptoError when the value is malformed, its key is not in the ring, or it was
  // altered or moved (authentication fails).
  std::string open(std::string_view sealed, std::string_view associated_data) const;

  // An unforgeable tag of `message` for one `purpose` ("unsubscribe"): "<key id>.<base64url of
  // HMAC-SHA256>" under a key derived from the newest master key for that purpose alone
  // (HMAC(master key, "mailroom:" + purpose)), so a master key never signs two kinds of thing.
  std::string sign(std::string_view purpose, std::string_view message) const;
  // Whether `tag` is what sign(purpose, message) gives under any key of the ring (compared in
  // constant time). A tag of a key since removed from the ring no longer verifies.
  bool verify(std::string_view purpose, std::string_view message, std::string_view tag) const;

  const KeyRing& ring() const { return ring_; }
  // The key id a sealed value names, or "" when it is not of the v1 form.
  static std::string key_id_of(std::string_view sealed);

 private:
  KeyRing ring_;
};

}  // namespace mailroom::crypto
