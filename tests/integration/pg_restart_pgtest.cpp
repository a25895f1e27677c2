// PostgreSQL restarts (fast shutdown: every connection cut) in the middle of a drain by
// `mailroom serve`. The host must ride it out: every email ends `sent`, none is lost, and
// none reaches the provider twice (outcomes not yet written are retried, not dropped, and
// leases outlive the outage, so nothing is rescued and resent).
#include "drain.hpp"
#include "embedded_db.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <thread>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kEmails = 2000;

// Status counts on a connection of its own; nullopt while the database is away.
std::optional<std::map<std::string, long>> counts(const std::string& url) {
  try {
    pqxx::connection c(url);
    pqxx::read_transaction tx(c);
    std::map<std::string, long> out;
    for (const auto& r : tx.exec("SELECT status, count(*) FROM email_queue GROUP BY status"))
      out[r[0].as<std::string>()] = r[1].as<long>();
    return out;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

long of(const std::map<std::string, long>& c, const char* status) {
  const auto it = c.find(status);
  return it == c.end() ? 0 : it->second;
}

TEST(PostgresRestart, MidDrainLosesNothingAndSendsNothingTwice) {
  const std::string url = mailroom::testing::fresh_database();
  const fs::path dir = fs::temp_directory_path() / ("mr-restart-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto drain = mailroom::testing::queue_fake_emails(url, dir, kEmails, 2);
  const pid_t serve = mailroom::testing::spawn_serve(drain, dir / "serve.log", 2, 20, {"--no-api", "--lease", "60"});

  const auto start = std::chrono::steady_clock::now();
  long sent_at_restart = 0;
  while (std::chrono::steady_clock::now() - start < 60s) {
    const auto c = counts(url);
    if (c && of(*c, "sent") >= kEmails / 5) {
      sent_at_restart = of(*c, "sent");
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_GT(sent_at_restart, 0) << mailroom::testing::read_file(dir / "serve.log");

  // pg_ctl restart keeps the port and socket (postmaster.opts); as root it runs as postgres.
  const fs::path data = mailroom::testing::PostgresEnvironment::instance()->root() / "data";
  const std::string as = ::geteuid() == 0 ? "setpriv --reuid=postgres --regid=postgres --init-groups " : "";
  const auto restarted = mailroom::testing::run_command(
      "cd / && " + as + (mailroom::embedded_db::server_binaries() / "pg_ctl").string() + " -D " +
      mailroom::testing::quote(data.string()) + " -l " + mailroom::testing::quote((data.parent_path() / "restart.log").string()) +
      " -m fast -w -t 60 restart > /dev/null 2>&1");  // the new server must not hold our pipe
  ASSERT_EQ(restarted.status, 0) << restarted.output;
  const long sent_after_restart = counts(url).value_or(std::map<std::string, long>{})["sent"];

  std::map<std::string, long> last;
  while (std::chrono::steady_clock::now() - start < 110s) {
    if (const auto c = counts(url)) last = *c;
    if (of(last, "sent") == kEmails) break;
    std::this_thread::sleep_for(50ms);
  }
  ::kill(serve, SIGTERM);
  int status = 0;
  ::waitpid(serve, &status, 0);
  const std::string log = mailroom::testing::read_file(dir / "serve.log");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "serve exit status " << status << "\n" << log.substr(0, 3000);

  EXPECT_EQ(of(last, "sent"), kEmails) << log.substr(0, 3000);
  EXPECT_EQ(of(last, "queued") + of(last, "sending") + of(last, "failed"), 0);
  const auto handed = mailroom::testing::handed(drain);
  EXPECT_EQ(handed.size(), static_cast<std::size_t>(kEmails)) << "an email never reached the provider";
  int twice = 0;
  for (const auto& [id, n] : handed) twice += n > 1 ? 1 : 0;
  EXPECT_EQ(twice, 0) << "emails handed to the provider more than once";
  EXPECT_LT(sent_after_restart, kEmails) << "the restart came after the drain: it proved nothing";
  long errors_logged = 0;
  for (std::size_t at = log.find("[error]"); at != std::string::npos; at = log.find("[error]", at + 1)) ++errors_logged;
  std::cout << "[ REPORT   ] " << kEmails << " emails; PostgreSQL restarted with " << sent_at_restart
            << " sent (serve logged " << errors_logged << " database errors meanwhile); lost " << kEmails - static_cast<long>(handed.size()) << ", sent twice " << twice << "; all sent after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count()
            << " ms\n";
  fs::remove_all(dir);
}

}  // namespace
