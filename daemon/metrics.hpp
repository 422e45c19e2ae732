#pragma once
// Prometheus text exposition format 0.0.4: a writer that keeps each family's HELP/TYPE lines
// and samples together and escapes label values, and a small TCP server for GET /metrics.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "core/util/error.hpp"

namespace weights::daemon {

enum class MetricType { counter, gauge };

class MetricsWriter {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  // Starts a family; `name` must match [a-zA-Z_:][a-zA-Z0-9_:]* (checked: a bug otherwise).
  void family(std::string_view name, std::string_view help, MetricType type);
  // A sample of the current family. Label names are ours; values may be anything (escaped).
  void sample(const Labels& labels, double value);
  const std::string& text() const { return out_; }

 private:
  std::string out_;
  std::string name_;
};

// Escapes a label value: backslash, double quote and newline.
std::string escape_label_value(std::string_view v);

// Serves GET /metrics (and GET / with a pointer to it) on a TCP endpoint, one request per
// connection, on the io_context thread; `render` is called there for each scrape. Anything
// else gets 404/405; requests are capped at 8 KiB and 10 s.
class MetricsServer {
 public:
  static Result<std::unique_ptr<MetricsServer>> start(boost::asio::io_context& ioc,
                                                      const std::string& endpoint,
                                                      std::function<std::string()> render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  std::string local_endpoint() const;  // "127.0.0.1:9750"
  void stop();

  struct Impl;

 private:
  explicit MetricsServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace weights::daemon
