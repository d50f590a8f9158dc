// client-go's golden wire data (shared/testdata/k8s/client-go-golden, from kubernetes/client-go
// dynamic/testdata) replayed against the embedded API server: the requests of TestGoldenRequest,
// adapted to a CRD this test creates (flips.flops.example.com, v1alpha1, status subresource) and
// to the built-in ServiceAccount of the recorded responses, must get answers of the same shape as
// TestGoldenResponse: status code, Content-Type, framing (Content-Length, or chunked with one JSON
// event per line for the watch), body kind, and the same top-level and metadata keys.
//
// The files are read from the shared directory at run time; nothing of them is copied here.
#include <catch2/catch.hpp>

#include <set>
#include <thread>

#include "omed/apiserver/server.hpp"
#include "../support/api_client.hpp"
#include "../support/test_env.hpp"

using namespace omed;
using namespace omed::testing;
namespace fs = std::filesystem;

namespace {

const char* kToken = "golden-test-token";
const std::string kGroup = "flops.example.com";  // "flops" alone is not a valid CRD group (needs a dot)
const std::string kFlips = "/apis/" + kGroup + "/v1alpha1/namespaces/mops/flips";
const std::string kAccounts = "/api/v1/namespaces/mops/serviceaccounts";

fs::path golden_dir() { return shared_dir() / "testdata" / "k8s" / "client-go-golden"; }

struct RawRequest {
  std::string method, target, body;
  std::vector<std::pair<std::string, std::string>> headers;  // as recorded, minus Content-Length
};

RawRequest parse_request(const std::string& text) {
  RawRequest r;
  auto head_end = text.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  auto head = text.substr(0, head_end);
  r.body = text.substr(head_end + 4);
  auto eol = head.find("\r\n");
  auto line = head.substr(0, eol);
  auto sp1 = line.find(' '), sp2 = line.rfind(' ');
  r.method = line.substr(0, sp1);
  r.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  while (eol != std::string::npos) {
    auto next = head.find("\r\n", eol + 2);
    auto h = head.substr(eol + 2, next == std::string::npos ? std::string::npos : next - eol - 2);
    auto colon = h.find(':');
    if (colon != std::string::npos) {
      auto k = h.substr(0, colon), v = h.substr(colon + 1);
      while (!v.empty() && v[0] == ' ')
        v.erase(0, 1);
      if (k != "Content-Length")
        r.headers.emplace_back(k, v);
    }
    eol = next;
  }
  return r;
}

RawRequest golden_request(const std::string& name) {
  return parse_request(read_file(golden_dir() / "TestGoldenRequest" / name));
}

json::Value golden_json(const std::string& name) { return json::parse(read_file(golden_dir() / "TestGoldenResponse" / name)); }

// A raw HTTP/1.1 response: status, headers (lower-case names), the framing, and the payload
// (de-chunked when chunked).
struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;
  bool chunked = false;
  bool terminated = false;  // chunked: the zero-length chunk was seen
  bool has_length = false;
  size_t length = 0;
  std::string payload;
  std::string header(const std::string& k) const {
    auto it = headers.find(k);
    return it == headers.end() ? "" : it->second;
  }
};

RawResponse parse_response(const std::string& raw) {
  RawResponse r;
  auto head_end = raw.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  auto parsed = ApiClient::parse(raw.substr(0, head_end + 4));
  r.status = parsed.status;
  r.headers = parsed.headers;
  auto rest = raw.substr(head_end + 4);
  r.chunked = r.header("transfer-encoding") == "chunked";
  r.has_length = !r.header("content-length").empty();
  if (r.has_length)
    r.length = std::stoul(r.header("content-length"));
  if (r.chunked) {
    Dechunker d;
    r.payload = d.feed(rest);
    r.terminated = d.done;
  } else {
    r.payload = rest;
  }
  return r;
}

RawResponse golden_raw(const std::string& name) {
  return parse_response(read_file(golden_dir() / "TestGoldenResponse" / "responses" / name));
}

std::set<std::string> keys_of(const json::Value* v) {
  std::set<std::string> out;
  if (v && v->is_object())
    for (auto& m : v->as_object())
      if (!m.value.is_null())  // "creationTimestamp":null is how older encoders spell "absent"
        out.insert(m.key);
  return out;
}

