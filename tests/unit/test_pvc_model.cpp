// pvc:// models as plain functions: where the parse Job runs and what it looks like, the report
// in its termination message (good, malformed, oversized), and the model's plan from its pods.
#include <catch2/catch.hpp>

#include "omed/controller/model_status.hpp"
#include "omed/controller/parse_pods.hpp"
#include "omed/controller/parse_report.hpp"
#include "omed/controller/pvc_model.hpp"

using namespace omed;
using namespace omed::controller;

namespace {

json::Value make_model(const std::string& kind, const std::string& ns, const std::string& name, const std::string& uri) {
  json::Object md{{"name", name}, {"uid", "0b1c2d3e-0000-4000-8000-000000000001"}, {"generation", 1},
                  {"resourceVersion", "7"}, {"finalizers", json::Array{"ome.io/finalizer"}}};
  if (!ns.empty())
    md.set("namespace", ns);
  return json::Object{{"apiVersion", "ome.io/v1beta1"},
                      {"kind", kind},
                      {"metadata", std::move(md)},
                      {"spec", json::Object{{"modelFormat", json::Object{{"name", "safetensors"}}},
                                            {"storage", json::Object{{"storageUri", uri}}}}}};
}

const char* kReport =
  R"({"modelType":"phi","modelArchitecture":"PhiModel","modelFramework":{"name":"transformers","version":"4.40.0"},)"
  R"("modelFormat":{"name":"safetensors","version":"1.0.0"},"modelParameterSize":"46.28K","parameterCount":46282,)"
  R"("parameterCountExact":true,"maxTokens":512,"modelCapabilities":["EMBEDDING"],"artifact":{"path":"/mnt/model/x"}})";

const Condition* cond(const Plan& p, const std::string& type) {
  for (auto& c : p.conditions)
    if (c.type == type)
      return &c;
  return nullptr;
}

Plan plan_for(const json::Value& m, const Owned& owned, std::vector<ParsePod> pods) {
  Input in{m, owned};
  PvcModelContext ctx;
  ctx.settings.image = "omed:test";
  ctx.pods = std::move(pods);
  return model_plan(in, {}, ctx);
}

ParsePod terminated(const std::string& name, int code, const std::string& message, const std::string& at = "t1") {
  ParsePod p;
  p.name = name;
  p.phase = code == 0 ? "Succeeded" : "Failed";
  p.terminated = true;
  p.exit_code = code;
  p.reason = code == 0 ? "Completed" : "Error";
  p.message = message;
  p.finished_at = at;
  return p;
}

}  // namespace

TEST_CASE("the parse Job runs in the claim's namespace, by the model kind's rules", "[pvc-model]") {
  auto t = parse_job_target(make_model("BaseModel", "team-a", "m", "pvc://models/llama/8b/"));
  CHECK(t.error.empty());
  CHECK(t.ns == "team-a");
  CHECK(t.claim == "models");
  CHECK(t.subpath == "llama/8b");

  t = parse_job_target(make_model("BaseModel", "team-a", "m", "pvc://team-a:models/x"));
  CHECK(t.error.empty());
  CHECK(t.ns == "team-a");

  // Another namespace's claim would be read with the controller's rights: refused.
  t = parse_job_target(make_model("BaseModel", "team-a", "m", "pvc://team-b:models/x"));
  CHECK_THAT(t.error, Catch::Contains("own namespace") && Catch::Contains("ClusterBaseModel"));

  t = parse_job_target(make_model("ClusterBaseModel", "", "m", "pvc://shared:models/x"));
  CHECK(t.error.empty());
  CHECK(t.ns == "shared");
  t = parse_job_target(make_model("ClusterBaseModel", "", "m", "pvc://models/x"));
  CHECK_THAT(t.error, Catch::Contains("pvc://NAMESPACE:models/x"));

  t = parse_job_target(make_model("BaseModel", "a", "m", "hf://org/x"));
  CHECK_FALSE(t.error.empty());
}

