// The search page of `seine serve`: plain DOM code, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
let info = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

function apiKey() { return localStorage.getItem("seine-key") || ""; }

function headers() {
  const h = { "Content-Type": "application/json" };
  if (apiKey()) h["Authorization"] = "Bearer " + apiKey();
  return h;
}

function showError(msg) {
  const e = $("error");
  e.textContent = msg;
  e.hidden = !msg;
}

async function loadInfo() {
  const r = await fetch("/info");
  if (!r.ok) { showError("cannot read /info: HTTP " + r.status); return; }
  info = await r.json();
  const sel = $("retriever");
  sel.replaceChildren();
  const first = info.retrievers.filter((x) => x !== "maxsim");
  const options = [...info.retrievers];
  if (first.length > 1) {
    for (const x of first.slice(1)) if (first[0] === "bm25") options.push("bm25+" + x);
    if (first.length > 2) options.push(first.join("+"));
  }
  for (const o of options) sel.append(el("option", { value: o }, o));
  $("rerank").disabled = !info.rerank;
  $("index-info").textContent = `${info.documents} documents · ${info.retrievers.join(", ")}` +
    (info.rerank ? " · late-interaction rerank" : "");
  $("key-row").hidden = !(info.search_needs_key && !apiKey());
  const fields = info.fields || [];
  $("filter-row").hidden = fields.length === 0;
  $("filter-fields").textContent = fields.length ? "fields: " + fields.join(", ") : "";
}

function params() {
  return {
    q: $("q").value.trim(), retriever: $("retriever").value, fusion: $("fusion").value,
    rerank: $("rerank").value, hops: $("hops").value, k: $("k").value,
    filter: $("filter").value.trim(),
  };
}

function fromUrl() {
  const u = new URLSearchParams(location.search);
  for (const name of ["q", "retriever", "fusion", "rerank", "hops", "k", "filter"]) {
    if (u.has(name)) $(name).value = u.get(name);
  }
  return u.has("q") && u.get("q").trim() !== "";
}

// Query words (lowercase, 3+ characters) for highlighting.
function queryWords(q) {
  return [...new Set(q.toLowerCase().match(/[\p{L}\p{N}]{3,}/gu) || [])];
}

// `text` with the query words wrapped in <mark>, as DOM nodes.
function highlight(text, words) {
  const out = document.createDocumentFragment();
  if (!words.length) { out.append(text); return out; }
  const esc = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const re = new RegExp("(" + esc.join("|") + ")", "giu");
  let last = 0;
  for (const m of text.matchAll(re)) {
    out.append(text.slice(last, m.index), el("mark", {}, m[0]));
    last = m.index + m[0].length;
  }
  out.append(text.slice(last));
  return out;
}

function snippet(text, words, size = 320) {
  if (!text) return "";
  const lower = text.toLowerCase();
  let at = -1;
  for (const w of words) { const i = lower.indexOf(w); if (i >= 0 && (at < 0 || i < at)) at = i; }
  const start = Math.max(0, at - 80);
  const s = text.slice(start, start + size);
  return (start > 0 ? "…" : "") + s + (start + size < text.length ? "…" : "");
}

function table(cls, head, rows) {
  return el("table", { class: cls },
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c))))));
}

function heatStrip(tokens, maxima) {
  const lo = Math.min(...maxima), hi = Math.max(...maxima);
  const strip = el("div", { class: "heat", "aria-label": "MaxSim per query token" });
  tokens.forEach((t, i) => {
    const v = maxima[i];
    const a = hi > lo ? (v - lo) / (hi - lo) : 1;
    const s = el("span", { title: `${t}: ${v.toFixed(3)}`, "data-max": v.toFixed(4) }, t);
    s.style.background = `rgba(36, 87, 197, ${(0.1 + 0.8 * a).toFixed(2)})`;
    s.style.color = a > 0.55 ? "#fff" : "#1d2330";
    strip.append(s);
  });
  return strip;
}

