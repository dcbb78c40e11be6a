"""The marking page: one question at a time, keyboard first.

Prompts, answers and item texts come from the server as HTML already rendered from Markdown and
sanitised (``render.py``); the page puts nothing else in as HTML, and typesets the ``math`` elements
with the vendored KaTeX (``static/katex``; without it, the LaTeX stays as text).

Keys: j / k next / previous answer; 1-9 toggle that rubric item on the answer; Shift+1-9 that item on
the answer's group: only on the answers of the group this TA has seen (had as the current answer),
unless the TA confirms the rest in a box that says how many are unseen (a: all, s: seen only, Escape:
neither); 0 marked, no item applies (or: close the answer's open regrade); b every blank answer of the
question marked, no item; c comment (Enter saves, Escape leaves); r reopen the answer for a regrade,
with a reason (Enter saves; change its items, then 0 closes it); ] / [ next / previous question;
g first answer of the next group; n show / hide names; p the question's similar pairs, both passages
side by side (j / k, y confirm, x dismiss, p or Escape back). Rubric items: "edit" beside an item
changes its points or text, "add item" adds one; every answer with the item follows.

The answers are reloaded every 4 seconds (other TAs' marks), as are the question list's counts; a reload
that changes nothing leaves the page as it is, and none moves the scroll.
"""

