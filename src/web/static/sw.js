// kairan's service worker. The server prepends self.KAIRAN_VERSION and self.KAIRAN_SHELL
// (the hashed URLs of the app shell) when it serves this file at /sw.js.
//
// The contract pages follow:
// - Offline copies: a page that should stay readable offline (a circular, the inbox, an
//   open safety check) answers with the header `X-Kairan-Offline: keep`. Navigations go to
//   the network first; each such answer is kept in the "kairan-pages" cache (the newest
//   MAX_KEPT_PAGES), and shown when the network fails. A page that must be dropped (a
//   withdrawn circular, a closed check) answers `X-Kairan-Offline: drop`.
// - Answers made offline: a form with `data-offline-queue` (app.js) is posted with fetch;
//   when that fails, the page sends {type: "queue", url, body} here. The urlencoded body,
//   csrf field included, is stored in IndexedDB ("kairan" / "queue") and posted again as
//   is: by Background Sync ("kairan-queue") where the browser has it, else when a page
//   next opens ({type: "flush"}). The form's handler must be idempotent (an answer may
//   arrive twice) and answer success with a redirect (303), as every page form does.
//   A 4xx answer drops the item (it will never succeed); 5xx and network errors keep it.
// - Sign-out: {type: "sign-out"} (and the Clear-Site-Data header of POST /logout) drop
//   every cache and the queue, so nothing personal stays on the phone.
// - Push: the payload is {post_id, title, url?, priority}; the notification opens
//   /posts/{post_id} (or url) and the app badge is set.
"use strict";

