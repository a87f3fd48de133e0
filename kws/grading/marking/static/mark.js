// The marking page of `kws mark` (kws/grading/marking/server.py serves it).
// Answers arrive rendered and escaped by the server; everything else is set as text.
"use strict";

const token = document.querySelector('meta[name="kws-token"]').content;
const $ = (id) => document.getElementById(id);
const SETTINGS = "kws-mark-settings";  // what a reload keeps: grouping, names, split answers, filter
const state = {
  data: null, answers: new Map(), cards: [], index: 0, names: null, busy: false,
  queue: Promise.resolve(), pending: 0,  // saves, one after another, in the order asked
  generation: null,  // which reading of the class the page shows (a regrade makes another)
  aims: new Map(),  // a card's first alias -> the answers its keys mark (or "all")
  undo: [],  // the page's own changes, last first out: {key, before: [[alias, mark]]}
  draft: null,  // a comment typed on a card not marked yet: {key, card, text}; saved with its points
  view: null,  // the member whose answer is shown, when the grader picked one
  settings: { group: true, names: false, split: {}, filter: "all", context: false, ...readSettings() },
};

function readSettings() {
  try { return JSON.parse(localStorage.getItem(SETTINGS)) || {}; } catch { return {}; }
}

function keepSettings() {
  localStorage.setItem(SETTINGS, JSON.stringify(state.settings));
}

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-KWS-Token": token },
    body: JSON.stringify({ ...body, grader: $("grader").value.trim() }),
  };
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({ error: response.statusText }));
  return { status: response.status, data, generation: response.headers.get("X-KWS-Generation") };
}

// The marks as the server gave them ({alias: mark}), on the answers the page holds (a hand-in
// new to the class since the page read it waits for the page to read the class again).
function setMarks(marks) {
  for (const [alias, mark] of Object.entries(marks)) {
    const answer = state.answers.get(alias);
    if (answer) answer.mark = mark;
  }
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
  $("grader").addEventListener("change", () => {
    localStorage.setItem("kws-grader", $("grader").value);
    fillFilter();
    if (state.data) renderMark();
  });
  $("group").checked = state.settings.group;
  $("show-names").checked = state.settings.names;
  $("question").addEventListener("change", () => {
    $("question").blur();
    if (notebookOpen()) showDesk();
    if (!leaveDraft()) { $("question").value = state.data.key; return; }
    load($("question").value);
  });
  $("group").addEventListener("change", () => {
    state.settings.group = $("group").checked;
    keepSettings();
    remake();
  });
  $("show-names").addEventListener("change", showNames);
  $("filter").addEventListener("change", () => {
    state.settings.filter = $("filter").value;
    keepSettings();
    $("filter").blur();
    remake();
  });
  $("search").addEventListener("input", () => remake());
  $("target").addEventListener("change", chooseAim);
  $("context").open = state.settings.context;
  $("context").addEventListener("toggle", () => {
    state.settings.context = $("context").open;
    keepSettings();
    loadContext();
  });
  $("comment").addEventListener("change", () => {
    const comment = $("comment").value;
    const card = current();
    if (!card.length) return;
    const aim = aimOf(card);
    enqueue(null, () => {  // once the saves asked before are made: is the answer marked?
      if (state.answers.get(aim.aliases[0]).mark === null) {  // a comment alone is no mark
        keepDraft(card, comment);
        if (state.draft) say("the comment waits on this page, not saved: give an item, or 0, to mark the answer with it");
        return;
      }
      return save(aim, { comment });
    });
  });
  $("adjust").addEventListener("focus", () => $("adjust").select());  // a digit replaces, not adds
  $("adjust").addEventListener("change", () => {
    const adjust = Number($("adjust").value) || 0;
    const aim = aimOf(current());
    if (!adjust && state.answers.get(aim.aliases[0]).mark === null) return;  // no points given
    enqueue(aim, () => ({ adjust }));
  });
  $("add").addEventListener("click", addItem);
  $("library-save").addEventListener("click", saveToLibrary);
  $("library-search").addEventListener("input", () => { library.chosen = 0; drawLibrary(); });
  document.addEventListener("keydown", onKey);
  window.addEventListener("beforeunload", (event) => {
    if (!unsaved()) return;
    event.preventDefault();
    event.returnValue = "";  // the browser asks before a typed comment is lost
  });
  const { data, generation } = await api("/api/questions");
  state.generation = generation;
  for (const question of data) {
    const option = element("option", `${question.assignment}: ${question.label}`);  // maths drawn as text
    option.value = question.key;
    $("question").append(option);
  }
  if (state.settings.names) await showNames();
  startShares();
  await loadShares();
  const wanted = decodeURIComponent(location.hash.slice(1));
  const first = data.some((q) => q.key === wanted) ? wanted : shareStart() || data[0].key;
  if (mine(first) !== null) state.settings.filter = "mine";  // the page opens on the grader's share
  await load(first);
  setInterval(refresh, 5000);
}

