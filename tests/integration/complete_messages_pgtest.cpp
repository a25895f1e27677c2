// Complete messages as a user sends them with `mailroom send` and `serve` through smtp_relay to a
// real SMTP server: attachments and an inline image built into the expected MIME tree (read back
// by Python's email parser, every part byte-identical), custom header fields, DKIM over all of it
// (verified by dkimpy); one attachment queued for 1,000 emails stored once; and what the CLI
// refuses before anything is written.
#include "harness.hpp"
#include "smtp_server.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <pqxx/pqxx>

#include <mailroom/error.hpp>
#include <mailroom/http.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <thread>

namespace {

using mailroom::testing::CommandResult;
using mailroom::testing::quote;
using mailroom::testing::run_command;
using nlohmann::json;

std::string sha256_hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) out += {hex[digest[i] >> 4], hex[digest[i] & 15]};
  return out;
}

// Bytes a careless builder would damage: NULs, bare CR and LF, CRLF, dots at line starts, high bytes.
std::string binary(std::size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  out.replace(0, 8, std::string("\r\n.\r\n\0\n\r", 8));
  return out;
}

class CompleteMessages : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mailroom("migrate up").status, 0);
    ASSERT_EQ(mailroom("users add ada@example.com").status, 0);
    mailroom::testing::run("openssl genpkey -algorithm ED25519 -out " + file("dkim.pem"));
    const auto config = mailroom("email-config add --user ada@example.com --dsn smtp://127.0.0.1:" +
                                 std::to_string(server_.port()) +
                                 " --setting tls=none --from ada@example.com --setting dkim_domain=example.com"
                                 " --setting dkim_selector=e2e --secret dkim_private_key=file:" + file("dkim.pem"));
    ASSERT_EQ(config.status, 0) << config.output;
    configuration_ = config.output.substr(0, 36);
    const auto publish = config.output.find("v=DKIM1");
    ASSERT_NE(publish, std::string::npos) << config.output;
    dkim_record_ = config.output.substr(publish, config.output.find('\n', publish) - publish);
  }

  CommandResult mailroom(const std::string& args, const std::string& input = "") {
    const std::string env = "MAILROOM_DATABASE_URL=" + quote(url_) + " MAILROOM_MASTER_KEY=" +
                            quote("k1:" + std::string(43, 'A') + "=") + " MAILROOM_PLUGINS_DIR=" MAILROOM_PLUGIN_DIR
                            " MAILROOM_API_LISTEN=127.0.0.1:" + std::to_string(api_port_) +
                            " MAILROOM_API_PUBLIC_URL=http://127.0.0.1:" + std::to_string(api_port_) + " ";
    // bash, not sh: the cases write line breaks as $'...'.
    return run_command("exec bash -c " + quote(env + MAILROOM_BINARY " " + args), input);
  }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  std::string write(const std::string& name, const std::string& bytes) const {
    std::ofstream(file(name), std::ios::binary) << bytes;
    return file(name);
  }
  long count(const std::string& sql) {
    pqxx::connection c(url_);
    pqxx::read_transaction tx(c);
    return tx.exec(sql)[0][0].as<long>();
  }

  std::string url_ = mailroom::testing::fresh_database();
  unsigned short api_port_ = mailroom::testing::free_port();
  mailroom::testing::SmtpServer server_{{}};
  std::filesystem::path dir_ = [] {
    static int n = 0;
    auto d = std::filesystem::temp_directory_path() / ("mr-complete-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::create_directories(d);
    return d;
  }();
  std::string configuration_, dkim_record_;
};

