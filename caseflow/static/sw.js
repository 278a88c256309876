/* Caseflow service worker: keeps the app shell (the offline page, its scripts and styles)
   so the tablet opens the app without a signal. Case data lives in IndexedDB (see
   js/offline/store.js) and only travels through the API; pages are network-first, so
   whatever the server says wins whenever there is a connection. */
"use strict";

var VERSION = "caseflow-v3";
var SHELL_CACHE = VERSION + "-shell";
var PAGE_CACHE = VERSION + "-pages";
var SHELL = [
  "/static/css/app.css",
  "/static/css/offline.css",
  "/static/js/app.js",
  "/static/js/offline/sync.js",
  "/static/js/offline/app.js",
  "/static/js/offline/boot.js",
  "/static/manifest.webmanifest",
  "/static/manifest-icon-192.png"
];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL_CACHE).then(function (cache) {
    return cache.addAll(SHELL);
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (key) {
      return key.indexOf(VERSION) !== 0;
    }).map(function (key) { return caches.delete(key); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("message", function (event) {
  /* Sign-out on a shared tablet, or the session found ended: the kept offline page (it
     carries that person's name, id and form token) goes. */
  if (event.data && event.data.type === "logout") {
    event.waitUntil(caches.delete(PAGE_CACHE));
  }
  /* The offline page asks to be kept as soon as the worker runs (the first visit happened
     before the worker could see it). */
  if (event.data && event.data.type === "keep-offline-page") {
    event.waitUntil(fetch("/offline/", {credentials: "same-origin"}).then(function (response) {
      if (response.ok && !response.redirected) {
        return caches.open(PAGE_CACHE).then(function (cache) { return cache.put("/offline/", response); });
      }
    }).catch(function () { /* offline: keep what is cached */ }));
  }
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.indexOf("/api/") === 0) { return; }
  if (request.mode === "navigate") {
    event.respondWith(networkFirstPage(request, url));
    return;
  }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(staleWhileRevalidate(request));
  }
});

function networkFirstPage(request, url) {
  return fetch(request).then(function (response) {
    /* Only the offline app's own page is kept: other pages may carry case data that
       should not outlive the session. */
    if (response.ok && url.pathname === "/offline/" && !response.redirected) {
      var copy = response.clone();
      caches.open(PAGE_CACHE).then(function (cache) { cache.put("/offline/", copy); });
    }
    return response;
  }).catch(function () {
    return caches.open(PAGE_CACHE).then(function (cache) {
      return cache.match("/offline/");
    }).then(function (cached) {
      return cached || new Response("Offline: open Caseflow once while connected.", {
        status: 503, headers: {"Content-Type": "text/plain; charset=utf-8"}
      });
    });
  });
}

function staleWhileRevalidate(request) {
  return caches.open(SHELL_CACHE).then(function (cache) {
    return cache.match(request).then(function (cached) {
      var fresh = fetch(request).then(function (response) {
        if (response.ok) { cache.put(request, response.clone()); }
        return response;
      });
      return cached ? (fresh.catch(function () { return cached; }), cached) : fresh;
    });
  });
}
