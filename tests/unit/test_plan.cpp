// The reconcile skeleton's decisions as plain function calls (C9, C10, C23 of k8s-api.md §4.2):
// finalizer first, status only when it differs, owned objects only when they drifted.
#include <catch2/catch.hpp>

#include "omed/controller/admission.hpp"
#include "omed/controller/plan.hpp"

using namespace omed;
using namespace omed::controller;

namespace {

const auto kNow = std::chrono::system_clock::from_time_t(1800000000);  // 2027-01-15T08:00:00Z

json::Value obj(int64_t generation, bool finalizer, bool deleting = false) {
  json::Value o = json::Object{{"apiVersion", "ome.io/v1beta1"}, {"kind", "ClusterBaseModel"},
                               {"metadata", json::Object{{"name", "m"}, {"generation", generation},
                                                         {"resourceVersion", "7"}, {"uid", "u-1"}}}};
  if (finalizer)
    o["metadata"]["finalizers"] = json::Array{"other.io/keep", kFinalizer};
  if (deleting)
    o["metadata"]["deletionTimestamp"] = "2027-01-15T07:00:00Z";
  return o;
}

std::vector<StepOp> ops(const std::vector<Step>& s) {
  std::vector<StepOp> out;
  for (auto& x : s)
    out.push_back(x.op);
  return out;
}

}  // namespace

TEST_CASE("C10: the finalizer comes first and alone; never on a deleting object", "[plan]") {
  Plan p;
  p.conditions.push_back({"Ready", "True", "Serving", "ok"});
  p.apply.push_back(json::Object{{"kind", "Service"}, {"metadata", json::Object{{"name", "s"}}}});
  CHECK(ops(steps_for(obj(1, false), p, {}, kNow)) == std::vector<StepOp>{StepOp::AddFinalizer});
  auto with = steps_for(obj(1, true), p, {}, kNow);
  CHECK(ops(with) == std::vector<StepOp>{StepOp::Apply, StepOp::Status});
  // Deleting: only the removal of our finalizer, once cleanup is done.
  p.cleanup_done = false;
  CHECK(steps_for(obj(1, true, true), p, {}, kNow).empty());
  p.cleanup_done = true;
  CHECK(ops(steps_for(obj(1, true, true), p, {}, kNow)) == std::vector<StepOp>{StepOp::RemoveFinalizer});
  CHECK(steps_for(obj(1, false, true), p, {}, kNow).empty());
  Plan no_fin;
  no_fin.wants_finalizer = false;
  CHECK(ops(steps_for(obj(1, false), no_fin, {}, kNow)) == std::vector<StepOp>{StepOp::Status});
}

TEST_CASE("C9: status carries observedGeneration; an unchanged status is not written again", "[plan]") {
  Plan p;
  p.status.set("state", "Ready");
  p.conditions.push_back({"Ready", "True", "Serving", "ok"});
  auto o = obj(3, true);
  auto st = desired_status(o, p, kNow);
  CHECK(st.get("observedGeneration")->as_int() == 3);
  CHECK(st.string_or("state") == "Ready");
  auto& c = st.get("conditions")->as_array()[0];
  CHECK(c.string_or("lastTransitionTime") == "2027-01-15T08:00:00Z");
  CHECK(c.int_at("observedGeneration") == 3);
  o["status"] = st;
  // Idempotent: the same plan an hour later writes nothing and keeps the transition time.
  CHECK(steps_for(o, p, {}, kNow + std::chrono::hours(1)).empty());
  // A flip changes lastTransitionTime; a message change alone does not.
  Plan flip = p;
  flip.conditions[0] = {"Ready", "False", "Down", "gone"};
  auto later = desired_status(o, flip, kNow + std::chrono::hours(1));
  CHECK(later.get("conditions")->as_array()[0].string_or("lastTransitionTime") == "2027-01-15T09:00:00Z");
  Plan reworded = p;
  reworded.conditions[0].message = "still ok";
  auto same = desired_status(o, reworded, kNow + std::chrono::hours(1));
  CHECK(same.get("conditions")->as_array()[0].string_or("lastTransitionTime") == "2027-01-15T08:00:00Z");
  // Other writers' conditions stay.
  o["status"]["conditions"].as_array().push_back(json::Object{{"type", "Foreign"}, {"status", "True"}});
  auto merged = desired_status(o, p, kNow);
  CHECK(merged.get("conditions")->as_array().size() == 2);
  // A condition the plan stops reporting (a removed component's) is dropped, the rest kept.
  Plan dropped = p;
  dropped.drop_conditions.push_back("Foreign");
  auto pruned = desired_status(o, dropped, kNow);
  REQUIRE(pruned.get("conditions")->as_array().size() == 1);
  CHECK(pruned.get("conditions")->as_array()[0].string_or("type") == "Ready");
  Plan silent;
  silent.write_status = false;
  CHECK(steps_for(obj(1, true), silent, {}, kNow).empty());
}

