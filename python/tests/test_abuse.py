"""Fault-and-abuse suite against a real `seine serve` on 127.0.0.1 (issue 26).

Each case is what an attacker or an unlucky operator does: hostile filters, a full
disk (RLIMIT_FSIZE set on the running server), two writers on one index, a write
answered 503, a hand-edited manifest, costly filters, slow and idle connections under
a small open-file limit, made-up HTTP methods, cross-site requests, oversized or
invisible input. Every case records: status seen, whether the server is still alive,
and whether every acknowledged document is intact; the last test prints the table
and requires 0 crashes and 0 lost acknowledged writes. Bounded in time; loopback only.
"""

import http.client
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import SCIFACT, cli, seine_bin

ROWS = []  # (case, status, alive, intact)


def record(case, status, alive, intact="n/a"):
    ROWS.append((case, str(status), "yes" if alive else "NO", intact))
    assert alive, f"{case}: the server died"
    assert intact in ("n/a", "yes"), f"{case}: acknowledged writes lost"


class Server:
    """`seine serve INDEX --addr 127.0.0.1:0 ARGS` with optional child rlimits."""

    def __init__(self, index, *args, limits=()):
        def pre():
            for what, value in limits:
                resource.setrlimit(what, value)

        self.index = Path(index)
        self.proc = subprocess.Popen(
            [str(seine_bin()), "serve", str(index), "--addr", "127.0.0.1:0", *map(str, args)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=pre)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            err = self.proc.stderr.read()
            raise RuntimeError(f"server did not start: {line!r} {err}")
        self.host, port = line.split("http://")[1].split()[0].rsplit(":", 1)
        self.port = int(port)

    def request(self, method, path, body=None, headers=None, timeout=30):
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        c.close()
        try:
            return r.status, json.loads(raw), r
        except ValueError:
            return r.status, raw, r

    def alive(self):
        if self.proc.poll() is not None:
            return False
        try:
            return self.request("GET", "/health", timeout=20)[0] in (200, 503)
        except OSError:
            return False

    def put(self, docs):
        return self.request("POST", "/documents", {"documents": docs})

    def has(self, doc_id):
        return self.request("GET", f"/documents/{doc_id}")[0] == 200

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=30)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


def doc(i, text=None, **meta):
    return {"id": f"w-{i}", "title": "written", "text": text or f"written document {i}",
            "metadata": meta}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """400 SciFact documents with metadata (year, type)."""
    out = tmp_path_factory.mktemp("abuse") / "corpus.jsonl"
    with open(SCIFACT / "corpus.jsonl") as f, open(out, "w") as w:
        for i, line in enumerate(f):
            if i == 400:
                break
            d = json.loads(line)
            d["year"] = 2000 + i % 20
            d["type"] = ["review", "trial", "case"][i % 3]
            w.write(json.dumps(d) + "\n")
    return out


