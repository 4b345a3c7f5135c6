// Small progressive enhancements; every page works without JavaScript.
document.addEventListener("submit", function (event) {
  // Guard against double submits: disable the button once the form is on its way.
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || form.dataset.allowResubmit !== undefined) return;
  const buttons = form.querySelectorAll("button[type=submit], input[type=submit]");
  window.setTimeout(function () { buttons.forEach(function (b) { b.disabled = true; }); }, 0);
});
