// The README's first command on a fresh machine: `mailroom migrate up` with no database
// configured creates the embedded cluster under ./.mailroom and migrates it; again is
// harmless; it works as root (cluster runs as 'postgres') and as an ordinary user.
#include "harness.hpp"

#include <pwd.h>

#include <fstream>

namespace {

namespace fs = std::filesystem;
using mailroom::testing::quote;
using mailroom::testing::run_command;

class EmbeddedDefault : public ::testing::Test {
 protected:
  fs::path dir_ = fs::temp_directory_path() / ("mr-embedded-" + std::to_string(::getpid()));
  void SetUp() override { fs::create_directories(dir_); }
  void TearDown() override {
    run_command("cd " + quote(dir_.string()) + " && " + runner_ + " ./mailroom db stop");
    fs::remove_all(dir_);
  }
  // The binary and its SDK library are copied into the directory, so that a user who cannot
  // read the build tree can still run them.
  void copy_binary() {
    fs::copy_file(MAILROOM_BINARY, dir_ / "mailroom");
    fs::copy_file(MAILROOM_SDK_LIBRARY, dir_ / fs::path(MAILROOM_SDK_LIBRARY).filename());
  }
  mailroom::testing::CommandResult in_dir(const std::string& args) {
    return run_command("cd " + quote(dir_.string()) + " && env -u MAILROOM_DATABASE_URL LD_LIBRARY_PATH=. " + runner_ +
                       " ./mailroom " + args);
  }
  std::string runner_;
};

void expect_first_and_second_run(mailroom::testing::CommandResult first, mailroom::testing::CommandResult second) {
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_NE(first.output.find("creating the embedded database"), std::string::npos) << first.output;
  std::size_t migrations = 0;
  for (const auto& f : std::filesystem::directory_iterator(MAILROOM_MIGRATIONS_DIR)) migrations += f.path().string().ends_with(".up.sql");
  EXPECT_NE(first.output.find("applied " + std::to_string(migrations) + " migration(s)"), std::string::npos) << first.output;
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_EQ(second.output.find("creating the embedded database"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("database is up to date"), std::string::npos) << second.output;
}

TEST_F(EmbeddedDefault, AsTheCurrentUser) {
  copy_binary();
  const auto first = in_dir("migrate up");
  const auto second = in_dir("migrate up");
  expect_first_and_second_run(first, second);
  const auto status = in_dir("db status");
  EXPECT_NE(status.output.find("running:     yes"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find(std::string("runs as:     ") + (::geteuid() == 0 ? "postgres" : ::getpwuid(::geteuid())->pw_name)),
            std::string::npos)
      << status.output;
  EXPECT_EQ(in_dir("migrate status").status, 0);
  EXPECT_NE(in_dir("db stop").output.find("stopped"), std::string::npos);
  EXPECT_NE(in_dir("db status").output.find("running:     no"), std::string::npos);
  // Restarting an existing cluster keeps its data.
  EXPECT_NE(in_dir("migrate up").output.find("database is up to date"), std::string::npos);
}

TEST_F(EmbeddedDefault, AsAnOrdinaryUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to the 'nobody' user; AsTheCurrentUser covers this case";
  copy_binary();
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  fs::permissions(dir_, fs::perms::all);
  ASSERT_EQ(::chown(dir_.c_str(), nobody->pw_uid, nobody->pw_gid), 0);
  runner_ = "setpriv --reuid=nobody --regid=" + std::to_string(nobody->pw_gid) + " --clear-groups";
  const auto first = in_dir("migrate up");
  const auto second = in_dir("migrate up");
  expect_first_and_second_run(first, second);
  EXPECT_NE(in_dir("db status").output.find("runs as:     nobody"), std::string::npos);
}

TEST_F(EmbeddedDefault, AsRootBelowAPrivateDirectoryTheClusterMovesOut) {
  if (::geteuid() != 0) GTEST_SKIP() << "only root hands the cluster to 'postgres'";
  copy_binary();
  fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::replace);  // like /root
  const auto first = in_dir("migrate up");
  const auto second = in_dir("migrate up");
  expect_first_and_second_run(first, second);
  EXPECT_NE(first.output.find("user 'postgres' cannot reach"), std::string::npos) << first.output;
  std::ifstream cluster(dir_ / ".mailroom" / "cluster");
  std::string elsewhere;
  std::getline(cluster, elsewhere);
  EXPECT_EQ(elsewhere.rfind("/var/lib/mailroom/embedded/", 0), 0u) << elsewhere;
  EXPECT_TRUE(fs::exists(fs::path(elsewhere) / "data" / "PG_VERSION"));
  EXPECT_EQ(in_dir("db stop").output.find("stopped") != std::string::npos, true);
  fs::remove_all(elsewhere);
}

}  // namespace