PAGE = r"""<!doctype html>
<html><head><meta charset="utf-8"><title>Marking</title>
<link rel="stylesheet" href="/static/katex/katex.min.css">
<script src="/static/katex/katex.min.js"></script>
<style>
body{font-family:sans-serif;margin:0;display:flex;height:100vh}
#side{width:32%;padding:1em;background:#f6f6f6;overflow:auto;border-right:1px solid #ccc}
#main{flex:1;padding:1em;overflow:auto}
pre{white-space:pre-wrap;margin:.3em 0}
.text p{margin:.3em 0}
.answer{border:1px solid #ccc;margin:.4em 0;padding:.5em;border-radius:4px}
.answer.current{border:2px solid #1a73e8;background:#eef4ff}
.item{padding:.2em .4em;margin:.15em 0;border-radius:3px}
.item.on{background:#c8e6c9}
.item p{display:inline;margin:0}
.flag{color:#b00;font-weight:bold}.group{color:#555;font-size:90%}
.regrade{color:#8a4b00;font-weight:bold}
#status{position:fixed;bottom:0;right:0;background:#333;color:#fff;padding:.3em .8em}
#confirm{position:fixed;top:30%;left:30%;width:40%;background:#fff8e1;border:2px solid #e0a800;padding:1em;z-index:2}
textarea{width:100%;height:4em}
.pair{border:1px solid #ccc;margin:.5em 0;padding:.5em}
.pair.current{border:2px solid #1a73e8}
.passages{display:flex;gap:1em}.passage{flex:1;min-width:0;border-left:3px solid #ddd;padding-left:.5em}
</style></head>
<body>
<div id="side">
  <label>TA <input id="ta" size="10"></label>
  <select id="question"></select> <span id="progress"></span>
  <h3 id="title"></h3><div id="prompt"></div>
  <div id="items"></div>
  <div id="additem"><input id="new-points" size="3" placeholder="pts"> <input id="new-text" size="24" placeholder="new rubric item">
    <button id="add-item">add item</button></div>
  <p class="group">j/k next/previous &middot; 1-9 item &middot; Shift+1-9 item on the group (seen answers; a box asks
  about the rest) &middot; 0 no item / close regrade &middot; b blank answers &middot; c comment &middot; r regrade
  &middot; ]/[ question &middot; g next group &middot; n names &middot; p pairs</p>
</div>
<div id="main"><div id="answers"></div><div id="pairs" hidden></div></div>
<div id="confirm" hidden></div>
<div id="status">ready</div>
<script>
"use strict";
let questions = [], qIndex = 0, answers = [], current = 0, spec = null, names = false, pending = 0, saved = 0;
let editing = false, reasoning = false, asking = null, pairsOpen = false, pairs = [], pairIndex = 0, shown = "";
const seenIds = new Set();
const $ = id => document.getElementById(id);
const ta = () => $("ta").value.trim() || "TA";
function status(text) { $("status").textContent = text; }
async function api(path, body) {
  pending++; status("saving...");
  let response;
  try {
    response = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                                  body: JSON.stringify(Object.assign({ta: ta()}, body))});
  } finally { pending--; }
  if (!response.ok) { status("NOT SAVED (" + response.status + (response.status === 403 ? ": open the URL that course-utils mark printed" : "") + ")"); throw new Error("not saved"); }
  saved++; status("saved (" + saved + ")"); document.body.dataset.saved = saved;
  refreshCounts();
  return response.json();
}
function typeset(root) {  // KaTeX on the server-rendered math elements; their text is the LaTeX
  if (!window.katex) return;
  root.querySelectorAll(".math").forEach(m => {
    try { katex.render(m.textContent, m, {displayMode: m.classList.contains("block"), throwOnError: false}); } catch (e) {}
  });
}
function setHTML(node, html) { node.innerHTML = html; typeset(node); return node; }  // html: sanitised by the server
function optionText(q) { return q.title + " (" + q.marked + "/" + q.answers + ")"; }
async function loadQuestions() {
  const response = await fetch("/api/questions");
  if (!response.ok) { status("refused (" + response.status + "): " + await response.text()); return; }
  questions = await response.json();
  const select = $("question"); select.textContent = "";
  questions.forEach((q, i) => { const o = document.createElement("option"); o.value = i;
    o.textContent = optionText(q); select.appendChild(o); });
  select.value = qIndex;
}
async function refreshCounts() {  // the counts in place: the selector keeps its choice, the page its scroll
  const response = await fetch("/api/questions"); if (!response.ok) return;
  const fresh = await response.json(), options = $("question").options;
  fresh.forEach((q, i) => { if (options[i] && questions[i] && questions[i].question === q.question) {
    questions[i] = q; if (options[i].textContent !== optionText(q)) options[i].textContent = optionText(q); } });
}
let loads = 0;  // the latest load's number: an older one that answers late is not shown
async function loadAnswers(keep) {
  const q = questions[qIndex], mine = ++loads;
  const data = await (await fetch("/api/question/" + encodeURIComponent(q.question) + "?ta=" + encodeURIComponent(ta()) +
                                  (names ? "&names=1" : ""))).json();
  if (mine !== loads) return;  // "]" pressed twice, or a mark's reload overtaken: the newer load shows its question
  const same = keep && JSON.stringify(data) === shown;
  shown = JSON.stringify(data);
  if (same) return;  // the 4-second reload found nothing new: the page is left as it is
  spec = data.question; answers = data.answers;
  answers.forEach(a => { if (a.seen) seenIds.add(a.id); });
  if (!keep) current = 0;
  current = Math.max(0, Math.min(current, answers.length - 1));
  render(!keep);
  see();
}
function see() {  // the current answer is in front of the TA: a group mark may reach it
  const a = answers[current]; if (!a || seenIds.has(a.id)) return;
  seenIds.add(a.id);
  fetch("/api/seen", {method: "POST", headers: {"Content-Type": "application/json"},
                      body: JSON.stringify({ta: ta(), answers: [a.id]})});
}
function move(index) { current = Math.max(0, Math.min(index, answers.length - 1)); render(true); see(); }
function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text; return e; }
function keyOf(id) { const i = spec.items.findIndex(item => item.id === id); return i + 1; }
// an item naming {w_out} shows the current answer's own number (its variant's); numbers are escaped as text
function withValues(html, a) {
  const values = (a && a.values) || {};
  return html.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, k) => Object.prototype.hasOwnProperty.call(values, k)
    ? String(values[k]).replace(/[&<>"']/g, c => "&#" + c.charCodeAt(0) + ";") : m);
}
function renderItems() {
  const a = answers[current], items = $("items"); items.textContent = "";
  spec.items.forEach(item => {
    const on = a && a.items.includes(item.id);
    const d = el("div", "item" + (on ? " on" : ""));
    d.dataset.key = item.key; d.dataset.id = item.id;
    d.appendChild(el("span", "", "[" + item.key + "] " + (item.points > 0 ? "+" : "") + item.points + "  "));
    d.appendChild(setHTML(el("span", "itemtext"), withValues(item.html, a)));
    if (spec.editable) { const b = el("button", "edit", "edit"); b.onclick = () => editItem(d, item); d.appendChild(b); }
    items.appendChild(d);
  });
  $("additem").hidden = !spec.editable || spec.items.length >= 9;
}
function editItem(row, item) {
  row.textContent = "";
  const points = el("input", "edit-points"); points.size = 3; points.value = item.points;
  const text = el("input", "edit-text"); text.size = 30; text.value = item.text;
  const save = el("button", "save", "save");
  const go = async () => { await saveRubric({id: item.id, points: points.value, text: text.value}); };
  save.onclick = go;
  [points, text].forEach(i => i.onkeydown = e => { if (e.key === "Enter") { e.preventDefault(); go(); } });
  row.append(points, text, save); points.focus();
}
async function saveRubric(body) {
  let answer;
  try { answer = await api("/api/rubric", Object.assign({question: spec.id}, body)); }
  catch (e) { status("rubric NOT SAVED"); return; }
  document.activeElement.blur();
  status("rubric saved: every answer with the item follows");
  await loadAnswers(true);
  return answer;
}
function render(scroll) {
  const main = $("main"), top = main.scrollTop;  // rebuilding the cards must not move the page
  $("title").textContent = spec.title + " (max " + spec.max + ")";
  setHTML($("prompt"), spec.prompt_html);
  $("progress").textContent = answers.filter(a => a.marked_by).length + "/" + answers.length + " marked";
  renderItems();
  const list = $("answers"); list.textContent = "";
  answers.forEach((ans, i) => {
    const card = el("div", "answer" + (i === current ? " current" : ""));
    card.dataset.id = ans.id; card.dataset.items = ans.items.map(keyOf).filter(k => k > 0).sort((x, y) => x - y).join(",");
    card.dataset.group = ans.group; card.dataset.marked = ans.marked_by ? "1" : "0";
    card.dataset.seen = seenIds.has(ans.id) ? "1" : "0"; card.dataset.blank = ans.blank ? "1" : "0";
    const head = el("div", "group", (names ? ans.file : ans.anon) + "  |  group " + (ans.group + 1) + " (" +
      ans.group_size + (ans.blank ? ", blank" : "") + ")  |  " + ans.score + "/" + spec.max +
      (ans.marked_by ? "  |  marked by " + ans.marked_by : "  |  not marked") +
      (ans.regrades ? "  |  regraded " + ans.regrades + "x" : "") +
      (ans.variant ? "  |  variant " + ans.variant : ""));
    card.appendChild(head);
    if (ans.changed) card.appendChild(el("div", "flag", "answer changed since it was marked: check the marks (0 confirms)"));
    if (ans.gone.length) card.appendChild(el("div", "flag", ans.gone.length + " mark(s) on items no longer in the rubric"));
    if (ans.regrade) card.appendChild(el("div", "regrade", "regrade open: " + ans.regrade + " (change the items, then 0 closes it)"));
    card.appendChild(setHTML(el("div", "text"), ans.html));
    if (ans.comment) card.appendChild(el("div", "comment", "comment: " + ans.comment));
    if (i === current && editing) { const box = el("textarea"); box.id = "comment"; box.value = ans.comment;
      card.appendChild(box); }
    if (i === current && reasoning) { const box = el("textarea"); box.id = "reason"; box.placeholder = "reason for the regrade";
      card.appendChild(box); }
    card.onclick = () => { if (!editing && !reasoning) move(i); };
    list.appendChild(card);
  });
  main.scrollTop = top;
  const cur = list.children[current]; if (cur && scroll && !editing && !reasoning) cur.scrollIntoView({block: "nearest"});
  if (editing) $("comment").focus();
  if (reasoning) $("reason").focus();
}
function ask(text) {  // a box in the page; resolves to the key's choice
  const box = $("confirm"); box.textContent = text; box.hidden = false;
  return new Promise(done => { asking = choice => { box.hidden = true; asking = null; done(choice); }; });
}
function setLocal(ids, id, applied) {  // saved: the next key reads it before the reload
  for (const other of answers) if (ids.includes(other.id)) {
    other.items = other.items.filter(i => i !== id).concat(applied ? [id] : []);
  }
}
async function toggle(key, wholeGroup) {
  const a = answers[current]; if (!a || key > spec.items.length) return;
  const id = spec.items[key - 1].id, applied = !a.items.includes(id), question = spec.id;
  let body = {answers: [a.id], item: id, applied};
  if (wholeGroup) {
    const members = answers.filter(x => x.group === a.group), seenOnes = members.filter(x => seenIds.has(x.id));
    const unseen = members.length - seenOnes.length;
    body = {answers: seenOnes.map(x => x.id), item: id, applied};
    if (unseen > 0) {
      const choice = await ask("Item " + key + (applied ? " on" : " off") + " for group " + (a.group + 1) + ": " + unseen +
        " of its " + members.length + " answers you have not seen. a: all " + members.length + " (the " + unseen +
        " unseen too)  \u00b7  s: only the " + seenOnes.length + " seen  \u00b7  Escape: neither");
      if (choice === "cancel") { status("group mark cancelled"); return; }
      if (choice === "all") body = {question, group: a.group, item: id, applied, all: true};
    }
    if (!body.all && !body.answers.length) return;
  }
  const answer = await api("/api/mark", body);
  if (spec.id === question) setLocal(answer.answers, id, applied);
  if (wholeGroup) status("saved: item " + key + " on " + answer.saved + " answer(s) of group " + (a.group + 1));
  await loadAnswers(true);
}
async function zero() {
  const a = answers[current]; if (!a) return;
  if (a.regrade) {
    const answer = await api("/api/regrade", {answer: a.id, close: true});
    status("regrade closed: items " + answer.regrade.before.map(keyOf).join(",") + " -> " + answer.regrade.after.map(keyOf).join(","));
  } else await api("/api/mark", {answers: [a.id], item: -1});
  await loadAnswers(true);
}
async function showPairs() {
  pairsOpen = !pairsOpen; $("pairs").hidden = !pairsOpen; $("answers").hidden = pairsOpen;
  if (!pairsOpen) { render(true); return; }
  pairs = await (await fetch("/api/pairs?question=" + encodeURIComponent(spec.id) + (names ? "&names=1" : ""))).json();
  pairIndex = Math.min(pairIndex, Math.max(pairs.length - 1, 0));
  renderPairs();
}
function renderPairs() {
  const box = $("pairs"); box.textContent = "";
  box.appendChild(el("h3", "", "Similar pairs of " + spec.title + " (" + pairs.length + ")  \u00b7  j/k, y confirm, x dismiss, p back"));
  pairs.forEach((p, i) => {
    const row = el("div", "pair" + (i === pairIndex ? " current" : ""));
    row.dataset.id = p.id; row.dataset.verdict = p.verdict || "open";
    row.appendChild(el("div", "group", p.a + " / " + p.b + "  score " + p.score.toFixed(2) + "  " + (p.verdict || "open") + " "));
    for (const verdict of ["confirmed", "dismissed"]) {
      const b = el("button", "", verdict === "confirmed" ? "confirm" : "dismiss");
      b.onclick = () => judge(i, verdict); row.firstChild.appendChild(b);
    }
    const sides = el("div", "passages");
    for (const side of ["a", "b"]) { const pane = el("div", "passage"); pane.appendChild(el("div", "group", p[side]));
      pane.appendChild(setHTML(el("div", "text"), p["html_" + side])); sides.appendChild(pane); }
    row.appendChild(sides);
    row.onclick = () => { pairIndex = i; renderPairs(); };
    box.appendChild(row);
  });
  const cur = box.querySelectorAll(".pair")[pairIndex]; if (cur) cur.scrollIntoView({block: "nearest"});
}
async function judge(i, verdict) {
  const p = pairs[i]; if (!p) return;
  await api("/api/pair", {id: p.id, verdict}); p.verdict = verdict;
  pairIndex = Math.min(i + 1, pairs.length - 1); renderPairs();
}
document.addEventListener("keydown", async event => {
  if (asking) { event.preventDefault();
    if (event.key === "a") asking("all"); else if (event.key === "s") asking("seen"); else if (event.key === "Escape") asking("cancel");
    return; }
  if (event.target.id === "ta") { if (event.key === "Enter") event.target.blur(); return; }
  if (editing || reasoning) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault();
      const a = answers[current];
      if (editing) { const text = $("comment").value; editing = false;
        await api("/api/comment", {answer: a.id, comment: text}); }
      else { const reason = $("reason").value.trim(); if (!reason) { status("a regrade needs a reason"); return; }
        reasoning = false; await api("/api/regrade", {answer: a.id, reason}); shown = ""; }
      await loadAnswers(true); }
    else if (event.key === "Escape") { editing = reasoning = false; render(false); }
    return;
  }
  if (["INPUT", "TEXTAREA", "SELECT"].includes(event.target.tagName) && event.target.id !== "question") return;
  if (pairsOpen) {
    switch (event.key) {
      case "j": pairIndex = Math.min(pairIndex + 1, pairs.length - 1); renderPairs(); break;
      case "k": pairIndex = Math.max(pairIndex - 1, 0); renderPairs(); break;
      case "y": await judge(pairIndex, "confirmed"); break;
      case "x": await judge(pairIndex, "dismissed"); break;
      case "p": case "Escape": await showPairs(); break;
    }
    return;
  }
  const digit = /^Digit([0-9])$/.exec(event.code);
  if (digit) { event.preventDefault(); const key = Number(digit[1]);
    if (key === 0) await zero(); else await toggle(key, event.shiftKey);
    return; }
  switch (event.key) {
    case "j": case "ArrowDown": event.preventDefault(); move(current + 1); break;
    case "k": case "ArrowUp": event.preventDefault(); move(current - 1); break;
    case "g": { const g = answers[current].group; const next = answers.findIndex((a, i) => i > current && a.group !== g);
      if (next >= 0) move(next); break; }
    case "b": { const answer = await api("/api/mark", {question: spec.id, blank: true});
      status("saved: " + answer.saved + " blank answer(s) marked, no item"); await loadAnswers(true); break; }
    case "c": event.preventDefault(); editing = true; render(false); break;
    case "r": event.preventDefault(); reasoning = true; render(false); break;
    case "n": names = !names; await loadAnswers(true); break;
    case "p": await showPairs(); break;
    case "]": if (qIndex < questions.length - 1) { qIndex++; $("question").value = qIndex; await loadAnswers(false); } break;
    case "[": if (qIndex > 0) { qIndex--; $("question").value = qIndex; await loadAnswers(false); } break;
  }
});
$("question").onchange = async () => { qIndex = Number($("question").value); $("question").blur(); await loadAnswers(false); };
$("add-item").onclick = async () => {
  const answer = await saveRubric({points: $("new-points").value, text: $("new-text").value});
  if (answer) { $("new-points").value = ""; $("new-text").value = ""; }
};
$("ta").value = new URLSearchParams(location.search).get("ta") || localStorage.getItem("ta") || "";
$("ta").onchange = () => localStorage.setItem("ta", $("ta").value);
setInterval(() => { if (!editing && !reasoning && !asking && !pending && questions.length) {
  refreshCounts(); if (!pairsOpen) loadAnswers(true); } }, 4000);
(async () => { await loadQuestions(); if (questions.length) await loadAnswers(false);
  document.body.dataset.ready = "1"; status("ready"); })();
</script></body></html>
"""
