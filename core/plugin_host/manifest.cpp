// Reading a plugin's manifest without running any of its code.
#include "plugin_host.hpp"

#include "json_schema.hpp"

#include <boost/dll/library_info.hpp>

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace mailroom::plugin_host {
namespace {

using nlohmann::json;

// The manifest's own schema: what a plugin author must write, checked with the same
// validator as configurations.
const char* const kManifestSchema = R"json({
  "type": "object",
  "required": ["name", "version", "description", "config_schema"],
  "additionalProperties": false,
  "properties": {
    "name": { "type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$" },
    "version": { "type": "string", "minLength": 1, "maxLength": 64 },
    "description": { "type": "string", "minLength": 1, "maxLength": 200 },
    "endpoint": { "type": "string", "pattern": "^https?://" },
    "config_schema": { "type": ["object", "boolean"] },
    "secrets": { "type": "array", "uniqueItems": true,
                 "items": { "type": "string", "pattern": "^[a-z][a-z0-9_]*$" } },
    "dsn": { "type": "object",
      "propertyNames": { "pattern": "^[a-z][a-z0-9+.-]{0,31}$" },
      "additionalProperties": {
        "type": "object",
        "additionalProperties": false,
        "properties": {
          "user": { "type": "string" }, "password": { "type": "string" },
          "host": { "type": "string" }, "port": { "type": "string" },
          "defaults": { "type": "object" }
        }
      } },
    "columns": { "type": "object", "additionalProperties": false,
      "properties": {
        "smtp_host": { "type": "string" }, "smtp_port": { "type": "string" },
        "smtp_username": { "type": "string" }, "smtp_password_encrypted": { "type": "string" },
        "google_oauth_token_encrypted": { "type": "string" },
        "google_oauth_refresh_token_encrypted": { "type": "string" },
        "google_service_account_encrypted": { "type": "string" }
      } },
    "credential_column": { "enum": ["google_oauth_token_encrypted"],
                           "description": "the seed's column for a short-lived token the plugin obtains (CredentialCache)" },
    "capabilities": { "type": "object" }
  }
})json";

const char* const kEmailCapabilitiesSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "max_recipients": { "type": "integer", "minimum": 1 },
    "max_message_bytes": { "type": "integer", "minimum": 0 },
    "attachments": { "type": "boolean" },
    "open_tracking": { "type": "boolean" },
    "click_tracking": { "type": "boolean" },
    "webhooks": { "type": "boolean" },
    "requests_per_second": { "type": "number", "exclusiveMinimum": 0 },
    "sends_in_flight": { "type": "integer", "minimum": 1, "maximum": 1000 },
    "quota": { "enum": ["none", "daily_hourly"] },
    "daily_limit": { "type": "integer", "minimum": 1 },
    "hourly_limit": { "type": "integer", "minimum": 1 }
  }
})json";

const char* const kDnsCapabilitiesSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "record_types": { "type": "array", "uniqueItems": true,
      "items": { "enum": ["A", "AAAA", "CNAME", "MX", "TXT", "SPF", "DKIM", "DMARC"] } },
    "max_batch_size": { "type": "integer", "minimum": 1 },
    "requests_per_second": { "type": "number", "minimum": 0 },
    "record_sets": { "type": "boolean" },
    "min_ttl": { "type": "integer", "minimum": 1 },
    "max_ttl": { "type": "integer", "minimum": 1 }
  }
})json";

// Compiled once, thread-safely (function-local statics).
const json_schema::Schema& manifest_schema() {
  static const json_schema::Schema schema(json::parse(kManifestSchema));
  return schema;
}
const json_schema::Schema& capabilities_schema(PluginKind kind) {
  static const json_schema::Schema email(json::parse(kEmailCapabilitiesSchema));
  static const json_schema::Schema dns(json::parse(kDnsCapabilitiesSchema));
  return kind == PluginKind::email ? email : dns;
}