TEST_F(CompleteMessages, TwoAttachmentsAndAnInlineImageArriveByteIdenticalUnderAValidDkimSignature) {
  const std::string pdf = binary(60000, 1), csv = "name,amount\r\nAda,12.50\nBob,7\r\n", png = binary(3000, 2);
  write("invoice.pdf", pdf);
  write("report.csv", csv);
  write("logo.png", png);
  const auto sent = mailroom("send --configuration " + configuration_ +
                             " --to bob@example.com --subject 'Your invoice' --text 'See the attached invoice.'"
                             " --html '<p>Thanks <img src=\"cid:logo@example.com\"></p>' --attach " + file("invoice.pdf") +
                             " --attach " + file("report.csv") + " --inline logo@example.com=" + file("logo.png") +
                             " --header 'X-Campaign: spring-2026' --header 'X-Note: Grüße aus Köln'"
                             " --header 'List-Id: <invoices.example.com>' --tag invoice --tag q4 --meta customer=42");
  ASSERT_EQ(sent.status, 0) << sent.output;
  const std::string id = sent.output.substr(0, 36);
  const auto served = mailroom("serve --until-empty");
  ASSERT_EQ(served.status, 0) << served.output;
  const auto messages = server_.messages();
  ASSERT_EQ(messages.size(), 1u) << served.output;
  std::string raw = mailroom::testing::read_file(messages[0]);
  raw = raw.substr(raw.find("\r\n", raw.find("X-Envelope-To")) + 2);  // what the relay received
  write("message.eml", raw);

  const json parsed = json::parse(mailroom::testing::run(std::string("/usr/bin/python3 ") + MAILROOM_PARSE_MESSAGE + " " +
                                                         file("message.eml")));
  EXPECT_EQ(parsed["defects"], json::array());
  EXPECT_EQ(parsed["structure"], "multipart/mixed(multipart/related(multipart/alternative(text/plain,text/html),image/png),"
                                 "application/pdf,text/csv)");
  const json parts = parsed["parts"];
  ASSERT_EQ(parts.size(), 5u) << parts.dump();
  EXPECT_EQ(parts[2], json({"image/png", "inline", "logo.png", "<logo@example.com>", sha256_hex(png)}));
  EXPECT_EQ(parts[3], json({"application/pdf", "attachment", "invoice.pdf", nullptr, sha256_hex(pdf)}));
  EXPECT_EQ(parts[4], json({"text/csv", "attachment", "report.csv", nullptr, sha256_hex(csv)}));
  EXPECT_EQ(parsed["text"], "See the attached invoice.");
  json headers = json::object();
  for (const auto& h : parsed["headers"]) headers[h[0].get<std::string>()] = h[1];
  EXPECT_EQ(headers["X-Campaign"], "spring-2026");
  EXPECT_EQ(headers["X-Note"], "Grüße aus Köln") << "non-ASCII travels RFC 2047-encoded";
  EXPECT_NE(raw.find("X-Note: =?UTF-8?"), std::string::npos);
  EXPECT_EQ(headers["List-Id"], "<invoices.example.com>");
  EXPECT_EQ(mailroom::testing::run(std::string("/usr/bin/python3 ") + MAILROOM_VERIFY_DKIM + " " + file("message.eml") + " " +
                                   quote(dkim_record_)),
            "pass\n");

  const json shown = json::parse(mailroom("queue show " + id).output);
  EXPECT_EQ(shown["tags"], json({"invoice", "q4"})) << shown.dump();
  EXPECT_EQ(shown["metadata"], json({{"customer", "42"}}));
  EXPECT_EQ(shown["attachments"][0], json({{"filename", "invoice.pdf"}, {"content_type", "application/pdf"},
                                           {"content_id", nullptr}, {"size", 60000}}));
  EXPECT_EQ(shown["attachments"][2]["content_id"], "logo@example.com");
  EXPECT_EQ(shown["headers"]["X-Campaign"], "spring-2026");
}

