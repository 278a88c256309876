/* Loaded on every page (base.html): the tablet's local store (IndexedDB), the session the
   cached data belongs to, the service worker, and what signing out must clear on a shared
   tablet.

   Cached personal data belongs to one user and one session. The cases are kept only while
   the server says that person's session lives (or, with no answer from the server, until
   the session's own absolute end); unsent work is sealed with the person's key
   (AES-GCM, WebCrypto), which the tablet holds only during their session, so after it
   ends the work waits unreadable until the same person signs in again. */
(function () {
  "use strict";

  var script = document.currentScript;
  var DB_NAME = "caseflow-offline";
  var DB_VERSION = 1;
  var SESSION_URL = "/api/v1/session";
  /* What an outbox entry or a kept note says about a client: sealed. The rest (order,
     status, case id, times) stays readable so sending and counting work while locked. */
  var SEALED_FIELDS = ["body", "case_number", "problem"];
  var opening = null;

  function open() {
    if (opening) { return opening; }
    opening = new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = function () {
        var db = request.result;
        /* cases: the facilitator's cases as the API gave them (records and steps). */
        if (!db.objectStoreNames.contains("cases")) { db.createObjectStore("cases", {keyPath: "id"}); }
        /* outbox: work done on the tablet, in the order it was done (seq). */
        if (!db.objectStoreNames.contains("outbox")) {
          db.createObjectStore("outbox", {keyPath: "seq", autoIncrement: true});
        }
        /* notes: entries the facilitator chose to keep instead of sending. */
        if (!db.objectStoreNames.contains("notes")) {
          db.createObjectStore("notes", {keyPath: "seq", autoIncrement: true});
        }
        /* meta: "session" (whose cache this is, its session, its end, the person's key). */
        if (!db.objectStoreNames.contains("meta")) { db.createObjectStore("meta", {keyPath: "key"}); }
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
    return opening;
  }

  function run(storeName, mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(storeName, mode);
        var store = tx.objectStore(storeName);
        var result;
        Promise.resolve(work(store, function (value) { result = value; })).catch(reject);
        tx.oncomplete = function () { resolve(result); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  function request(req, done) {
    req.onsuccess = function () { done(req.result); };
  }

  // --- sealing ---------------------------------------------------------------------------

  /* user id → CryptoKey, for the person whose session is live on this tablet only. */
  var keys = {};
  var encoder = new TextEncoder();
  var decoder = new TextDecoder();

  function sealRecord(record) {
    var key = keys[record.user_id];
    if (!key) { return Promise.reject(new Error("locked")); }
    var clear = {};
    var secret = {};
    Object.keys(record).forEach(function (name) {
      if (SEALED_FIELDS.indexOf(name) >= 0) { secret[name] = record[name]; } else if (name !== "sealed") { clear[name] = record[name]; }
    });
    var iv = window.crypto.getRandomValues(new Uint8Array(12));
    return window.crypto.subtle.encrypt(
      {name: "AES-GCM", iv: iv, additionalData: encoder.encode("caseflow-outbox:" + record.user_id)},
      key, encoder.encode(JSON.stringify(secret))
    ).then(function (data) {
      clear.sealed = {iv: iv, data: data};
      return clear;
    });
  }

  /* The record with its sealed fields opened, or null when its person's key is not here. */
  function openRecord(record) {
    if (!record.sealed) {
      return Promise.resolve(keys[record.user_id] ? record : null);  // written before sealing
    }
    var key = keys[record.user_id];
    if (!key) { return Promise.resolve(null); }
    return window.crypto.subtle.decrypt(
      {name: "AES-GCM", iv: record.sealed.iv, additionalData: encoder.encode("caseflow-outbox:" + record.user_id)},
      key, record.sealed.data
    ).then(function (plain) {
      var secret = JSON.parse(decoder.decode(plain));
      var opened = {};
      Object.keys(record).forEach(function (name) { if (name !== "sealed") { opened[name] = record[name]; } });
      Object.keys(secret).forEach(function (name) { opened[name] = secret[name]; });
      return opened;
    }, function () { return null; });
  }

  var Store = {
    all: function (name) {
      return run(name, "readonly", function (store, done) { request(store.getAll(), done); });
    },
    get: function (name, key) {
      return run(name, "readonly", function (store, done) { request(store.get(key), done); });
    },
    put: function (name, value) {
      return run(name, "readwrite", function (store, done) { request(store.put(value), done); });
    },
    remove: function (name, key) {
      return run(name, "readwrite", function (store) { store.delete(key); });
    },
    clear: function (name) {
      return run(name, "readwrite", function (store) { store.clear(); });
    },
    /* Outbox entries and notes: written sealed with their person's key… */
    putSealed: function (name, record) {
      return sealRecord(record).then(function (sealed) { return Store.put(name, sealed); });
    },
    /* …and read back, opened, for the person whose key is here only. */
    allOpen: function (name, userId) {
      return Store.all(name).then(function (records) {
        return Promise.all(records.filter(function (r) { return r.user_id === userId; }).map(openRecord));
      }).then(function (opened) {
        return opened.filter(function (r) { return r !== null; });
      });
    },
    getOpen: function (name, key) {
      return Store.get(name, key).then(function (record) { return record ? openRecord(record) : null; });
    },
    /* The cached cases go, and with them the key: unsent entries stay, sealed. */
    forgetCases: function () {
      keys = {};
      return Store.clear("cases").then(function () { return Store.remove("meta", "session"); })
        .then(function () { return Store.remove("meta", "refreshed_at"); })
        .then(function () {
          if (navigator.serviceWorker && navigator.serviceWorker.controller) {
            /* The kept offline page carries the ended session's user and token. */
            navigator.serviceWorker.controller.postMessage({type: "logout"});
          }
        });
    },
    /* Sign-out: case data and confirmed entries go; unsent ones stay sealed (never silently lost). */
    forgetSession: function () {
      return Store.forgetCases().then(function () {
        return Store.all("outbox");
      }).then(function (entries) {
        return Promise.all(entries.filter(function (e) { return e.status === "done"; })
          .map(function (e) { return Store.remove("outbox", e.seq); }));
      }).then(function () { return Store.clear("meta"); });
    },
    unsentCount: function (userId) {
      return Store.all("outbox").then(function (entries) {
        return entries.filter(function (e) {
          return e.status !== "done" && (userId === undefined || e.user_id === userId);
        }).length;
      });
    }
  };
  window.CaseflowStore = Store;

  // --- the session the cache belongs to ----------------------------------------------------

  function importKey(text) {
    var raw = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    /* Not extractable: code on the page can use it while the session lives, never copy it. */
    return window.crypto.subtle.importKey("raw", bytes, {name: "AES-GCM"}, false, ["encrypt", "decrypt"]);
  }

  /* Entries written before they were sealed are sealed now, once their person's key is here. */
  function sealOldEntries(userId) {
    return Promise.all(["outbox", "notes"].map(function (name) {
      return Store.all(name).then(function (records) {
        return Promise.all(records.filter(function (r) { return r.user_id === userId && !r.sealed; })
          .map(function (r) { return Store.putSealed(name, r); }));
      });
    }));
  }

  function adopt(live) {
    return Store.get("meta", "session").then(function (stored) {
      /* Another person's cases (or ones of no known session) never stay beside these. */
      if (!stored || stored.user_id !== live.user_id) { return Store.forgetCases(); }
    }).then(function () {
      return importKey(live.outbox_key);
    }).then(function (key) {
      keys = {};
      keys[live.user_id] = key;
      return Store.put("meta", {key: "session", user_id: live.user_id, session: live.session,
                                expires_at: Date.parse(live.expires_at), outbox_key: key});
    }).then(function () { return sealOldEntries(live.user_id); });
  }

  var Session = {
    /* Ask the server whose session this is. "live": the person's session lives (their key is
       here now); "offline": no answer, but the session the cache belongs to is this page's
       person's and has not reached its end; "ended": nothing of the cache may be shown. */
    check: function (pageUserId) {
      return fetch(SESSION_URL, {credentials: "same-origin", cache: "no-store",
                                 headers: {"Accept": "application/json"}})
        .then(function (response) {
          if (response.status === 401) { return {ended: true}; }
          if (!response.ok) { return {unanswered: true}; }
          return response.json().then(function (live) { return {live: live}; });
        }, function () { return {unanswered: true}; })
        .then(function (answer) {
          if (answer.ended) {
            return Store.forgetCases().then(function () { return "ended"; });
          }
          if (answer.live) {
            return adopt(answer.live).then(function () {
              return answer.live.user_id === pageUserId ? "live" : "other-user";
            });
          }
          return Store.get("meta", "session").then(function (stored) {
            if (stored && stored.expires_at <= Date.now()) {
              return Store.forgetCases().then(function () { return "ended"; });
            }
            if (stored && stored.user_id === pageUserId && stored.outbox_key) {
              keys = {};
              keys[stored.user_id] = stored.outbox_key;
              return "offline";
            }
            return "ended";
          });
        });
    },
    forget: function () { return Store.forgetCases(); }
  };
  window.CaseflowSession = Session;

  /* Any page the server sends says who is signed in. Someone else (or no one) than the
     person the cache belongs to: their cases go at once. The same person in a new session:
     the cache is theirs to keep, under the new session. */
  var pageUser = script ? parseInt(script.getAttribute("data-user-id") || "", 10) : NaN;
  var pageSession = script ? script.getAttribute("data-session") || "" : "";
  function followThePage() {
    /* The offline app asks the server itself before it shows anything. */
    if (document.getElementById("offline-app")) { return; }
    Store.get("meta", "session").then(function (stored) {
      if (isNaN(pageUser)) {
        return stored ? Store.forgetCases() : Store.all("cases").then(function (cases) {
          if (cases.length) { return Store.forgetCases(); }
        });
      }
      if (stored && stored.user_id !== pageUser) { return Store.forgetCases(); }
      if (stored && stored.session !== pageSession && window.crypto && window.crypto.subtle) {
        return Session.check(pageUser);
      }
    }).catch(function () { /* no store on this browser */ });
  }
  if ("indexedDB" in window && script) {
    document.addEventListener("DOMContentLoaded", followThePage);
  }

  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js", {scope: "/"}).catch(function () { /* no offline shell */ });
    });
  }

  /* Signing out: warn about unsent work (it stays), then clear the rest before the form goes. */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form.signout") || form.hasAttribute("data-cleared")) { return; }
    if (!("indexedDB" in window)) { return; }
    event.preventDefault();
    Store.unsentCount(isNaN(pageUser) ? undefined : pageUser).then(function (unsent) {
      var message = script && script.getAttribute("data-logout-unsent");
      if (unsent && message) {
        var text = message.replace("{n}", String(unsent));
        if (!window.confirm(text)) { return false; }
      }
      return Store.forgetSession().then(function () { return true; });
    }).catch(function () { return true; }).then(function (go) {
      if (go) { form.setAttribute("data-cleared", "1"); form.submit(); }
    });
  });
})();
