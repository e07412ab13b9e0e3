#include "pdscaler/kube/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace pdscaler::kube {
namespace {

namespace fs = std::filesystem;

constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

tl::expected<std::string, std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return tl::unexpected("cannot read " + path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

YAML::Node named(const YAML::Node& list, const std::string& name, const char* inner) {
  if (list.IsSequence())
    for (const auto& e : list)
      if (e["name"] && e["name"].as<std::string>() == name) return e[inner];
  return YAML::Node(YAML::NodeType::Undefined);
}

// `data` (base64) wins over `file` (relative to the kubeconfig's directory).
tl::expected<std::string, std::string> data_or_file(const YAML::Node& n, const char* data_key,
                                                    const char* file_key, const fs::path& dir) {
  if (n[data_key]) return base64_decode(n[data_key].as<std::string>());
  if (n[file_key]) {
    fs::path p = n[file_key].as<std::string>();
    if (p.is_relative()) p = dir / p;
    return read_file(p.string());
  }
  return std::string();
}

}  // namespace

std::string TokenFile::get() {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (token_.empty() || now - read_at_ >= refresh_) {
    if (auto t = read_file(path_)) {
      token_ = trim(*t);
      read_at_ = now;
    }
  }
  return token_;
}

http::ClientConfig Config::client_config(std::chrono::seconds timeout) const {
  http::ClientConfig c;
  c.base_url = server;
  c.tls = tls;
  c.timeout = timeout;
  if (token_file) {
    auto file = token_file;
    c.token = [file] { return file->get(); };
  } else if (!token.empty()) {
    std::string t = token;
    c.token = [t] { return t; };
  }
  return c;
}

std::string base64_decode(const std::string& in) {
  static const std::string kChars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (unsigned char c : in) {
    if (c == '=') break;
    const auto pos = kChars.find(static_cast<char>(c));
    if (pos == std::string::npos) continue;  // line breaks and spaces in wrapped data
    val = (val << 6) + static_cast<int>(pos);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

tl::expected<Config, std::string> load_kubeconfig(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const std::exception& e) {
    return tl::unexpected("kubeconfig " + path + ": " + e.what());
  }
  const fs::path dir = fs::absolute(path).parent_path();
  try {
    if (!root["current-context"]) return tl::unexpected("kubeconfig " + path + ": no current-context");
    const std::string ctx_name = root["current-context"].as<std::string>();
    const YAML::Node ctx = named(root["contexts"], ctx_name, "context");
    if (!ctx) return tl::unexpected("kubeconfig " + path + ": context \"" + ctx_name + "\" not found");
    const YAML::Node cluster = named(root["clusters"], ctx["cluster"].as<std::string>(""), "cluster");
    if (!cluster || !cluster["server"])
      return tl::unexpected("kubeconfig " + path + ": cluster of context \"" + ctx_name + "\" not found or has no server");
    const YAML::Node user = named(root["users"], ctx["user"].as<std::string>(""), "user");

    Config c;
    c.source = "kubeconfig " + path + " (context " + ctx_name + ")";
    c.server = cluster["server"].as<std::string>();
    c.default_namespace = ctx["namespace"].as<std::string>("default");
    c.tls.insecure_skip_verify = cluster["insecure-skip-tls-verify"].as<bool>(false);
    auto ca = data_or_file(cluster, "certificate-authority-data", "certificate-authority", dir);
    if (!ca) return tl::unexpected("kubeconfig " + path + ": " + ca.error());
    c.tls.ca_pem = *ca;
    if (user) {
      auto cert = data_or_file(user, "client-certificate-data", "client-certificate", dir);
      auto key = data_or_file(user, "client-key-data", "client-key", dir);
      if (!cert) return tl::unexpected("kubeconfig " + path + ": " + cert.error());
      if (!key) return tl::unexpected("kubeconfig " + path + ": " + key.error());
      c.tls.client_cert_pem = *cert;
      c.tls.client_key_pem = *key;
      if (user["token"]) c.token = user["token"].as<std::string>();
      if (user["tokenFile"]) {
        fs::path p = user["tokenFile"].as<std::string>();
        if (p.is_relative()) p = dir / p;
        c.token_file = std::make_shared<TokenFile>(p.string(), std::chrono::seconds(60));
      }
    }
    return c;
  } catch (const YAML::Exception& e) {
    return tl::unexpected("kubeconfig " + path + ": " + e.what());
  }
}

tl::expected<Config, std::string> load_in_cluster() {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !port) return tl::unexpected(std::string("not running in a cluster (KUBERNETES_SERVICE_HOST unset)"));
  Config c;
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  c.server = "https://" + h + ":" + port;
  c.source = "in-cluster service account";
  auto ca = read_file(std::string(kServiceAccountDir) + "/ca.crt");
  if (!ca) return tl::unexpected(ca.error());
  c.tls.ca_pem = *ca;
  c.token_file = std::make_shared<TokenFile>(std::string(kServiceAccountDir) + "/token", std::chrono::seconds(60));
  if (auto ns = read_file(std::string(kServiceAccountDir) + "/namespace")) c.default_namespace = trim(*ns);
  return c;
}

tl::expected<Config, std::string> load_config(const std::string& path) {
  if (!path.empty()) return load_kubeconfig(path);
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    std::string first = env;
    first = first.substr(0, first.find(':'));
    return load_kubeconfig(first);
  }
  if (std::getenv("KUBERNETES_SERVICE_HOST")) return load_in_cluster();
  if (const char* home = std::getenv("HOME")) {
    const std::string p = std::string(home) + "/.kube/config";
    if (fs::exists(p)) return load_kubeconfig(p);
  }
  return tl::unexpected(std::string("no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, or run in a pod"));
}

}  // namespace pdscaler::kube
