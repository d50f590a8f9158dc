// Table printing tests: printer-column JSONPath on realistic Pods and InferenceServices, cell
// typing, every HumanDuration boundary, and RFC 3339 / MicroTime parsing and formatting.
#include <catch2/catch.hpp>

#include "omed/apiserver/table.hpp"
#include "omed/common/json.hpp"

using namespace omed;
using namespace omed::apiserver;
using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

namespace {

const json::Value& pod() {
  static const json::Value doc = json::parse(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {
      "name": "llama-predictor-7d9f", "namespace": "team-a",
      "labels": {"app": "llama", "ome.io/model": "llama-3-8b"},
      "annotations": {"ome.io/deployment-mode": "RawDeployment",
                      "kubectl.kubernetes.io/last-applied-configuration": "{}"},
      "creationTimestamp": "2026-11-28T02:10:56Z"
    },
    "spec": {"nodeName": "gpu-node-3",
             "containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.6.3",
                             "resources": {"limits": {"nvidia.com/gpu": 1}}},
                            {"name": "sidecar", "image": "envoy:1.31"}]},
    "status": {
      "phase": "Running", "restartCount": 2, "ready": true,
      "conditions": [
        {"type": "Initialized", "status": "True"},
        {"type": "Ready", "status": "False", "reason": "ContainersNotReady"},
        {"type": "ContainersReady", "status": "False"},
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-28T02:10:57Z"}
      ],
      "containerStatuses": [{"name": "vllm", "restartCount": 2, "ready": false},
                            {"name": "sidecar", "restartCount": 0, "ready": true}]
    }
  })");
  return doc;
}

const json::Value& isvc() {
  static const json::Value doc = json::parse(R"({
    "apiVersion": "ome.io/v1beta1", "kind": "InferenceService",
    "metadata": {"name": "llama", "namespace": "team-a"},
    "status": {
      "url": "http://llama.team-a.example.com",
      "conditions": [{"type": "IngressReady", "status": "True"},
                     {"type": "Ready", "status": "True"}],
      "components": {"predictor": {
        "latestReadyRevision": "llama-predictor-00002",
        "traffic": [
          {"revisionName": "llama-predictor-00001", "percent": 80, "latestRevision": false},
          {"revisionName": "llama-predictor-00002", "percent": 20, "latestRevision": true,
           "tag": "canary"}
        ]}}
    }
  })");
  return doc;
}

std::vector<json::Value> eval(const std::string& expr, const json::Value& doc) {
  return JsonPath::compile(expr).eval(doc);
}

// The values as one string, for compact assertions.
std::string eval_str(const std::string& expr, const json::Value& doc) {
  std::string out;
  for (const auto& v : eval(expr, doc)) {
    if (!out.empty())
      out.push_back('|');
    out += v.is_string() ? v.as_string() : json::dump(v);
  }
  return out;
}

std::string compile_error(const std::string& expr) {
  try {
    JsonPath::compile(expr);
  } catch (const JsonPathError& e) {
    return e.what();
  }
  FAIL("compiled: " << expr);
  return {};
}

Clock::time_point at(const std::string& rfc3339) {
  auto t = parse_rfc3339(rfc3339);
  REQUIRE(t);
  return *t;
}

}  // namespace

// ------------------------------------------------------------------ JSONPath

TEST_CASE("jsonpath: fields, braces and the root marker", "[table]") {
  CHECK(eval_str(".status.phase", pod()) == "Running");
  CHECK(eval_str("{.status.phase}", pod()) == "Running");
  CHECK(eval_str("  { .status.phase }  ", pod()) == "Running");
  CHECK(eval_str("$.metadata.name", pod()) == "llama-predictor-7d9f");
  CHECK(eval_str("{$.metadata.namespace}", pod()) == "team-a");
  CHECK(eval_str(".status.restartCount", pod()) == "2");
  CHECK(eval_str(".status.ready", pod()) == "true");
  // Objects come back whole.
  auto labels = eval(".metadata.labels", pod());
  REQUIRE(labels.size() == 1);
  CHECK(labels[0] == *pod().at_path("metadata.labels"));
  // "." and "$" alone select the document itself.
  CHECK(eval(".", pod()) == std::vector<json::Value>{pod()});
  CHECK(eval("{$}", pod()) == std::vector<json::Value>{pod()});
}

