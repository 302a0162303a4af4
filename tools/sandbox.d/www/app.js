// www.domain.com: a tiny script, fetched as one more subresource.
document.addEventListener("DOMContentLoaded", function () {
  var note = document.getElementById("script-note");
  if (note) note.textContent = "The script ran at " + new Date().toISOString() + ".";
});
