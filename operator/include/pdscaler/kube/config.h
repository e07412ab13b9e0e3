#pragma once
// Where the Kubernetes API server is and how to authenticate to it: from a kubeconfig file
// (current context; token, token file, client certificate and key, CA, as data or files;
// insecure flag) or from inside a pod (service-account token, re-read every minute).
//
//   auto cfg = kube::load_config(flag_kubeconfig);   // "" = $KUBECONFIG, then in-cluster
//   if (!cfg) die(cfg.error());
//   auto http = http::make_client(cfg->client_config());

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include <tl/expected.hpp>

#include "pdscaler/http/client.h"

namespace pdscaler::kube {

// Reads a token from a file, again after `refresh` has passed (service-account tokens are
// rotated on disk about hourly).
class TokenFile {
 public:
  TokenFile(std::string path, std::chrono::seconds refresh) : path_(std::move(path)), refresh_(refresh) {}
  std::string get();

 private:
  std::string path_;
  std::chrono::seconds refresh_;
  std::mutex mu_;
  std::string token_;
  std::chrono::steady_clock::time_point read_at_{};
};

struct Config {
  std::string server;             // https://host:port
  std::string default_namespace;  // the context's namespace, or the pod's
  http::TlsConfig tls;
  std::string token;                      // static token, if any
  std::shared_ptr<TokenFile> token_file;  // or a file to (re-)read
  std::string source;                     // where this came from, for logs

  http::ClientConfig client_config(std::chrono::seconds timeout = std::chrono::seconds(30)) const;
};

// `path` empty: $KUBECONFIG if set, else the in-cluster service account, else ~/.kube/config.
tl::expected<Config, std::string> load_config(const std::string& path);
tl::expected<Config, std::string> load_kubeconfig(const std::string& path);
tl::expected<Config, std::string> load_in_cluster();

std::string base64_decode(const std::string& in);

}  // namespace pdscaler::kube