@pytest.fixture(scope="module")
def built(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("abuse-index") / "bm25"
    cli("index", corpus, "--out", out, "--fields", "year:integer,type:keyword")
    return out


@pytest.fixture
def index(built, tmp_path):
    """A fresh copy of the BM25 + metadata index for each case."""
    dst = tmp_path / "index"
    shutil.copytree(built, dst)
    return dst


@pytest.fixture(scope="module")
def dense_built(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("abuse-dense") / "dense"
    cli("index", corpus, "--out", out, "--dense", "minilm", "--hnsw", "off")
    return out


def search(s, filt, timeout=60):
    return s.request("POST", "/search", {"query": "cancer cells", "k": 5, "filter": filt},
                     timeout=timeout)


def test_hostile_filters_are_refused(index):
    s = Server(index)
    try:
        for name, f in [
            ("filter: 50,000 '('", "(" * 50_000 + "year = 1" + ")" * 50_000),
            ("filter: 200,000 NOT", "NOT " * 200_000 + "year = 1"),
            ("filter: 2 MB expression", "year = 1 OR " * 180_000 + "year = 2"),
            ("filter: 20k-leaf AND", " AND ".join(["year = 1"] * 20_000)),
            ("filter: JSON nested 100", json.loads('{"not":' * 100 + '{"field":"year","value":1}'
                                                   + "}" * 100)),
            ("filter: -inf", "year > -inf"),
            ("filter: 1e999", "year > 1e999"),
            ("filter: date 2015-02-31", "year = 1 AND type = 'x' OR year = '2015-02-31'"),
        ]:
            st, body, _ = search(s, f)
            assert st == 422, (name, st, body)
            record(name, st, s.alive())
        # NaN in the JSON form is not JSON: refused before anything runs.
        st, _, _ = s.request("POST", "/search",
                             '{"query": "x", "filter": {"field": "year", "value": NaN}}')
        assert 400 <= st < 500
        record("filter: NaN (JSON)", st, s.alive())
        st, body, _ = search(s, {"field": "y" * 1_000_000, "value": 1})
        assert st in (413, 422) and len(json.dumps(body)) < 1_000, st
        record("filter: 1 MB field name (answer < 1 KB)", st, s.alive())
        # A long IN list is one hash lookup per document: bounded and quick.
        t = time.time()
        st, body, _ = search(s, {"field": "year", "in": list(range(10_000))})
        took = time.time() - t
        assert st == 200, body
        record(f"filter: IN of 10,000 values ({took * 1000:.0f} ms)", st, s.alive())
    finally:
        s.stop()


def test_full_disk_loses_no_acknowledged_write(index):
    wal = index / "wal-000001.jsonl"
    s = Server(index)
    acked, refused = [], []
    try:
        for i in range(3):
            st, _, _ = s.put([doc(i)])
            assert st == 200
            acked.append(f"w-{i}")
        # The disk fills: the log may grow by a little more than one record.
        size = wal.stat().st_size
        resource.prlimit(s.proc.pid, resource.RLIMIT_FSIZE, (size + 300, resource.RLIM_INFINITY))
        statuses = set()
        for i in range(3, 9):
            st, body, r = s.put([doc(i)])
            statuses.add(st)
            (acked if st == 200 else refused).append(f"w-{i}")
            if st != 200:
                assert st == 507 and r.getheader("Retry-After"), (st, body)
        assert 507 in statuses
        # Space is back: the next writes work.
        resource.prlimit(s.proc.pid, resource.RLIMIT_FSIZE,
                         (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        for i in range(9, 12):
            st, _, _ = s.put([doc(i)])
            assert st == 200
            acked.append(f"w-{i}")
        alive = s.alive()
    finally:
        s.kill()
    s = Server(index)  # restart after kill -9: replays the log
    try:
        intact = all(s.has(d) for d in acked) and not any(s.has(d) for d in refused)
        record(f"full disk: {len(refused)} writes refused 507, {len(acked)} acked", 507,
               alive and s.alive(), "yes" if intact else "no")
    finally:
        s.stop()


def test_one_writer_per_index(index):
    import seine

    s = Server(index)
    try:
        st, _, _ = s.put([doc(1)])
        assert st == 200
        second = subprocess.run([str(seine_bin()), "serve", str(index), "--addr", "127.0.0.1:0"],
                                capture_output=True, text=True, timeout=120)
        assert second.returncode != 0
        assert "locked by another writer" in second.stderr and "seine serve on" in second.stderr, \
            second.stderr
        record("second `seine serve` on the index: refused", f"exit {second.returncode}",
               s.alive())
        # A Python Index beside the server reads, and may not write.
        ix = seine.Index.open(str(index))
        assert ix.search("cancer", k=3)
        with pytest.raises(Exception, match="locked by another writer"):
            ix.add([{"id": "py-1", "text": "from python"}])
        record("Python Index.add beside the server: refused", "error", s.alive())
        # The server compacts; the reader keeps its generation until it closes.
        st, body, _ = s.request("POST", "/admin/compact", {})
        assert st == 200 and body["compacted"], body
        assert ix.search("cancer", k=3)
        assert (index / "gen-000001").is_dir(), "a generation a reader has open was removed"
        st, _, _ = s.put([doc(2)])
        assert st == 200
        del ix
        import gc
        gc.collect()
        st, body, _ = s.request("POST", "/admin/compact", {})
        assert st == 200 and body["generation"] == 3
        assert not (index / "gen-000001").exists()
        record("reader outlives a compaction", 200, s.alive())
        alive = s.alive()
    finally:
        s.kill()
    s = Server(index)
    try:
        intact = s.has("w-1") and s.has("w-2") and not s.has("py-1")
        record("two writers: acknowledged writes after restart", 200, alive and s.alive(),
               "yes" if intact else "no")
    finally:
        s.stop()


def test_a_write_answered_503_is_never_applied(dense_built, tmp_path):
    index = tmp_path / "dense"
    shutil.copytree(dense_built, index)
    s = Server(index, "--workers", "1", "--timeout-s", "1", "--max-body-bytes", 8 << 20)
    try:
        heavy = [doc(1000 + i, text="cells " * 400) for i in range(200)]
        out = {}
        t = threading.Thread(target=lambda: out.setdefault("heavy", s.put(heavy)[0]))
        t.start()
        time.sleep(0.3)
        st, body, _ = s.put([doc(1, text="the victim")])
        assert st == 503, (st, body)
        health = s.request("GET", "/health")
        t.join(timeout=120)
        assert out["heavy"] == 200
        gone = not s.has("w-1")
        record("write queued past the timeout: 503", st, s.alive(), "yes" if gone else "no")
        record("/health while the pool is stuck", health[0], s.alive())
        assert health[0] == 503 and health[1]["status"] == "stuck", health[1]
        alive = s.alive()
    finally:
        s.kill()
    s = Server(index)
    try:
        ok = (not s.has("w-1")) and all(s.has(f"w-{1000 + i}") for i in range(0, 200, 37))
        record("503 write after restart: still not applied", 404, alive and s.alive(),
               "yes" if ok else "no")
    finally:
        s.stop()


def test_hand_edited_manifests_are_refused(index, tmp_path):
    m = json.loads((index / "manifest.json").read_text())

    def serve_with(change, name):
        bad = tmp_path / name
        shutil.copytree(index, bad)
        mm = json.loads(json.dumps(m))
        change(mm)
        (bad / "manifest.json").write_text(json.dumps(mm))
        r = subprocess.run([str(seine_bin()), "serve", str(bad), "--addr", "127.0.0.1:0"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 1, (name, r.returncode, r.stderr)  # an error, not SIGABRT
        assert "error:" in r.stderr
        record(f"manifest: {name}", f"exit {r.returncode}", True)
        return r.stderr

    assert "doc_count" in serve_with(lambda mm: mm.update(doc_count=2 ** 40), "doc_count 2^40")
    assert "no files" in serve_with(lambda mm: mm.update(files=[]), "empty files")

    def retype(mm):
        mm["fields"][1]["type"] = "integer"
    assert "metadata columns" in serve_with(retype, "field retyped")
    assert "no part" in serve_with(lambda mm: mm.update(lexical=None), "no part to search")


def test_connections_are_bounded(index):
    s = Server(index, "--read-timeout-s", "1",
               limits=[(resource.RLIMIT_NOFILE, (128, 128))])
    try:
        # Slowloris: headers that never end are cut off.
        slow = socket.create_connection((s.host, s.port))
        slow.sendall(b"POST /search HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: ")
        slow.settimeout(10)
        t = time.time()
        try:
            closed = slow.recv(1024) is not None
        except OSError:
            closed = True
        took = time.time() - t
        slow.close()
        assert closed and took < 5, took
        record(f"slowloris headers: closed after {took:.1f} s", "closed", s.alive())
        # A body that never ends: 408.
        slow = socket.create_connection((s.host, s.port))
        slow.sendall(b"POST /search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                     b"\r\nContent-Length: 100\r\n\r\n{")
        slow.settimeout(10)
        answer = slow.recv(1024)
        slow.close()
        assert b" 408 " in answer.split(b"\r\n")[0], answer[:80]
        record("slowloris body", 408, s.alive())
        # 200 idle sockets under `ulimit -n 128`: the server stays reachable, and a
        # compaction (which opens many files) still works.
        idle = []
        for _ in range(200):
            try:
                idle.append(socket.create_connection((s.host, s.port), timeout=5))
            except OSError:
                break
        st, _, _ = s.put([doc(1)])
        assert st == 200
        st, body, _ = s.request("POST", "/admin/compact", {}, timeout=60)
        for c in idle:
            c.close()
        assert st == 200 and body["compacted"], (st, body)
        record(f"{len(idle)} idle sockets, nofile 128: write + compaction", st, s.alive(),
               "yes" if s.has("w-1") else "no")
    finally:
        s.stop()


def test_metrics_labels_are_bounded(index):
    s = Server(index)
    try:
        for i in range(300):
            c = socket.create_connection((s.host, s.port), timeout=10)
            c.sendall(f"M{i}X /search HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close"
                      "\r\n\r\n".encode())
            c.recv(4096)
            c.close()
        st, text, _ = s.request("GET", "/metrics")
        text = text.decode() if isinstance(text, bytes) else json.dumps(text)
        assert st == 200 and len(text) < 20_000 and "M1X" not in text, len(text)
        record(f"300 made-up methods: /metrics {len(text)} bytes", st, s.alive())
    finally:
        s.stop()


def test_browser_reachable_requests_are_refused(index):
    s = Server(index)
    try:
        st, _, _ = s.put([doc(1)])
        assert st == 200
        st, _, _ = s.request("POST", "/admin/compact", "x", {"Content-Type": "text/plain"})
        assert st == 415
        health = s.request("GET", "/health")[1]
        assert health["generation"] == 1 and health["pending_added"] == 1
        record("cross-site text/plain POST /admin/compact", st, s.alive())
        st, _, _ = s.request("GET", "/health", headers={"Host": "evil.example:8080"})
        assert st == 403
        record("DNS rebinding (Host: evil.example)", st, s.alive())
        st, _, r = s.request("GET", "/")
        assert st == 200
        assert "frame-ancestors 'none'" in r.getheader("Content-Security-Policy")
        assert r.getheader("X-Frame-Options") == "DENY"
        assert r.getheader("X-Content-Type-Options") == "nosniff"
        record("security headers on the page", st, s.alive())
        # Two compactions at once: one runs, the other is 409 (or, if it came after,
        # a no-op).
        results = []
        ts = [threading.Thread(target=lambda: results.append(
            s.request("POST", "/admin/compact", {}, timeout=120)[:2])) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        sts = sorted(r[0] for r in results)
        assert sts in ([200, 409], [200, 200]), sts
        if sts == [200, 200]:
            assert sum(r[1]["compacted"] for r in results) == 1
        st, body, _ = s.request("POST", "/admin/compact", {})
        assert st == 200 and body["compacted"] is False
        record(f"concurrent compactions {sts}, then a no-op", st, s.alive(),
               "yes" if s.has("w-1") else "no")
    finally:
        s.stop()


def test_smaller_bounds(index):
    s = Server(index)
    try:
        st, _, _ = s.put([doc(1, blob="x" * 3_000_000)])
        assert st == 413
        record("3 MB of metadata in one document", st, s.alive())
        for name, i in [("U+200B", "a\u200bb"), ("U+202E", "a\u202eb"), ("BOM", "\ufeffab")]:
            st, _, _ = s.put([{"id": i, "text": "t"}])
            assert st == 422, (name, st)
            record(f"id with {name}", st, s.alive())
        st, body, _ = s.put([doc(2)])
        assert st == 200
        record("a plain write after all that", st, s.alive(), "yes" if s.has("w-2") else "no")
    finally:
        s.stop()


def test_zz_table(capsys):
    with capsys.disabled():
        w = max(len(r[0]) for r in ROWS)
        print(f"\n{'case'.ljust(w)}  status    alive  acked intact")
        for case, st, alive, intact in ROWS:
            print(f"{case.ljust(w)}  {st.ljust(8)}  {alive.ljust(5)}  {intact}")
        crashes = sum(r[2] != "yes" for r in ROWS)
        lost = sum(r[3] not in ("n/a", "yes") for r in ROWS)
        print(f"{len(ROWS)} cases: {crashes} crashes, {lost} with lost acknowledged writes")
    assert ROWS and crashes == 0 and lost == 0
