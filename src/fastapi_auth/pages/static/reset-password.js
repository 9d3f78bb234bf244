"use strict";
// Enhances the reset form, which also works without this script (a plain form post
// answered with a page): checks that both passwords match before sending, and shows
// the answer in place.
(function () {
  const form = document.getElementById("reset-form");
  const message = document.getElementById("message");
  const show = (text, kind) => {
    message.textContent = text;
    message.className = kind;
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const password = form.new_password.value;
    if (password !== form.confirm_password.value) {
      show("The two passwords differ.", "error");
      return;
    }
    const response = await fetch(form.action, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ token: form.token.value, new_password: password }),
    });
    const body = await response.json().catch(() => ({}));
    if (response.ok) {
      form.hidden = true;
      show(body.detail || "Your password has been set.", "ok");
      const signIn = document.getElementById("sign-in-after");
      if (signIn) signIn.hidden = false;
    } else if (Array.isArray(body.detail)) {
      show(body.detail.map((error) => error.msg).join(" "), "error");
    } else {
      show(body.detail || "Something went wrong; try again.", "error");
    }
  });
})();