// RFC 8058 end to end: the header pair, DKIM-signed; GET changes nothing; a forged token changes
// nothing; the POST suppresses the recipient (once, however often), and the next email to it is
// not queued, saying why.
TEST_F(CompleteMessages, OneClickUnsubscribeSuppressesTheRecipientAndAForgedTokenChangesNothing) {
  // The configuration's default (a newsletter's), which one transactional email turns off.
  const auto updated = mailroom("email-config update " + configuration_ +
                                " --list-unsubscribe true --unsubscribe-mailto unsubscribe@example.com");
  ASSERT_EQ(updated.status, 0) << updated.output;
  const auto sent = mailroom("send --configuration " + configuration_ + " --to bob@example.com --subject 'News' --text 'Hello'");
  ASSERT_EQ(sent.status, 0) << sent.output;
  const std::string id = sent.output.substr(0, 36);
  write("receipt.jsonl", json{{"configuration", configuration_}, {"to", "carol@example.com"}, {"subject", "Receipt"},
                              {"text", "Paid"}, {"list_unsubscribe", false}}.dump() + "\n");
  ASSERT_EQ(mailroom("send --file " + file("receipt.jsonl")).status, 0);
  ASSERT_EQ(mailroom("serve --until-empty --no-api").status, 0);
  auto messages = server_.messages();
  ASSERT_EQ(messages.size(), 2u);
  std::sort(messages.begin(), messages.end());
  std::string raw, receipt;
  for (const auto& m : messages) {
    const std::string text = mailroom::testing::read_file(m);
    (text.find("Subject: News") != std::string::npos ? raw : receipt) = text;
  }
  EXPECT_EQ(receipt.find("List-Unsubscribe"), std::string::npos) << "the email said list_unsubscribe false";
  raw = raw.substr(raw.find("\r\n", raw.find("X-Envelope-To")) + 2);
  write("news.eml", raw);
  const json parsed = json::parse(mailroom::testing::run(std::string("/usr/bin/python3 ") + MAILROOM_PARSE_MESSAGE + " " +
                                                         file("news.eml")));
  json headers = json::object();
  for (const auto& h : parsed["headers"]) headers[h[0].get<std::string>()] = h[1];
  const std::string base = "http://127.0.0.1:" + std::to_string(api_port_);
  const std::string list_unsubscribe = headers.value("List-Unsubscribe", "");
  ASSERT_EQ(list_unsubscribe.rfind("<" + base + "/v1/unsubscribe/" + id + ".k1.", 0), 0u) << list_unsubscribe;
  EXPECT_TRUE(list_unsubscribe.ends_with(">, <mailto:unsubscribe@example.com?subject=unsubscribe>")) << list_unsubscribe;
  EXPECT_EQ(headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
  const auto signature = raw.substr(0, raw.find("\r\n\r\n"));
  EXPECT_NE(signature.find("list-unsubscribe:list-unsubscribe-post"), std::string::npos) << "RFC 8058 3.3: both signed";
  EXPECT_EQ(mailroom::testing::run(std::string("/usr/bin/python3 ") + MAILROOM_VERIFY_DKIM + " " + file("news.eml") + " " +
                                   quote(dkim_record_)),
            "pass\n");
  const std::string target = list_unsubscribe.substr(1 + base.size(), list_unsubscribe.find('>') - 1 - base.size());

  mailroom::testing::Spawned api = mailroom::testing::spawn_reporting_port(
      {"/bin/bash", "-c", "echo PORT 0; exec env MAILROOM_DATABASE_URL=" + quote(url_) + " MAILROOM_MASTER_KEY=" +
                              quote("k1:" + std::string(43, 'A') + "=") + " MAILROOM_PLUGINS_DIR=" MAILROOM_PLUGIN_DIR
                              " MAILROOM_API_LISTEN=127.0.0.1:" + std::to_string(api_port_) + " " MAILROOM_BINARY
                              " serve --no-workers > " + file("api.log") + " 2>&1"});
  mailroom::HttpClientOptions options;
  options.base_url = base;
  auto client = mailroom::make_http_client(options);
  for (int i = 0; i < 200; ++i) {
    try {
      if (client->send({"GET", "/healthz", {}, ""}).status == 200) break;
    } catch (const mailroom::ProviderError&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const auto suppressions = [&] { return mailroom("suppressions list --user ada@example.com").output; };
  const auto logs = [&] { return count("SELECT count(*) FROM email_delivery_logs WHERE event_type = 'unsubscribed'"); };

  const auto page = client->send({"GET", target, {}, ""});
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<form method=\"post\">"), std::string::npos) << page.body;
  EXPECT_EQ(suppressions().find("bob@example.com"), std::string::npos) << "opening the link unsubscribed";

  const mailroom::HttpHeaders form{{"Content-Type", "application/x-www-form-urlencoded"}};
  std::string forged = target;
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  for (const std::string& bad : std::vector<std::string>{forged, "/v1/unsubscribe/" + id, "/v1/unsubscribe/" + id + ".k1.",
                                                          "/v1/unsubscribe/x"}) {
    const auto refused = client->send({"POST", bad, form, "List-Unsubscribe=One-Click"});
    EXPECT_EQ(refused.status, 404) << bad << ": " << refused.body;
  }
  EXPECT_EQ(suppressions().find("bob@example.com"), std::string::npos) << "a forged token unsubscribed";
  EXPECT_EQ(logs(), 0);

  for (int i = 0; i < 2; ++i) {
    const auto done = client->send({"POST", target, form, "List-Unsubscribe=One-Click"});
    EXPECT_EQ(done.status, 200) << done.body;
  }
  EXPECT_NE(suppressions().find("bob@example.com"), std::string::npos) << suppressions();
  EXPECT_NE(suppressions().find("unsubscribe"), std::string::npos) << suppressions();
  EXPECT_EQ(logs(), 1) << "recorded once";
  const auto next = mailroom("send --configuration " + configuration_ + " --to bob@example.com --subject 'News 2' --text x");
  EXPECT_EQ(next.status, 1);
  EXPECT_NE(next.output.find("not queued: recipient bob@example.com is suppressed"), std::string::npos) << next.output;
  ::kill(api.pid, SIGTERM);
  ::waitpid(api.pid, nullptr, 0);
}

TEST_F(CompleteMessages, OneAttachmentQueuedForAThousandEmailsIsStoredOnce) {
  const std::string pdf = binary(20000, 3);
  std::string base64(4 * ((pdf.size() + 2) / 3), '\0');
  base64.resize(static_cast<std::size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(base64.data()),
                                                         reinterpret_cast<const unsigned char*>(pdf.data()),
                                                         static_cast<int>(pdf.size()))));
  std::string lines;
  for (int i = 0; i < 1000; ++i)
    lines += json{{"configuration", configuration_}, {"to", "reader" + std::to_string(i) + "@example.com"},
                  {"subject", "Newsletter"}, {"text", "Attached."}, {"tags", {"newsletter"}},
                  {"attachments", {{{"filename", "issue-12.pdf"}, {"content", base64}}}}}.dump() + "\n";
  write("newsletter.jsonl", lines);
  const auto sent = mailroom("send --file " + file("newsletter.jsonl"));
  ASSERT_EQ(sent.status, 0) << sent.output.substr(0, 500);
  EXPECT_EQ(count("SELECT count(*) FROM email_queue"), 1000);
  EXPECT_EQ(count("SELECT count(*) FROM email_attachments"), 1000);
  EXPECT_EQ(count("SELECT count(*) FROM email_attachment_contents"), 1) << "the bytes are kept once";
  EXPECT_EQ(count("SELECT sum(octet_length(content)) FROM email_attachment_contents"), 20000);
  EXPECT_EQ(count("SELECT count(DISTINCT content_type) FROM email_attachments WHERE content_type = 'application/pdf'"), 1)
      << "the type comes from the file name";
}

