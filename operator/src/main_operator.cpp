// pdscaler-operator: keeps the GPU workloads of every PDDeployment sized to its SLOs.

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <csignal>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "pdscaler/ctl/controller.h"
#include "pdscaler/ctl/health.h"
#include "pdscaler/ctl/leader.h"
#include "pdscaler/ctl/self_metrics.h"
#include "pdscaler/http/client.h"
#include "pdscaler/kube/client.h"
#include "pdscaler/kube/config.h"

namespace {

using namespace pdscaler;

// One JSON object per line; messages escaped properly.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const nlohmann::json line = {
        {"ts", api::format_micro_time(msg.time)},
        {"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                              spdlog::level::to_string_view(msg.level).size())},
        {"logger", std::string(msg.logger_name.data(), msg.logger_name.size())},
        {"msg", std::string(msg.payload.data(), msg.payload.size())},
    };
    const std::string s = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    dest.append(s.data(), s.data() + s.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

std::string make_identity() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  std::random_device rd;
  char suffix[9];
  std::snprintf(suffix, sizeof suffix, "%08x", rd());
  return std::string(host) + "_" + suffix;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef __GLIBC__
  // Two malloc arenas, not eight per core: the operator's threads (informers, workers, pollers,
  // cpprest's pool) mostly wait, and each arena of its own keeps freed memory resident. As
  // MALLOC_ARENA_MAX=2, which the environment may still override.
  if (!std::getenv("MALLOC_ARENA_MAX")) mallopt(M_ARENA_MAX, 2);
#endif
  CLI::App app{"pdscaler-operator: sizes prefill/decode GPU workloads of PDDeployments to their SLOs"};
  std::string kubeconfig, ns, le_ns, le_id = "pdscaler-operator", metrics_bind = ":8080", health_bind = ":8081";
  std::string log_format = "text", log_level = "info";
  bool leader_elect = false;
  int resync_s = 30;
  int workers = 4, evaluators = 4;
  app.add_option("--kubeconfig", kubeconfig, "kubeconfig file (default: $KUBECONFIG, then in-cluster)");
  app.add_option("--namespace", ns, "watch only this namespace (empty = all)");
  app.add_flag("--leader-elect", leader_elect, "elect a leader on a Lease before writing");
  app.add_option("--leader-election-namespace", le_ns, "namespace of the Lease (default: the config's namespace)");
  app.add_option("--leader-election-id", le_id, "name of the Lease")->capture_default_str();
  app.add_option("--metrics-bind-address", metrics_bind, "HOST:PORT for /metrics; 0 disables")->capture_default_str();
  app.add_option("--health-probe-bind-address", health_bind, "HOST:PORT for /healthz and /readyz")->capture_default_str();
  app.add_option("--log-format", log_format, "json | text")->check(CLI::IsMember({"json", "text"}))->capture_default_str();
  app.add_option("--log-level", log_level, "trace | debug | info | warn | error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))->capture_default_str();
  app.add_option("--resync-period", resync_s, "seconds between full re-reconciles")->check(CLI::PositiveNumber);
  app.add_option("--max-concurrent-reconciles", workers, "PDDeployments reconciled at once (never one twice at once)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--max-concurrent-evaluations", evaluators,
                 "Prometheus evaluations at once, off the reconcile path (a slow Prometheus holds one each)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  auto log = spdlog::stderr_logger_mt("pdscaler");
  if (log_format == "json") log->set_formatter(std::make_unique<JsonFormatter>());
  log->set_level(spdlog::level::from_str(log_level));
  log->flush_on(spdlog::level::trace);

  auto cfg = kube::load_config(kubeconfig);
  if (!cfg) {
    log->critical("{}", cfg.error());
    return 2;
  }
  if (le_ns.empty()) le_ns = cfg->default_namespace.empty() ? "default" : cfg->default_namespace;
  const std::string identity = make_identity();
  log->info("starting as {}; API server {} from {}; namespace {}", identity, cfg->server, cfg->source,
            ns.empty() ? "(all)" : ns);

  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::unique_ptr<ctl::SelfMetrics> metrics;
  try {
    metrics = std::make_unique<ctl::SelfMetrics>(metrics_bind);
  } catch (const std::exception& e) {
    log->critical("cannot serve metrics on {}: {}", metrics_bind, e.what());
    return 2;
  }
  auto client = kube::make_rest_client(
      http::make_client(cfg->client_config(std::chrono::seconds(30))),
      http::make_client(cfg->client_config(std::chrono::seconds(90))), identity,
      [&metrics](const std::string& verb, int status) { metrics->api_call(verb, status); });

  auto source = ctl::make_prometheus_source([](const std::string& url, const ctl::PrometheusAuth& auth) {
    http::ClientConfig c;
    c.base_url = url;
    c.timeout = std::chrono::seconds(10);
    c.tls.ca_pem = auth.ca_pem;
    if (!auth.bearer_token.empty()) c.token = [token = auth.bearer_token] { return token; };
    return http::make_client(c);
  });
  ctl::Controller controller(*client, *metrics, {ns, std::chrono::seconds(resync_s), workers, evaluators}, log,
                             source.get());
  ctl::HealthServer health(health_bind, [&controller] { return controller.ready(); });
  if (!health.listening()) {
    log->critical("cannot serve probes on {}: {}", health_bind, health.error());
    return 2;
  }

  std::unique_ptr<ctl::LeaderElector> elector;
  std::thread elector_thread;
  if (leader_elect) {
    elector = std::make_unique<ctl::LeaderElector>(
        *client, ctl::LeaderConfig{le_ns, le_id, identity},
        [&](bool leading) {
          log->info(leading ? "became the leader" : "stopped leading");
          metrics->leader(leading);
          controller.set_leader(leading);
        });
    elector_thread = std::thread([&] { elector->run(); });
  } else {
    metrics->leader(true);
    controller.set_leader(true);
  }
  controller.start();

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log->info("received signal {}; stopping", sig);
  if (elector) {
    elector->stop();
    elector_thread.join();
  }
  controller.stop();
  if (elector) elector->release();
  log->info("stopped");
  return 0;
}
