/* The outbox: work done on the tablet is sent to the API (POST /api/v1/outbox, in batches)
   in the order it was done, each entry with its idempotency key, the case version it was based on (If-Match) and the time
   it was done (X-Device-Time). An entry leaves the outbox only when the server confirmed it
   or the facilitator chose what to do with it. Entries are stored sealed with their
   person's key (boot.js) and sent only for the person whose session is live. */
(function () {
  "use strict";

  var Store = window.CaseflowStore;
  var BACKOFF_MAX_MS = 5 * 60 * 1000;
  var sending = false;

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return "k-" + Date.now() + "-" + Math.random().toString(36).slice(2);
  }

  function backoff(attempts) {
    return Math.min(BACKOFF_MAX_MS, 2000 * Math.pow(2, Math.max(0, attempts - 1)));
  }

  function mine(entries, userId) {
    return entries.filter(function (e) { return e.user_id === userId; })
      .sort(function (a, b) { return a.seq - b.seq; });
  }

  /* The version the next write on this case will be based on: the cached case version,
     moved on by every entry of this case still in the outbox (each write adds one). */
  function nextBaseVersion(userId, caseId) {
    return Promise.all([Store.get("cases", caseId), Store.all("outbox")]).then(function (found) {
      var cached = found[0];
      var pending = mine(found[1], userId).filter(function (e) {
        return e.case_id === caseId && e.status !== "done";
      });
      if (pending.length) { return pending[pending.length - 1].base_version + 1; }
      return cached ? cached.version : null;
    });
  }

  function enqueue(userId, entry) {
    return nextBaseVersion(userId, entry.case_id).then(function (base) {
      entry.user_id = userId;
      entry.key = newKey();
      entry.base_version = base;
      entry.device_time = new Date().toISOString();
      entry.status = "waiting";
      entry.attempts = 0;
      entry.next_attempt_at = 0;
      return Store.putSealed("outbox", entry);
    });
  }

  function parseVersion(etag) {
    var match = /"?(\d+)"?/.exec(etag || "");
    return match ? parseInt(match[1], 10) : null;
  }

  var BATCH = 50;

  function wire(entry) {
    var data = {key: entry.key, kind: entry.kind, case_id: entry.case_id, body: entry.body,
                device_time: entry.device_time};
    if (entry.trigger) { data.trigger = entry.trigger; }
    if (entry.base_version !== null && entry.base_version !== undefined) { data.if_match = entry.base_version; }
    return data;
  }

  /* What one answer means for its entry: confirmed, refused (conflict or failed), held back
     behind an earlier refusal of its case, or not delivered (try again later). */
  function settle(entry, status, body, etag) {
    var outcome;
    if (status >= 200 && status < 300) {
      entry.status = "done";
      entry.confirmed_at = new Date().toISOString();
      entry.problem = null;
      outcome = "done";
    } else if (status === 424) {
      entry.status = "waiting";
      outcome = "held";
    } else if (status === 0 || status >= 500 || status === 429) {
      entry.status = "waiting";
      entry.attempts += 1;
      entry.next_attempt_at = Date.now() + backoff(entry.attempts);
      entry.problem = body;
      outcome = "offline";
    } else if (status === 401 || (status === 400 && body && /csrf/.test(body.type || ""))) {
      entry.status = "waiting";
      entry.problem = body;
      outcome = "signed-out";
    } else {
      entry.status = status === 409 ? "conflict" : "failed";
      entry.problem = body || {status: status};
      outcome = "refused";
    }
    return Store.putSealed("outbox", entry).then(function () {
      var version = outcome === "done" ? parseVersion(etag) : null;
      if (!version) { return outcome; }
      return Store.get("cases", entry.case_id).then(function (cached) {
        if (cached) {
          cached.version = version;
          return Store.put("cases", cached);
        }
      }).then(function () { return outcome; });
    });
  }

  /* One request for up to BATCH entries (POST /api/v1/outbox): each entry is applied on
     its own, exactly once, and answered as if it had been sent alone. */
  function sendBatch(batch, csrf) {
    batch.forEach(function (e) { e.status = "sending"; });
    return Promise.all(batch.map(function (e) { return Store.putSealed("outbox", e); })).then(function () {
      return fetch("/api/v1/outbox", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf},
        body: JSON.stringify({entries: batch.map(wire)})
      });
    }).then(function (response) {
      /* An ended session is answered with the sign-in page, not with results. */
      if (response.redirected || /\/login/.test(response.url)) {
        return {status: 401, body: null};
      }
      return response.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        return {status: response.status, body: body};
      });
    }, function () {
      return {status: 0, body: null};
    }).then(function (answer) {
      var results = answer.status === 200 && answer.body ? answer.body.results : null;
      return batch.reduce(function (previous, entry, index) {
        return previous.then(function (outcomes) {
          var result = results ? results[index] : null;
          var settled = result ? settle(entry, result.status, result.body, result.etag)
                               : settle(entry, answer.status === 200 ? 0 : answer.status, answer.body, null);
          return settled.then(function (outcome) { return outcomes.concat([outcome]); });
        });
      }, Promise.resolve([]));
    });
  }

  /* Send what is due, oldest first. A case whose entry met a conflict or was refused holds
     back its later entries (they were based on it); other cases go on. */
  function sendAll(userId, csrf, onChange) {
    if (sending) { return Promise.resolve({outcome: "busy", sent: 0}); }
    sending = true;
    var sent = 0;
    return Store.allOpen("outbox", userId).then(function (entries) {
      var held = {};
      var due = [];
      mine(entries, userId).forEach(function (e) {
        if (e.status === "done" || held[e.case_id]) { return; }
        if (e.status === "conflict" || e.status === "failed" ||
            (e.next_attempt_at && e.next_attempt_at > Date.now())) {
          held[e.case_id] = true;
          return;
        }
        due.push(e);
      });
      var batches = [];
      for (var i = 0; i < due.length; i += BATCH) { batches.push(due.slice(i, i + BATCH)); }
      return batches.reduce(function (previous, batch) {
        return previous.then(function (stop) {
          if (stop) { return stop; }
          return sendBatch(batch, csrf).then(function (outcomes) {
            if (onChange) { onChange(); }
            sent += outcomes.filter(function (o) { return o === "done"; }).length;
            if (outcomes.indexOf("offline") >= 0) { return "offline"; }
            if (outcomes.indexOf("signed-out") >= 0) { return "signed-out"; }
            return null;
          });
        });
      }, Promise.resolve(null));
    }).then(function (stop) {
      sending = false;
      return {outcome: stop || "ok", sent: sent};
    }, function (error) {
      sending = false;
      throw error;
    });
  }

  /* The facilitator's choice on a conflict: send again on the server's current version.
     Later entries of the same case move along with it, so they stay in order. */
  function resend(userId, seq, currentVersion) {
    return Store.allOpen("outbox", userId).then(function (entries) {
      var list = mine(entries, userId);
      var entry = list.filter(function (e) { return e.seq === seq; })[0];
      if (!entry) { return; }
      var shift = currentVersion - entry.base_version;
      return Promise.all(list.filter(function (e) {
        return e.case_id === entry.case_id && e.seq >= seq && e.status !== "done";
      }).map(function (e) {
        e.base_version += shift;
        e.status = "waiting";
        e.attempts = 0;
        e.next_attempt_at = 0;
        e.problem = null;
        return Store.putSealed("outbox", e);
      }));
    });
  }

  function keepAsNote(seq) {
    return Store.getOpen("outbox", seq).then(function (entry) {
      if (!entry) { return; }
      var note = {user_id: entry.user_id, kind: entry.kind, case_id: entry.case_id,
                  case_number: entry.case_number, body: entry.body, device_time: entry.device_time,
                  problem: entry.problem, kept_at: new Date().toISOString()};
      return Store.putSealed("notes", note).then(function () { return Store.remove("outbox", seq); });
    });
  }

  function discard(seq) {
    return Store.remove("outbox", seq);
  }

  /* Confirmed entries are kept a while to show "sent", then removed. */
  function pruneConfirmed(maxAgeMs) {
    return Store.all("outbox").then(function (entries) {
      var limit = Date.now() - maxAgeMs;
      return Promise.all(entries.filter(function (e) {
        return e.status === "done" && Date.parse(e.confirmed_at) < limit;
      }).map(function (e) { return Store.remove("outbox", e.seq); }));
    });
  }

  window.CaseflowSync = {
    enqueue: enqueue, sendAll: sendAll, resend: resend, keepAsNote: keepAsNote,
    discard: discard, pruneConfirmed: pruneConfirmed, backoff: backoff
  };
})();