TEST_F(CompleteMessages, TheCliRefusesBadHeadersLineBreaksAndOversizedAttachmentsWritingNothing) {
  write("note.txt", "hello");
  const std::string base = "send --configuration " + configuration_ + " --to bob@example.com --text hi ";
  struct Case {
    std::string args, error;
  };
  const std::vector<Case> cases = {
      {"--subject s --header 'Bcc: eve@example.com'", "headers: Bcc is written by mailroom"},
      {"--subject s --header 'Content-Type: text/plain'", "headers: Content-Type is written by mailroom"},
      {"--subject s --header 'Sender: eve@example.com'", "headers: Sender is written by mailroom"},
      {"--subject s --header 'Organization: Evil'", "headers: Organization is not a field an application may set"},
      {"--subject s --header $'X-A: a\\r\\nBcc: eve@example.com'", "headers: X-A contains a line break"},
      {"--subject $'Hi\\r\\nBcc: eve@example.com'", "subject contains a line break"},
      {"--subject s --to-name $'Bob\\nBcc: eve@example.com'", "to_name contains a line break"},
      {"--subject s --tag 'no spaces'", "tags: 'no spaces' must be 1 to 64 letters"},
      {"--subject s --inline $'a\\nb=" + file("note.txt") + "'", ".content_id (note.txt) contains a line break"},
      {"--subject s --attach " + file("missing.pdf"), "cannot read attachment file"},
  };
  for (const auto& c : cases) {
    const auto refused = mailroom(base + c.args);
    EXPECT_NE(refused.status, 0) << c.args;
    EXPECT_NE(refused.output.find(c.error), std::string::npos) << c.args << "\n" << refused.output;
  }
  // Over smtp_relay's max_message_bytes (25 MiB) once base64-encoded.
  write("big.bin", std::string(20 * 1024 * 1024, 'x'));
  const auto big = mailroom(base + "--subject s --attach " + file("big.bin"));
  EXPECT_NE(big.status, 0);
  EXPECT_NE(big.output.find("(attachments: big.bin 20971520 bytes), but plugin smtp_relay declares max_message_bytes 26214400"),
            std::string::npos)
      << big.output;
  EXPECT_EQ(count("SELECT count(*) FROM email_queue"), 0) << "a refused email wrote something";
  EXPECT_EQ(count("SELECT count(*) FROM email_attachment_contents"), 0);
}

}  // namespace
