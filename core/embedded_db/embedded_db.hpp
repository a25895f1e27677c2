// The embedded default database: a private PostgreSQL cluster under a directory of its own
// (./.mailroom/ for `mailroom`), for a first run without any database to configure.
//
// Layout of <root>: data/ (the cluster), run/ (its Unix socket; no TCP listener),
// server.log, initdb.log, port. The cluster listens only on the socket in run/, with
// trust authentication, so only the user it runs as (and root) can reach it.
// As root it runs as the unprivileged system user "postgres" (initdb and the server refuse
// root); as anyone else, as that user.
#pragma once

#include <filesystem>
#include <ostream>
#include <stdexcept>
#include <string>

namespace mailroom::embedded_db {

class EmbeddedDbError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr const char* kDefaultRoot = ".mailroom";
inline constexpr const char* kDatabase = "mailroom";

struct Status {
  std::filesystem::path root;
  bool initialized = false;  // initdb has run
  bool running = false;
  int port = 0;
  std::string url;            // set when running
  std::string server_user;    // the OS user the server runs as
};

// Starts the cluster under `root` (initdb on first use, a free port, database "mailroom"),
// or finds it already running (another mailroom started it), and returns its URL.
// Progress lines go to `progress`. Safe to call from several processes at once.
std::string start(const std::filesystem::path& root, std::ostream& progress);

// Stops the cluster if it runs. Returns whether it was running.
bool stop(const std::filesystem::path& root);

Status status(const std::filesystem::path& root);

// The newest PostgreSQL server binaries directory (/usr/lib/postgresql/<N>/bin), or a
// directory on PATH holding pg_ctl. Throws EmbeddedDbError naming the package to install.
std::filesystem::path server_binaries();

}  // namespace mailroom::embedded_db
