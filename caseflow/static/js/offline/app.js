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
  var casesById = {};
  var lastEntries = [];
  var outboxUnfolded = null;

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

  var lang = document.documentElement.lang || "id";

  /* A day (YYYY-MM-DD) as the online pages write it, in the user's language. */
  function localDay(day) {
    if (!day) { return ""; }
    var parts = /^(\d{4})-(\d{2})-(\d{2})/.exec(day);
    if (!parts) { return day; }
    try {
      return new Date(Date.UTC(+parts[1], +parts[2] - 1, +parts[3])).toLocaleDateString(lang,
        {timeZone: "UTC", day: "numeric", month: "long", year: "numeric"});
    } catch (e) { return day; }
  }

  /* A time typed on the tablet (datetime-local, in the facilitator's zone). */
  function typedTime(value) {
    var parts = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(value || "");
    return parts ? localDay(parts[1]) + " " + parts[2].replace(":", ".") + " " + zoneLabel : (value || "");
  }

  function fill(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (all, name) {
      return values[name] !== undefined ? String(values[name]) : all;
    });
  }

  /* A field named by the server ("assessment.risk_level", "goals.1.target_date") in words. */
  function fieldLabel(field) {
    var parts = String(field).split(".");
    for (var i = parts.length - 1; i >= 0; i--) {
      if (T.fields[parts[i]]) { return T.fields[parts[i]]; }
    }
    return T.fields.body;
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

  // --- the case as the tablet sees it ---------------------------------------------------

  function workflowOf(d) { return T.workflows[d.workflow] || T.workflows[T.default_workflow]; }

  function stateLabel(workflow, state) {
    var found = workflow && workflow.states[state];
    return found ? found.label : "";
  }

  /* The case the server last gave, moved on by the entries still waiting for it (in the
     order they were made; a refused entry did not happen). */
  function localView(d, entries) {
    var since = d.stage_entered_at ? Date.parse(d.stage_entered_at) : 0;
    var view = {state: d.state, assessment: d.assessment, plan: d.plan, evaluation: d.evaluation,
                termination: d.termination, moved: false,
                stepSinceStage: (d.steps || []).some(function (st) { return Date.parse(st.recorded_at) >= since; })};
    var workflow = workflowOf(d);
    entries.filter(function (e) {
      return e.case_id === d.id && e.status !== "done" && e.status !== "failed" && e.status !== "conflict";
    }).forEach(function (e) {
      if (e.kind === "step") { view.stepSinceStage = true; }
      if (e.kind === "assessment" || e.kind === "plan" || e.kind === "evaluation" || e.kind === "termination") {
        view[e.kind] = e.body;
      }
      if (e.kind === "transition") {
        var move = workflow.transitions.filter(function (t) {
          return t.trigger === e.trigger && t.sources.indexOf(view.state) >= 0;
        })[0];
        if (move) { view.state = move.dest; view.moved = true; view.stepSinceStage = false; }
      }
    });
    return view;
  }

  function blank(value) { return value === null || value === undefined || String(value).trim() === ""; }

  function goalsOf(plan) {
    return ((plan && plan.goals) || []).filter(function (g) { return !g.archived; });
  }

  /* The workflow file's guards, as the tablet can check them; the server checks them all
     again when the move arrives. A guard not known here is left to the server. */
  var G = T.guards;
  var GUARDS = {
    assessment_complete: function (v) {
      var a = v.assessment;
      if (!a) { return [G.assessment_missing]; }
      return [["problem", G.the_problem], ["needs", G.the_needs], ["strengths", G.the_strengths],
              ["risk_level", G.the_risk_level]].filter(function (f) { return blank(a[f[0]]); })
        .map(function (f) { return fill(G.assessment_lacks, {what: f[1]}); });
    },
    plan_complete: function (v) {
      if (!v.plan) { return [G.plan_missing]; }
      var goals = goalsOf(v.plan);
      if (!goals.length) { return [G.plan_no_goals]; }
      var missing = [];
      goals.forEach(function (g, i) {
        if (blank(g.description)) { missing.push(fill(G.goal_no_description, {n: i + 1})); }
        if (blank(g.target_date)) { missing.push(fill(G.goal_no_target, {n: i + 1})); }
        if (blank(g.responsible_party)) { missing.push(fill(G.goal_no_responsible, {n: i + 1})); }
      });
      return missing;
    },
    intervention_step_logged: function (v) { return v.stepSinceStage ? [] : [G.step_missing]; },
    evaluation_complete: function (v) {
      if (!v.evaluation) { return [G.evaluation_missing]; }
      var rated = {};
      (v.evaluation.ratings || []).forEach(function (r) { rated[r.goal_id] = true; });
      var missing = [];
      goalsOf(v.plan).forEach(function (g, i) {
        if (!rated[g.id]) { missing.push(fill(G.evaluation_unrated, {n: i + 1})); }
      });
      return missing;
    },
    some_goal_not_achieved: function (v) {
      var ratings = (v.evaluation && v.evaluation.ratings) || [];
      return ratings.some(function (r) { return r.rating !== "achieved"; }) ? [] : [G.all_achieved];
    },
    termination_request_complete: function (v) {
      var t = v.termination;
      if (!t) { return [G.termination_missing]; }
      if (t.outcome === "closed_unresolved" && blank(t.closure_reason)) { return [G.closure_reason_missing]; }
      if (t.outcome === "resolved" && blank(t.aftercare_plan)) { return [G.aftercare_missing]; }
      return [];
    }
  };

  /* The moves the facilitator may make now, each with what is still missing. */
  function movesFor(d, view) {
    return workflowOf(d).transitions.filter(function (t) { return t.sources.indexOf(view.state) >= 0; })
      .map(function (t) {
        var missing = [];
        var unknown = false;
        t.guards.forEach(function (name) {
          if (GUARDS[name]) { missing = missing.concat(GUARDS[name](view)); } else { unknown = true; }
        });
        return {transition: t, missing: missing, unknown: unknown};
      });
  }

  function editableIn(d, view, record) {
    var state = workflowOf(d).states[view.state];
    return !!state && state.records.indexOf(record) >= 0;
  }

  /* Cases opened on the tablet, until the server has them: made from their outbox entries. */
  function provisionalCases(entries) {
    var clients = {};
    entries.forEach(function (e) { if (e.kind === "client") { clients[e.key] = e; } });
    return entries.filter(function (e) { return e.kind === "case" && e.status !== "done"; }).map(function (e) {
      var client = clients[e.client_ref];
      var workflow = T.workflows[T.default_workflow];
      return {id: "p-" + e.key, user_id: userId, version: 1, provisional: true, detail: {
        id: "p-" + e.key, number: T.provisional + " " + e.key.slice(0, 6).toUpperCase(),
        workflow: T.default_workflow, state: workflow.initial, state_title: stateLabel(workflow, workflow.initial),
        client: {full_name: client ? (client.body.full_name || T.kinds.client) : T.kinds.client},
        ppks_category_code: e.body.ppks_category_code, stage_entered_at: e.device_time,
        assessment: null, plan: null, evaluation: null, termination: null, steps: [], provisional: true}};
    });
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
    if (entry.kind === "termination") { return T.outcomes[body.outcome] || ""; }
    if (entry.kind === "client") {
      return body.birth_date && !body.existing_client_id ? localDay(body.birth_date) : "";
    }
    if (entry.kind === "case") { return T.categories[body.ppks_category_code] || ""; }
    if (entry.kind === "attachment") {
      return (T.purposes[body.purpose] || "") + (body.data ? " · " + Math.ceil(body.data.length * 3 / 4 / 1000) + " kB" : "");
    }
    if (entry.kind === "transition") {
      var moves = [];
      Object.keys(T.workflows).forEach(function (name) {
        T.workflows[name].transitions.forEach(function (t) { if (t.trigger === entry.trigger) { moves.push(t.label); } });
      });
      return moves[0] || "";
    }
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
      var messages = problem.errors[field].filter(function (m) { return m !== problem.detail; });
      if (messages.length) {
        box.appendChild(el("p", fieldLabel(field) + ": " + messages.join(" "), {"class": "field-error"}));
      }
    });
    var current = problem.current;
    var actions = el("p", null, {"class": "outbox-choices"});
    if (entry.status === "conflict" && current) { box.appendChild(sideBySide(entry, current)); }
    if (entry.kind === "client" && current && current.duplicates) { box.appendChild(duplicateChoices(entry, current.duplicates)); }
    var canResend = entry.status === "conflict" && current && !current.reassigned &&
      typeof current.version === "number" && fitsOnServer(entry, current);
    if (canResend) {
      actions.appendChild(button(T.resend, "resend", function () {
        Sync.resend(userId, entry.seq, current.version).then(function () { return sendNow(true); });
      }));
    }
    /* A move or record refused for what was missing: fixed by work queued before it. */
    if (entry.status === "failed" && /(guard-failed|invalid-transition)$/.test(problem.type || "")) {
      actions.appendChild(button(T.resend_fixed, "retry", function () {
        Sync.retry(userId, entry.seq).then(function () { return sendNow(true); });
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

  /* Sending again on the server's version makes sense only if the case's stage there still
     takes this entry (a step on an open case, a record its stage lets change, a move from it). */
  function fitsOnServer(entry, current) {
    var workflow = T.workflows[current.workflow] || T.workflows[T.default_workflow];
    var state = workflow.states[current.state];
    if (!state) { return false; }
    if (entry.kind === "step") { return !state.final; }
    if (entry.kind === "transition") {
      return workflow.transitions.some(function (t) {
        return t.trigger === entry.trigger && t.sources.indexOf(current.state) >= 0;
      });
    }
    return state.records.indexOf(entry.kind) >= 0;
  }

  /* A real conflict: what the tablet's work was based on beside what the server holds now. */
  function sideBySide(entry, current) {
    var table = el("table", null, {"class": "side-by-side", "data-current-state": ""});
    var head = el("tr");
    head.appendChild(el("th", ""));
    head.appendChild(el("th", T.on_tablet, {"scope": "col"}));
    head.appendChild(el("th", T.on_server, {"scope": "col"}));
    table.appendChild(head);
    function row(label, mine, theirs) {
      var tr = el("tr");
      tr.appendChild(el("th", label, {"scope": "row"}));
      tr.appendChild(el("td", mine));
      tr.appendChild(el("td", theirs));
      table.appendChild(tr);
    }
    var cached = casesById[entry.case_id];
    var workflow = cached ? workflowOf(cached.detail) : T.workflows[T.default_workflow];
    if (current.reassigned) {
      row(T.facilitator, root.getAttribute("data-user-name") || "", T.reassigned);
    } else {
      row(T.stage, stateLabel(workflow, entry.base_state || (cached && cached.detail.state)),
          stateLabel(workflow, current.state) || current.state_title || "");
      row(T.version, String(entry.base_version), String(current.version));
    }
    return table;
  }

  /* A possible duplicate found when the new client reached the server: the facilitator
     continues with an existing client, or keeps the new one saying why. */
  function duplicateChoices(entry, duplicates) {
    var box = el("div", null, {"class": "duplicate-choices", "data-duplicates": ""});
    box.appendChild(el("p", T.duplicate_intro));
    duplicates.forEach(function (d) {
      var text = fill(T.use_existing, {name: d.full_name}) + " (" + [d.masked_nik, d.birth_date ? T.born + " " + localDay(d.birth_date) : "",
        d.same_nik ? T.same_nik : ""].filter(Boolean).join(" · ") + ")";
      box.appendChild(el("p")).appendChild(button(text, "use-existing", function () {
        Sync.retry(userId, entry.seq, function () { return {existing_client_id: d.id}; })
          .then(function () { return sendNow(true); });
      }));
    });
    if (!duplicates.some(function (d) { return d.same_nik; })) {
      var id = "reason-" + String(entry.seq).replace(/\W/g, "-");
      var field = el("div", null, {"class": "field"});
      field.appendChild(el("label", T.keep_new_reason, {"for": id}));
      var reason = el("textarea", null, {"id": id, "rows": "2", "maxlength": "500", "data-distinct-reason": ""});
      field.appendChild(reason);
      box.appendChild(field);
      var error = el("p", T.reason_required, {"class": "field-error"});
      error.hidden = true;
      box.appendChild(error);
      box.appendChild(el("p")).appendChild(button(T.keep_new, "keep-new", function () {
        if (!reason.value.trim()) { error.hidden = false; reason.focus(); return; }
        Sync.retry(userId, entry.seq, function (body) {
          var kept = {};
          Object.keys(body).forEach(function (k) { if (k !== "existing_client_id") { kept[k] = body[k]; } });
          kept.distinct_reason = reason.value.trim();
          return kept;
        }).then(function () { return sendNow(true); });
      }));
    }
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
    var refused = open.filter(function (e) { return e.status === "failed" || e.status === "conflict"; });
    var oldest = open.filter(function (e) { return e.status === "waiting"; })[0];
    var summary = [];
    if (refused.length) { summary.push(fill(T.failed_count, {n: refused.length})); }
    if (oldest) { summary.push(T.oldest_waiting + " " + localTime(oldest.device_time)); }
    $("[data-outbox-summary]").textContent = summary.join(" · ");
    $("[data-outbox-summary]").hidden = summary.length === 0;
    $("[data-outbox-summary]").classList.toggle("outbox-summary-refused", refused.length > 0);
    /* On a case page the list folds away, unless something waits for the facilitator's choice. */
    var unfold = selectedCaseId() === null || refused.length > 0;
    if (unfold !== outboxUnfolded) { $("[data-outbox-details]").open = unfold; outboxUnfolded = unfold; }
    entries.forEach(function (entry) {
      var item = el("li", null, {"class": "outbox-entry outbox-" + entry.status,
                                 "data-entry": entry.kind, "data-status": entry.status});
      item.appendChild(el("strong", (T.kinds[entry.kind] || "") + (entry.case_number ? " · " + entry.case_number : "")));
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
      item.appendChild(el("strong", (T.kinds[note.kind] || "") + (note.case_number ? " · " + note.case_number : "")));
      item.appendChild(el("span", " " + summaryOf(note) + " · " + localTime(note.device_time)));
      list.appendChild(item);
    });
  }

  function renderCases(cases) {
    var list = $("[data-cases]");
    list.textContent = "";
    $("[data-cases-empty]").hidden = cases.length > 0;
    cases.sort(function (a, b) {
      if (!!a.provisional !== !!b.provisional) { return a.provisional ? -1 : 1; }
      return a.provisional ? String(a.id).localeCompare(String(b.id)) : b.id - a.id;
    }).forEach(function (c) {
      var d = c.detail;
      var item = el("li", null, {"class": "case-item" + (c.provisional ? " case-provisional" : "")});
      var link = el("a", null, {"href": "#case-" + d.id, "data-case-link": d.number});
      link.appendChild(el("span", d.client.full_name, {"class": "case-title"}));
      link.appendChild(el("span", " · " + d.number + " · " + (stateLabel(workflowOf(d), d.state) || d.state_title) +
        (c.provisional ? " (" + T.not_sent_yet + ")" : ""), {"class": "muted"}));
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
    var view = localView(d, entries);
    var workflow = workflowOf(d);
    $("[data-case-title]").textContent = d.client.full_name + " · " + d.number;
    $("[data-case-meta]").textContent = stateLabel(workflow, view.state) +
      (view.moved || cached.provisional ? " (" + T.not_sent_yet + ")" : "") +
      (d.stage_due_at && !view.moved ? " · " + T.due + " " + localTime(d.stage_due_at) : "");
    $("[data-case-meta]").setAttribute("data-local-state", view.state);
    var records = $("[data-case-records]");
    records.textContent = "";
    var a = view.assessment;
    var F = T.fields;
    records.appendChild(recordBlock(T.assessment, a && [[F.problem, a.problem], [F.needs, a.needs],
      [F.strengths, a.strengths], [F.resources, a.resources], [F.risk_level, T.risk_levels[a.risk_level] || ""]]));
    var p = view.plan;
    records.appendChild(recordBlock(T.plan, p && [[F.summary, p.summary]].concat(
      goalsOf(p).map(function (g, i) {
        return [T.goals + " " + (i + 1), g.description + (g.target_date ? " (" + localDay(g.target_date) + ")" : "")];
      }))));
    var t = view.termination;
    if (t) {
      records.appendChild(recordBlock(T.kinds.termination, [[F.outcome, T.outcomes[t.outcome] || ""],
        [F.closure_reason, T.closure_reasons[t.closure_reason] || ""], [F.aftercare_plan, t.aftercare_plan]]));
    }
    renderMoves(d, view);
    var steps = $("[data-case-steps]");
    steps.textContent = "";
    (d.steps || []).forEach(function (s) {
      steps.appendChild(el("li", localTime(s.occurred_at) + " · " + (T.step_types[s.step_type] || s.step_type) +
        " · " + s.notes, {"data-step": "server"}));
    });
    var files = {};
    entries.forEach(function (e) {
      if (e.kind === "attachment" && e.step_ref) { files[e.step_ref] = (files[e.step_ref] || 0) + 1; }
    });
    entries.filter(function (e) { return e.case_id === d.id && e.kind === "step" && e.status !== "done"; })
      .forEach(function (e) {
        steps.appendChild(el("li", typedTime(e.body.occurred_at) + " · " +
          (T.step_types[e.body.step_type] || e.body.step_type) + " · " + e.body.notes +
          (files[e.key] ? " · " + files[e.key] + " " + T.attached : "") + " (" + T.not_sent_steps + ")",
          {"data-step": "queued"}));
      });
    if (!steps.children.length) { steps.appendChild(el("li", T.no_steps, {"class": "muted"})); }
    var goalSelect = $("#o-goal");
    while (goalSelect.options.length > 1) { goalSelect.remove(1); }
    (p ? p.goals : []).forEach(function (g) { goalSelect.add(new Option(g.description, String(g.id))); });
    var stepForm = $("[data-offline-form=step]");
    if (!stepForm.elements.occurred_at.value) { stepForm.elements.occurred_at.value = nowInZone(); }
    var assessmentForm = $("[data-offline-form=assessment]");
    assessmentForm.hidden = !editableIn(d, view, "assessment");
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
    renderRecordForms(cached, entries, view);
  }

  function renderMoves(d, view) {
    var list = $("[data-case-actions]");
    list.textContent = "";
    var moves = movesFor(d, view);
    $("[data-no-actions]").hidden = moves.length > 0;
    moves.forEach(function (move) {
      var t = move.transition;
      var item = el("li", null, {"class": "offline-action", "data-move": t.trigger});
      var go = button(t.label, "move", function () {
        var reasonField = item.querySelector("textarea");
        var body = reasonField ? {reason: reasonField.value} : {};
        if (reasonField && !reasonField.value.trim()) { reasonField.focus(); return; }
        queue(d.id, "transition", body, t.trigger).then(function () {
          var status = el("p", T.move_queued, {"role": "status", "class": "muted", "data-queued": ""});
          var section = $("[data-case-actions-section]");
          var old = section.querySelector("[data-queued]");
          if (old) { old.remove(); }
          section.appendChild(status);
          return sendNow();
        });
      });
      go.classList.add("button-primary");
      go.disabled = move.missing.length > 0;
      item.appendChild(go);
      if (t.requires_reason) {
        var id = "move-reason-" + t.trigger;
        item.appendChild(el("label", T.reason_for_move, {"for": id}));
        item.appendChild(el("textarea", null, {"id": id, "rows": "2"}));
      }
      if (move.missing.length) {
        item.appendChild(el("p", T.missing_before, {"class": "muted"}));
        var missing = el("ul", null, {"class": "missing", "data-missing": ""});
        move.missing.forEach(function (m) { missing.appendChild(el("li", m)); });
        item.appendChild(missing);
      } else if (move.unknown) {
        item.appendChild(el("p", T.checked_on_server, {"class": "muted"}));
      }
      list.appendChild(item);
    });
  }

  /* The last entry of this kind for this case still in the outbox: what the facilitator
     last wrote, so the form shows it rather than the older record from the server. */
  function queuedEntry(entries, caseId, kind) {
    return entries.filter(function (e) {
      return e.case_id === caseId && e.kind === kind && e.status !== "done";
    }).pop();
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
        (goal.target_date ? " (" + localDay(goal.target_date) + ")" : "");
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

  function renderRecordForms(cached, entries, view) {
    var d = cached.detail;
    var planForm = $("[data-offline-form=plan]");
    var queuedPlan = queuedEntry(entries, d.id, "plan");
    planForm.hidden = !editableIn(d, view, "plan");
    if (!planForm.hidden) {
      var plan = queuedPlan ? queuedPlan.body : d.plan;
      refill(planForm, JSON.stringify([d.id, plan]), function () { fillPlanForm(planForm, plan); });
    }
    var evaluationForm = $("[data-offline-form=evaluation]");
    var queuedEvaluation = queuedEntry(entries, d.id, "evaluation");
    evaluationForm.hidden = !editableIn(d, view, "evaluation");
    if (!evaluationForm.hidden) {
      var goals = goalsOf(view.plan).filter(function (g) { return g.id; });
      var evaluation = queuedEvaluation ? queuedEvaluation.body : d.evaluation;
      refill(evaluationForm, JSON.stringify([d.id, goals, evaluation]), function () {
        fillEvaluationForm(evaluationForm, goals, evaluation);
      });
    }
    var terminationForm = $("[data-offline-form=termination]");
    terminationForm.hidden = !editableIn(d, view, "termination");
    $("[data-offline-form=step]").hidden = !!(workflowOf(d).states[view.state] || {}).final;
  }

  function selectedCaseId() {
    var match = /^#case-(\d+|p-[\w-]+)$/.exec(window.location.hash);
    if (!match) { return null; }
    return /^\d+$/.test(match[1]) ? parseInt(match[1], 10) : match[1];
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
      $("[data-register-section]").hidden = true;
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
        lastEntries = entries;
        renderOutbox(entries);
        renderNotes(found[1]);
        var cases = found[2].filter(function (c) { return c.user_id === userId; })
          .concat(provisionalCases(entries));
        casesById = {};
        cases.forEach(function (c) { casesById[c.id] = c; });
        $("[data-session-ended]").hidden = true;
        $("[data-send-now]").hidden = false;
        $("[data-case-list-section]").hidden = false;
        root.setAttribute("data-session-state", sessionState);
        renderCases(cases);
        var id = selectedCaseId();
        /* A case opened here that the server has now made: show the real one. */
        var opened = typeof id === "string" && !casesById[id] && entries.filter(function (e) {
          return e.kind === "case" && "p-" + e.key === id && e.created_id;
        })[0];
        if (opened && casesById[opened.created_id]) {
          window.history.replaceState(null, "", "#case-" + opened.created_id);
          id = opened.created_id;
        }
        var registering = window.location.hash === "#register";
        $("[data-register-section]").hidden = !registering;
        renderCase(casesById[id], entries);
        if (registering) { $("[data-case-list-section]").hidden = true; }
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

  // --- photos, documents, signatures ------------------------------------------------------

  var PHOTO_MAX_SIDE = 1600;
  var PHOTO_QUALITY = 0.8;

  function base64Of(dataUrl) { return dataUrl.slice(dataUrl.indexOf(",") + 1); }

  function readAs(file, how) {
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(reader.result); };
      reader.onerror = function () { reject(reader.error); };
      reader[how](file);
    });
  }

  /* A photo made smaller on the tablet (its longest side at most PHOTO_MAX_SIDE, JPEG);
     a PDF as it is. The server finds the type from the content again. */
  function prepareFile(file) {
    if (file.type === "application/pdf") {
      return readAs(file, "readAsDataURL").then(function (url) { return {purpose: "document", data: base64Of(url)}; });
    }
    if (!/^image\//.test(file.type)) { return Promise.reject(new Error("type")); }
    return readAs(file, "readAsDataURL").then(function (url) {
      return new Promise(function (resolve, reject) {
        var image = new Image();
        image.onload = function () {
          var scale = Math.min(1, PHOTO_MAX_SIDE / Math.max(image.naturalWidth, image.naturalHeight));
          var canvas = document.createElement("canvas");
          canvas.width = Math.max(1, Math.round(image.naturalWidth * scale));
          canvas.height = Math.max(1, Math.round(image.naturalHeight * scale));
          var context = canvas.getContext("2d");
          context.fillStyle = "#fff";
          context.fillRect(0, 0, canvas.width, canvas.height);
          context.drawImage(image, 0, 0, canvas.width, canvas.height);
          resolve({purpose: "photo", data: base64Of(canvas.toDataURL("image/jpeg", PHOTO_QUALITY))});
        };
        image.onerror = function () { reject(new Error("image")); };
        image.src = url;
      });
    });
  }

  function prepareFiles(input) {
    return Promise.all(Array.prototype.map.call(input.files || [], function (file) {
      return prepareFile(file).catch(function () { return null; });
    })).then(function (files) {
      if (files.some(function (f) { return f === null; })) { window.alert(T.files_unreadable); }
      return files.filter(Boolean);
    });
  }

  /* A signature drawn with a finger or pen; nothing is kept unless something was drawn. */
  function setUpSignature(pad) {
    var canvas = pad.querySelector("canvas");
    var context = canvas.getContext("2d");
    var drawing = false;
    function point(event) {
      var box = canvas.getBoundingClientRect();
      return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
    }
    function clear() {
      context.fillStyle = "#fff";
      context.fillRect(0, 0, canvas.width, canvas.height);
      pad.removeAttribute("data-signed");
    }
    clear();
    context.lineWidth = 3;
    context.lineCap = "round";
    context.strokeStyle = "#1a1a1a";
    canvas.addEventListener("pointerdown", function (event) {
      drawing = true;
      canvas.setPointerCapture(event.pointerId);
      var p = point(event);
      context.beginPath();
      context.moveTo(p[0], p[1]);
      event.preventDefault();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) { return; }
      var p = point(event);
      context.lineTo(p[0], p[1]);
      context.stroke();
      pad.setAttribute("data-signed", "1");
    });
    ["pointerup", "pointercancel"].forEach(function (name) {
      canvas.addEventListener(name, function () { drawing = false; });
    });
    pad.querySelector("[data-clear-signature]").addEventListener("click", clear);
    pad.clearSignature = clear;
  }

  function signatureOf(form) {
    var pad = form.querySelector("[data-signature]");
    if (!pad || !pad.hasAttribute("data-signed")) { return null; }
    return {purpose: pad.getAttribute("data-signature"),
            data: base64Of(pad.querySelector("canvas").toDataURL("image/png"))};
  }

  function clearSignature(form) {
    var pad = form.querySelector("[data-signature]");
    if (pad && pad.clearSignature) { pad.clearSignature(); }
  }

  Array.prototype.forEach.call(root.querySelectorAll("[data-signature]"), setUpSignature);

  function showFilesChosen(input) {
    var count = input.files ? input.files.length : 0;
    root.querySelector("[data-files-chosen]").textContent = count ? fill(T.files_chosen, {n: count}) : "";
  }
  root.querySelector("#o-files").addEventListener("change", function (event) { showFilesChosen(event.target); });
  root.querySelector("[data-choose-files]").addEventListener("keydown", function (event) {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); root.querySelector("#o-files").click(); }
  });

  function queueAttachments(caseId, files, stepKey) {
    return files.reduce(function (previous, file) {
      return previous.then(function () {
        return queue(caseId, "attachment", file, null, stepKey ? {step_ref: stepKey} : null);
      });
    }, Promise.resolve());
  }

  /* Where the tablet is, only when the facilitator asked for it for this step. */
  function locationIfAsked(asked) {
    if (!asked || !navigator.geolocation) { return Promise.resolve(asked ? "" : null); }
    return new Promise(function (resolve) {
      navigator.geolocation.getCurrentPosition(function (position) {
        resolve(position.coords.latitude.toFixed(5) + ", " + position.coords.longitude.toFixed(5));
      }, function () { resolve(""); }, {timeout: 15000, maximumAge: 60000});
    });
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

  function queue(caseId, kind, body, trigger, extra) {
    return Promise.resolve(casesById[caseId]).then(function (cached) {
      var entry = {
        kind: kind, trigger: trigger || null, case_id: caseId,
        /* The stage the work was done in, to set beside the server's if they disagree. */
        base_state: cached ? localView(cached.detail, lastEntries).state : null,
        case_number: cached ? cached.detail.number : "", body: body,
        created_at: new Date().toISOString()
      };
      Object.keys(extra || {}).forEach(function (name) { entry[name] = extra[name]; });
      return Sync.enqueue(userId, entry);
    });
  }

  /* A new client and their case, queued with provisional numbers: the case is
     "p-<key of the entry that opens it>" until the server has made it. */
  function register(form) {
    var v = formValues(form);
    var error = form.querySelector("[data-register-error]");
    var required = ["full_name", "birth_date", "sex", "province_code", "consent_given_by", "ppks_category_code"];
    var problem = required.some(function (name) { return blank(v[name]); }) || !v.consent_confirmed ? T.register_missing :
      (v.nik && !/^[0-9]{16}$/.test(v.nik) ? T.nik_digits : null);
    error.textContent = problem || "";
    error.hidden = !problem;
    if (problem) { error.scrollIntoView({block: "center"}); return Promise.resolve(); }
    var client = {};
    ["full_name", "nik", "birth_date", "sex", "province_code", "address", "phone", "guardian_name",
     "guardian_relationship", "consent_given_by"].forEach(function (name) {
      var value = (v[name] || "").trim();
      client[name] = value === "" && name !== "address" ? null : value;
    });
    client.consent_confirmed = true;
    var clientKey = Sync.newKey();
    var caseKey = Sync.newKey();
    var signature = signatureOf(form);
    return Sync.enqueue(userId, {key: clientKey, kind: "client", case_id: null, base_version: null,
                                 case_number: client.full_name,
                                 body: client, created_at: new Date().toISOString()})
      .then(function () {
        return Sync.enqueue(userId, {key: caseKey, kind: "case", case_id: "p-" + caseKey, client_ref: clientKey,
                                     case_number: client.full_name, base_version: 0,
                                     body: {ppks_category_code: v.ppks_category_code, summary: v.summary || ""},
                                     created_at: new Date().toISOString()});
      }).then(function () {
        if (signature) {
          return Sync.enqueue(userId, {kind: "attachment", case_id: "p-" + caseKey, case_number: client.full_name,
                                       body: signature, created_at: new Date().toISOString()});
        }
      }).then(function () {
        form.reset();
        clearSignature(form);
        form.elements.province_code.value = root.getAttribute("data-province") || form.elements.province_code.value;
        window.location.hash = "#case-p-" + caseKey;
        var note = el("p", T.new_client_queued, {"role": "status", "class": "muted", "data-queued": ""});
        var meta = $("[data-case-meta]");
        var old = root.querySelector("[data-case-section] > [data-queued]");
        if (old) { old.remove(); }
        meta.parentNode.insertBefore(note, meta.nextSibling);
        return sendNow();
      });
  }

  root.addEventListener("submit", function (event) {
    var form = event.target;
    var kind = form.getAttribute("data-offline-form");
    if (!kind) { return; }
    event.preventDefault();
    if (!unlocked()) { return; }
    if (kind === "register") { register(form); return; }
    var caseId = selectedCaseId();
    if (!caseId) { return; }
    var v = formValues(form);
    var queued;
    if (kind === "step") {
      var step = {step_type: v.step_type, occurred_at: v.occurred_at, notes: v.notes};
      if (v.goal_id) { step.goal_id = parseInt(v.goal_id, 10); }
      var stepKey = Sync.newKey();
      queued = Promise.all([prepareFiles(form.elements.files), locationIfAsked(v.with_location)]).then(function (found) {
        var where = [v.location, found[1]].filter(Boolean).join(" · ");
        if (where) { step.location = where.slice(0, 200); }
        if (found[1] === "") { window.alert(T.location_unavailable); }
        return queue(caseId, "step", step, null, {key: stepKey}).then(function () {
          return queueAttachments(caseId, found[0], stepKey);
        });
      });
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
      var signature = signatureOf(form);
      queued = queue(caseId, "termination", {
        outcome: v.outcome, closure_reason: v.closure_reason || null,
        reason_details: v.reason_details, aftercare_plan: v.aftercare_plan
      }).then(function () {
        clearSignature(form);
        if (signature) { return queue(caseId, "attachment", signature); }
      });
    }
    queued.then(function () {
      /* Empty the step form for the next one, unless the facilitator already started it
         while this one was being saved. */
      if (kind === "step" && form.elements.notes.value === v.notes) {
        form.elements.notes.value = "";
        form.elements.location.value = "";
        form.elements.files.value = "";
        showFilesChosen(form.elements.files);
        form.elements.with_location.checked = false;
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
    if (event.target.matches("[data-show-register]")) {
      window.location.hash = "#register";
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
  /* The signal came back while the last session check found none (a connection that
     flaps): ask again before the next try, rather than waiting for the half-minute check. */
  window.setInterval(function () {
    if (!navigator.onLine) { return; }
    (sessionState === "offline" ? checkSession() : Promise.resolve()).then(function () { return sendNow(); });
  }, RETRY_EVERY_MS);
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
