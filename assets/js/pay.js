/* The hand-off to TWINT: Stripe.js confirms the PaymentIntent and takes the customer to TWINT.
   The client secret stays in the page; it is never put in an address the shop builds. */
(function () {
  "use strict";
  var form = document.getElementById("pay-form");
  var button = document.getElementById("pay-button");
  var message = document.getElementById("pay-message");
  if (!form || !button || typeof window.Stripe !== "function") return;
  var stripe = window.Stripe(button.dataset.publishableKey);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (button.disabled) return;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    message.textContent = "";
    stripe.confirmTwintPayment(button.dataset.clientSecret, {
      payment_method: {billing_details: {name: button.dataset.name, email: button.dataset.email}},
      return_url: button.dataset.returnUrl
    }).then(function (result) {
      if (result && result.error) {
        message.textContent = result.error.message;
        button.disabled = false;
        button.removeAttribute("aria-busy");
      }
    });
  });
})();
