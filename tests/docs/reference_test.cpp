// docs/pddeployment-reference.md against the CRD schema, both ways: every spec field of the schema
// has a row, every row names a field of the schema, and enum values match.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

namespace {

std::map<std::string, YAML::Node> schema_fields() {
  const YAML::Node crd = YAML::LoadFile(std::string(PDSCALER_SOURCE_DIR) + "/crds/pdscaler.io_pddeployments.yaml");
  std::map<std::string, YAML::Node> out;
  std::function<void(const YAML::Node&, const std::string&)> walk = [&](const YAML::Node& n, const std::string& path) {
    if (n["type"] && n["type"].as<std::string>() == "array") return walk(n["items"], path + "[]");
    if (n["properties"]) {
      for (auto it = n["properties"].begin(); it != n["properties"].end(); ++it)
        walk(it->second, path + "." + it->first.as<std::string>());
    } else {
      out[path] = n;
    }
  };
  walk(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"], "spec");
  return out;
}

// Table rows whose first cell is a `spec...` field: field -> the whole row.
std::map<std::string, std::string> documented() {
  std::ifstream f(std::string(PDSCALER_SOURCE_DIR) + "/docs/pddeployment-reference.md");
  std::map<std::string, std::string> rows;
  std::string line;
  const std::regex row(R"(^\| `(spec\.[A-Za-z.\[\]]+)` \|)");
  while (std::getline(f, line)) {
    std::smatch m;
    if (std::regex_search(line, m, row)) rows[m[1]] = line;
  }
  return rows;
}

TEST(Reference, EverySchemaFieldIsDocumented) {
  const auto doc = documented();
  const auto fields = schema_fields();
  ASSERT_GT(fields.size(), 30u);
  for (const auto& [path, node] : fields) EXPECT_TRUE(doc.count(path)) << path << " has no row in the reference";
}

TEST(Reference, EveryDocumentedFieldExists) {
  const auto fields = schema_fields();
  for (const auto& [path, row] : documented()) EXPECT_TRUE(fields.count(path)) << path << " is not in the CRD schema";
}

TEST(Reference, EnumValuesMatch) {
  const auto doc = documented();
  for (const auto& [path, node] : schema_fields()) {
    if (!node["enum"] || !doc.count(path)) continue;
    std::set<std::string> in_schema, in_doc;
    for (const auto& v : node["enum"]) in_schema.insert(v.as<std::string>());
    const std::string& row = doc.at(path);
    for (const auto& v : in_schema) EXPECT_NE(row.find("`" + v + "`"), std::string::npos) << path << ": " << v;
    // Kubernetes reads YAML 1.1, where a bare Off/No/Yes/On is a boolean: such values must be quoted.
    static const std::set<std::string> kYaml11Booleans = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No",
                                                          "NO", "on", "On", "ON", "off", "Off", "OFF"};
    for (const auto& v : node["enum"])
      if (kYaml11Booleans.count(v.Scalar())) {
        EXPECT_EQ(v.Tag(), "!") << path << ": quote '" << v.Scalar() << "'";
      }
  }
}

}  // namespace