async function load(key, keep) {
  const { status, data, generation } = await api("/api/question?key=" + encodeURIComponent(key));
  if (status !== 200) return say(data.error);
  state.data = data;
  state.generation = generation;
  state.answers = new Map(data.answers.map((answer) => [answer.alias, answer]));
  state.aims.clear();
  $("question").value = key;
  history.replaceState(null, "", "#" + encodeURIComponent(key));
  fillFilter();
  makeCards(keep);
  if (keep === undefined) {
    const left = state.cards.findIndex(isLeft);
    state.index = left < 0 ? 0 : left;
  }
  renderQuestion();
  render();
  loadLibrary();
  document.body.dataset.readyMs = String(Math.round(performance.now()));  // since navigation
  document.body.dataset.ready = "1";
}

async function refresh() {  // another grader's marks, and a regrade, every few seconds
  if (!state.data || state.busy || state.pending) return;
  const key = state.data.key;
  const { status, data, generation } = await api("/api/marks?key=" + encodeURIComponent(key));
  if (status !== 200 || state.busy || state.pending || state.data.key !== key) return;
  if (generation !== state.generation && !unsaved()) {
    await load(key, current()[0]);
    return say("the class was graded again: the page shows the hand-ins as they are now", true);
  }
  setMarks(data);
  if (document.activeElement !== $("filter")) fillFilter();  // new scores, new graders
  renderMark();
  if (document.activeElement !== $("library-search")) loadLibrary();  // another grader's comments
  loadShares();  // each share's progress
}

async function showNames() {
  state.settings.names = $("show-names").checked;
  keepSettings();
  if ($("show-names").checked && state.names === null) state.names = (await api("/api/names")).data;
  if (state.data) render();
}

// ---- drawing --------------------------------------------------------------------------------

function renderQuestion() {
  $("prompt").innerHTML = state.data.prompt_html;  // rendered and escaped by the server
  $("model-answer").innerHTML = state.data.model_html;
  $("points").textContent = `(${state.data.points} points)`;
  $("note").textContent = state.data.note || "";
}

function render() {
  const card = current();
  if (!card.length) {
    $("answer").replaceChildren(element("p", "No answer is shown: change the search or the filter.", "no-answer"));
    $("who").textContent = "";
    $("position").textContent = "answer 0 of 0";
    return;
  }
  const aim = aimOf(card);
  const viewed = card.includes(state.view) ? state.view : aim.aliases[0];
  const first = state.answers.get(viewed);
  $("answer").innerHTML = state.data.htmls[first.html];  // rendered and escaped by the server
  $("who").textContent = card.length > 1 ? `${who(card[0])} and ${card.length - 1} more` : who(card[0]);
  $("who").title = card.map(who).join(", ");
  $("position").textContent = `answer ${state.index + 1} of ${state.cards.length}`;
  $("same").textContent = card.length > 1 ? `${card.length} answers alike` : "";
  const measures = $("measures");
  measures.replaceChildren();
  for (const [label, value] of first.measures) measures.append(element("dt", label), element("dd", value));
  if (first.problem) measures.append(element("dt", "hand-in"), element("dd", first.problem));
  loadContext();
  renderMark();
}

