/* Loaded on every page (base.html): the tablet's local store (IndexedDB), the service
   worker, and what signing out must clear on a shared tablet. */
(function () {
  "use strict";

  var script = document.currentScript;
  var DB_NAME = "caseflow-offline";
  var DB_VERSION = 1;
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
    /* Sign-out: case data and confirmed entries go; unsent ones stay (never silently lost). */
    forgetSession: function () {
      return Store.clear("cases").then(function () {
        return Store.all("outbox");
      }).then(function (entries) {
        return Promise.all(entries.filter(function (e) { return e.status === "done"; })
          .map(function (e) { return Store.remove("outbox", e.seq); }));
      }).then(function () { return Store.clear("meta"); });
    },
    unsentCount: function () {
      return Store.all("outbox").then(function (entries) {
        return entries.filter(function (e) { return e.status !== "done"; }).length;
      });
    }
  };
  window.CaseflowStore = Store;

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
    Store.unsentCount().then(function (unsent) {
      var message = script && script.getAttribute("data-logout-unsent");
      if (unsent && message) {
        var text = message.replace("{n}", String(unsent));
        if (!window.confirm(text)) { return false; }
      }
      return Store.forgetSession().then(function () {
        if (navigator.serviceWorker && navigator.serviceWorker.controller) {
          navigator.serviceWorker.controller.postMessage({type: "logout"});
        }
        return true;
      });
    }).catch(function () { return true; }).then(function (go) {
      if (go) { form.setAttribute("data-cleared", "1"); form.submit(); }
    });
  });
})();
