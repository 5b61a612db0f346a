// Runs before Datastar (a classic script at the end of <body>; Datastar is a deferred module).
// Mail links carry their token in the URL fragment (#token=...), which never reaches a server
// or a log. Move it into the form inputs marked data-from-hash, then drop it from the address
// bar and history. Parameters named by <meta name="ds-secret-params"> (the OAuth2 code) are
// dropped from the address bar too, once the server has rendered them into the page.
(function () {
  "use strict";
  var hash = new URLSearchParams(location.hash.replace(/^#/, ""));
  var token = hash.get("token");
  if (token) {
    document.querySelectorAll("input[data-from-hash]").forEach(function (input) {
      input.value = token;
    });
  }
  var query = new URLSearchParams(location.search);
  var meta = document.querySelector('meta[name="ds-secret-params"]');
  if (meta) {
    meta.content.split(/\s+/).forEach(function (name) { if (name) query.delete(name); });
  }
  var search = query.toString();
  var clean = location.pathname + (search ? "?" + search : "");
  if (clean !== location.pathname + location.search || token) {
    history.replaceState(null, "", clean);
  }
})();
