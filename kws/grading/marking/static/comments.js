// The comment library of the question shown (kws/grading/marking/server.py serves it before
// mark.js, which holds `state` and the card): comments saved to give again, found by search
// (`l`, then ↓/↑ and Enter) or a click, added to the card's comment; `L` saves the card's
// comment; an edit goes into every mark that holds the comment, or, unticked, the library only.
// Everything here is set as text.
"use strict";

const library = { key: null, comments: [], chosen: 0 };

async function loadLibrary() {
  const key = state.data.key;
  const { status, data } = await api("/api/comments?key=" + encodeURIComponent(key));
  if (status !== 200 || state.data.key !== key) return;
  library.key = key;
  library.comments = data;
  if (!$("library-list").querySelector(".editing")) drawLibrary();
}

// The saved comments holding the searched words, in the order saved.
function found() {
  const words = $("library-search").value.trim().toLowerCase();
  return library.comments.filter((c) => c.text.toLowerCase().includes(words));
}

function drawLibrary() {
  const shown = found();
  library.chosen = Math.min(library.chosen, Math.max(0, shown.length - 1));
  const searching = document.activeElement === $("library-search");
  $("library-list").replaceChildren(...shown.map((comment, n) => {
    const row = element("li", undefined, searching && n === library.chosen ? "chosen" : "");
    row.dataset.comment = comment.id;
    row.append(element("span", comment.text, "text"),
      element("span", `used ${comment.uses} time${comment.uses === 1 ? "" : "s"}`, "uses"));
    const edit = element("button", "edit");
    edit.type = "button";
    edit.addEventListener("click", (event) => { event.stopPropagation(); editComment(row, comment); });
    row.append(edit);
    row.addEventListener("click", () => useComment(comment));
    return row;
  }));
}

// The saved comment added to the card's own (a paragraph of its own), saved with the mark as
// a typed comment is: at once on a marked answer, else waiting for its points.
function useComment(comment) {
  const card = current();
  if (!card.length) return;
  const aim = aimOf(card);
  enqueue(null, () => {  // once the saves asked before are made: the mark as they left it
    const mark = state.answers.get(aim.aliases[0]).mark;
    const typed = draftOf(card) ?? (mark ? mark.comment : "");
    if (typed.includes(comment.text)) return say("the card's comment holds it already");
    const text = typed.trim() ? `${typed.trimEnd()}\n\n${comment.text}` : comment.text;
    if (current() === card) $("comment").value = text;
    if (mark === null) {
      keepDraft(card, text);
      return say("the comment waits on this page, not saved: give an item, or 0, to mark the answer with it");
    }
    library.comments.find((c) => c.id === comment.id).uses += aim.aliases.length;
    drawLibrary();
    return save(aim, { comment: text });
  });
}

async function saveToLibrary() {
  const text = $("comment").value.trim();
  if (!text) return say("write the comment first (c), then save it (L)");
  const { status, data } = await api("/api/comment", { key: state.data.key, text });
  if (status !== 200) return say(data.error);
  library.comments = data.comments;
  drawLibrary();
  say("saved in this question's comments", true);
}

function editComment(row, comment) {
  const text = element("textarea");
  text.value = comment.text;
  text.rows = 3;
  const everywhere = element("input");
  everywhere.type = "checkbox";
  everywhere.checked = true;
  const label = element("label");
  label.append(everywhere, ` change it in the ${comment.uses} mark${comment.uses === 1 ? "" : "s"} that hold it`);
  const done = element("button", "save");
  done.type = "button";
  done.className = "save-comment";
  done.addEventListener("click", async (event) => {
    event.stopPropagation();
    const { status, data } = await api("/api/comment", {
      key: state.data.key, id: comment.id, text: text.value, everywhere: everywhere.checked,
    });
    if (status !== 200) return say(data.error);
    library.comments = data.comments;
    setMarks(data.marks);
    const changed = Object.keys(data.marks).length;
    say(everywhere.checked ? `comment changed, and in ${changed} mark${changed === 1 ? "" : "s"}`
      : "comment changed in the library only: the marks keep theirs", true);
    row.classList.remove("editing");
    drawLibrary();
    renderMark();
  });
  const remove = element("button", "remove from the library");
  remove.type = "button";
  remove.className = "remove-comment";
  remove.addEventListener("click", async (event) => {
    event.stopPropagation();
    const { status, data } = await api("/api/comment", { key: state.data.key, id: comment.id, remove: true });
    if (status !== 200) return say(data.error);
    library.comments = data.comments;
    say("removed from the library: the marks keep the comment", true);
    drawLibrary();
  });
  for (const input of [text, everywhere, label]) input.addEventListener("click", (event) => event.stopPropagation());
  row.className = "editing";
  row.replaceChildren(text, label, done, remove);
  text.focus();
}

// The keys of the search box: ↓/↑ choose, Enter adds the chosen comment to the card and gives
// the keys back, Esc gives them back. Whether the key was the library's.
function libraryKey(event) {
  const shown = found();
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    library.chosen = Math.max(0, Math.min(shown.length - 1, library.chosen + (event.key === "ArrowDown" ? 1 : -1)));
  } else if (event.key === "Enter") {
    $("library-search").blur();
    if (shown.length) useComment(shown[library.chosen]);
    $("library-search").value = "";
  } else if (event.key === "Escape") {
    $("library-search").blur();
    $("library-search").value = "";
  } else {
    return false;
  }
  event.preventDefault();
  drawLibrary();
  return true;
}
