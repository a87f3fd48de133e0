// One student's whole hand-in (kws/grading/marking/server.py serves it before mark.js, which
// holds `state` and the card view): their notebooks, walked question by question, each
// question's mark, what the grader measured and the autograded tests. The cells arrive
// rendered and escaped by the server; everything else is set as text.
"use strict";

const desk = { alias: null, data: null, at: 0, asked: 0 };  // the hand-in shown, its question

const notebookOpen = () => !$("notebook-view").hidden;

// `alias`'s notebook, at its answer to question `key` (from the card: `s`).
async function openNotebook(alias, key) {
  const asked = ++desk.asked;  // the last asked wins
  const { status, data } = await api("/api/notebook?alias=" + encodeURIComponent(alias));
  if (asked !== desk.asked) return;
  if (status !== 200) return say(data.error);
  desk.alias = alias;
  desk.data = data;
  desk.at = Math.max(0, data.questions.findIndex((q) => q.key === key));
  $("desk").hidden = true;
  $("notebook-view").hidden = false;
  $("notebook-cells").dataset.shown = "";
  drawNotebook();
  document.body.dataset.notebook = alias;
}

function drawNotebook() {
  const { questions, notebooks, problem } = desk.data;
  const question = questions[desk.at];
  const notebook = notebooks.find((n) => n.assignment === question.assignment);
  $("notebook-who").textContent = who(desk.alias);
  $("notebook-position").textContent = `question ${desk.at + 1} of ${questions.length}`;
  $("notebook-problem").textContent = problem ? `hand-in: ${problem}` : "";
  $("notebook-questions").replaceChildren(...questions.map((q, n) => {
    const mark = q.mark;
    const row = element("li", undefined, n === desk.at ? "current" : "");
    row.dataset.question = q.key;
    const given = mark ? `${mark.score}/${q.points} by ${mark.by}` : q.answered ? "not marked" : "no answer, not marked";
    row.append(element("span", `${q.assignment}: ${q.label}`, "label"), element("span", given, "given"));
    if (mark && mark.stale) row.append(element("span", "the answer changed since", "stale"));
    if (mark && mark.comment) row.append(element("span", mark.comment, "comment"));
    return row;
  }));
  $("notebook-measures").replaceChildren(...notebook.measures.flatMap(([label, value]) => [element("dt", label), element("dd", value)]));
  $("notebook-tests").tBodies[0].replaceChildren(...notebook.tests.map((test) => {
    const row = element("tr", undefined, test.status);
    const name = element("td");
    if (test.output) {
      const more = element("details");
      more.append(element("summary", test.name), element("pre", test.output, "output"));
      name.append(more);
    } else {
      name.textContent = test.name;
    }
    row.append(name, element("td", `${test.score} / ${test.max_score}`), element("td", test.status));
    return row;
  }));
  const shown = `${desk.alias} ${notebook.assignment}`;
  if ($("notebook-cells").dataset.shown !== shown) {
    $("notebook-cells").innerHTML = notebook.html;  // rendered and escaped by the server
    $("notebook-cells").dataset.shown = shown;
  }
  const cells = [...$("notebook-cells").querySelectorAll(".answer-cell")];
  for (const cell of cells) cell.classList.toggle("current", cell.dataset.question === question.key);
  const first = cells.find((cell) => cell.dataset.question === question.key);
  $("notebook-note").textContent = first ? "" : `No cell of this notebook holds the answer to ${question.label}.`;
  if (first) first.scrollIntoView({ block: "center" });
}

// n/p: the next or previous question; j/k: the same question in the next or previous hand-in.
function stepQuestion(step) {
  desk.at = Math.min(desk.data.questions.length - 1, Math.max(0, desk.at + step));
  drawNotebook();
}

async function stepHandin(step) {
  const aliases = state.data.answers.map((answer) => answer.alias);
  const at = aliases.indexOf(desk.alias) + step;
  if (at < 0 || at >= aliases.length) return say("no other hand-in that way");
  await openNotebook(aliases[at], desk.data.questions[desk.at].key);
}

// Back to the card of the answer shown (the question the notebook is at, this student's answer).
async function closeNotebook() {
  const key = desk.data.questions[desk.at].key;
  const alias = desk.alias;
  showDesk();
  if (state.data.key !== key) {
    if (!leaveDraft()) return render();  // a comment waits on the card: it stays
    await load(key);
  }
  if (!state.cards.some((card) => card.includes(alias))) {  // hidden by the search or the filter
    $("search").value = "";
    state.settings.filter = "all";
    keepSettings();
    fillFilter();
    makeCards();
    say("the search and the filter were cleared to show this answer", true);
  }
  state.index = state.cards.findIndex((card) => card.includes(alias));
  state.view = alias;
  render();
}

// The cards again, the notebook put away (`s`, `Esc`, or another question from the menu).
function showDesk() {
  $("notebook-view").hidden = true;
  $("desk").hidden = false;
  delete document.body.dataset.notebook;
  window.scrollTo(0, 0);  // the card where the notebook was scrolled to its answer
}

function notebookKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || !desk.data) return;
  if (event.key === "n") stepQuestion(1);
  else if (event.key === "p") stepQuestion(-1);
  else if (event.key === "j") stepHandin(1);
  else if (event.key === "k") stepHandin(-1);
  else if (event.key === "s" || event.key === "Escape") closeNotebook();
  else return;
  event.preventDefault();
}
