// The ragfusion web page: chat with streamed, cited answers; citations open the exact
// passage; a provenance panel shows how the fused ranking came about; document upload.
// Plain JavaScript, no build step, nothing loaded from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { conversation: null, busy: false, docs: new Map() };

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function apiKey() { return localStorage.getItem("ragfusion-key") || ""; }

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (apiKey()) headers.Authorization = "Bearer " + apiKey();
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401) {
    $("key-box").hidden = false;
    throw new Error("This server needs an API key: enter it at the top right.");
  }
  return response;
}

async function errorText(response) {
  try {
    const body = await response.json();
    return body.error ? body.error.message : response.statusText;
  } catch (_) { return response.status + " " + response.statusText; }
}

// Server-Sent Events over a POST (EventSource only does GET).
async function* sseEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

// Answer text with [n] markers turned into buttons that open the cited passage.
function renderAnswer(node, text, turn) {
  node.replaceChildren();
  const parts = text.split(/(\[\d+\])/);
  for (const part of parts) {
    const match = part.match(/^\[(\d+)\]$/);
    if (match) {
      const n = Number(match[1]);
      node.append(el("button", {
        class: "cite", type: "button", title: "Open the cited passage",
        "data-n": String(n), onclick: () => openCitation(turn, n),
      }, "[" + n + "]"));
    } else {
      node.append(part);
    }
  }
}

// A finished answer: each sentence is clickable and opens the exact span of its source;
// sentences that were replaced by quoted evidence, or that nothing backs, say so.
const SENTENCE_LABELS = {
  quoted: "quoted from the source",
  checked: "checked against its passage",
  replaced: "replaced by the quoted evidence",
  unverified: "not backed by a passage",
};

function renderSupported(node, text, turn) {
  const sentences = (turn.sentences || []).filter((s) => s.end > s.start);
  if (!sentences.length) { renderAnswer(node, text, turn); return; }
  node.replaceChildren();
  let cursor = 0;
  sentences.forEach((support, i) => {
    if (support.start > cursor) appendMarked(node, text.slice(cursor, support.start), turn);
    const label = SENTENCE_LABELS[support.status] || support.status;
    const span = el("span", {
      class: "sentence " + support.status, tabindex: "0", role: "button",
      "data-index": String(i), "data-status": support.status,
      title: label + (support.note ? ": " + support.note : ""),
    });
    appendMarked(span, text.slice(support.start, support.end), turn);
    const open = () => openSpan(support, label);
    span.addEventListener("click", (event) => { if (event.target === span) open(); });
    span.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
    node.append(span);
    if (support.status === "replaced" || support.status === "unverified") {
      node.append(el("span", { class: "flag " + support.status }, " (" + label + ")"));
    }
    cursor = support.end;
  });
  appendMarked(node, text.slice(cursor), turn);
}

function appendMarked(node, text, turn) {
  const holder = el("span");
  renderAnswer(holder, text, turn);
  node.append(...holder.childNodes);
}

async function openSpan(support, label) {
  if (support.doc_id == null || support.source_start == null) {
    showTab("passage");
    $("passage-meta").textContent = "This sentence is " + label + ".";
    $("passage").replaceChildren();
    return;
  }
  await showSpan({ doc_id: support.doc_id, start: support.source_start, end: support.source_end },
                 "Sentence " + label);
}

function citationFor(turn, n) {
  const cited = (turn.citations || []).find((c) => c.n === n);
  if (cited) return cited;
  const hit = (turn.hits || [])[n - 1];  // while streaming, [n] is the n-th passage
  return hit && { n, doc_id: hit.doc_id, source: hit.source, heading: hit.heading,
                  start: hit.start, end: hit.end };
}

async function openCitation(turn, n) {
  showTab("passage");
  const citation = citationFor(turn, n);
  if (!citation) { $("passage-meta").textContent = "Citation [" + n + "] is not known."; return; }
  await showSpan(citation, "[" + n + "] " + citation.source +
    (citation.heading ? " — " + citation.heading : ""));
}