// The student's cells around the answer shown, when the TA opened them (rendered inert by the
// server, as answers are).
async function loadContext() {
  const card = current();
  if (!$("context").open || !card.length) return;
  const alias = card.includes(state.view) ? state.view : aimOf(card).aliases[0];
  const key = state.data.key;
  const asked = (state.contextAsked = (state.contextAsked || 0) + 1);  // the last asked wins
  $("context").dataset.alias = "";
  const { status, data } = await api(`/api/context?key=${encodeURIComponent(key)}&alias=${encodeURIComponent(alias)}`);
  if (asked !== state.contextAsked || state.data.key !== key) return;
  $("context-cells").innerHTML = status === 200 ? data.html : "";  // rendered and escaped by the server
  $("context").dataset.alias = alias;
}

// The members of the card, and those split out of its group (each with "put back in its group",
// also on the group's own card: after a reload the TA finds them where they were).
function renderMembers(card, aim, viewed) {
  const grouped = card.length > 1;
  const splitOut = state.settings.split[state.data.key] || [];
  const wasSplit = splitOut.includes(card[0]);
  const group = state.data.groups.find((g) => g.includes(card[0])) || card;
  const away = $("group").checked && !wasSplit ? group.filter((a) => splitOut.includes(a)) : [];
  $("members").hidden = !grouped && !wasSplit && !away.length;
  if ($("members").hidden) return;
  const shownDigest = state.answers.get(viewed).digest;
  const apart = away.length ? `, ${away.length} split out` : "";
  $("members-summary").textContent = grouped
    ? `the ${card.length} answers of this card (keys mark ${aim.aliases.length})${apart}`
    : wasSplit ? "split out of its group" : `this answer${apart}`;
  const list = $("member-list");
  list.replaceChildren();
  for (const answer of members(card)) {
    const row = element("li", undefined, answer.alias === viewed ? "shown" : "");
    row.dataset.alias = answer.alias;
    const name = element("a", who(answer.alias));
    name.href = "#" + encodeURIComponent(state.data.key);
    name.addEventListener("click", (event) => { event.preventDefault(); state.view = answer.alias; render(); });
    row.append(name, element("span", answer.mark ? `${answer.mark.score}/${state.data.points} by ${answer.mark.by}` : "not marked"));
    if (answer.digest !== shownDigest) row.append(element("span", "its text differs", "differs"));
    if (aim.aliases.includes(answer.alias)) row.append(element("span", "← keys"));
    const button = element("button", grouped ? "split out" : "put back in its group", grouped ? "split" : "join");
    button.type = "button";
    button.addEventListener("click", () => split(answer.alias, grouped));
    row.append(button);
    list.append(row);
  }
  for (const alias of away) {
    const row = element("li", undefined, "away");
    row.dataset.alias = alias;
    row.append(element("span", who(alias)), element("span", "split out: a card of its own"));
    const button = element("button", "put back in its group", "join");
    button.type = "button";
    button.addEventListener("click", () => split(alias, false));
    row.append(button);
    list.append(row);
  }
}

