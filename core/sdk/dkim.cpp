#include <mailroom/dkim.hpp>
#include <mailroom/error.hpp>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <memory>

namespace mailroom::dkim {
namespace {

[[noreturn]] void fail(const std::string& why) { throw ProviderError(ErrorKind::invalid_request, "dkim", why); }

std::string b64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string sha256(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(digest), size);
}

bool wsp(char c) { return c == ' ' || c == '\t'; }

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

Key read_key(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) fail("the DKIM private key is not a PEM private key");
  const int type = EVP_PKEY_base_id(key.get());
  if (type != EVP_PKEY_RSA && type != EVP_PKEY_ED25519) fail("the DKIM key must be RSA or Ed25519");
  return key;
}

// RFC 6376 3.4.2: lower-case name, unfolded value, runs of white space as one space,
// none around the colon or at the end.
std::string relaxed_header(std::string_view field) {
  const auto colon = field.find(':');
  std::string name(field.substr(0, colon));
  while (!name.empty() && wsp(name.back())) name.pop_back();
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string value;
  bool space = false;
  for (char c : field.substr(colon + 1)) {
    if (c == '\r' || c == '\n') continue;
    if (wsp(c)) {
      space = true;
      continue;
    }
    if (space && !value.empty()) value += ' ';
    space = false;
    value += c;
  }
  return name + ":" + value;
}

// The header fields in order, each with its continuation lines, without the final CRLF.
std::vector<std::string> header_fields(std::string_view headers) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  while (start < headers.size()) {
    std::size_t end = headers.find("\r\n", start);
    if (end == std::string_view::npos) end = headers.size();
    const std::string_view line = headers.substr(start, end - start);
    if (!line.empty() && wsp(line.front()) && !fields.empty()) fields.back() += "\r\n" + std::string(line);
    else if (!line.empty()) fields.emplace_back(line);
    start = end + 2;
  }
  return fields;
}

std::string lower_name(const std::string& field) {
  std::string name = field.substr(0, field.find(':'));
  while (!name.empty() && wsp(name.back())) name.pop_back();
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  return name;
}

std::string sign_bytes(EVP_PKEY* key, std::string_view data) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const bool ed25519 = EVP_PKEY_base_id(key) == EVP_PKEY_ED25519;
  // ed25519-sha256 signs the SHA-256 of the data with PureEdDSA (RFC 8463 section 3).
  const std::string input = ed25519 ? sha256(data) : std::string(data);
  if (EVP_DigestSignInit(ctx.get(), nullptr, ed25519 ? nullptr : EVP_sha256(), nullptr, key) != 1)
    fail("cannot start the DKIM signature");
  std::size_t size = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(input.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &size, bytes, input.size()) != 1) fail("cannot size the DKIM signature");
  std::string signature(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size, bytes, input.size()) != 1)
    fail("cannot make the DKIM signature");
  signature.resize(size);
  return b64(reinterpret_cast<const unsigned char*>(signature.data()), signature.size());
}

// Folds a DKIM-Signature value at its "; " separators, and b= / bh= every 64 characters.
std::string fold(const std::string& value) {
  std::string out;
  std::size_t line = std::string("DKIM-Signature: ").size();
  std::size_t start = 0;
  while (start < value.size()) {
    std::size_t end = value.find("; ", start);
    std::string tag = value.substr(start, end == std::string::npos ? std::string::npos : end - start + 1);
    start = end == std::string::npos ? value.size() : end + 2;
    if (line + tag.size() > 76 && line > 0) {
      out += "\r\n\t";
      line = 1;
    } else if (!out.empty()) {
      out += ' ';
      ++line;
    }
    // Only base64 values may carry folding white space inside them (RFC 6376 3.5).
    const bool base64_tag = tag.rfind("b=", 0) == 0 || tag.rfind("bh=", 0) == 0;
    while (base64_tag && tag.size() > 72) {
      out += tag.substr(0, 64) + "\r\n\t";
      tag = tag.substr(64);
      line = 1;
    }
    out += tag;
    line += tag.size();
  }
  return out;
}

}  // namespace

