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
})();
