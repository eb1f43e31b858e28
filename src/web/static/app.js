// kairan's page script: progressive enhancement only. Every page works without it.
// It registers the service worker (sw.js), turns on push notifications from /settings,
// shows the unread badge, says when the browser is offline, queues answers made offline
// (forms marked data-offline-queue), and clears offline copies at sign-out.
// Hooks for pages: window.kairan (see the bottom of this file) and these attributes:
//   <body data-unread-count="N">        the app badge shows N (0 clears it)
//   <form data-offline-queue>           posted through fetch; queued when offline
//   <form data-sign-out>                clears caches and the queue before signing out
//   [data-requires-js] / [data-without-js]  shown / hidden when this script runs
//   [data-enable-notifications]          the 通知を受け取る button
//   [data-notifications-status] [data-queue-status]  role=status elements for messages
(function () {
  "use strict";

  var texts = {};
  try {
    var node = document.getElementById("kairan-text");
    texts = node ? JSON.parse(node.textContent) : {};
  } catch (e) {
    texts = {};
  }

  function text(key) {
    return texts[key] || "";
  }

  function csrf() {
    return document.body.getAttribute("data-csrf") || "";
  }

  function say(selector, message) {
    var el = document.querySelector(selector);
    if (el) {
      el.textContent = message;
    }
  }

  function worker() {
    if (!("serviceWorker" in navigator)) {
      return Promise.resolve(null);
    }
    return navigator.serviceWorker.ready;
  }

  function tell(message) {
    return worker().then(function (registration) {
      if (registration && registration.active) {
        registration.active.postMessage(message);
      }
      return registration;
    });
  }

  // A short-lived API token for this session, for the JSON API (same rules as apps).
  function apiToken() {
    return fetch("/session/api-token", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf() }
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("no API token: " + response.status);
      }
      return response.json();
    }).then(function (body) {
      return body.access_token;
    });
  }

  function base64UrlToBytes(value) {
    var padded = value.replace(/-/g, "+").replace(/_/g, "/");
    while (padded.length % 4) {
      padded += "=";
    }
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }

  function enableNotifications() {
    var status = "[data-notifications-status]";
    if (!("Notification" in window) || !("PushManager" in window) || !("serviceWorker" in navigator)) {
      say(status, text("notifications_unsupported"));
      return;
    }
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") {
        say(status, text("notifications_denied"));
        return null;
      }
      return Promise.all([
        worker(),
        fetch("/api/v1/push/vapid-public-key").then(function (r) { return r.json(); }),
        apiToken()
      ]).then(function (parts) {
        var registration = parts[0];
        var key = base64UrlToBytes(parts[1].public_key);
        return registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: key
        }).then(function (subscription) {
          return fetch("/api/v1/push/subscriptions", {
            method: "POST",
            headers: {
              "Content-Type": "application/json",
              "Authorization": "Bearer " + parts[2]
            },
            body: JSON.stringify(subscription.toJSON())
          });
        }).then(function (response) {
          if (!response.ok && response.status !== 409) {
            throw new Error("subscription refused: " + response.status);
          }
          say(status, text("notifications_on"));
        });
      });
    }).catch(function () {
      say(status, text("notifications_failed"));
    });
  }

  function showBadge() {
    var count = parseInt(document.body.getAttribute("data-unread-count"), 10);
    if (isNaN(count) || !("setAppBadge" in navigator)) {
      return;
    }
    if (count > 0) {
      navigator.setAppBadge(count).catch(function () {});
    } else {
      navigator.clearAppBadge().catch(function () {});
    }
  }

  function showOnline() {
    var banner = document.querySelector("[data-offline-banner]");
    if (banner) {
      banner.hidden = navigator.onLine;
    }
  }

  // Posts a form through fetch; offline, hands it to the service worker's queue. The
  // pressed button's name and value go with it (a safety answer's 無事です / 支援が必要です).
  function queueForm(form, submitter) {
    var body = new URLSearchParams(new FormData(form, submitter || null)).toString();
    var url = form.action;
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: body
    }).then(function (response) {
      if (response.redirected) {
        window.location.assign(response.url);
      } else {
        // Refused (the answer changed nothing): post it the ordinary way to show why.
        form.removeAttribute("data-offline-queue");
        if (submitter && form.requestSubmit) {
          form.requestSubmit(submitter);
        } else {
          form.submit();
        }
      }
    }, function () {
      return tell({ type: "queue", url: url, body: body }).then(function (registration) {
        var background = registration && "sync" in registration;
        say("[data-queue-status]", text(background ? "queued_sync" : "queued_retry"));
      });
    });
  }

  function signOut(form, event) {
    if (form.getAttribute("data-cleared") === "yes") {
      return;
    }
    event.preventDefault();
    if ("clearAppBadge" in navigator) {
      navigator.clearAppBadge().catch(function () {});
    }
    var submitted = false;
    var done = function () {
      if (!submitted) {
        submitted = true;
        form.setAttribute("data-cleared", "yes");
        form.submit();
      }
    };
    // The worker answers once caches and queue are gone; sign out anyway after 2 s.
    window.setTimeout(done, 2000);
    worker().then(function (registration) {
      if (!registration || !registration.active) {
        done();
        return;
      }
      var channel = new MessageChannel();
      channel.port1.onmessage = done;
      registration.active.postMessage({ type: "sign-out" }, [channel.port2]);
    }, done);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("data-sign-out")) {
      signOut(form, event);
    } else if (form.hasAttribute("data-offline-queue")) {
      event.preventDefault();
      queueForm(form, event.submitter);
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-enable-notifications]") : null;
    if (button) {
      enableNotifications();
    }
  });

  navigator.serviceWorker && navigator.serviceWorker.addEventListener("message", function (event) {
    if (event.data && event.data.type === "queue-sent" && event.data.count > 0) {
      say("[data-queue-status]", text("queue_sent"));
    }
  });

  function start() {
    document.querySelectorAll("[data-requires-js]").forEach(function (el) { el.hidden = false; });
    document.querySelectorAll("[data-without-js]").forEach(function (el) { el.hidden = true; });
    showBadge();
    showOnline();
    window.addEventListener("online", function () {
      showOnline();
      tell({ type: "flush" });
    });
    window.addEventListener("offline", showOnline);
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(function () {
        // Answers queued on an earlier visit go out now where Background Sync is missing.
        return tell({ type: "flush" });
      }).catch(function () {});
    }
  }

  window.kairan = {
    text: text,
    csrf: csrf,
    apiToken: apiToken,
    queueForm: queueForm,
    tellServiceWorker: tell
  };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
