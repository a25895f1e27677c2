// Process-wide Prometheus metrics: counters and histograms with labels, rendered in the text
// exposition format (version 0.0.4) by /metrics. The API counts requests and their latency,
// the queue workers count sends by provider and outcome and their latency.
//
// Hand-written: Debian 12 has no C++ Prometheus client package (prometheus-cpp is not packaged),
// and what /metrics needs is two metric kinds and one text format.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace mailroom::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Latency buckets in seconds (upper bounds; +Inf is implied).
inline const std::vector<double> kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                    0.1,   0.25,   0.5,   1,    2.5,   5, 10};

class Registry {
 public:
  static Registry& global();

  // Declares a family once (HELP and TYPE lines); `type` is "counter" or "histogram".
  void describe(const std::string& name, const std::string& help, const std::string& type);
  void add(const std::string& name, const Labels& labels, double amount = 1);
  void observe(const std::string& name, const Labels& labels, double value);
  std::string render() const;

 private:
  struct Series {
    double value = 0;                 // counter
    std::vector<long> buckets;        // histogram: cumulative counts by kLatencyBuckets
    long count = 0;
    double sum = 0;
  };
  struct Family {
    std::string help, type;
    std::map<std::string, Series> series;  // rendered label set -> series
  };
  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

// {a="x",b="y"}, values escaped as Prometheus requires.
std::string render_labels(const Labels& labels);

}  // namespace mailroom::metrics