function explanation(h, resp) {
  const d = el("details", { class: "why" }, el("summary", {}, "Why this rank"));
  if (h.sources && h.sources.length) {
    d.append(table("sources", ["Retriever", "Rank", "Score"],
      h.sources.map((s) => [s.retriever, s.rank, s.score.toFixed(4)])));
  }
  if (h.splade_terms && h.splade_terms.length) {
    d.append(el("div", {}, "SPLADE terms behind the score"),
      table("splade", ["Term", "Query weight", "Doc weight", "Contribution"],
        h.splade_terms.slice(0, 12).map((t) =>
          [t.term, t.query_weight.toFixed(3), t.doc_weight.toFixed(3), t.contribution.toFixed(3)])));
  }
  if (h.token_maxima && resp.query_tokens && resp.query_tokens.length === h.token_maxima.length) {
    d.append(el("div", {}, "MaxSim: each query token's best match in this document"),
      heatStrip(resp.query_tokens, h.token_maxima));
  }
  if (d.children.length === 1) d.append(el("div", {}, "Single retriever: its own score and rank."));
  return d;
}

function renderChain(chain) {
  const c = $("chain");
  c.replaceChildren(el("h2", {}, "Multi-hop chain"));
  chain.forEach((hop, i) => {
    c.append(el("div", { class: "hop", "data-hop": i + 1 },
      el("strong", {}, `Hop ${i + 1}`),
      el("div", { class: "hq" }, hop.query),
      el("div", {}, "Picks: ", el("span", { class: "picks" }, hop.picks.join(", ") || "none")),
      el("ul", { class: "facts" }, ...hop.facts.map((f) =>
        el("li", { class: "fact" }, el("em", {}, f.title || f.id), ": ", f.text,
          ` (${f.score.toFixed(3)})`)))));
  });
  c.hidden = false;
}

function render(resp, words) {
  const list = $("hits");
  list.replaceChildren();
  for (const h of resp.hits) {
    list.append(el("li", { class: "hit", "data-id": h.id },
      el("div", { class: "head" },
        el("span", { class: "rank" }, h.rank + "."),
        el("span", { class: "title" }, highlight(h.title || h.id, words)),
        el("span", { class: "id" }, h.id),
        el("span", { class: "score" }, h.score.toFixed(4))),
      el("div", { class: "snippet" }, highlight(snippet(h.text || "", words), words)),
      h.metadata && Object.keys(h.metadata).length
        ? el("div", { class: "meta" }, Object.entries(h.metadata)
          .map(([k, v]) => `${k}: ${v}`).join(" · "))
        : null,
      explanation(h, resp)));
  }
  if (resp.chain) renderChain(resp.chain); else $("chain").hidden = true;
}

async function search() {
  const p = params();
  if (!p.q) return;
  history.replaceState(null, "", "?" + new URLSearchParams(p).toString());
  const body = { query: p.q, k: Number(p.k), explain: true };
  if (p.retriever) body.retriever = p.retriever;
  if (p.retriever.includes("+")) body.fusion = p.fusion;
  if (p.rerank) body.rerank = p.rerank;
  if (p.hops) body.hops = Number(p.hops);
  if (p.filter) body.filter = p.filter;
  showError("");
  $("status").textContent = "Searching…";
  const t0 = performance.now();
  let r;
  try {
    r = await fetch("/search", { method: "POST", headers: headers(), body: JSON.stringify(body) });
  } catch (e) {
    $("status").textContent = "";
    showError("the server cannot be reached: " + e);
    return;
  }
  const resp = await r.json().catch(() => null);
  if (!r.ok) {
    $("status").textContent = "";
    $("hits").replaceChildren();
    $("chain").hidden = true;
    const msg = resp && resp.error ? `${resp.error_type}: ${resp.error}` : "no details";
    showError(`Search failed (HTTP ${r.status}) — ${msg}`);
    if (r.status === 401) $("key-row").hidden = false;
    return;
  }
  const ms = (performance.now() - t0).toFixed(0);
  $("status").textContent = `${resp.hits.length} hits · ${resp.retriever} · ${ms} ms`;
  render(resp, queryWords(p.q));
}

$("search").addEventListener("submit", (e) => { e.preventDefault(); search(); });
$("save-key").addEventListener("click", () => {
  localStorage.setItem("seine-key", $("key").value.trim());
  $("key-row").hidden = true;
  search();
});
document.addEventListener("keydown", (e) => {
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
  if (e.key === "/" && !typing) { e.preventDefault(); $("q").focus(); }
});

loadInfo().then(() => { if (fromUrl()) search(); });
