// /_/#/auth/<action>/<token> (PocketBase's mail links) -> the matching /ds page (loaded by every
// dashboard page at /_/; anything else in the fragment is the dashboard's own), token kept in
// the fragment. The collection comes from the token's own (unverified) collectionId claim, only
// to pick the page's collection; the server verifies the token when the page posts it.
(function () {
  "use strict";
  var pages = {
    "confirm-verification": ["/ds/verify-email", ""],
    "confirm-email-change": ["/ds/verify-email", "1"],
    "confirm-password-reset": ["/ds/reset/confirm", ""]
  };
  function show(id) {
    document.getElementById("forwarding").hidden = true;
    document.getElementById(id).hidden = false;
  }
  function collectionOf(token) {
    try {
      var part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      part += "====".slice(part.length % 4 || 4);
      var claims = JSON.parse(atob(part));
      return typeof claims.collectionId === "string" ? claims.collectionId : "";
    } catch (e) {
      return "";
    }
  }
  var hash = location.hash;
  var m = /^#\/auth\/([a-z-]+)\/([A-Za-z0-9_.-]+)/.exec(hash);
  if (m && pages[m[1]]) {
    var query = new URLSearchParams();
    var collection = collectionOf(m[2]);
    if (collection) query.set("collection", collection);
    if (pages[m[1]][1]) query.set("change", pages[m[1]][1]);
    location.replace(pages[m[1]][0] + "?" + query.toString() + "#token=" + encodeURIComponent(m[2]));
  } else if (/^#\/auth\/oauth2-redirect-success/.test(hash)) {
    show("oauth2-success");
  } else if (/^#\/auth\/oauth2-redirect-failure/.test(hash)) {
    show("oauth2-failure");
  }
})();
