#!/usr/bin/env python3
"""Drives omed's embedded API server with the official Kubernetes Python client.

Run by tests/integration/test_kubectl.cpp ("[python]") against an `omed apiserver` it started:

    KUBECONFIG=DIR/kubeconfig python3 python_client.py

Exit codes: 0 every check passed, 1 a check failed (the reason is printed), 77 the `kubernetes`
module is not importable (the caller skips loudly).

What it covers: kubeconfig loading (TLS with the generated CA, bearer token), /version,
CustomObjectsApi create / get / list / merge patch / status patch / delete of a BaseModel
(ome.io/v1beta1, from deploy/crds), a watch resumed from a resourceVersion with
kubernetes.watch.Watch (history replay) and a live watch, and a core ConfigMap through
CoreV1Api (create, read, list by label, patch, replace with a stale resourceVersion, delete).
"""

import os
import sys
import threading
import time

try:
    import kubernetes
    from kubernetes import client, config, watch
    from kubernetes.client.rest import ApiException
except ImportError as e:  # pragma: no cover - the caller reports the skip
    print("SKIP: python module 'kubernetes' is not importable: %s" % e)
    sys.exit(77)

GROUP, VERSION, PLURAL, NS = "ome.io", "v1beta1", "basemodels", "default"
failures = []


def check(cond, what):
    if cond:
        print("ok   " + what)
    else:
        print("FAIL " + what)
        failures.append(what)
    return cond


def step(what):
    print("---- " + what)
    sys.stdout.flush()


def basemodel(name, vendor="qwen", labels=None):
    md = {"name": name}
    if labels:
        md["labels"] = labels
    return {
        "apiVersion": GROUP + "/" + VERSION,
        "kind": "BaseModel",
        "metadata": md,
        "spec": {
            "vendor": vendor,
            "modelFormat": {"name": "safetensors"},
            "storage": {"storageUri": "hf://Qwen/Qwen2.5-0.5B-Instruct"},
        },
    }


def collect(w, stream, want, deadline_s):
    """Reads (type, name) pairs from a watch stream until `want` of them arrived."""
    got = []
    end = time.time() + deadline_s
    for ev in stream:
        obj = ev["object"]
        md = obj.get("metadata", {}) if isinstance(obj, dict) else {}
        got.append((ev["type"], md.get("name"), md.get("resourceVersion")))
        if len(got) >= want or time.time() > end:
            w.stop()
            break
    return got


