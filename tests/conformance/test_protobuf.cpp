// Kubernetes protobuf request bodies ("[protobuf]"): hand-encoded objects of every kind the decoder
// covers, bodies recorded from kubectl 1.32, hostile and truncated input, and the HTTP round trip.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>

#include "omed/apiserver/protobuf.hpp"
#include "omed/apiserver/server.hpp"
#include "../support/api_client.hpp"

using namespace omed;
using namespace omed::apiserver;
using namespace omed::testing;

namespace {

// A protobuf writer just big enough for the tests: fields appended in the order given.
struct Pb {
  std::string b;

  Pb& raw_varint(uint64_t v) {
    while (v >= 0x80) {
      b.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    b.push_back(static_cast<char>(v));
    return *this;
  }
  Pb& key(uint32_t field, unsigned wt) { return raw_varint(uint64_t{field} << 3 | wt); }
  Pb& num(uint32_t field, uint64_t v) { return key(field, 0).raw_varint(v); }
  // Negative int32/int64 travel as 10-byte two's complement varints.
  Pb& sint(uint32_t field, int64_t v) { return num(field, static_cast<uint64_t>(v)); }
  Pb& str(uint32_t field, std::string_view s) {
    key(field, 2).raw_varint(s.size());
    b.append(s);
    return *this;
  }
  Pb& msg(uint32_t field, const Pb& m) { return str(field, m.b); }
  Pb& entry(uint32_t field, std::string_view k, std::string_view v) { return msg(field, Pb().str(1, k).str(2, v)); }
};

// Go writes every non-pointer field, zero or not: an ObjectMeta as kubectl sends it.
Pb meta(std::string_view name) {
  return Pb().str(1, name).str(2, "").str(3, "").str(4, "").str(5, "").str(6, "").num(7, 0).str(8, "");
}

std::string envelope(std::string_view api_version, std::string_view kind, const Pb& raw) {
  Pb e;
  e.msg(1, Pb().str(1, api_version).str(2, kind)).msg(2, raw).str(3, "").str(4, "");
  return std::string("k8s\0", 4) + e.b;
}

std::string unhex(std::string_view h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

json::Value decode_ok(const std::string& body) {
  json::Value v;
  std::string err;
  ProtobufFailure why = ProtobufFailure::malformed;
  bool ok = decode_k8s_protobuf(body, v, err, &why);
  INFO(err);
  REQUIRE(ok);
  CHECK(why == ProtobufFailure::none);
  return v;
}

// Decodes a body that must be refused; returns the error message.
std::string decode_fails(const std::string& body, ProtobufFailure want) {
  json::Value v = "untouched";
  std::string err;
  ProtobufFailure why = ProtobufFailure::none;
  bool ok = decode_k8s_protobuf(body, v, err, &why);
  INFO(json::dump(v));
  REQUIRE_FALSE(ok);
  CHECK(why == want);
  CHECK(v == json::Value("untouched"));
  CHECK_FALSE(err.empty());
  return err;
}

void check_json(const json::Value& got, const char* want) {
  INFO(json::pretty(got));
  CHECK(json::sorted(got) == json::sorted(json::parse(want)));
}

}  // namespace

TEST_CASE("protobuf: ConfigMap with full ObjectMeta", "[protobuf]") {
  Pb owner;
  owner.str(1, "Deployment").str(3, "web").str(4, "u-1").str(5, "apps/v1").num(6, 1).num(7, 0);
  Pb md;
  md.str(1, "cfg").str(2, "").str(3, "team-a").str(4, "").str(5, "0b3c").str(6, "42").num(7, 3)
    .msg(8, Pb().num(1, 1764300000).num(2, 123))
    .entry(11, "app", "web").entry(11, "tier", "").entry(12, "note", "a \"quoted\"\nline")
    .msg(13, owner).str(14, "example.com/cleanup").str(14, "other")
    .msg(17, Pb().str(1, "kubectl").str(2, "Update"));  // managedFields: dropped
  Pb cm;
  cm.msg(1, md).entry(2, "a", "1").entry(2, "b", "").msg(3, Pb().str(1, "bin").str(2, std::string("\x00\xff\x10", 3)))
    .num(4, 0);
  check_json(decode_ok(envelope("v1", "ConfigMap", cm)), R"({
    "kind": "ConfigMap", "apiVersion": "v1",
    "metadata": {"name": "cfg", "namespace": "team-a", "uid": "0b3c", "resourceVersion": "42", "generation": 3,
                 "creationTimestamp": "2025-11-28T03:20:00Z",
                 "labels": {"app": "web", "tier": ""}, "annotations": {"note": "a \"quoted\"\nline"},
                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "u-1",
                                      "controller": true, "blockOwnerDeletion": false}],
                 "finalizers": ["example.com/cleanup", "other"]},
    "data": {"a": "1", "b": ""},
    "binaryData": {"bin": "AP8Q"},
    "immutable": false})");
}

