/* Small progressive enhancements. Every page works without this file; the CSP forbids
   inline scripts, so behaviour is attached here through data- attributes. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  /* Buttons with data-confirm="…" ask before their form is sent. */
  function confirmations() {
    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-confirm]");
      if (button && !window.confirm(button.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  }

  /* A form's error summary gets the focus, so a screen reader announces it. */
  function focusErrors() {
    var summary = document.querySelector(".error-summary");
    if (summary) { summary.focus(); }
  }

  /* Intervention plan: goals added and removed on the page.
     <div data-goals data-next-index="N"> holds .goal rows; <template data-goal-template>
     holds one row with __INDEX__ where the row number goes; [data-add-goal] adds a row and
     [data-remove-goal] removes its row. Without JavaScript the page offers an empty row and a
     "remove" checkbox per goal instead. */
  function goals() {
    document.querySelectorAll("[data-goals]").forEach(function (container) {
      var template = container.querySelector("template[data-goal-template]");
      var add = container.parentElement.querySelector("[data-add-goal]");
      if (!template || !add) { return; }
      var next = parseInt(container.getAttribute("data-next-index"), 10) || 0;

      function renumber() {
        container.querySelectorAll(".goal [data-goal-number]").forEach(function (span, i) {
          span.textContent = String(i + 1);
        });
      }

      function wire(row) {
        var remove = row.querySelector("[data-remove-goal]");
        var checkbox = row.querySelector(".no-js-only input[type=checkbox]");
        if (checkbox) { checkbox.checked = false; checkbox.disabled = true; }
        if (remove) {
          remove.hidden = false;
          remove.addEventListener("click", function () {
            row.remove();
            renumber();
            add.focus();
          });
        }
      }

      container.querySelectorAll(".goal").forEach(wire);
      add.hidden = false;
      add.addEventListener("click", function () {
        var html = template.innerHTML.replace(/__INDEX__/g, String(next));
        next += 1;
        var holder = document.createElement("div");
        holder.innerHTML = html.trim();
        var row = holder.firstElementChild;
        container.appendChild(row);
        wire(row);
        renumber();
        var first = row.querySelector("textarea, input");
        if (first) { first.focus(); }
      });
      renumber();
    });
  }

  ready(function () {
    confirmations();
    focusErrors();
    goals();
  });
})();
