// The marking page of `kws mark` (kws/grading/marking/server.py serves it).
// Answers arrive rendered and escaped by the server; everything else is set as text.
"use strict";

const token = document.querySelector('meta[name="kws-token"]').content;
const $ = (id) => document.getElementById(id);
const state = {
  data: null, answers: new Map(), cards: [], index: 0, names: null, busy: false,
  queue: Promise.resolve(), pending: 0,  // saves, one after another, in the order asked
};

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-KWS-Token": token },
    body: JSON.stringify({ ...body, grader: $("grader").value.trim() }),
  };
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({ error: response.statusText }));
  return { status: response.status, data };
}

function say(text, ok) {
  $("status").textContent = text;
  $("status").className = ok ? "ok" : "";
}

function element(tag, text, className) {
  const made = document.createElement(tag);
  if (text !== undefined) made.textContent = text;
  if (className) made.className = className;
  return made;
}

// ---- loading --------------------------------------------------------------------------------

async function start() {
  $("grader").value = localStorage.getItem("kws-grader") || "";
  $("grader").addEventListener("change", () => localStorage.setItem("kws-grader", $("grader").value));
  $("question").addEventListener("change", () => load($("question").value));
  $("group").addEventListener("change", () => { const alias = current()[0]; makeCards(alias); render(); });
  $("show-names").addEventListener("change", showNames);
  $("comment").addEventListener("change", () => {
    const comment = $("comment").value;
    enqueue(current(), () => ({ comment }));
  });
  $("adjust").addEventListener("change", () => {
    const adjust = Number($("adjust").value) || 0;
    enqueue(current(), () => ({ adjust }));
  });
  $("add").addEventListener("click", addItem);
  document.addEventListener("keydown", onKey);
  const { data } = await api("/api/questions");
  for (const question of data) {
    const option = element("option", `${question.assignment}: ${question.title}`);
    option.value = question.key;
    $("question").append(option);
  }
  const wanted = decodeURIComponent(location.hash.slice(1));
  await load(data.some((q) => q.key === wanted) ? wanted : data[0].key);
  setInterval(refresh, 5000);
}

async function load(key) {
  const { status, data } = await api("/api/question?key=" + encodeURIComponent(key));
  if (status !== 200) return say(data.error);
  state.data = data;
  state.answers = new Map(data.answers.map((answer) => [answer.alias, answer]));
  $("question").value = key;
  history.replaceState(null, "", "#" + encodeURIComponent(key));
  makeCards();
  const left = state.cards.findIndex(isLeft);
  state.index = left < 0 ? 0 : left;
  renderQuestion();
  render();
  document.body.dataset.readyMs = String(Math.round(performance.now()));  // since navigation
  document.body.dataset.ready = "1";
}

async function refresh() {  // another grader's marks, every few seconds
  if (!state.data || state.busy || state.pending) return;
  const key = state.data.key;
  const { status, data } = await api("/api/marks?key=" + encodeURIComponent(key));
  if (status !== 200 || state.busy || state.pending || state.data.key !== key) return;
  for (const [alias, mark] of Object.entries(data)) state.answers.get(alias).mark = mark;
  renderMark();
}

async function showNames() {
  if ($("show-names").checked && state.names === null) state.names = (await api("/api/names")).data;
  render();
}

// ---- cards: one answer, or a group of the same answers --------------------------------------

function makeCards(keep) {
  state.cards = $("group").checked
    ? state.data.groups.map((group) => group.slice())
    : state.data.answers.map((answer) => [answer.alias]);
  if (keep !== undefined) state.index = Math.max(0, state.cards.findIndex((c) => c.includes(keep)));
}

const current = () => state.cards[state.index] || [];
const members = (card) => card.map((alias) => state.answers.get(alias));
const isLeft = (card) => members(card).some((a) => a.mark === null || a.mark.stale);
const leftCount = () => state.data.answers.filter((a) => a.mark === null || a.mark.stale).length;
const who = (alias) => (state.names && $("show-names").checked ? `${state.names[alias]} (${alias})` : alias);

// ---- drawing --------------------------------------------------------------------------------

function renderQuestion() {
  $("prompt").innerHTML = state.data.prompt_html;  // rendered and escaped by the server
  $("model-answer").innerHTML = state.data.model_html;
  $("points").textContent = `(${state.data.points} points)`;
}

function render() {
  const card = current();
  if (!card.length) return;
  const first = state.answers.get(card[0]);
  $("answer").innerHTML = state.data.htmls[first.html];  // rendered and escaped by the server
  $("who").textContent = card.length > 1 ? `${who(card[0])} and ${card.length - 1} more` : who(card[0]);
  $("who").title = card.map(who).join(", ");
  $("position").textContent = `answer ${state.index + 1} of ${state.cards.length}`;
  $("same").textContent = card.length > 1 ? `${card.length} answers alike: one mark for all` : "";
  const measures = $("measures");
  measures.replaceChildren();
  for (const [label, value] of first.measures) measures.append(element("dt", label), element("dd", value));
  if (first.problem) measures.append(element("dt", "hand-in"), element("dd", first.problem));
  renderMark();
}