TEST_CASE("protobuf: Secret, Namespace, ServiceAccount", "[protobuf]") {
  SECTION("Secret: data is base64, stringData and type kept") {
    Pb s;
    s.msg(1, meta("s")).entry(2, "k", "v").entry(2, "two", "ab").entry(2, "empty", "").entry(4, "plain", "text")
      .str(3, "Opaque").num(5, 1);
    check_json(decode_ok(envelope("v1", "Secret", s)), R"({
      "kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s"},
      "data": {"k": "dg==", "two": "YWI=", "empty": ""}, "stringData": {"plain": "text"},
      "type": "Opaque", "immutable": true})");
  }
  SECTION("Namespace: spec finalizers, empty status") {
    Pb ns;
    ns.msg(1, meta("foo")).msg(2, Pb().str(1, "kubernetes")).msg(3, Pb().str(1, ""));
    check_json(decode_ok(envelope("v1", "Namespace", ns)), R"({
      "kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "foo"},
      "spec": {"finalizers": ["kubernetes"]}, "status": {}})");
  }
  SECTION("ServiceAccount: secrets, imagePullSecrets, automount false is kept") {
    Pb sa;
    sa.msg(1, meta("sa")).msg(2, Pb().str(1, "Secret").str(3, "tok")).msg(3, Pb().str(1, "regcred")).num(4, 0);
    check_json(decode_ok(envelope("v1", "ServiceAccount", sa)), R"({
      "kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": "sa"},
      "secrets": [{"kind": "Secret", "name": "tok"}], "imagePullSecrets": [{"name": "regcred"}],
      "automountServiceAccountToken": false})");
  }
}

TEST_CASE("protobuf: Service with int and named target ports", "[protobuf]") {
  Pb port80;
  port80.str(1, "http").str(2, "TCP").num(3, 80).msg(4, Pb().num(1, 0).num(2, 8080).str(3, "")).num(5, 0);
  Pb port443;
  port443.str(1, "https").str(2, "TCP").str(6, "h2").num(3, 443).msg(4, Pb().num(1, 1).num(2, 0).str(3, "web"));
  Pb spec;
  spec.msg(1, port80).msg(1, port443).entry(2, "app", "web").str(3, "None").str(4, "ClusterIP").str(7, "")
    .str(17, "SingleStack").num(12, 0).num(13, 0)
    .msg(14, Pb().msg(1, Pb().num(1, 300)));
  Pb svc;
  svc.msg(1, meta("web")).msg(2, spec).msg(3, Pb().msg(1, Pb()));
  check_json(decode_ok(envelope("v1", "Service", svc)), R"({
    "kind": "Service", "apiVersion": "v1", "metadata": {"name": "web"},
    "spec": {"ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                       {"name": "https", "protocol": "TCP", "appProtocol": "h2", "port": 443, "targetPort": "web"}],
             "selector": {"app": "web"}, "clusterIP": "None", "type": "ClusterIP", "ipFamilyPolicy": "SingleStack",
             "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 300}}},
    "status": {"loadBalancer": {}}})");
}

