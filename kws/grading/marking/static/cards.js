// The marking page's cards (kws/grading/marking/server.py serves it before mark.js, which
// holds `state` and draws): which answers a card holds, which of them its keys mark, and
// the search and filters that choose the cards.
"use strict";

// ---- cards: one answer, or a group of the same answers --------------------------------------

function remake() {
  makeCards(current()[0]);
  render();
}

function makeCards(keep) {
  const split = new Set(state.settings.split[state.data.key] || []);
  let cards = [];
  if ($("group").checked) {
    for (const group of state.data.groups) {
      const together = group.filter((alias) => !split.has(alias));
      if (together.length) cards.push(together);
      for (const alias of group) if (split.has(alias)) cards.push([alias]);
    }
  } else {
    cards = state.data.answers.map((answer) => [answer.alias]);
  }
  const shown = wanted();
  state.cards = cards.map((card) => card.filter((alias) => shown(state.answers.get(alias))))
    .filter((card) => card.length);
  if (keep !== undefined) state.index = Math.max(0, state.cards.findIndex((c) => c.includes(keep)));
  state.index = Math.min(state.index, Math.max(0, state.cards.length - 1));
}

// The answers the filter and the search let through (they choose cards; marking changes none).
function wanted() {
  const filter = state.settings.filter || "all";
  const words = $("search").value.trim().toLowerCase();
  const [kind, value] = [filter.split(":")[0], filter.slice(filter.indexOf(":") + 1)];
  const held = mine(state.data.key);
  return (answer) => {
    if (words && !state.data.texts[answer.html].toLowerCase().includes(words)) return false;
    const mark = answer.mark;
    if (kind === "mine") return held === null || held === "all" || held.has(answer.alias);
    if (kind === "left") return mark === null || mark.stale;
    if (kind === "marked") return mark !== null && !mark.stale;
    if (kind === "item") return mark !== null && mark.items.includes(value);
    if (kind === "score") return mark !== null && String(mark.score) === value;
    if (kind === "grader") return mark !== null && mark.by === value;
    return true;
  };
}

function fillFilter() {
  const marks = state.data.answers.map((a) => a.mark).filter((m) => m !== null);
  const options = [["all", "all answers"], ["left", "left to mark"], ["marked", "marked"]];
  if (mine(state.data.key) !== null) options.splice(1, 0, ["mine", "my share"]);
  for (const item of state.data.items) options.push([`item:${item.id}`, `given ${item.id}`]);
  for (const score of [...new Set(marks.map((m) => m.score))].sort((x, y) => x - y)) {
    options.push([`score:${score}`, `scored ${score}`]);
  }
  for (const by of [...new Set(marks.map((m) => m.by))].sort()) options.push([`grader:${by}`, `marked by ${by}`]);
  $("filter").replaceChildren(...options.map(([value, text]) => {
    const option = element("option", text);
    option.value = value;
    return option;
  }));
  const kept = options.some(([value]) => value === state.settings.filter);
  $("filter").value = kept ? state.settings.filter : "all";
  state.settings.filter = $("filter").value;
}

const current = () => state.cards[state.index] || [];
const members = (card) => card.map((alias) => state.answers.get(alias));
const needsMark = (answer) => answer.mark === null || answer.mark.stale;
const isLeft = (card) => members(card).some(needsMark);
const leftCount = () => state.data.answers.filter(needsMark).length;
const who = (alias) => (state.names && $("show-names").checked ? `${state.names[alias]} (${alias})` : alias);

// What a member holds, to compare: "" for no mark, else its items, adjustment, comment and
// whether it was given to this answer (the server refuses one mark for members that differ).
function held(answer) {
  const mark = answer.mark;
  return mark === null ? "" : JSON.stringify([[...mark.items].sort(), mark.adjust, mark.comment, mark.stale]);
}

// The members of `card` by what they hold: those with no mark first, then the larger first.
function classesOf(card) {
  const by = new Map();
  for (const alias of card) {
    const key = held(state.answers.get(alias));
    if (!by.has(key)) by.set(key, []);
    by.get(key).push(alias);
  }
  return [...by.entries()].map(([key, aliases]) => ({ key, aliases }))
    .sort((x, y) => (x.key !== "") - (y.key !== "") || y.aliases.length - x.aliases.length);
}

// The answers a key marks on `card`: those the grader chose, else those with no mark, else the
// largest set holding one mark; every member ("replace") only when the grader chose so.
function aimOf(card) {
  const found = classesOf(card);
  const chosen = state.aims.get(card[0]);
  if (chosen === "all") return { aliases: card.slice(), replace: found.length > 1 };
  const same = chosen && found.find((c) => chosen.every((alias) => c.aliases.includes(alias)));
  return { aliases: (same || found[0]).aliases, replace: false };
}

function chooseAim() {
  const card = current();
  const value = $("target").value;
  state.aims.set(card[0], value === "all" ? "all" : classesOf(card)[Number(value)].aliases);
  $("target").blur();
  render();
}

function describe(group) {
  const first = state.answers.get(group.aliases[0]);
  const n = group.aliases.length;
  if (first.mark === null) return `${n} not marked`;
  const mark = first.mark;
  const items = mark.items.length ? ` (${mark.items.join(", ")})` : " (no item)";
  const extra = (mark.adjust ? `, adjusted ${mark.adjust}` : "") + (mark.comment ? ", a comment" : "");
  const stale = mark.stale ? ", given to an earlier answer" : "";
  return `${n} at ${mark.score}/${state.data.points}${items}${extra}${stale} by ${mark.by}`;
}

function split(alias, out) {
  const key = state.data.key;
  const kept = new Set(state.settings.split[key] || []);
  if (out) kept.add(alias); else kept.delete(alias);
  state.settings.split[key] = [...kept];
  keepSettings();
  makeCards(alias);
  state.view = null;
  render();
  say(out ? `${alias} is a card of its own` : `${alias} is back in its group`, true);
}
