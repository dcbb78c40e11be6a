"""The marking page: one question at a time, keyboard first. Answers are put in the page as text
(``textContent``), never as HTML, so an answer holding ``<script>`` is shown, not run.

Keys: j / k next / previous answer; 1-9 toggle that rubric item on the answer; Shift+1-9 apply (or
take off) that item on the answer's whole group; 0 marked, no item applies; c comment (Enter saves,
Escape leaves); ] / [ next / previous question; g first answer of the next group; n show / hide names;
p similar pairs.
"""

PAGE = r"""<!doctype html>
<html><head><meta charset="utf-8"><title>Marking</title>
<style>
body{font-family:sans-serif;margin:0;display:flex;height:100vh}
#side{width:32%;padding:1em;background:#f6f6f6;overflow:auto;border-right:1px solid #ccc}
#main{flex:1;padding:1em;overflow:auto}
pre{white-space:pre-wrap;margin:.3em 0}
.answer{border:1px solid #ccc;margin:.4em 0;padding:.5em;border-radius:4px}
.answer.current{border:2px solid #1a73e8;background:#eef4ff}
.item{padding:.2em .4em;margin:.15em 0;border-radius:3px}
.item.on{background:#c8e6c9}
.flag{color:#b00;font-weight:bold}.group{color:#555;font-size:90%}
#status{position:fixed;bottom:0;right:0;background:#333;color:#fff;padding:.3em .8em}
textarea{width:100%;height:4em}
</style></head>
<body>
<div id="side">
  <label>TA <input id="ta" size="10"></label>
  <select id="question"></select> <span id="progress"></span>
  <h3 id="title"></h3><pre id="prompt"></pre>
  <div id="items"></div>
  <p class="group">j/k next/previous &middot; 1-9 item &middot; Shift+1-9 item on the whole group &middot; 0 no item
  &middot; c comment &middot; ]/[ question &middot; g next group &middot; n names &middot; p pairs</p>
  <div id="pairs" hidden></div>
</div>
<div id="main"><div id="answers"></div></div>
<div id="status">ready</div>
<script>
"use strict";
let questions = [], qIndex = 0, answers = [], current = 0, spec = null, names = false, pending = 0, saved = 0;
const $ = id => document.getElementById(id);
const ta = () => $("ta").value.trim() || "TA";
function status(text) { $("status").textContent = text; }
async function api(path, body) {
  pending++; status("saving...");
  const response = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                                       body: JSON.stringify(Object.assign({ta: ta()}, body))});
  pending--;
  if (!response.ok) { status("NOT SAVED (" + response.status + (response.status === 403 ? ": open the URL that course-utils mark printed" : "") + ")"); throw new Error("not saved"); }
  saved++; status("saved (" + saved + ")"); document.body.dataset.saved = saved;
  return response.json();
}
async function loadQuestions() {
  const response = await fetch("/api/questions");
  if (!response.ok) { status("refused (" + response.status + "): " + await response.text()); return; }
  questions = await response.json();
  const select = $("question"); select.textContent = "";
  questions.forEach((q, i) => { const o = document.createElement("option"); o.value = i;
    o.textContent = q.title + " (" + q.marked + "/" + q.answers + ")"; select.appendChild(o); });
  select.value = qIndex;
}
let loads = 0;  // the latest load's number: an older one that answers late is not shown
async function loadAnswers(keep) {
  const q = questions[qIndex], mine = ++loads;
  const data = await (await fetch("/api/question/" + encodeURIComponent(q.question) + (names ? "?names=1" : ""))).json();
  if (mine !== loads) return;  // "]" pressed twice, or a mark's reload overtaken: the newer load shows its question
  spec = data.question; answers = data.answers;
  if (!keep) current = 0;
  current = Math.min(current, answers.length - 1);
  render();
}
function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text; return e; }
function render() {
  $("title").textContent = spec.title + " (max " + spec.max + ")";
  $("prompt").textContent = spec.prompt;
  $("progress").textContent = answers.filter(a => a.marked_by).length + "/" + answers.length + " marked";
  const a = answers[current];
  const items = $("items"); items.textContent = "";
  spec.items.forEach(item => {
    const on = a && a.items.includes(item.key - 1);
    const d = el("div", "item" + (on ? " on" : ""), "[" + item.key + "] " + (item.points > 0 ? "+" : "") + item.points + "  " + item.text);
    d.dataset.key = item.key; items.appendChild(d);
  });
  const list = $("answers"); list.textContent = "";
  answers.forEach((ans, i) => {
    const card = el("div", "answer" + (i === current ? " current" : ""));
    card.dataset.id = ans.id; card.dataset.items = ans.items.map(x => x + 1).join(",");
    card.dataset.group = ans.group; card.dataset.marked = ans.marked_by ? "1" : "0";
    const head = el("div", "group", (names ? ans.file : ans.anon) + "  |  group " + (ans.group + 1) + " (" +
      ans.group_size + (ans.blank ? ", blank" : "") + ")  |  " + ans.score + "/" + spec.max +
      (ans.marked_by ? "  |  marked by " + ans.marked_by : "  |  not marked"));
    card.appendChild(head);
    if (ans.changed) card.appendChild(el("div", "flag", "answer changed since it was marked: check the marks (0 confirms)"));
    card.appendChild(el("pre", "text", ans.text));
    if (ans.comment) card.appendChild(el("div", "comment", "comment: " + ans.comment));
    if (i === current && editing) { const box = el("textarea"); box.id = "comment"; box.value = ans.comment;
      card.appendChild(box); }
    card.onclick = () => { current = i; render(); };
    list.appendChild(card);
  });
  const cur = list.children[current]; if (cur && !editing) cur.scrollIntoView({block: "nearest"});
  if (editing) $("comment").focus();
}
let editing = false;
async function toggle(key, wholeGroup) {
  const a = answers[current]; if (!a || key > spec.items.length) return;
  const applied = !a.items.includes(key - 1), question = spec.id;
  const body = wholeGroup ? {question, group: a.group, item: key - 1, applied}
                          : {answers: [a.id], item: key - 1, applied};
  await api("/api/mark", body);
  for (const other of spec.id === question ? answers : []) {  // saved: the next key reads it before the reload
    if (wholeGroup ? other.group === a.group : other.id === a.id) {
      other.items = other.items.filter(i => i !== key - 1).concat(applied ? [key - 1] : []);
    }
  }
  await loadAnswers(true);
}
async function showPairs() {
  const box = $("pairs"); box.hidden = !box.hidden; if (box.hidden) return;
  const pairs = await (await fetch("/api/pairs" + (names ? "?names=1" : ""))).json();
  box.textContent = "";
  box.appendChild(el("h3", "", "Similar pairs (" + pairs.length + ")"));
  pairs.forEach(p => {
    const row = el("div", "pair", p.a + " / " + p.b + "  " + p.part + " " + p.question + "  " + p.score.toFixed(2) + "  " + (p.verdict || "open") + " ");
    row.dataset.id = p.id;
    for (const verdict of ["confirmed", "dismissed"]) {
      const b = el("button", "", verdict === "confirmed" ? "confirm" : "dismiss");
      b.onclick = async () => { await api("/api/pair", {id: p.id, verdict}); box.hidden = true; showPairs(); };
      row.appendChild(b);
    }
    box.appendChild(row);
  });
}
document.addEventListener("keydown", async event => {
  if (event.target.id === "ta") { if (event.key === "Enter") event.target.blur(); return; }
  if (editing) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); const text = $("comment").value;
      editing = false; await api("/api/comment", {answer: answers[current].id, comment: text}); await loadAnswers(true); }
    else if (event.key === "Escape") { editing = false; render(); }
    return;
  }
  const digit = /^Digit([0-9])$/.exec(event.code);
  if (digit) { event.preventDefault(); const key = Number(digit[1]);
    if (key === 0) { await api("/api/mark", {answers: [answers[current].id], item: -1}); await loadAnswers(true); }
    else await toggle(key, event.shiftKey);
    return; }
  switch (event.key) {
    case "j": case "ArrowDown": current = Math.min(current + 1, answers.length - 1); render(); break;
    case "k": case "ArrowUp": current = Math.max(current - 1, 0); render(); break;
    case "g": { const g = answers[current].group; const next = answers.findIndex((a, i) => i > current && a.group !== g);
      if (next >= 0) { current = next; render(); } break; }
    case "c": event.preventDefault(); editing = true; render(); break;
    case "n": names = !names; await loadAnswers(true); break;
    case "p": await showPairs(); break;
    case "]": if (qIndex < questions.length - 1) { qIndex++; $("question").value = qIndex; await loadAnswers(false); } break;
    case "[": if (qIndex > 0) { qIndex--; $("question").value = qIndex; await loadAnswers(false); } break;
  }
});
$("question").onchange = async () => { qIndex = Number($("question").value); await loadAnswers(false); };
$("ta").value = new URLSearchParams(location.search).get("ta") || localStorage.getItem("ta") || "";
$("ta").onchange = () => localStorage.setItem("ta", $("ta").value);
setInterval(() => { if (!editing && !pending && questions.length) loadAnswers(true); }, 4000);
(async () => { await loadQuestions(); if (questions.length) await loadAnswers(false);
  document.body.dataset.ready = "1"; status("ready"); })();
</script></body></html>
"""
