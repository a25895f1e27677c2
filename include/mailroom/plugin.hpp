// How a provider plugin presents itself to the host.
//
// A plugin is a shared library with one provider class and one export macro:
//
//   #include <mailroom/plugin.hpp>
//   class HelloEmail final : public mailroom::EmailProvider { ... HelloEmail(mailroom::PluginContext&); };
//   MAILROOM_EMAIL_PLUGIN(HelloEmail, R"json({
//     "name": "hello_email",
//     "version": "1.0.0",
//     "description": "Writes each email to the log",
//     "config_schema": { "type": "object", "properties": {}, "additionalProperties": false },
//     "secrets": [],
//     "capabilities": { "max_recipients": 50, "max_message_bytes": 10485760 }
//   })json")
//
// The macro stores the manifest, the SDK's ABI version and the toolchain tag (compiler,
// standard library, Boost and nlohmann_json versions) in the library's ".mailroom_manifest"
// section, which the host reads *before* it loads the library: a plugin built for another ABI
// or toolchain is refused without running any of its code. The manifest object's members:
//   name           [a-z][a-z0-9_]*, unique among loaded plugins (required)
//   version        the plugin's own version, free text (required)
//   description    one line (required)
//   config_schema  JSON Schema (draft-07 subset, see docs/writing-a-plugin.md) of the
//                  non-secret configuration; the host validates every configuration
//                  against it before the factory sees it (required)
//   secrets        names of the secret settings (passwords, API keys); the host keeps them
//                  encrypted and hands them over decrypted in PluginContext::secrets
//   endpoint       the provider's default base URL for PluginContext::http
//   dsn            (email) the DSN schemes this plugin owns, each mapping the URL's parts to
//                  a setting or secret name, with settings the scheme implies:
//                    "dsn": { "hello+api": { "user": "token", "host": "region",
//                                            "defaults": { "tls": "starttls" } } }
//                  parts: "user", "password", "host", "port" (a setting). A host of
//                  "default" counts as absent; query parameters become settings. A scheme
//                  is owned by one loaded plugin only.
//   columns        (email) which of the seed's email_configurations columns mirror a setting
//                  (smtp_host, smtp_port, smtp_username) or a secret (smtp_password_encrypted,
//                  google_oauth_token_encrypted, google_oauth_refresh_token_encrypted,
//                  google_service_account_encrypted); other secrets are kept together,
//                  encrypted, in secrets_encrypted
//   capabilities   what the provider supports; anything not declared is not supported.
//                  email: max_recipients, max_message_bytes (integers), attachments,
//                         open_tracking, click_tracking, webhooks (booleans),
//                         requests_per_second (number: the host paces calls to one
//                         configuration), quota ("none" | "daily_hourly")
//                  dns:   record_types (array of RecordType names), max_batch_size
//                         (integer), requests_per_second (number), record_sets (boolean),
//                         min_ttl, max_ttl (integers)
//
// Rules of the road (Boost.DLL): build with mailroom_add_plugin() (hidden visibility, all
// symbols resolved at link time), with the same compiler family and standard library as the
// host; let no exception other than mailroom::ProviderError escape a provider method.
#pragma once

#include <mailroom/context.hpp>
#include <mailroom/dns_provider.hpp>
#include <mailroom/email_provider.hpp>

#include <boost/dll/alias.hpp>
#include <boost/version.hpp>
#include <nlohmann/json.hpp>

#include <cstddef>
#include <memory>

// The SDK's binary interface version. Raised whenever a type a plugin sees changes layout,
// a virtual function is added, removed or reordered, or the manifest's shape changes
// (2: "dsn", "columns" and the email capability "requests_per_second"; 3: Message::message_id
// and the email capability "sends_in_flight"; 4: DeliveryEvent's email_id and group, and the
// event types accepted, dropped and unsubscribed; 5: PluginContext::credentials and the
// manifest's "credential_column"; 6: verify() returns a VerifyReport, PluginContext::sender,
// the email capabilities "daily_limit" and "hourly_limit"; 7: record sets in Change (values,
// held), ProviderRecord::untouchable and ChangeResult::note; 8: Attachment::content_id
// (inline parts), OutgoingEmail's tags and metadata, the SDK's wire_type() and normal_name()).
#define MAILROOM_ABI_VERSION 8

#if defined(__clang__)
#define MAILROOM_DETAIL_COMPILER_FAMILY "clang"
#elif defined(__GNUC__)
#define MAILROOM_DETAIL_COMPILER_FAMILY "gcc"
#else
#define MAILROOM_DETAIL_COMPILER_FAMILY "unknown-compiler"
#endif

#if defined(_LIBCPP_VERSION)
#define MAILROOM_DETAIL_STDLIB "libc++"
#elif defined(__GLIBCXX__) && defined(_GLIBCXX_USE_CXX11_ABI) && _GLIBCXX_USE_CXX11_ABI
#define MAILROOM_DETAIL_STDLIB "libstdc++/cxx11-abi"
#elif defined(__GLIBCXX__)
#define MAILROOM_DETAIL_STDLIB "libstdc++/old-abi"
#else
#define MAILROOM_DETAIL_STDLIB "unknown-stdlib"
#endif