function renderMark() {
  const card = current();
  if (!card.length) return;
  const aim = aimOf(card);
  const viewed = card.includes(state.view) ? state.view : aim.aliases[0];
  const mark = state.answers.get(aim.aliases[0]).mark;
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
  const found = classesOf(card);
  $("differ").hidden = found.length < 2;
  if (found.length > 1) {
    $("differ-text").textContent = `These ${card.length} answers hold ${found.length} different marks: `
      + found.map(describe).join("; ") + ". ";
    const options = found.map((group, n) => {
      const option = element("option", `the ${describe(group)}`);
      option.value = String(n);
      return option;
    });
    const all = element("option", `all ${card.length} (replaces their different marks)`);
    all.value = "all";
    $("target").replaceChildren(...options, all);
    $("target").value = aim.replace ? "all" : String(found.findIndex((g) => g.aliases.includes(aim.aliases[0])));
  }
  renderMembers(card, aim, viewed);
  const stale = mark && mark.stale;
  $("stale").textContent = stale ? "the answer changed since it was marked: mark it again" : "";
  $("score").textContent = mark ? `${mark.score} / ${state.data.points}` : `– / ${state.data.points}`;
  $("marked-by").textContent = mark ? `marked by ${mark.by}, ${mark.when}` : "not marked";
  if (document.activeElement !== $("comment")) $("comment").value = draftOf(card) ?? (mark ? mark.comment : "");
  if (document.activeElement !== $("adjust")) $("adjust").value = mark ? mark.adjust : 0;
  $("left").textContent = `${leftCount()} of ${state.data.answers.length} left`;
  drawMine();
  const by = new Map();
  for (const answer of state.data.answers) {
    if (!needsMark(answer)) by.set(answer.mark.by, (by.get(answer.mark.by) || 0) + 1);
  }
  $("graders").textContent = by.size ? "marked by " + [...by].map(([name, n]) => `${name} ${n}`).join(" · ") : "";
}

// A comment typed and not saved yet (one waiting for its points too), or a save under way.
function unsaved() {
  if (state.pending || state.draft) return true;
  const card = current();
  if (!state.data || !card.length) return false;
  const mark = state.answers.get(aimOf(card).aliases[0]).mark;
  return $("comment").value !== (mark ? mark.comment : "");
}

// The comment typed on `card` while none of its answers had a mark (null: none): it is saved
// with the first points given there, and the page asks before it is left behind.
function draftOf(card) {
  const draft = state.draft;
  return draft && draft.key === state.data.key && card.includes(draft.card[0]) ? draft.text : null;
}

function keepDraft(card, text) {
  state.draft = text.trim() ? { key: state.data.key, card: card.slice(), text } : null;
}

// Whether the grader may leave the card shown: yes, unless a comment waits on it unsaved and
// the grader, asked, keeps it (then the card stays; the comment is saved with the points).
function leaveDraft() {
  const card = current();
  const typed = document.activeElement === $("comment") && card.length
    && state.answers.get(aimOf(card).aliases[0]).mark === null ? $("comment").value : null;
  if (typed !== null) keepDraft(card, typed);
  const text = card.length ? draftOf(card) : null;
  if (text === null) return true;
  const leave = confirm("The comment typed for this answer is not saved: no points are given yet "
    + "(an item, or 0). Leave it unsaved? (Cancel stays, to give the points.)");
  if (leave) {
    state.draft = null;
    $("comment").value = "";
    say("the comment was left unsaved");
  }
  return leave;
}

// ---- marking --------------------------------------------------------------------------------

// A change is made when its turn comes, from the mark as the earlier saves left it, for the
// answers the keys aimed at when it was asked (the grader may have moved on since).
function enqueue(aim, makeChange) {
  state.pending += 1;
  document.body.dataset.pending = String(state.pending);
  state.queue = state.queue
    .then(() => (aim === null ? makeChange() : save(aim, makeChange())))  // null: it saves itself
    .catch((error) => say(String(error)))
    .finally(() => {
      state.pending -= 1;
      document.body.dataset.pending = String(state.pending);
    });
}