TEST_CASE("protobuf: Deployment and Pod through the pod template tables", "[protobuf]") {
  Pb env_from_cm;
  env_from_cm.str(1, "LEVEL").msg(3, Pb().msg(3, Pb().msg(1, Pb().str(1, "cfg")).str(2, "level").num(3, 0)));
  Pb env_field;
  env_field.str(1, "POD").msg(3, Pb().msg(1, Pb().str(1, "v1").str(2, "metadata.name")));
  Pb container;
  container.str(1, "web").str(2, "nginx:1.27").str(3, "sleep").str(3, "1").str(5, "")
    .msg(6, Pb().str(1, "").num(2, 0).num(3, 80).str(4, "TCP").str(5, ""))
    .msg(7, Pb().str(1, "A").str(2, "B")).msg(7, env_from_cm).msg(7, env_field)
    .msg(19, Pb().str(1, "P_").msg(3, Pb().msg(1, Pb().str(1, "sec")).num(2, 1)))
    .msg(8, Pb().msg(1, Pb().str(1, "cpu").msg(2, Pb().str(1, "500m"))).msg(2, Pb().str(1, "memory").msg(2, Pb().str(1, "64Mi"))))
    .msg(9, Pb().str(1, "data").num(2, 1).str(3, "/data"))
    .str(13, "").str(20, "").str(14, "IfNotPresent").num(16, 0).num(17, 0).num(18, 0);
  Pb pod_spec;
  pod_spec.msg(2, container).str(3, "Always").num(4, 0).str(6, "").entry(7, "disk", "ssd").str(8, "builder")
    .msg(22, Pb().str(1, "k").str(2, "Exists").str(4, "NoExecute").num(5, 60)).sint(25, -5);
  Pb tmpl_meta = meta("");
  tmpl_meta.entry(11, "app", "web");
  Pb strategy;
  strategy.str(1, "RollingUpdate")
    .msg(2, Pb().msg(1, Pb().num(1, 0).num(2, 1)).msg(2, Pb().num(1, 1).str(3, "25%")));
  Pb dspec;
  dspec.num(1, 0).msg(2, Pb().entry(1, "app", "web")).msg(3, Pb().msg(1, tmpl_meta).msg(2, pod_spec))
    .msg(4, strategy).num(5, 0).num(7, 0);
  Pb dmeta = meta("web");
  dmeta.entry(11, "app", "web");
  Pb dep;
  dep.msg(1, dmeta).msg(2, dspec).msg(3, Pb().num(1, 0).num(2, 0).num(3, 0).num(4, 0).num(5, 0).num(7, 0));
  auto d = decode_ok(envelope("apps/v1", "Deployment", dep));
  check_json(d, R"({
    "kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
      "replicas": 0,
      "selector": {"matchLabels": {"app": "web"}},
      "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
        "containers": [{
          "name": "web", "image": "nginx:1.27", "command": ["sleep", "1"],
          "ports": [{"containerPort": 80, "protocol": "TCP"}],
          "env": [{"name": "A", "value": "B"},
                  {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "level", "optional": false}}},
                  {"name": "POD", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
          "envFrom": [{"prefix": "P_", "secretRef": {"name": "sec", "optional": true}}],
          "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}},
          "volumeMounts": [{"name": "data", "readOnly": true, "mountPath": "/data"}],
          "imagePullPolicy": "IfNotPresent"}],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 0, "nodeSelector": {"disk": "ssd"},
        "serviceAccountName": "builder",
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}],
        "priority": -5}},
      "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}}},
    "status": {}})");

  Pb pod;
  pod.msg(1, meta("p")).msg(2, Pb().msg(2, Pb().str(1, "c").str(2, "busybox")).str(3, "Never"))
    .msg(3, Pb().str(1, "Pending"));
  check_json(decode_ok(envelope("v1", "Pod", pod)), R"({
    "kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p"},
    "spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"},
    "status": {"phase": "Pending"}})");
}

