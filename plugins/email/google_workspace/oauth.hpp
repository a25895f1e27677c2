// Google's OAuth 2.0 token endpoint, both grants mailroom uses: a refresh token of an OAuth
// client (3-legged consent), and a service account's signed JWT with domain-wide delegation
// (2-legged, `sub` = the user to send as). shared/specs/gmail/GOOGLE_OAUTH2_TOKEN_NOTES.md
// holds the facts and their sources.
#pragma once

#include <mailroom/context.hpp>
#include <mailroom/credentials.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace google_workspace {

inline constexpr std::string_view kTokenEndpoint = "https://oauth2.googleapis.com/token";
inline constexpr std::string_view kSendScope = "https://www.googleapis.com/auth/gmail.send";
// The narrowest scope that reads a user's send-as aliases (users.settings.sendAs.list).
inline constexpr std::string_view kSettingsScope = "https://www.googleapis.com/auth/gmail.settings.basic";

// Unpadded base64url (RFC 4648 section 5), as JWTs and Gmail's `raw` want it.
std::string base64url(std::string_view bytes);

struct RefreshTokenGrant {
  std::string client_id, client_secret, refresh_token;
};

// A service account's JSON key file, as Google hands it out.
struct ServiceAccount {
  std::string client_email, private_key_pem, private_key_id;
  // Reads the key file. Throws ProviderError{invalid_request} naming what is missing.
  static ServiceAccount parse(const std::string& key_file_json);
};

// The signed assertion of the JWT-bearer grant: RS256 over header.claims, `iss` the service
// account, `sub` the user, `aud` the token endpoint, valid one hour from `now`.
std::string signed_assertion(const ServiceAccount& account, const std::string& user, const std::string& scope,
                             const std::string& audience, std::chrono::system_clock::time_point now);

// Asks the token endpoint `token_url` for an access token with one of the grants. Errors are
// ProviderErrors whose message says what the deployer should do: invalid_grant and
// unauthorized_client -> auth; 429, 5xx and network -> transient.
mailroom::Credential obtain(mailroom::PluginContext& context, const std::string& token_url, const RefreshTokenGrant& grant);
mailroom::Credential obtain(mailroom::PluginContext& context, const std::string& token_url, const ServiceAccount& account,
                            const std::string& user, std::string_view scope = kSendScope);

}  // namespace google_workspace
