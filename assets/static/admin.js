// The dashboard's few scripts that Datastar does not cover: routes that live in the URL
// fragment (which the server never sees).
(function () {
  "use strict";
  // `core serve` prints /_/#/pbinstall/<token> (PocketBase's installer link): the first-run
  // screen reads the token from its own fragment, which stays out of logs and Referers
  var install = /^#\/pbinstall\/([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (install) {
    location.replace("/_/install#token=" + install[1]);
    return;
  }
  var token = /^#token=([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (token) {
    // out of the address bar and the history at once; the form keeps it
    history.replaceState(null, "", location.pathname + location.search);
    document.addEventListener("DOMContentLoaded", function () {
      var input = document.getElementById("install-token");
      if (input) input.value = token[1];
    });
  }

  // A form with data-upload-url is posted here instead, to show its upload progress (fetch,
  // and so Datastar, cannot report it). The answer is JSON {ok, message}: the notice shows it
  // and the data-upload-refresh button reloads what the upload changed.
  function notice(text, error) {
    var box = document.getElementById("notice");
    if (!box) return;
    box.textContent = text;
    box.className = error ? "notice is-error" : "notice";
  }
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      if (!form.hasAttribute || !form.hasAttribute("data-upload-url")) return;
      event.preventDefault();
      event.stopImmediatePropagation(); // Datastar's own submit listener must not post it too
      var bar = document.getElementById(form.getAttribute("data-upload-progress"));
      var button = form.querySelector("button[type=submit]");
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("data-upload-url"));
      xhr.setRequestHeader("Datastar-Request", "true"); // the dashboard's CSRF check wants it
      xhr.setRequestHeader("Accept", "application/json");
      bar.hidden = false;
      bar.value = 0;
      if (button) button.disabled = true;
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) bar.value = Math.round((e.loaded * 100) / e.total);
      };
      xhr.onload = function () {
        if (button) button.disabled = false;
        var out = null;
        try {
          out = JSON.parse(xhr.responseText);
        } catch (err) {
          out = null;
        }
        if (!out || typeof out.message !== "string") {
          location.reload(); // signed out meanwhile, say: the page knows what to show
          return;
        }
        bar.value = 100;
        notice(out.message, !out.ok);
        if (out.ok) form.reset();
        var refresh = document.getElementById(form.getAttribute("data-upload-refresh"));
        if (refresh) refresh.click();
      };
      xhr.onerror = function () {
        if (button) button.disabled = false;
        notice("The upload failed: the connection was lost.", true);
      };
      xhr.send(new FormData(form));
    },
    true
  );
})();
