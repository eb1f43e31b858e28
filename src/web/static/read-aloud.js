// Read-aloud for circular pages, with the browser's own speech (speechSynthesis).
// A page adds this script and a button naming what to read:
//   <button type="button" class="button button-secondary" data-read-aloud="#post-body" hidden>…</button>
// The button appears only where the browser can speak; pressing it again stops. The text
// is read in the page's language (the lang of <html>, or of the target element).
(function () {
  "use strict";
  if (!("speechSynthesis" in window)) {
    return;
  }

  function label(key) {
    return window.kairan ? window.kairan.text(key) : "";
  }

  function setIdle(button) {
    button.setAttribute("aria-pressed", "false");
    var idle = label("read_aloud");
    if (idle) {
      button.textContent = idle;
    }
  }

  function toggle(button) {
    if (window.speechSynthesis.speaking) {
      window.speechSynthesis.cancel();
      setIdle(button);
      return;
    }
    var target = document.querySelector(button.getAttribute("data-read-aloud"));
    if (!target) {
      return;
    }
    var utterance = new SpeechSynthesisUtterance(target.innerText);
    utterance.lang = target.closest("[lang]") ? target.closest("[lang]").getAttribute("lang") : document.documentElement.lang;
    utterance.rate = 0.9;
    utterance.onend = function () { setIdle(button); };
    utterance.onerror = function () { setIdle(button); };
    button.setAttribute("aria-pressed", "true");
    var stop = label("read_aloud_stop");
    if (stop) {
      button.textContent = stop;
    }
    window.speechSynthesis.speak(utterance);
  }

  document.querySelectorAll("[data-read-aloud]").forEach(function (button) {
    button.hidden = false;
    setIdle(button);
    button.addEventListener("click", function () { toggle(button); });
  });
  window.addEventListener("pagehide", function () { window.speechSynthesis.cancel(); });
}());
