#include "webhooks.hpp"

#include <algorithm>

namespace mailroom::webhooks {
namespace {

constexpr std::string_view kSecretPrefix = "whsec_";

std::string secret_key(const std::string& secret) {
  std::string key;
  if (!secret.starts_with(kSecretPrefix) || !crypto::base64_decode(secret.substr(kSecretPrefix.size()), key) ||
      key.size() < 24)
    throw InvalidRequest("secret", "a signing secret must be whsec_ followed by the base64 of 24 to 64 bytes");
  return key;
}

}  // namespace

std::string new_signing_secret() { return std::string(kSecretPrefix) + crypto::base64_encode(crypto::random_bytes(32)); }

std::string signature_header(const std::vector<std::string>& secrets, const std::string& id, long long timestamp,
                             const std::string& body) {
  const std::string signed_content = id + "." + std::to_string(timestamp) + "." + body;
  std::string header;
  for (const auto& secret : secrets)
    header += (header.empty() ? "v1," : " v1,") + crypto::base64_encode(crypto::hmac_sha256(secret_key(secret), signed_content));
  return header;
}

std::string secret_associated_data(const std::string& subscription_id, bool previous) {
  return crypto::associated_data("webhook_subscriptions", previous ? "previous_secret_encrypted" : "secret_encrypted",
                                 subscription_id);
}

Subscriptions::Subscriptions(db::Pool& pool, const crypto::SecretBox& box, TargetPolicy policy,
                             resolver::Resolver& resolver)
    : repo_(pool), box_(box), policy_(policy), resolver_(resolver) {}

void Subscriptions::check_url(const std::string& url) {
  if (url.empty()) throw InvalidRequest("url", "url is required: the https:// address mailroom POSTs events to");
  if (url.size() > 2048) throw InvalidRequest("url", "url must be at most 2,048 characters");
  if (const auto target = resolve_target(url, policy_, resolver_); !target.refusal.empty())
    throw InvalidRequest("url", "url refused: " + target.refusal);
}

void Subscriptions::check_event_types(const std::vector<std::string>& event_types) {
  if (event_types.empty()) throw InvalidRequest("event_types", "event_types must name at least one event type");
  for (const auto& type : event_types)
    if (std::find(kEventTypes.begin(), kEventTypes.end(), type) == kEventTypes.end()) {
      std::string known;
      for (const auto& k : kEventTypes) known += (known.empty() ? "" : ", ") + k;
      throw InvalidRequest("event_types", "unknown event type '" + type + "' (known: " + known + ")");
    }
}

CreatedSubscription Subscriptions::create(const std::string& user_id, const SubscriptionInput& input,
                                          const std::string& actor_id) {
  CreatedSubscription created;
  auto& row = created.row;
  row.user_id = user_id;
  row.url = input.url;
  row.event_types = input.event_types.empty() ? kEventTypes : input.event_types;
  row.description = input.description;
  check_event_types(row.event_types);
  if (row.description.size() > 500) throw InvalidRequest("description", "description must be at most 500 characters");
  check_url(row.url);
  row.id = repo_.new_id();
  created.secret = new_signing_secret();
  row.secret_sealed = box_.seal(created.secret, secret_associated_data(row.id, false));
  repo_.create(row, actor_id);
  created.row = repo_.find(row.id).value_or(row);
  return created;
}

void Subscriptions::update(db::WebhookSubscription& row, const std::string& actor_id) {
  check_event_types(row.event_types);
  if (row.status != "active" && row.status != "paused")
    throw InvalidRequest("status", "status must be active or paused");
  if (row.description.size() > 500) throw InvalidRequest("description", "description must be at most 500 characters");
  // A changed URL is checked now; an unchanged one is checked at every delivery anyway, and
  // pausing must work even while its name does not resolve.
  const auto stored = repo_.find(row.id);
  if (!stored || stored->url != row.url) check_url(row.url);
  if (row.status == "paused" && row.paused_reason.empty()) row.paused_reason = "paused by its owner";
  repo_.update(row, actor_id);
  row = repo_.find(row.id).value_or(row);
}

std::string Subscriptions::rotate(const db::WebhookSubscription& row, long grace_seconds, const std::string& actor_id) {
  const std::string secret = new_signing_secret();
  std::string previous;
  if (grace_seconds > 0)
    previous = box_.seal(box_.open(row.secret_sealed, secret_associated_data(row.id, false)),
                         secret_associated_data(row.id, true));
  repo_.rotate(row.id, box_.seal(secret, secret_associated_data(row.id, false)), previous, grace_seconds, actor_id);
  return secret;
}

}  // namespace mailroom::webhooks