std::string relaxed_body(std::string_view body) {
  std::string out;
  std::size_t start = 0;
  std::size_t kept = 0;  // length of `out` up to the last non-empty line
  while (start < body.size()) {
    std::size_t end = body.find("\r\n", start);
    const bool last = end == std::string_view::npos;
    if (last) end = body.size();
    std::string line;
    bool space = false;
    for (char c : body.substr(start, end - start)) {
      if (wsp(c)) {
        space = true;
        continue;
      }
      if (space) line += ' ';
      space = false;
      line += c;
    }
    out += line + "\r\n";
    if (!line.empty()) kept = out.size();
    start = last ? body.size() : end + 2;
  }
  out.resize(kept);  // empty lines at the end are dropped; an empty body stays empty
  return out;
}

std::string body_hash(std::string_view body) {
  const std::string digest = sha256(relaxed_body(body));
  return b64(reinterpret_cast<const unsigned char*>(digest.data()), digest.size());
}

std::string sign(std::string_view message, const SigningKey& key, std::chrono::system_clock::time_point now) {
  if (key.domain.empty() || key.selector.empty()) fail("DKIM signing needs a domain and a selector");
  const Key pkey = read_key(key.private_key_pem);
  const auto split = message.find("\r\n\r\n");
  const std::string_view headers = split == std::string_view::npos ? message : message.substr(0, split + 2);
  const std::string_view body = split == std::string_view::npos ? std::string_view() : message.substr(split + 4);

  // h=: each listed field once per occurrence, the last occurrence first (RFC 6376 5.4.2).
  auto fields = header_fields(headers);
  std::vector<std::string> signed_names;
  std::string hashed;
  bool has_from = false;
  for (const auto& name : key.headers) {
    for (auto it = fields.rbegin(); it != fields.rend(); ++it) {
      if (lower_name(*it) != name) continue;
      hashed += relaxed_header(*it) + "\r\n";
      signed_names.push_back(name);
      has_from = has_from || name == "from";
    }
  }
  if (!has_from) fail("the message has no From header to sign");

  std::string names;
  for (const auto& n : signed_names) names += (names.empty() ? "" : ":") + n;
  const auto timestamp = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const bool ed25519 = EVP_PKEY_base_id(pkey.get()) == EVP_PKEY_ED25519;
  const std::string value = "v=1; a=" + std::string(ed25519 ? "ed25519-sha256" : "rsa-sha256") +
                            "; c=relaxed/relaxed; d=" + key.domain + "; s=" + key.selector +
                            "; t=" + std::to_string(timestamp) + "; h=" + names + "; bh=" + body_hash(body) + "; b=";
  const std::string unsigned_field = "DKIM-Signature: " + fold(value);
  hashed += relaxed_header(unsigned_field);  // with an empty b= and no trailing CRLF
  return "DKIM-Signature: " + fold(value + sign_bytes(pkey.get(), hashed)) + "\r\n";
}

std::string dns_record(const std::string& private_key_pem) {
  const Key key = read_key(private_key_pem);
  if (EVP_PKEY_base_id(key.get()) == EVP_PKEY_ED25519) {
    unsigned char raw[32];
    std::size_t size = sizeof raw;
    EVP_PKEY_get_raw_public_key(key.get(), raw, &size);
    return "v=DKIM1; k=ed25519; p=" + b64(raw, size);
  }
  unsigned char* der = nullptr;
  const int size = i2d_PUBKEY(key.get(), &der);
  if (size <= 0) fail("cannot encode the DKIM public key");
  std::string record = "v=DKIM1; k=rsa; p=" + b64(der, static_cast<std::size_t>(size));
  OPENSSL_free(der);
  return record;
}

}  // namespace mailroom::dkim