std::string show(const std::set<std::string>& s) {
  std::string out = "{";
  for (auto& k : s)
    out += (out.size() > 1 ? "," : "") + k;
  return out + "}";
}

// The metadata keys a custom resource has on top of a built-in without generation.
std::set<std::string> plus_generation(std::set<std::string> s) {
  s.insert("generation");
  return s;
}

struct Server {
  std::unique_ptr<apiserver::ApiServer> srv;
  std::unique_ptr<ApiClient> c;
  Server() {
    apiserver::ApiServerOptions o;
    o.tls = false;
    o.token = kToken;
    srv = std::make_unique<apiserver::ApiServer>(o);
    srv->start();
    c = std::make_unique<ApiClient>(srv->port(), kToken);
  }
  ~Server() { srv->stop(); }

  // Sends a recorded request with its own headers (plus the bearer token) and returns the raw
  // response, reading to the end of the body or of the chunked stream.
  std::string send_raw(const RawRequest& q, int ms = 10000) {
    RawConn conn(srv->port());
    std::string req = q.method + " " + q.target + " HTTP/1.1\r\n";
    for (auto& [k, v] : q.headers)
      req += k + ": " + v + "\r\n";
    req += "Authorization: Bearer " + std::string(kToken) + "\r\n";
    if (!q.body.empty() || q.method == "POST" || q.method == "PUT" || q.method == "PATCH")
      req += "Content-Length: " + std::to_string(q.body.size()) + "\r\n";
    req += "\r\n" + q.body;
    conn.send(req);
    if (q.target.find("watch=true") == std::string::npos)
      return conn.read_response(ms);
    // A watch: everything up to the zero-length chunk (or the deadline).
    auto head = conn.read_until("\r\n\r\n", ms);
    std::string rest;
    Dechunker d;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!d.done && !conn.eof() && std::chrono::steady_clock::now() < deadline) {
      auto part = conn.read_until("\r\n", 200);
      rest += part;
      d.feed(part);
    }
    return head + rest;
  }
};

// The golden request with the path moved to `base` (the recorded one is
// /apis/flops/v1alpha1/namespaces/mops/flips[/mips[/fin|/status]]): "fin" is not a subresource a
// CRD can have, so those requests go to the object itself (create to the collection).
RawRequest adapt(RawRequest q, const std::string& base) {
  const std::string recorded = "/apis/flops/v1alpha1/namespaces/mops/flips";
  REQUIRE(q.target.rfind(recorded, 0) == 0);
  auto rest = q.target.substr(recorded.size());
  std::string query;
  if (auto qm = rest.find('?'); qm != std::string::npos) {
    query = rest.substr(qm);
    rest = rest.substr(0, qm);
  }
  if (rest == "/mips/fin")
    rest = q.method == "POST" ? "" : "/mips";
  // kube-apiserver validates fieldValidation against "Ignore", "Warn", "Strict"; client-go's
  // golden test spells it "warn". Send what a client pointed at a real server sends.
  if (auto p = query.find("fieldValidation=warn"); p != std::string::npos)
    query.replace(p, std::string("fieldValidation=warn").size(), "fieldValidation=Warn");
  q.target = base + rest + query;
  return q;
}

// The recorded body plus what a real server needs to accept it: TypeMeta for a custom resource
// and, for a CR update, the current resourceVersion (custom resources refuse unconditional PUTs).
std::string adapt_body(const std::string& body, bool custom, const std::string& rv = "") {
  auto v = json::parse(body);
  if (custom) {
    v["apiVersion"] = kGroup + "/v1alpha1";
    v["kind"] = "Flip";
  }
  if (!rv.empty())
    v["metadata"]["resourceVersion"] = rv;
  return json::dump(v);
}