def main():
    kubeconfig = os.environ.get("KUBECONFIG")
    if not kubeconfig:
        print("FAIL KUBECONFIG is not set")
        return 1
    print("kubernetes python client %s, python %s" % (kubernetes.__version__, sys.version.split()[0]))
    config.load_kube_config(config_file=kubeconfig)

    step("version")
    info = client.VersionApi().get_code()
    check(info.major == "1" and info.minor == "32", "server claims 1.32 (%s.%s)" % (info.major, info.minor))
    check(info.git_version.startswith("v1.32"), "gitVersion %s" % info.git_version)

    co = client.CustomObjectsApi()

    step("custom resource: create")
    created = co.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, basemodel("py-model", labels={"app": "py"}))
    md = created["metadata"]
    check(md.get("name") == "py-model", "created object has its name")
    check(len(md.get("uid", "")) == 36, "created object has a uid")
    check(md.get("resourceVersion", "").isdigit(), "created object has a resourceVersion")
    check(md.get("generation") == 1, "generation starts at 1")
    rv0 = md["resourceVersion"]

    step("custom resource: get and list")
    got = co.get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "py-model")
    check(got["spec"]["vendor"] == "qwen", "get returns the spec")
    lst = co.list_namespaced_custom_object(GROUP, VERSION, NS, PLURAL)
    check(lst.get("kind") == "BaseModelList", "list kind is BaseModelList (%s)" % lst.get("kind"))
    names = [i["metadata"]["name"] for i in lst["items"]]
    check("py-model" in names, "list contains py-model (%s)" % names)
    check(int(lst["metadata"]["resourceVersion"]) >= int(rv0), "list resourceVersion is not older than the object")
    sel = co.list_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, label_selector="app=py")
    check([i["metadata"]["name"] for i in sel["items"]] == ["py-model"], "label selector app=py")
    cluster_wide = co.list_cluster_custom_object(GROUP, VERSION, PLURAL)
    check("py-model" in [i["metadata"]["name"] for i in cluster_wide["items"]], "cluster-wide list")

    step("custom resource: merge patch, status patch")
    patched = co.patch_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "py-model",
                                                {"spec": {"vendor": "alibaba"}, "metadata": {"labels": {"tier": "gold"}}})
    check(patched["spec"]["vendor"] == "alibaba", "merge patch changed spec.vendor")
    check(patched["spec"]["modelFormat"]["name"] == "safetensors" and
          patched["spec"]["storage"]["storageUri"] == "hf://Qwen/Qwen2.5-0.5B-Instruct", "merge patch kept the other fields")
    check(patched["metadata"]["labels"] == {"app": "py", "tier": "gold"}, "merge patch merged labels")
    check(patched["metadata"]["generation"] == 2, "spec change bumped generation to 2")
    removed = co.patch_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "py-model",
                                                {"metadata": {"labels": {"tier": None}}})
    check(removed["metadata"]["labels"] == {"app": "py"}, "null in a merge patch deletes the key")
    st = co.patch_namespaced_custom_object_status(GROUP, VERSION, NS, PLURAL, "py-model",
                                                  {"status": {"state": "Ready"}, "spec": {"vendor": "ignored"}})
    check(st.get("status", {}).get("state") == "Ready", "status patch wrote status.state")
    check(st["spec"]["vendor"] == "alibaba", "status patch ignored spec")

    step("custom resource: a second object, then delete it")
    co.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, basemodel("py-model-2"))
    status = co.delete_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "py-model-2")
    check(status.get("kind") == "Status" and status.get("status") == "Success",
          "deleting a custom resource returns Status Success (%s)" % status.get("kind"))
    check(status.get("details", {}).get("kind") == PLURAL, "Status details name the resource plural")

    step("watch from a resourceVersion (history replay)")
    w = watch.Watch()
    stream = w.stream(co.list_namespaced_custom_object, GROUP, VERSION, NS, PLURAL,
                      resource_version=rv0, timeout_seconds=10)
    events = collect(w, stream, 5, 10)
    print("     events: %s" % events)
    types = [(t, n) for t, n, _ in events]
    check(types == [("MODIFIED", "py-model"), ("MODIFIED", "py-model"), ("MODIFIED", "py-model"),
                    ("ADDED", "py-model-2"), ("DELETED", "py-model-2")],
          "watch from rv %s replays exactly the later changes in order" % rv0)
    rvs = [int(r) for _, _, r in events]
    check(rvs == sorted(rvs) and len(set(rvs)) == len(rvs) and all(r > int(rv0) for r in rvs),
          "replayed resourceVersions increase and are newer than %s" % rv0)

    step("live watch")
    start_rv = co.list_namespaced_custom_object(GROUP, VERSION, NS, PLURAL)["metadata"]["resourceVersion"]
    live = []
    ready = threading.Event()

    def watcher():
        w2 = watch.Watch()
        s = w2.stream(co.list_namespaced_custom_object, GROUP, VERSION, NS, PLURAL,
                      resource_version=start_rv, timeout_seconds=15)
        ready.set()
        live.extend(collect(w2, s, 1, 15))

    t = threading.Thread(target=watcher)
    t.start()
    ready.wait(5)
    time.sleep(0.5)
    co.patch_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "py-model", {"metadata": {"annotations": {"live": "yes"}}})
    t.join(20)
    check(not t.is_alive(), "live watch returned")
    check([(ty, n) for ty, n, _ in live] == [("MODIFIED", "py-model")], "live watch saw the annotation patch (%s)" % live)

    step("custom resource: delete")
    co.delete_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "py-model")
    try:
        co.get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "py-model")
        check(False, "get after delete is 404")
    except ApiException as e:
        check(e.status == 404, "get after delete is 404 (%s)" % e.status)
        check('basemodels.ome.io \\"py-model\\" not found' in e.body or 'basemodels.ome.io "py-model" not found' in e.body,
              "404 message names basemodels.ome.io")

    step("core ConfigMap through CoreV1Api")
    v1 = client.CoreV1Api()
    cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py-cm", labels={"app": "py"}), data={"a": "1", "b": "2"})
    made = v1.create_namespaced_config_map(NS, cm)
    check(made.metadata.uid is not None and made.data == {"a": "1", "b": "2"}, "ConfigMap created")
    read = v1.read_namespaced_config_map("py-cm", NS)
    check(read.data == {"a": "1", "b": "2"}, "ConfigMap read back")
    listed = v1.list_namespaced_config_map(NS, label_selector="app=py")
    check([c.metadata.name for c in listed.items] == ["py-cm"], "ConfigMap list by label")
    # A dict body goes out as a strategic merge patch (the client's default for core types).
    p = v1.patch_namespaced_config_map("py-cm", NS, {"data": {"b": None, "c": "3"}})
    check(p.data == {"a": "1", "c": "3"}, "ConfigMap strategic merge patch (%s)" % p.data)
    stale = read
    stale.data = {"x": "y"}
    try:
        v1.replace_namespaced_config_map("py-cm", NS, stale)
        check(False, "replace with a stale resourceVersion is a 409")
    except ApiException as e:
        check(e.status == 409 and "the object has been modified" in e.body, "replace with a stale resourceVersion is a 409")
    fresh = v1.read_namespaced_config_map("py-cm", NS)
    fresh.data["d"] = "4"
    replaced = v1.replace_namespaced_config_map("py-cm", NS, fresh)
    check(replaced.data == {"a": "1", "c": "3", "d": "4"}, "replace with the current resourceVersion")
    v1.delete_namespaced_config_map("py-cm", NS)
    try:
        v1.read_namespaced_config_map("py-cm", NS)
        check(False, "ConfigMap gone after delete")
    except ApiException as e:
        check(e.status == 404, "ConfigMap gone after delete")

    if failures:
        print("\n%d check(s) failed:" % len(failures))
        for f in failures:
            print("  - " + f)
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ApiException as e:
        print("FAIL unexpected API error: %s %s\n%s" % (e.status, e.reason, e.body))
        sys.exit(1)