function toggle(itemId) {
  const card = current();
  const aim = aimOf(card);
  enqueue(aim, () => {
    const mark = state.answers.get(aim.aliases[0]).mark;
    const items = new Set(mark ? mark.items : []);
    if (items.has(itemId)) items.delete(itemId); else items.add(itemId);
    if (!items.size && mark && !mark.adjust) {  // the last item taken back: unmarked, not 0
      if (mark.comment) keepDraft(card, mark.comment);  // its comment waits on the page
      return { unmark: true };
    }
    return { items: state.data.items.map((i) => i.id).filter((id) => items.has(id)) };
  });
}

async function save(aim, change) {
  const { aliases } = aim;
  const mark = state.answers.get(aliases[0]).mark;
  const before = aliases.map((alias) => [alias, state.answers.get(alias).mark]);
  const versions = Object.fromEntries(members(aliases).map((a) => [a.alias, a.mark ? a.mark.version : null]));
  const key = state.data.key;
  let path = "/api/mark";
  const home = state.cards.find((c) => c.includes(aliases[0])) || aliases;
  const draft = change.comment === undefined && !change.unmark ? draftOf(home) : null;
  let body = {
    key, aliases, versions, replace: aim.replace,
    items: mark ? mark.items : [], adjust: mark ? mark.adjust : 0, comment: mark ? mark.comment : "",
    ...change,
    ...(draft === null ? {} : { comment: draft }),  // the comment that waited for its points
    // points given on purpose: an item, the 0 key, an undo, or a change to a mark given already
    zero: change.zero === true || change.undoing === true || (mark !== null && change.items === undefined),
  };
  if (change.unmark) {
    if (members(aliases).every((a) => a.mark === null)) return;
    path = "/api/unmark";
    body = { key, aliases, versions };
  }
  delete body.undoing;
  if (!change.unmark && !body.items.length && !body.adjust && !body.zero) return;  // no points given
  state.busy = true;
  try {
    const { status, data } = await api(path, body);
    if (state.data.key !== key) return;
    if (status === 200) {
      setMarks(data.marks);
      if (draft !== null && draftOf(home) === draft) state.draft = null;
      if (!change.undoing) state.undo.push({ key, before });
      if (state.undo.length > 100) state.undo.shift();
      const card = state.cards.find((c) => c.includes(aliases[0]));
      if (card) state.aims.set(card[0], aliases.filter((alias) => card.includes(alias)));
      const what = change.undoing ? "undone:" : change.unmark ? "unmarked" : "saved";
      say(`${what} ${aliases.length > 1 ? aliases.length + " answers" : aliases[0]}`, true);
    } else if (status === 409) {
      setMarks(data.marks);
      say(data.error);
    } else {
      say(data.error || `not saved (${status})`);
    }
  } finally {
    state.busy = false;
  }
  renderMark();
}

// Put back the marks the page's last change on this question replaced (z), when its turn comes
// (after the changes asked before it): each member as it was, those that had none unmarked.
function undo() {
  const key = state.data.key;
  enqueue(null, () => undoing(key));
}

async function undoing(key) {
  const at = state.undo.map((entry) => entry.key).lastIndexOf(key);
  if (at < 0 || state.data.key !== key) return say("nothing to undo on this question");
  const { before } = state.undo.splice(at, 1)[0];
  const alike = new Map();
  for (const [alias, mark] of before) {
    const held = mark === null ? "" : JSON.stringify([mark.items, mark.adjust, mark.comment]);
    if (!alike.has(held)) alike.set(held, { mark, aliases: [] });
    alike.get(held).aliases.push(alias);
  }
  for (const { mark, aliases } of alike.values()) {
    const change = mark === null
      ? { unmark: true, undoing: true }
      : { items: mark.items, adjust: mark.adjust, comment: mark.comment, undoing: true };
    await save({ aliases, replace: false }, change);
  }
}

function move(step) {
  if (!leaveDraft()) return;
  state.index = Math.min(state.cards.length - 1, Math.max(0, state.index + step));
  state.view = null;
  render();
}

