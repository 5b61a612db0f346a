// The record form's one thing Datastar cannot do: show the files chosen for upload before they
// are sent (a local file is only readable by script). One delegated listener, so a form that
// Datastar re-renders keeps working.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!(input instanceof HTMLInputElement) || input.type !== "file" || !input.dataset.preview) return;
    var list = document.getElementById(input.dataset.preview);
    if (!list) return;
    list.replaceChildren();
    Array.prototype.forEach.call(input.files || [], function (file) {
      var item = document.createElement("li");
      if (file.type.indexOf("image/") === 0) {
        var img = document.createElement("img");
        img.alt = file.name;
        img.src = URL.createObjectURL(file);
        img.onload = function () { URL.revokeObjectURL(img.src); };
        item.append(img);
      }
      var name = document.createElement("span");
      name.textContent = file.name + " (new)";
      item.append(name);
      list.append(item);
    });
  });
})();
