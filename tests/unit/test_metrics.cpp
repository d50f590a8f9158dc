#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include "omed/metrics/registry.hpp"

using namespace omed;

TEST_CASE("metrics render counters, gauges and histograms with HELP and TYPE", "[metrics]") {
  metrics::Registry reg;
  auto& c = reg.counter("omed_test_events_total", "Events seen.", {"kind", "type"});
  c.with({"BaseModel", "ADDED"}).inc();
  c.with({"BaseModel", "ADDED"}).inc(2);
  reg.gauge("omed_test_actors", "Live actors.").get().set(7);
  auto& h = reg.histogram("omed_test_duration_seconds", "Durations.", {}, {0.1, 1});
  h.get().observe(0.05);
  h.get().observe(0.5);
  h.get().observe(5);
  auto text = reg.expose();
  CHECK_THAT(text, Catch::Contains("# HELP omed_test_events_total Events seen.\n# TYPE omed_test_events_total counter\n"));
  CHECK_THAT(text, Catch::Contains("omed_test_events_total{kind=\"BaseModel\",type=\"ADDED\"} 3\n"));
  CHECK_THAT(text, Catch::Contains("omed_test_actors 7\n"));
  CHECK_THAT(text, Catch::Contains("omed_test_duration_seconds_bucket{le=\"0.10000000000000001\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("omed_test_duration_seconds_bucket{le=\"1\"} 2\n"));
  CHECK_THAT(text, Catch::Contains("omed_test_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
  CHECK_THAT(text, Catch::Contains("omed_test_duration_seconds_count 3\n"));
  CHECK_THAT(text, Catch::Contains("omed_test_duration_seconds_sum 5.5499999999999998\n"));
}

TEST_CASE("metrics escape label values", "[metrics]") {
  metrics::Registry reg;
  reg.counter("omed_test_total", "x", {"v"}).with({"a\"b\\c\nd"}).inc();
  CHECK_THAT(reg.expose(), Catch::Contains(R"(omed_test_total{v="a\"b\\c\nd"} 1)"));
}

TEST_CASE("metrics counters are safe under concurrent updates", "[metrics]") {
  metrics::Registry reg;
  auto& c = reg.counter("omed_test_concurrent_total", "x").get();
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i)
        c.inc();
    });
  for (auto& t : ts)
    t.join();
  CHECK(c.value() == 40000);
}

TEST_CASE("metrics refuse one name with two types", "[metrics]") {
  metrics::Registry reg;
  reg.counter("omed_dup_total", "x");
  CHECK_THROWS(reg.gauge("omed_dup_total", "x"));
  // The same type twice returns the same family.
  CHECK(&reg.counter("omed_dup_total", "x") == &reg.counter("omed_dup_total", "x"));
}

TEST_CASE("metrics process collectors report this process", "[metrics]") {
  metrics::Registry reg;
  reg.add_process_metrics();
  auto text = reg.expose();
  CHECK_THAT(text, Catch::Contains("# TYPE process_cpu_seconds_total counter"));
  CHECK_THAT(text, Catch::Contains("process_resident_memory_bytes "));
  CHECK_THAT(text, Catch::Contains("process_open_fds "));
}

TEST_CASE("metric values format like Prometheus clients", "[metrics]") {
  CHECK(metrics::format_value(3) == "3");
  CHECK(metrics::format_value(0.25) == "0.25");
  CHECK(metrics::format_value(1.0 / 0.0) == "+Inf");
}
