#pragma once
// A small HTTP client interface: the only way the Kubernetes and Prometheus adapters talk to the
// network. The implementation (cpprestsdk) lives in one translation unit behind make_client(), so
// the library can be replaced without touching its callers.
//
//   auto c = http::make_client({.base_url = "https://127.0.0.1:6443", .tls = tls, .token = tok});
//   auto r = c->send({"GET", "/version"});
//   if (r && r->status == 200) use(r->body);

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <tl/expected.hpp>

namespace pdscaler::http {

// Percent-encodes everything but unreserved characters, for a query parameter's value.
std::string query_escape(const std::string& s);

struct Request {
  std::string method;
  std::string path;  // with query string
  std::string body;
  std::string content_type = "application/json";
};

struct Response {
  int status = 0;
  std::string body;
};

// A failure below HTTP: connection refused, TLS, timeout. `timed_out` lets callers tell a quiet
// watch from a dead server.
struct TransportError {
  std::string message;
  bool timed_out = false;
  bool cancelled = false;
};

template <typename T>
using Result = tl::expected<T, TransportError>;

struct TlsConfig {
  std::string ca_pem;           // trust these instead of the system store; empty = system
  std::string client_cert_pem;  // mTLS, optional
  std::string client_key_pem;
  bool insecure_skip_verify = false;
};

struct ClientConfig {
  std::string base_url;
  TlsConfig tls;
  // Called before every request; returns a bearer token or "" (re-reading a rotated file is the
  // caller's business).
  std::function<std::string()> token;
  std::chrono::seconds timeout{30};  // idle timeout: reset whenever bytes arrive
};

class Client {
 public:
  virtual ~Client() = default;
  virtual Result<Response> send(const Request& req) = 0;
  // Sends `req` and, if the answer is 200, calls `on_line` for each line of the body as it
  // arrives until the server ends the response, `on_line` returns false, or cancel_streams() is
  // called. Non-200 answers are returned whole without calling `on_line`.
  virtual Result<Response> stream(const Request& req,
                                  const std::function<bool(const std::string&)>& on_line) = 0;
  // Ends every stream in progress (for shutdown); later calls work again.
  virtual void cancel_streams() = 0;
};

std::unique_ptr<Client> make_client(ClientConfig config);

}  // namespace pdscaler::http