TEST_CASE("protobuf: Job, CronJob, RBAC, PriorityClass, PodDisruptionBudget", "[protobuf]") {
  Pb tmpl;
  tmpl.msg(1, meta("")).msg(2, Pb().msg(2, Pb().str(1, "j").str(2, "busybox").str(3, "echo")).str(3, "Never"));
  Pb job_spec;
  job_spec.num(7, 0).msg(6, tmpl).num(10, 1);
  check_json(decode_ok(envelope("batch/v1", "Job", Pb().msg(1, meta("j")).msg(2, job_spec)
                                                  .msg(3, Pb().num(4, 0).num(5, 0).num(6, 0).str(7, "")))), R"({
    "kind": "Job", "apiVersion": "batch/v1", "metadata": {"name": "j"},
    "spec": {"backoffLimit": 0, "suspend": true, "template": {"metadata": {}, "spec": {
      "containers": [{"name": "j", "image": "busybox", "command": ["echo"]}], "restartPolicy": "Never"}}},
    "status": {}})");

  Pb cj_spec;
  cj_spec.str(1, "*/5 * * * *").str(3, "Forbid").msg(5, Pb().msg(1, meta("cj")).msg(2, job_spec)).num(6, 0);
  auto cj = decode_ok(envelope("batch/v1", "CronJob", Pb().msg(1, meta("cj")).msg(2, cj_spec).msg(3, Pb())));
  CHECK(cj.at_path("spec.schedule")->as_string() == "*/5 * * * *");
  CHECK(cj.at_path("spec.concurrencyPolicy")->as_string() == "Forbid");
  CHECK(cj.at_path("spec.successfulJobsHistoryLimit")->as_int() == 0);
  CHECK(cj.at_path("spec.jobTemplate.spec.template.spec.containers")->as_array().size() == 1);

  Pb rule;
  rule.str(1, "get").str(1, "list").str(2, "").str(3, "pods").str(4, "x");
  check_json(decode_ok(envelope("rbac.authorization.k8s.io/v1", "Role", Pb().msg(1, meta("r")).msg(2, rule))), R"({
    "kind": "Role", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": "r"},
    "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["x"]}]})");
  Pb agg = Pb().msg(1, Pb().entry(1, "rbac.example.com/aggregate", "true"));
  check_json(decode_ok(envelope("rbac.authorization.k8s.io/v1", "ClusterRole",
                                Pb().msg(1, meta("cr")).msg(3, agg))), R"({
    "kind": "ClusterRole", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": "cr"},
    "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/aggregate": "true"}}]}})");
  Pb rb;
  rb.msg(1, meta("rb")).msg(2, Pb().str(1, "ServiceAccount").str(2, "").str(3, "sa").str(4, "default"))
    .msg(3, Pb().str(1, "rbac.authorization.k8s.io").str(2, "ClusterRole").str(3, "view"));
  check_json(decode_ok(envelope("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", rb)), R"({
    "kind": "ClusterRoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": "rb"},
    "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "default"}],
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}})");
  check_json(decode_ok(envelope("scheduling.k8s.io/v1", "PriorityClass",
                                Pb().msg(1, meta("pc")).num(2, 0).num(3, 0).str(4, "").str(5, "Never"))), R"({
    "kind": "PriorityClass", "apiVersion": "scheduling.k8s.io/v1", "metadata": {"name": "pc"},
    "value": 0, "preemptionPolicy": "Never"})");
  Pb pdb;
  pdb.msg(1, meta("pdb")).msg(2, Pb().msg(1, Pb().num(1, 1).str(3, "50%")).msg(2, Pb().entry(1, "app", "x")))
    .msg(3, Pb().num(1, 0).num(3, 0).num(4, 0).num(5, 0).num(6, 0));
  check_json(decode_ok(envelope("policy/v1", "PodDisruptionBudget", pdb)), R"({
    "kind": "PodDisruptionBudget", "apiVersion": "policy/v1", "metadata": {"name": "pdb"},
    "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "x"}}},
    "status": {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}})");
}

