// The Kubernetes REST client over a scripted HTTP client: lists are read in pages (limit and
// continue, as client-go's pager), one snapshot's resourceVersion, and an expired continue token is
// a 410 the informer answers with a fresh list.
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "pdscaler/kube/client.h"

namespace pdscaler::kube {
namespace {

// Answers by path; records every path asked for.
class PagedHttp final : public http::Client {
 public:
  std::map<std::string, http::Response> answers;
  std::vector<std::string>* asked;
  explicit PagedHttp(std::vector<std::string>* a) : asked(a) {}
  http::Result<http::Response> send(const http::Request& r) override {
    asked->push_back(r.path);
    auto it = answers.find(r.path);
    if (it == answers.end()) return http::Response{404, R"({"kind": "Status", "message": "no such page"})"};
    return it->second;
  }
  http::Result<http::Response> stream(const http::Request&, const std::function<bool(const std::string&)>&) override {
    return tl::unexpected(http::TransportError{"not streamed here"});
  }
  void cancel_streams() override {}
};

std::string page(const std::string& rv, const std::string& next, std::initializer_list<const char*> names) {
  std::string items;
  for (const char* n : names)
    items += std::string(items.empty() ? "" : ",") + R"({"metadata": {"namespace": "llm", "name": ")" + n + R"("}})";
  return R"({"kind": "DeploymentList", "metadata": {"resourceVersion": ")" + rv + R"(", "continue": ")" + next +
         R"("}, "items": [)" + items + "]}";
}

TEST(RestClientList, ReadsEveryPageOfOneSnapshot) {
  std::vector<std::string> asked;
  auto http = std::make_unique<PagedHttp>(&asked);
  http->answers["/apis/apps/v1/deployments?limit=500"] = {200, page("41", "tok/1=", {"a", "b"})};
  http->answers["/apis/apps/v1/deployments?limit=500&continue=tok%2F1%3D"] = {200, page("41", "", {"c"})};
  auto client = make_rest_client(std::move(http), std::make_unique<PagedHttp>(&asked), "test", {});
  auto listed = client->list("/apis/apps/v1/deployments");
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->items.size(), 3u);
  EXPECT_EQ(listed->items[2]["metadata"]["name"], "c");
  EXPECT_EQ(listed->resource_version, "41");
  EXPECT_EQ(asked.size(), 2u);
}

TEST(RestClientList, AQueryAlreadyThereGetsTheLimitAppended) {
  std::vector<std::string> asked;
  auto http = std::make_unique<PagedHttp>(&asked);
  http->answers["/api/v1/namespaces/llm/pods?labelSelector=app%3Dp&limit=500"] = {200, page("7", "", {"p-1"})};
  auto client = make_rest_client(std::move(http), std::make_unique<PagedHttp>(&asked), "test", {});
  auto listed = client->list("/api/v1/namespaces/llm/pods?labelSelector=app%3Dp");
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_EQ(listed->items.size(), 1u);
}

TEST(RestClientList, AnExpiredContinueTokenIsGone) {
  std::vector<std::string> asked;
  auto http = std::make_unique<PagedHttp>(&asked);
  http->answers["/apis/apps/v1/deployments?limit=500"] = {200, page("41", "old", {"a"})};
  http->answers["/apis/apps/v1/deployments?limit=500&continue=old"] = {
      410, R"({"kind": "Status", "reason": "Expired", "message": "The provided continue parameter is too old"})"};
  auto client = make_rest_client(std::move(http), std::make_unique<PagedHttp>(&asked), "test", {});
  auto listed = client->list("/apis/apps/v1/deployments");
  ASSERT_FALSE(listed);
  EXPECT_EQ(listed.error().code, ErrorCode::Gone);
  EXPECT_NE(listed.error().message.find("too old"), std::string::npos);
}

TEST(RestClientList, AServerRepeatingItsContinueTokenDoesNotKeepUsListing) {
  std::vector<std::string> asked;
  auto http = std::make_unique<PagedHttp>(&asked);
  http->answers["/apis/apps/v1/deployments?limit=500"] = {200, page("41", "same", {"a"})};
  http->answers["/apis/apps/v1/deployments?limit=500&continue=same"] = {200, page("41", "same", {"b"})};
  auto client = make_rest_client(std::move(http), std::make_unique<PagedHttp>(&asked), "test", {});
  auto listed = client->list("/apis/apps/v1/deployments");
  ASSERT_FALSE(listed);
  EXPECT_EQ(asked.size(), 2u);
}

}  // namespace
}  // namespace pdscaler::kube