function nextLeft() {
  if (!leaveDraft()) return;
  const order = [...state.cards.keys()].map((i) => (state.index + 1 + i) % state.cards.length);
  const found = order.find((i) => isLeft(state.cards[i]));
  if (found !== undefined) { state.index = found; state.view = null; render(); } else say("every answer is marked", true);
}

const TYPED = ["text", "number", "search"];

function onKey(event) {
  const focused = document.activeElement;
  if (focused === $("library-search") && libraryKey(event)) return;
  const typing = focused.tagName === "TEXTAREA" || (focused.tagName === "INPUT" && TYPED.includes(focused.type));
  if (typing) {
    if (event.key === "Escape" || (event.key === "Enter" && focused.tagName === "INPUT")) {
      focused.blur();  // the change is saved; the keys mark again
      event.preventDefault();
    }
    return;
  }
  if (notebookOpen()) return notebookKey(event);  // one student's notebook: its own keys
  if (event.ctrlKey || event.metaKey || event.altKey || !state.data) return;
  const number = Number(event.key);
  if (event.key >= "1" && event.key <= "9" && number <= state.data.items.length) {
    toggle(state.data.items[number - 1].id);
  } else if (event.key === "0") {
    enqueue(aimOf(current()), () => ({ items: [], zero: true }));  // 0 points on purpose
  } else if (event.key === "u") {
    enqueue(aimOf(current()), () => ({ unmark: true }));
  } else if (event.key === "z") {
    undo();
  } else if (["j", "ArrowRight", "ArrowDown"].includes(event.key)) {
    move(1);
  } else if (["k", "ArrowLeft", "ArrowUp"].includes(event.key)) {
    move(-1);
  } else if (event.key === "n") {
    nextLeft();
  } else if (event.key === "c") {
    $("comment").focus();
  } else if (event.key === "a") {
    $("adjust").focus();
  } else if (event.key === "/") {
    $("search").focus();
  } else if (event.key === "l") {
    library.chosen = 0;
    $("library-search").focus();
    drawLibrary();
  } else if (event.key === "L") {
    saveToLibrary();
  } else if (event.key === "s" && current().length) {
    const card = current();
    openNotebook(card.includes(state.view) ? state.view : aimOf(card).aliases[0], state.data.key);
  } else {
    return;
  }
  if (focused.tagName === "SELECT") focused.blur();  // a menu keeps no key of the marking
  event.preventDefault();
}

// ---- the rubric -----------------------------------------------------------------------------

// What the items that give points add up to with `item` worth `points`: the sum shown, and
// whether it passes the question's points (the server refuses that edit).
function itemsSum(item, points) {
  const sum = state.data.items.reduce((total, i) => {
    const value = i.id === item ? points : i.points;
    return total + (value > 0 ? value : 0);
  }, 0);
  return { sum, over: sum > state.data.points + 1e-9 };
}

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
  const sum = element("span", "", "sum");
  const check = () => {
    const { sum: total, over } = itemsSum(item.id, Number(points.value));
    sum.textContent = over
      ? `the items would give ${total} of ${state.data.points}: lower this one or another first`
      : `the items give ${total} of ${state.data.points}`;
    sum.classList.toggle("over", over);
    done.disabled = over;
  };
  points.addEventListener("input", check);
  done.addEventListener("click", async (event) => {
    event.stopPropagation();
    await changeRubric({ item: item.id, points: Number(points.value), text: text.value });
  });
  for (const input of [points, text]) input.addEventListener("click", (event) => event.stopPropagation());
  row.replaceChildren(element("span", "", "key"), points, text, done, sum);
  check();
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
  state.data.note = data.note;
  const marks = (await api("/api/marks?key=" + encodeURIComponent(state.data.key))).data;
  setMarks(marks);
  say("rubric changed: every answer counts it now" + (data.note ? `; ${data.note}` : ""), true);
  $("note").textContent = data.note || "";
  fillFilter();
  renderMark();
}

start();