TEST_CASE("protobuf: bodies recorded from kubectl 1.32 decode to kubectl's own JSON", "[protobuf]") {
  // `kubectl create ... -v=9` request bodies; the expected JSON is `--dry-run=client -o json` of the
  // same command, without its "creationTimestamp": null.
  SECTION("create configmap x --from-literal=a=b --from-literal=c=d") {
    check_json(decode_ok(unhex("6b3873000a0f0a0276311209436f6e6669674d617012230a110a017812001a0022002a003200380042"
                               "0012060a016112016212060a01631201641a002200")),
               R"({"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x"},"data":{"a":"b","c":"d"}})");
  }
  SECTION("create secret generic s --from-literal=k=v") {
    check_json(decode_ok(unhex("6b3873000a0c0a0276311206536563726574121d0a110a017312001a0022002a0032003800420012"
                               "060a016b1201761a001a002200")),
               R"({"kind":"Secret","apiVersion":"v1","metadata":{"name":"s"},"data":{"k":"dg=="}})");
  }
  SECTION("create namespace foo") {
    check_json(decode_ok(unhex("6b3873000a0f0a02763112094e616d657370616365121b0a130a03666f6f12001a0022002a003200"
                               "380042001200" "1a020a001a002200")),
               R"({"kind":"Namespace","apiVersion":"v1","metadata":{"name":"foo"},"spec":{},"status":{}})");
  }
  SECTION("create serviceaccount sa") {
    check_json(decode_ok(unhex("6b3873000a140a027631120e536572766963654163636f756e7412140a120a02736112001a002200"
                               "2a003200380042001a002200")),
               R"({"kind":"ServiceAccount","apiVersion":"v1","metadata":{"name":"sa"}})");
  }
  SECTION("create deployment d --image=nginx --replicas=2 --port=80") {
    check_json(
        decode_ok(unhex(
            "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412b0010a1b0a016412001a0022002a003200380042005a080a"
            "036170701201641282010802120a0a080a036170701201641a6a0a1a0a0012001a0022002a003200380042005a080a036170701201"
            "64124c122e0a056e67696e7812056e67696e782a00320a0a001000185022002a0042006a007200800100880100900100a201001a00"
            "320042004a0052005800600068008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200")),
        R"({"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"d","labels":{"app":"d"}},
            "spec":{"replicas":2,"selector":{"matchLabels":{"app":"d"}},
                    "template":{"metadata":{"labels":{"app":"d"}},
                                "spec":{"containers":[{"name":"nginx","image":"nginx",
                                                       "ports":[{"containerPort":80}],"resources":{}}]}},
                    "strategy":{}},
            "status":{}})");
  }
  SECTION("create service clusterip svc --tcp=80:8080") {
    check_json(
        decode_ok(unhex("6b3873000a0d0a02763112075365727669636512690a1f0a0373766312001a0022002a003200380042005a0a0a036170"
                        "70120373766312420a1b0a0738302d38303830120354435018502207080010903f1a002800120a0a0361707012037376"
                        "631a002209436c757374657249503a00420052005a00600068001a020a001a002200")),
        R"({"kind":"Service","apiVersion":"v1","metadata":{"name":"svc","labels":{"app":"svc"}},
            "spec":{"ports":[{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080}],
                    "selector":{"app":"svc"},"type":"ClusterIP"},
            "status":{"loadBalancer":{}}})");
  }
  SECTION("create rolebinding rb --role=r --user=u --group=g --serviceaccount=default:sa") {
    check_json(
        decode_ok(unhex(
            "6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b526f6c6542696e64696e6712ac010a"
            "120a02726212001a0022002a0032003800420012260a04557365721219726261632e617574686f72697a6174696f6e2e6b38732e69"
            "6f1a0175220012270a0547726f75701219726261632e617574686f72697a6174696f6e2e6b38732e696f1a01672200121f0a0e5365"
            "72766963654163636f756e7412001a027361220764656661756c741a240a19726261632e617574686f72697a6174696f6e2e6b3873"
            "2e696f1204526f6c651a01721a002200")),
        R"({"kind":"RoleBinding","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"rb"},
            "subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"u"},
                        {"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"g"},
                        {"kind":"ServiceAccount","name":"sa","namespace":"default"}],
            "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"r"}})");
  }
  SECTION("create ingress ing --rule=foo.com/bar=svc1:8080") {
    check_json(
        decode_ok(unhex("6b3873000a1f0a146e6574776f726b696e672e6b38732e696f2f76311207496e6772657373124a0a130a03696e67"
                        "12001a0022002a00320038004200122f1a2d0a07666f6f2e636f6d12220a200a1e0a042f626172120f220d0a0473"
                        "76633112050a0010903f1a0545786163741a020a001a002200")),
        R"({"kind":"Ingress","apiVersion":"networking.k8s.io/v1","metadata":{"name":"ing"},
            "spec":{"rules":[{"host":"foo.com","http":{"paths":[{"path":"/bar","pathType":"Exact",
                    "backend":{"service":{"name":"svc1","port":{"number":8080}}}}]}}]},
            "status":{"loadBalancer":{}}})");
  }
}