var SHELL_CACHE = "kairan-shell-" + self.KAIRAN_VERSION;
var PAGES_CACHE = "kairan-pages";
var MAX_KEPT_PAGES = 30;
var QUEUE_TAG = "kairan-queue";

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL_CACHE)
      .then(function (cache) { return cache.addAll(self.KAIRAN_SHELL || []); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("kairan-shell-") === 0 && name !== SHELL_CACHE;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function keepPage(request, response) {
  return caches.open(PAGES_CACHE).then(function (cache) {
    return cache.put(request.url, response).then(function () {
      return cache.keys();
    }).then(function (keys) {
      var extra = keys.length - MAX_KEPT_PAGES;
      return Promise.all(keys.slice(0, Math.max(extra, 0)).map(function (key) {
        return cache.delete(key);
      }));
    });
  });
}

function dropPage(request) {
  return caches.open(PAGES_CACHE).then(function (cache) { return cache.delete(request.url); });
}

function navigate(event) {
  var request = event.request;
  return fetch(request).then(function (response) {
    var offline = response.headers.get("X-Kairan-Offline");
    if (offline === "keep" && response.ok) {
      event.waitUntil(keepPage(request, response.clone()));
    } else if (offline === "drop") {
      event.waitUntil(dropPage(request));
    }
    return response;
  }).catch(function () {
    return caches.match(request.url, { cacheName: PAGES_CACHE }).then(function (kept) {
      return kept || new Response(
        "<!doctype html><meta charset=utf-8><title>offline</title>" +
        "<p>ネットワークにつながっていません。/ You are offline.</p><p><a href=\"/\">kairan</a></p>",
        { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } }
      );
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) {
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(navigate(event));
    return;
  }
  if (new URL(request.url).pathname.indexOf("/static/") === 0) {
    event.respondWith(caches.match(request).then(function (hit) {
      return hit || fetch(request);
    }));
  }
});

// The offline queue, in IndexedDB.
function openQueue() {
  return new Promise(function (resolve, reject) {
    var open = indexedDB.open("kairan", 1);
    open.onupgradeneeded = function () {
      open.result.createObjectStore("queue", { keyPath: "id", autoIncrement: true });
    };
    open.onsuccess = function () { resolve(open.result); };
    open.onerror = function () { reject(open.error); };
  });
}

function inQueue(mode, work) {
  return openQueue().then(function (db) {
    return new Promise(function (resolve, reject) {
      var transaction = db.transaction("queue", mode);
      var result = work(transaction.objectStore("queue"));
      transaction.oncomplete = function () { db.close(); resolve(result && result.result); };
      transaction.onerror = function () { db.close(); reject(transaction.error); };
    });
  });
}

function enqueue(url, body) {
  return inQueue("readwrite", function (store) {
    return store.add({ url: url, body: body, queued_at: new Date().toISOString() });
  }).then(function () {
    if (self.registration.sync) {
      return self.registration.sync.register(QUEUE_TAG).catch(function () {});
    }
  });
}

function tellClients(message) {
  return self.clients.matchAll({ includeUncontrolled: true }).then(function (clients) {
    clients.forEach(function (client) { client.postMessage(message); });
  });
}

// Whether the queue's database exists (opening it would create it, after a sign-out too).
function queueExists() {
  if (!indexedDB.databases) {
    return Promise.resolve(true);
  }
  return indexedDB.databases().then(function (dbs) {
    return dbs.some(function (db) { return db.name === "kairan"; });
  });
}

function flush() {
  return queueExists().then(function (exists) {
    return exists ? inQueue("readonly", function (store) { return store.getAll(); }) : [];
  }).then(function (items) {
    var sent = 0;
    return items.reduce(function (previous, item) {
      return previous.then(function () {
        return fetch(item.url, {
          method: "POST",
          credentials: "same-origin",
          redirect: "manual",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: item.body
        }).then(function (response) {
          var done = response.type === "opaqueredirect" || response.ok ||
            (response.status >= 400 && response.status < 500);
          if (!done) {
            throw new Error("server answered " + response.status);
          }
          sent += 1;
          return inQueue("readwrite", function (store) { return store.delete(item.id); });
        });
      });
    }, Promise.resolve()).then(function () {
      return tellClients({ type: "queue-sent", count: sent });
    });
  });
}

function clearEverything() {
  return caches.keys().then(function (names) {
    return Promise.all(names.map(function (name) { return caches.delete(name); }));
  }).then(function () {
    return new Promise(function (resolve) {
      var request = indexedDB.deleteDatabase("kairan");
      request.onsuccess = request.onerror = request.onblocked = function () { resolve(); };
    });
  });
}

self.addEventListener("sync", function (event) {
  if (event.tag === QUEUE_TAG) {
    event.waitUntil(flush());
  }
});

self.addEventListener("message", function (event) {
  var message = event.data || {};
  if (message.type === "queue") {
    event.waitUntil(enqueue(message.url, message.body));
  } else if (message.type === "flush") {
    event.waitUntil(flush().catch(function () {}));
  } else if (message.type === "sign-out") {
    event.waitUntil(clearEverything().then(function () {
      if (event.ports && event.ports[0]) {
        event.ports[0].postMessage({ type: "cleared" });
      }
    }));
  }
});

self.addEventListener("push", function (event) {
  var data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = {};
  }
  var url = data.url || (data.post_id ? "/posts/" + encodeURIComponent(data.post_id) : "/");
  var shown = self.registration.showNotification(data.title || "回覧板", {
    body: data.body || "",
    tag: data.post_id || "kairan",
    renotify: data.priority === "urgent",
    requireInteraction: data.priority === "urgent",
    icon: (self.KAIRAN_SHELL || []).filter(function (u) { return u.indexOf("icon-192") >= 0; })[0],
    data: { url: url }
  });
  var badge = self.navigator.setAppBadge ? self.navigator.setAppBadge().catch(function () {}) : null;
  event.waitUntil(Promise.all([shown, badge]));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (clients) {
    for (var i = 0; i < clients.length; i += 1) {
      if ("navigate" in clients[i]) {
        return clients[i].navigate(url).then(function (client) { return client && client.focus(); });
      }
    }
    return self.clients.openWindow(url);
  }));
});