[[noreturn]] void refuse(const std::filesystem::path& file, const std::string& why) {
  throw PluginRefused(file.string() + ": " + why);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct ElfCloser {
  void operator()(Elf* elf) const { elf_end(elf); }
};

// The raw bytes of the manifest section. libelf rather than Boost.DLL's library_info here:
// library_info lists section names and symbols but cannot read a section's contents.
std::string read_manifest_section(const std::filesystem::path& file) {
  if (elf_version(EV_CURRENT) == EV_NONE) refuse(file, "libelf is unusable on this host");
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) refuse(file, std::string("cannot open: ") + std::strerror(errno));
  std::unique_ptr<Elf, ElfCloser> elf(elf_begin(fd.get(), ELF_C_READ, nullptr));
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF)
    refuse(file, "not a mailroom plugin: not an ELF file");
  GElf_Ehdr header;
  if (gelf_getehdr(elf.get(), &header) == nullptr || header.e_type != ET_DYN)
    refuse(file, "not a mailroom plugin: not a shared library");
  std::size_t names_index = 0;
  if (elf_getshdrstrndx(elf.get(), &names_index) != 0)
    refuse(file, std::string("not a mailroom plugin: unreadable ELF: ") + elf_errmsg(-1));
  for (Elf_Scn* section = elf_nextscn(elf.get(), nullptr); section != nullptr;
       section = elf_nextscn(elf.get(), section)) {
    GElf_Shdr section_header;
    if (gelf_getshdr(section, &section_header) == nullptr) continue;
    const char* name = elf_strptr(elf.get(), names_index, section_header.sh_name);
    if (name == nullptr || std::strcmp(name, kManifestSection) != 0) continue;
    Elf_Data* data = elf_getdata(section, nullptr);
    if (data == nullptr || data->d_buf == nullptr)
      refuse(file, "invalid manifest: the .mailroom_manifest section is empty");
    return std::string(static_cast<const char*>(data->d_buf), data->d_size);
  }
  refuse(file, "not a mailroom plugin: no .mailroom_manifest section (export it with "
               "MAILROOM_EMAIL_PLUGIN or MAILROOM_DNS_PLUGIN)");
}

std::string host_toolchain() { return kToolchainTag; }

// "dsn" and "columns" name settings and secrets: each name must be one the plugin declares,
// and of the right sort (a port or a plain column is a setting, an encrypted column a secret).
void check_mappings(const std::filesystem::path& file, const Manifest& m, const json& body) {
  if (m.kind != PluginKind::email && (body.contains("dsn") || body.contains("columns") || body.contains("credential_column")))
    refuse(file, "invalid manifest: \"dsn\", \"columns\" and \"credential_column\" are for email plugins");
  if (m.columns.contains(m.credential_column))
    refuse(file, "invalid manifest: column " + m.credential_column + " is both mirrored (\"columns\") and the credential_column");
  for (const auto& [scheme, mapping] : m.dsn) {
    for (const auto& [part, target] : mapping.parts) {
      const bool setting = declares_setting(m, target);
      if (!setting && !declares_secret(m, target))
        refuse(file, "invalid manifest: dsn scheme '" + scheme + "' maps its " + part + " to '" + target +
                         "', which is neither a config_schema property nor a declared secret");
      if (part == "port" && !setting)
        refuse(file, "invalid manifest: dsn scheme '" + scheme + "' maps its port to '" + target +
                         "', which is not a config_schema property");
    }
    for (const auto& [name, value] : mapping.defaults.items())
      if (!declares_setting(m, name))
        refuse(file, "invalid manifest: dsn scheme '" + scheme + "' defaults '" + name +
                         "', which is not a config_schema property");
  }
  for (const auto& [column, target] : m.columns) {
    const bool secret_column = is_secret_column(column);
    if (secret_column ? !declares_secret(m, target) : !declares_setting(m, target))
      refuse(file, "invalid manifest: column " + column + " mirrors '" + target + "', which is not a declared " +
                       (secret_column ? "secret" : "config_schema property"));
  }
}

std::variant<EmailCapabilities, DnsCapabilities> parse_capabilities(PluginKind kind,
                                                                    const json& declared) {
  if (kind == PluginKind::email) {
    EmailCapabilities c;
    c.max_recipients = declared.value("max_recipients", c.max_recipients);
    c.max_message_bytes = declared.value("max_message_bytes", c.max_message_bytes);
    c.attachments = declared.value("attachments", false);
    c.open_tracking = declared.value("open_tracking", false);
    c.click_tracking = declared.value("click_tracking", false);
    c.webhooks = declared.value("webhooks", false);
    c.requests_per_second = declared.value("requests_per_second", 0.0);
    c.sends_in_flight = declared.value("sends_in_flight", c.sends_in_flight);
    c.quota = declared.value("quota", std::string("none")) == "daily_hourly" ? QuotaModel::daily_hourly
                                                                          : QuotaModel::none;
    c.daily_limit = declared.value("daily_limit", c.daily_limit);
    c.hourly_limit = declared.value("hourly_limit", c.hourly_limit);
    return c;
  }
  DnsCapabilities c;
  for (const auto& type : declared.value("record_types", json::array()))
    c.record_types.push_back(*record_type_from_string(type.get<std::string>()));
  c.max_batch_size = declared.value("max_batch_size", c.max_batch_size);
  c.requests_per_second = declared.value("requests_per_second", 0.0);
  c.record_sets = declared.value("record_sets", false);
  c.min_ttl = declared.value("min_ttl", c.min_ttl);
  c.max_ttl = declared.value("max_ttl", c.max_ttl);
  return c;
}

}  // namespace

bool declares_setting(const Manifest& m, const std::string& name) {
  return m.config_schema.is_object() && m.config_schema.contains("properties") &&
         m.config_schema["properties"].is_object() && m.config_schema["properties"].contains(name);
}