TEST_CASE("parse Job names are deterministic, within 63 characters, and change with the storage", "[pvc-model]") {
  auto a = make_model("BaseModel", "ns", "llama", "pvc://models/a");
  CHECK(parse_job_name(a) == parse_job_name(a));
  CHECK(parse_job_name(a).rfind("parse-llama-", 0) == 0);
  CHECK(parse_job_name(a).size() == std::string("parse-llama-").size() + 10);

  auto b = a;
  b["spec"]["storage"]["storageUri"] = "pvc://models/b";
  CHECK(parse_job_name(a) != parse_job_name(b));
  auto fill = a;  // facts filled into the spec do not restart the Job
  fill["spec"]["modelType"] = "llama";
  CHECK(parse_job_name(a) == parse_job_name(fill));
  // The same name and storage as another kind is another Job.
  CHECK(parse_job_name(a) != parse_job_name(make_model("ClusterBaseModel", "", "llama", "pvc://ns:models/a")));

  std::string long_name(200, 'x');
  long_name += ".v1.2";
  auto l1 = make_model("BaseModel", "ns", long_name, "pvc://models/a");
  auto l2 = make_model("BaseModel", "ns", long_name + "y", "pvc://models/a");
  auto n1 = parse_job_name(l1);
  CHECK(n1.size() <= 63);
  CHECK(n1 != parse_job_name(l2));  // same truncated prefix, different hash
  CHECK(n1.find('.') == std::string::npos);
  CHECK(n1.back() != '-');
  auto dotted = parse_job_name(make_model("BaseModel", "ns", "qwen2.5-7b", "pvc://models/a"));
  CHECK(dotted.rfind("parse-qwen2-5-7b-", 0) == 0);
}

TEST_CASE("the parse Job mounts the claim read-only and reports through its termination message", "[pvc-model]") {
  auto m = make_model("ClusterBaseModel", "", "phi", "pvc://shared:models/tiny/phi");
  ParseJobSettings s;
  s.image = "registry.example/omed:1";
  auto job = render_parse_job(m, parse_job_target(m), s);
  CHECK(job.string_or("kind") == "Job");
  CHECK(job.at_path("metadata.namespace")->as_string() == "shared");
  CHECK(job.at_path("metadata.name")->as_string() == parse_job_name(m));
  CHECK(job.at_path("metadata.labels")->string_or("app.kubernetes.io/managed-by") == "omed");
  auto& owner = job.at_path("metadata.ownerReferences")->as_array().at(0);
  CHECK(owner.string_or("kind") == "ClusterBaseModel");
  CHECK(owner.string_or("name") == "phi");
  CHECK(owner.get("controller")->as_bool());
  CHECK(job.at_path("spec.backoffLimit")->as_int() <= 2);
  CHECK(job.at_path("spec.ttlSecondsAfterFinished")->as_int() > 0);
  CHECK(job.at_path("spec.activeDeadlineSeconds")->as_int() > 0);
  auto* tmpl = job.at_path("spec.template");
  REQUIRE(tmpl);
  CHECK(tmpl->at_path("metadata.labels")->string_or(kParseRoleLabel) == kParseRoleValue);
  CHECK(tmpl->at_path("metadata.labels")->string_or(kParseModelUidLabel) == "0b1c2d3e-0000-4000-8000-000000000001");
  CHECK(tmpl->at_path("metadata.annotations")->string_or(kParseModelAnnotation) == "ClusterBaseModel/phi");
  CHECK(tmpl->at_path("spec.restartPolicy")->as_string() == "Never");
  CHECK_FALSE(tmpl->at_path("spec.automountServiceAccountToken")->as_bool());
  auto& c = tmpl->at_path("spec.containers")->as_array().at(0);
  CHECK(c.string_or("image") == "registry.example/omed:1");
  CHECK(json::dump(*c.get("args")) == R"(["parse-model","--dir","/mnt/model/tiny/phi"])");
  CHECK(c.string_or("terminationMessagePolicy") == "File");
  auto& vm = c.get("volumeMounts")->as_array().at(0);
  CHECK(vm.string_or("mountPath") == "/mnt/model");
  CHECK(vm.get("readOnly")->as_bool());
  auto& vol = tmpl->at_path("spec.volumes")->as_array().at(0);
  CHECK(vol.at_path("persistentVolumeClaim.claimName")->as_string() == "models");
  CHECK(vol.at_path("persistentVolumeClaim.readOnly")->as_bool());

  // The claim's root: --dir is the mount itself.
  auto root = make_model("BaseModel", "a", "r", "pvc://models");
  auto rj = render_parse_job(root, parse_job_target(root), s);
  CHECK(json::dump(*rj.at_path("spec.template.spec.containers")->as_array()[0].get("args")) ==
        R"(["parse-model","--dir","/mnt/model"])");
}