// Show characters start..end of a document, highlighted, with some text around them.
async function showSpan(citation, title) {
  showTab("passage");
  const meta = $("passage-meta");
  const passage = $("passage");
  meta.textContent = title + " (characters " + citation.start + "–" + citation.end + ")";
  try {
    let doc = state.docs.get(citation.doc_id);
    if (!doc) {
      const response = await api("/v1/documents/" + encodeURIComponent(citation.doc_id));
      if (!response.ok) throw new Error(await errorText(response));
      doc = await response.json();
      state.docs.set(citation.doc_id, doc);
    }
    const text = doc.text;
    const from = Math.max(0, citation.start - 800);
    const to = Math.min(text.length, citation.end + 800);
    const mark = el("mark", { id: "cited-span" }, text.slice(citation.start, citation.end));
    passage.replaceChildren(
      (from > 0 ? "…" : "") + text.slice(from, citation.start), mark,
      text.slice(citation.end, to) + (to < text.length ? "…" : ""));
    mark.scrollIntoView({ block: "center" });
  } catch (error) {
    passage.textContent = String(error.message || error);
  }
}

function renderProvenance(turn) {
  const box = $("provenance");
  box.replaceChildren();
  if (turn.standalone && turn.standalone !== turn.message) {
    box.append(el("p", {}, "Follow-up searched as: ", el("strong", {}, turn.standalone)));
  }
  const variants = el("p", {}, "Query variants: ");
  (turn.queries || []).forEach((q, i) => variants.append(el("span", { class: "variant" }, "Q" + (i + 1) + " " + q)));
  box.append(variants);
  const table = el("table", {},
    el("tr", {}, el("th", {}, "#"), el("th", {}, "passage"), el("th", {}, "fused"), el("th", {}, "came from")));
  for (const hit of turn.hits || []) {
    const from = hit.provenance.map((p) => {
      const q = (turn.queries || []).indexOf(p.query);
      const label = q >= 0 ? "Q" + (q + 1) : p.query.slice(0, 30);
      return p.retriever + " " + label + " #" + p.rank;
    }).join(", ");
    const name = hit.source.split(/[\\/]/).pop() + (hit.heading ? " — " + hit.heading : "");
    table.append(el("tr", {}, el("td", {}, String(hit.rank)), el("td", {}, name),
      el("td", {}, hit.score.toFixed(3)), el("td", {}, from)));
  }
  box.append(table);
}

async function ask(event) {
  event.preventDefault();
  const message = $("question").value.trim();
  if (!message || state.busy) return;
  state.busy = true;
  $("ask-button").disabled = true;
  $("question").value = "";
  $("thread").append(el("div", { class: "msg user" }, message));
  const body = el("div", { class: "answer" });
  const meta = el("div", { class: "meta" });
  const bubble = el("div", { class: "msg bot", "aria-live": "polite" }, body, meta);
  $("thread").append(bubble);
  const turn = { message, text: "", hits: [], citations: [], queries: [] };
  try {
    const response = await api("/v1/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ message, conversation_id: state.conversation, stream: true,
                             mode: $("mode").value }),
    });
    if (!response.ok) throw new Error(await errorText(response));
    for await (const { event, data } of sseEvents(response)) {
      if (event === "conversation") {
        state.conversation = data.id;
        turn.standalone = data.standalone;
      } else if (event === "queries") {
        turn.queries = data;
      } else if (event === "hits") {
        turn.hits = data;
        renderProvenance(turn);
      } else if (event === "token") {
        turn.text += data;
        renderAnswer(body, turn.text, turn);
      } else if (event === "replace") {
        turn.text = data;
        renderAnswer(body, turn.text, turn);
      } else if (event === "citations") {
        turn.citations = data;
      } else if (event === "done") {
        turn.citations = data.citations;
        turn.sentences = data.sentences;
        turn.text = data.answer;
        renderSupported(body, turn.text, turn);
        const notes = [data.mode + " answer", Math.round(data.timings_ms.total_ms) + " ms"];
        if (data.degraded) notes.push("degraded");
        meta.textContent = notes.join(" · ") + (data.warnings.length ? " — " + data.warnings.join("; ") : "");
        bubble.dataset.done = "true";
      } else if (event === "error") {
        throw new Error(data.message);
      }
      $("thread").scrollTop = $("thread").scrollHeight;
    }
  } catch (error) {
    bubble.classList.add("error");
    body.textContent = String(error.message || error);
  } finally {
    state.busy = false;
    $("ask-button").disabled = false;
  }
}