bool declares_secret(const Manifest& m, const std::string& name) {
  return std::find(m.secrets.begin(), m.secrets.end(), name) != m.secrets.end();
}

std::string_view to_string(PluginKind kind) { return kind == PluginKind::email ? "email" : "dns"; }

Manifest read_manifest(const std::filesystem::path& file) {
  std::string section = read_manifest_section(file);
  // The section holds one NUL-terminated record; two mean two export macros in one library.
  while (!section.empty() && section.back() == '\0') section.pop_back();
  if (section.find('\0') != std::string::npos)
    refuse(file, "invalid manifest: more than one manifest record (one export macro per plugin)");

  json record;
  try {
    record = json::parse(section);
  } catch (const json::exception& e) {  // syntax, or a number too large (out_of_range)
    refuse(file, std::string("invalid manifest: not valid JSON: ") + e.what());
  }
  if (!record.is_object() || !record.contains("abi_version") || !record["abi_version"].is_number_integer() ||
      !record.contains("toolchain") || !record["toolchain"].is_string() || !record.contains("kind") ||
      !record["kind"].is_string() || !record.contains("manifest"))
    refuse(file, "invalid manifest: the record lacks abi_version, toolchain, kind or manifest");

  Manifest m;
  m.file = file;
  m.abi_version = record["abi_version"].get<int>();
  m.toolchain = record["toolchain"].get<std::string>();

  // ABI and toolchain first, in one message: nothing else in a foreign build is trustworthy.
  std::vector<std::string> built, host;
  if (m.abi_version != kAbiVersion) {
    built.push_back("plugin ABI " + std::to_string(m.abi_version));
    host.push_back("ABI " + std::to_string(kAbiVersion));
  }
  if (m.toolchain != host_toolchain()) {
    built.push_back("toolchain '" + m.toolchain + "'");
    host.push_back("toolchain '" + host_toolchain() + "'");
  }
  if (!built.empty()) {
    auto join = [](const std::vector<std::string>& parts) {
      return parts.size() == 1 ? parts[0] : parts[0] + " and " + parts[1];
    };
    refuse(file, "built for " + join(built) + ", but this host loads " + join(host));
  }

  const std::string kind = record["kind"].get<std::string>();
  if (kind == "email") m.kind = PluginKind::email;
  else if (kind == "dns") m.kind = PluginKind::dns;
  else refuse(file, "manifest declares kind '" + kind + "', but this host loads only 'email' and 'dns' plugins");

  const json& body = record["manifest"];
  auto violations = manifest_schema().validate(body);
  if (body.is_object() && body.contains("capabilities")) {
    for (auto v : capabilities_schema(m.kind).validate(body["capabilities"])) {
      v.instance_path = "/capabilities" + v.instance_path;
      violations.push_back(std::move(v));
    }
  }
  if (!violations.empty()) refuse(file, "invalid manifest: " + json_schema::describe(violations));
  m.name = body["name"].get<std::string>();
  m.version = body["version"].get<std::string>();
  m.description = body["description"].get<std::string>();
  m.endpoint = body.value("endpoint", std::string());
  m.config_schema = body["config_schema"];
  m.secrets = body.value("secrets", std::vector<std::string>{});
  const json dsn = body.value("dsn", json::object());  // must outlive items()
  for (const auto& [scheme, mapping] : dsn.items()) {
    DsnScheme parsed;
    for (const char* part : {"user", "password", "host", "port"})
      if (mapping.contains(part)) parsed.parts[part] = mapping[part].get<std::string>();
    parsed.defaults = mapping.value("defaults", json::object());
    m.dsn[scheme] = std::move(parsed);
  }
  m.columns = body.value("columns", std::map<std::string, std::string>{});
  m.credential_column = body.value("credential_column", std::string());
  check_mappings(file, m, body);
  m.capabilities = body.value("capabilities", json::object());
  m.parsed_capabilities = parse_capabilities(m.kind, m.capabilities);
  try {
    json_schema::Schema check(m.config_schema);
  } catch (const json_schema::SchemaError& e) {
    refuse(file, std::string("invalid config_schema: ") + e.what());
  }

  // The exported factory must match the declared kind.
  boost::dll::library_info info(file, /*throw_if_not_native=*/false);
  const auto exported = info.symbols(kAliasSection);
  const auto has = [&](const char* symbol) {
    return std::find(exported.begin(), exported.end(), symbol) != exported.end();
  };
  const char* wanted = m.kind == PluginKind::email ? kEmailFactorySymbol : kDnsFactorySymbol;
  const char* other = m.kind == PluginKind::email ? kDnsFactorySymbol : kEmailFactorySymbol;
  if (!has(wanted)) {
    refuse(file, "manifest declares kind '" + kind + "', but the library exports " +
                     (has(other) ? std::string(other) : std::string("no factory")) + " instead of " +
                     wanted);
  }
  return m;
}

}  // namespace mailroom::plugin_host
