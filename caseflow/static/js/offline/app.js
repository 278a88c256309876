/* The offline page: the facilitator's cases read from the tablet, forms that queue work in
   the outbox, the outbox itself (waiting, sent, refused, conflicts with choices).

   Nothing cached is shown before the server has said this person's session lives, or —
   with no answer — while the session the cache belongs to has not reached its end. When
   the session ends the cases are hidden and removed at once; unsent work stays sealed. */
(function () {
  "use strict";

  var root = document.getElementById("offline-app");
  if (!root || !window.CaseflowStore || !window.CaseflowSync || !window.CaseflowSession) { return; }
  var Store = window.CaseflowStore;
  var Sync = window.CaseflowSync;
  var Session = window.CaseflowSession;
  var T = JSON.parse(document.getElementById("offline-messages").textContent);
  var userId = parseInt(root.getAttribute("data-user-id"), 10);
  var csrf = root.getAttribute("data-csrf-token");
  var zone = root.getAttribute("data-timezone");
  var zoneLabel = root.getAttribute("data-zone");
  var API = "/api/v1";
  var RETRY_EVERY_MS = 5000;
  var SESSION_CHECK_MS = 30 * 1000;
  var SENT_SHOWN_MS = 10 * 60 * 1000;
  /* "checking" until the first answer; then "live", "offline" (no answer, session not yet
     at its end) or "ended". Only the first two show or send anything. */
  var sessionState = "checking";

  function unlocked() { return sessionState === "live" || sessionState === "offline"; }

  function $(selector, within) { return (within || root).querySelector(selector); }

  function el(tag, text, attrs) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    return node;
  }

  function localTime(iso) {
    if (!iso) { return ""; }
    try {
      return new Date(iso).toLocaleString(document.documentElement.lang || "id",
        {timeZone: zone, dateStyle: "medium", timeStyle: "short"}) + " " + zoneLabel;
    } catch (e) { return iso; }
  }

  /* "Now" in the facilitator's own zone, as a datetime-local value. */
  function nowInZone() {
    var parts = {};
    new Intl.DateTimeFormat("en-GB", {timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23"}).formatToParts(new Date())
      .forEach(function (p) { parts[p.type] = p.value; });
    return parts.year + "-" + parts.month + "-" + parts.day + "T" + parts.hour + ":" + parts.minute;
  }

  // --- reading from the server ----------------------------------------------------------

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      });
  }

  function listAll(url, items) {
    return getJSON(url).then(function (page) {
      items = (items || []).concat(page.items);
      if (page.next_cursor) {
        return listAll(API + "/cases?limit=100&cursor=" + encodeURIComponent(page.next_cursor), items);
      }
      return items;
    });
  }

  /* Online: store every assigned case with its records and steps on the tablet. */
  function refresh() {
    if (!navigator.onLine || sessionState !== "live") { return Promise.resolve(); }
    return listAll(API + "/cases?limit=100").then(function (summaries) {
      var ids = {};
      return Promise.all(summaries.map(function (summary) {
        ids[summary.id] = true;
        return getJSON(API + "/cases/" + summary.id).then(function (detail) {
          if (sessionState !== "live") { return; }
          return Store.put("cases", {id: detail.id, user_id: userId, version: detail.version, detail: detail,
                                     fetched_at: new Date().toISOString()});
        });
      })).then(function () { return Store.all("cases"); }).then(function (cached) {
        return Promise.all(cached.filter(function (c) { return !ids[c.id]; })
          .map(function (c) { return Store.remove("cases", c.id); }));
      }).then(function () {
        return Store.put("meta", {key: "refreshed_at", value: new Date().toISOString()});
      });
    }).catch(function () { /* stay with what the tablet has */ });
  }

  // --- rendering -----------------------------------------------------------------------

  function statusText(entry) {
    if (entry.status === "done") { return T.sent + " · " + localTime(entry.confirmed_at); }
    if (entry.status === "sending") { return T.sending; }
    if (entry.status === "conflict") { return T.conflict; }
    if (entry.status === "failed") { return T.failed; }
    var text = T.waiting;
    if (entry.problem && entry.problem.title) { text += " · " + entry.problem.title; }
    if (entry.next_attempt_at && entry.next_attempt_at > Date.now()) {
      text += " · " + T.retry_at + " " + new Date(entry.next_attempt_at).toLocaleTimeString();
    }
    return text;
  }

  function summaryOf(entry) {
    var body = entry.body || {};
    if (entry.kind === "step") {
      return (T.step_types[body.step_type] || body.step_type) + " — " + (body.notes || "");
    }
    if (entry.kind === "assessment") { return body.problem || ""; }
    if (entry.kind === "termination") { return body.outcome || ""; }
    if (entry.kind === "plan") {
      return (body.goals || []).length + " " + T.goal_count + ": " +
        (body.goals || []).map(function (g) { return g.description; }).join("; ");
    }
    if (entry.kind === "evaluation") {
      return (body.ratings || []).map(function (r) { return T.ratings[r.rating] || r.rating; }).join(", ");
    }
    return "";
  }

  function problemBlock(entry) {
    var box = el("div", null, {"class": "outbox-problem"});
    var problem = entry.problem || {};
    if (problem.detail) { box.appendChild(el("p", problem.detail)); }
    Object.keys(problem.errors || {}).forEach(function (field) {
      box.appendChild(el("p", field + ": " + problem.errors[field].join(" "), {"class": "field-error"}));
    });
    var current = problem.current;
    if (current) {
      var now = current.reassigned ? T.reassigned :
        T.current_state + ": " + (current.state || "") + " · " + T.version + " " + current.version;
      box.appendChild(el("p", now, {"data-current-state": ""}));
    }
    var actions = el("p", null, {"class": "outbox-choices"});
    var canResend = entry.status === "conflict" && current && !current.reassigned &&
      typeof current.version === "number" && !/^(resolved|closed_unresolved)$/.test(current.state || "");
    if (canResend) {
      actions.appendChild(button(T.resend, "resend", function () {
        Sync.resend(userId, entry.seq, current.version).then(function () { return sendNow(true); });
      }));
    }
    actions.appendChild(button(T.keep_note, "keep-note", function () {
      Sync.keepAsNote(entry.seq).then(render);
    }));
    actions.appendChild(button(T.discard, "discard", function () {
      if (window.confirm(T.discard_confirm)) { Sync.discard(entry.seq).then(render); }
    }));
    box.appendChild(actions);
    return box;
  }

  function button(label, name, onClick) {
    var b = el("button", label, {"type": "button", "class": "button", "data-choice": name});
    b.addEventListener("click", onClick);
    return b;
  }

  function renderOutbox(entries) {
    var list = $("[data-outbox]");
    list.textContent = "";
    var open = entries.filter(function (e) { return e.status !== "done"; });
    $("[data-outbox-count]").textContent = String(open.length);
    $("[data-outbox-empty]").hidden = open.length > 0;
    entries.forEach(function (entry) {
      var item = el("li", null, {"class": "outbox-entry outbox-" + entry.status,
                                 "data-entry": entry.kind, "data-status": entry.status});
      item.appendChild(el("strong", (T.kinds[entry.kind] || entry.kind) + " · " + (entry.case_number || "")));
      item.appendChild(el("span", " " + summaryOf(entry)));
      item.appendChild(el("p", statusText(entry), {"class": "muted", "data-entry-status": ""}));
      item.appendChild(el("p", T.done_on_tablet + ": " + localTime(entry.device_time), {"class": "muted"}));
      if (entry.status === "conflict" || entry.status === "failed") { item.appendChild(problemBlock(entry)); }
      list.appendChild(item);
    });
  }

  function renderNotes(notes) {
    var section = $("[data-notes-section]");
    var list = $("[data-notes]");
    list.textContent = "";
    section.hidden = notes.length === 0;
    notes.forEach(function (note) {
      var item = el("li", null, {"data-note": note.kind});
      item.appendChild(el("strong", (T.kinds[note.kind] || note.kind) + " · " + (note.case_number || "")));
      item.appendChild(el("span", " " + summaryOf(note) + " · " + localTime(note.device_time)));
      list.appendChild(item);
    });
  }

  function renderCases(cases) {
    var list = $("[data-cases]");
    list.textContent = "";
    $("[data-cases-empty]").hidden = cases.length > 0;
    cases.sort(function (a, b) { return b.id - a.id; }).forEach(function (c) {
      var d = c.detail;
      var item = el("li", null, {"class": "case-item"});
      var link = el("a", null, {"href": "#case-" + d.id, "data-case-link": d.number});
      link.appendChild(el("span", d.client.full_name, {"class": "case-title"}));
      link.appendChild(el("span", " · " + d.number + " · " + d.state_title, {"class": "muted"}));
      item.appendChild(link);
      list.appendChild(item);
    });
  }

  function recordBlock(title, rows) {
    var box = el("div", null, {"class": "record"});
    box.appendChild(el("h3", title));
    if (!rows) { box.appendChild(el("p", T.no_record, {"class": "muted"})); return box; }
    var dl = el("dl");
    rows.forEach(function (row) {
      if (row[1] === null || row[1] === undefined || row[1] === "") { return; }
      dl.appendChild(el("dt", row[0]));
      dl.appendChild(el("dd", row[1]));
    });
    box.appendChild(dl);
    return box;
  }

  function renderCase(cached, entries) {
    var section = $("[data-case-section]");
    var listSection = $("[data-case-list-section]");
    if (!cached) { section.hidden = true; listSection.hidden = false; return; }
    var d = cached.detail;
    section.hidden = false;
    listSection.hidden = true;
    section.setAttribute("data-case-id", d.id);
    $("[data-case-title]").textContent = d.client.full_name + " · " + d.number;
    $("[data-case-meta]").textContent = d.state_title + (d.stage_due_at ? " · " + T.due + " " + localTime(d.stage_due_at) : "");
    var records = $("[data-case-records]");
    records.textContent = "";
    var a = d.assessment;
    records.appendChild(recordBlock(T.assessment, a && [["problem", a.problem], ["needs", a.needs],
      ["strengths", a.strengths], ["resources", a.resources], ["risk_level", a.risk_level]]));
    var p = d.plan;
    records.appendChild(recordBlock(T.plan, p && [["summary", p.summary]].concat(
      p.goals.map(function (g, i) { return [T.goals + " " + (i + 1), g.description + (g.target_date ? " (" + g.target_date + ")" : "")]; }))));
    var steps = $("[data-case-steps]");
    steps.textContent = "";
    d.steps.forEach(function (s) {
      steps.appendChild(el("li", localTime(s.occurred_at) + " · " + (T.step_types[s.step_type] || s.step_type) +
        " · " + s.notes, {"data-step": "server"}));
    });
    entries.filter(function (e) { return e.case_id === d.id && e.kind === "step" && e.status !== "done"; })
      .forEach(function (e) {
        steps.appendChild(el("li", e.body.occurred_at.replace("T", " ") + " " + zoneLabel + " · " +
          (T.step_types[e.body.step_type] || e.body.step_type) + " · " + e.body.notes + " (" + T.not_sent_steps + ")",
          {"data-step": "queued"}));
      });
    if (!steps.children.length) { steps.appendChild(el("li", T.no_steps, {"class": "muted"})); }
    var goalSelect = $("#o-goal");
    while (goalSelect.options.length > 1) { goalSelect.remove(1); }
    (p ? p.goals : []).forEach(function (g) { goalSelect.add(new Option(g.description, String(g.id))); });
    var stepForm = $("[data-offline-form=step]");
    if (!stepForm.elements.occurred_at.value) { stepForm.elements.occurred_at.value = nowInZone(); }
    var assessmentForm = $("[data-offline-form=assessment]");
    /* An assessment still waiting in the outbox is what the facilitator last wrote. */
    var queuedAssessment = entries.filter(function (e) {
      return e.case_id === d.id && e.kind === "assessment" && e.status !== "done";
    }).pop();
    if (queuedAssessment) { a = queuedAssessment.body; }
    if (assessmentForm.getAttribute("data-filled-for") !== String(d.id)) {
      ["problem", "needs", "strengths", "resources"].forEach(function (name) {
        assessmentForm.elements[name].value = a ? a[name] : "";
      });
      assessmentForm.elements.risk_level.value = a && a.risk_level ? a.risk_level : "";
      assessmentForm.setAttribute("data-filled-for", String(d.id));
    }
    renderRecordForms(cached, entries);
  }

  /* The last entry of this kind for this case still in the outbox: what the facilitator
     last wrote, so the form shows it rather than the older record from the server. */
  function queuedEntry(entries, caseId, kind) {
    return entries.filter(function (e) {
      return e.case_id === caseId && e.kind === kind && e.status !== "done";
    }).pop();
  }

  function editable(d, record) {
    var states = (T.editable || {})[d.workflow] || {};
    return (states[d.state] || []).indexOf(record) >= 0;
  }

  function addGoalRow(goal) {
    var row = document.getElementById("offline-goal-row").content.firstElementChild.cloneNode(true);
    row.querySelector("[name=goal_id]").value = goal && goal.id ? String(goal.id) : "";
    row.querySelector("[name=goal_description]").value = goal ? goal.description || "" : "";
    row.querySelector("[name=goal_target_date]").value = goal && goal.target_date ? goal.target_date : "";
    row.querySelector("[name=goal_responsible_party]").value = goal ? goal.responsible_party || "" : "";
    $("[data-plan-goals]").appendChild(row);
    $("[data-plan-no-goals]").hidden = true;
    return row;
  }

  function fillPlanForm(form, plan) {
    form.elements.summary.value = plan ? plan.summary || "" : "";
    $("[data-plan-goals]").textContent = "";
    ((plan && plan.goals) || []).forEach(addGoalRow);
    $("[data-plan-no-goals]").hidden = $("[data-plan-goals]").children.length > 0;
  }

  function fillEvaluationForm(form, goals, evaluation) {
    form.elements.summary.value = evaluation ? evaluation.summary || "" : "";
    var list = $("[data-evaluation-goals]");
    list.textContent = "";
    var byGoal = {};
    ((evaluation && evaluation.ratings) || []).forEach(function (r) { byGoal[r.goal_id] = r; });
    goals.forEach(function (goal) {
      var row = document.getElementById("offline-rating-row").content.firstElementChild.cloneNode(true);
      var rating = byGoal[goal.id];
      row.setAttribute("data-goal-id", String(goal.id));
      row.querySelector("[data-rating-goal]").textContent = goal.description +
        (goal.target_date ? " (" + goal.target_date + ")" : "");
      row.querySelector("[name=rating]").value = rating ? rating.rating : "";
      row.querySelector("[name=rating_notes]").value = rating ? rating.notes || "" : "";
      list.appendChild(row);
    });
    $("[data-evaluation-no-goals]").hidden = goals.length > 0;
  }

  /* Fill a record form again only when what it shows changed (another case, the record as
     the server now holds it, another queued entry), not while the facilitator types. */
  function refill(form, key, fill) {
    if (form.getAttribute("data-filled-for") === key) { return; }
    fill();
    form.setAttribute("data-filled-for", key);
  }

  function renderRecordForms(cached, entries) {
    var d = cached.detail;
    var planForm = $("[data-offline-form=plan]");
    var queuedPlan = queuedEntry(entries, d.id, "plan");
    planForm.hidden = !editable(d, "plan");
    if (!planForm.hidden) {
      var plan = queuedPlan ? queuedPlan.body : d.plan;
      refill(planForm, JSON.stringify([d.id, plan]), function () { fillPlanForm(planForm, plan); });
    }
    var evaluationForm = $("[data-offline-form=evaluation]");
    var queuedEvaluation = queuedEntry(entries, d.id, "evaluation");
    evaluationForm.hidden = !editable(d, "evaluation");
    if (!evaluationForm.hidden) {
      var goals = d.plan ? d.plan.goals : [];
      var evaluation = queuedEvaluation ? queuedEvaluation.body : d.evaluation;
      refill(evaluationForm, JSON.stringify([d.id, goals, evaluation]), function () {
        fillEvaluationForm(evaluationForm, goals, evaluation);
      });
    }
  }

  function selectedCaseId() {
    var match = /^#case-(\d+)$/.exec(window.location.hash);
    return match ? parseInt(match[1], 10) : null;
  }

  /* Nothing of a case stays in the page, shown or hidden: titles, records, steps, forms. */
  function clearCaseSection() {
    ["[data-case-title]", "[data-case-meta]", "[data-case-records]", "[data-case-steps]",
     "[data-plan-goals]", "[data-evaluation-goals]"].forEach(function (selector) {
      $(selector).textContent = "";
    });
    Array.prototype.forEach.call(root.querySelectorAll("form[data-offline-form]"), function (form) {
      form.reset();
      form.removeAttribute("data-filled-for");
      var queued = form.querySelector("[data-queued]");
      if (queued) { queued.remove(); }
    });
    var goalSelect = $("#o-goal");
    while (goalSelect.options.length > 1) { goalSelect.remove(1); }
    $("[data-case-section]").removeAttribute("data-case-id");
  }

  /* The session has ended: no name, no case, no entry's content; only how much waits. */
  function renderLocked() {
    return Store.unsentCount(userId).then(function (waiting) {
      clearCaseSection();
      renderOutbox([]);
      $("[data-outbox-count]").textContent = String(waiting);
      $("[data-outbox-empty]").hidden = true;
      renderNotes([]);
      renderCases([]);
      renderCase(null, []);
      $("[data-case-list-section]").hidden = true;
      $("[data-refreshed]").textContent = "";
      $("[data-session-ended]").hidden = sessionState === "checking";
      $("[data-send-now]").hidden = true;
      $("[data-connection]").textContent = sessionState === "checking" ? T.checking : T.session_ended;
      root.setAttribute("data-session-state", sessionState);
    });
  }

  function render() {
    if (!unlocked()) { return renderLocked(); }
    return Promise.all([Store.allOpen("outbox", userId), Store.allOpen("notes", userId), Store.all("cases"),
                        Store.get("meta", "refreshed_at")])
      .then(function (found) {
        if (!unlocked()) { return renderLocked(); }
        var entries = found[0].sort(function (x, y) { return x.seq - y.seq; });
        renderOutbox(entries);
        renderNotes(found[1]);
        var cases = found[2].filter(function (c) { return c.user_id === userId; });
        found[2] = cases;
        $("[data-session-ended]").hidden = true;
        $("[data-send-now]").hidden = false;
        $("[data-case-list-section]").hidden = false;
        root.setAttribute("data-session-state", sessionState);
        renderCases(cases);
        var id = selectedCaseId();
        renderCase(found[2].filter(function (c) { return c.id === id; })[0], entries);
        $("[data-refreshed]").textContent = found[3] ? T.refreshed + ": " + localTime(found[3].value) : "";
        $("[data-connection]").textContent = navigator.onLine ? T.online : T.offline;
        root.setAttribute("data-online", navigator.onLine ? "1" : "0");
      });
  }

  // --- sending -------------------------------------------------------------------------

  var syncing = null;

  /* Send what is due; after anything was sent (or when asked), read the cases again so
     the tablet shows what the server now holds. */
  function sendNow(refreshAfter) {
    if (syncing) { return syncing; }
    syncing = render().then(function () {
      if (!navigator.onLine || sessionState !== "live") { return {outcome: "offline", sent: 0}; }
      return Sync.sendAll(userId, csrf, render);
    }).then(function (result) {
      if (result.outcome === "signed-out") {
        $("[data-connection]").textContent = T.sign_in_again;
        return checkSession();
      }
      if (result.outcome === "ok" && (result.sent || refreshAfter === true)) {
        return Sync.pruneConfirmed(SENT_SHOWN_MS).then(refresh);
      }
    }).then(render, render).then(function () {
      syncing = null;
      root.setAttribute("data-synced-at", String(Date.now()));
    });
    return syncing;
  }

  // --- forms ---------------------------------------------------------------------------

  function formValues(form) {
    var values = {};
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name) { return; }
      values[field.name] = field.type === "checkbox" ? field.checked : field.value;
    });
    return values;
  }

  function queue(caseId, kind, body, trigger) {
    return Store.get("cases", caseId).then(function (cached) {
      return Sync.enqueue(userId, {
        kind: kind, trigger: trigger || null, case_id: caseId,
        case_number: cached ? cached.detail.number : "", body: body,
        created_at: new Date().toISOString()
      });
    });
  }

  root.addEventListener("submit", function (event) {
    var form = event.target;
    var kind = form.getAttribute("data-offline-form");
    if (!kind) { return; }
    event.preventDefault();
    if (!unlocked()) { return; }
    var caseId = selectedCaseId();
    if (!caseId) { return; }
    var v = formValues(form);
    var queued;
    if (kind === "step") {
      var step = {step_type: v.step_type, occurred_at: v.occurred_at, notes: v.notes};
      if (v.location) { step.location = v.location; }
      if (v.goal_id) { step.goal_id = parseInt(v.goal_id, 10); }
      queued = queue(caseId, "step", step);
    } else if (kind === "assessment") {
      queued = queue(caseId, "assessment", {
        problem: v.problem, needs: v.needs, strengths: v.strengths, resources: v.resources,
        risk_level: v.risk_level || null});
    } else if (kind === "plan") {
      queued = queue(caseId, "plan", {
        summary: v.summary,
        goals: Array.prototype.map.call(form.querySelectorAll("[data-goal-row]"), function (row) {
          var goal = {
            description: row.querySelector("[name=goal_description]").value,
            target_date: row.querySelector("[name=goal_target_date]").value || null,
            responsible_party: row.querySelector("[name=goal_responsible_party]").value
          };
          var id = row.querySelector("[name=goal_id]").value;
          if (id) { goal.id = parseInt(id, 10); }
          return goal;
        })
      });
    } else if (kind === "evaluation") {
      var ratings = [];
      Array.prototype.forEach.call(form.querySelectorAll("[data-rating-row]"), function (row) {
        var rating = row.querySelector("[name=rating]").value;
        if (!rating) { return; }
        ratings.push({goal_id: parseInt(row.getAttribute("data-goal-id"), 10), rating: rating,
                      notes: row.querySelector("[name=rating_notes]").value});
      });
      queued = queue(caseId, "evaluation", {summary: v.summary, ratings: ratings});
    } else if (kind === "termination") {
      queued = queue(caseId, "termination", {
        outcome: v.outcome, closure_reason: v.closure_reason || null,
        reason_details: v.reason_details, aftercare_plan: v.aftercare_plan
      }).then(function () {
        if (v.request) { return queue(caseId, "transition", {}, "request_termination"); }
      });
    }
    queued.then(function () {
      /* Empty the step form for the next one, unless the facilitator already started it
         while this one was being saved. */
      if (kind === "step" && form.elements.notes.value === v.notes) {
        form.elements.notes.value = "";
        form.elements.location.value = "";
        form.elements.occurred_at.value = nowInZone();
      }
      var status = el("p", T.queued, {"role": "status", "class": "muted", "data-queued": ""});
      var old = form.querySelector("[data-queued]");
      if (old) { old.remove(); }
      form.appendChild(status);
      return sendNow();
    });
  });

  root.addEventListener("click", function (event) {
    if (event.target.matches("[data-send-now]")) { sendNow(true); }
    if (event.target.matches("[data-add-goal]")) {
      addGoalRow(null).querySelector("[name=goal_description]").focus();
    }
    if (event.target.matches("[data-remove-goal]")) {
      event.target.closest("[data-goal-row]").remove();
      $("[data-plan-no-goals]").hidden = $("[data-plan-goals]").children.length > 0;
    }
    if (event.target.matches("[data-back]")) {
      event.preventDefault();
      window.location.hash = "";
    }
  });

  /* Ask again whose session this is; an ended one hides everything at once. */
  var checking = null;
  function checkSession() {
    if (checking) { return checking; }
    checking = Session.check(userId).then(function (state) {
      if (state === "other-user") {
        /* Someone else signed in on this browser: this page is not theirs. */
        sessionState = "ended";
        window.location.reload();
        return state;
      }
      sessionState = state;
      return state;
    }, function () {
      sessionState = "ended";
      return Session.forget().then(function () { return sessionState; });
    }).then(function (state) {
      checking = null;
      return render().then(function () { return state; });
    });
    return checking;
  }

  window.addEventListener("hashchange", render);
  window.addEventListener("online", function () {
    checkSession().then(function () { return sendNow(true); });
  });
  window.addEventListener("offline", render);
  window.addEventListener("focus", checkSession);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { checkSession(); }
  });
  window.setInterval(function () { if (navigator.onLine) { sendNow(); } }, RETRY_EVERY_MS);
  window.setInterval(checkSession, SESSION_CHECK_MS);

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.ready.then(function (registration) {
      if (registration.active && navigator.onLine) {
        registration.active.postMessage({type: "keep-offline-page"});
      }
    });
  }

  render().then(checkSession)
    .then(function () { return navigator.onLine && sessionState === "live" ? refresh().then(function () { return sendNow(); }) : null; })
    .then(render).then(function () { root.setAttribute("data-ready", "1"); });
})();
