// DNS records as mailroom speaks of them: shared by DNS plugins (what they list and apply)
// and email plugins (the records a sending domain needs).
#pragma once

#include <mailroom/sdk_export.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace mailroom {

// The record types mailroom manages. SPF, DKIM and DMARC are published as TXT records;
// they are distinct types here because mailroom builds and validates them differently.
enum class RecordType { A, AAAA, CNAME, MX, TXT, SPF, DKIM, DMARC };

MAILROOM_SDK_EXPORT std::string_view to_string(RecordType type);
MAILROOM_SDK_EXPORT std::optional<RecordType> record_type_from_string(std::string_view name);

// The type a record has in DNS: SPF, DKIM and DMARC are TXT records; others are themselves.
MAILROOM_SDK_EXPORT RecordType wire_type(RecordType type);

// A domain name as mailroom compares and stores it: lower case, without the trailing dot
// ("Mail.Example.COM." -> "mail.example.com").
MAILROOM_SDK_EXPORT std::string normal_name(std::string_view name);

// A record to exist. `name` is fully qualified without the trailing dot
// ("selector._domainkey.example.com"). TXT-like values are one string: a DNS plugin splits
// them into 255-octet character-strings at its edge. For an email plugin's requirements,
// a record of type SPF holds one SPF mechanism ("include:_spf.google.com") that the host
// merges with the others into the domain's single SPF record.
struct RecordSpec {
  RecordType type = RecordType::TXT;
  std::string name;
  std::string value;
  int ttl = 3600;
  std::optional<int> priority;  // MX only
};

}  // namespace mailroom
