// `mailroom keys ...` and where master keys come from.
#include "commands.hpp"
#include "db.hpp"
#include "embedded_db.hpp"

#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

namespace mailroom::app {
namespace {

std::string read_key_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw crypto::CryptoError("master key file " + file.string() + " cannot be read");
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
    std::cerr << "mailroom: warning: master key file " << file.string()
              << " is readable by other users; chmod 600 it\n";
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string default_key_id() {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char text[32];
  std::strftime(text, sizeof text, "k%Y%m%d%H%M%S", std::gmtime(&now));
  return text;
}

int keys_generate(const std::string& id) {
  std::cout << crypto::generate_key_entry(id.empty() ? default_key_id() : id) << "\n";
  return 0;
}

int keys_rotate(const Globals& globals, std::size_t batch_size) {
  const auto config = load_config(globals);
  const crypto::SecretBox box(load_key_ring(config));
  const std::string newest = box.ring().newest().id;
  db::Pool pool(database_url(config), 1);
  db::EmailConfigurations repo(pool);
  std::size_t rows = 0, values = 0;
  for (;;) {
    auto batch = repo.needing_rotation(newest, batch_size);
    if (batch.empty()) break;
    for (auto& row : batch) {
      for (auto& [column, sealed] : row.ciphertexts) {
        if (crypto::SecretBox::key_id_of(sealed) == newest) continue;
        const auto ad = crypto::associated_data("email_configurations", column, row.id);
        try {
          sealed = box.seal(box.open(sealed, ad), ad);
        } catch (const crypto::CryptoError& e) {
          throw crypto::CryptoError("email configuration " + row.id + ", " + column + ": " + e.what());
        }
        ++values;
      }
    }
    // One transaction per batch: an interrupted rotation keeps every finished batch, and a
    // re-run picks up the rows still under an older key.
    repo.store_ciphertexts(batch, "");
    rows += batch.size();
    std::cerr << "rotated " << values << " secret(s) in " << rows << " configuration(s) to key '" << newest << "'\n";
  }
  db::DnsZones zones(pool);
  for (;;) {
    auto batch = zones.needing_rotation(newest, batch_size);
    if (batch.empty()) break;
    for (auto& zone : batch) {
      const auto ad = crypto::associated_data("dns_zones", "secrets_encrypted", zone.id);
      try {
        zone.secrets_encrypted = box.seal(box.open(zone.secrets_encrypted, ad), ad);
      } catch (const crypto::CryptoError& e) {
        throw crypto::CryptoError("dns zone " + zone.name + ": " + e.what());
      }
      ++values;
    }
    zones.store_ciphertexts(batch, "");
    std::cerr << "rotated the secrets of " << batch.size() << " DNS zone(s) to key '" << newest << "'\n";
  }
  db::WebhookSubscriptions subscriptions(pool);
  for (;;) {
    auto batch = subscriptions.needing_rotation(newest, batch_size);
    if (batch.empty()) break;
    for (auto& row : batch) {
      // The associated data is webhooks::secret_associated_data's: table, column, row id.
      for (auto [sealed, column] : {std::pair{&row.secret_sealed, "secret_encrypted"},
                                    std::pair{&row.previous_secret_sealed, "previous_secret_encrypted"}}) {
        if (sealed->empty() || crypto::SecretBox::key_id_of(*sealed) == newest) continue;
        const auto ad = crypto::associated_data("webhook_subscriptions", column, row.id);
        try {
          *sealed = box.seal(box.open(*sealed, ad), ad);
        } catch (const crypto::CryptoError& e) {
          throw crypto::CryptoError("webhook subscription " + row.id + ", " + column + ": " + e.what());
        }
        ++values;
      }
    }
    subscriptions.store_secrets(batch);
    std::cerr << "rotated the signing secrets of " << batch.size() << " webhook subscription(s) to key '" << newest << "'\n";
  }
  std::cout << "every secret is under key '" << newest << "' (" << values << " re-encrypted)\n";
  return 0;
}

}  // namespace

crypto::KeyRing load_key_ring(const config::Config& config) {
  if (const char* value = std::getenv("MAILROOM_MASTER_KEY"); value != nullptr && *value != '\0')
    return crypto::KeyRing::parse(value, "MAILROOM_MASTER_KEY");
  if (!config.master_key_file.empty())
    return crypto::KeyRing::parse(read_key_file(config.master_key_file), "master key file " + config.master_key_file.string());
  if (!config.database_url.empty())
    throw crypto::CryptoError("no master key: set MAILROOM_MASTER_KEY or master_key.file "
                              "(make a key with `mailroom keys generate`)");
  // The embedded default keeps its key beside its data, created on first use.
  const auto file = std::filesystem::path(embedded_db::kDefaultRoot) / "master.key";
  if (!std::filesystem::exists(file)) {
    std::filesystem::create_directories(file.parent_path());
    const auto old_mask = ::umask(077);
    std::ofstream(file) << "# mailroom master keys, newest last (embedded default)\n"
                        << crypto::generate_key_entry(default_key_id()) << "\n";
    ::umask(old_mask);
    std::cerr << "mailroom: created master key file " << file.string() << "\n";
  }
  return crypto::KeyRing::parse(read_key_file(file), "master key file " + file.string());
}

void add_key_commands(CLI::App& app, const Globals& globals, Action& action) {
  auto* keys = app.add_subcommand("keys", "Master keys that encrypt secrets at rest (AES-256-GCM)");
  keys->require_subcommand(1);
  auto id = std::make_shared<std::string>();
  auto* generate = keys->add_subcommand(
      "generate", "Print a new key entry (<id>:<base64>); append it to the key file or MAILROOM_MASTER_KEY");
  generate->add_option("--id", *id, "Key id (default: k<UTC timestamp>)");
  generate->callback([&, id] { action = [id] { return keys_generate(*id); }; });
  auto batch = std::make_shared<std::size_t>(100);
  auto* rotate = keys->add_subcommand(
      "rotate", "Re-encrypt every secret under the newest key, in batches; safe to interrupt and re-run");
  rotate->add_option("--batch-size", *batch, "Configurations per transaction")->check(CLI::Range(1, 10000));
  rotate->callback([&, batch] { action = [&, batch] { return keys_rotate(globals, *batch); }; });
}

}  // namespace mailroom::app
