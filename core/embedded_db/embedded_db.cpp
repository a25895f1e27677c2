#include "embedded_db.hpp"

#include <pqxx/pqxx>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <vector>

namespace mailroom::embedded_db {
namespace {

namespace fs = std::filesystem;

constexpr const char* kServerUserWhenRoot = "postgres";
// A Unix socket path holds at most 107 bytes; the server appends "/.s.PGSQL.NNNNN".
constexpr std::size_t kMaxSocketDir = 107 - 16;

struct Account {
  std::string name;
  uid_t uid;
  gid_t gid;
};

std::optional<Account> server_account() {
  if (::geteuid() != 0) return std::nullopt;  // the server runs as the caller
  const passwd* pw = ::getpwnam(kServerUserWhenRoot);
  if (pw == nullptr)
    throw EmbeddedDbError(std::string("running as root, the embedded database needs the unprivileged user '") +
                          kServerUserWhenRoot + "' (initdb refuses root): install the postgresql package, "
                          "or set database.url");
  return Account{pw->pw_name, pw->pw_uid, pw->pw_gid};
}

std::string current_user_name() {
  const passwd* pw = ::getpwuid(::geteuid());
  return pw != nullptr ? pw->pw_name : std::to_string(::geteuid());
}

// Runs a program with a fixed argument vector, as the server account when there is one,
// with its output appended to `log`. Written with fork/exec because Boost.Process (v1)
// needs the Boost.Filesystem library that nothing else here links; no shell is involved,
// so no argument is ever re-parsed.
int run(std::vector<std::string> argv, const fs::path& log, const std::optional<Account>& as) {
  if (as) {
    argv.insert(argv.begin(), {"setpriv", "--reuid=" + std::to_string(as->uid), "--regid=" + std::to_string(as->gid),
                               "--init-groups", "--reset-env"});
  }
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) throw EmbeddedDbError("cannot write " + log.string() + ": " + std::strerror(errno));
  if (as) [[maybe_unused]] int ignored = ::fchown(out, as->uid, as->gid);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out);
    throw EmbeddedDbError(std::string("fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Children must not hold our stdout: a detached server would keep a caller's pipe open.
    const int in = ::open("/dev/null", O_RDONLY);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    if (::chdir("/") != 0) ::_exit(126);  // the server user may not be able to read our cwd
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(out);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

std::string tail_of(const fs::path& log, std::size_t lines = 5) {
  std::ifstream in(log);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out;
  for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += "\n  " + all[i];
  return out;
}

int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (s >= 0 && ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  if (s >= 0) ::close(s);
  if (port == 0) throw EmbeddedDbError("no free port for the embedded database");
  return port;
}

// Holds an exclusive flock on <root>/.lock: one process at a time starts or stops.
class RootLock {
 public:
  explicit RootLock(const fs::path& root) {
    fd_ = ::open((root / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0 || ::flock(fd_, LOCK_EX) != 0)
      throw EmbeddedDbError("cannot lock " + (root / ".lock").string() + ": " + std::strerror(errno));
  }
  ~RootLock() { ::close(fd_); }
  RootLock(const RootLock&) = delete;
  RootLock& operator=(const RootLock&) = delete;

 private:
  int fd_ = -1;
};

// <root> holds the lock, the port and the logs mailroom writes; the cluster itself (data,
// socket, server log) lives in <root> too, unless <root>/cluster names another directory:
// see relocate_for_server_user().
struct Paths {
  fs::path root, cluster, data, run, log, initdb_log, port_file, cluster_file;
  explicit Paths(const fs::path& r)
      : root(fs::absolute(r).lexically_normal()),
        initdb_log(root / "initdb.log"),
        port_file(root / "port"),
        cluster_file(root / "cluster") {
    fs::path where = root;
    if (std::ifstream in(cluster_file); in) {
      std::string line;
      std::getline(in, line);
      if (!line.empty()) where = line;
    }
    place_cluster(where);
  }
  void place_cluster(const fs::path& dir) {
    cluster = dir;
    data = dir / "data";
    run = dir / "run";
    log = dir / "server.log";
  }
};

std::string url_for(const Paths& p, int port) {
  return "postgresql://" + std::string(kDatabase) + "@/" + kDatabase + "?host=" + p.run.string() +
         "&port=" + std::to_string(port);
}

int read_port(const Paths& p) {
  std::ifstream in(p.port_file);
  int port = 0;
  in >> port;
  return port;
}

bool running(const Paths& p, const std::optional<Account>& as) {
  if (!fs::exists(p.data / "PG_VERSION")) return false;
  return run({(server_binaries() / "pg_ctl").string(), "-D", p.data.string(), "status"}, p.root / "pg_ctl.log", as) == 0;
}

void give_to(const fs::path& path, const std::optional<Account>& as) {
  if (as && ::chown(path.c_str(), as->uid, as->gid) != 0)
    throw EmbeddedDbError("cannot hand " + path.string() + " to user '" + as->name + "': " + std::strerror(errno));
}

void create_database(const std::string& admin_url) {
  pqxx::connection connection(admin_url);
  pqxx::nontransaction tx(connection);
  if (tx.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", std::string(kDatabase)).empty())
    tx.exec(std::string("CREATE DATABASE ") + kDatabase);
}

bool writable_by(const fs::path& dir, const Account& as, const Paths& p) {
  return run({"test", "-w", dir.string()}, p.root / "pg_ctl.log", as) == 0;
}

// As root, the server runs as 'postgres', which cannot reach a ./.mailroom/ below a private
// directory such as /root. Rather than loosen that directory's permissions, the cluster then
// lives in /var/lib/mailroom/embedded/<hash of the .mailroom path>, and <root>/cluster says so.
void relocate_for_server_user(Paths& p, const Account& as, std::ostream& progress) {
  std::ostringstream name;
  name << std::hex << std::hash<std::string>{}(p.root.string());
  const fs::path elsewhere = fs::path("/var/lib/mailroom/embedded") / name.str();
  fs::create_directories(elsewhere);
  for (fs::path dir = elsewhere; dir != "/var/lib"; dir = dir.parent_path()) ::chmod(dir.c_str(), 0755);
  give_to(elsewhere, as);
  if (!writable_by(elsewhere, as, p))
    throw EmbeddedDbError("the embedded database runs as user '" + as.name + "' (initdb refuses root), which can write "
                          "neither " + p.root.string() + " nor " + elsewhere.string() + "; set database.url");
  progress << "mailroom: user '" << as.name << "' cannot reach " << p.root.string() << "; the embedded cluster lives in "
           << elsewhere.string() << " (recorded in " << p.cluster_file.string() << ")\n";
  std::ofstream(p.cluster_file) << elsewhere.string() << "\n";
  p.place_cluster(elsewhere);
}

}  // namespace

fs::path server_binaries() {
  std::vector<fs::path> candidates;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec))
    if (fs::exists(entry.path() / "bin" / "pg_ctl")) candidates.push_back(entry.path() / "bin");
  if (!candidates.empty()) {
    // Newest major version first: compare as numbers ("9.6" < "15").
    std::sort(candidates.begin(), candidates.end(), [](const fs::path& a, const fs::path& b) {
      return std::stod(a.parent_path().filename().string()) < std::stod(b.parent_path().filename().string());
    });
    return candidates.back();
  }
  if (const char* path = std::getenv("PATH")) {
    std::string_view rest(path);
    while (!rest.empty()) {
      const auto colon = rest.find(':');
      const fs::path dir(rest.substr(0, colon));
      if (fs::exists(dir / "pg_ctl") && fs::exists(dir / "initdb")) return dir;
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    }
  }
  throw EmbeddedDbError("no PostgreSQL server found (/usr/lib/postgresql/*/bin): install the postgresql "
                        "package, or set database.url");
}

std::string start(const fs::path& root, std::ostream& progress) {
  Paths p(root);
  const auto as = server_account();
  if (p.run.string().size() > kMaxSocketDir)
    throw EmbeddedDbError("the embedded database's socket directory " + p.run.string() +
                          " is longer than a Unix socket allows; run mailroom from a shorter path, or set database.url");
  fs::create_directories(p.root);
  RootLock lock(p.root);
  give_to(p.root, as);

  if (as && !fs::exists(p.data / "PG_VERSION") && !writable_by(p.cluster, *as, p))
    relocate_for_server_user(p, *as, progress);

  if (!fs::exists(p.data / "PG_VERSION")) {
    progress << "mailroom: creating the embedded database in " << p.data.string() << "\n";
    fs::remove_all(p.data);  // a half-made cluster from an interrupted initdb
    fs::create_directories(p.data);
    ::chmod(p.data.c_str(), 0700);
    give_to(p.data, as);
    const int rc = run({(server_binaries() / "initdb").string(), "-D", p.data.string(), "-U", kDatabase, "-A", "trust",
                        "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"},
                       p.initdb_log, as);
    if (rc != 0) throw EmbeddedDbError("initdb failed (exit " + std::to_string(rc) + "), see " + p.initdb_log.string() + ":" + tail_of(p.initdb_log));
  }

  if (running(p, as)) {
    const int port = read_port(p);
    if (port > 0) return url_for(p, port);
  }

  fs::create_directories(p.run);
  ::chmod(p.run.c_str(), 0700);
  give_to(p.run, as);
  const int port = free_port();
  progress << "mailroom: starting the embedded database (socket in " << p.run.string() << ", port " << port << ")\n";
  const int rc = run({(server_binaries() / "pg_ctl").string(), "-D", p.data.string(), "-l", p.log.string(), "-w", "-t", "60",
                      "-o", "-p " + std::to_string(port) + " -k " + p.run.string() + " -c listen_addresses=''", "start"},
                     p.root / "pg_ctl.log", as);
  if (rc != 0) throw EmbeddedDbError("the embedded database did not start, see " + p.log.string() + ":" + tail_of(p.log));
  std::ofstream(p.port_file) << port << "\n";
  const std::string url = url_for(p, port);
  create_database("postgresql://" + std::string(kDatabase) + "@/postgres?host=" + p.run.string() + "&port=" + std::to_string(port));
  return url;
}

bool stop(const fs::path& root) {
  const Paths p(root);
  if (!fs::exists(p.root)) return false;
  const auto as = server_account();
  RootLock lock(p.root);
  if (!running(p, as)) return false;
  const int rc = run({(server_binaries() / "pg_ctl").string(), "-D", p.data.string(), "-m", "fast", "-w", "stop"},
                     p.root / "pg_ctl.log", as);
  if (rc != 0) throw EmbeddedDbError("pg_ctl stop failed, see " + (p.root / "pg_ctl.log").string());
  return true;
}

Status status(const fs::path& root) {
  const Paths p(root);
  Status s;
  s.root = p.root;
  const auto as = server_account();
  s.server_user = as ? as->name : current_user_name();
  s.initialized = fs::exists(p.data / "PG_VERSION");
  if (s.initialized && fs::exists(p.root)) {
    s.running = running(p, as);
    if (s.running) {
      s.port = read_port(p);
      s.url = url_for(p, s.port);
    }
  }
  return s;
}

}  // namespace mailroom::embedded_db
