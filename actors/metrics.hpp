// quire::actors — an in-process metrics registry rendered in the Prometheus text format (0.0.4).
//
// Families are declared once (name, type, help, histogram buckets); samples are keyed by their
// label set. Thread-safe: the HTTP threads and the actors record into the same registry. Rendering
// is deterministic (sorted by family, then labels) so `promtool check metrics` and tests see stable
// output.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace quire::actors {

using label_set = std::vector<std::pair<std::string, std::string>>;

class metrics_registry {
 public:
  enum class kind { counter, gauge, histogram };

  void declare(const std::string& name, kind k, const std::string& help, std::vector<double> buckets = {});
  void add(const std::string& name, const label_set& labels, double v = 1);   // counter
  void set(const std::string& name, const label_set& labels, double v);       // gauge
  void observe(const std::string& name, const label_set& labels, double v);   // histogram
  // Removes every sample of a gauge family (for families rebuilt from a snapshot each time).
  void clear(const std::string& name);
  double value(const std::string& name, const label_set& labels) const;       // counter/gauge; 0 if absent
  std::string render() const;

 private:
  struct series {
    double value = 0;                 // counter / gauge
    std::vector<double> bucket_counts;  // histogram, cumulative at render time
    double sum = 0;
    double count = 0;
  };
  struct family {
    kind k = kind::counter;
    std::string help;
    std::vector<double> buckets;
    std::map<label_set, series> samples;
  };
  family* find(const std::string& name, kind k);
  mutable std::mutex mu_;
  std::map<std::string, family> families_;
};

// The process-wide registry with every quire metric family declared (see docs/api.md).
metrics_registry& service_metrics();

}  // namespace quire::actors
