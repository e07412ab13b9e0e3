// `pdscaler plan` run as a user runs it: exit statuses, stderr messages, and the JSON contract.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;

struct Result {
  int status = -1;
  std::string out;
  std::string err;
};

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("pdscaler-cli-" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }

  static std::string example(const std::string& name) {
    return std::string(PDSCALER_SOURCE_DIR) + "/crds/examples/" + name;
  }

  static std::string slurp(const fs::path& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }

  // Runs the binary with `args` (already shell-quoted where needed).
  Result run(const std::string& args) {
    const fs::path err = dir_ / "stderr";
    const std::string cmd = std::string(PDSCALER_CLI) + " " + args + " 2>" + err.string();
    Result r;
    FILE* pipe = popen(cmd.c_str(), "r");
    if (!pipe) return r;
    std::array<char, 4096> buf{};
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
    const int raw = pclose(pipe);
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    r.err = slurp(err);
    return r;
  }

  std::string bad(const std::string& from, const std::string& to) {
    std::string text = slurp(example("deepseek-v31-h200.yaml"));
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    return write("bad.yaml", text);
  }

  fs::path dir_;
};

TEST_F(Cli, PaperExampleAsJson) {
  const Result r = run("plan -f " + example("deepseek-v31-h200.yaml") + " -o json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["feasible"], true);
  EXPECT_EQ(j["notation"], "4P4D");
  EXPECT_NEAR(j["ratio"].get<double>(), 0.814, 0.0005);
  EXPECT_EQ(j["prefill"]["replicas"], 4);
  EXPECT_NEAR(j["prefill"]["exactReplicas"].get<double>(), 3.069, 0.0005);
  EXPECT_NEAR(j["prefill"]["effectiveThroughput"].get<double>(), 25066.3, 0.05);
  EXPECT_EQ(j["prefill"]["gpus"], 32);
  EXPECT_EQ(j["decode"]["replicas"], 4);
  EXPECT_NEAR(j["decode"]["exactReplicas"].get<double>(), 3.771, 0.0005);
  EXPECT_NEAR(j["decode"]["throughput"].get<double>(), 1700, 1e-9);
  EXPECT_EQ(j["decode"]["batchSize"], 34);
  EXPECT_EQ(j["decode"]["gpus"], 32);
  EXPECT_TRUE(j["reasons"].is_array());
  EXPECT_TRUE(j["reasons"].empty());
  EXPECT_EQ(j["bindingConstraint"], "none");
  EXPECT_TRUE(r.err.empty()) << r.err;
}

// Found by fuzz_spec (10-minute run): a manifest whose name is not UTF-8 made `-o json` throw from
// the JSON serializer (std::terminate). Such bytes are replaced; the plan is still printed.
TEST_F(Cli, JsonOutputOfANameThatIsNotUtf8) {
  const Result r = run("plan -f " + bad("name: deepseek-v31", "name: dsv\xff\xfe" "31") + " -o json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["notation"], "4P4D");
  EXPECT_NE(r.out.find("\xef\xbf\xbd"), std::string::npos) << "U+FFFD replaces the bad bytes";
}

TEST_F(Cli, NearestRoundingGivesThePapers3P4D) {
  const Result r = run("plan -f " + example("deepseek-v31-h200.yaml") + " -o json --rounding nearest");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["notation"], "3P4D");
  EXPECT_EQ(j["meetsSlo"], false);
}

TEST_F(Cli, TableForPeople) {
  const Result r = run("plan -f " + example("deepseek-v31-h200.yaml"));
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* s : {"4P4D", "64 GPUs", "ratio P:D  0.814", "binding constraint: none",
                        "prefill", "decode", "Explanation", "prefillThroughput"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
}

TEST_F(Cli, YamlOutput) {
  const Result r = run("plan -f " + example("deepseek-v31-h200.yaml") + " -o yaml");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("notation: \"4P4D\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("feasible: true"), std::string::npos);
}

TEST_F(Cli, LlamaSampleFromRealProfilesPlansWithWarnings) {
  const Result r = run("plan -f " + example("llama33-70b-h100.yaml") + " -o json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["feasible"], true);
  EXPECT_EQ(j["queueModel"], "MG1");
  EXPECT_EQ(j["decode"]["batchSize"], 139);
  EXPECT_EQ(j["slo"]["attainment"], 99);  // sized per request
  EXPECT_GE(j["attainment"]["predicted"].get<double>(), 0.99);
  EXPECT_LT(j["attainment"]["feasibleShare"].get<double>(), 1);  // the longest prompts cannot make 500 ms
  bool outlier_noted = false;
  for (const auto& w : j["warnings"])
    outlier_noted = outlier_noted ||
                    w.get<std::string>().find("throughputByInputLength[3]") != std::string::npos;
  EXPECT_TRUE(outlier_noted) << j["warnings"].dump();
}

TEST_F(Cli, WhatIfLoadOverride) {
  const Result r = run("plan -f " + example("deepseek-v31-h200.yaml") +
                       " -o json --tokens-per-minute 10000000");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_NEAR(j["prefill"]["exactReplicas"].get<double>(), 2 * 3.0687, 0.001);
  EXPECT_EQ(j["notation"], "7P8D");
}

TEST_F(Cli, WhatIfSloAndBudgetOverrides) {
  const Result r = run("plan -f " + example("deepseek-v31-h200.yaml") +
                       " -o json --ttft-percentile 90 --max-total-gpus 56");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["bindingConstraint"], "scaling.maxTotalGpus");
  EXPECT_LE(j["totalGpus"].get<int>(), 56);
}

TEST_F(Cli, UnreadableFile) {
  const Result r = run("plan -f " + (dir_ / "missing.yaml").string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("cannot read"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("No such file or directory"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST_F(Cli, BadYaml) {
  const std::string f = bad("  mode: Auto\n", "  mode: [Auto\n");
  const Result r = run("plan -f " + f);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(f + ":"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not valid YAML"), std::string::npos) << r.err;
}

struct BadCase {
  const char* from;
  const char* to;
  const char* expect;  // on stderr, with the file's path before it
};

TEST_F(Cli, EveryBadInputClassExitsTwoNamingTheField) {
  const BadCase cases[] = {
      {"ttft: 2s, ", "", ":13:8: spec.slo.ttft: required field is missing"},
      {"inputLength: 6144", "inputLength: long", ":14:53: spec.workload.inputLength: expected a number"},
      {"mode: Auto", "mode: Always", ":12:9: spec.mode: unknown value \"Always\""},
      {"maxThroughput: 28300", "maxThroughput: -5", ":18:20: spec.prefill.maxThroughput: must be greater than 0"},
      {"{batchSize: 34, tpot: 20ms}", "{batchSize: 8, tpot: 20ms}",
       ":28:21: spec.decode.tpotByBatchSize[2].batchSize: 8 is not greater than the previous point's 16"},
      {"tpot: 20ms, ", "tpot: fast, ", ":13:25: spec.slo.tpot: expected a duration"},
  };
  for (const auto& c : cases) {
    const std::string f = bad(c.from, c.to);
    const Result r = run("plan -f " + f + " -o json");
    EXPECT_EQ(r.status, 2) << c.expect;
    EXPECT_NE(r.err.find(f + std::string(c.expect)), std::string::npos) << c.expect << "\n" << r.err;
    EXPECT_TRUE(r.out.empty());
  }
}

TEST_F(Cli, InfeasibleExitsThreeAndStillPrintsJson) {
  const Result r = run("plan -f " + example("deepseek-v31-h200.yaml") + " -o json --tpot 5ms");
  EXPECT_EQ(r.status, 3);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["feasible"], false);
  ASSERT_EQ(j["reasons"].size(), 1u);
  EXPECT_NE(j["reasons"][0].get<std::string>().find("9 ms, above slo.tpot 5 ms"), std::string::npos);
  EXPECT_NE(r.err.find("infeasible: decode TPOT at the smallest measured batch"), std::string::npos) << r.err;
}

TEST_F(Cli, BadFlagsExitTwo) {
  EXPECT_EQ(run("plan -f " + example("deepseek-v31-h200.yaml") + " --ttft soon").status, 2);
  EXPECT_EQ(run("plan -f " + example("deepseek-v31-h200.yaml") + " --rounding up").status, 2);
  EXPECT_EQ(run("plan -f " + example("deepseek-v31-h200.yaml") + " --tokens-per-minute -3").status, 2);
  EXPECT_EQ(run("plan -f " + example("deepseek-v31-h200.yaml") + " --queue-model mg1").status, 2);
  EXPECT_EQ(run("plan").status, 2);
  EXPECT_EQ(run("frobnicate").status, 2);
  EXPECT_EQ(run("plan --help").status, 0);
}

TEST_F(Cli, ReadsStandardInput) {
  const Result r = run("plan -f - -o json < " + example("deepseek-v31-h200.yaml"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["notation"], "4P4D");
}

}  // namespace

namespace {

TEST_F(Cli, SimulateComparesPoliciesAsJson) {
  const std::string html = (dir_ / "report.html").string();
  const Result r = run("simulate -f " + example("deepseek-v31-h200.yaml") +
                       " --duration 5m --policy static:4,4 --policy pdscaler --initial 4,4 -o json --html " + html);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["policies"].size(), 2u);
  EXPECT_EQ(j["policies"][0]["policy"], "static:4,4");
  EXPECT_EQ(j["policies"][1]["policy"], "pdscaler");
  EXPECT_EQ(j["seeds"], nlohmann::json::array({1}));
  for (const auto& p : j["policies"]) {
    ASSERT_EQ(p["seeds"].size(), 1u);
    const auto& s = p["seeds"][0];
    EXPECT_GT(s["requests"].get<int>(), 3000);
    EXPECT_EQ(s["completed"], s["requests"]);
    EXPECT_GT(s["sloAttainment"].get<double>(), 0.5);
    EXPECT_GT(s["gpuHours"].get<double>(), 5 * 64.0 / 60 * 0.99);  // 4P4D x 8 GPUs for 5 minutes at least
    EXPECT_DOUBLE_EQ(p["mean"]["gpuHours"]["mean"].get<double>(), s["gpuHours"].get<double>());
    EXPECT_GE(p["timeline"].size(), 19u);
  }
  const std::string report = slurp(html);
  EXPECT_NE(report.find("<svg"), std::string::npos);
  // Self-contained: no scripts, nothing fetched from elsewhere.
  EXPECT_EQ(report.find("<script"), std::string::npos);
  EXPECT_EQ(report.find("src="), std::string::npos);
  EXPECT_EQ(report.find("href="), std::string::npos);
}

TEST_F(Cli, SimulateReplaysATraceFile) {
  const std::string trace = write("t.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                           "2023-11-16 18:17:03.0,6144,512\n2023-11-16 18:17:05.0,6144,512\n"
                                           "2023-11-16 18:17:09.5,6144,512\n");
  const Result r = run("simulate -f " + example("deepseek-v31-h200.yaml") + " --trace " + trace +
                       " --policy static:1,1 -o json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["policies"][0]["seeds"][0]["requests"], 3);
  EXPECT_EQ(j["policies"][0]["seeds"][0]["sloMet"], 3);
}

TEST_F(Cli, SeedsRepeatAndTheSameSeedGivesTheSameResult) {
  const std::string cmd = "simulate -f " + example("deepseek-v31-h200.yaml") +
                          " --duration 5m --burstiness 4 --policy pdscaler --seeds 3 -o json";
  const Result a = run(cmd), b = run(cmd);
  ASSERT_EQ(a.status, 0) << a.err;
  const auto ja = nlohmann::json::parse(a.out), jb = nlohmann::json::parse(b.out);
  const auto& seeds = ja["policies"][0]["seeds"];
  ASSERT_EQ(seeds.size(), 3u);
  EXPECT_EQ(seeds[0]["seed"], 1);
  EXPECT_EQ(seeds[2]["seed"], 3);
  EXPECT_NE(seeds[0]["requests"], seeds[1]["requests"]) << "other seeds, other arrivals";
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(seeds[i]["requests"], jb["policies"][0]["seeds"][i]["requests"]);
    EXPECT_EQ(seeds[i]["sloMet"], jb["policies"][0]["seeds"][i]["sloMet"]);
    EXPECT_EQ(seeds[i]["gpuHours"], jb["policies"][0]["seeds"][i]["gpuHours"]);
  }
  EXPECT_GT(ja["policies"][0]["mean"]["sloAttainment"]["ci95"].get<double>(), 0);
  EXPECT_EQ(ja["policies"][0]["mean"]["sloAttainment"]["n"], 3);
}

TEST_F(Cli, ReferencesAndRatiosAreReported) {
  const Result r = run("simulate -f " + example("deepseek-v31-h200.yaml") +
                       " --duration 10m --policy best-static --policy clairvoyant --policy pdscaler --policy dopd"
                       " --policy dynamo-load --target-attainment 95");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* s : {"best-static", "clairvoyant", "pdscaler", "dopd", "dynamo-load", "/BEST-STAT", "/CLAIRVOY",
                        "FEASIBLE %", "target 95% of feasible requests", "initial fleet", "limits prefill 1..16"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  const Result j = run("simulate -f " + example("deepseek-v31-h200.yaml") +
                       " --duration 10m --policy best-static --policy clairvoyant --target-attainment 95 -o json");
  ASSERT_EQ(j.status, 0) << j.err;
  const auto js = nlohmann::json::parse(j.out);
  const auto& best = js["policies"][0]["mean"];
  EXPECT_DOUBLE_EQ(best["gpuHoursOverBestStatic"]["mean"].get<double>(), 1.0);
  EXPECT_GE(best["feasibleAttainment"]["mean"].get<double>(), 0.95);
  EXPECT_TRUE(js["policies"][1]["mean"].contains("gpuHoursOverClairvoyant"));
}

TEST_F(Cli, SimulateBadInputExitsTwo) {
  const std::string trace = write("bad.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.0,many,512\n");
  Result r = run("simulate -f " + example("deepseek-v31-h200.yaml") + " --trace " + trace);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("line 2: ContextTokens: expected a whole number, got \"many\""), std::string::npos) << r.err;
  r = run("simulate -f " + example("deepseek-v31-h200.yaml") + " --policy magic");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown policy \"magic\""), std::string::npos) << r.err;
  r = run("simulate -f " + example("deepseek-v31-h200.yaml") + " --cold-start soon");
  EXPECT_EQ(r.status, 2);
  r = run("simulate -f " + example("deepseek-v31-h200.yaml") + " --steps 0:1e6,oops");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--steps"), std::string::npos);
  // Every bad flag exits 2 and names itself.
  const std::string curve = write("curve.csv", "window_start_s,requests_per_s,index_of_dispersion,mean_input_tokens,"
                                               "mean_output_tokens\n0,1.5,2,100,10\n600,x,2,100,10\n");
  for (const auto& [args, flag] : std::vector<std::pair<std::string, std::string>>{
           {"--seeds 0", "--seeds"},
           {"--target-attainment 100", "--target-attainment"},
           {"--target-attainment 0", "--target-attainment"},
           {"--routing magic", "--routing"},
           {"--prefill-queue shared", "--prefill-queue"},
           {"--prefill-queue per-engine --fidelity fluid", "--prefill-queue"},
           {"--admission sometimes", "--admission"},
           {"--admission-time soon", "--admission-time"},
           {"--decode-step-gap -1ms", "--decode-step-gap"},
           {"--burstiness -1", "--burstiness"},
           {"--policy static:4", "--policy"},
           {"--initial 4", "--initial"},
           {"--load-curve " + curve, "requests_per_s"},
           {"--load-curve " + curve + " --trace " + trace, "--trace"},
       }) {
    r = run("simulate -f " + example("deepseek-v31-h200.yaml") + " " + args);
    EXPECT_EQ(r.status, 2) << args;
    EXPECT_NE(r.err.find(flag), std::string::npos) << args << ": " << r.err;
  }
}

}  // namespace
