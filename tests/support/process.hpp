// Running the independent tools the tests check against (python3 email parser, dkimpy,
// openssl, the mailroom command) and reading what they leave behind.
#pragma once

#include <sys/wait.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace mailroom::testing {

struct CommandResult {
  int status = -1;
  std::string output;  // stdout and stderr together
};

inline std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

inline std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Runs a shell command line with `input` on its stdin.
inline CommandResult run_command(const std::string& command, const std::string& input = "") {
  static int counter = 0;
  const auto input_file = std::filesystem::temp_directory_path() /
                          ("mr-in-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::ofstream(input_file, std::ios::binary) << input;
  CommandResult result;
  FILE* pipe = ::popen(("(" + command + ") < " + shell_quote(input_file.string()) + " 2>&1").c_str(), "r");
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::filesystem::remove(input_file);
  return result;
}

// The output of a command whose exit status does not matter to the caller.
inline std::string run(const std::string& command) { return run_command(command).output; }

// A test server started as a child process that prints "PORT <n>" as its first line once it
// listens (tests/tools/smtp_server.py, cloudflare_fake.py). port is 0 when it did not start.
struct Spawned {
  pid_t pid = -1;
  int port = 0;
};

inline Spawned spawn_reporting_port(std::vector<std::string> args) {
  Spawned s;
  int out[2];
  if (::pipe(out) != 0) return s;
  s.pid = ::fork();
  if (s.pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // a test that aborts takes its servers along
    ::dup2(out[1], 1);
    ::close(out[0]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  FILE* f = ::fdopen(out[0], "r");
  char line[64] = {};
  if (std::fgets(line, sizeof line, f) != nullptr) std::sscanf(line, "PORT %d", &s.port);
  std::fclose(f);
  return s;
}

// A port that was free a moment ago (the kernel's pick for port 0).
inline unsigned short free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t size = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(fd);
  return ntohs(address.sin_port);
}

}  // namespace mailroom::testing
