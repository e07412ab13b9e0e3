// Time of one plan: pure arithmetic over small tables, expected well under a microsecond.
#include <benchmark/benchmark.h>

#include "pdscaler/planner/plan.h"
#include "planner/fixtures.h"

namespace {

using namespace pdscaler::planner;

void BM_PlanPaperExample(benchmark::State& state) {
  const PlanInput in = pdscaler::testing::paper_example();
  for (auto _ : state) benchmark::DoNotOptimize(plan(in));
}
BENCHMARK(BM_PlanPaperExample);

void BM_PlanTableProfilesMG1WithBudget(benchmark::State& state) {
  PlanInput in = pdscaler::testing::paper_example();
  in.prefill.max_throughput = *Profile::build(
      {{100, 5268.3}, {2135, 22426.2}, {4170, 25689.7}, {8240, 25672.6}, {10275, 24673.8},
       {12310, 24885.7}, {14345, 24549.4}, {16380, 23272.6}},
      ProfileShape::Free);
  in.prefill.queue_model = QueueModel::MG1;
  in.workload.input_length_distribution = {{1024, 3}, {4096, 2}, {8192, 1}, {16000, 0.2}};
  in.max_total_gpus = 48;
  for (auto _ : state) benchmark::DoNotOptimize(plan(in));
}
BENCHMARK(BM_PlanTableProfilesMG1WithBudget);

void BM_Predict(benchmark::State& state) {
  const PlanInput in = pdscaler::testing::paper_example();
  const Plan p = plan(in);
  for (auto _ : state) benchmark::DoNotOptimize(predict(in, p.d, 4, 4));
}
BENCHMARK(BM_Predict);

}  // namespace

BENCHMARK_MAIN();
