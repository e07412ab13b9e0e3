// The one translation unit that includes cpprestsdk's HTTP client (slow to compile, archived
// upstream): everything else sees pdscaler::http::Client.
#include <cpprest/http_client.h>
#include <cpprest/containerstream.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <mutex>

#include "pdscaler/http/client.h"

namespace pdscaler::http {
namespace {

using web::http::http_exception;
using web::http::http_request;
using web::http::http_response;
using web::http::client::http_client;
using web::http::client::http_client_config;

constexpr int kTimedOut = 110;   // ETIMEDOUT, as cpprest reports an idle timeout
constexpr int kCancelled = 125;  // ECANCELED

TransportError classify(const std::exception& e) {
  if (const auto* h = dynamic_cast<const http_exception*>(&e)) {
    const int code = h->error_code().value();
    return {h->what(), code == kTimedOut, code == kCancelled};
  }
  if (dynamic_cast<const pplx::task_canceled*>(&e)) return {"cancelled", false, true};
  return {e.what(), false, false};
}

class CppRestClient final : public Client {
 public:
  explicit CppRestClient(ClientConfig config) : config_(std::move(config)) {
    http_client_config cfg;
    cfg.set_timeout(config_.timeout);
    cfg.set_validate_certificates(!config_.tls.insecure_skip_verify);
    const TlsConfig tls = config_.tls;
    if (!tls.ca_pem.empty() || !tls.client_cert_pem.empty()) {
      // Runs for each new connection, so rotated credentials take effect on reconnect.
      cfg.set_ssl_context_callback([tls](boost::asio::ssl::context& ctx) {
        if (!tls.ca_pem.empty()) {
          // Only the configured CA is trusted, as client-go trusts only a kubeconfig's CA: a fresh
          // store in place of the system one cpprest loads into every connection's context (about
          // 1.2 MB a connection, most of the operator's idle memory).
          if (X509_STORE* fresh = X509_STORE_new()) SSL_CTX_set_cert_store(ctx.native_handle(), fresh);
          ctx.add_certificate_authority(boost::asio::buffer(tls.ca_pem));
        }
        if (!tls.client_cert_pem.empty()) {
          ctx.use_certificate_chain(boost::asio::buffer(tls.client_cert_pem));
          ctx.use_private_key(boost::asio::buffer(tls.client_key_pem), boost::asio::ssl::context::pem);
        }
      });
    }
    client_ = std::make_unique<http_client>(config_.base_url, cfg);
  }

  Result<Response> send(const Request& req) override {
    try {
      http_response resp = client_->request(build(req)).get();
      return Response{resp.status_code(), resp.extract_utf8string(true).get()};
    } catch (const std::exception& e) {
      return tl::unexpected(classify(e));
    }
  }

  Result<Response> stream(const Request& req,
                          const std::function<bool(const std::string&)>& on_line) override {
    pplx::cancellation_token token = current_token();
    try {
      http_response resp = client_->request(build(req), token).get();
      if (resp.status_code() != 200) return Response{resp.status_code(), resp.extract_utf8string(true).get()};
      auto body = resp.body();
      while (!token.is_canceled()) {
        concurrency::streams::container_buffer<std::string> buf;
        const size_t n = body.read_line(buf).get();
        if (n == 0 && body.is_eof()) break;
        if (buf.collection().empty()) continue;
        if (!on_line(buf.collection())) break;
      }
      return Response{200, ""};
    } catch (const std::exception& e) {
      return tl::unexpected(classify(e));
    }
  }

  void cancel_streams() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancel_.cancel();
    cancel_ = pplx::cancellation_token_source();
  }

 private:
  http_request build(const Request& req) const {
    http_request r(req.method);
    r.set_request_uri(req.path);
    r.headers().add("Accept", "application/json");
    if (config_.token) {
      const std::string tok = config_.token();
      if (!tok.empty()) r.headers().add("Authorization", "Bearer " + tok);
    }
    if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH")
      r.set_body(req.body, req.content_type);
    return r;
  }

  pplx::cancellation_token current_token() {
    std::lock_guard<std::mutex> lock(mu_);
    return cancel_.get_token();
  }

  ClientConfig config_;
  std::unique_ptr<http_client> client_;
  std::mutex mu_;
  pplx::cancellation_token_source cancel_;
};

}  // namespace

std::unique_ptr<Client> make_client(ClientConfig config) {
  return std::make_unique<CppRestClient>(std::move(config));
}

}  // namespace pdscaler::http
