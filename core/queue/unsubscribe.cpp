// One-click unsubscription (RFC 8058): the List-Unsubscribe URL of an email carries a token that
// only this deployment can make (an HMAC under a master key, crypto::SecretBox::sign), so the URL
// cannot be guessed from an email id or altered to unsubscribe someone else.
#include "queue.hpp"


namespace mailroom::queue {
namespace {

constexpr std::string_view kPurpose = "unsubscribe";

}  // namespace

std::string unsubscribe_token(const crypto::SecretBox& box, const std::string& email_id) {
  return email_id + "." + box.sign(kPurpose, email_id);
}

std::optional<std::string> unsubscribe_email_id(const crypto::SecretBox& box, const std::string& token) {
  const auto dot = token.find('.');
  if (dot != 36) return std::nullopt;  // "<uuid>.<key id>.<mac>"
  const std::string email_id = token.substr(0, dot);
  if (!box.verify(kPurpose, email_id, token.substr(dot + 1))) return std::nullopt;
  return email_id;
}

std::vector<std::pair<std::string, std::string>> list_unsubscribe_headers(const std::string& public_url,
                                                                          const std::string& token,
                                                                          const std::string& mailto) {
  std::string base = public_url;
  if (!base.empty() && base.back() == '/') base.pop_back();
  std::string value = "<" + base + "/v1/unsubscribe/" + token + ">";
  if (!mailto.empty()) value += ", <mailto:" + mailto + "?subject=unsubscribe>";
  return {{"List-Unsubscribe", value}, {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"}};
}

}  // namespace mailroom::queue
