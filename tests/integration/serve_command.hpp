// `mailroom serve` as a deployer runs it, in the background for the life of the object: the
// environment given (database, master key, plugins, API address) and its output in `log`.
// SIGTERM on destruction; the child dies with the test if the test dies first.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace mailroom::testing {

class ServeCommand {
 public:
  ServeCommand(const std::vector<std::pair<std::string, std::string>>& env, const std::string& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
      ::execl(MAILROOM_BINARY, MAILROOM_BINARY, "serve", nullptr);
      ::_exit(127);
    }
  }
  ~ServeCommand() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  ServeCommand(const ServeCommand&) = delete;
  ServeCommand& operator=(const ServeCommand&) = delete;

 private:
  pid_t pid_ = -1;
};

}  // namespace mailroom::testing