#define MAILROOM_DETAIL_STRINGIFY2(x) #x
#define MAILROOM_DETAIL_STRINGIFY(x) MAILROOM_DETAIL_STRINGIFY2(x)

// The libraries whose types cross the boundary (nlohmann::json in PluginContext, Boost.DLL's
// aliases): a plugin built against other versions lays them out differently.
#define MAILROOM_DETAIL_LIBRARIES                                                          \
  "boost-" BOOST_LIB_VERSION "+nlohmann_json-" MAILROOM_DETAIL_STRINGIFY(                 \
      NLOHMANN_JSON_VERSION_MAJOR) "." MAILROOM_DETAIL_STRINGIFY(NLOHMANN_JSON_VERSION_MINOR) "." \
      MAILROOM_DETAIL_STRINGIFY(NLOHMANN_JSON_VERSION_PATCH)

// Compiler family, standard library (with its ABI) and the boundary's libraries: what host
// and plugin must share for C++ objects, exceptions and RTTI to cross the library boundary.
#define MAILROOM_TOOLCHAIN_TAG \
  MAILROOM_DETAIL_COMPILER_FAMILY "+" MAILROOM_DETAIL_STDLIB "+" MAILROOM_DETAIL_LIBRARIES

namespace mailroom {

inline constexpr int kAbiVersion = MAILROOM_ABI_VERSION;
inline constexpr const char* kToolchainTag = MAILROOM_TOOLCHAIN_TAG;

// The factories the export macros publish (Boost.DLL aliases in the "mailroom" section).
using EmailProviderFactory = std::unique_ptr<EmailProvider>(PluginContext&);
using DnsProviderFactory = std::unique_ptr<DnsProvider>(PluginContext&);
inline constexpr const char* kEmailFactorySymbol = "mailroom_email_factory";
inline constexpr const char* kDnsFactorySymbol = "mailroom_dns_factory";
inline constexpr const char* kManifestSection = ".mailroom_manifest";
inline constexpr const char* kAliasSection = "mailroom";

}  // namespace mailroom

// Low level: writes a manifest record with explicit ABI version, toolchain tag and kind.
// Plugins use MAILROOM_EMAIL_PLUGIN / MAILROOM_DNS_PLUGIN; the host's own tests use this
// to build plugins that must be refused.
#define MAILROOM_PLUGIN_MANIFEST_RECORD(abi_version, toolchain_tag, kind, manifest_json)   \
  namespace {                                                                              \
  [[gnu::section(".mailroom_manifest"), gnu::used]] const char mailroom_manifest_record[] = \
      "{\"abi_version\":" MAILROOM_DETAIL_STRINGIFY(abi_version) ",\"toolchain\":\""      \
      toolchain_tag "\",\"kind\":\"" kind "\",\"manifest\":" manifest_json "}";             \
  }

#define MAILROOM_EXPORT_EMAIL_FACTORY(ProviderClass)                                         \
  namespace mailroom_plugin_export {                                                       \
  std::unique_ptr<::mailroom::EmailProvider> create_email_provider(                        \
      ::mailroom::PluginContext& context) {                                                \
    return std::make_unique<ProviderClass>(context);                                       \
  }                                                                                        \
  }                                                                                        \
  BOOST_DLL_ALIAS_SECTIONED(mailroom_plugin_export::create_email_provider,                 \
                            mailroom_email_factory, mailroom)

#define MAILROOM_EXPORT_DNS_FACTORY(ProviderClass)                                           \
  namespace mailroom_plugin_export {                                                       \
  std::unique_ptr<::mailroom::DnsProvider> create_dns_provider(                            \
      ::mailroom::PluginContext& context) {                                                \
    return std::make_unique<ProviderClass>(context);                                       \
  }                                                                                        \
  }                                                                                        \
  BOOST_DLL_ALIAS_SECTIONED(mailroom_plugin_export::create_dns_provider,                   \
                            mailroom_dns_factory, mailroom)

// Exports an email provider class (constructible from PluginContext&) with its manifest.
// Use once per plugin, at global scope.
#define MAILROOM_EMAIL_PLUGIN(ProviderClass, manifest_json)                                  \
  MAILROOM_PLUGIN_MANIFEST_RECORD(MAILROOM_ABI_VERSION, MAILROOM_TOOLCHAIN_TAG, "email",   \
                                  manifest_json)                                           \
  MAILROOM_EXPORT_EMAIL_FACTORY(ProviderClass)

// Exports a DNS provider class (constructible from PluginContext&) with its manifest.
#define MAILROOM_DNS_PLUGIN(ProviderClass, manifest_json)                                    \
  MAILROOM_PLUGIN_MANIFEST_RECORD(MAILROOM_ABI_VERSION, MAILROOM_TOOLCHAIN_TAG, "dns",     \
                                  manifest_json)                                           \
  MAILROOM_EXPORT_DNS_FACTORY(ProviderClass)