TEST_CASE("protobuf: wire details (negative ints, invalid UTF-8, unknown fields, repeats)", "[protobuf]") {
  SECTION("int32 arrives sign-extended over 10 bytes; int64 keeps its range") {
    Pb pc;
    pc.msg(1, Pb().str(1, "pc").sint(7, -9000000000LL)).sint(2, -1000);
    auto v = decode_ok(envelope("scheduling.k8s.io/v1", "PriorityClass", pc));
    CHECK(v.get("value")->as_int() == -1000);
    CHECK(v.at_path("metadata.generation")->as_int() == -9000000000LL);
  }
  SECTION("invalid UTF-8 becomes U+FFFD, as Go's encoding/json writes it") {
    Pb cm;
    cm.msg(1, meta("u")).entry(2, std::string("k\xff", 2), std::string("a\xc3\x28z\xe2\x82\xac", 7));
    auto v = decode_ok(envelope("v1", "ConfigMap", cm));
    auto& data = v.get("data")->as_object();
    REQUIRE(data.size() == 1);
    CHECK(data.begin()->key == "k\xef\xbf\xbd");
    CHECK(data.begin()->value.as_string() == "a\xef\xbf\xbd(z\xe2\x82\xac");
    // The result is valid JSON again.
    CHECK(json::parse(json::dump(v)) == v);
  }
  SECTION("unknown fields of complete messages are skipped, whatever their wire type") {
    Pb md = meta("n");
    md.num(99, 7).key(98, 1).b.append(8, '\x01');
    md.key(97, 5).b.append(4, '\x02');
    md.str(96, "future");
    Pb cm;
    cm.msg(1, md).msg(50, Pb().str(1, "x")).entry(2, "a", "b");
    check_json(decode_ok(envelope("v1", "ConfigMap", cm)),
               R"({"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"n"},"data":{"a":"b"}})");
  }
  SECTION("zero-valued unknown fields of partial messages are skipped too (Go writes them)") {
    Pb spec;
    spec.msg(2, Pb().str(1, "c").str(2, "i").str(99, "")).num(98, 0).str(1, "");
    auto v = decode_ok(envelope("v1", "Pod", Pb().msg(1, meta("p")).msg(2, spec)));
    CHECK(v.at_path("spec.containers")->as_array().size() == 1);
  }
  SECTION("a repeated singular field: last scalar wins, messages merge, zero overrides") {
    Pb cm;
    cm.msg(1, Pb().str(1, "first").str(3, "ns")).msg(1, Pb().str(1, "second").str(3, ""));
    auto v = decode_ok(envelope("v1", "ConfigMap", cm));
    CHECK(json::dump(*v.get("metadata")) == R"({"name":"second"})");
  }
  SECTION("a Time of seconds 0 is the epoch; an empty Time is not sent") {
    Pb md;
    md.str(1, "t").msg(8, Pb().num(1, 0)).str(9, "");
    auto v = decode_ok(envelope("v1", "ConfigMap", Pb().msg(1, md)));
    CHECK(v.at_path("metadata.creationTimestamp")->as_string() == "1970-01-01T00:00:00Z");
    CHECK(v.at_path("metadata.deletionTimestamp") == nullptr);
    Pb md2;
    md2.str(1, "t").msg(8, Pb().sint(1, -62135596800LL)).msg(9, Pb().num(1, 253402300799LL));
    auto v2 = decode_ok(envelope("v1", "ConfigMap", Pb().msg(1, md2)));
    CHECK(v2.at_path("metadata.creationTimestamp")->as_string() == "0001-01-01T00:00:00Z");
    CHECK(v2.at_path("metadata.deletionTimestamp")->as_string() == "9999-12-31T23:59:59Z");
    Pb md3;
    md3.str(1, "t").msg(8, Pb().num(1, 951782400));  // a leap day
    CHECK(decode_ok(envelope("v1", "ConfigMap", Pb().msg(1, md3))).at_path("metadata.creationTimestamp")->as_string() ==
          "2000-02-29T00:00:00Z");
  }
  SECTION("an empty raw object still carries kind and apiVersion") {
    check_json(decode_ok(envelope("v1", "ServiceAccount", Pb())), R"({"kind":"ServiceAccount","apiVersion":"v1"})");
  }
}

TEST_CASE("protobuf: kinds and fields without a table are 415, naming what is missing", "[protobuf]") {
  auto err = decode_fails(envelope("v1", "Node", Pb().msg(1, meta("n"))), ProtobufFailure::unsupported);
  CHECK_THAT(err, Catch::Contains("v1 Node") && Catch::Contains("ConfigMap") && Catch::Contains("send the object as JSON"));
  decode_fails(envelope("apps/v1beta2", "Deployment", Pb()), ProtobufFailure::unsupported);

  SECTION("a populated field a partial table leaves out, by name") {
    Pb spec;
    spec.msg(1, Pb().str(1, "data").msg(2, Pb().msg(2, Pb()))).msg(2, Pb().str(1, "c"));
    Pb dep;
    dep.msg(1, meta("d")).msg(2, Pb().msg(3, Pb().msg(2, spec)));
    auto e = decode_fails(envelope("apps/v1", "Deployment", dep), ProtobufFailure::unsupported);
    CHECK_THAT(e, Catch::StartsWith("spec.template.spec.volumes is not decoded from protobuf"));
  }
  SECTION("a probe, inside the second container") {
    Pb spec;
    spec.msg(2, Pb().str(1, "a")).msg(2, Pb().str(1, "b").msg(11, Pb().num(4, 5)));
    auto e = decode_fails(envelope("v1", "Pod", Pb().msg(2, spec)), ProtobufFailure::unsupported);
    CHECK_THAT(e, Catch::StartsWith("spec.containers[1].readinessProbe"));
  }
  SECTION("an unknown populated field of a partial table, by number") {
    auto e = decode_fails(envelope("v1", "Pod", Pb().msg(2, Pb().str(77, "x"))), ProtobufFailure::unsupported);
    CHECK_THAT(e, Catch::Contains("field 77 of PodSpec"));
  }
  SECTION("compressed or foreign envelope content") {
    Pb e;
    e.msg(1, Pb().str(1, "v1").str(2, "ConfigMap")).msg(2, Pb()).str(3, "gzip");
    decode_fails(std::string("k8s\0", 4) + e.b, ProtobufFailure::unsupported);
    Pb e2;
    e2.msg(1, Pb().str(1, "v1").str(2, "ConfigMap")).msg(2, Pb()).str(4, "application/json");
    decode_fails(std::string("k8s\0", 4) + e2.b, ProtobufFailure::unsupported);
  }
}