TEST_CASE("termination-message reports: good ones read, bad ones refused with a reason", "[pvc-model]") {
  auto r = decode_parse_report(kReport);
  REQUIRE(r.error.empty());
  CHECK(r.config.string_or("modelArchitecture") == "PhiModel");
  CHECK(r.config.int_at("parameterCount") == 46282);
  CHECK_FALSE(r.config.get("artifact"));  // not used: not kept

  CHECK_THAT(decode_parse_report("").error, Catch::Contains("without a report"));
  CHECK_THAT(decode_parse_report("{\"modelType\":").error, Catch::Contains("not JSON"));
  CHECK_THAT(decode_parse_report("/mnt/model/x does not exist").error, Catch::Contains("not JSON"));
  CHECK_THAT(decode_parse_report("[1,2]").error, Catch::Contains("not an object"));
  CHECK_THAT(decode_parse_report(R"({"modelType":{"$ne":1}})").error, Catch::Contains("modelType"));
  CHECK_THAT(decode_parse_report(R"({"maxTokens":"512"})").error, Catch::Contains("maxTokens"));
  CHECK_THAT(decode_parse_report(R"({"modelCapabilities":["a",3]})").error, Catch::Contains("modelCapabilities"));
  CHECK_THAT(decode_parse_report(R"({"modelFormat":{"name":"x","evil":"y"}})").error, Catch::Contains("modelFormat"));
  auto unknown = decode_parse_report(R"({"modelType":"llama","spec":{"storage":"x"}})");
  CHECK(unknown.error.empty());
  CHECK(json::dump(unknown.config) == R"({"modelType":"llama"})");

  std::string big = "{\"modelType\":\"" + std::string(5000, 'a') + "\"}";
  CHECK_THAT(decode_parse_report(big).error, Catch::Contains("4096"));

  // Encoding: fits or says nothing; optional parts go first.
  auto cfg = json::parse(kReport);
  CHECK(encode_parse_report(cfg) == json::dump(cfg));
  auto fat = cfg;
  fat["artifact"]["path"] = std::string(5000, 'p');
  auto enc = encode_parse_report(fat);
  REQUIRE_FALSE(enc.empty());
  CHECK(enc.size() <= kTerminationMessageLimit);
  CHECK(enc.find("artifact") == std::string::npos);
  CHECK(enc.find("PhiModel") != std::string::npos);
  auto hopeless = cfg;
  hopeless["modelType"] = std::string(5000, 't');
  CHECK(encode_parse_report(hopeless).empty());

  // Failure lines: one line, bounded.
  auto line = failure_line("bad\nthing\twith\x01 control" + std::string(3000, 'z'));
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.size() <= 1024);
}