TEST_CASE("jsonpath: bracket keys and escaped dots reach annotation keys", "[table]") {
  CHECK(eval_str(".metadata.annotations['ome.io/deployment-mode']", pod()) == "RawDeployment");
  CHECK(eval_str(R"(.metadata.annotations["ome.io/deployment-mode"])", pod()) == "RawDeployment");
  CHECK(eval_str(R"(.metadata.annotations.ome\.io/deployment-mode)", pod()) == "RawDeployment");
  CHECK(eval_str(".metadata.labels.ome\\.io/model", pod()) == "llama-3-8b");
  CHECK(eval_str("['metadata']['labels']['app']", pod()) == "llama");
  CHECK(eval_str(".spec.containers[0].resources.limits['nvidia.com/gpu']", pod()) == "1");
  // Quotes inside bracket keys are escaped with a backslash.
  auto doc = json::parse(R"({"a":{"it's":1}})");
  CHECK(eval_str(R"(.a['it\'s'])", doc) == "1");
}

TEST_CASE("jsonpath: indexes, negative indexes, slices and wildcards", "[table]") {
  CHECK(eval_str(".spec.containers[0].name", pod()) == "vllm");
  CHECK(eval_str(".spec.containers[1].image", pod()) == "envoy:1.31");
  CHECK(eval_str(".spec.containers[-1].name", pod()) == "sidecar");
  CHECK(eval_str(".spec.containers[-2].name", pod()) == "vllm");
  CHECK(eval_str(".spec.containers[*].name", pod()) == "vllm|sidecar");
  CHECK(eval_str(".status.conditions[*].type", pod()) ==
        "Initialized|Ready|ContainersReady|PodScheduled");
  CHECK(eval_str(".status.conditions[1:3].type", pod()) == "Ready|ContainersReady");
  CHECK(eval_str(".status.conditions[:2].type", pod()) == "Initialized|Ready");
  CHECK(eval_str(".status.conditions[-2:].type", pod()) == "ContainersReady|PodScheduled");
  CHECK(eval_str(".status.conditions[::2].type", pod()) == "Initialized|ContainersReady");
  CHECK(eval_str(".status.conditions[0:100].type", pod()).size() > 0);
  CHECK(eval_str(".metadata.labels.*", pod()) == "llama|llama-3-8b");
  CHECK(eval_str(".metadata.labels[*]", pod()) == "llama|llama-3-8b");
  // Only elements that have the key contribute.
  CHECK(eval_str(".status.conditions[*].reason", pod()) == "ContainersNotReady");
}

TEST_CASE("jsonpath: filters on a Pod's conditions", "[table]") {
  CHECK(eval_str(".status.conditions[?(@.type=='Ready')].status", pod()) == "False");
  CHECK(eval_str(R"(.status.conditions[?(@.type=="Ready")].status)", pod()) == "False");
  CHECK(eval_str(".status.conditions[?( @.type == 'PodScheduled' )].lastTransitionTime", pod()) ==
        "2026-11-28T02:10:57Z");
  CHECK(eval_str(".status.conditions[?(@.status!='True')].type", pod()) ==
        "Ready|ContainersReady");
  // A missing key never satisfies a comparison, not even !=.
  CHECK(eval_str(".status.conditions[?(@.reason!='Other')].type", pod()) == "Ready");
  // Existence filter.
  CHECK(eval_str(".status.conditions[?(@.lastTransitionTime)].type", pod()) == "PodScheduled");
  // Numbers and booleans.
  CHECK(eval_str(".status.containerStatuses[?(@.restartCount==2)].name", pod()) == "vllm");
  CHECK(eval_str(".status.containerStatuses[?(@.restartCount>0)].name", pod()) == "vllm");
  CHECK(eval_str(".status.containerStatuses[?(@.restartCount<=0)].name", pod()) == "sidecar");
  CHECK(eval_str(".status.containerStatuses[?(@.ready==true)].name", pod()) == "sidecar");
  CHECK(eval_str(".status.containerStatuses[?(@.ready!=true)].name", pod()) == "vllm");
  // Nested paths on the left.
  CHECK(eval_str(".spec.containers[?(@.resources.limits['nvidia.com/gpu']==1)].image", pod()) ==
        "vllm/vllm-openai:v0.6.3");
  // Type mismatches never compare equal.
  CHECK(eval_str(".status.containerStatuses[?(@.restartCount=='2')].name", pod()).empty());
  CHECK(eval_str(".status.containerStatuses[?(@.restartCount!='2')].name", pod()) ==
        "vllm|sidecar");
}

TEST_CASE("jsonpath: an InferenceService's traffic list", "[table]") {
  CHECK(eval_str(".status.components.predictor.traffic[?(@.latestRevision==true)].percent",
                 isvc()) == "20");
  CHECK(eval_str(".status.components.predictor.traffic[?(@.latestRevision==false)].revisionName",
                 isvc()) == "llama-predictor-00001");
  CHECK(eval_str(".status.components.predictor.traffic[?(@.tag=='canary')].revisionName",
                 isvc()) == "llama-predictor-00002");
  CHECK(eval_str(".status.components.predictor.traffic[?(@.percent>=50)].revisionName", isvc()) ==
        "llama-predictor-00001");
  CHECK(eval_str(".status.components.predictor.traffic[?(@.percent>19.5)].percent", isvc()) ==
        "80|20");
  CHECK(eval_str(".status.components.predictor.traffic[*].percent", isvc()) == "80|20");
  CHECK(eval_str(".status.conditions[?(@.type=='Ready')].status", isvc()) == "True");
  // Filters nest.
  CHECK(eval_str(".status.components[?(@.traffic)]", isvc()).empty());  // not an array
  auto doc = json::parse(R"({"items":[{"n":"a","c":[{"t":"x"}]},{"n":"b","c":[{"t":"y"}]}]})");
  CHECK(eval_str(".items[?(@.c[?(@.t=='y')])].n", doc) == "b");
  CHECK(eval_str(".items[?(@.c[0].t=='x')].n", doc) == "a");
  // '@' alone compares the element itself.
  auto tags = json::parse(R"({"tags":["a","b","a"]})");
  CHECK(eval_str(".tags[?(@=='a')]", tags) == "a|a");
}

TEST_CASE("jsonpath: missing paths yield nothing", "[table]") {
  CHECK(eval(".status.nope", pod()).empty());
  CHECK(eval(".status.phase.deeper", pod()).empty());       // through a string
  CHECK(eval(".spec.containers.name", pod()).empty());      // field on an array
  CHECK(eval(".spec.containers[2]", pod()).empty());
  CHECK(eval(".spec.containers[-3]", pod()).empty());
  CHECK(eval(".metadata[0]", pod()).empty());               // index on an object
  CHECK(eval(".status.conditions[?(@.type=='Nope')].status", pod()).empty());
  CHECK(eval(".metadata.labels[?(@=='x')]", pod()).empty());  // filter on an object
  CHECK(eval(".a.b", json::Value{}).empty());
  CHECK(eval(".a", json::parse("[1,2]")).empty());
  // A null leaf is a value; the cell turns it into null.
  auto doc = json::parse(R"({"a":null})");
  REQUIRE(eval(".a", doc).size() == 1);
  CHECK(eval(".a", doc)[0].is_null());
  CHECK(eval(".a.b", doc).empty());
}

TEST_CASE("jsonpath: compile errors are precise", "[table]") {
  CHECK(compile_error("") == "invalid JSONPath '': empty expression");
  CHECK(compile_error("{}") == "invalid JSONPath '{}': empty expression");
  CHECK(compile_error("{.a") == "invalid JSONPath '{.a': unclosed '{'");
  CHECK(compile_error("status.phase") ==
        "invalid JSONPath 'status.phase': must start with '.', '[' or '$' (e.g. '.status.phase')");
  CHECK(compile_error(".a..b") ==
        "invalid JSONPath '.a..b': recursive descent ('..') is not supported at offset 3");
  CHECK(compile_error(".a.") ==
        "invalid JSONPath '.a.': expected a field name after '.', found end of expression at "
        "offset 3");
  CHECK(compile_error(".a[0") ==
        "invalid JSONPath '.a[0': expected ']', found end of expression at offset 4");
  CHECK(compile_error(".a[") == "invalid JSONPath '.a[': unterminated '[' at offset 3");
  CHECK(compile_error(".a[x]") ==
        "invalid JSONPath '.a[x]': unexpected character 'x' after '[' at offset 3");
  CHECK(compile_error(".a['x]") == "invalid JSONPath '.a['x]': unterminated string at offset 6");
  CHECK(compile_error(".a[0,1]") ==
        "invalid JSONPath '.a[0,1]': unions are not supported at offset 4");
  CHECK(compile_error(".a[::0]") ==
        "invalid JSONPath '.a[::0]': slice step must be positive at offset 6");
  CHECK(compile_error(".a[99999999999999999999]") ==
        "invalid JSONPath '.a[99999999999999999999]': array index out of range at offset 23");
  CHECK(compile_error(".a b") == "invalid JSONPath '.a b': unexpected character 'b' at offset 3");
  // Offsets count from the start of what was written, braces and blanks included.
  CHECK(compile_error(" {.a..b}") ==
        "invalid JSONPath ' {.a..b}': recursive descent ('..') is not supported at offset 5");
  CHECK(compile_error(".a}") == "invalid JSONPath '.a}': unexpected character '}' at offset 2");
  CHECK(compile_error(".a[?(@.t='x')]") ==
        "invalid JSONPath '.a[?(@.t='x')]': expected a comparison operator (==, !=, <, <=, >, >=) "
        "or ')', found '=' at offset 8");
  CHECK(compile_error(".a[?(@.t==)]") ==
        "invalid JSONPath '.a[?(@.t==)]': expected a string, number, true or false at offset 10");
  CHECK(compile_error(".a[?(@.t==1.2.3)]") ==
        "invalid JSONPath '.a[?(@.t==1.2.3)]': malformed number '1.2.3' at offset 15");
  CHECK(compile_error(".a[?(.t=='x')]") ==
        "invalid JSONPath '.a[?(.t=='x')]': expected '@', found '.' at offset 5");
  CHECK(compile_error(".a[?@.t=='x']") ==
        "invalid JSONPath '.a[?@.t=='x']': expected '(', found '@' at offset 4");
  CHECK(compile_error(".a[?(@.t=='x']") ==
        "invalid JSONPath '.a[?(@.t=='x']': expected ')', found ']' at offset 13");
  CHECK(compile_error(".a\x01") ==
        "invalid JSONPath '.a\x01': unexpected character '\\x01' at offset 2");
  // Nesting is bounded.
  std::string deep = ".a";
  for (int i = 0; i < 20; ++i)
    deep += "[?(@.a";
  CHECK_THROWS_WITH(JsonPath::compile(deep), Catch::Contains("filters nested too deeply"));
}

TEST_CASE("jsonpath: compiled paths are reusable values", "[table]") {
  auto path = JsonPath::compile(".status.conditions[?(@.type=='Ready')].status");
  JsonPath copy = path;
  CHECK(path.eval(pod()) == std::vector<json::Value>{json::Value("False")});
  CHECK(copy.eval(isvc()) == std::vector<json::Value>{json::Value("True")});
  CHECK(path.eval(json::parse(R"({"status":{}})")).empty());
  // Evaluation copies out values; the document is untouched.
  auto doc = json::parse(R"({"a":[{"b":1}]})");
  auto before = doc;
  auto out = JsonPath::compile(".a[0]").eval(doc);
  REQUIRE(out.size() == 1);
  out[0]["b"] = 2;
  CHECK(doc == before);
}

// ------------------------------------------------------------------ human_duration

TEST_CASE("human_duration: every apimachinery boundary", "[table]") {
  struct Case {
    int64_t seconds;
    const char* want;
  };
  constexpr int64_t m = 60, h = 3600, d = 86400, y = 365 * d;
  const Case cases[] = {
    {-1000, "<invalid>"}, {-2, "<invalid>"}, {-1, "0s"}, {0, "0s"}, {1, "1s"},
    {59, "59s"}, {60, "60s"}, {119, "119s"},                        // seconds below 2m
    {120, "2m"}, {121, "2m1s"}, {330, "5m30s"}, {599, "9m59s"},     // XmYs below 10m
    {600, "10m"}, {601, "10m"}, {3 * h - 1, "179m"},                // minutes below 3h
    {3 * h, "3h"}, {3 * h + 59, "3h"}, {3 * h + m, "3h1m"}, {8 * h - 1, "7h59m"},
    {8 * h, "8h"}, {48 * h - 1, "47h"},                             // hours below 2d
    {48 * h, "2d"}, {49 * h, "2d1h"}, {8 * d - 1, "7d23h"},         // XdYh below 8d
    {8 * d, "8d"}, {300 * d, "300d"}, {2 * y - 1, "729d"},          // days below 2y
    {2 * y, "2y"}, {2 * y + d, "2y1d"}, {8 * y - 1, "7y364d"},      // XyYd below 8y
    {8 * y, "8y"}, {8 * y + 100 * d, "8y"}, {100 * y, "100y"},
  };
  for (const auto& c : cases) {
    INFO(c.seconds << "s");
    CHECK(human_duration(std::chrono::seconds(c.seconds)) == c.want);
  }
}

// ------------------------------------------------------------------ table_cell

TEST_CASE("table_cell: no values or only nulls give a null cell", "[table]") {
  auto now = Clock::now();
  for (const char* type : {"string", "integer", "number", "boolean", "date"}) {
    CHECK(table_cell(type, {}, now).is_null());
    CHECK(table_cell(type, {json::Value{}}, now).is_null());
  }
}

TEST_CASE("table_cell: strings join every value", "[table]") {
  auto now = Clock::now();
  CHECK(table_cell("string", {json::Value("Running")}, now) == json::Value("Running"));
  CHECK(table_cell("string", eval(".spec.containers[*].name", pod()), now) ==
        json::Value("vllm,sidecar"));
  CHECK(table_cell("string", {json::Value(3), json::Value(true), json::Value(1.5)}, now) ==
        json::Value("3,true,1.5"));
  CHECK(table_cell("string", eval(".metadata.labels", pod()), now) ==
        json::Value(R"({"app":"llama","ome.io/model":"llama-3-8b"})"));
  CHECK(table_cell("string", {json::Value("a"), json::Value{}, json::Value("b")}, now) ==
        json::Value("a,b"));
}

TEST_CASE("table_cell: integers, numbers and booleans keep their JSON type", "[table]") {
  auto now = Clock::now();
  auto i = table_cell("integer", eval(".status.restartCount", pod()), now);
  CHECK(i.is_int());
  CHECK(i.as_int() == 2);
  // Doubles in an integer column truncate, as Go's int64(float64) does.
  CHECK(table_cell("integer", {json::Value(2.9)}, now) == json::Value(2));
  CHECK(table_cell("integer", {json::Value(-2.9)}, now).as_int() == -2);
  CHECK(table_cell("integer", {json::Value(1e300)}, now) == json::Value("1e+300"));
  CHECK(table_cell("integer", {json::Value("many")}, now) == json::Value("many"));
  // The first value wins for scalar columns.
  CHECK(table_cell("integer", eval(".status.containerStatuses[*].restartCount", pod()), now)
          .as_int() == 2);

  auto n = table_cell("number", {json::Value(0.75)}, now);
  CHECK(n.is_double());
  CHECK(n.as_double() == 0.75);
  CHECK(table_cell("number", {json::Value(80)}, now).is_int());
  CHECK(table_cell("number", {json::parse(R"({"x":1})")}, now) == json::Value(R"({"x":1})"));

  CHECK(table_cell("boolean", eval(".status.ready", pod()), now) == json::Value(true));
  CHECK(table_cell("boolean", {json::Value(false), json::Value(true)}, now) == json::Value(false));
  CHECK(table_cell("boolean", {json::Value("True")}, now) == json::Value("True"));
}

TEST_CASE("table_cell: dates print as ages", "[table]") {
  auto now = at("2026-11-30T04:10:56Z");
  CHECK(table_cell("date", eval(".metadata.creationTimestamp", pod()), now) == json::Value("2d2h"));
  CHECK(table_cell("date", {json::Value("2026-11-30T04:05:26Z")}, now) == json::Value("5m30s"));
  CHECK(table_cell("date", {json::Value("2026-11-30T04:10:56Z")}, now) == json::Value("0s"));
  // Offsets are honoured: 06:10:56+02:00 is now.
  CHECK(table_cell("date", {json::Value("2026-11-30T06:10:56+02:00")}, now) == json::Value("0s"));
  // A second in the future is tolerated as skew, more is invalid.
  CHECK(table_cell("date", {json::Value("2026-11-30T04:10:57Z")}, now) == json::Value("0s"));
  CHECK(table_cell("date", {json::Value("2026-11-30T04:10:58Z")}, now) == json::Value("<invalid>"));
  // Sub-second parts truncate toward zero, like Go's int(d.Seconds()).
  auto later = now + 119s + 999ms;
  CHECK(table_cell("date", {json::Value("2026-11-30T04:10:56Z")}, later) == json::Value("119s"));
  CHECK(table_cell("date", {json::Value("2026-11-30T04:10:56.5Z")}, now + 120s) ==
        json::Value("119s"));
  CHECK(table_cell("date", {json::Value("2026-11-30T04:10:58.5Z")}, now) ==
        json::Value("<invalid>"));
  // metav1.Time's zero value, far before system_clock's range, is "<unknown>".
  CHECK(table_cell("date", {json::Value("0001-01-01T00:00:00Z")}, now) == json::Value("<unknown>"));
  // Old but valid dates outside system_clock's range still get an age.
  CHECK(table_cell("date", {json::Value("1000-01-01T00:00:00Z")}, now) == json::Value("1027y"));
  // Unparsable input is shown as it is.
  CHECK(table_cell("date", {json::Value("yesterday")}, now) == json::Value("yesterday"));
  CHECK(table_cell("date", {json::Value(1700000000)}, now) == json::Value("1700000000"));
}

TEST_CASE("table_cell: an InferenceService's printer columns end to end", "[table]") {
  struct Column {
    const char* type;
    const char* path;
    json::Value want;
  };
  auto created = json::parse(R"({"metadata":{"creationTimestamp":"2026-11-28T02:10:56Z"}})");
  auto now = at("2026-11-28T05:22:56Z");
  const Column columns[] = {
    {"string", ".status.url", json::Value("http://llama.team-a.example.com")},
    {"string", ".status.conditions[?(@.type=='Ready')].status", json::Value("True")},
    {"integer", ".status.components.predictor.traffic[?(@.latestRevision==true)].percent",
     json::Value(20)},
    {"string", ".status.components.predictor.traffic[*].revisionName",
     json::Value("llama-predictor-00001,llama-predictor-00002")},
    {"string", ".status.components.predictor.latestCreatedRevision", json::Value{}},
    {"boolean", ".spec.suspended", json::Value{}},
  };
  for (const auto& c : columns) {
    INFO(c.path);
    CHECK(table_cell(c.type, JsonPath::compile(c.path).eval(isvc()), now) == c.want);
  }
  CHECK(table_cell("date", JsonPath::compile(".metadata.creationTimestamp").eval(created), now) ==
        json::Value("3h12m"));
}

// ------------------------------------------------------------------ RFC 3339

TEST_CASE("rfc3339: parse and format round trips", "[table]") {
  auto t = at("2026-11-28T02:10:56Z");
  CHECK(t.time_since_epoch() == std::chrono::seconds(1795831856));
  CHECK(format_rfc3339(t) == "2026-11-28T02:10:56Z");
  CHECK(format_rfc3339_micro(t) == "2026-11-28T02:10:56.000000Z");

  auto frac = at("2026-11-28T02:10:56.123456Z");
  CHECK(frac - t == 123456us);
  CHECK(format_rfc3339(frac) == "2026-11-28T02:10:56Z");  // truncated, not rounded
  CHECK(format_rfc3339_micro(frac) == "2026-11-28T02:10:56.123456Z");
  CHECK(at(format_rfc3339_micro(frac)) == frac);

  // Nanoseconds parse; MicroTime truncates them.
  auto nano = at("2026-11-28T02:10:56.987654321Z");
  CHECK(nano - t == 987654321ns);
  CHECK(format_rfc3339_micro(nano) == "2026-11-28T02:10:56.987654Z");
  // Fractions shorter and longer than 9 digits.
  CHECK(at("2026-11-28T02:10:56.5Z") - t == 500ms);
  CHECK(at("2026-11-28T02:10:56.1234567891Z") - t == 123456789ns);
}

TEST_CASE("rfc3339: numeric offsets convert to UTC", "[table]") {
  auto utc = at("2026-11-28T02:10:56Z");
  CHECK(at("2026-11-28T04:10:56+02:00") == utc);
  CHECK(at("2026-11-27T20:40:56-05:30") == utc);
  CHECK(at("2026-11-28T02:10:56+00:00") == utc);
  CHECK(at("2026-11-28t02:10:56z") == utc);
  CHECK(format_rfc3339(at("2027-01-01T01:00:00+02:00")) == "2026-12-31T23:00:00Z");
}

TEST_CASE("rfc3339: calendar edges and dates before the epoch", "[table]") {
  CHECK(format_rfc3339(at("2024-02-29T23:59:59Z")) == "2024-02-29T23:59:59Z");
  CHECK(format_rfc3339(at("2000-02-29T00:00:00Z")) == "2000-02-29T00:00:00Z");
  CHECK(format_rfc3339(at("1970-01-01T00:00:00Z")) == "1970-01-01T00:00:00Z");
  CHECK(at("1970-01-01T00:00:00Z").time_since_epoch().count() == 0);
  auto before = at("1969-12-31T23:59:59.250Z");
  CHECK(before.time_since_epoch() == -750ms);
  CHECK(format_rfc3339(before) == "1969-12-31T23:59:59Z");
  CHECK(format_rfc3339_micro(before) == "1969-12-31T23:59:59.250000Z");
  CHECK(format_rfc3339(Clock::time_point{}) == "1970-01-01T00:00:00Z");
}

TEST_CASE("rfc3339: malformed and out-of-range input is rejected", "[table]") {
  for (const char* bad : {
         "", "2026-11-28", "2026-11-28T02:10:56", "2026-11-28 02:10:56Z", "2026-11-28T02:10Z",
         "26-11-28T02:10:56Z", "2026-1-28T02:10:56Z", "2026-13-01T00:00:00Z",
         "2026-00-01T00:00:00Z", "2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
         "2026-04-31T00:00:00Z", "2026-11-28T24:00:00Z", "2026-11-28T02:60:00Z",
         "2026-11-28T02:10:60Z", "2026-11-28T02:10:56.Z", "2026-11-28T02:10:56+0200",
         "2026-11-28T02:10:56+2:00", "2026-11-28T02:10:56+24:00", "2026-11-28T02:10:56+02:60",
         "2026-11-28T02:10:56Zjunk", "2026-11-28T02:10:56+02:00 ", " 2026-11-28T02:10:56Z",
         "2026-11-28T02:10:56EST", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"}) {
    INFO(bad);
    CHECK_FALSE(parse_rfc3339(bad));
  }
}

TEST_CASE("rfc3339: system_clock's extremes format without overflow", "[table]") {
  CHECK(format_rfc3339(Clock::time_point::max()) == "2262-04-11T23:47:16Z");
  CHECK(format_rfc3339_micro(Clock::time_point::max()) == "2262-04-11T23:47:16.854775Z");
  CHECK(format_rfc3339(Clock::time_point::min()) == "1677-09-21T00:12:43Z");
  CHECK(format_rfc3339_micro(Clock::time_point::min()) == "1677-09-21T00:12:43.145224Z");
  // The representable range parses; one step outside does not.
  CHECK(parse_rfc3339("2262-04-11T23:47:15Z"));
  CHECK_FALSE(parse_rfc3339("2262-04-11T23:47:17Z"));
  CHECK(parse_rfc3339("1677-09-21T00:12:45Z"));
  CHECK_FALSE(parse_rfc3339("1677-09-21T00:12:43Z"));
}
