// Microsoft Entra ID's OAuth 2.0 client-credentials grant, the token Azure Resource Manager
// takes: POST {authority}/{tenant}/oauth2/v2.0/token with the app's id and secret and the scope
// {resource}/.default. shared/specs/azure_dns/ENTRA_ID_CLIENT_CREDENTIALS_NOTES.md holds the
// facts and their sources.
#pragma once

#include <mailroom/context.hpp>
#include <mailroom/credentials.hpp>

#include <string>

namespace azure_dns::entra {

struct ClientCredentials {
  std::string authority;  // "https://login.microsoftonline.com"; sovereign clouds have their own
  std::string tenant_id;  // the directory's GUID or one of its domain names
  std::string client_id;  // the app registration's application (client) id
  std::string client_secret;
  std::string scope;      // "https://management.azure.com/.default"
};

// Asks for an access token. An Entra ID refusal throws ProviderError{auth} whose code is the
// AADSTS number and whose message says what the deployer should change; a throttled or failing
// endpoint throws rate_limited or transient. The secret never appears in what is thrown.
mailroom::Credential obtain(mailroom::PluginContext& context, const ClientCredentials& credentials);

// What an AADSTS error code means for the deployer ("" when the code is not one mailroom knows).
std::string advice(long code, const ClientCredentials& credentials);

}  // namespace azure_dns::entra
