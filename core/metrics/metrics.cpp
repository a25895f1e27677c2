#include "metrics.hpp"

#include <cstdio>

namespace mailroom::metrics {
namespace {

std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", v);
  return text;
}

}  // namespace

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += labels[i].first + "=\"";
    for (char c : labels[i].second) {
      if (c == '\\' || c == '"') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

Registry& Registry::global() {
  static Registry& registry = [] () -> Registry& {
    static Registry r;
    r.describe("mailroom_http_requests_total", "HTTP requests by route and status code.", "counter");
    r.describe("mailroom_http_request_duration_seconds", "HTTP request latency by route.", "histogram");
    r.describe("mailroom_sends_total", "Send attempts by provider and outcome.", "counter");
    r.describe("mailroom_send_duration_seconds", "Time a provider took to accept or refuse an email.", "histogram");
    r.describe("mailroom_webhook_events_total", "Provider webhook events by provider and outcome.", "counter");
    r.describe("mailroom_webhook_deliveries_total", "Event webhook attempts to applications by outcome.", "counter");
    r.describe("mailroom_webhook_delivery_duration_seconds", "Time a receiver took to answer an event webhook.",
               "histogram");
    return r;
  }();
  return registry;
}

void Registry::describe(const std::string& name, const std::string& help, const std::string& type) {
  std::lock_guard lock(mutex_);
  auto& f = families_[name];
  f.help = help;
  f.type = type;
}

void Registry::add(const std::string& name, const Labels& labels, double amount) {
  std::lock_guard lock(mutex_);
  families_[name].series[render_labels(labels)].value += amount;
}

void Registry::observe(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  auto& s = families_[name].series[render_labels(labels)];
  if (s.buckets.empty()) s.buckets.assign(kLatencyBuckets.size(), 0);
  for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i)
    if (value <= kLatencyBuckets[i]) ++s.buckets[i];
  ++s.count;
  s.sum += value;
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    if (!f.help.empty()) out += "# HELP " + name + " " + f.help + "\n";
    if (!f.type.empty()) out += "# TYPE " + name + " " + f.type + "\n";
    for (const auto& [labels, s] : f.series) {
      if (f.type != "histogram") {
        out += name + labels + " " + number(s.value) + "\n";
        continue;
      }
      // le joins the series' own labels.
      const std::string open = labels.empty() ? "{" : labels.substr(0, labels.size() - 1) + ",";
      for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i)
        out += name + "_bucket" + open + "le=\"" + number(kLatencyBuckets[i]) + "\"} " + std::to_string(s.buckets[i]) + "\n";
      out += name + "_bucket" + open + "le=\"+Inf\"} " + std::to_string(s.count) + "\n";
      out += name + "_sum" + labels + " " + number(s.sum) + "\n";
      out += name + "_count" + labels + " " + std::to_string(s.count) + "\n";
    }
  }
  return out;
}

}  // namespace mailroom::metrics
