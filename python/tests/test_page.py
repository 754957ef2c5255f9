"""The search page of `seine serve` in a real browser (Debian's headless Chromium via
chromedriver): hits as the CLI ranks them, the explanation panel, the multi-hop
chain, API errors and the API key. Screenshots go to target/test-artifacts/page/."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, cli, seine_bin

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

ARTIFACTS = Path(os.environ.get("SEINE_ARTIFACTS", ROOT / "target" / "test-artifacts")) / "page"
QUERY = "white matter development in newborns"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
if not (CHROMIUM and DRIVER):
    pytest.fail("chromium and chromedriver are needed (scripts/setup-test-env.sh installs them)",
                pytrace=False)


@pytest.fixture(scope="module")
def page_index(slice_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("page") / "index"
    cli("index", slice_corpus, "--out", out, "--dense", "minilm", "--sparse", "splade-tiny",
        "--multi", "minilm")
    return out


def serve(index, *extra):
    p = subprocess.Popen([str(seine_bin()), "serve", str(index), "--addr", "127.0.0.1:0",
                          "--workers", "2", *extra], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    line = p.stdout.readline()
    assert line.startswith("listening on http://"), line
    return p, line.split()[2]


@pytest.fixture(scope="module")
def server(page_index):
    p, url = serve(page_index)
    yield url
    p.terminate()
    p.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,1100"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(DRIVER), options=opts)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield d
    d.quit()


def run_search(d, url, query=QUERY, retriever=None, rerank=None, hops=None, k=None):
    d.get(url + "/")
    wait = WebDriverWait(d, 60)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#retriever option"))
    if retriever:
        Select(d.find_element(By.ID, "retriever")).select_by_value(retriever)
    if rerank:
        Select(d.find_element(By.ID, "rerank")).select_by_value(rerank)
    if hops:
        Select(d.find_element(By.ID, "hops")).select_by_value(str(hops))
    if k is not None:
        box = d.find_element(By.ID, "k")
        box.clear()
        box.send_keys(str(k))
    q = d.find_element(By.ID, "q")
    q.clear()
    q.send_keys(query, Keys.ENTER)
    wait.until(lambda d: "hits ·" in d.find_element(By.ID, "status").text
               or d.find_element(By.ID, "error").is_displayed())


def hit_ids(d):
    return [h.get_attribute("data-id") for h in d.find_elements(By.CSS_SELECTOR, "li.hit")]


def test_hits_and_explanation_match_the_cli(server, page_index, browser):
    run_search(browser, server, retriever="bm25+dense+splade")
    out = json.loads(cli("search", page_index, QUERY, "-k", "10", "--retriever",
                         "bm25+dense+splade", "--json", "--explain"))
    assert hit_ids(browser) == [h["id"] for h in out["hits"]]
    first = browser.find_element(By.CSS_SELECTOR, "li.hit")
    assert "white" in first.find_element(By.CSS_SELECTOR, ".snippet mark").text.lower()
    first.find_element(By.CSS_SELECTOR, "summary").click()
    rows = first.find_elements(By.CSS_SELECTOR, "table.sources tbody tr")
    got = [[c.text for c in r.find_elements(By.TAG_NAME, "td")][:2] for r in rows]
    want = [[s["retriever"], str(s["rank"])] for s in out["hits"][0]["sources"]]
    assert got == want
    terms = first.find_elements(By.CSS_SELECTOR, "table.splade tbody tr")
    assert terms, "the SPLADE terms behind the score are shown"
    cli_terms = [t["term"] for t in out["hits"][0]["splade_terms"]][: len(terms)]
    assert [r.find_element(By.TAG_NAME, "td").text for r in terms] == cli_terms
    browser.save_screenshot(str(ARTIFACTS / "fusion-explain.png"))


def test_rerank_heat_strip(server, page_index, browser):
    run_search(browser, server, retriever="bm25+dense", rerank="maxsim")
    out = json.loads(cli("search", page_index, QUERY, "-k", "10", "--retriever", "bm25+dense",
                         "--rerank", "maxsim", "--json", "--explain"))
    assert hit_ids(browser) == [h["id"] for h in out["hits"]]
    first = browser.find_element(By.CSS_SELECTOR, "li.hit")
    first.find_element(By.CSS_SELECTOR, "summary").click()
    cells = first.find_elements(By.CSS_SELECTOR, ".heat span")
    want = out["hits"][0]["token_maxima"]
    assert [c.text for c in cells] == [t["token"] for t in want]
    assert [float(c.get_attribute("data-max")) for c in cells] == pytest.approx(
        [t["max_similarity"] for t in want], abs=1e-4)
    browser.save_screenshot(str(ARTIFACTS / "rerank-heat.png"))


def test_multihop_chain(server, page_index, browser):
    run_search(browser, server, retriever="bm25", hops=2)
    out = json.loads(cli("search", page_index, QUERY, "-k", "10", "--retriever", "bm25",
                         "--hops", "2", "--json"))
    assert hit_ids(browser) == [h["id"] for h in out["hits"]]
    hops = browser.find_elements(By.CSS_SELECTOR, "#chain .hop")
    assert len(hops) == len(out["hops"]) >= 1
    for shown, want in zip(hops, out["hops"]):
        assert shown.find_element(By.CSS_SELECTOR, ".hq").text == want["query"]
        assert shown.find_element(By.CSS_SELECTOR, ".picks").text == (
            ", ".join(want["picks"]) or "none")
        assert len(shown.find_elements(By.CSS_SELECTOR, ".fact")) == len(want["facts"])
    browser.save_screenshot(str(ARTIFACTS / "multihop.png"))


def test_api_errors_are_shown(server, browser):
    run_search(browser, server, k=5000)
    err = browser.find_element(By.ID, "error")
    assert err.is_displayed()
    assert "HTTP 422" in err.text and "k must be within 1..=1000" in err.text
    assert hit_ids(browser) == []
    browser.save_screenshot(str(ARTIFACTS / "error.png"))


def test_narrow_window_and_keyboard(server, browser):
    browser.set_window_size(420, 900)
    try:
        run_search(browser, server)
        assert len(hit_ids(browser)) == 10
        body = browser.find_element(By.TAG_NAME, "body")
        assert body.size["width"] <= 420, "no horizontal overflow"
        browser.find_element(By.ID, "status").click()
        body.send_keys("/")
        assert browser.switch_to.active_element.get_attribute("id") == "q"
        browser.save_screenshot(str(ARTIFACTS / "narrow.png"))
    finally:
        browser.set_window_size(1280, 1100)


def test_api_key_entry(page_index, browser, tmp_path):
    # A second server needs an index of its own: one writer per index.
    copy = tmp_path / "index"
    shutil.copytree(page_index, copy, ignore=shutil.ignore_patterns("write.lock"))
    p, url = serve(copy, "--api-key", "s3cret")
    try:
        browser.get(url + "/")
        browser.execute_script("localStorage.clear()")
        run_search(browser, url)
        assert "HTTP 401" in browser.find_element(By.ID, "error").text
        assert browser.find_element(By.ID, "key-row").is_displayed()
        browser.find_element(By.ID, "key").send_keys("s3cret")
        browser.find_element(By.ID, "save-key").click()
        WebDriverWait(browser, 60).until(lambda d: len(hit_ids(d)) == 10)
        assert not browser.find_element(By.ID, "error").is_displayed()
        browser.save_screenshot(str(ARTIFACTS / "api-key.png"))
    finally:
        browser.execute_script("localStorage.clear()")
        p.terminate()
        p.wait(timeout=30)


def test_metadata_filter(slice_corpus, tmp_path_factory, browser):
    tmp = tmp_path_factory.mktemp("page-filter")
    corpus = tmp / "corpus.jsonl"
    with open(slice_corpus) as f, open(corpus, "w") as w:
        for line in f:
            d = json.loads(line)
            d["year"] = 2000 + int(d["_id"]) % 20
            w.write(json.dumps(d) + "\n")
    index = tmp / "index"
    cli("index", corpus, "--out", index, "--fields", "year:integer")
    p, url = serve(index)
    try:
        browser.get(url + "/")
        WebDriverWait(browser, 60).until(lambda d: d.find_element(By.ID, "filter-row").is_displayed())
        assert "year:integer" in browser.find_element(By.ID, "filter-fields").text
        browser.find_element(By.ID, "filter").send_keys("year >= 2015")
        browser.find_element(By.ID, "q").send_keys(QUERY, Keys.ENTER)
        WebDriverWait(browser, 60).until(lambda d: "hits ·" in d.find_element(By.ID, "status").text)
        out = json.loads(cli("search", index, QUERY, "-k", "10", "--filter", "year >= 2015",
                             "--json"))
        assert hit_ids(browser) == [h["id"] for h in out["hits"]]
        metas = [m.text for m in browser.find_elements(By.CSS_SELECTOR, "li.hit .meta")]
        assert metas and all(int(m.split("year: ")[1][:4]) >= 2015 for m in metas), metas
        browser.save_screenshot(str(ARTIFACTS / "filter.png"))
        box = browser.find_element(By.ID, "filter")
        box.clear()
        box.send_keys("yeer >= 2015", Keys.ENTER)
        WebDriverWait(browser, 60).until(lambda d: d.find_element(By.ID, "error").is_displayed())
        err = browser.find_element(By.ID, "error").text
        assert "HTTP 422" in err and 'unknown field "yeer"' in err, err
    finally:
        p.terminate()
        p.wait(timeout=30)