TEST_CASE("a pvc:// model plans its parse Job and follows its pods to Ready or Failed", "[pvc-model]") {
  auto m = make_model("BaseModel", "team-a", "phi", "pvc://models/tiny");
  auto job_name = parse_job_name(m);

  // No pod yet: the Job is wanted, the model is In_Transit, one event says so.
  auto p = plan_for(m, {}, {});
  REQUIRE(p.apply.size() == 1);
  CHECK(p.apply[0].at_path("metadata.name")->as_string() == job_name);
  CHECK(p.status.find("state")->as_string() == "In_Transit");
  REQUIRE(cond(p, "Ready"));
  CHECK(cond(p, "Ready")->reason == "Parsing");
  REQUIRE(p.events.size() == 1);
  CHECK(p.events[0].reason == "ParseJobCreated");

  // A waiting pod says why in the model's message.
  ParsePod waiting;
  waiting.name = job_name + "-abcde";
  waiting.phase = "Pending";
  waiting.waiting = "ContainerCreating: persistentvolumeclaim \"models\" not found";
  p = plan_for(m, {}, {waiting});
  CHECK_THAT(cond(p, "Ready")->message, Catch::Contains("not found"));

  // Success: Ready, the facts filled into the empty spec fields, the user's values kept.
  p = plan_for(m, {}, {terminated(job_name + "-abcde", 0, kReport)});
  CHECK(p.status.find("state")->as_string() == "Ready");
  CHECK(cond(p, "Ready")->reason == "ModelParsed");
  CHECK_THAT(cond(p, "Ready")->message, Catch::Contains("46282"));
  CHECK(cond(p, "Parsed")->status == "True");
  CHECK(p.spec_fill.find("modelArchitecture")->as_string() == "PhiModel");
  CHECK(p.spec_fill.find("modelFormat")->at_path("version")->as_string() == "1.0.0");
  CHECK_FALSE(p.spec_fill.find("modelFormat")->get("name"));
  CHECK(p.events.size() == 1);

  // Once the status holds the facts, the Job (gone after its TTL) is not created again.
  auto done = m;
  json::Array conds;
  for (auto& c : p.conditions)
    conds.push_back(json::Object{{"type", c.type}, {"status", c.status}, {"reason", c.reason}, {"message", c.message}});
  done["status"] = json::Object{{"state", "Ready"}, {"conditions", conds}};
  auto again = plan_for(done, {}, {});
  CHECK(again.apply.empty());
  CHECK(again.events.empty());
  // ... until the storage changes: a new Job.
  auto moved = done;
  moved["spec"]["storage"]["storageUri"] = "pvc://models/other";
  auto restarted = plan_for(moved, {}, {});
  REQUIRE(restarted.apply.size() == 1);
  CHECK(restarted.apply[0].at_path("metadata.name")->as_string() != job_name);
  CHECK(restarted.status.find("state")->as_string() == "In_Transit");

  // A garbled report from a container that exited 0: Failed, saying why.
  p = plan_for(m, {}, {terminated(job_name + "-abcde", 0, "{not json")});
  CHECK(p.status.find("state")->as_string() == "Failed");
  CHECK(cond(p, "Ready")->reason == "ParseReportInvalid");

  // One failed attempt: still In_Transit, retrying; the Job failed: Failed with the pod's words.
  auto first = terminated(job_name + "-aaaaa", 1, "/mnt/model/tiny does not exist", "t1");
  p = plan_for(m, {}, {first});
  CHECK(p.status.find("state")->as_string() == "In_Transit");
  CHECK_THAT(cond(p, "Ready")->message, Catch::Contains("does not exist"));
  auto job = p.apply[0];
  job["status"] = json::parse(R"({"conditions":[{"type":"Failed","status":"True","reason":"BackoffLimitExceeded",
                                  "message":"Job has reached the specified backoff limit"}]})");
  Owned owned{{owned_key(job), std::make_shared<const json::Value>(job)}};
  auto second = terminated(job_name + "-bbbbb", 1, "/mnt/model/tiny does not exist (again)", "t2");
  p = plan_for(m, owned, {first, second});
  CHECK(p.status.find("state")->as_string() == "Failed");
  CHECK(cond(p, "Ready")->reason == "ParseFailed");
  CHECK_THAT(cond(p, "Ready")->message, Catch::Contains("(again)"));
  REQUIRE(p.events.size() == 1);
  CHECK(p.events[0].type == "Warning");
  // The Job failed without a pod message (deadline): its own condition says why.
  p = plan_for(m, owned, {});
  CHECK_THAT(cond(p, "Ready")->message, Catch::Contains("backoff limit"));

  // Invalid storage for the kind: Failed before any Job.
  auto cbm = make_model("ClusterBaseModel", "", "x", "pvc://models/tiny");
  p = plan_for(cbm, {}, {});
  CHECK(p.apply.empty());
  CHECK(p.status.find("state")->as_string() == "Failed");
  CHECK(cond(p, "Ready")->reason == "InvalidStorage");
}

TEST_CASE("the parse pod index wakes the pod's model only when what it reports changes", "[pvc-model]") {
  auto pod = json::parse(R"({"metadata":{"name":"parse-phi-1-abcde","namespace":"team-a",
    "annotations":{"omed.io/model":"BaseModel/team-a/phi"},
    "ownerReferences":[{"kind":"Job","name":"parse-phi-1","uid":"u","controller":true}]},
    "status":{"phase":"Running","containerStatuses":[{"name":"parse","state":{"running":{}}}]}})");
  ParsePods idx;
  auto w = idx.update(pod);
  REQUIRE(w);
  CHECK(w->first == "BaseModel");
  CHECK(w->second == "team-a/phi");
  CHECK_FALSE(idx.update(pod));  // nothing new
  pod["status"] = json::parse(R"({"phase":"Succeeded","containerStatuses":[{"name":"parse",
    "state":{"terminated":{"exitCode":0,"reason":"Completed","message":"{}","finishedAt":"t"}}}]})");
  REQUIRE(idx.update(pod));
  auto pods = idx.for_job("team-a", "parse-phi-1");
  REQUIRE(pods.size() == 1);
  CHECK(pods[0].terminated);
  CHECK(pods[0].exit_code == 0);
  CHECK(idx.for_job("team-b", "parse-phi-1").empty());
  CHECK(idx.remove(pod));
  CHECK(idx.for_job("team-a", "parse-phi-1").empty());

  // Not a parse pod of a model: ignored.
  auto other = pod;
  other["metadata"]["annotations"] = json::Object{{"omed.io/model", "Deployment/x/y"}};
  CHECK_FALSE(idx.update(other));
}