TEST_CASE("protobuf: malformed and hostile bodies are 400, never a crash", "[protobuf]") {
  const auto M = ProtobufFailure::malformed;
  decode_fails("", M);
  decode_fails("k8s", M);
  decode_fails("{\"kind\":\"ConfigMap\"}", M);
  decode_fails(std::string("k8s\0", 4), M);  // no kind
  decode_fails(std::string("k8s\1", 4) + Pb().msg(1, Pb().str(1, "v1").str(2, "ConfigMap")).b, M);

  SECTION("a length far beyond the body") {
    Pb e;
    e.msg(1, Pb().str(1, "v1").str(2, "ConfigMap")).key(2, 2).raw_varint(uint64_t{1} << 62);
    CHECK_THAT(decode_fails(std::string("k8s\0", 4) + e.b, M), Catch::Contains("truncated"));
    Pb inner;
    inner.key(1, 2).raw_varint(0xffffffffffffffffULL);
    decode_fails(envelope("v1", "ConfigMap", inner), M);
  }
  SECTION("varints longer than 10 bytes or overflowing 64 bits") {
    Pb inner;
    inner.key(4, 0);
    inner.b.append(10, '\xff');
    inner.b.push_back('\x01');
    decode_fails(envelope("v1", "ConfigMap", inner), M);
    Pb inner2;
    inner2.key(4, 0);
    inner2.b.append(9, '\xff');
    inner2.b.push_back('\x02');
    decode_fails(envelope("v1", "ConfigMap", inner2), M);
  }
  SECTION("wrong wire types for known fields, groups, field number 0") {
    CHECK_THAT(decode_fails(envelope("v1", "ConfigMap", Pb().num(1, 5)), M),
               Catch::Contains("expected length-delimited") && Catch::Contains("field 1 of ConfigMap"));
    CHECK_THAT(decode_fails(envelope("v1", "ConfigMap", Pb().msg(1, Pb().str(7, "3"))), M),
               Catch::Contains("metadata.generation"));
    decode_fails(envelope("v1", "ConfigMap", Pb().str(4, "true")), M);
    decode_fails(envelope("v1", "ConfigMap", Pb().key(9, 3)), M);
    decode_fails(envelope("v1", "ConfigMap", Pb().key(9, 7)), M);
    decode_fails(envelope("v1", "ConfigMap", Pb().key(0, 0).raw_varint(1)), M);
    decode_fails(envelope("v1", "ConfigMap", Pb().msg(2, Pb().num(1, 3))), M);  // map key as varint
  }
  SECTION("a Time outside 0001..9999") {
    Pb md;
    md.str(1, "t").msg(8, Pb().num(1, 253402300800ULL));
    CHECK_THAT(decode_fails(envelope("v1", "ConfigMap", Pb().msg(1, md)), M),
               Catch::Contains("metadata.creationTimestamp") && Catch::Contains("out of range"));
    Pb md2;
    md2.str(1, "t").msg(8, Pb().num(1, 10).sint(2, -1));
    decode_fails(envelope("v1", "ConfigMap", Pb().msg(1, md2)), M);
  }
  SECTION("deep nesting in an unknown field is skipped without recursion (known fields nest as the tables do)") {
    std::string deep = "x";
    for (int i = 0; i < 2000; ++i)
      deep = Pb().str(1, deep).b;
    auto start = std::chrono::steady_clock::now();
    auto v = decode_ok(envelope("v1", "ConfigMap", Pb().msg(1, meta("deep")).str(60, deep)));
    CHECK(v.at_path("metadata.name")->as_string() == "deep");
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  }
  SECTION("every truncation and every single-byte corruption of a real body is handled") {
    Pb container;
    container.str(1, "web").str(2, "nginx").msg(6, Pb().num(3, 80)).msg(8, Pb().msg(1, Pb().str(1, "cpu").msg(2, Pb().str(1, "1"))));
    Pb dep;
    dep.msg(1, meta("web")).msg(2, Pb().num(1, 2).msg(3, Pb().msg(1, meta("")).msg(2, Pb().msg(2, container))));
    auto body = envelope("apps/v1", "Deployment", dep);
    decode_ok(body);
    for (size_t n = 0; n < body.size(); ++n) {
      json::Value v;
      std::string err;
      (void)decode_k8s_protobuf(std::string_view(body).substr(0, n), v, err);
    }
    for (size_t i = 0; i < body.size(); ++i)
      for (int bit = 0; bit < 8; ++bit) {
        auto b = body;
        b[i] = static_cast<char>(b[i] ^ (1 << bit));
        json::Value v;
        std::string err;
        ProtobufFailure why;
        if (!decode_k8s_protobuf(b, v, err, &why))
          CHECK(why != ProtobufFailure::none);
      }
  }
}

