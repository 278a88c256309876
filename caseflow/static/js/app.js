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
        dateEchoes(row);
        renumber();
        var first = row.querySelector("textarea, input");
        if (first) { first.focus(); }
      });
      renumber();
    });
  }

  /* Long imports and exports: <progress data-job-status="URL"> follows the job's status
     JSON (status, done, total) every two seconds, and [data-job-count] shows the numbers;
     once the job has ended the page is reloaded to show its outcome. Without this script
     the page reloads itself instead (<noscript><meta http-equiv="refresh">). */
  function jobProgress() {
    var bar = document.querySelector("progress[data-job-status]");
    if (!bar || !window.fetch) { return; }
    var url = bar.getAttribute("data-job-status");
    var count = document.querySelector("[data-job-count]");

    function poll() {
      window.fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.json();
        })
        .then(function (job) {
          if (job.total) { bar.max = job.total; }
          bar.value = job.done;
          bar.textContent = job.done + " / " + job.total;
          if (count) { count.textContent = job.done + " / " + job.total; }
          if (job.status === "pending" || job.status === "running") {
            window.setTimeout(poll, 2000);
          } else {
            window.location.reload();
          }
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    }
    window.setTimeout(poll, 1000);
  }

  /* Date fields: the tablet's browser decides how <input type=date> looks (often in its own
     language or as mm/dd/yyyy); the chosen day is written beside it the page's way
     ("6 Januari 2027"). Where the browser has no date picker the field is plain text and
     the server accepts a day typed first ("6/1/2027", "6 Januari 2027"). */
  function dateEchoes(root) {
    var lang = document.documentElement.lang === "en" ? "en-GB" : "id-ID";
    var format;
    try {
      format = new Intl.DateTimeFormat(lang, { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
    } catch (e) { return; }
    (root || document).querySelectorAll("input[type=date], input[data-date-echo]").forEach(function (input) {
      if (input.type !== "date") {
        input.setAttribute("data-date-echo", "");
        if (!input.placeholder) { input.placeholder = lang === "id-ID" ? "hh/bb/tttt" : "dd/mm/yyyy"; }
        return;
      }
      var echo = document.createElement("span");
      echo.className = "date-echo";
      echo.setAttribute("aria-live", "polite");
      input.insertAdjacentElement("afterend", echo);
      function show() {
        var parts = /^(\d{4})-(\d{2})-(\d{2})$/.exec(input.value);
        echo.textContent = parts ? format.format(new Date(Date.UTC(+parts[1], +parts[2] - 1, +parts[3]))) : "";
      }
      input.addEventListener("input", show);
      input.addEventListener("change", show);
      show();
    });
  }

  ready(function () {
    confirmations();
    dateEchoes();
    focusErrors();
    goals();
    jobProgress();
  });
})();