function showTab(name) {
  for (const button of document.querySelectorAll("nav button")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === name));
  }
  for (const tab of document.querySelectorAll(".tab")) tab.hidden = tab.id !== "tab-" + name;
  if (name === "documents") loadDocuments();
}

async function loadDocuments() {
  const list = $("documents");
  try {
    const response = await api("/v1/documents");
    if (!response.ok) throw new Error(await errorText(response));
    const { documents } = await response.json();
    list.replaceChildren(...documents.map((d) => el("li", {},
      d.source.split(/[\\/]/).pop() + " (" + d.file_type + ", " + d.chunks + " chunks)",
      el("button", { type: "button", onclick: () => removeDocument(d) }, "delete"))));
    $("status").textContent = documents.length + " documents";
  } catch (error) {
    list.replaceChildren(el("li", {}, String(error.message || error)));
  }
}

async function removeDocument(doc) {
  if (!confirm("Remove " + doc.source + " from the index?")) return;
  const response = await api("/v1/documents/" + encodeURIComponent(doc.doc_id), { method: "DELETE" });
  if (!response.ok) alert(await errorText(response));
  state.docs.delete(doc.doc_id);
  loadDocuments();
}

function upload(event) {
  event.preventDefault();
  const files = $("files").files;
  if (!files.length) return;
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  const bar = $("upload-progress");
  const status = $("upload-status");
  bar.hidden = false;
  bar.value = 0;
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/v1/documents");
  if (apiKey()) xhr.setRequestHeader("Authorization", "Bearer " + apiKey());
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = (50 * e.loaded) / e.total; };
  xhr.onload = () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (_) { /* reported below */ }
    if (xhr.status !== 202) {
      status.textContent = body.error ? body.error.message : "Upload failed (" + xhr.status + ")";
      bar.hidden = true;
      return;
    }
    pollJob(body.id);
  };
  xhr.onerror = () => { status.textContent = "Upload failed: the server could not be reached"; };
  status.textContent = "Uploading…";
  xhr.send(form);
}

async function pollJob(id) {
  const bar = $("upload-progress");
  const status = $("upload-status");
  const response = await api("/v1/jobs/" + id);
  const job = await response.json();
  bar.value = 50 + (50 * job.files_done) / Math.max(1, job.files_total);
  if (job.status === "queued" || job.status === "running") {
    status.textContent = "Ingesting " + job.files_done + "/" + job.files_total + " " + job.current;
    setTimeout(() => pollJob(id), 400);
    return;
  }
  if (job.status === "failed") {
    status.textContent = "Ingest failed: " + job.error;
  } else {
    const skipped = job.report.skipped.map((s) => s.path.split(/[\\/]/).pop() + ": " + s.reason);
    status.textContent = "Done: " + job.report.added + " added, " + job.report.updated +
      " updated, " + job.report.chunks_added + " chunks" +
      (skipped.length ? ". Skipped — " + skipped.join("; ") : "");
  }
  state.docs.clear();
  loadDocuments();
}

async function health() {
  try {
    const response = await fetch("/healthz");
    const body = await response.json();
    $("status").textContent = body.documents + " documents · " + body.chunks + " chunks";
  } catch (_) {
    $("status").textContent = "server unreachable";
  }
}

$("ask-form").addEventListener("submit", ask);
$("question").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("ask-form").requestSubmit(); }
});
$("new-chat").addEventListener("click", () => {
  state.conversation = null;
  $("thread").replaceChildren();
  $("provenance").replaceChildren();
});
$("upload-form").addEventListener("submit", upload);
$("api-key").addEventListener("change", (e) => localStorage.setItem("ragfusion-key", e.target.value));
for (const button of document.querySelectorAll("nav button")) {
  button.addEventListener("click", () => showTab(button.dataset.tab));
}
health();
