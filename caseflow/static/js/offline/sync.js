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
      if (pending.length) {
        var last = pending[pending.length - 1];
        return last.base_version + (movesVersion(last) ? 1 : 0);
      }
      return cached ? cached.version : null;
    });
  }

  /* Work queued on a case whose entry the server refused (a move missing something) goes
     before that entry: it is what fixes it, so "send again" can succeed. The refused entry
     and the later ones of its case are based on one more version. */
  function placeBeforeRefused(userId, entry) {
    if (entry.case_id === null || entry.case_id === undefined) { return Promise.resolve(false); }
    return Store.allOpen("outbox", userId).then(function (entries) {
      var list = mine(entries, userId);
      var refused = list.filter(function (e) {
        return e.case_id === entry.case_id && e.status === "failed";
      })[0];
      if (!refused) { return false; }
      var before = list.filter(function (e) { return e.seq < refused.seq; }).pop();
      entry.seq = before ? (before.seq + refused.seq) / 2 : refused.seq - 1;
      entry.base_version = refused.base_version;
      if (!movesVersion(entry)) { return true; }
      return Promise.all(list.filter(function (e) {
        return e.case_id === entry.case_id && e.seq >= refused.seq && e.status !== "done";
      }).map(function (e) {
        if (typeof e.base_version === "number") { e.base_version += 1; }
        return Store.putSealed("outbox", e);
      })).then(function () { return true; });
    });
  }

  /* Every write on a case moves its version on by one, except an attachment (it adds
     evidence, it changes nothing of the case). */
  function movesVersion(entry) { return entry.kind !== "attachment"; }

  function enqueue(userId, entry) {
    return placeBeforeRefused(userId, entry).then(function (placed) {
      if (placed || entry.base_version !== undefined) { return entry.base_version; }
      return nextBaseVersion(userId, entry.case_id);
    }).then(function (base) {
      entry.user_id = userId;
      entry.key = entry.key || newKey();
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

  /* A case opened on the tablet is "p-<key of the entry that opens it>" here, and named to
     the server by that key (case_ref) until, and after, it has its real id. */
  function provisionalKey(caseId) {
    return typeof caseId === "string" && caseId.indexOf("p-") === 0 ? caseId.slice(2) : null;
  }

  function wire(entry) {
    var data = {key: entry.key, kind: entry.kind, body: entry.body, device_time: entry.device_time};
    if (entry.kind === "client") { return data; }
    if (entry.kind === "case") {
      if (entry.client_ref) { data.client_ref = entry.client_ref; }
      return data;
    }
    var ref = entry.case_ref || provisionalKey(entry.case_id);
    if (ref) { data.case_ref = ref; } else { data.case_id = entry.case_id; }
    if (entry.kind === "attachment") {
      if (entry.step_ref) { data.step_ref = entry.step_ref; }
      return data;
    }
    if (entry.trigger) { data.trigger = entry.trigger; }
    if (entry.base_version !== null && entry.base_version !== undefined) { data.if_match = entry.base_version; }
    return data;
  }

  /* A case opened on the tablet reached the server: the entries that named it by its
     provisional id now belong to the real case (and are still sent by case_ref). */
  function followOpenedCases(userId, batch, results) {
    var opened = {};
    batch.forEach(function (entry, index) {
      var result = results ? results[index] : null;
      if (entry.kind === "case" && result && result.status >= 200 && result.status < 300 && result.body) {
        opened["p-" + entry.key] = {id: result.body.id, key: entry.key, number: result.body.number};
      }
    });
    if (!Object.keys(opened).length) { return Promise.resolve(); }
    function follow(e) {
      var real = opened[e.case_id];
      if (!real || e.kind === "case") { return false; }
      e.case_ref = real.key;
      e.case_id = real.id;
      if (real.number) { e.case_number = real.number; }
      return true;
    }
    batch.forEach(follow);
    return Store.allOpen("outbox", userId).then(function (entries) {
      var inBatch = {};
      batch.forEach(function (e) { inBatch[e.seq] = true; });
      return Promise.all(entries.filter(function (e) { return !inBatch[e.seq] && follow(e); })
        .map(function (e) { return Store.putSealed("outbox", e); }));
    });
  }

  function isRealConflict(body) {
    return !!(body && /:conflict$/.test(body.type || ""));
  }

  /* What one answer means for its entry: confirmed, refused (conflict or failed), held back
     behind an earlier refusal of its case, or not delivered (try again later). */
  function settle(entry, status, body, etag) {
    var outcome;
    if (status >= 200 && status < 300) {
      if ((entry.kind === "case" || entry.kind === "client") && body && typeof body.id === "number") {
        entry.created_id = body.id;
      }
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
      /* Only someone else's change is a conflict; a move or record the stage does not allow,
         or something missing, is a refusal with its reason. */
      entry.status = status === 409 && isRealConflict(body) ? "conflict" : "failed";
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
  /* Sync health: what stays in the outbox besides this batch (how many, and when the
     oldest was queued), so the supervisor sees work waiting on a tablet. */
  function queueReport(batch, all) {
    var inBatch = {};
    batch.forEach(function (e) { inBatch[e.seq] = true; });
    var staying = (all || []).filter(function (e) { return e.status !== "done" && !inBatch[e.seq]; });
    var oldest = null;
    staying.forEach(function (e) {
      if (e.device_time && (oldest === null || e.device_time < oldest)) { oldest = e.device_time; }
    });
    return {waiting: staying.length, oldest_waiting_at: oldest};
  }

  function sendBatch(batch, csrf, all) {
    var report = queueReport(batch, all);
    batch.forEach(function (e) { e.status = "sending"; });
    return Promise.all(batch.map(function (e) { return Store.putSealed("outbox", e); })).then(function () {
      return fetch("/api/v1/outbox", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf},
        body: JSON.stringify({entries: batch.map(wire), waiting: report.waiting,
                              oldest_waiting_at: report.oldest_waiting_at})
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
      return followOpenedCases(batch[0].user_id, batch, results).then(function () { return answer; });
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

  function groupOf(entry) {
    return entry.kind === "client" ? "client:" + entry.key : String(entry.case_id);
  }

  /* Send what is due, oldest first. A case whose entry met a conflict or was refused holds
     back its later entries (they were based on it); other cases go on. */
  function sendAll(userId, csrf, onChange) {
    if (sending) { return Promise.resolve({outcome: "busy", sent: 0}); }
    sending = true;
    var sent = 0;
    return Store.allOpen("outbox", userId).then(function (entries) {
      var all = mine(entries, userId);
      var held = {};
      var heldKeys = {};
      var due = [];
      mine(entries, userId).forEach(function (e) {
        if (e.status === "done") { return; }
        /* A case opened on the tablet waits for its new client; its work waits for it. */
        if (held[groupOf(e)] || (e.client_ref && heldKeys[e.client_ref])) {
          heldKeys[e.key] = true;
          return;
        }
        if (e.status === "conflict" || e.status === "failed" ||
            (e.next_attempt_at && e.next_attempt_at > Date.now())) {
          held[groupOf(e)] = true;
          heldKeys[e.key] = true;
          return;
        }
        due.push(e);
      });
      /* An attachment travels alone: a photo is most of a request's allowed size. */
      var batches = [];
      var current = [];
      due.forEach(function (e) {
        if (e.kind === "attachment" || current.length === BATCH) {
          if (current.length) { batches.push(current); }
          current = [];
        }
        current.push(e);
        if (e.kind === "attachment") { batches.push(current); current = []; }
      });
      if (current.length) { batches.push(current); }
      return batches.reduce(function (previous, batch) {
        return previous.then(function (stop) {
          if (stop) { return stop; }
          return sendBatch(batch, csrf, all).then(function (outcomes) {
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
      return Store.putSealed("notes", note).then(function () { return withdraw(seq); });
    });
  }

  /* The facilitator's choice on a refusal: send again once what was missing is fixed
     (queued before it), or with a choice made (which client a new one is). */
  function retry(userId, seq, bodyChanges) {
    return Store.getOpen("outbox", seq).then(function (entry) {
      if (!entry || entry.user_id !== userId) { return; }
      if (bodyChanges) { entry.body = bodyChanges(entry.body); }
      entry.status = "waiting";
      entry.attempts = 0;
      entry.next_attempt_at = 0;
      entry.problem = null;
      return Store.putSealed("outbox", entry);
    });
  }

  /* An entry that never reached the server leaves the queue: the later entries of its
     case were based on one version more than there will be. */
  function withdraw(seq) {
    return Store.get("outbox", seq).then(function (gone) {
      if (!gone) { return; }
      return Store.remove("outbox", seq).then(function () {
        /* A new client or case that will never be made takes what was done on it along. */
        if (gone.kind !== "client" && gone.kind !== "case") { return; }
        return Store.all("outbox").then(function (entries) {
          var dependent = entries.filter(function (e) {
            return e.status !== "done" && (gone.kind === "client" ? e.client_ref === gone.key
                                                                   : e.case_id === "p-" + gone.key);
          });
          return dependent.reduce(function (previous, e) {
            return previous.then(function () { return withdraw(e.seq); });
          }, Promise.resolve());
        });
      }).then(function () {
        return Store.allOpen("outbox", gone.user_id);
      }).then(function (entries) {
        return Promise.all(entries.filter(function (e) {
          return e.case_id === gone.case_id && e.seq > seq && e.status !== "done" &&
            typeof e.base_version === "number" && gone.kind !== "client" && movesVersion(gone);
        }).map(function (e) {
          e.base_version -= 1;
          return Store.putSealed("outbox", e);
        }));
      });
    });
  }

  function discard(seq) {
    return withdraw(seq);
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
    discard: discard, pruneConfirmed: pruneConfirmed, backoff: backoff, retry: retry,
    newKey: newKey, provisionalKey: provisionalKey
  };
})();
