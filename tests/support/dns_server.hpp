// A real authoritative DNS server for tests: Knot DNS (Debian's knot) on a free port,
// serving one zone from a zone file the test writes. serve() rewrites the zone and reloads.
#pragma once

#include "process.hpp"
#include "prism.hpp"  // free_port()

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace mailroom::testing {

class DnsServer {
 public:
  // `records`: zone-file lines below the SOA and NS the server adds itself.
  DnsServer(std::string zone, const std::string& records) : zone_(std::move(zone)) {
    dir_ = std::filesystem::temp_directory_path() / ("mr-knot-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    port_ = free_port();
    std::ofstream(dir_ / "knot.conf") << "server:\n    listen: 127.0.0.1@" << port_ << "\n    rundir: " << dir_.string() << "\n"
                                      << (::geteuid() == 0 ? "    user: root:root\n" : "")
                                      << "database:\n    storage: " << dir_.string() << "\n"
                                      << "log:\n  - target: stderr\n    any: warning\n"
                                      << "zone:\n  - domain: " << zone_ << "\n    file: " << zone_file().string()
                                      << "\n    zonefile-load: whole\n    journal-content: none\n";
    write_zone(records);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // a test that aborts takes its servers along
      const std::string log = (dir_ / "knot.log").string();
      std::freopen(log.c_str(), "w", stderr);
      ::execl("/usr/sbin/knotd", "knotd", "-c", (dir_ / "knot.conf").c_str(), nullptr);
      ::_exit(127);
    }
    wait_serving();
  }
  ~DnsServer() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    std::filesystem::remove_all(dir_);
  }
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Serves new records (the serial goes up) and waits until they are answered.
  void serve(const std::string& records) {
    write_zone(records);
    run("knotc -c " + shell_quote((dir_ / "knot.conf").string()) + " zone-reload " + zone_ + " > /dev/null");
    wait_serving();
  }

 private:
  std::filesystem::path zone_file() const { return dir_ / (zone_ + ".zone"); }

  void write_zone(const std::string& records) {
    ++serial_;
    std::ofstream(zone_file()) << "$ORIGIN " << zone_ << ".\n$TTL 3600\n@ SOA ns1 hostmaster " << serial_
                               << " 7200 3600 1209600 3600\n@ NS ns1\nns1 A 127.0.0.1\n"
                               << records << "\n";
  }

  void wait_serving() {
    const std::string want = std::to_string(serial_);
    for (int i = 0; i < 100; ++i) {
      const auto soa = run_command("kdig @127.0.0.1 -p " + std::to_string(port_) + " +short +timeout=1 +retry=0 SOA " + zone_);
      if (soa.status == 0 && soa.output.find(" " + want + " ") != std::string::npos) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "knotd does not serve " << zone_ << " serial " << want << ": " << read_file(dir_ / "knot.log");
  }

  static inline int counter_ = 0;
  std::string zone_;
  std::filesystem::path dir_;
  unsigned short port_ = 0;
  int serial_ = 0;
  pid_t pid_ = -1;
};

}  // namespace mailroom::testing