function renderMark() {
  const card = current();
  if (!card.length) return;
  const marks = members(card).map((a) => a.mark);
  const mark = marks[0];
  const given = new Set(mark ? mark.items : []);
  const items = $("items");
  items.replaceChildren();
  state.data.items.forEach((item, n) => {
    const row = element("li", undefined, given.has(item.id) ? "given" : "");
    row.dataset.item = item.id;
    row.append(element("span", n < 9 ? String(n + 1) : "", "key"),
      element("span", (item.points > 0 ? "+" : "") + item.points, "points"),
      element("span", item.text, "text"));
    const edit = element("button", "edit");
    edit.type = "button";
    edit.addEventListener("click", (event) => { event.stopPropagation(); editItem(row, item); });
    row.append(edit);
    row.addEventListener("click", () => toggle(item.id));
    items.append(row);
  });
  const stale = marks.some((m) => m && m.stale);
  $("stale").textContent = stale ? "the answer changed since it was marked: mark it again" : "";
  $("score").textContent = mark ? `${score(mark)} / ${state.data.points}` : `– / ${state.data.points}`;
  $("marked-by").textContent = mark ? `marked by ${mark.by}, ${mark.when}` : "not marked";
  if (document.activeElement !== $("comment")) $("comment").value = mark ? mark.comment : "";
  if (document.activeElement !== $("adjust")) $("adjust").value = mark ? mark.adjust : 0;
  $("left").textContent = `${leftCount()} of ${state.data.answers.length} left`;
}

// The score as the records compute it (kws.grading.records.marks.Rubric.score).
function score(mark) {
  const items = state.data.items;
  const given = items.filter((i) => mark.items.includes(i.id)).reduce((sum, i) => sum + i.points, 0);
  const start = items.length && items.every((i) => i.points < 0) ? state.data.points : 0;
  return Math.min(state.data.points, Math.max(0, start + given + mark.adjust));
}

// ---- marking --------------------------------------------------------------------------------

// A change is made when its turn comes, from the mark as the earlier saves left it, for the
// answers that were on screen when it was asked (the grader may have moved on since).
function enqueue(card, makeChange) {
  state.pending += 1;
  document.body.dataset.pending = String(state.pending);
  state.queue = state.queue
    .then(() => save(card, makeChange()))
    .catch((error) => say(String(error)))
    .finally(() => {
      state.pending -= 1;
      document.body.dataset.pending = String(state.pending);
    });
}

function toggle(itemId) {
  const card = current();
  enqueue(card, () => {
    const mark = state.answers.get(card[0]).mark;
    const items = new Set(mark ? mark.items : []);
    if (items.has(itemId)) items.delete(itemId); else items.add(itemId);
    return { items: state.data.items.map((i) => i.id).filter((id) => items.has(id)) };
  });
}

async function save(card, change) {
  const mark = state.answers.get(card[0]).mark;
  const body = {
    key: state.data.key,
    aliases: card,
    items: mark ? mark.items : [],
    adjust: mark ? mark.adjust : 0,
    comment: mark ? mark.comment : "",
    versions: Object.fromEntries(members(card).map((a) => [a.alias, a.mark ? a.mark.version : null])),
    ...change,
  };
  state.busy = true;
  try {
    const { status, data } = await api("/api/mark", body);
    if (status === 200) {
      for (const [alias, saved] of Object.entries(data.marks)) state.answers.get(alias).mark = saved;
      say(`saved ${card.length > 1 ? card.length + " answers" : card[0]}`, true);
    } else if (status === 409) {
      for (const [alias, now] of Object.entries(data.marks)) state.answers.get(alias).mark = now;
      say(data.error);
    } else {
      say(data.error || `not saved (${status})`);
    }
  } finally {
    state.busy = false;
  }
  renderMark();
}

function move(step) {
  state.index = Math.min(state.cards.length - 1, Math.max(0, state.index + step));
  render();
}

function nextLeft() {
  const order = [...state.cards.keys()].map((i) => (state.index + 1 + i) % state.cards.length);
  const found = order.find((i) => isLeft(state.cards[i]));
  if (found !== undefined) { state.index = found; render(); } else say("every answer is marked", true);
}

function onKey(event) {
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
  if (typing) {
    if (event.key === "Escape") document.activeElement.blur();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const number = Number(event.key);
  if (event.key >= "1" && event.key <= "9" && number <= state.data.items.length) {
    toggle(state.data.items[number - 1].id);
  } else if (event.key === "0") {
    enqueue(current(), () => ({ items: [] }));
  } else if (["j", "ArrowRight", "ArrowDown"].includes(event.key)) {
    move(1);
  } else if (["k", "ArrowLeft", "ArrowUp"].includes(event.key)) {
    move(-1);
  } else if (event.key === "n") {
    nextLeft();
  } else if (event.key === "c") {
    $("comment").focus();
  } else {
    return;
  }
  event.preventDefault();
}

// ---- the rubric -----------------------------------------------------------------------------

function editItem(row, item) {
  const points = element("input");
  points.type = "number";
  points.step = "0.5";
  points.value = item.points;
  points.className = "edit-points";
  const text = element("input");
  text.value = item.text;
  text.className = "edit-text";
  const done = element("button", "save");
  done.type = "button";
  done.className = "save-item";
  done.addEventListener("click", async (event) => {
    event.stopPropagation();
    await changeRubric({ item: item.id, points: Number(points.value), text: text.value });
  });
  for (const input of [points, text]) input.addEventListener("click", (event) => event.stopPropagation());
  row.replaceChildren(element("span", "", "key"), points, text, done);
  points.focus();
}

async function addItem() {
  await changeRubric({ add: { points: Number($("new-points").value), text: $("new-text").value } });
  $("new-points").value = "";
  $("new-text").value = "";
}

async function changeRubric(change) {
  const { status, data } = await api("/api/rubric", { key: state.data.key, ...change });
  if (status !== 200) return say(data.error || `not changed (${status})`);
  state.data.items = data.items;
  const marks = (await api("/api/marks?key=" + encodeURIComponent(state.data.key))).data;
  for (const [alias, mark] of Object.entries(marks)) state.answers.get(alias).mark = mark;
  say("rubric changed: every answer counts it now", true);
  renderMark();
}

start();
