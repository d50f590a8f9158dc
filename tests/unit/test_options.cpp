#include <catch2/catch.hpp>

#include "omed/common/yaml.hpp"
#include "omed/config/options.hpp"
#include "omed/log/logger.hpp"
#include "omed/runtime/restart_policy.hpp"

using namespace omed;
using namespace std::chrono_literals;

namespace {
config::Options sample() {
  config::Options o;
  o.add("http-addr", config::OptionKind::String, "127.0.0.1:8080", "listen address")
    .add("threads", config::OptionKind::Int, "2", "threads")
    .add("leader-elect", config::OptionKind::Bool, "false", "elect")
    .add("shutdown-timeout", config::OptionKind::Duration, "5s", "grace");
  return o;
}
}  // namespace

TEST_CASE("options: defaults < config file < flags", "[options]") {
  auto o = sample();
  std::string err;
  REQUIRE(o.load_file_values(yaml::parse_one("http-addr: 0.0.0.0:9000\nthreads: 4\n"), err));
  const char* argv[] = {"omed", "controller", "--threads=8", "--leader-elect", "extra"};
  std::vector<std::string> pos;
  REQUIRE(o.parse_args(5, argv, 1, pos, err));
  CHECK(o.str("http-addr") == "0.0.0.0:9000");
  CHECK(o.integer("threads") == 8);
  CHECK(o.boolean("leader-elect"));
  CHECK(o.duration("shutdown-timeout") == 5s);
  CHECK(pos == std::vector<std::string>{"controller", "extra"});
  // The config file loaded after flags must not override them.
  REQUIRE(o.load_file_values(yaml::parse_one("threads: 3\n"), err));
  CHECK(o.integer("threads") == 8);
}

TEST_CASE("options: bad input is reported with the option name", "[options]") {
  auto o = sample();
  std::string err;
  std::vector<std::string> pos;
  const char* a1[] = {"omed", "--threads=x"};
  CHECK_FALSE(o.parse_args(2, a1, 1, pos, err));
  CHECK(err == "--threads: invalid integer 'x'");
  const char* a2[] = {"omed", "--nope"};
  CHECK_FALSE(o.parse_args(2, a2, 1, pos, err));
  CHECK_THAT(err, Catch::Contains("unknown flag --nope"));
  const char* a3[] = {"omed", "--shutdown-timeout", "soon"};
  CHECK_FALSE(o.parse_args(3, a3, 1, pos, err));
  CHECK_THAT(err, Catch::Contains("invalid duration"));
  CHECK_FALSE(o.load_file_values(yaml::parse_one("bogus: 1\n"), err));
  CHECK_THAT(err, Catch::Contains("unknown option 'bogus'"));
  CHECK_THAT(o.help_text(), Catch::Contains("--http-addr STR"));
}

TEST_CASE("durations parse and format", "[options]") {
  std::chrono::milliseconds d;
  REQUIRE(config::parse_duration("1h30m", d));
  CHECK(d == 90min);
  REQUIRE(config::parse_duration("250ms", d));
  CHECK(d == 250ms);
  REQUIRE(config::parse_duration("7", d));
  CHECK(d == 7s);
  CHECK_FALSE(config::parse_duration("3 days", d));
  CHECK(config::format_duration(90s) == "90s");
  CHECK(config::format_duration(2min) == "2m");
}

TEST_CASE("restart policy: delays grow, jitter stays bounded, intensity parks", "[restart]") {
  runtime::RestartPolicy p;  // 100ms..30s, x2, 5 in 60s
  runtime::RestartTracker t(p, 42);
  auto now = std::chrono::steady_clock::time_point{} + 1h;
  std::chrono::milliseconds last{0};
  for (int i = 1; i <= 5; ++i) {
    auto d = t.on_failure(now);
    REQUIRE(d.restart);
    CHECK(d.attempt == i);
    auto base = t.base_delay(i);
    CHECK(d.delay >= base * 8 / 10);
    CHECK(d.delay <= base * 12 / 10);
    CHECK(d.delay > last);
    last = d.delay;
    now += 1s;
  }
  auto sixth = t.on_failure(now);
  CHECK_FALSE(sixth.restart);
  // Once the window has passed, the child may be restarted again from the first delay.
  runtime::RestartTracker t2(p, 1);
  for (int i = 0; i < 5; ++i)
    t2.on_failure(now);
  CHECK(t2.recent_failures(now + 61s) == 0);
  auto again = t2.on_failure(now + 61s);
  CHECK(again.restart);
  CHECK(again.attempt == 1);
}

TEST_CASE("restart policy: backoff caps at the maximum", "[restart]") {
  runtime::RestartPolicy p;
  p.max_restarts = 100;
  runtime::RestartTracker t(p, 7);
  CHECK(t.base_delay(20) == 30s);
  auto now = std::chrono::steady_clock::time_point{};
  runtime::RestartDecision d;
  for (int i = 0; i < 20; ++i)
    d = t.on_failure(now);
  CHECK(d.delay <= 30s);
}

TEST_CASE("logger writes logfmt and json with actor and object, never secrets", "[log]") {
  std::vector<std::string> lines;
  log::set_sink([&](const std::string& l) { lines.push_back(l); });
  log::configure(log::Level::Debug, log::Format::Logfmt);
  log::register_secret("hf_SuperSecretToken123");
  log::Logger lg("basemodel", "default/llama");
  lg.info("download started").kv("uri", "hf://meta/llama").kv("token", "abc").kv("note", "used hf_SuperSecretToken123 here");
  log::configure(log::Level::Info, log::Format::Json);
  lg.debug("hidden");
  lg.warn("json \"line\"").kv("n", 3);
  log::set_sink(nullptr);
  log::configure(log::Level::Info, log::Format::Logfmt);
  REQUIRE(lines.size() == 2);
  CHECK_THAT(lines[0], Catch::Contains("level=info actor=basemodel object=default/llama msg=\"download started\" uri=hf://meta/llama token=[redacted]"));
  CHECK_THAT(lines[0], !Catch::Contains("SuperSecret"));
  CHECK_THAT(lines[1], Catch::StartsWith("{\"ts\":"));
  CHECK_THAT(lines[1], Catch::Contains("\"level\":\"warn\",\"actor\":\"basemodel\",\"object\":\"default/llama\",\"msg\":\"json \\\"line\\\"\",\"n\":\"3\""));
}
