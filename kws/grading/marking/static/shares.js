// Who marks what (kws/grading/marking/server.py serves it before mark.js, which holds `state`):
// each grader's share of the answers (questions, hand-ins), set here or from a file, with its
// progress; the page opens on the share of the grader it marks as, filtered to it.
// Everything here is set as text.
"use strict";

const shares = { list: [] };

async function loadShares() {
  const { status, data } = await api("/api/shares");
  if (status !== 200) return;
  shares.list = data;
  drawShares();
}

const myShares = () => shares.list.filter((share) => share.grader === $("grader").value.trim());

// The aliases of question `key` in the grader's shares: null where they hold none of it, "all"
// where a share holds every hand-in.
function mine(key) {
  const held = myShares().filter((share) => !share.questions.length || share.questions.includes(key));
  if (!held.length) return null;
  if (held.some((share) => !share.students.length)) return "all";
  return new Set(held.flatMap((share) => share.students));
}

// The question the grader's page opens on: the first of their shares with answers left.
function shareStart() {
  const progress = myShares().flatMap((share) => share.progress);
  const left = progress.find((p) => p.left > 0) || progress[0];
  return left ? left.key : null;
}

// "#1–#6, #9" for aliases in order.
function ranges(aliases) {
  const numbers = aliases.map((alias) => Number(alias.slice(1))).sort((x, y) => x - y);
  const runs = [];
  for (const n of numbers) {
    const run = runs[runs.length - 1];
    if (run && n === run[1] + 1) run[1] = n; else runs.push([n, n]);
  }
  return runs.map(([low, high]) => (low === high ? `#${low}` : `#${low}–#${high}`)).join(", ");
}

function drawShares() {
  const label = (key) => {
    const option = [...$("question").options].find((o) => o.value === key);
    return option ? option.textContent : key;
  };
  $("shares-summary").textContent = shares.list.length
    ? `who marks what: ${[...new Set(shares.list.map((s) => s.grader))].join(", ")}`
    : "who marks what (nobody assigned)";
  $("share-list").replaceChildren(...shares.list.map((share, n) => {
    const row = element("li");
    row.dataset.grader = share.grader;
    const answers = share.progress.reduce((sum, p) => sum + p.answers, 0);
    const left = share.progress.reduce((sum, p) => sum + p.left, 0);
    const what = share.questions.length ? share.questions.map(label).join("; ") : "every question";
    const who = share.students.length ? ranges(share.students) : "every hand-in";
    row.append(element("span", share.grader, "grader"), element("span", `${what}, ${who}`, "what"),
      element("span", `${left} of ${answers} left`, "progress"));
    const remove = element("button", "remove");
    remove.type = "button";
    remove.addEventListener("click", () => assign({ remove: n }));
    row.append(remove);
    return row;
  }));
  if ($("share-question").options.length !== $("question").options.length + 1) {
    const every = element("option", "every question");
    every.value = "";
    $("share-question").replaceChildren(every, ...[...$("question").options].map((o) => {
      const option = element("option", o.textContent);
      option.value = o.value;
      return option;
    }));
  }
  if (state.data) drawMine();
}

// The grader's own count on the question shown: what is left of their share.
function drawMine() {
  const held = mine(state.data.key);
  if (held === null) { $("mine-left").textContent = ""; return; }
  const answers = state.data.answers.filter((a) => held === "all" || held.has(a.alias));
  $("mine-left").textContent = `your share: ${answers.filter(needsMark).length} of ${answers.length} left`;
}

async function assign(change) {
  const { status, data } = await api("/api/share", change);
  if (status !== 200) return say(data.error);
  shares.list = data;
  drawShares();
  fillFilter();
  say("who marks what: saved", true);
}

function startShares() {
  $("share-add").addEventListener("click", () => assign({
    to: $("share-grader").value.trim() || $("grader").value.trim(),  // "grader": who asks
    question: $("share-question").value,
    students: $("share-students").value,
  }));
}