TEST_CASE("protobuf: the kinds list", "[protobuf]") {
  auto kinds = protobuf_kinds();
  for (const char* k : {"v1/ConfigMap", "v1/Secret", "v1/Namespace", "v1/ServiceAccount", "v1/Service", "v1/Pod",
                        "apps/v1/Deployment", "batch/v1/Job", "batch/v1/CronJob", "policy/v1/PodDisruptionBudget",
                        "networking.k8s.io/v1/Ingress", "rbac.authorization.k8s.io/v1/Role",
                        "scheduling.k8s.io/v1/PriorityClass"})
    CHECK(std::find(kinds.begin(), kinds.end(), k) != kinds.end());
}

TEST_CASE("protobuf: POST bodies through the API server: 201, 400 and 415 Status", "[protobuf]") {
  apiserver::ApiServerOptions o;
  o.tls = false;
  o.token = "protobuf-test-token";
  apiserver::ApiServer srv(o);
  srv.start();
  ApiClient c(srv.port(), "protobuf-test-token");
  const std::string pb = "application/vnd.kubernetes.protobuf";
  const std::string cms = "/api/v1/namespaces/default/configmaps";

  Pb cm;
  cm.msg(1, meta("from-pb")).entry(2, "a", "1");
  auto created = c.request("POST", cms, envelope("v1", "ConfigMap", cm), pb);
  INFO(created.body);
  CHECK(created.status == 201);
  CHECK(created.header("content-type") == "application/json");
  auto got = c.get(cms + "/from-pb").json();
  CHECK(got.at_path("data.a")->as_string() == "1");
  CHECK(got.at_path("metadata.namespace")->as_string() == "default");
  CHECK_FALSE(got.at_path("metadata.uid")->as_string().empty());

  Pb sec;
  sec.msg(1, meta("s")).entry(2, "k", std::string("\x00\x01", 2)).str(3, "Opaque");
  CHECK(c.request("POST", "/api/v1/namespaces/default/secrets", envelope("v1", "Secret", sec), pb).status == 201);
  auto s = c.get("/api/v1/namespaces/default/secrets/s").json();
  CHECK(s.at_path("data.k")->as_string() == "AAE=");
  CHECK(s.string_or("type") == "Opaque");

  auto status_of = [](const HttpResult& r, int code, const std::string& reason) {
    INFO(r.body);
    CHECK(r.status == code);
    auto v = r.json();
    CHECK(v.string_or("kind") == "Status");
    CHECK(v.string_or("reason") == reason);
    CHECK(v.int_at("code") == code);
    return v.string_or("message");
  };
  auto bad = c.request("POST", cms, std::string("k8s\0\x0a\xff", 6), pb);
  CHECK_THAT(status_of(bad, 400, "BadRequest"), Catch::Contains("not valid Kubernetes protobuf"));
  auto node = c.request("POST", "/api/v1/nodes", envelope("v1", "Node", Pb().msg(1, meta("n"))), pb);
  CHECK_THAT(status_of(node, 415, "UnsupportedMediaType"), Catch::Contains("v1 Node"));
  // A ConfigMap sent to the secrets endpoint is refused like the JSON equivalent.
  auto wrong = c.request("POST", "/api/v1/namespaces/default/secrets", envelope("v1", "ConfigMap", cm), pb);
  status_of(wrong, 400, "BadRequest");
  srv.stop();
}