void install(Server& s) {
  REQUIRE(s.c->post("/api/v1/namespaces", json::parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"mops"}})"))
              .status == 201);
  auto crd = json::parse(R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
    "metadata":{"name":"flips.flops.example.com"},
    "spec":{"group":"flops.example.com","scope":"Namespaced",
      "names":{"plural":"flips","singular":"flip","kind":"Flip","listKind":"FlipList"},
      "versions":[{"name":"v1alpha1","served":true,"storage":true,"subresources":{"status":{}},
        "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}})");
  REQUIRE(s.c->post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).status == 201);
  bool served = false;
  for (int i = 0; i < 200 && !served; ++i) {
    served = s.c->get(kFlips).status == 200;
    if (!served)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(served);
  // The recorded reads ask for resourceVersion=42 ("not older than 42"): get the store past it.
  for (int i = 0; s.srv->current_rv() <= 42; ++i)
    REQUIRE(s.c->post("/api/v1/namespaces/default/configmaps",
                      json::Object{{"apiVersion", "v1"}, {"kind", "ConfigMap"},
                                   {"metadata", json::Object{{"name", "filler-" + std::to_string(i)}}}})
                .status == 201);
}

// Compares the shape of an object answer with a golden object.
void check_object_shape(const json::Value& got, const json::Value& golden, const std::string& kind, bool custom) {
  INFO("got: " << json::dump(got) << "\ngolden: " << json::dump(golden));
  CHECK(got.string_or("kind") == kind);
  CHECK(show(keys_of(&got)) == show(keys_of(&golden)));
  auto want_md = keys_of(golden.get("metadata"));
  if (custom)
    want_md = plus_generation(want_md);  // custom resources carry metadata.generation
  CHECK(show(keys_of(got.get("metadata"))) == show(want_md));
}

// The framing and headers of a non-streamed answer against a recorded one.
void check_framing(const RawResponse& got, const RawResponse& golden) {
  CHECK(got.status == golden.status);
  CHECK(got.header("content-type") == golden.header("content-type"));
  CHECK(got.header("cache-control") == golden.header("cache-control"));
  CHECK(got.chunked == golden.chunked);
  CHECK(got.has_length == golden.has_length);
  CHECK(got.length == got.payload.size());
  CHECK(golden.length == golden.payload.size());
  // Both bodies are one JSON document followed by a newline.
  REQUIRE_FALSE(got.payload.empty());
  CHECK(got.payload.back() == golden.payload.back());
}

}  // namespace

TEST_CASE("golden: the recorded GET, LIST, CREATE, UPDATE, UPDATESTATUS and WATCH answers, in shape", "[golden]") {
  if (!have_shared("testdata/k8s/client-go-golden/TestGoldenResponse"))
    return;
  Server s;
  install(s);

  for (bool custom : {true, false}) {
    const std::string base = custom ? kFlips : kAccounts;
    const std::string kind = custom ? "Flip" : "ServiceAccount";
    DYNAMIC_SECTION((custom ? "custom resource flips.flops.example.com" : "built-in ServiceAccount")) {
      // create: 201 and the object.
      auto create_q = adapt(golden_request("create"), base);
      create_q.body = adapt_body(create_q.body, custom);
      auto created = parse_response(s.send_raw(create_q));
      INFO("create: " << create_q.method << " " << create_q.target << " -> " << created.payload);
      CHECK(created.status == 201);
      CHECK(created.header("content-type") == "application/json");
      CHECK(created.header("cache-control") == "no-cache, private");
      CHECK(created.length == created.payload.size());
      auto created_obj = json::parse(created.payload);
      check_object_shape(created_obj, golden_json("create"), kind, custom);
      auto rv = created_obj.at_path("metadata.resourceVersion")->as_string();

      // get: the recorded "nonlist" response.
      auto get_q = adapt(golden_request("get"), base);
      auto got = parse_response(s.send_raw(get_q));
      INFO("get: " << get_q.target << " -> " << got.payload);
      check_framing(got, golden_raw("nonlist"));
      auto got_obj = json::parse(got.payload);
      check_object_shape(got_obj, json::parse(golden_raw("nonlist").payload), kind, custom);
      check_object_shape(got_obj, golden_json("get"), kind, custom);

      // list: the recorded ServiceAccountList.
      auto list_q = adapt(golden_request("list"), base);
      auto listed = parse_response(s.send_raw(list_q));
      INFO("list: " << list_q.target << " -> " << listed.payload);
      auto golden_list_raw = golden_raw("list");
      check_framing(listed, golden_list_raw);
      auto list = json::parse(listed.payload);
      auto golden_list = json::parse(golden_list_raw.payload);
      CHECK(golden_list.string_or("kind") == "ServiceAccountList");
      CHECK(list.string_or("kind") == kind + "List");
      CHECK(show(keys_of(&list)) == show(keys_of(&golden_list)));
      CHECK(show(keys_of(list.get("metadata"))) == show(keys_of(golden_list.get("metadata"))));
      REQUIRE(list.get("items"));
      REQUIRE(list.get("items")->as_array().size() == golden_list.get("items")->as_array().size());
      auto& item = list.get("items")->as_array()[0];
      // Items: the raw recording omits their TypeMeta (typed built-in list), the decoded one has
      // it; either is a faithful shape.
      auto item_keys = keys_of(&item);
      auto raw_item_keys = keys_of(&golden_list.get("items")->as_array()[0]);
      auto decoded_item_keys = keys_of(&golden_json("list").get("items")->as_array()[0]);
      CHECK((item_keys == raw_item_keys || item_keys == decoded_item_keys));
      auto md_want = keys_of(golden_list.get("items")->as_array()[0].get("metadata"));
      CHECK(show(keys_of(item.get("metadata"))) == show(custom ? plus_generation(md_want) : md_want));

      // update: 200 and the object.
      auto update_q = adapt(golden_request("update"), base);
      update_q.body = adapt_body(update_q.body, custom, custom ? rv : "");
      auto updated = parse_response(s.send_raw(update_q));
      INFO("update: " << update_q.target << " -> " << updated.payload);
      CHECK(updated.status == 200);
      CHECK(updated.header("content-type") == "application/json");
      CHECK(updated.header("cache-control") == "no-cache, private");
      check_object_shape(json::parse(updated.payload), golden_json("update"), kind, custom);

      // updatestatus: only custom resources have a status subresource here (ServiceAccount has none).
      auto status_q = adapt(golden_request("updatestatus"), base);
      if (custom) {
        auto cur = s.c->get(base + "/mips").json();
        status_q.body = adapt_body(status_q.body, true, cur.at_path("metadata.resourceVersion")->as_string());
        auto st = parse_response(s.send_raw(status_q));
        INFO("updatestatus: " << status_q.target << " -> " << st.payload);
        CHECK(st.status == 200);
        CHECK(st.header("content-type") == "application/json");
        check_object_shape(json::parse(st.payload), golden_json("updatestatus"), kind, custom);
      } else {
        auto st = parse_response(s.send_raw(status_q));
        CHECK(st.status == 404);
      }

      // watch: the recorded stream is a streaming list (ADDED for the object, then the
      // initial-events-end BOOKMARK) ended by the server; the same from omed with
      // sendInitialEvents and a short timeout.
      auto watch_q = adapt(golden_request("watch"), base);
      watch_q.target += "&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1";
      auto watched = parse_response(s.send_raw(watch_q, 15000));
      auto golden_events = golden_raw("events");
      INFO("watch: " << watch_q.target << " -> " << watched.payload);
      CHECK(watched.status == golden_events.status);
      CHECK(watched.header("content-type") == golden_events.header("content-type"));
      CHECK(watched.header("cache-control") == golden_events.header("cache-control"));
      CHECK(golden_events.chunked);
      CHECK(watched.chunked);
      CHECK_FALSE(watched.has_length);
      CHECK(golden_events.terminated);
      CHECK(watched.terminated);
      auto split = [](const std::string& payload) {
        std::vector<json::Value> evs;
        size_t pos = 0;
        while (pos < payload.size()) {
          auto nl = payload.find('\n', pos);
          REQUIRE(nl != std::string::npos);  // every event ends with a newline
          evs.push_back(json::parse(payload.substr(pos, nl - pos)));
          pos = nl + 1;
        }
        return evs;
      };
      auto got_events = split(watched.payload);
      auto want_events = split(golden_events.payload);
      std::vector<std::string> got_types, want_types, decoded_types;
      for (auto& e : got_events)
        got_types.push_back(e.string_or("type"));
      for (auto& e : want_events)
        want_types.push_back(e.string_or("type"));
      auto decoded_watch = golden_json("watch");
      for (auto& e : decoded_watch.as_array())
        decoded_types.push_back(e.string_or("type"));
      CHECK(want_types == std::vector<std::string>{"ADDED", "BOOKMARK"});
      CHECK(decoded_types == want_types);
      REQUIRE(got_types == want_types);
      for (size_t i = 0; i < got_events.size(); ++i) {
        INFO("event " << i);
        CHECK(show(keys_of(&got_events[i])) == show(keys_of(&want_events[i])));
        auto* obj = got_events[i].get("object");
        auto* want = want_events[i].get("object");
        REQUIRE(obj);
        CHECK(obj->string_or("kind") == kind);
        CHECK(show(keys_of(obj)) == show(keys_of(want)));
        auto md_keys = keys_of(want->get("metadata"));
        if (custom && i == 0)
          md_keys = plus_generation(md_keys);
        CHECK(show(keys_of(obj->get("metadata"))) == show(md_keys));
      }
      auto* end_mark = got_events[1].at_path("object.metadata.annotations");
      REQUIRE(end_mark);
      CHECK(show(keys_of(end_mark)) == show(keys_of(want_events[1].at_path("object.metadata.annotations"))));
      CHECK(end_mark->string_or("k8s.io/initial-events-end") == "true");
      CHECK(got_events[0].at_path("object.metadata.name")->as_string() == "mips");
    }
  }
}

TEST_CASE("golden: the recorded requests without a recorded answer get kube-apiserver's answers", "[golden]") {
  if (!have_shared("testdata/k8s/client-go-golden/TestGoldenRequest"))
    return;
  Server s;
  install(s);
  auto obj = json::Object{{"apiVersion", kGroup + "/v1alpha1"}, {"kind", "Flip"}, {"metadata", json::Object{{"name", "mips"}}}};
  REQUIRE(s.c->post(kFlips, obj).status == 201);
  auto before = s.c->get(kFlips + "/mips").json();

  // delete with dryRun=All in the DeleteOptions body: the would-be Status, nothing deleted.
  auto del = parse_response(s.send_raw(adapt(golden_request("delete"), kFlips)));
  INFO("delete -> " << del.payload);
  CHECK(del.status == 200);
  auto st = json::parse(del.payload);
  CHECK(st.string_or("kind") == "Status");
  CHECK(st.string_or("status") == "Success");
  REQUIRE(st.at_path("details.kind"));
  CHECK(st.at_path("details.kind")->as_string() == "flips");
  CHECK(s.c->get(kFlips + "/mips").status == 200);

  // deletecollection, dry run: a list of what would go, nothing deleted.
  auto dc = parse_response(s.send_raw(adapt(golden_request("deletecollection"), kFlips)));
  INFO("deletecollection -> " << dc.payload);
  CHECK(dc.status == 200);
  CHECK(json::parse(dc.payload).string_or("kind") == "FlipList");
  CHECK(s.c->get(kFlips + "/mips").status == 200);

  // patch: a strategic merge patch on a custom resource is 415 on a real server.
  auto patch = parse_response(s.send_raw(adapt(golden_request("patch"), kFlips)));
  INFO("patch -> " << patch.payload);
  CHECK(patch.status == 415);
  CHECK(json::parse(patch.payload).string_or("reason") == "UnsupportedMediaType");

  // apply / applystatus without fieldManager: 422 (fieldManager is required for apply patch).
  for (auto name : {"apply", "applystatus"}) {
    auto a = parse_response(s.send_raw(adapt(golden_request(name), kFlips)));
    INFO(name << " -> " << a.payload);
    CHECK(a.status == 422);
    auto v = json::parse(a.payload);
    CHECK(v.string_or("reason") == "Invalid");
    CHECK_THAT(v.string_or("message"), Catch::Contains("fieldManager: Required value: is required for apply patch"));
  }
  // Nothing of the above changed the object.
  CHECK(s.c->get(kFlips + "/mips").json().at_path("metadata.resourceVersion")->as_string() ==
        before.at_path("metadata.resourceVersion")->as_string());
}
