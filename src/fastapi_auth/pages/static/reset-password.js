"use strict";
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
    const response = await fetch("/auth/reset-password", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ token: form.dataset.token, new_password: password }),
    });
    const body = await response.json().catch(() => ({}));
    if (response.ok) {
      form.hidden = true;
      show(body.detail || "Your password has been reset.", "ok");
    } else if (Array.isArray(body.detail)) {
      show(body.detail.map((error) => error.msg).join(" "), "error");
    } else {
      show(body.detail || "Something went wrong; try again.", "error");
    }
  });
})();