TEST_CASE("owned objects are applied only when they drifted from what is desired", "[plan]") {
  json::Value want = json::Object{{"apiVersion", "v1"}, {"kind", "Service"},
                                  {"metadata", json::Object{{"name", "s"}, {"namespace", "ns"},
                                                            {"labels", json::Object{{"a", "1"}}}}},
                                  {"spec", json::Object{{"ports", json::Array{json::Object{{"port", 80}}}}}}};
  json::Value live = with_desired_hash(want);
  live["metadata"]["uid"] = "x";
  live["metadata"]["resourceVersion"] = "9";
  live["metadata"]["labels"]["added-by-someone"] = "y";
  live["spec"]["clusterIP"] = "10.0.0.1";
  live["status"] = json::Object{{"loadBalancer", json::Object{}}};
  CHECK(subset_equal(want, live));
  Owned owned{{owned_key(want), std::make_shared<const json::Value>(live)}};
  Plan p;
  p.write_status = false;
  p.apply.push_back(want);
  CHECK(steps_for(obj(1, true), p, owned, kNow).empty());
  live["spec"]["ports"].as_array()[0]["port"] = 81;
  owned[owned_key(want)] = std::make_shared<const json::Value>(live);
  CHECK(ops(steps_for(obj(1, true), p, owned, kNow)) == std::vector<StepOp>{StepOp::Apply});
  CHECK(owned_key(want) == "Service/ns/s");
  // A field we stop setting is invisible to the subset test; the desired hash changes and we apply.
  live["spec"]["ports"].as_array()[0]["port"] = 80;
  owned[owned_key(want)] = std::make_shared<const json::Value>(live);
  CHECK(steps_for(obj(1, true), p, owned, kNow).empty());
  p.apply[0]["metadata"].as_object().erase("labels");
  CHECK(subset_equal(p.apply[0], live));
  auto steps = steps_for(obj(1, true), p, owned, kNow);
  REQUIRE(ops(steps) == std::vector<StepOp>{StepOp::Apply});
  CHECK(steps[0].body.at_path("metadata.annotations")->string_or(kDesiredHashAnnotation) !=
        live.at_path("metadata.annotations")->string_or(kDesiredHashAnnotation));
  json::Value num = json::Object{{"replicas", 2}};
  CHECK(subset_equal(num, json::Value(json::Object{{"replicas", 2.0}})));
}

TEST_CASE("C23: owner routing follows the controller ownerReference", "[plan]") {
  json::Value dep = json::Object{
    {"kind", "Deployment"},
    {"metadata", json::Object{{"name", "llama-engine"}, {"namespace", "team-a"},
                              {"ownerReferences", json::Array{json::Object{{"kind", "Other"}, {"name", "x"}},
                                                              json::Object{{"apiVersion", "ome.io/v1beta1"},
                                                                           {"kind", "InferenceService"},
                                                                           {"name", "llama"},
                                                                           {"uid", "u-9"},
                                                                           {"controller", true}}}}}}};
  auto ref = controller_of(dep);
  CHECK(ref.kind == "InferenceService");
  CHECK(ref.uid == "u-9");
  CHECK(owner_key(dep, ref, true) == "team-a/llama");
  CHECK(owner_key(dep, ref, false) == "llama");
  CHECK(controller_of(json::Value(json::Object{})).kind.empty());
}

TEST_CASE("failure backoff doubles from 500 ms to five minutes", "[plan]") {
  CHECK(failure_backoff(0).count() == 0);
  CHECK(failure_backoff(1).count() == 500);
  CHECK(failure_backoff(2).count() == 1000);
  CHECK(failure_backoff(5).count() == 8000);
  CHECK(failure_backoff(40).count() == 300000);
}

TEST_CASE("admission in reconcile: Accepted or InvalidSpec with the reasons", "[plan]") {
  json::Value good = json::parse(R"({"apiVersion":"ome.io/v1beta1","kind":"ClusterBaseModel","metadata":{"name":"m","generation":1},
    "spec":{"storage":{"storageUri":"hf://meta-llama/Llama-3.1-8B"}}})");
  Owned none;
  auto ok = admission_plan({good, none});
  CHECK(accepted(ok));
  CHECK(ok.wants_finalizer);
  CHECK(ok.events.empty());
  json::Value bad = good;
  bad["spec"]["storage"]["storageUri"] = "ftp://x/y";
  auto no = admission_plan({bad, none});
  CHECK_FALSE(accepted(no));
  CHECK_FALSE(no.wants_finalizer);
  REQUIRE(no.events.size() == 1);
  CHECK(no.events[0].type == "Warning");
  CHECK(no.conditions[0].message.find("spec.storage.storageUri") != std::string::npos);
  // Already reported with the same message: no second event.
  bad["status"] = desired_status(bad, no, kNow);
  CHECK(admission_plan({bad, none}).events.empty());
  json::Value rt = json::parse(R"({"apiVersion":"ome.io/v1beta1","kind":"ServingRuntime","metadata":{"name":"r","namespace":"d"},
    "spec":{"supportedModelFormats":[{"name":"safetensors"}]}})");
  CHECK_FALSE(admission_plan({rt, none}).write_status);
}
